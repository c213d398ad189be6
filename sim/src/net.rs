//! The network model and the fault injector.
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
use crate::world::{Ev, Mark, World, node_of};

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    Partition { id: u64 },
    PartitionHeal { id: u64 },
    Crash { node: usize },
    Restart { node: usize },
    ClockJump { node: usize },
    SignalOutage,
    SignalBack,
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
    /// Faults `schedule_faults` drew, cut or not: the index `Config::cuts` names faults by.
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
    fn mark_attacked(&mut self, node: usize, conn: ConnId) {
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
}

impl Net {
    /// Cuts a link: both ends hear of it once they notice.
    fn cut(w: &mut World, a: usize, conn: ConnId, detect_ms_max: u64) {
        let Some(link) = w.net.links.remove(&(a, conn)) else { return };
        w.net.links.remove(&(link.node, link.conn));
        let (da, db) = (w.net.roll(detect_ms_max) + 1, w.net.roll(detect_ms_max) + 1);
        w.after(da, Ev::Closed { node: a, conn });
        w.after(db, Ev::Closed { node: link.node, conn: link.conn });
        // A cut end stays in the table as a marker until its node hears of the cut, so the
        // `Closed` is delivered while frames to it are not.
        w.net.links.insert((a, conn), Link { node: usize::MAX, conn: 0, last_at: u64::MAX, attacked: false });
        w.net
            .links
            .insert((link.node, link.conn), Link { node: usize::MAX, conn: 0, last_at: u64::MAX, attacked: false });
    }
}

/// Node `a` dials `addr` as `conn`.
pub fn connect(w: &mut World, a: usize, conn: ConnId, addr: &[u8]) {
    let target = node_of(addr).filter(|b| *b < w.nodes.len());
    let ok = target.filter(|b| w.nodes[*b].up && *b != a && w.net.reachable(a, *b));
    let Some(b) = ok else {
        let delay = if target.is_some_and(|b| w.nodes[b].up) { CONNECT_TIMEOUT_MS } else { 50 + w.net.roll(500) };
        return w.after(delay, Ev::ConnectFailed { node: a, conn });
    };
    let (l1, l2) = (w.net.latency(&w.cfg.faults), w.net.latency(&w.cfg.faults));
    let ready = w.now + l1 + l2;
    let remote = w.net.open(a, conn, b, ready);
    w.after(l1, Ev::Accepted { node: b, conn: remote });
    w.at(ready, Ev::Connected { node: a, conn });
    w.stats.connections += 1;
}

/// Node `a` sends `bytes` on `conn`.
pub fn transmit(w: &mut World, a: usize, conn: ConnId, bytes: Vec<u8>) {
    let Some(link) = w.net.peer_of(a, conn) else { return };
    if link.node == usize::MAX {
        return; // cut, not yet noticed
    }
    crate::adversary::observe(w, &bytes);
    if w.phase == crate::world::Phase::Safety && w.net.chance_ppm(w.cfg.faults.reset_ppm) {
        w.stats.fault("reset");
        return Net::cut(w, a, conn, 100);
    }
    if crate::adversary::confirm_drop::strikes(w, a, link.node, conn, &bytes) {
        return Net::cut(w, a, conn, 100);
    }
    let lat = w.net.latency(&w.cfg.faults);
    let Some(link) = w.net.schedule(a, conn, w.now + lat) else { return };
    let deliveries = crate::adversary::on_path(w, a, link.node, bytes);
    if !matches!(deliveries.as_slice(), [(_, _, Mark::Clean)]) {
        w.net.mark_attacked(a, conn);
    }
    for (extra, bytes, mark) in deliveries {
        let Some(link) = w.net.schedule(a, conn, w.now + lat + extra) else { return };
        crate::oracle::delivery::sent(w, a, link.node, link.last_at);
        crate::oracle::traffic::sent(w, a, link.node, bytes.len());
        w.at(link.last_at, Ev::Frame { node: link.node, conn: link.conn, bytes, mark });
    }
}

/// Node `a` closes `conn`: the other end hears of it after the frames already sent.
pub fn close(w: &mut World, a: usize, conn: ConnId) {
    let Some(link) = w.net.links.remove(&(a, conn)) else { return };
    if link.node == usize::MAX {
        return;
    }
    let lat = w.net.latency(&w.cfg.faults);
    let at = (w.now + lat).max(link.last_at);
    w.at(at, Ev::Closed { node: link.node, conn: link.conn });
}

/// A crashed node's connections vanish; the other ends notice after a while.
pub fn drop_node(w: &mut World, i: usize) {
    let mine: Vec<((usize, ConnId), Link)> = w.net.open_links().into_iter().filter(|((n, _), _)| *n == i).collect();
    for ((_, conn), link) in mine {
        w.net.links.remove(&(i, conn));
        if link.node != usize::MAX && w.net.links.remove(&(link.node, link.conn)).is_some() {
            w.net
                .links
                .insert((link.node, link.conn), Link { node: usize::MAX, conn: 0, last_at: u64::MAX, attacked: false });
            let d = 10 + w.net.roll(CUT_DETECT_MS_MAX);
            w.after(d, Ev::Closed { node: link.node, conn: link.conn });
        }
    }
}

/// Schedules the safety phase's faults, each kind as a Poisson process of its rate.
pub fn schedule_faults(w: &mut World) {
    let f = w.cfg.faults.clone();
    let end = w.heal_at;
    let kinds: [(u32, u8); 4] =
        [(f.partitions_per_min, 0), (f.crashes_per_min, 1), (f.clock_jumps_per_min, 2), (f.signal_outages_per_min, 3)];
    for (rate, kind) in kinds {
        if rate == 0 {
            continue;
        }
        let mut t = w.now;
        loop {
            t += 1 + w.net.roll(2 * 60_000 / u64::from(rate));
            if t >= end {
                break;
            }
            let n = w.nodes.len();
            let node = w.net.roll(n as u64) as usize;
            let fault = match kind {
                0 => Fault::Partition { id: 0 },
                1 => Fault::Crash { node },
                2 => Fault::ClockJump { node },
                _ => Fault::SignalOutage,
            };
            // A cut fault is still drawn, so deleting one leaves the others as they were.
            let k = w.net.faults_drawn;
            w.net.faults_drawn += 1;
            if !w.cfg.cuts.faults.contains(k) {
                w.at(t, Ev::Fault(fault));
            }
        }
    }
}

pub fn fault(w: &mut World, f: Fault) {
    if w.phase != crate::world::Phase::Safety {
        return; // healing has begun: late faults are void
    }
    match f {
        Fault::Partition { .. } => partition(w),
        Fault::PartitionHeal { id } => {
            w.net.heal(id);
            w.trace.line(w.now, usize::MAX, "partition-heal", format!("id={id}"));
        }
        Fault::Crash { node } => {
            // Half the crashes wait for the node's next group commit and strike before its
            // flush (BUGGIFY-style): the window where a driver that released early loses data.
            if w.nodes[node].fsync_at.is_none() && !w.nodes[node].crash_armed && w.net.roll(2) == 0 {
                w.nodes[node].crash_armed = true;
                return;
            }
            if w.nodes[node].is_honest() || w.nodes[node].kind == crate::world::Kind::Adversary {
                w.stats.fault("crash");
                w.crash(node);
                let down = 100 + w.net.roll(w.cfg.faults.crash_down_ms_max);
                w.after(down, Ev::Fault(Fault::Restart { node }));
            }
        }
        Fault::Restart { node } => w.restart(node),
        Fault::ClockJump { node } => {
            w.stats.fault("clock-jump");
            // Forward jumps mostly (NTP catching up, a laptop waking); small steps back too.
            let delta = if w.net.roll(4) == 0 { -(w.net.roll(2_000) as i64) } else { w.net.roll(120_000) as i64 };
            w.nodes[node].clock.jump(delta);
            w.trace.line(w.now, node, "clock-jump", format!("{delta}ms"));
        }
        Fault::SignalOutage => {
            w.stats.fault("signal-outage");
            w.trace.line(w.now, usize::MAX, "signal-down", String::new());
            w.server_down();
            let back = 100 + w.net.roll(w.cfg.faults.signal_outage_ms_max);
            w.after(back, Ev::Fault(Fault::SignalBack));
        }
        Fault::SignalBack => {
            w.trace.line(w.now, usize::MAX, "signal-up", String::new());
            w.server_restart();
        }
    }
}

/// Draws a partition: isolate one node, split in two (symmetric), one-way, or swizzle.
fn partition(w: &mut World) {
    let n = w.nodes.len();
    let mut pairs = BTreeSet::new();
    let kind = w.net.roll(4);
    match kind {
        0 => {
            let x = w.net.roll(n as u64) as usize;
            for y in 0..n {
                if y != x {
                    pairs.insert((x, y));
                    pairs.insert((y, x));
                }
            }
        }
        1 | 3 => {
            let side: Vec<bool> = (0..n).map(|_| w.net.roll(2) == 0).collect();
            for a in 0..n {
                for b in 0..n {
                    if side[a] != side[b] && (kind == 1 || side[a]) {
                        pairs.insert((a, b));
                    }
                }
            }
        }
        _ => {
            // Swizzle: a random subset, each cut from everyone.
            for x in 0..n {
                if w.net.roll(3) == 0 {
                    for y in 0..n {
                        if y != x {
                            pairs.insert((x, y));
                            pairs.insert((y, x));
                        }
                    }
                }
            }
        }
    }
    if pairs.is_empty() {
        return;
    }
    w.stats.fault("partition");
    let id = w.net.new_partition(pairs.clone());
    w.trace.line(w.now, usize::MAX, "partition", format!("id={id} pairs={}", pairs.len()));
    // Connections the partition crosses die; their ends notice after keep-alives fail.
    for ((a, conn), link) in w.net.open_links() {
        if link.node != usize::MAX
            && a < link.node
            && (pairs.contains(&(a, link.node)) || pairs.contains(&(link.node, a)))
        {
            Net::cut(w, a, conn, CUT_DETECT_MS_MAX);
        }
    }
    let dur = 500 + w.net.roll(w.cfg.faults.partition_ms_max);
    w.after(dur, Ev::Fault(Fault::PartitionHeal { id }));
}

/// A frame marked for delivery: what the on-path adversary returns.
pub type Delivery = (u64, Vec<u8>, Mark);
