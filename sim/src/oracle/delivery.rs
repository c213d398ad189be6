//! L3, delivery: once the world has healed and converged, a single write reaches every member
//! in sync with its writer at once, in the frames the write itself sends, not a round trip
//! later (SPEC §9.3.3 rule 2). Each space gets one probe write by a member that has links
//! carrying it; every member linked to the writer for that space (both ends carry it) must
//! hold the new entry once it has handled the frames the writer released with the write (its
//! durable step). The delay from the write to each arrival, in virtual milliseconds, is the
//! delivery latency the run's report shows (median and maximum over every writer and member).
//!
//! Why a count of hops and not a time bound: latency in the simulated network has tails
//! (`Faults::latency_tail_ms`), so three short hops can beat one long one; "arrived with the
//! write's own frames" is exact whatever the draw.

use std::collections::{BTreeMap, BTreeSet};

use spaces_protocol::peer::{Command, ConnId, SwarmLink};
use spaces_protocol::replication;
use spaces_protocol::{PublicKey, Role};

use crate::world::{Ev, Phase, World};

/// A probe that has not settled this long after its write failed: a write's frames leave
/// within one group commit and arrive within the network's latency, tails included (seconds).
pub const PROBE_DEADLINE_MS: u64 = 60_000;

/// The probes of one world: the spaces still to probe, and the one under way.
#[derive(Debug, Default)]
pub struct Delivery {
    /// `None` until the first probe starts.
    todo: Option<Vec<PublicKey>>,
    probe: Option<Probe>,
}

#[derive(Debug)]
struct Probe {
    space: PublicKey,
    writer: usize,
    written_at: u64,
    deadline: u64,
    /// The writer's feed the probe entry went to, and that feed's length with it.
    feed: PublicKey,
    len: u64,
    /// The writer's frames are still being released (behind the write's record).
    capturing: bool,
    /// Per member linked to the writer: the last arrival of the write's frames to it, and
    /// when it first held the entry.
    receivers: BTreeMap<usize, Receiver>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Receiver {
    due: Option<u64>,
    arrived: Option<u64>,
    judged: bool,
}

impl Delivery {
    /// Probes are under way: convergence and the liveness deadline wait for them.
    pub fn active(&self) -> bool {
        self.probe.is_some()
    }
}

/// Called once the healed world converged and passed its checks: starts the next probe, or
/// ends the world when every space was probed.
pub fn next(w: &mut World) {
    if w.oracle.violation.is_some() {
        return;
    }
    if w.oracle.delivery.todo.is_none() {
        let spaces: BTreeSet<PublicKey> = w.work.spaces.iter().map(|(s, _)| *s).collect();
        w.oracle.delivery.todo = Some(spaces.into_iter().rev().collect());
    }
    while let Some(space) = w.oracle.delivery.todo.as_mut().and_then(Vec::pop) {
        if start(w, space) {
            return;
        }
    }
    w.phase = Phase::Done;
}

/// The trusted, running nodes `writer` has a link with that carries `space` at both ends, over
/// a connection that is intact (a partition may have cut it, or the on-path attacker dropped a
/// frame of it, and neither end noticed yet: keep-alives, the next frame's failed decryption)
/// and on which everything the member sent has reached the writer. Otherwise the writer's
/// view of what the member holds is stale (a summary on a latency tail), and a pull round
/// trip is what the protocol owes (SPEC §9.3.3 rule 2 pushes only past a summary heard).
fn linked(w: &World, writer: usize, space: &PublicKey) -> Vec<usize> {
    linked_with(w, writer, space, true)
}

/// `linked`, and with `drained` false, whatever is still on its way from the member (the
/// write's own frames may be).
fn linked_with(w: &World, writer: usize, space: &PublicKey, drained: bool) -> Vec<usize> {
    let Some(p) = w.nodes[writer].peer.as_ref() else { return Vec::new() };
    let me = p.client().identity().noise_keypair().public();
    let remotes = p.swarm_links();
    let carries = |links: &[SwarmLink], remote, ok: &dyn Fn(ConnId) -> bool| {
        links.iter().any(|l| l.remote == remote && l.spaces.contains(space) && ok(l.conn))
    };
    // The writer must have heard the member's summary since its link carried the space: a
    // push goes only past one (rule 2). A summary the writer refused before it held the space
    // is no base (swarm seed 146: it joined the space an instant before the write).
    let knows = |remote| remotes.iter().any(|l| l.remote == remote && l.known.contains(space));
    w.honest()
        .filter(|j| *j != writer && w.trusted(*j) && w.nodes[*j].up)
        .filter(|j| {
            let Some(q) = w.nodes[*j].peer.as_ref() else { return false };
            // In sync means a member holding a replica and keeping it: a device that left
            // keeps its links until they end (SPEC §9.7 item 8), and one handing off before it
            // leaves drops the replica as soon as a summary shows its feeds held, which may be
            // the frame just ahead of the write's (faulty 581).
            if !is_member(q.client(), space) || q.is_leaving(space) {
                return false;
            }
            let key = q.client().identity().noise_keypair().public();
            let theirs = |conn| w.net.is_intact(*j, conn) && (!drained || w.net.is_drained(*j, conn, w.now));
            carries(&remotes, key, &|conn| w.net.is_intact(writer, conn))
                && carries(&q.swarm_links(), me, &theirs)
                && knows(key)
        })
        .collect()
}

/// A current member's device: not one its identity removed (SPEC §4.4 step 7), which writes
/// nowhere (faulty seed 664 picked one as the probe's writer).
fn is_member(c: &spaces_protocol::Client, space: &PublicKey) -> bool {
    if c.standing(space) == Ok(spaces_protocol::space::Standing::Removed) {
        return false;
    }
    let me = c.identity_key();
    c.members(space).is_ok_and(|ms| ms.iter().any(|m| m.identity == me && m.role != Role::Removed))
}

/// A member that may write and keeps its replica: one leaving refuses writes (`Left`; hostile
/// seed 967 picked such a writer).
fn can_write(w: &World, i: usize, space: &PublicKey) -> bool {
    let Some(p) = w.nodes[i].peer.as_ref() else { return false };
    if p.is_leaving(space) {
        return false;
    }
    let c = p.client();
    let me = c.identity_key();
    is_member(c, space)
        && c.members(space).is_ok_and(|ms| ms.iter().any(|m| m.identity == me && Role::can_write(m.role)))
}

fn length(w: &World, i: usize, space: &PublicKey, feed: &PublicKey) -> u64 {
    let Some(sp) = w.nodes[i].peer.as_ref().and_then(|p| p.client().space(space)) else { return 0 };
    replication::have(sp).iter().find(|p| p.feed == *feed).map_or(0, |p| p.length)
}

/// Writes the probe of `space` from the first trusted member that can write and has linked
/// members; false if no such member exists.
fn start(w: &mut World, space: PublicKey) -> bool {
    let writer = w
        .honest()
        .filter(|i| w.trusted(*i) && w.nodes[*i].up && can_write(w, *i, &space))
        .find(|i| !linked(w, *i, &space).is_empty());
    let Some(writer) = writer else { return false };
    let receivers = linked(w, writer, &space).into_iter().map(|j| (j, Receiver::default())).collect();
    let before: Vec<_> =
        w.nodes[writer].peer.as_ref().and_then(|p| p.client().space(&space)).map(replication::have).unwrap_or_default();
    let ops = crate::workload::ops_for(w, writer, space);
    let command = Command::Write { space, ops };
    w.oracle.delivery.probe = Some(Probe {
        space,
        writer,
        written_at: w.now,
        deadline: w.now + PROBE_DEADLINE_MS,
        feed: PublicKey::default(),
        len: 0,
        capturing: true,
        receivers,
    });
    w.after(PROBE_DEADLINE_MS, Ev::DeliveryDue { node: usize::MAX });
    w.trace.line(w.now, writer, "command", crate::trace::command_summary(&command));
    w.command(writer, &command);
    let after: Vec<_> =
        w.nodes[writer].peer.as_ref().and_then(|p| p.client().space(&space)).map(replication::have).unwrap_or_default();
    let grown = after.iter().find(|a| !before.iter().any(|b| b.feed == a.feed && b.length >= a.length));
    let Some(grown) = grown.copied() else {
        w.fail("L3", format!("node {writer}'s probe write to space {} appended nothing", super::short(&space)));
        return true;
    };
    let probe = w.oracle.delivery.probe.as_mut().expect("set above");
    probe.feed = grown.feed;
    probe.len = grown.length;
    if w.nodes[writer].peer.as_ref().is_some_and(|p| p.held_outputs() == 0) {
        released(w, writer);
    }
    true
}

/// Node `from` scheduled a frame to node `to` arriving at `at` (every transmit reports here).
pub fn sent(w: &mut World, from: usize, to: usize, at: u64) {
    let Some(p) = w.oracle.delivery.probe.as_mut() else { return };
    if !p.capturing || p.writer != from {
        return;
    }
    if let Some(r) = p.receivers.get_mut(&to) {
        r.due = Some(r.due.map_or(at, |d| d.max(at)));
    }
}

/// Node `i`'s outputs of a durable step went out: if it is the writer, the write's frames are
/// all on their way, and each member is judged once the last of them reached it.
pub fn released(w: &mut World, i: usize) {
    let Some(p) = w.oracle.delivery.probe.as_mut() else { return };
    if !p.capturing || p.writer != i {
        return;
    }
    p.capturing = false;
    let (space, writer) = (p.space, p.writer);
    let dues: Vec<(usize, Option<u64>)> = p.receivers.iter().map(|(j, r)| (*j, r.due)).collect();
    for (j, due) in dues {
        match due {
            Some(at) => w.at(at, Ev::DeliveryDue { node: j }),
            None => {
                return w.fail(
                    "L3",
                    format!(
                        "node {writer} wrote to space {} and sent node {j}, linked and in sync, nothing with it",
                        super::short(&space)
                    ),
                );
            }
        }
    }
    settle(w);
}

/// Node `i` handled a frame: note when it first holds the probe entry.
pub fn frame(w: &mut World, i: usize) {
    let Some(p) = w.oracle.delivery.probe.as_ref() else { return };
    if p.receivers.get(&i).is_none_or(|r| r.arrived.is_some()) {
        return;
    }
    let (space, feed, len) = (p.space, p.feed, p.len);
    if length(w, i, &space, &feed) >= len {
        let now = w.now;
        if let Some(r) = w.oracle.delivery.probe.as_mut().and_then(|p| p.receivers.get_mut(&i)) {
            r.arrived = Some(now);
        }
    }
}

/// The last of the write's frames reached node `i`: it must hold the entry now. (`usize::MAX`:
/// a probe's deadline.)
pub fn due(w: &mut World, i: usize) {
    if i == usize::MAX {
        return deadline(w);
    }
    frame(w, i);
    let Some(p) = w.oracle.delivery.probe.as_ref() else { return };
    let (space, writer) = (p.space, p.writer);
    // The link ended while the frames were on their way (the member's idle deadline passed
    // after its clock jumped forward, faulty 1538): they went nowhere, and its reconnect
    // pulls the write. Not judged.
    let ended = !linked_with(w, writer, &space, false).contains(&i);
    let Some(p) = w.oracle.delivery.probe.as_mut() else { return };
    let Some(r) = p.receivers.get_mut(&i) else { return };
    r.judged = true;
    if r.arrived.is_none() && !ended {
        return w.fail(
            "L3",
            format!(
                "node {i}, linked to node {writer} and in sync, handled the frames of its write to space {} \
                 yet lacks the entry: a write that waits for a round trip (or never comes)",
                super::short(&space)
            ),
        );
    }
    settle(w);
}

/// A probe still unsettled at its deadline: its write's frames never left the writer, or
/// never reached a member.
fn deadline(w: &mut World) {
    let Some(p) = w.oracle.delivery.probe.as_ref() else { return };
    if w.now < p.deadline {
        return; // An earlier probe's deadline.
    }
    let waiting: Vec<usize> = p.receivers.iter().filter(|(_, r)| !r.judged).map(|(j, _)| *j).collect();
    let what = if p.capturing { "its frames were never released" } else { "not every member was reached" };
    let detail = format!(
        "node {}'s write to space {} did not settle in {PROBE_DEADLINE_MS} ms: {what} (waiting for {waiting:?})",
        p.writer,
        super::short(&p.space)
    );
    w.fail("L3", detail);
}

/// Once every member is judged: the latencies go to the report, and the next probe starts.
fn settle(w: &mut World) {
    let Some(p) = w.oracle.delivery.probe.as_ref() else { return };
    if p.capturing || !p.receivers.values().all(|r| r.judged) {
        return;
    }
    let p = w.oracle.delivery.probe.take().expect("checked above");
    // A member judged without the entry is one whose link ended on the way (`due`).
    for arrived in p.receivers.values().filter_map(|r| r.arrived) {
        *w.stats.delivery_ms.entry(arrived - p.written_at).or_default() += 1;
    }
    next(w);
}
