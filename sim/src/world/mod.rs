//! The world: virtual time, the event queue, the nodes and the signaling server, and the
//! loop that moves bytes between them. The network (`net`) and the fault draws (`faults`)
//! know nothing of the world; the world composes them (`transport`, `faults`) with the
//! adversary and the oracle, which still read it (`workload`, `adversary`, `oracle`).
//!
//! One event at a time, in `(time, sequence)` order; virtual time jumps to the next event.
//! Every random choice comes from one of the world's seeded streams, so a `Config` fixes the
//! run bit for bit.

use std::collections::BTreeMap;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use spaces_protocol::peer::{Command, ConnId, Input, Output, Peer, Record};
use spaces_protocol::signal::Source;
use spaces_protocol::signal::client::ClientInput;
use spaces_protocol::signal::server::{ServerInput, ServerOutput, SignalServer};
use spaces_protocol::signal::{ClientId, SignalLimits};
use spaces_protocol::{Client, Timestamp};

use crate::clock::{Clock, EPOCH_MS};
use crate::config::Config;
use crate::oracle::{Oracle, Violation};
use crate::trace::{Stats, Trace};
use crate::workload::Workload;

mod crash;
mod drive;
mod faults;
mod signaling;
mod transport;

pub use crate::net::Mark;
pub use crate::node::{Durable, Kind, Node, Pending, addr_of, node_of};

/// Events one world may take: far above any healthy run, a bound on a runaway one.
const EVENTS_MAX: u64 = 3_000_000;

/// Wake-ups in a row at one instant before a node counts as busy-looping.
const SPINS_MAX: u32 = 1_000;

/// Records a node's log holds before its driver compacts it into one snapshot at a flush.
const LOG_RECORDS_MAX: usize = 256;

/// Everything that can happen, scheduled at a global time.
#[derive(Debug, Clone)]
pub enum Ev {
    Timer {
        node: usize,
        epoch: u64,
    },
    Fsync {
        node: usize,
        epoch: u64,
    },
    ServerTimer,
    ToServer {
        client: ClientId,
        bytes: Vec<u8>,
    },
    FromServer {
        node: usize,
        client: ClientId,
        bytes: Vec<u8>,
    },
    SignalUp {
        node: usize,
    },
    Connected {
        node: usize,
        conn: ConnId,
    },
    ConnectFailed {
        node: usize,
        conn: ConnId,
    },
    Accepted {
        node: usize,
        conn: ConnId,
    },
    Frame {
        node: usize,
        conn: ConnId,
        bytes: Vec<u8>,
        mark: Mark,
    },
    Closed {
        node: usize,
        conn: ConnId,
    },
    Command {
        node: usize,
        command: Command,
    },
    /// The workload picks its next user action.
    Act,
    /// A code (and maybe a PIN) reaches a guest over the side channel.
    Offer {
        node: usize,
        offer: usize,
    },
    Fault(crate::faults::Fault),
    Attack(crate::adversary::Attack),
    Heal,
    Check,
    /// The last frame a probe write sent `node` has arrived (`oracle::delivery`).
    DeliveryDue {
        node: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Workload, faults and attacks.
    Safety,
    /// Healed; waiting for every invitation to end and replicas to agree.
    Liveness,
    Done,
}

pub struct World {
    pub cfg: Config,
    pub now: u64,
    queue: BTreeMap<(u64, u64), Ev>,
    seq: u64,
    pub nodes: Vec<Node>,
    pub server: SignalServer,
    pub server_up: bool,
    pub server_timer: Option<u64>,
    /// Signaling connections: which node (if any: the adversary opens some) owns each, and
    /// the source address the server is told it comes from.
    pub signal_clients: BTreeMap<ClientId, SignalConn>,
    next_client: u64,
    pub net: crate::net::Net,
    pub work: Workload,
    pub oracle: Oracle,
    pub stats: Stats,
    pub trace: Trace,
    pub adversary: crate::adversary::Adversary,
    pub phase: Phase,
    pub heal_at: u64,
    pub rng_fault: ChaCha20Rng,
    pub rng_adv: ChaCha20Rng,
    pub rng_work: ChaCha20Rng,
    rng_seed: ChaCha20Rng,
    /// Extra delay before a node's outputs are released (its disk's group commit).
    pub fsync_ms: u64,
}

/// One signaling connection as the simulator knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalConn {
    /// The node whose device holds it, or `None` for the adversary's.
    pub owner: Option<usize>,
    /// Its source address (honest node `i` is source `i`; see `ADVERSARY_SOURCE`).
    pub source: u64,
}

/// The source of the adversary's own signaling connections (the relay's, the junk sender's);
/// the signaling flooder spreads over sources above it.
pub const ADVERSARY_SOURCE: u64 = 1 << 32;

impl World {
    pub fn new(cfg: Config) -> Self {
        Self::new_with_trace(cfg, false)
    }

    /// A world whose trace keeps every line when `keep` is set.
    pub fn new_with_trace(cfg: Config, keep: bool) -> Self {
        let mut master = ChaCha20Rng::seed_from_u64(cfg.seed);
        let mut stream = |tag: u64| {
            let mut s = [0u8; 32];
            master.fill_bytes(&mut s);
            s[0] ^= tag as u8;
            ChaCha20Rng::from_seed(s)
        };
        let (rng_net, rng_fault, rng_adv, rng_work, mut rng_seed) =
            (stream(1), stream(2), stream(3), stream(4), stream(5));
        let fsync_ms = 1 + rng_seed.next_u64() % 20;
        let mut w = World {
            now: EPOCH_MS,
            queue: BTreeMap::new(),
            seq: 0,
            nodes: Vec::new(),
            server: SignalServer::new(SignalLimits::default()),
            server_up: true,
            server_timer: None,
            signal_clients: BTreeMap::new(),
            next_client: 1,
            net: crate::net::Net::new(rng_net),
            work: Workload::default(),
            oracle: Oracle::default(),
            stats: Stats::default(),
            trace: Trace::new(keep),
            adversary: crate::adversary::Adversary::default(),
            phase: Phase::Safety,
            heal_at: EPOCH_MS + cfg.safety_ms,
            rng_fault,
            rng_adv,
            rng_work,
            rng_seed,
            fsync_ms,
            cfg,
        };
        w.populate();
        w
    }

    fn populate(&mut self) {
        let honest = self.cfg.peers;
        for i in 0..honest {
            let kind = if i >= honest - self.cfg.blank_devices { Kind::Blank } else { Kind::Honest };
            self.add_node(kind);
        }
        if self.cfg.adversaries.any() {
            self.add_node(Kind::Adversary);
            self.add_node(Kind::Flooder);
        }
        self.signal_reconnect_all();
        crate::workload::start(self);
        self.schedule_faults();
        crate::adversary::start(self);
        let heal = self.heal_at;
        self.at(heal, Ev::Heal);
        self.at(self.now + crate::oracle::CHECK_INTERVAL_MS, Ev::Check);
    }

    fn add_node(&mut self, kind: Kind) {
        let i = self.nodes.len();
        let f = &self.cfg.faults;
        let skew = if f.skew_ms_max == 0 { 0 } else { (self.rng_seed.next_u64() % (2 * f.skew_ms_max)) as i64 };
        let drift =
            if f.drift_ppm_max == 0 { 0 } else { (self.rng_seed.next_u64() % (2 * f.drift_ppm_max as u64)) as i64 };
        let clock = Clock::new(skew - f.skew_ms_max as i64, drift - f.drift_ppm_max as i64);
        let now = Timestamp::from_millis(clock.local(self.now));
        let mut durable = Durable::default();
        let peer = (kind != Kind::Flooder).then(|| {
            let client = Client::create_identity(&mut self.rng_seed, now);
            let mut peer = Peer::new(client, addr_of(i), now, &mut self.rng_seed);
            // Provisioning: the device's first record (its keys) is on disk before it starts.
            while let Some(o) = peer.poll_output() {
                if let Output::Persist { seq, records } = o {
                    durable.log.extend(records);
                    peer.handle_input(Input::Durable { seq }, now);
                }
            }
            peer
        });
        self.nodes.push(Node {
            kind,
            peer,
            clock,
            addr: addr_of(i),
            durable,
            pending: Pending::default(),
            fsync_at: None,
            timer_gen: 0,
            timer_at: None,
            signal: None,
            up: true,
            acked: BTreeMap::new(),
            deciding: None,
            spins: 0,
            crash_armed: false,
        });
    }

    // ----- the queue -----

    pub fn at(&mut self, t: u64, ev: Ev) {
        self.seq += 1;
        self.queue.insert((t.max(self.now), self.seq), ev);
    }

    pub fn after(&mut self, ms: u64, ev: Ev) {
        self.at(self.now + ms, ev);
    }

    /// Runs the world to its end: the safety phase, healing, then the liveness phase.
    pub fn run(&mut self) {
        while self.phase != Phase::Done && self.oracle.violation.is_none() {
            let Some(((t, _), ev)) = self.queue.pop_first() else {
                self.fail("L1", "the world ran out of events before converging".into());
                break;
            };
            debug_assert!(t >= self.now, "time never runs backwards");
            self.now = t;
            self.stats.events += 1;
            if self.stats.events > EVENTS_MAX {
                self.fail("L1", format!("the world did not settle within {EVENTS_MAX} events"));
                break;
            }
            self.handle(ev);
        }
        self.stats.virtual_ms = self.now - EPOCH_MS;
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Timer { node, epoch } => {
                if self.nodes[node].timer_gen == epoch && self.nodes[node].up {
                    self.nodes[node].timer_at = None;
                    self.trace.line(self.now, node, "timer", String::new());
                    self.input(node, Input::Timeout, Mark::Clean);
                }
            }
            Ev::Fsync { node, epoch } => self.fsync(node, epoch),
            Ev::ServerTimer => {
                self.server_timer = None;
                if self.server_up {
                    self.server.handle_input(ServerInput::Timeout, self.ts(self.now));
                    self.drain_server();
                }
            }
            Ev::ToServer { client, bytes } => self.server_frame(client, bytes),
            Ev::FromServer { node, client, bytes } => {
                if self.nodes[node].up && self.nodes[node].signal == Some(client) {
                    self.trace.line(self.now, node, "signal-in", format!("{}B", bytes.len()));
                    self.input(node, Input::Signal(ClientInput::Frame { bytes: &bytes }), Mark::Clean);
                }
            }
            Ev::SignalUp { node } => self.connect_signal(node),
            Ev::Connected { node, conn } => {
                if self.net.is_open(node, conn) {
                    self.trace.line(self.now, node, "connected", format!("conn={conn}"));
                    self.input(node, Input::Connected { conn }, Mark::Clean);
                }
            }
            Ev::ConnectFailed { node, conn } => {
                self.trace.line(self.now, node, "connect-failed", format!("conn={conn}"));
                self.input(node, Input::ConnectFailed { conn }, Mark::Clean);
            }
            Ev::Accepted { node, conn } => {
                if self.net.is_open(node, conn) {
                    self.trace.line(self.now, node, "accepted", format!("conn={conn}"));
                    self.input(node, Input::Accepted { conn }, Mark::Clean);
                }
            }
            Ev::Frame { node, conn, bytes, mark } => {
                if self.net.is_open(node, conn) {
                    let from = self.net.peer_of(node, conn).map_or(usize::MAX, |l| l.node);
                    self.trace.line(
                        self.now,
                        node,
                        "frame",
                        format!("from={from} conn={conn} {}B {mark:?}", bytes.len()),
                    );
                    self.input(node, Input::Frame { conn, bytes: &bytes }, mark);
                    crate::oracle::delivery::frame(self, node);
                }
            }
            Ev::Closed { node, conn } => {
                if self.net.close_end(node, conn) {
                    self.trace.line(self.now, node, "closed", format!("conn={conn}"));
                    self.input(node, Input::Closed { conn }, Mark::Clean);
                }
            }
            Ev::Command { node, command } => {
                if !self.nodes[node].up {
                    return;
                }
                self.trace.line(self.now, node, "command", crate::trace::command_summary(&command));
                crate::oracle::command(self, node, &command);
                if self.nodes[node].is_honest() {
                    crate::adversary::rejoin::command(self, &command);
                }
                self.command(node, &command);
            }
            Ev::Act => crate::workload::act(self),
            Ev::Offer { node, offer } => crate::workload::offer(self, node, offer),
            Ev::Fault(f) => self.fault(f),
            Ev::Attack(a) => crate::adversary::attack(self, a),
            Ev::Heal => self.heal(),
            Ev::Check => crate::oracle::check(self),
            Ev::DeliveryDue { node } => crate::oracle::delivery::due(self, node),
        }
    }

    /// The node's local time at global `t`.
    pub fn local(&self, node: usize, t: u64) -> Timestamp {
        Timestamp::from_millis(self.nodes[node].clock.local(t))
    }

    fn ts(&self, t: u64) -> Timestamp {
        Timestamp::from_millis(t)
    }

    // ----- phases -----

    /// Faults stop, partitions heal, crashed nodes restart, the adversary goes quiet.
    fn heal(&mut self) {
        if self.phase != Phase::Safety {
            // The liveness deadline.
            return crate::oracle::liveness_deadline(self);
        }
        self.phase = Phase::Liveness;
        self.trace.line(self.now, usize::MAX, "heal", String::new());
        self.net.heal_all();
        self.server_restart();
        for i in 0..self.nodes.len() {
            self.restart(i);
        }
        self.signal_reconnect_all();
        let deadline = self.now + self.cfg.liveness_ms;
        self.at(deadline, Ev::Heal);
    }

    /// Every device with a signaling client that is up and not connected reconnects.
    fn signal_reconnect_all(&mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].kind != Kind::Flooder {
                self.connect_signal(i);
            }
        }
    }

    pub fn fail(&mut self, invariant: &'static str, detail: String) {
        if self.oracle.violation.is_none() {
            self.oracle.violation =
                Some(Violation { invariant, detail, at_ms: self.now - EPOCH_MS, last_events: self.trace.recent() });
        }
        self.phase = Phase::Done;
    }

    pub fn honest(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|i| self.nodes[*i].is_honest())
    }

    /// Nodes whose replicas must agree and whose events the oracle trusts: honest, and not
    /// the insider.
    pub fn trusted(&self, i: usize) -> bool {
        self.nodes[i].is_honest() && self.work.insider != Some(i)
    }
}
