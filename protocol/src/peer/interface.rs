//! What goes into a `Peer` and what comes out: the user's commands, the driver's inputs, the
//! events a user sees and the outputs a driver carries out.

use super::ConnId;
use super::durable::Record;
use crate::client::ClientError;
use crate::credential::Role;
use crate::invitation::guest::GuestEvent;
use crate::invitation::host::{HostEvent, ParamsError};
use crate::invitation::{AuthMethod, InvitationCode, Pin};
use crate::item::Op;
use crate::keys::{NoiseKey, PublicKey};
use crate::signal::client::{ClientInput, SignalEvent};
use crate::time::Timestamp;

/// What a user (or a test, or the simulator's workload) asks of the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    CreateSpace,
    /// Host an invitation to `space` (or, with `space: None`, a device invitation).
    CreateInvitation {
        space: Option<PublicKey>,
        auth: AuthMethod,
        role: Role,
        guest: Option<PublicKey>,
        lifetime_ms: u64,
        use_limit: u32,
    },
    /// Issue a delegated invitation to `space` (SPEC.md §7.8): this device and up to
    /// `attempts_max - 1` other admin devices host it, each with its share of the budget. The
    /// code and PIN come in `InvitationCreated`; `CancelInvitation` with its id ends it on
    /// every host.
    DelegateInvitation {
        space: PublicKey,
        auth: AuthMethod,
        role: Role,
        guest: Option<PublicKey>,
        lifetime_ms: u64,
        use_limit: u32,
    },
    CancelInvitation {
        id: [u8; 16],
    },
    AcceptInvitation {
        code: InvitationCode,
    },
    Authenticate {
        id: [u8; 16],
        pin: Pin,
    },
    CancelAccept {
        id: [u8; 16],
    },
    SetRole {
        space: PublicKey,
        member: PublicKey,
        role: Role,
    },
    Write {
        space: PublicKey,
        ops: Vec<Op>,
    },
    Leave {
        space: PublicKey,
    },
    /// Removes a device of our identity (a lost one) from every space this device holds where
    /// it has feeds (SPEC.md §1.5, §4.4 step 7): members stop linking with it, and what it
    /// signs or writes from then on counts nowhere. Refused `NoEffect` where it changes nothing.
    RemoveDevice {
        device: PublicKey,
    },
}

/// Why the Peer refused a command (`Peer::command`): one variant per cause a user can act on.
/// A refused command changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// The client refused it: no such space, our role does not allow it, no effect, a write
    /// out of bounds.
    Client(ClientError),
    /// The user left this space; its replica only hands its feeds off before it goes.
    Left,
    /// The invitation's parameters are out of bounds (role, kind, guest key, expiry).
    Invitation(ParamsError),
    /// This device already hosts `HOSTED_MAX` or accepts `JOINING_MAX` invitations: end one,
    /// or wait for one to expire.
    TooManyInvitations,
    /// A device invitation links a device that has no spaces yet (its spaces would belong to
    /// no identity it keeps).
    DeviceHasSpaces,
    /// No invitation with this id is hosted or being accepted here (it may have ended).
    UnknownInvitation,
}

impl From<ClientError> for CommandError {
    fn from(e: ClientError) -> Self {
        CommandError::Client(e)
    }
}

impl core::fmt::Display for CommandError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CommandError::Client(e) => e.fmt(f),
            CommandError::Left => f.write_str("the space was left on this device"),
            CommandError::Invitation(e) => write!(f, "invitation refused: {e}"),
            CommandError::TooManyInvitations => f.write_str("too many invitations at once on this device"),
            CommandError::DeviceHasSpaces => f.write_str("only a device with no spaces can be linked"),
            CommandError::UnknownInvitation => f.write_str("no such invitation on this device"),
        }
    }
}

impl std::error::Error for CommandError {}

/// What a driver hands the Peer, with the time, in `Peer::handle_input`. User commands go
/// through `Peer::command` instead, which answers at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// The connection to the signaling server (the driver keeps one).
    Signal(ClientInput<'a>),
    /// An outbound connection we asked for is up.
    Connected {
        conn: ConnId,
    },
    /// An outbound connection could not be made.
    ConnectFailed {
        conn: ConnId,
    },
    /// Someone connected to us; the driver chose `conn`.
    Accepted {
        conn: ConnId,
    },
    Frame {
        conn: ConnId,
        bytes: &'a [u8],
    },
    Closed {
        conn: ConnId,
    },
    /// Every record of the `Persist` outputs up to `seq` is on disk: the outputs after them
    /// may go out.
    Durable {
        seq: u64,
    },
    Timeout,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    SpaceCreated {
        space: PublicKey,
    },
    InvitationCreated {
        id: [u8; 16],
        code: InvitationCode,
        pin: Option<Pin>,
    },
    /// A hosted invitation's state or outcome changed.
    Hosting {
        id: [u8; 16],
        event: HostEvent,
    },
    /// An accepted invitation's state or outcome changed.
    Joining {
        id: [u8; 16],
        event: GuestEvent,
    },
    /// We joined a space through an invitation.
    Joined {
        space: PublicKey,
    },
    /// This device now belongs to `identity` (a DEVICE invitation succeeded).
    Linked {
        identity: PublicKey,
    },
    /// New credentials or entries arrived for a space.
    Changed {
        space: PublicKey,
    },
    /// This identity's replica of `space` now shows it removed, or shows this device removed
    /// by its identity (`RemovedDevice`): the user may no longer write or invite there from
    /// this device; the replica stays, read-only, until the user leaves it.
    Removed {
        space: PublicKey,
    },
    /// A swarm connection was refused or closed for lack of membership.
    Refused {
        conn: ConnId,
        remote: Option<NoiseKey>,
    },
    Signal(SignalEvent),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A frame for the signaling server.
    SignalTransmit {
        bytes: Vec<u8>,
    },
    /// Open a connection to `addr` and report it as `conn`.
    Connect {
        conn: ConnId,
        addr: Vec<u8>,
    },
    Transmit {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    Close {
        conn: ConnId,
    },
    /// Records to append to the device's log. The Peer withholds every output after this one
    /// until the driver reports `Durable { seq }` (or a later one): what it says is always part
    /// of what it will remember (SPEC.md §9.5).
    Persist {
        seq: u64,
        records: Vec<Record>,
    },
    Event(Event),
    /// When to deliver `Input::Timeout`: the last output of every drain, exactly once.
    Timeout(Timestamp),
}
