//! A node of the world as its driver holds it: the device's `Peer` (or none: the flooder), its
//! clock, its disk (the durable log and the group commit in progress), its timer and signaling
//! connection. Plain data, a leaf: the world drives nodes, the oracle and the adversary read them.

use std::collections::BTreeMap;

use spaces_protocol::Timestamp;
use spaces_protocol::peer::{ConnId, Peer, Record};
use spaces_protocol::signal::ClientId;

use crate::clock::Clock;
use crate::net::Mark;

/// What a node is in the story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An honest user's device.
    Honest,
    /// An honest device that starts blank and waits to be linked to another's identity.
    Blank,
    /// The adversary's own device: PIN guesser with leaked codes, sink of redirected dials.
    Adversary,
    /// Sends malformed frames; has no Peer.
    Flooder,
}

/// What a node's driver has written to disk: its log (a snapshot, then records).
#[derive(Debug, Clone, Default)]
pub struct Durable {
    pub log: Vec<Record>,
}

/// Records written but not yet flushed (group commit): a crash before the flush loses them,
/// and the Peer holds every output that follows them until the flush reports them durable.
#[derive(Debug, Default)]
pub struct Pending {
    pub records: Vec<Record>,
    /// The last `Persist` among them, to report `Durable` at the flush.
    pub seq: Option<u64>,
    /// Entries per space once they are durable: what the outputs they release acknowledge.
    pub acked: BTreeMap<spaces_protocol::PublicKey, u64>,
    /// Frames that must close their connection (malformed) whose answer the Peer still holds.
    pub checks: Vec<(ConnId, Mark)>,
    pub epoch: u64,
    /// The node's clock when the group's first record was emitted: every output this group
    /// holds was decided at or after it (the oracle judges decisions by it, not by the flush,
    /// which a clock jump may have moved past a deadline meanwhile).
    pub since: Option<Timestamp>,
}

pub struct Node {
    pub kind: Kind,
    pub peer: Option<Peer>,
    pub clock: Clock,
    pub addr: Vec<u8>,
    pub durable: Durable,
    pub pending: Pending,
    /// The pending group commit completes at this global time.
    pub fsync_at: Option<u64>,
    pub timer_gen: u64,
    pub timer_at: Option<u64>,
    /// Our connection to the signaling server, while it is up.
    pub signal: Option<ClientId>,
    /// Crashed nodes are down until restarted.
    pub up: bool,
    /// Entries per space the user was told are written (released outputs): what S5 holds us to.
    pub acked: BTreeMap<spaces_protocol::PublicKey, u64>,
    /// Timer wake-ups in a row that left the timer due (a busy loop, if it grows).
    pub spins: u32,
    /// A crash waiting for the next group commit to start: it strikes between the write and
    /// the flush, where what is not yet durable is lost.
    pub crash_armed: bool,
    /// While a flush releases held outputs: the node's clock when the earliest of them was
    /// decided (`Pending::since`).
    pub deciding: Option<Timestamp>,
}

impl Node {
    pub fn is_honest(&self) -> bool {
        matches!(self.kind, Kind::Honest | Kind::Blank)
    }
}

/// Node `i`'s transport address.
pub fn addr_of(i: usize) -> Vec<u8> {
    format!("sim://node/{i}").into_bytes()
}

pub fn node_of(addr: &[u8]) -> Option<usize> {
    std::str::from_utf8(addr).ok()?.strip_prefix("sim://node/")?.parse().ok()
}
