//! The network model: connections between numbered nodes, their latency, resets and
//! partitions. It knows nothing of the world (TigerBeetle's packet simulator knows nothing of
//! the cluster): it is told who dials whom and what is sent, and answers with `Arrival`s at
//! times, which the world schedules. What is on path (the adversary) and what watches the
//! wire (the oracle) are composed around it by the world's transport (`world::transport`).
//!
//! Peer connections are reliable ordered message streams (TCP, QUIC streams, WebSockets):
//! an honest network never loses, duplicates or reorders a frame *within* a connection.
//! What it does instead is what real ones do: delay frames (with tails), reset
//! connections, refuse to connect across a partition, and cut connections a partition
//! crosses. Loss, duplication, reordering and tampering inside a stream are the on-path
//! attacker's (`adversary`), and must be caught by the cryptography.

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::ChaCha20Rng;
use rand_core::RngCore;
use spaces_protocol::peer::ConnId;

use crate::config::Faults;

/// How long a connect across a partition (or to a dead node) takes to fail.
pub const CONNECT_TIMEOUT_MS: u64 = 3_000;
/// How long until both ends notice that a partition cut their connection (keep-alives).
pub const CUT_DETECT_MS_MAX: u64 = 5_000;

#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub node: usize,
    pub conn: ConnId,
    /// Frames on this direction are delivered in order: never before this time.
    pub last_at: u64,
    /// The on-path attacker dropped, tampered with, replayed or reordered a frame of this
    /// connection (either direction): the stream is broken, though its ends may notice only
    /// at a later frame, so what is sent on it need not arrive.
    pub attacked: bool,
}

pub struct Net {
    rng: ChaCha20Rng,
    /// (node, conn) -> the other end. Both directions are present while open.
    links: BTreeMap<(usize, ConnId), Link>,
    /// Ids for the accepting end of a connection (the dialler picks its own).
    next_inbound: ConnId,
    /// Ordered pairs (a, b): a's frames cannot reach b.
    blocked: BTreeMap<u64, BTreeSet<(usize, usize)>>,
    next_partition: u64,
    /// Faults `faults::schedule` drew, cut or not: the index `Config::cuts` names faults by.
    pub faults_drawn: u32,
}

impl Net {
    pub fn new(rng: ChaCha20Rng) -> Self {
        Net {
            rng,
            links: BTreeMap::new(),
            next_inbound: 1,
            blocked: BTreeMap::new(),
            next_partition: 1,
            faults_drawn: 0,
        }
    }

    pub fn roll(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.rng.next_u64() % n }
    }

    pub fn chance_ppm(&mut self, ppm: u32) -> bool {
        ppm > 0 && self.roll(1_000_000) < u64::from(ppm)
    }

    pub fn latency(&mut self, f: &Faults) -> u64 {
        let base = f.latency_min_ms + self.roll(f.latency_max_ms.saturating_sub(f.latency_min_ms) + 1);
        let tail = self.chance_ppm(f.latency_tail_ppm);
        base + if tail { self.roll(f.latency_tail_ms + 1) } else { 0 }
    }

    /// Open and not cut: frames and connection events may still reach this end.
    pub fn is_open(&self, node: usize, conn: ConnId) -> bool {
        self.links.get(&(node, conn)).is_some_and(|l| l.node != usize::MAX)
    }

    /// Open, not cut, and never touched by the on-path attacker: what is sent on it arrives.
    pub fn is_intact(&self, node: usize, conn: ConnId) -> bool {
        self.links.get(&(node, conn)).is_some_and(|l| l.node != usize::MAX && !l.attacked)
    }

    /// Every frame `node` sent on `conn` has reached the other end by `now` (and was handled,
    /// the world handling events in time order).
    pub fn is_drained(&self, node: usize, conn: ConnId, now: u64) -> bool {
        self.links.get(&(node, conn)).is_some_and(|l| l.last_at < now)
    }

    /// The on-path attacker touched a frame of `node`'s `conn`: both ends are marked.
    pub fn mark_attacked(&mut self, node: usize, conn: ConnId) {
        let Some(l) = self.links.get_mut(&(node, conn)) else { return };
        l.attacked = true;
        let (other, other_conn) = (l.node, l.conn);
        if let Some(l) = self.links.get_mut(&(other, other_conn)) {
            l.attacked = true;
        }
    }

    /// Forgets `node`'s end; true if it was open (the node must be told).
    pub fn close_end(&mut self, node: usize, conn: ConnId) -> bool {
        self.links.remove(&(node, conn)).is_some()
    }

    pub fn peer_of(&self, node: usize, conn: ConnId) -> Option<Link> {
        self.links.get(&(node, conn)).copied()
    }

    fn blocked(&self, a: usize, b: usize) -> bool {
        self.blocked.values().any(|s| s.contains(&(a, b)))
    }

    pub fn reachable(&self, a: usize, b: usize) -> bool {
        !self.blocked(a, b) && !self.blocked(b, a)
    }

    pub fn partitioned(&self) -> bool {
        !self.blocked.is_empty()
    }

    pub fn heal_all(&mut self) {
        self.blocked.clear();
    }

    pub fn open_links(&self) -> Vec<((usize, ConnId), Link)> {
        self.links.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Opens a connection from (a, conn) to b; returns b's end.
    pub fn open(&mut self, a: usize, conn: ConnId, b: usize, ready_at: u64) -> ConnId {
        let remote = self.next_inbound;
        self.next_inbound += 1;
        self.links.insert((a, conn), Link { node: b, conn: remote, last_at: ready_at, attacked: false });
        self.links.insert((b, remote), Link { node: a, conn, last_at: ready_at, attacked: false });
        remote
    }

    /// When a frame sent now on (a, conn) arrives, keeping the stream in order.
    pub fn schedule(&mut self, a: usize, conn: ConnId, earliest: u64) -> Option<Link> {
        let link = self.links.get_mut(&(a, conn))?;
        link.last_at = link.last_at.max(earliest);
        Some(*link)
    }

    pub fn new_partition(&mut self, pairs: BTreeSet<(usize, usize)>) -> u64 {
        let id = self.next_partition;
        self.next_partition += 1;
        self.blocked.insert(id, pairs);
        id
    }

    pub fn heal(&mut self, id: u64) {
        self.blocked.remove(&id);
    }

    /// Cuts a link: both ends hear of it once they notice, each within `detect_ms_max`.
    /// The delays are relative to now.
    pub fn cut(&mut self, a: usize, conn: ConnId, detect_ms_max: u64) -> Vec<(u64, Arrival)> {
        let Some(link) = self.links.remove(&(a, conn)) else { return Vec::new() };
        self.links.remove(&(link.node, link.conn));
        let (da, db) = (self.roll(detect_ms_max) + 1, self.roll(detect_ms_max) + 1);
        // A cut end stays in the table as a marker until its node hears of the cut, so the
        // `Closed` is delivered while frames to it are not.
        self.links.insert((a, conn), Link::CUT);
        self.links.insert((link.node, link.conn), Link::CUT);
        vec![(da, Arrival::Closed { node: a, conn }), (db, Arrival::Closed { node: link.node, conn: link.conn })]
    }

    /// Node `a` dials node `target` (`None`: an address that is no node) as `conn` at `now`;
    /// `up` says which nodes are running. Absolute times; the connection opened, if any.
    pub fn dial(
        &mut self,
        now: u64,
        a: usize,
        conn: ConnId,
        target: Option<usize>,
        up: impl Fn(usize) -> bool,
        faults: &Faults,
    ) -> Dial {
        let ok = target.filter(|b| up(*b) && *b != a && self.reachable(a, *b));
        let Some(b) = ok else {
            let delay = if target.is_some_and(&up) { CONNECT_TIMEOUT_MS } else { 50 + self.roll(500) };
            return Dial { opened: false, arrivals: vec![(now + delay, Arrival::ConnectFailed { node: a, conn })] };
        };
        let (l1, l2) = (self.latency(faults), self.latency(faults));
        let ready = now + l1 + l2;
        let remote = self.open(a, conn, b, ready);
        let arrivals = vec![
            (now + l1, Arrival::Accepted { node: b, conn: remote }),
            (ready, Arrival::Connected { node: a, conn }),
        ];
        Dial { opened: true, arrivals }
    }

    /// Node `a` closes `conn` at `now`: the other end hears of it after the frames already sent.
    pub fn close(&mut self, now: u64, a: usize, conn: ConnId, faults: &Faults) -> Option<(u64, Arrival)> {
        let link = self.links.remove(&(a, conn))?;
        if link.node == usize::MAX {
            return None;
        }
        let lat = self.latency(faults);
        Some(((now + lat).max(link.last_at), Arrival::Closed { node: link.node, conn: link.conn }))
    }

    /// A crashed node's connections vanish; the other ends notice after a while (delays
    /// relative to now).
    pub fn drop_node(&mut self, i: usize) -> Vec<(u64, Arrival)> {
        let mine: Vec<((usize, ConnId), Link)> = self.open_links().into_iter().filter(|((n, _), _)| *n == i).collect();
        let mut arrivals = Vec::new();
        for ((_, conn), link) in mine {
            self.links.remove(&(i, conn));
            if link.node != usize::MAX && self.links.remove(&(link.node, link.conn)).is_some() {
                self.links.insert((link.node, link.conn), Link::CUT);
                let d = 10 + self.roll(CUT_DETECT_MS_MAX);
                arrivals.push((d, Arrival::Closed { node: link.node, conn: link.conn }));
            }
        }
        arrivals
    }

    /// Opens partition `pairs` and cuts the connections it crosses; their ends notice after
    /// keep-alives fail (delays relative to now). Returns the partition's id.
    pub fn partition(&mut self, pairs: BTreeSet<(usize, usize)>) -> (u64, Vec<(u64, Arrival)>) {
        let crossing: Vec<(usize, ConnId)> = self
            .open_links()
            .into_iter()
            .filter(|((a, _), link)| {
                link.node != usize::MAX
                    && *a < link.node
                    && (pairs.contains(&(*a, link.node)) || pairs.contains(&(link.node, *a)))
            })
            .map(|(k, _)| k)
            .collect();
        let id = self.new_partition(pairs);
        let arrivals = crossing.into_iter().flat_map(|(a, conn)| self.cut(a, conn, CUT_DETECT_MS_MAX)).collect();
        (id, arrivals)
    }
}

impl Link {
    /// The marker a cut end leaves until its node hears of the cut.
    const CUT: Link = Link { node: usize::MAX, conn: 0, last_at: u64::MAX, attacked: false };
}

/// What the network delivers to one end of a connection.
#[derive(Debug, Clone)]
pub enum Arrival {
    Accepted { node: usize, conn: ConnId },
    Connected { node: usize, conn: ConnId },
    ConnectFailed { node: usize, conn: ConnId },
    Closed { node: usize, conn: ConnId },
}

/// The outcome of a dial: what arrives when, and whether a connection opened.
#[derive(Debug)]
pub struct Dial {
    pub opened: bool,
    pub arrivals: Vec<(u64, Arrival)>,
}

/// How the adversary touched a frame, so the oracle knows what the receiver must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Clean,
    /// Tampered, replayed, duplicated or reordered by the network attacker.
    Attacked,
    /// Malformed or non-canonical: the receiver must close the connection.
    Malformed,
}

/// A frame marked for delivery (extra delay, bytes, mark): what the on-path adversary returns.
pub type Delivery = (u64, Vec<u8>, Mark);
