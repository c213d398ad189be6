//! One complete in-memory invitation (both sides, one thread) next to a bare snow handshake of
//! the same Noise pattern, measured in the same run so their ratio means something on a noisy
//! machine. `cargo bench -p spaces-benches --bench invitation`, then
//! `cargo run -p spaces-benches --bin bench-report` prints the ratios.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_protocol::invitation::guest::{GuestInput, GuestOutput, InvitationGuest, Joiner};
use spaces_protocol::invitation::host::{HostInput, HostOutput, HostParams, InvitationHost};
use spaces_protocol::invitation::{AuthMethod, Kind, Limits, State, handshake};
use spaces_protocol::keys::NoiseKeypair;
use spaces_protocol::{Client, PublicKey, Role, Timestamp};

const T0: u64 = 1_700_000_000_000;

struct Setup {
    host: Client,
    guest: Client,
    space: PublicKey,
    rng: ChaCha20Rng,
}

fn setup(seed: u64) -> Setup {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let now = Timestamp::from_millis(T0);
    let mut host = Client::create_identity(&mut rng, now);
    let guest = Client::create_identity(&mut rng, now);
    let space = host.create_space(&mut rng, now);
    Setup { host, guest, space, rng }
}

/// Creates the invitation, runs both sides to SUCCESS over direct in-memory delivery, and
/// has the guest join. Returns the number of frames exchanged.
fn invitation(s: &mut Setup, auth: AuthMethod) -> usize {
    let now = Timestamp::from_millis(T0);
    let params = HostParams {
        kind: Kind::Space,
        auth,
        role: Role::Editor,
        space: Some(s.space),
        guest: None,
        expires_at: now.saturating_add_millis(3_600_000),
        use_limit: 1,
        delegation: None,
    };
    let noise = s.host.identity().noise_keypair().clone();
    let (mut host, code) = InvitationHost::create(params, &noise, Limits::default(), now, &mut s.rng).unwrap();
    let pin = host.pin().cloned();
    let joiner = Joiner::Space {
        join: s.guest.join_request(&mut s.rng),
        device: s.guest.device_keypair().clone(),
        noise: s.guest.identity().noise_keypair().clone(),
    };
    let mut guest = InvitationGuest::new(code, joiner, Limits::default(), now, &mut s.rng).unwrap();
    let mut frames = 0;
    while !guest.state().is_terminal() {
        while let Some(out) = guest.poll_output() {
            match out {
                GuestOutput::Connect { .. } => guest.handle_input(GuestInput::Connected { session: 1 }, now),
                GuestOutput::Transmit { session, bytes } => {
                    frames += 1;
                    host.handle_input(HostInput::Frame { session, bytes: &bytes }, now, &mut s.host);
                }
                _ => {}
            }
        }
        while let Some(out) = host.poll_output() {
            if let HostOutput::Transmit { session, bytes } = out {
                frames += 1;
                guest.handle_input(GuestInput::Frame { session, bytes: &bytes }, now);
            }
        }
        if guest.state() == State::ReadyForAuthentication {
            guest.handle_input(GuestInput::Authenticate(pin.clone().expect("PIN method")), now);
        }
    }
    let Some(Ok(grant)) = guest.outcome() else { panic!("invitation failed") };
    s.guest.accept_grant(grant).unwrap();
    frames
}

/// The bare Noise XK handshake (three messages) with the same parameters and prologue size.
fn bare_xk(
    rng: &mut ChaCha20Rng,
    code: &spaces_protocol::invitation::InvitationCode,
    host: &NoiseKeypair,
    guest: &NoiseKeypair,
) {
    let mut i = handshake::initiator(code, guest, rng).unwrap();
    let mut r = handshake::responder(code, host, rng).unwrap();
    let m1 = handshake::write(&mut i).unwrap();
    handshake::read(&mut r, &m1).unwrap();
    let m2 = handshake::write(&mut r).unwrap();
    handshake::read(&mut i, &m2).unwrap();
    let m3 = handshake::write(&mut i).unwrap();
    handshake::read(&mut r, &m3).unwrap();
    assert!(i.is_handshake_finished() && r.is_handshake_finished());
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("invitation");
    g.sample_size(30);
    let mut seed = 0;
    for (name, auth) in [("pin", AuthMethod::Pin), ("none", AuthMethod::None)] {
        g.bench_function(format!("complete_{name}"), |b| {
            b.iter_batched(
                || {
                    seed += 1;
                    setup(seed)
                },
                |mut s| invitation(&mut s, auth),
                BatchSize::SmallInput,
            )
        });
    }
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let host = NoiseKeypair::generate(&mut rng);
    let guest = NoiseKeypair::generate(&mut rng);
    let code = spaces_protocol::invitation::InvitationCode {
        kind: Kind::Space,
        auth: AuthMethod::Pin,
        role: Some(Role::Editor),
        id: [1; 16],
        host: host.public(),
        expires_at_s: 1_800_000_000,
    };
    g.bench_function("bare_snow_xk", |b| b.iter(|| bare_xk(&mut rng, &code, &host, &guest)));
    g.finish();
}

criterion_group!(invitation_benches, benches);
criterion_main!(invitation_benches);
