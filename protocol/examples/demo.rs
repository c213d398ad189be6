//! A whole invitation between two in-memory peers, driven by the sans-IO loop a real driver
//! would run: feed inputs with `now`, drain outputs, sleep until the next timeout.
//!
//! `cargo run --release -p spaces-protocol --example demo [SEED]`

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_protocol::invitation::guest::{GuestInput, GuestOutput, InvitationGuest, Joiner};
use spaces_protocol::invitation::host::{HostInput, HostOutput, HostParams, InvitationHost};
use spaces_protocol::invitation::{AuthMethod, Kind, Limits, State};
use spaces_protocol::item::Value;
use spaces_protocol::{Client, Role, Timestamp};

fn main() {
    let seed = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut now = Timestamp::from_millis(1_700_000_000_000);

    let mut alice = Client::create_identity(&mut rng, now);
    let mut bob = Client::create_identity(&mut rng, now);
    let space = alice.create_space(&mut rng, now);
    alice.create_item(&mut rng, &space, "note", vec![("text".into(), Value::Text("hello".into()))]).unwrap();
    println!("alice {} created space {}", alice.identity_key().fingerprint(), space.fingerprint());

    let params = HostParams {
        kind: Kind::Space,
        auth: AuthMethod::Pin,
        role: Role::Editor,
        space: Some(space),
        guest: None,
        expires_at: now.saturating_add_millis(3_600_000),
        use_limit: 1,
        delegation: None,
    };
    let noise = alice.identity().noise_keypair().clone();
    let (mut host, code) = InvitationHost::create(params, &noise, Limits::default(), now, &mut rng).unwrap();
    let pin = host.pin().cloned().unwrap();
    println!("invite code ({} chars): {code}", code.to_string().len());
    println!("PIN (side channel): {}", pin.reveal());

    let joiner = Joiner::Space {
        join: bob.join_request(&mut rng),
        device: bob.device_keypair().clone(),
        noise: bob.identity().noise_keypair().clone(),
    };
    let mut guest = InvitationGuest::new(code, joiner, Limits::default(), now, &mut rng).unwrap();

    // The driver: one connection (session 1), frames delivered at once, virtual time.
    let mut frames = 0;
    while !(guest.state().is_terminal() && host.state().is_terminal()) {
        let mut progressed = false;
        while let Some(out) = guest.poll_output() {
            progressed = true;
            match out {
                GuestOutput::Connect { .. } => guest.handle_input(GuestInput::Connected { session: 1 }, now),
                GuestOutput::Transmit { session, bytes } => {
                    frames += 1;
                    host.handle_input(HostInput::Frame { session, bytes: &bytes }, now, &mut alice)
                }
                GuestOutput::Event(e) => println!("  guest event: {e:.80?}"),
                _ => {}
            }
        }
        while let Some(out) = host.poll_output() {
            progressed = true;
            if let HostOutput::Transmit { session, bytes } = out {
                frames += 1;
                guest.handle_input(GuestInput::Frame { session, bytes: &bytes }, now);
            }
        }
        if guest.state() == State::ReadyForAuthentication {
            guest.handle_input(GuestInput::Authenticate(pin.clone()), now);
            continue;
        }
        if !progressed {
            let next = [guest.poll_timeout(), host.poll_timeout()].into_iter().flatten().min();
            let Some(next) = next else { break };
            now = now.max(next);
            guest.handle_input(GuestInput::Timeout, now);
            host.handle_input(HostInput::Timeout, now, &mut alice);
        }
    }
    println!("host {:?}, guest {:?}, {frames} frames", host.state(), guest.state());
    let Some(Ok(grant)) = guest.outcome() else { panic!("the invitation failed: {:?}", guest.outcome()) };
    bob.accept_grant(grant).unwrap();
    let members = bob.members(&space).unwrap();
    println!("bob sees {} members: {:?}", members.len(), members.iter().map(|m| m.role).collect::<Vec<_>>());
    // Replicate alice's feeds to bob: bob then shows the same items.
    for entry in alice.entries_since(&space, &bob.feed_lengths(&space).unwrap()).unwrap() {
        let _ = bob.ingest(&space, entry);
    }
    assert_eq!(bob.items(&space).unwrap(), alice.items(&space).unwrap());
    println!("bob reads {} item(s): {:?}", bob.items(&space).unwrap().len(), bob.items(&space).unwrap()[0].fields);
}
