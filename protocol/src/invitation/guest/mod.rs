//! The guest's side of an invitation: find the host on the code's topic, run the pinned
//! Noise handshake, prove the PIN (or the invited key), and receive the grant.
//!
//! Every state has a deadline. Once the guest has sent its proof and request it is *in
//! doubt* (the host may have admitted it): from then on it reconnects and retries until the
//! code's expiry instead of giving up, because admission is idempotent and a retry returns
//! the same grant. So both sides end in agreement unless the network stays cut until expiry;
//! a TIMEOUT reached in doubt means "unknown", and the space membership will tell.

use std::collections::VecDeque;

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};

use super::code::InvitationCode;
use super::handshake::{self, HandshakeHash};
use super::pake::{self, Pake, PakeKey, Side};
use super::pin::Pin;
use super::wire::{AdmissionGrant, AdmissionRequest, Frame, FrameBody, JoinRequest, Message};
use super::{AuthMethod, Kind, Limits, Refusal, SessionId, State};
use crate::codec::Canonical;
use crate::credential::Assertion;
use crate::hash::Digest;
use crate::keys::{Keypair, NoiseKeypair};
use crate::membership::{Effect, Membership};
use crate::time::Timestamp;

mod flow;

/// Who is joining.
#[derive(Debug, Clone)]
pub enum Joiner {
    /// An identity joining a space: its join request, device key and Noise key.
    Space { join: JoinRequest, device: Keypair, noise: NoiseKeypair },
    /// A new device joining an identity.
    Device { device: Keypair, noise: NoiseKeypair },
}

impl Joiner {
    fn noise(&self) -> &NoiseKeypair {
        match self {
            Joiner::Space { noise, .. } | Joiner::Device { noise, .. } => noise,
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Joiner::Space { .. } => Kind::Space,
            Joiner::Device { .. } => Kind::Device,
        }
    }

    fn request(&self, h: &HandshakeHash) -> AdmissionRequest {
        match self {
            Joiner::Space { join, device, .. } => AdmissionRequest::space(join.clone(), device, h),
            Joiner::Device { device, noise } => AdmissionRequest::device(device, noise.public(), h),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestInput<'a> {
    /// The driver connected to a peer on the topic (in answer to `Connect`).
    Connected {
        session: SessionId,
    },
    /// The driver could not connect.
    ConnectFailed,
    Frame {
        session: SessionId,
        bytes: &'a [u8],
    },
    Closed {
        session: SessionId,
    },
    Timeout,
    /// The user entered the PIN.
    Authenticate(Pin),
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestEvent {
    State(State),
    /// The host said the PIN was wrong; the user may try again.
    WrongPin {
        attempts_left: u8,
    },
    /// Terminal success, with what the host granted (verified).
    Admitted(AdmissionGrant),
    /// Terminal failure, and why.
    Failed(Refusal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestOutput {
    /// Find a host on this signaling topic and connect to it.
    Connect {
        topic: Digest,
    },
    Transmit {
        session: SessionId,
        bytes: Vec<u8>,
    },
    Close {
        session: SessionId,
    },
    Event(GuestEvent),
    /// Nothing else to do until this time (or an input): the last output of a drain.
    Timeout(Timestamp),
}

enum Phase {
    Handshake(Box<snow::HandshakeState>),
    /// Handshake done; waiting for the user's PIN (PIN method).
    Ready(Channel),
    AwaitPake(Channel, Pake, u8),
    AwaitAdmitted(Channel, Option<(PakeKey, u8)>),
}

struct Channel {
    transport: Box<snow::TransportState>,
    h: HandshakeHash,
}

struct Session {
    id: SessionId,
    phase: Phase,
    /// Set while we wait for the host; none while we wait for our user.
    deadline: Option<Timestamp>,
}

pub struct InvitationGuest {
    code: InvitationCode,
    joiner: Joiner,
    limits: Limits,
    state: State,
    deadline: Timestamp,
    session: Option<Session>,
    connecting: bool,
    reconnect_at: Option<Timestamp>,
    backoff_ms: u64,
    pin: Option<Pin>,
    run: u8,
    in_doubt: bool,
    attempts_left: Option<u8>,
    outcome: Option<Result<AdmissionGrant, Refusal>>,
    /// The membership `grant_ok` built from the grant of a SPACE outcome: its credentials are
    /// verified and resolved, so the `Client` stores it instead of verifying them again.
    verified: Option<Membership>,
    out: VecDeque<GuestOutput>,
    /// A `Timeout` ends the drain of each input (when there is a deadline).
    timeout_due: bool,
    rng: ChaCha20Rng,
}

impl core::fmt::Debug for InvitationGuest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InvitationGuest").field("state", &self.state).field("in_doubt", &self.in_doubt).finish()
    }
}

/// Why a guest could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestError {
    /// A SPACE code with a device joiner, or the reverse.
    KindMismatch,
}

impl InvitationGuest {
    /// Starts accepting an invitation. Emits `Connect` at once (or EXPIRED if the code has).
    pub fn new<R: RngCore + CryptoRng>(
        code: InvitationCode,
        joiner: Joiner,
        limits: Limits,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Self, GuestError> {
        if joiner.kind() != code.kind {
            return Err(GuestError::KindMismatch);
        }
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let mut guest = InvitationGuest {
            code,
            joiner,
            limits,
            state: State::Init,
            deadline: now.saturating_add_millis(limits.guest_timeout_ms).min(code.expires_at()),
            session: None,
            connecting: false,
            reconnect_at: None,
            backoff_ms: limits.reconnect_min_ms,
            pin: None,
            run: 0,
            in_doubt: false,
            attempts_left: None,
            outcome: None,
            verified: None,
            out: VecDeque::new(),
            timeout_due: false,
            rng: ChaCha20Rng::from_seed(seed),
        };
        if now >= code.expires_at() {
            guest.finish(Err(Refusal::Expired));
        } else {
            guest.set_state(State::Connecting);
            guest.connect();
        }
        Ok(guest)
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn code(&self) -> &InvitationCode {
        &self.code
    }

    /// The outcome once terminal: the grant, or why not.
    pub fn outcome(&self) -> Option<&Result<AdmissionGrant, Refusal>> {
        self.outcome.as_ref()
    }

    pub fn in_doubt(&self) -> bool {
        self.in_doubt
    }

    pub fn attempts_left(&self) -> Option<u8> {
        self.attempts_left
    }

    pub fn handle_input(&mut self, input: GuestInput<'_>, now: Timestamp) {
        self.timeout_due = true;
        if self.state.is_terminal() {
            if let GuestInput::Connected { session } = input {
                self.out.push_back(GuestOutput::Close { session });
            }
            return;
        }
        match input {
            GuestInput::Connected { session } => self.on_connected(session, now),
            GuestInput::ConnectFailed => {
                self.connecting = false;
                self.retry_later(now);
            }
            GuestInput::Frame { session, bytes } => self.on_frame(session, bytes, now),
            GuestInput::Closed { session } => {
                if self.session.as_ref().is_some_and(|s| s.id == session) {
                    self.session = None;
                    self.retry_later(now);
                }
            }
            GuestInput::Timeout => self.on_timeout(now),
            GuestInput::Authenticate(pin) => self.on_pin(pin, now),
            GuestInput::Cancel => self.finish(Err(Refusal::Cancelled)),
        }
    }

    /// The queued outputs, then (once per input, when there is a deadline) `Timeout`.
    pub fn poll_output(&mut self) -> Option<GuestOutput> {
        if let Some(out) = self.out.pop_front() {
            return Some(out);
        }
        if std::mem::take(&mut self.timeout_due) {
            return self.poll_timeout().map(GuestOutput::Timeout);
        }
        None
    }

    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.state.is_terminal() {
            return None;
        }
        let mut at = self.effective_deadline();
        if let Some(d) = self.session.as_ref().and_then(|s| s.deadline) {
            at = at.min(d);
        }
        if let Some(r) = self.reconnect_at {
            at = at.min(r);
        }
        Some(at)
    }

    fn effective_deadline(&self) -> Timestamp {
        if self.in_doubt { self.code.expires_at() } else { self.deadline }
    }

    // ----- helpers -----

    fn open(&mut self, channel: &mut Channel, frame: Frame) -> Option<Message> {
        let FrameBody::Sealed { chunks } = frame.body else { return None };
        handshake::open(&mut channel.transport, &chunks).ok().and_then(|p| Message::from_bytes(&p).ok())
    }

    fn send(&mut self, session: SessionId, channel: &mut Channel, message: &Message) {
        match handshake::seal(&mut channel.transport, &message.to_bytes()) {
            Ok(chunks) => self.transmit(session, FrameBody::Sealed { chunks }),
            Err(_) => self.close(session),
        }
    }

    fn transmit(&mut self, session: SessionId, body: FrameBody) {
        let mut bytes = Frame::new(body).to_bytes();
        if crate::mutants::active(crate::mutants::Mutant::LeakPinIntoFrame)
            && let Some(pin) = &self.pin
        {
            bytes.extend_from_slice(pin.as_bytes());
        }
        self.out.push_back(GuestOutput::Transmit { session, bytes });
    }

    fn close(&mut self, session: SessionId) {
        self.out.push_back(GuestOutput::Close { session });
    }

    fn event(&mut self, e: GuestEvent) {
        self.out.push_back(GuestOutput::Event(e));
    }

    fn set_state(&mut self, state: State) {
        if self.state != state && !self.state.is_terminal() {
            self.state = state;
            self.event(GuestEvent::State(state));
        }
    }
}
