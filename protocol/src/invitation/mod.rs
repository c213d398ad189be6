//! Invitations: how a guest joins a space (or links a device to an identity) with an invite
//! code and, usually, a 6-digit PIN (SPEC.md §7).
//!
//! - [`code`]: the invite code (bech32m text, versioned, checksummed, ≤ 100 characters).
//! - [`pin`]: the PIN, drawn from the injected CSPRNG, never transmitted.
//! - [`handshake`]: Noise XK with the host's static key pinned from the code and the
//!   invitation's parameters in the prologue.
//! - [`pake`]: SPAKE2 over the PIN, bound to the Noise handshake hash, with key confirmation.
//! - [`wire`]: frames and messages.
//! - [`host`] and [`guest`]: the two sans-IO state machines.

pub mod code;
pub mod delegation;
pub mod guest;
pub mod handshake;
pub mod host;
pub mod pake;
pub mod pin;
pub mod wire;

use serde::{Deserialize, Serialize};

pub use code::{CodeError, InvitationCode};
pub use guest::InvitationGuest;
pub use host::InvitationHost;
pub use pin::Pin;

use crate::credential::Role;

/// What an invitation admits the guest to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// Membership of a space, with a role.
    Space,
    /// A new device of the host's identity (HALO).
    Device,
}

impl Kind {
    /// The kind's name as the vectors and the driver protocol write it.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Space => "space",
            Kind::Device => "device",
        }
    }
}

pub use crate::credential::AuthMethod;

/// The states of an invitation on either side, named as in DXOS so its users feel at home.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum State {
    Init,
    Connecting,
    Connected,
    ReadyForAuthentication,
    Authenticating,
    Success,
    Cancelled,
    Timeout,
    Error,
    Expired,
}

impl State {
    /// The state's name as DXOS and SPEC write it (`READY_FOR_AUTHENTICATION`).
    pub const fn name(self) -> &'static str {
        match self {
            State::Init => "INIT",
            State::Connecting => "CONNECTING",
            State::Connected => "CONNECTED",
            State::ReadyForAuthentication => "READY_FOR_AUTHENTICATION",
            State::Authenticating => "AUTHENTICATING",
            State::Success => "SUCCESS",
            State::Cancelled => "CANCELLED",
            State::Timeout => "TIMEOUT",
            State::Error => "ERROR",
            State::Expired => "EXPIRED",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, State::Success | State::Cancelled | State::Timeout | State::Error | State::Expired)
    }
}

/// Why an invitation ended in ERROR, or why a host refused a step. Wire values are the
/// variant indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Refusal {
    /// The PIN did not match (not terminal while attempts remain).
    WrongPin,
    /// The invitation's attempt budget is spent; it is burned.
    AttemptsExhausted,
    /// The invitation expired.
    Expired,
    /// The host cancelled the invitation.
    Cancelled,
    /// The host may no longer admit (not OWNER/ADMIN, or the guest key is not the invited one).
    NotAuthorised,
    /// A single-use invitation was used by someone else, or the use limit is reached.
    AlreadyUsed,
    /// Another guest's attempt is in flight; try again shortly.
    Busy,
    /// A message broke the protocol (malformed, out of order, replayed, oversized).
    ProtocolViolation,
    /// The host has no invitation for this topic.
    UnknownInvitation,
    /// Local only, never sent: the guest's deadline passed without an outcome. Reached after
    /// sending its proof ("in doubt"), it means *unknown*: the host may have admitted it.
    Timeout,
}

impl Refusal {
    /// Refusals after which retrying the same invitation cannot succeed.
    pub fn is_final(self) -> bool {
        !matches!(self, Refusal::WrongPin | Refusal::Busy)
    }

    /// The terminal state a final refusal leads to.
    pub fn terminal_state(self) -> State {
        match self {
            Refusal::Expired => State::Expired,
            Refusal::Cancelled => State::Cancelled,
            Refusal::Timeout => State::Timeout,
            _ => State::Error,
        }
    }
}

/// Roles an invitation may grant (never OWNER, never REMOVED).
pub fn grantable(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Editor | Role::Reader)
}

/// Timers and bounds, with the defaults SPEC.md §7.6 gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wrong PINs an invitation tolerates, across all connections and restarts.
    pub attempts_max: u8,
    /// A host session that makes no progress for this long is closed.
    pub session_idle_ms: u64,
    /// A guest gives up this long after it started, unless the code expires sooner.
    pub guest_timeout_ms: u64,
    /// First reconnect delay of a guest; doubles up to `reconnect_max_ms`.
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            attempts_max: 3,
            session_idle_ms: 60_000,
            guest_timeout_ms: 180_000,
            reconnect_min_ms: 100,
            reconnect_max_ms: 5_000,
        }
    }
}

/// A connection as the driver names it. Opaque to the protocol.
pub type SessionId = u64;
