//! One complete in-memory invitation, shared by the `invitation` bench and the `profile`
//! binary (callgrind and perf need a plain program that runs the same flow).
//!
//! Host and guest run in one thread over direct delivery; the flow ends with the guest
//! accepting the grant, so every check either side makes is in the figure. The time spent
//! inside the host (its `handle_input` and `poll_output`, the `Client` admitter included) is
//! summed separately: that is what a host pays per guest, the figure for invitations a host
//! can serve per second per core.
//!
//! It does not run over `spaces_protocol::testing::invitation_pair::World`: that world's
//! time-ordered queue, tap and copy of every frame (for secrecy checks) would be timed with the
//! protocol, and the host's share could not be timed apart.

use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_protocol::invitation::guest::{GuestInput, GuestOutput, InvitationGuest};
use spaces_protocol::invitation::host::{HostInput, HostOutput, HostParams, InvitationHost};
use spaces_protocol::invitation::{AuthMethod, InvitationCode, Kind, Limits, State, handshake};
use spaces_protocol::keys::NoiseKeypair;
use spaces_protocol::testing::EPOCH_MS as T0;
use spaces_protocol::testing::invitation_pair::space_joiner;
use spaces_protocol::{Client, PublicKey, Role, Timestamp};

/// Frames a successful invitation exchanges at most; more means the loop is stuck.
const FRAMES_MAX: usize = 16;

/// A host owning a space and a guest identity, made outside any measurement.
pub struct Setup {
    pub host: Client,
    pub guest: Client,
    pub space: PublicKey,
    /// The guest's identity key, which a KEY invitation names.
    pub guest_identity: PublicKey,
    pub rng: ChaCha20Rng,
}

pub fn setup(seed: u64) -> Setup {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let now = Timestamp::from_millis(T0);
    let mut host = Client::create_identity(&mut rng, now);
    let guest = Client::create_identity(&mut rng, now);
    let space = host.create_space(&mut rng, now);
    let guest_identity = guest.identity_key();
    Setup { host, guest, space, guest_identity, rng }
}

/// What one invitation cost: all of it, and the host's part.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub total: Duration,
    pub host: Duration,
    pub frames: usize,
}

/// Creates the invitation (`Pin` or `Key`), runs both sides to SUCCESS and has the guest
/// accept the grant. Panics if the invitation fails: a bench must not time a failure.
pub fn invitation(s: &mut Setup, auth: AuthMethod) -> Timing {
    let start = Instant::now();
    let now = Timestamp::from_millis(T0);
    let params = HostParams {
        kind: Kind::Space,
        auth,
        role: Role::Editor,
        space: Some(s.space),
        guest: (auth == AuthMethod::Key).then_some(s.guest_identity),
        expires_at: now.saturating_add_millis(3_600_000),
        use_limit: 1,
        delegation: None,
    };
    let host_start = Instant::now();
    let noise = s.host.identity().noise_keypair().clone();
    let (mut host, code) = InvitationHost::create(params, &noise, Limits::default(), now, &mut s.rng).unwrap();
    let mut host_time = host_start.elapsed();
    let pin = host.pin().cloned();
    let joiner = space_joiner(&mut s.guest, &mut s.rng);
    let mut guest = InvitationGuest::new(code, joiner, Limits::default(), now, &mut s.rng).unwrap();
    let mut frames = 0;
    while !guest.state().is_terminal() {
        assert!(frames <= FRAMES_MAX, "invitation loop stuck");
        let mut to_host = Vec::new();
        while let Some(out) = guest.poll_output() {
            match out {
                GuestOutput::Connect { .. } => guest.handle_input(GuestInput::Connected { session: 1 }, now),
                GuestOutput::Transmit { session, bytes } => to_host.push((session, bytes)),
                _ => {}
            }
        }
        let host_start = Instant::now();
        let mut to_guest = Vec::new();
        for (session, bytes) in &to_host {
            host.handle_input(HostInput::Frame { session: *session, bytes }, now, &mut s.host);
        }
        while let Some(out) = host.poll_output() {
            if let HostOutput::Transmit { session, bytes } = out {
                to_guest.push((session, bytes));
            }
        }
        host_time += host_start.elapsed();
        frames += to_host.len() + to_guest.len();
        for (session, bytes) in &to_guest {
            guest.handle_input(GuestInput::Frame { session: *session, bytes }, now);
        }
        if guest.state() == State::ReadyForAuthentication {
            guest.handle_input(GuestInput::Authenticate(pin.clone().expect("PIN method")), now);
        }
    }
    let Some(Ok(grant)) = guest.outcome().cloned() else { panic!("invitation failed: {:?}", guest.outcome()) };
    let verified = guest.take_verified();
    s.guest.accept_grant_verified(&grant, verified).unwrap();
    Timing { total: start.elapsed(), host: host_time, frames }
}

/// A code with the invitation's parameters, for the bare handshake.
pub fn bare_code(host: &NoiseKeypair) -> InvitationCode {
    InvitationCode {
        kind: Kind::Space,
        auth: AuthMethod::Pin,
        role: Some(Role::Editor),
        id: [1; 16],
        host: host.public(),
        expires_at_s: 1_800_000_000,
    }
}

/// The bare Noise XK handshake (three messages) with the same parameters and prologue.
pub fn bare_xk(rng: &mut ChaCha20Rng, code: &InvitationCode, host: &NoiseKeypair, guest: &NoiseKeypair) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_methods_complete_and_the_guest_joins() {
        for auth in [AuthMethod::Pin, AuthMethod::Key] {
            let mut s = setup(7);
            let t = invitation(&mut s, auth);
            assert!(t.host <= t.total);
            assert!(s.guest.space(&s.space).is_some(), "{auth:?}: the guest holds the space");
        }
    }
}
