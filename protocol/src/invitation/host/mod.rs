//! The host's side of an invitation: one state machine per invitation, owning its attempt
//! budget, flow lock and admitted guests, with one session per guest connection inside
//! (quinn-proto's endpoint/connection split, at a smaller scale).
//!
//! Durability: every change to the budget, the admitted set or the outcome is emitted as
//! `HostOutput::Persist` *before* any frame that depends on it, and the driver must store it
//! before transmitting what follows. So a crash can only ever cost an attempt, never refund
//! one, and a restart (`InvitationHost::restore`) resumes with the budget as it was.

use std::collections::{BTreeMap, VecDeque};

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};

use super::code::InvitationCode;
use super::handshake::{self, HandshakeHash};
use super::pake::{self, PakeKey, Side};
use super::pin::Pin;
use super::wire::{AdmissionGrant, AdmissionRequest, Frame, FrameBody, JoinRequest, Message};
use super::{AuthMethod, Kind, Limits, Refusal, SessionId, State};
use crate::codec::{self, Canonical, DecodeError};
use crate::credential::{CredentialId, Role};
use crate::hash::Digest;
use crate::keys::{NoiseKey, NoiseKeypair, PublicKey};
use crate::mutants::{Mutant, active};
use crate::time::Timestamp;

mod admit;
mod record;
mod session;

pub use admit::{Admission, Admitter};
use record::insert_sorted;
pub use record::{Ended, HostRecord};

/// Guests one invitation admits at most, when its use limit is 0 (unlimited).
pub const USES_MAX: usize = 1024;
/// Concurrent sessions per invitation; more are refused as busy.
pub const SESSIONS_MAX: usize = 16;
/// How long a session may hold the attempt lock between its SPAKE2 reply and its
/// confirmation: a guest confirms within one round trip, and an attempt is charged only when a
/// confirmation arrives (SPEC §7.6.3), so without this bound holding the lock would be free.
pub const CONFIRM_WINDOW_MS: u64 = 10_000;
/// Credential ids in an invitation's causal point (as `credential::PARENTS_MAX`: the heads
/// of a space's DAG when it was created).
pub const POINT_MAX: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostInput<'a> {
    /// A frame arrived on a connection (a new connection starts with its first frame).
    Frame { session: SessionId, bytes: &'a [u8] },
    /// The connection is gone.
    Closed { session: SessionId },
    /// Time passed; check deadlines.
    Timeout,
    /// The user cancels the invitation.
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEvent {
    State(State),
    /// A guest completed admission (also sent again for an idempotent retry).
    Admitted {
        session: SessionId,
        guest: PublicKey,
        grant: AdmissionGrant,
    },
    /// A wrong PIN was confirmed; the budget shrank.
    AttemptFailed {
        attempts_left: u8,
    },
    /// A session ended without admission, and why.
    SessionFailed {
        session: SessionId,
        reason: Refusal,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostOutput {
    Transmit {
        session: SessionId,
        bytes: Vec<u8>,
    },
    /// The driver should close this connection (after sending what came before).
    Close {
        session: SessionId,
    },
    /// Store this before acting on any later output.
    Persist(HostRecord),
    Event(HostEvent),
    /// Nothing else to do until this time (or an input): the last output of a drain.
    Timeout(Timestamp),
}

enum Phase {
    /// Sent Noise message 2, waiting for message 3.
    Handshake(Box<snow::HandshakeState>),
    /// Handshake done; waiting for a PAKE start or a request.
    Ready(Channel),
    /// Sent the SPAKE2 reply; waiting for the guest's confirmation. The flag says whether a
    /// wrong confirmation counts against the budget (not for an admitted guest's retry after
    /// the end, the only PAKE an ended invitation runs).
    Confirming(Channel, PakeKey, u8, bool),
}

struct Channel {
    transport: Box<snow::TransportState>,
    h: HandshakeHash,
    remote: NoiseKey,
    /// The next PAKE run number this session accepts.
    run: u8,
}

struct Session {
    phase: Phase,
    deadline: Timestamp,
}

/// The host side of one invitation.
pub struct InvitationHost {
    record: HostRecord,
    code: InvitationCode,
    noise: NoiseKeypair,
    limits: Limits,
    state: State,
    sessions: BTreeMap<SessionId, Session>,
    /// The session whose attempt is in flight: attempts are serialised per invitation.
    lock: Option<SessionId>,
    out: VecDeque<HostOutput>,
    /// A `Timeout` ends the drain of each input (when there is a deadline).
    timeout_due: bool,
    rng: ChaCha20Rng,
}

impl core::fmt::Debug for InvitationHost {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InvitationHost")
            .field("state", &self.state)
            .field("attempts_left", &self.record.attempts_left)
            .field("admitted", &self.record.admitted.len())
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

/// What a host needs to create an invitation.
#[derive(Debug, Clone)]
pub struct HostParams {
    pub kind: Kind,
    pub auth: AuthMethod,
    /// Granted role for SPACE (default EDITOR: least privilege that can still write).
    pub role: Role,
    pub space: Option<PublicKey>,
    pub guest: Option<PublicKey>,
    pub expires_at: Timestamp,
    /// 1 = single use; 0 = unlimited.
    pub use_limit: u32,
    pub delegation: Option<CredentialId>,
}

/// Why an invitation could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamsError {
    /// OWNER and REMOVED are never granted by invitation.
    RoleNotGrantable,
    /// SPACE needs a space; DEVICE must not name one.
    SpaceMismatch,
    /// KEY needs a guest key; other methods must not name one.
    GuestMismatch,
    /// Already expired, or beyond what the code can express.
    BadExpiry,
    /// DEVICE invitations need a PIN or a key: a bare code would be the whole identity.
    UnsafeDeviceInvitation,
}

impl core::fmt::Display for ParamsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ParamsError::RoleNotGrantable => "OWNER and REMOVED are never granted by invitation",
            ParamsError::SpaceMismatch => "a SPACE invitation names a space, a DEVICE one none",
            ParamsError::GuestMismatch => "a KEY invitation names the guest's key, others none",
            ParamsError::BadExpiry => "the expiry has passed or is beyond what a code can say",
            ParamsError::UnsafeDeviceInvitation => "a DEVICE invitation needs a PIN or a key",
        })
    }
}

impl std::error::Error for ParamsError {}

impl InvitationHost {
    /// Creates an invitation: id and PIN from the injected CSPRNG, the host's Noise key
    /// pinned in the code. Returns the host and the code to hand out.
    pub fn create<R: RngCore + CryptoRng>(
        params: HostParams,
        noise: &NoiseKeypair,
        limits: Limits,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<(Self, InvitationCode), ParamsError> {
        if params.kind == Kind::Space && !super::grantable(params.role) {
            return Err(ParamsError::RoleNotGrantable);
        }
        if (params.kind == Kind::Space) != params.space.is_some() {
            return Err(ParamsError::SpaceMismatch);
        }
        if (params.auth == AuthMethod::Key) != params.guest.is_some() {
            return Err(ParamsError::GuestMismatch);
        }
        if params.kind == Kind::Device && params.auth == AuthMethod::None {
            // A code that links a device with no second factor is the whole identity.
            return Err(ParamsError::UnsafeDeviceInvitation);
        }
        let expires_at_s = params.expires_at.as_millis() / 1000;
        if params.expires_at <= now || expires_at_s > u64::from(u32::MAX) {
            return Err(ParamsError::BadExpiry);
        }
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let code = InvitationCode {
            kind: params.kind,
            auth: params.auth,
            role: (params.kind == Kind::Space).then_some(params.role),
            id,
            host: noise.public(),
            expires_at_s: expires_at_s as u32,
        };
        let pin = (params.auth == AuthMethod::Pin).then(|| Pin::generate(rng));
        let record = HostRecord {
            version: codec::VERSION,
            code: code.payload().to_vec(),
            space: params.space,
            guest: params.guest,
            use_limit: params.use_limit,
            delegation: params.delegation,
            pin,
            noise_secret: noise.secret_bytes(),
            attempts_left: limits.attempts_max,
            admitted: Vec::new(),
            admitted_noise: Vec::new(),
            requests: Vec::new(),
            point: Vec::new(),
            ended: None,
        };
        let mut host = Self::restore(record, limits, rng).expect("a fresh record is valid");
        host.persist();
        host.set_state(State::Connecting);
        Ok((host, code))
    }

    /// Hosts a delegated invitation with this device's opened share (SPEC.md §7.8): the
    /// invitation's own Noise key, the PIN, and this host's part of the attempt budget.
    #[allow(clippy::too_many_arguments)]
    pub fn delegated<R: RngCore + CryptoRng>(
        code: InvitationCode,
        space: PublicKey,
        guest: Option<PublicKey>,
        use_limit: u32,
        delegation: CredentialId,
        secret: super::delegation::DelegatedSecret,
        limits: Limits,
        rng: &mut R,
    ) -> Result<Self, DecodeError> {
        let record = HostRecord {
            version: codec::VERSION,
            code: code.payload().to_vec(),
            space: Some(space),
            guest,
            use_limit,
            delegation: Some(delegation),
            pin: secret.pin,
            noise_secret: secret.noise_secret,
            attempts_left: secret.attempts,
            admitted: Vec::new(),
            admitted_noise: Vec::new(),
            requests: Vec::new(),
            point: vec![delegation],
            ended: None,
        };
        let mut host = Self::restore(record, limits, rng)?;
        host.persist();
        host.set_state(State::Connecting);
        Ok(host)
    }

    /// Resumes from a persisted record (after a restart). Sessions do not survive.
    pub fn restore<R: RngCore + CryptoRng>(
        mut record: HostRecord,
        limits: Limits,
        rng: &mut R,
    ) -> Result<Self, DecodeError> {
        record.validate()?;
        if record.attempts_left == 0 && record.ended.is_none() {
            // A spent budget refuses everyone: the state says so (SPEC §7.6.3).
            record.ended = Some(Ended::Burned);
        }
        let code = InvitationCode::from_payload(&record.code).map_err(|_| DecodeError::Invalid("bad code payload"))?;
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let state = record.ended.map_or(State::Connecting, Ended::state);
        Ok(InvitationHost {
            noise: NoiseKeypair::from_secret_bytes(record.noise_secret),
            record,
            code,
            limits,
            state,
            sessions: BTreeMap::new(),
            lock: None,
            out: VecDeque::new(),
            timeout_due: false,
            rng: ChaCha20Rng::from_seed(seed),
        })
    }

    pub fn code(&self) -> InvitationCode {
        self.code
    }

    /// Records the space's heads at the invitation's creation (`HostRecord::point`); the Peer
    /// calls it right after `create`. Without it no removed identity is ever re-admitted.
    pub fn set_point(&mut self, mut heads: Vec<CredentialId>) {
        heads.sort();
        heads.dedup();
        heads.truncate(POINT_MAX);
        self.record.point = heads;
        self.persist();
    }

    /// The PIN to show the host's user (PIN method only).
    pub fn pin(&self) -> Option<&Pin> {
        self.record.pin.as_ref()
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn record(&self) -> &HostRecord {
        &self.record
    }

    pub fn attempts_left(&self) -> u8 {
        self.record.attempts_left
    }

    pub fn admitted(&self) -> &[PublicKey] {
        &self.record.admitted
    }

    pub fn handle_input(&mut self, input: HostInput<'_>, now: Timestamp, admitter: &mut dyn Admitter) {
        self.timeout_due = true;
        match input {
            HostInput::Frame { session, bytes } => self.on_frame(session, bytes, now, admitter),
            HostInput::Closed { session } => self.drop_session(session),
            HostInput::Timeout => self.on_timeout(now),
            HostInput::Cancel => self.end(Ended::Cancelled, Refusal::Cancelled),
        }
    }

    /// The queued outputs, then (once per input, when there is a deadline) `Timeout`.
    pub fn poll_output(&mut self) -> Option<HostOutput> {
        if let Some(out) = self.out.pop_front() {
            return Some(out);
        }
        if std::mem::take(&mut self.timeout_due) {
            return self.poll_timeout().map(HostOutput::Timeout);
        }
        None
    }

    /// The next deadline: session idle timers and the invitation's expiry.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let sessions = self.sessions.values().map(|s| s.deadline).min();
        let expiry = (self.record.ended.is_none() && !active(Mutant::IgnoreExpiry)).then(|| self.code.expires_at());
        match (sessions, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ----- lifecycle and outputs -----

    /// Whether the code has expired by the host's clock: the one expiry rule (SPEC §7.6.1).
    fn past_expiry(&self, now: Timestamp) -> bool {
        now >= self.code.expires_at() && !active(Mutant::IgnoreExpiry)
    }

    /// Ends an open invitation whose code expired, whether its timer ran yet or an input got
    /// there first (a driver's timer fires when it fires).
    fn expire_if_due(&mut self, now: Timestamp) {
        if self.record.ended.is_none() && self.past_expiry(now) {
            self.end(Ended::Expired, Refusal::Expired);
        }
    }

    fn on_timeout(&mut self, now: Timestamp) {
        self.expire_if_due(now);
        let stale: Vec<SessionId> =
            self.sessions.iter().filter(|(_, s)| s.deadline <= now).map(|(id, _)| *id).collect();
        for session in stale {
            self.event(HostEvent::SessionFailed { session, reason: Refusal::ProtocolViolation });
            self.drop_session(session);
            self.close(session);
        }
    }

    /// Ends the invitation: persisted, every live session told (sealed) and closed.
    fn end(&mut self, ended: Ended, refusal: Refusal) {
        if self.record.ended.is_some_and(|e| e != Ended::Completed) {
            return;
        }
        self.record.ended = Some(ended);
        self.persist();
        let sessions = std::mem::take(&mut self.sessions);
        self.lock = None;
        for (session, s) in sessions {
            match s.phase {
                // A guest it admitted may be retrying for its grant: the end does not refuse it.
                Phase::Ready(channel) if self.admitted_session(&channel) => {
                    self.sessions.insert(session, Session { phase: Phase::Ready(channel), deadline: s.deadline });
                }
                Phase::Ready(mut channel) | Phase::Confirming(mut channel, ..) => {
                    self.refuse(session, &mut channel, refusal);
                }
                Phase::Handshake(_) => self.close(session),
            }
        }
        self.set_state(ended.state());
    }

    // ----- helpers -----

    /// Whether this session's guest (its Noise static key) was admitted before.
    fn admitted_session(&self, channel: &Channel) -> bool {
        self.record.admitted_noise.binary_search(&channel.remote).is_ok()
    }

    fn ended_refusal(&self) -> Option<Refusal> {
        if active(Mutant::AdmitAfterCancel) && self.record.ended == Some(Ended::Cancelled) {
            return None;
        }
        self.record.ended.map(Ended::refusal)
    }

    /// One attempt at a time per invitation; others are told to come back.
    fn take_lock(&mut self, session: SessionId, channel: &mut Channel) -> bool {
        match self.lock {
            Some(holder) if holder != session => {
                let left = self.record.attempts_left;
                self.send(session, channel, &Message::Refused { refusal: Refusal::Busy, attempts_left: left });
                false
            }
            _ => {
                self.lock = Some(session);
                true
            }
        }
    }

    fn release_lock(&mut self, session: SessionId) {
        if self.lock == Some(session) {
            self.lock = None;
        }
    }

    fn drop_session(&mut self, session: SessionId) {
        self.sessions.remove(&session);
        self.release_lock(session);
        if self.sessions.is_empty()
            && matches!(self.state, State::Connected | State::ReadyForAuthentication | State::Authenticating)
        {
            self.set_state(State::Connecting);
        }
    }

    fn open(&mut self, session: SessionId, channel: &mut Channel, frame: Frame) -> Option<Message> {
        let FrameBody::Sealed { chunks } = frame.body else {
            self.violation(session);
            return None;
        };
        let message = handshake::open(&mut channel.transport, &chunks).ok().and_then(|p| Message::from_bytes(&p).ok());
        if message.is_none() {
            // A frame that fails authentication may be an attacker's: the channel's nonces
            // are now out of step, so the session ends; the invitation is untouched.
            self.violation(session);
        }
        message
    }

    fn send(&mut self, session: SessionId, channel: &mut Channel, message: &Message) {
        match handshake::seal(&mut channel.transport, &message.to_bytes()) {
            Ok(chunks) => self.transmit(session, FrameBody::Sealed { chunks }),
            Err(_) => self.close(session),
        }
    }

    /// Tells the guest (sealed, so it can trust it); a final refusal closes the session.
    /// Returns whether the session stays open.
    fn refuse(&mut self, session: SessionId, channel: &mut Channel, refusal: Refusal) -> bool {
        let left = self.record.attempts_left;
        self.send(session, channel, &Message::Refused { refusal, attempts_left: left });
        if refusal.is_final() {
            self.event(HostEvent::SessionFailed { session, reason: refusal });
            self.drop_session(session);
            self.close(session);
            return false;
        }
        true
    }

    fn violation(&mut self, session: SessionId) {
        self.event(HostEvent::SessionFailed { session, reason: Refusal::ProtocolViolation });
        self.drop_session(session);
        self.close(session);
    }

    fn transmit(&mut self, session: SessionId, body: FrameBody) {
        self.out.push_back(HostOutput::Transmit { session, bytes: Frame::new(body).to_bytes() });
    }

    fn transmit_plain(&mut self, session: SessionId, refusal: Refusal) {
        self.transmit(session, FrameBody::Reject { refusal });
    }

    fn close(&mut self, session: SessionId) {
        self.out.push_back(HostOutput::Close { session });
    }

    fn persist(&mut self) {
        if active(Mutant::ForgetBudgetOnRestart) {
            let mut r = self.record.clone();
            r.attempts_left = self.limits.attempts_max;
            self.out.push_back(HostOutput::Persist(r));
            return;
        }
        self.out.push_back(HostOutput::Persist(self.record.clone()));
    }

    fn event(&mut self, e: HostEvent) {
        self.out.push_back(HostOutput::Event(e));
    }

    fn set_state(&mut self, state: State) {
        if self.state != state {
            self.state = state;
            self.event(HostEvent::State(state));
        }
    }
}
