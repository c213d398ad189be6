//! Invitation flows over an in-memory network with virtual time (SPEC.md §7).

use spaces_protocol::invitation::guest::{GuestEvent, GuestInput, InvitationGuest, Joiner};
use spaces_protocol::invitation::host::{HostEvent, HostInput, HostParams, InvitationHost};
use spaces_protocol::invitation::wire::AdmissionGrant;
use spaces_protocol::invitation::{AuthMethod, InvitationCode, Kind, Limits, Pin, Refusal, State};
use spaces_protocol::keys::{Keypair, NoiseKeypair};
use spaces_protocol::testing::invitation_pair::{Dir, World};
use spaces_protocol::{Client, Credential, PublicKey, Role, Timestamp};

const HOUR: u64 = 3_600_000;

struct Hosted {
    host: usize,
    code: InvitationCode,
    space: Option<PublicKey>,
    pin: Option<Pin>,
}

fn params(
    kind: Kind,
    auth: AuthMethod,
    space: Option<PublicKey>,
    guest: Option<PublicKey>,
    now: Timestamp,
) -> HostParams {
    HostParams {
        kind,
        auth,
        role: Role::Editor,
        space,
        guest,
        expires_at: now.saturating_add_millis(HOUR),
        use_limit: 1,
        delegation: None,
    }
}

/// A host client with a space, hosting an invitation to it.
fn host_space(w: &mut World, auth: AuthMethod, guest: Option<PublicKey>) -> Hosted {
    let mut client = w.client();
    let space = client.create_space(&mut w.rng, w.now);
    host_with(w, client, params(Kind::Space, auth, Some(space), guest, w.now))
}

fn host_with(w: &mut World, client: Client, p: HostParams) -> Hosted {
    let noise = client.identity().noise_keypair().clone();
    let (host, code) = InvitationHost::create(p.clone(), &noise, Limits::default(), w.now, &mut w.rng).unwrap();
    let pin = host.pin().cloned();
    let host = w.add_host(client, host);
    Hosted { host, code, space: p.space, pin }
}

fn pin_of(h: &Hosted) -> Pin {
    h.pin.clone().expect("PIN invitation")
}

fn grant(w: &World, g: usize) -> AdmissionGrant {
    match w.guests[g].guest.outcome() {
        Some(Ok(grant)) => grant.clone(),
        other => panic!("guest {g} did not succeed: {other:?} (state {:?})", w.guests[g].guest.state()),
    }
}

fn refusal(w: &World, g: usize) -> Refusal {
    match w.guests[g].guest.outcome() {
        Some(Err(r)) => *r,
        other => panic!("guest {g} did not fail: {other:?}"),
    }
}

fn member_credential(grant: &AdmissionGrant, who: PublicKey) -> Credential {
    let AdmissionGrant::Space { credentials, .. } = grant else { panic!("space grant") };
    credentials
        .iter()
        .find(|c| c.subject() == who && matches!(c.assertion(), spaces_protocol::Assertion::SpaceMember { .. }))
        .cloned()
        .expect("the grant holds the guest's SpaceMember credential")
}

/// Runs a PIN guest to READY_FOR_AUTHENTICATION, then types `pin`.
fn type_pin(w: &mut World, g: usize, pin: &str) {
    assert!(w.run_until(60_000, |w| w.guest_waits_for_pin(g)), "guest reached READY_FOR_AUTHENTICATION");
    w.input_guest(g, GuestInput::Authenticate(Pin::parse(pin).unwrap()));
}

#[test]
fn space_invitation_succeeds_for_every_method() {
    for auth in [AuthMethod::None, AuthMethod::Pin, AuthMethod::Key] {
        let mut w = World::new(1);
        let guest_client = w.client();
        let guest_key = guest_client.identity_key();
        let h = host_space(&mut w, auth, (auth == AuthMethod::Key).then_some(guest_key));
        let g = w.space_guest(guest_client, h.code);
        if auth == AuthMethod::Pin {
            type_pin(&mut w, g, pin_of(&h).reveal());
        }
        assert!(w.settle());
        let grant = grant(&w, g);
        let space = w.guests[g].client.accept_grant(&grant).unwrap();
        assert_eq!(Some(space), h.space);
        assert_eq!(w.guests[g].client.members(&space).unwrap().len(), 2);
        assert_eq!(w.hosts[h.host].client.space(&space).unwrap().membership().role(&guest_key), Some(Role::Editor));
        assert_eq!(w.hosts[h.host].host.state(), State::Success, "{auth:?}");
        // Both sides know each other now.
        let host_identity = w.hosts[h.host].client.identity_key();
        assert!(w.guests[g].client.contacts().contains(&host_identity));
        assert!(w.hosts[h.host].client.contacts().contains(&guest_key));
        // The PIN never crossed the wire, in any frame.
        if let Some(pin) = &h.pin {
            assert!(!w.wire.iter().any(|(_, b)| b.windows(6).any(|x| x == pin.reveal().as_bytes())));
        }
    }
}

#[test]
fn device_invitation_links_a_new_device_with_a_pin_or_a_key() {
    // A bare code (method NONE) would hand out the identity: refused at creation.
    let mut w = World::new(2);
    let c = w.client();
    let p = params(Kind::Device, AuthMethod::None, None, None, w.now);
    let noise = c.identity().noise_keypair().clone();
    let refused = InvitationHost::create(p, &noise, Limits::default(), w.now, &mut w.rng).err();
    assert_eq!(refused, Some(spaces_protocol::invitation::host::ParamsError::UnsafeDeviceInvitation));
    for auth in [AuthMethod::Pin, AuthMethod::Key] {
        let mut w = World::new(2);
        let host_client = w.client();
        let identity = host_client.identity_key();
        let (device, noise) = (Keypair::generate(&mut w.rng), NoiseKeypair::generate(&mut w.rng));
        let guest_key = (auth == AuthMethod::Key).then(|| device.public());
        let p = params(Kind::Device, auth, None, guest_key, w.now);
        let h = host_with(&mut w, host_client, p);
        let joiner = Joiner::Device { device: device.clone(), noise: noise.clone() };
        let guest = InvitationGuest::new(h.code, joiner, Limits::default(), w.now, &mut w.rng).unwrap();
        let placeholder = w.client();
        let g = w.add_guest(placeholder, guest);
        if auth == AuthMethod::Pin {
            type_pin(&mut w, g, pin_of(&h).reveal());
        }
        assert!(w.settle());
        let linked = Client::from_device_grant(device.clone(), noise, &grant(&w, g)).unwrap();
        assert_eq!(linked.identity_key(), identity, "{auth:?}");
        assert!(w.hosts[h.host].client.halo().contains(&device.public()));
        // The new device signs for the identity: its credentials verify with the chain.
        let c = linked.identity().authorize_device(PublicKey([5; 32]), spaces_protocol::NoiseKey([6; 32]), w.now);
        assert!(c.verify().is_ok());
    }
}

#[test]
fn wrong_pin_then_right_pin() {
    let mut w = World::new(3);
    let guest_client = w.client();
    let h = host_space(&mut w, AuthMethod::Pin, None);
    let g = w.space_guest(guest_client, h.code);
    let wrong = if pin_of(&h).reveal() == "000000" { "000001" } else { "000000" };
    type_pin(&mut w, g, wrong);
    assert!(w.run_until(60_000, |w| w.guest_waits_for_pin(0) && w.guests[0].guest.attempts_left() == Some(2)));
    assert_eq!(w.hosts[h.host].host.attempts_left(), 2);
    w.input_guest(g, GuestInput::Authenticate(pin_of(&h)));
    assert!(w.settle());
    grant(&w, g);
    // The successful attempt is refunded: the budget counts wrong PINs only.
    assert_eq!(w.hosts[h.host].host.attempts_left(), 2);
}

#[test]
fn budget_holds_across_reconnects_and_a_host_restart() {
    let mut w = World::new(4);
    let h = host_space(&mut w, AuthMethod::Pin, None);
    let right = pin_of(&h);
    let wrong = if right.reveal() == "000000" { "000001" } else { "000000" };
    // Three attackers, each on a fresh connection, one wrong guess each; the host restarts
    // between the second and the third.
    for attempt in 0..3 {
        if attempt == 2 {
            w.restart_host(h.host);
        }
        let c = w.client();
        let g = w.space_guest(c, h.code);
        type_pin(&mut w, g, wrong);
        assert!(w.run_until(60_000, |w| w.guest_waits_for_pin(g) || w.guests[g].guest.state().is_terminal()));
        w.input_guest(g, GuestInput::Cancel);
        w.run_until(1_000, |_| false);
    }
    assert_eq!(w.hosts[h.host].host.attempts_left(), 0);
    assert_eq!(w.hosts[h.host].host.state(), State::Error);
    // Even the right PIN is refused now: the invitation is burned.
    let c = w.client();
    let g = w.space_guest(c, h.code);
    assert!(w.run_until(60_000, |w| w.guests[g].guest.state().is_terminal() || w.guest_waits_for_pin(g)));
    if !w.guests[g].guest.state().is_terminal() {
        w.input_guest(g, GuestInput::Authenticate(right));
    }
    assert!(w.settle());
    assert_eq!(refusal(&w, g), Refusal::AttemptsExhausted);
    assert!(w.hosts[h.host].events.iter().filter(|e| matches!(e, HostEvent::AttemptFailed { .. })).count() == 3);
}

#[test]
fn expiry_ends_both_sides() {
    let mut w = World::new(5);
    let h = host_space(&mut w, AuthMethod::Pin, None);
    let c = w.client();
    let g = w.space_guest(c, h.code);
    // Nobody types the PIN; the hour passes.
    assert!(
        w.run_until(2 * HOUR, |w| w.hosts[0].host.state() == State::Expired && w.guests[0].guest.state().is_terminal())
    );
    assert_eq!(w.guests[g].guest.state(), State::Timeout, "the guest's own timeout came first");
    // A guest that starts after expiry is EXPIRED at once.
    let c = w.client();
    let g2 = w.space_guest(c, h.code);
    assert_eq!(w.guests[g2].guest.state(), State::Expired);
}

#[test]
fn cancel_mid_flow_reaches_the_guest() {
    let mut w = World::new(6);
    let h = host_space(&mut w, AuthMethod::Pin, None);
    let c = w.client();
    let g = w.space_guest(c, h.code);
    assert!(w.run_until(60_000, |w| w.guest_waits_for_pin(0)));
    w.input_host(h.host, HostInput::Cancel);
    w.input_guest(g, GuestInput::Authenticate(pin_of(&h)));
    assert!(w.settle());
    assert_eq!(w.guests[g].guest.state(), State::Cancelled);
    assert_eq!(w.hosts[h.host].host.state(), State::Cancelled);
    assert!(w.hosts[h.host].host.admitted().is_empty());
}

#[test]
fn lost_final_message_then_retry_gives_the_same_credential() {
    let mut w = World::new(7);
    let guest_client = w.client();
    let guest_key = guest_client.identity_key();
    let h = host_space(&mut w, AuthMethod::Pin, None);
    let g = w.space_guest(guest_client, h.code);
    // Drop the host's fourth frame (msg2, PakeReply, Admitted: index 2 is the grant).
    w.tap = Some(Box::new(|dir, i, bytes| if dir == Dir::ToGuest && i == 2 { vec![] } else { vec![bytes] }));
    type_pin(&mut w, g, pin_of(&h).reveal());
    assert!(w.settle());
    let grant = grant(&w, g);
    assert_eq!(w.hosts[h.host].host.state(), State::Success);
    let host_view = w.hosts[h.host].client.space(&h.space.unwrap()).unwrap().membership();
    let issued: Vec<_> = host_view
        .credentials()
        .filter(|c| c.subject() == guest_key && matches!(c.assertion(), spaces_protocol::Assertion::SpaceMember { .. }))
        .collect();
    assert_eq!(issued.len(), 1, "admission is idempotent: one grant only");
    assert_eq!(member_credential(&grant, guest_key).id(), issued[0].id());
}

/// Found by the simulator (hostile seed 244): a guest admitted by a multi-use invitation
/// misses its grant; the host restarts; another guest burns the budget with wrong PINs. The
/// admitted guest's retry must still get its grant: the host admitted it, and a guest refused
/// while admitted is a disagreement (SPEC §7.6.3).
#[test]
fn a_burned_invitation_still_serves_a_guest_it_admitted() {
    let mut w = World::new(21);
    let guest_client = w.client();
    let guest_key = guest_client.identity_key();
    let mut host_client = w.client();
    let space = host_client.create_space(&mut w.rng, w.now);
    let mut p = params(Kind::Space, AuthMethod::Pin, Some(space), None, w.now);
    p.use_limit = 0;
    let h = host_with(&mut w, host_client, p);
    let g = w.space_guest(guest_client, h.code);
    // Drop the grant (the host's third frame to the guest) and stop once the host admitted.
    w.tap = Some(Box::new(|dir, i, bytes| if dir == Dir::ToGuest && i == 2 { vec![] } else { vec![bytes] }));
    type_pin(&mut w, g, pin_of(&h).reveal());
    assert!(w.run_until(60_000, |w| w.hosts[h.host].host.admitted().contains(&guest_key)));
    assert!(!w.guests[g].guest.state().is_terminal(), "the guest is in doubt");
    // What the host's disk holds once another guest spent the last attempts: restart on it.
    let record = w.hosts[h.host].persisted.as_mut().expect("persisted");
    record.attempts_left = 0;
    record.ended = Some(spaces_protocol::invitation::host::Ended::Burned);
    w.restart_host(h.host);
    assert!(w.settle());
    let grant = grant(&w, g);
    let host_view = w.hosts[h.host].client.space(&space).unwrap().membership();
    let issued: Vec<_> = host_view
        .credentials()
        .filter(|c| c.subject() == guest_key && matches!(c.assertion(), spaces_protocol::Assertion::SpaceMember { .. }))
        .collect();
    assert_eq!(issued.len(), 1, "admission is idempotent: one grant only");
    assert_eq!(member_credential(&grant, guest_key).id(), issued[0].id());
    // Anyone else is still refused: the invitation stays burned.
    let c = w.client();
    let other = w.space_guest(c, h.code);
    assert!(w.settle());
    assert_eq!(refusal(&w, other), Refusal::AttemptsExhausted);
}

#[test]
fn substituted_code_reaches_only_the_attacker_and_learns_nothing() {
    let mut w = World::new(8);
    let real = host_space(&mut w, AuthMethod::Pin, None);
    // The attacker hosts a look-alike invitation (its own key and PIN) and swaps the code.
    let fake = host_space(&mut w, AuthMethod::Pin, None);
    let c = w.client();
    let g = w.space_guest(c, fake.code);
    type_pin(&mut w, g, pin_of(&real).reveal());
    assert!(w.run_until(60_000, |w| w.guest_waits_for_pin(0) || w.guests[0].guest.state().is_terminal()));
    // The attacker saw one failed confirmation: one PIN guess, its own. The real host saw nothing.
    assert!(w.hosts[fake.host].events.iter().any(|e| matches!(e, HostEvent::AttemptFailed { .. })));
    assert_eq!(w.hosts[real.host].host.attempts_left(), 3);
    assert!(w.hosts[real.host].events.iter().all(|e| matches!(e, HostEvent::State(_))));
    assert!(!w.wire.iter().any(|(_, b)| b.windows(6).any(|x| x == pin_of(&real).reveal().as_bytes())));
}

#[test]
fn relay_without_the_host_key_cannot_complete_the_handshake() {
    let mut w = World::new(9);
    let real = host_space(&mut w, AuthMethod::Pin, None);
    // A relay holding the real code but its own static key answers on the real topic.
    let relay_client = w.client();
    let relay_noise = NoiseKeypair::generate(&mut w.rng);
    let record = {
        let mut r = w.hosts[real.host].host.record().clone();
        r.noise_secret = relay_noise.secret_bytes();
        r
    };
    let relay = InvitationHost::restore(record, Limits::default(), &mut w.rng).unwrap();
    let relay_slot = w.add_host(relay_client, relay);
    w.route.insert(real.code.topic(), relay_slot);
    let c = w.client();
    let g = w.space_guest(c, real.code);
    assert!(w.settle());
    assert_eq!(w.guests[g].guest.state(), State::Timeout);
    assert!(!w.guests[g].events.contains(&GuestEvent::State(State::Connected)));
    assert_eq!(w.hosts[real.host].host.attempts_left(), 3);
}

#[test]
fn a_relay_that_rewrites_the_role_breaks_the_handshake() {
    let mut w = World::new(10);
    let real = host_space(&mut w, AuthMethod::Pin, None);
    // The relay hands the guest a code promising ADMIN, and steers that topic to the host.
    let forged = InvitationCode { role: Some(Role::Admin), ..real.code };
    w.route.insert(forged.topic(), real.host);
    let real_topic = real.code.topic();
    let forged_topic = forged.topic();
    w.tap = Some(Box::new(move |dir, _, bytes| {
        if dir != Dir::ToHost {
            return vec![bytes];
        }
        // Rewrite the clear topic in Hello so the host finds its invitation.
        let mut b = bytes;
        if let Some(at) = b.windows(32).position(|x| x == forged_topic.0) {
            b[at..at + 32].copy_from_slice(&real_topic.0);
        }
        vec![b]
    }));
    let c = w.client();
    let g = w.space_guest(c, forged);
    assert!(w.settle());
    // The guest retried until its deadline and never got a handshake through.
    assert_eq!(w.guests[g].guest.state(), State::Timeout);
    assert!(!w.guests[g].events.contains(&GuestEvent::State(State::Connected)));
    assert_eq!(w.hosts[real.host].host.attempts_left(), 3, "no PIN attempt was possible");
}

#[test]
fn later_invitation_to_a_contact_needs_no_pin() {
    let mut w = World::new(11);
    let guest_client = w.client();
    let guest_key = guest_client.identity_key();
    let first = host_space(&mut w, AuthMethod::Pin, None);
    let g = w.space_guest(guest_client, first.code);
    type_pin(&mut w, g, pin_of(&first).reveal());
    assert!(w.settle());
    let grant1 = grant(&w, g);
    w.guests[g].client.accept_grant(&grant1).unwrap();
    assert!(w.hosts[first.host].client.contacts().contains(&guest_key));
    // A second space, invited by key.
    let mut host_client =
        std::mem::replace(&mut w.hosts[first.host].client, Client::create_identity(&mut w.rng, w.now));
    let space2 = host_client.create_space(&mut w.rng, w.now);
    let guest_client = std::mem::replace(&mut w.guests[g].client, Client::create_identity(&mut w.rng, w.now));
    let p = params(Kind::Space, AuthMethod::Key, Some(space2), Some(guest_key), w.now);
    let second = host_with(&mut w, host_client, p);
    let g2 = w.space_guest(guest_client, second.code);
    assert!(w.settle());
    let grant2 = grant(&w, g2);
    assert_eq!(w.guests[g2].client.accept_grant(&grant2).unwrap(), space2);
}

#[test]
fn key_invitation_refuses_anyone_else() {
    let mut w = World::new(12);
    let invited = w.client().identity_key();
    let h = host_space(&mut w, AuthMethod::Key, Some(invited));
    let c = w.client();
    let g = w.space_guest(c, h.code);
    assert!(w.settle());
    assert_eq!(refusal(&w, g), Refusal::NotAuthorised);
    assert!(w.hosts[h.host].host.admitted().is_empty());
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    FlipByte,
    Truncate,
    ReplayPrevious,
    Oversize,
}

#[test]
fn tampered_replayed_truncated_and_oversized_frames_end_cleanly() {
    // A PIN flow has 4 frames to the host and 3 to the guest; damage each one in turn.
    let frames = [(Dir::ToHost, 0..4), (Dir::ToGuest, 0..3)];
    for (dir, range) in frames {
        for index in range {
            for damage in [Damage::FlipByte, Damage::Truncate, Damage::ReplayPrevious, Damage::Oversize] {
                let mut w = World::new(100 + index as u64);
                let guest_client = w.client();
                let guest_key = guest_client.identity_key();
                let mut client = w.client();
                let space = client.create_space(&mut w.rng, w.now);
                let mut p = params(Kind::Space, AuthMethod::Pin, Some(space), None, w.now);
                p.use_limit = 0;
                let h = host_with(&mut w, client, p);
                let mut previous: Option<Vec<u8>> = None;
                w.tap = Some(Box::new(move |d, i, bytes| {
                    if d != dir {
                        return vec![bytes];
                    }
                    let out = if i != index {
                        bytes.clone()
                    } else {
                        match damage {
                            Damage::FlipByte => {
                                let mut b = bytes.clone();
                                let at = b.len() / 2;
                                b[at] ^= 0x40;
                                b
                            }
                            Damage::Truncate => bytes[..bytes.len() / 2].to_vec(),
                            Damage::ReplayPrevious => previous.clone().unwrap_or_else(|| bytes.clone()),
                            Damage::Oversize => vec![0u8; 2 * 1024 * 1024],
                        }
                    };
                    previous = Some(bytes);
                    vec![out]
                }));
                let g = w.space_guest(guest_client, h.code);
                assert!(w.run_until(60_000, |w| w.guest_waits_for_pin(0) || w.guests[0].guest.state().is_terminal()));
                if !w.guests[g].guest.state().is_terminal() {
                    w.input_guest(g, GuestInput::Authenticate(pin_of(&h)));
                }
                assert!(w.settle(), "{dir:?} {index} {damage:?}: the guest reached a terminal state");
                let case = format!("{dir:?} frame {index} {damage:?}");
                let admitted = w.hosts[h.host].host.admitted().contains(&guest_key);
                match w.guests[g].guest.outcome() {
                    Some(Ok(_)) => assert!(admitted, "{case}: success on both sides"),
                    Some(Err(Refusal::ProtocolViolation)) => assert!(!admitted, "{case}: failure on both sides"),
                    other => panic!("{case}: unexpected outcome {other:?}"),
                }
                // The invitation is intact: at most the damaged run's attempt is spent, and an
                // honest guest still gets in.
                assert!(w.hosts[h.host].host.attempts_left() >= 2, "{case}");
                w.tap = None;
                let c = w.client();
                let g2 = w.space_guest(c, h.code);
                type_pin(&mut w, g2, pin_of(&h).reveal());
                assert!(w.settle());
                grant(&w, g2);
            }
        }
    }
}

#[test]
fn a_second_guest_is_told_busy_while_an_attempt_is_in_flight() {
    let mut w = World::new(13);
    let h = host_space(&mut w, AuthMethod::Pin, None);
    let (c1, c2) = (w.client(), w.client());
    let g1 = w.space_guest(c1, h.code);
    let g2 = w.space_guest(c2, h.code);
    assert!(w.run_until(60_000, |w| w.guest_waits_for_pin(g1) && w.guest_waits_for_pin(g2)));
    // Hold the first guest's confirmation back so its attempt stays in flight.
    // Frames to the host so far: two Hellos, two third handshake messages; g1's PakeStart is
    // the fifth and its Confirm the sixth.
    w.tap = Some(Box::new(|dir, i, bytes| if dir == Dir::ToHost && i == 5 { vec![] } else { vec![bytes] }));
    w.input_guest(g1, GuestInput::Authenticate(pin_of(&h)));
    w.run_until(100, |_| false);
    w.input_guest(g2, GuestInput::Authenticate(pin_of(&h)));
    w.run_until(200, |_| false);
    let states: Vec<State> =
        w.guests[g2].events.iter().filter_map(|e| if let GuestEvent::State(s) = e { Some(*s) } else { None }).collect();
    let busy_retry = states.windows(2).any(|p| p == [State::Authenticating, State::Connecting]);
    assert!(busy_retry, "the second guest was told to come back: {states:?}");
    w.tap = None;
    assert!(w.settle());
    // One of them got the single use; the other was told it is used.
    let outcomes: Vec<_> = [g1, g2].iter().map(|g| w.guests[*g].guest.outcome().cloned().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(outcomes.contains(&Err(Refusal::AlreadyUsed)), "{outcomes:?}");
}

/// SPAKE2 gives a guest that never confirms nothing to test a PIN with, so vanishing after
/// the host's reply costs no attempt (SPEC §7.6.3); a budget spent by lost confirmations would
/// let a lossy path burn an invitation from one correct PIN (issue 10, item 3).
#[test]
fn aborting_after_the_pake_costs_no_attempt() {
    let mut w = World::new(14);
    let h = host_space(&mut w, AuthMethod::Pin, None);
    let c = w.client();
    let g = w.space_guest(c, h.code);
    // The guest sees the host's SPAKE2 reply, then vanishes instead of confirming: the frame
    // after PakeStart (the Confirm, third to the host) never arrives.
    w.tap = Some(Box::new(|dir, i, bytes| if dir == Dir::ToHost && i >= 3 { vec![] } else { vec![bytes] }));
    type_pin(&mut w, g, "123456");
    assert!(w.run_until(1_000, |w| w.guests[0].guest.in_doubt()));
    w.input_guest(g, GuestInput::Cancel);
    w.run_until(120_000, |_| false);
    assert_eq!(w.hosts[h.host].host.attempts_left(), 3, "no confirmation, no charge");
    assert!(w.hosts[h.host].host.admitted().is_empty());
}

#[test]
fn wrong_pin_then_reconnect_then_right_pin() {
    let mut w = World::new(15);
    let h = host_space(&mut w, AuthMethod::Pin, None);
    let c = w.client();
    let g = w.space_guest(c, h.code);
    let wrong = if pin_of(&h).reveal() == "000000" { "000001" } else { "000000" };
    type_pin(&mut w, g, wrong);
    assert!(w.run_until(60_000, |w| w.guests[0].guest.attempts_left() == Some(2)));
    // The user takes two minutes to retype: the host closes the idle session, the guest
    // reconnects, and the next PAKE run on the new session still works.
    w.run_until(120_000, |_| false);
    assert!(w.run_until(60_000, |w| w.guest_waits_for_pin(0)));
    w.input_guest(g, GuestInput::Authenticate(pin_of(&h)));
    assert!(w.settle());
    grant(&w, g);
}

#[test]
fn cancel_while_the_guest_types_is_cancelled_on_both_sides() {
    let mut w = World::new(16);
    let h = host_space(&mut w, AuthMethod::Pin, None);
    let c = w.client();
    let g = w.space_guest(c, h.code);
    assert!(w.run_until(60_000, |w| w.guest_waits_for_pin(0)));
    w.input_host(h.host, HostInput::Cancel);
    assert!(w.settle());
    assert_eq!(w.guests[g].guest.state(), State::Cancelled);
    assert_eq!(w.hosts[h.host].host.state(), State::Cancelled);
}

#[test]
fn guesses_after_completion_neither_burn_nor_block_the_admitted_guest() {
    let mut w = World::new(17);
    let guest_client = w.client();
    let h = host_space(&mut w, AuthMethod::Pin, None);
    let g = w.space_guest(guest_client, h.code);
    type_pin(&mut w, g, pin_of(&h).reveal());
    assert!(w.settle());
    grant(&w, g);
    let wrong = if pin_of(&h).reveal() == "000000" { "000001" } else { "000000" };
    for _ in 0..4 {
        let c = w.client();
        let a = w.space_guest(c, h.code);
        type_pin(&mut w, a, wrong);
        w.run_until(60_000, |w| w.guests[a].guest.attempts_left().is_some() || w.guests[a].guest.state().is_terminal());
        w.input_guest(a, GuestInput::Cancel);
    }
    assert_eq!(w.hosts[h.host].host.state(), State::Success);
    assert_eq!(w.hosts[h.host].host.attempts_left(), 3);
}
