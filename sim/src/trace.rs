//! The run's record: a JSON-lines trace of every event (kept only when asked for), a
//! running hash of it (always, for the determinism check), the last lines (for violation
//! reports) and counters for the summary table.
//!
//! Every line is also a `tracing` event in a span named after the node, so the same
//! instrumentation serves logs in a real node.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use spaces_protocol::invitation::guest::GuestEvent;
use spaces_protocol::invitation::host::HostEvent;
use spaces_protocol::peer::{Command, Event};
use spaces_protocol::signal::client::SignalEvent;

/// Lines kept for a violation report.
pub const RECENT_MAX: usize = 40;

#[derive(Default)]
pub struct Trace {
    hash: Sha256,
    recent: VecDeque<String>,
    /// Every line, when the caller asked for the trace.
    pub keep: Option<Vec<String>>,
    pub lines: u64,
}

#[derive(Serialize)]
struct Line<'a> {
    t: u64,
    node: Option<usize>,
    ev: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    what: &'a str,
}

impl Trace {
    pub fn new(keep: bool) -> Self {
        Trace { keep: keep.then(Vec::new), ..Trace::default() }
    }

    /// Records one event at global time `t` (ms since the world's epoch).
    pub fn line(&mut self, t: u64, node: usize, ev: &str, what: String) {
        let t = t - crate::clock::EPOCH_MS;
        let node = (node != usize::MAX).then_some(node);
        let text = serde_json::to_string(&Line { t, node, ev, what: &what }).expect("a line serialises");
        let span = tracing::debug_span!("node", id = node.map_or(-1, |n| n as i64));
        span.in_scope(|| tracing::debug!(t, ev, what = %what));
        self.hash.update(text.as_bytes());
        self.hash.update(b"\n");
        self.lines += 1;
        if self.recent.len() == RECENT_MAX {
            self.recent.pop_front();
        }
        if let Some(keep) = &mut self.keep {
            keep.push(text.clone());
        }
        self.recent.push_back(text);
    }

    pub fn recent(&self) -> Vec<String> {
        self.recent.iter().cloned().collect()
    }

    /// The hash of every line so far: equal for two runs iff their traces are.
    pub fn digest(&self) -> String {
        hex::encode(self.hash.clone().finalize())
    }
}

/// Counters for the summary table.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Stats {
    pub events: u64,
    pub virtual_ms: u64,
    pub connections: u64,
    /// Invitation outcomes as guests saw them (SUCCESS, ERROR, CANCELLED, TIMEOUT, EXPIRED).
    pub invitations: BTreeMap<String, u64>,
    pub faults: BTreeMap<String, u64>,
    /// Attacks the adversary tried, by kind.
    pub attacks: BTreeMap<String, u64>,
    /// Of those, how many the receiver visibly refused (closed, rejected, ignored).
    pub refused: u64,
    pub items_written: u64,
    pub members_max: u64,
    /// Offers whose success L2 owed (and checked).
    pub owed_successes: u64,
    /// Delivery latency after converging (L3): virtual ms from a probe write to each member
    /// in sync with its writer holding it, as a histogram (ms -> count), so merging is exact.
    #[serde(default)]
    pub delivery_ms: BTreeMap<u64, u64>,
    /// The most bytes one trusted device sent another within one R3 window (`oracle::traffic`).
    #[serde(default)]
    pub link_bytes_window_max: u64,
    /// `RemoveDevice` commands the users gave (`Config::device_removal`).
    #[serde(default)]
    pub devices_removed: u64,
}

impl Stats {
    pub fn fault(&mut self, kind: &str) {
        *self.faults.entry(kind.to_string()).or_default() += 1;
    }

    pub fn attack(&mut self, kind: &str) {
        *self.attacks.entry(kind.to_string()).or_default() += 1;
    }

    pub fn outcome(&mut self, kind: &str) {
        *self.invitations.entry(kind.to_string()).or_default() += 1;
    }

    pub fn merge(&mut self, o: &Stats) {
        self.events += o.events;
        self.virtual_ms += o.virtual_ms;
        self.connections += o.connections;
        self.refused += o.refused;
        self.items_written += o.items_written;
        self.devices_removed += o.devices_removed;
        self.members_max = self.members_max.max(o.members_max);
        self.link_bytes_window_max = self.link_bytes_window_max.max(o.link_bytes_window_max);
        self.owed_successes += o.owed_successes;
        for (k, v) in &o.invitations {
            *self.invitations.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.faults {
            *self.faults.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.attacks {
            *self.attacks.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.delivery_ms {
            *self.delivery_ms.entry(*k).or_default() += v;
        }
    }
}

/// A command in a few words, never with a secret in it (traces are published).
pub fn command_summary(c: &Command) -> String {
    match c {
        Command::CreateSpace => "create-space".into(),
        Command::CreateInvitation { space, auth, role, use_limit, lifetime_ms, .. } => format!(
            "invite space={} auth={} role={} uses={use_limit} lifetime={lifetime_ms}ms",
            space.map_or("-".into(), |s| short(&s.0)),
            auth.name(),
            role.name()
        ),
        Command::DelegateInvitation { space, auth, role, use_limit, lifetime_ms, .. } => format!(
            "delegate space={} auth={} role={} uses={use_limit} lifetime={lifetime_ms}ms",
            short(&space.0),
            auth.name(),
            role.name()
        ),
        Command::CancelInvitation { id } => format!("cancel-invitation {}", short(id)),
        Command::AcceptInvitation { code } => format!("accept {}", short(&code.id)),
        Command::Authenticate { id, .. } => format!("authenticate {}", short(id)),
        Command::CancelAccept { id } => format!("cancel-accept {}", short(id)),
        Command::SetRole { member, role, .. } => format!("set-role {} {}", short(&member.0), role.name()),
        Command::Write { ops, .. } => format!("write {} ops", ops.len()),
        Command::Leave { space } => format!("leave {}", short(&space.0)),
        Command::RemoveDevice { device } => format!("remove-device {}", short(&device.0)),
    }
}

/// An event in a few words, never with a secret in it.
pub fn event_summary(e: &Event) -> String {
    match e {
        Event::SpaceCreated { space } => format!("space-created {}", short(&space.0)),
        Event::InvitationCreated { id, code, .. } => {
            format!("invitation-created {} {} {}", short(id), code.kind.name(), code.auth.name())
        }
        Event::Hosting { id, event } => match event {
            HostEvent::State(s) => format!("host {} {}", short(id), s.name()),
            HostEvent::Admitted { guest, .. } => format!("host {} admitted {}", short(id), short(&guest.0)),
            HostEvent::AttemptFailed { attempts_left } => format!("host {} wrong-pin left={attempts_left}", short(id)),
            HostEvent::SessionFailed { reason, .. } => format!("host {} session-failed {reason:?}", short(id)),
        },
        Event::Joining { id, event } => match event {
            GuestEvent::State(s) => format!("guest {} {}", short(id), s.name()),
            GuestEvent::WrongPin { attempts_left } => format!("guest {} wrong-pin left={attempts_left}", short(id)),
            GuestEvent::Admitted(_) => format!("guest {} admitted", short(id)),
            GuestEvent::Failed(r) => format!("guest {} failed {r:?}", short(id)),
        },
        Event::Joined { space } => format!("joined {}", short(&space.0)),
        Event::Linked { identity } => format!("linked {}", short(&identity.0)),
        Event::Changed { space } => format!("changed {}", short(&space.0)),
        Event::Removed { space } => format!("removed {}", short(&space.0)),
        Event::Refused { conn, .. } => format!("refused conn={conn}"),
        Event::Signal(s) => match s {
            SignalEvent::PeerAppeared { topic, info } => {
                format!("signal appeared {} {}", short(&topic.0), short(&info.peer.0))
            }
            SignalEvent::PeerGone { topic, peer } => format!("signal gone {} {}", short(&topic.0), short(&peer.0)),
            SignalEvent::Relayed { topic, .. } => format!("signal relayed {}", short(&topic.0)),
            SignalEvent::Error(e, _) => format!("signal error {e}"),
        },
    }
}

pub fn short(b: &[u8]) -> String {
    hex::encode(&b[..b.len().min(4)])
}
