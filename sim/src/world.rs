//! The world: virtual time, the event queue, the nodes and the signaling server, and the
//! loop that moves bytes between them. Everything else (`net`, `workload`, `adversary`,
//! `oracle`) is an `impl World` block of its own concern.
//!
//! One event at a time, in `(time, sequence)` order; virtual time jumps to the next event.
//! Every random choice comes from one of the world's seeded streams, so a `Config` fixes the
//! run bit for bit.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

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

/// Events one world may take: far above any healthy run, a bound on a runaway one.
const EVENTS_MAX: u64 = 3_000_000;

/// Wake-ups in a row at one instant before a node counts as busy-looping.
const SPINS_MAX: u32 = 1_000;

/// Records a node's log holds before its driver compacts it into one snapshot at a flush.
const LOG_RECORDS_MAX: usize = 256;

impl Node {
    pub fn is_honest(&self) -> bool {
        matches!(self.kind, Kind::Honest | Kind::Blank)
    }
}

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
    Fault(crate::net::Fault),
    Attack(crate::adversary::Attack),
    Heal,
    Check,
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

/// Node `i`'s transport address.
pub fn addr_of(i: usize) -> Vec<u8> {
    format!("sim://node/{i}").into_bytes()
}

pub fn node_of(addr: &[u8]) -> Option<usize> {
    std::str::from_utf8(addr).ok()?.strip_prefix("sim://node/")?.parse().ok()
}

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
        crate::net::schedule_faults(self);
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
                self.input(node, Input::Command(&command), Mark::Clean);
            }
            Ev::Act => crate::workload::act(self),
            Ev::Offer { node, offer } => crate::workload::offer(self, node, offer),
            Ev::Fault(f) => crate::net::fault(self, f),
            Ev::Attack(a) => crate::adversary::attack(self, a),
            Ev::Heal => self.heal(),
            Ev::Check => crate::oracle::check(self),
        }
    }

    /// The node's local time at global `t`.
    pub fn local(&self, node: usize, t: u64) -> Timestamp {
        Timestamp::from_millis(self.nodes[node].clock.local(t))
    }

    fn ts(&self, t: u64) -> Timestamp {
        Timestamp::from_millis(t)
    }

    // ----- a node's IO -----

    /// Feeds one input to node `i`: the driver loop. Records go to the disk's write buffer
    /// (flushed by the group commit), everything else the Peer released goes out at once.
    pub fn input(&mut self, i: usize, input: Input<'_>, mark: Mark) {
        if let (Input::Frame { .. }, Mark::Attacked) = (input, mark) {
            crate::oracle::honest_success::attacked(self, i);
        }
        let Some(released) = self.drive(i, input) else { return };
        if let Input::Frame { conn, .. } = input {
            let held = self.nodes[i].peer.as_ref().is_some_and(|p| p.held_outputs() > 0);
            let closed = released.iter().any(|o| matches!(o, Output::Close { conn: c } if *c == conn));
            if held && !closed && mark != Mark::Clean {
                // The answer is behind a record not yet durable: judged when it is released.
                self.nodes[i].pending.checks.push((conn, mark));
            } else {
                crate::oracle::frame_handled(self, i, conn, mark, &released);
            }
        }
        if self.nodes[i].fsync_at.is_some() && std::mem::take(&mut self.nodes[i].crash_armed) {
            self.at(self.now, Ev::Fault(crate::net::Fault::Crash { node: i }));
        }
    }

    /// `handle_input`, then every output drained and acted on; what left the node, or `None`
    /// if the node is down (or panicked, which fails the run).
    fn drive(&mut self, i: usize, input: Input<'_>) -> Option<Vec<Output>> {
        if !self.nodes[i].up {
            return None;
        }
        let now = self.local(i, self.now);
        let Some(peer) = self.nodes[i].peer.as_mut() else {
            crate::adversary::flooder_input(self, i, input);
            return None;
        };
        let result = catch_unwind(AssertUnwindSafe(|| {
            peer.handle_input(input, now);
            let mut outs = Vec::new();
            while let Some(o) = peer.poll_output() {
                outs.push(o);
            }
            outs
        }));
        let outs = match result {
            Ok(outs) => outs,
            Err(p) => {
                let what =
                    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
                self.fail("panic", format!("node {i} panicked on {input:?}: {}", what.unwrap_or_default()));
                return None;
            }
        };
        self.reschedule_timer(i);
        Some(self.outputs(i, outs))
    }

    /// Acts on node `i`'s outputs in order; returns those that left the node (not `Persist`).
    fn outputs(&mut self, i: usize, outs: Vec<Output>) -> Vec<Output> {
        let mut released = Vec::new();
        let mut ack = None;
        for o in outs {
            match o {
                Output::Persist { seq, records } => ack = self.persist(i, seq, records).or(ack),
                Output::Timeout(_) => {}
                Output::Event(e) => {
                    self.trace.line(self.now, i, "event", crate::trace::event_summary(&e));
                    crate::oracle::event(self, i, &e);
                    crate::workload::event(self, i, &e);
                    crate::adversary::late_guess::event(self, i, &e);
                    crate::oracle::released(self, i, &e);
                    released.push(Output::Event(e));
                }
                other => {
                    self.release(i, other.clone());
                    released.push(other);
                }
            }
        }
        if let Some(seq) = ack {
            // The planted driver bug: it reports the records durable before the flush.
            released.extend(self.drive(i, Input::Durable { seq }).unwrap_or_default());
        }
        released
    }

    /// Puts records in the disk's write buffer and starts a group commit unless one is on
    /// its way. Returns the `seq` to report durable at once: only under the planted bug.
    fn persist(&mut self, i: usize, seq: u64, records: Vec<Record>) -> Option<u64> {
        let acked = self.nodes[i].peer.as_ref().map(|p| crate::oracle::owed(p.client())).unwrap_or_default();
        let early = crate::mutant::release_before_durable();
        let local = self.local(i, self.now);
        let node = &mut self.nodes[i];
        node.pending.since.get_or_insert(local);
        node.pending.records.extend(records);
        node.pending.seq = Some(seq);
        if early {
            node.acked = acked.clone();
        }
        node.pending.acked = acked;
        if node.fsync_at.is_none() {
            node.pending.epoch += 1;
            let (epoch, at) = (node.pending.epoch, self.now + self.fsync_ms);
            node.fsync_at = Some(at);
            self.at(at, Ev::Fsync { node: i, epoch });
        }
        early.then_some(seq)
    }

    /// The group commit reached disk: the records are durable, the driver says so, and the
    /// Peer releases what followed them.
    fn fsync(&mut self, i: usize, epoch: u64) {
        let node = &mut self.nodes[i];
        if !node.up || node.pending.epoch != epoch || node.fsync_at.is_none() {
            return;
        }
        node.fsync_at = None;
        node.durable.log.append(&mut node.pending.records);
        // What the released outputs acknowledge: the state these records hold (a space left
        // is no longer owed; a change no output reported is not owed).
        node.acked = std::mem::take(&mut node.pending.acked);
        let checks = std::mem::take(&mut node.pending.checks);
        node.deciding = node.pending.since.take();
        let Some(seq) = node.pending.seq.take() else { return };
        if node.durable.log.len() > LOG_RECORDS_MAX
            && let Some(p) = node.peer.as_ref()
        {
            // Compaction: every record emitted so far is in the log now, so one snapshot of
            // the Peer replaces them all.
            node.durable.log = vec![Record::Snapshot(Box::new(p.snapshot()))];
        }
        if crate::mutant::release_before_durable() {
            return; // Reported durable long ago.
        }
        let released = self.drive(i, Input::Durable { seq }).unwrap_or_default();
        self.nodes[i].deciding = None;
        for (conn, mark) in checks {
            crate::oracle::frame_handled(self, i, conn, mark, &released);
        }
    }

    fn release(&mut self, i: usize, o: Output) {
        match o {
            Output::SignalTransmit { bytes } => {
                if let Some(client) = self.nodes[i].signal {
                    crate::adversary::observe(self, &bytes);
                    let lat = self.net.latency(&self.cfg.faults);
                    self.after(lat, Ev::ToServer { client, bytes });
                }
            }
            Output::Connect { conn, addr } => crate::net::connect(self, i, conn, &addr),
            Output::Transmit { conn, bytes } => crate::net::transmit(self, i, conn, bytes),
            Output::Close { conn } => crate::net::close(self, i, conn),
            Output::Event(_) | Output::Persist { .. } | Output::Timeout(_) => {}
        }
    }

    fn reschedule_timer(&mut self, i: usize) {
        let Some(local) = self.nodes[i].peer.as_ref().map(Peer::poll_timeout) else { return };
        let t = self.nodes[i].clock.global(local.as_millis(), self.now);
        // A timer due now, right after a timeout input, means the peer asks to be woken
        // for something it does not do: a busy loop that would stall the world.
        if t <= self.now && self.nodes[i].timer_at.is_none() {
            self.nodes[i].spins += 1;
            if self.nodes[i].spins > SPINS_MAX {
                let now = self.local(i, self.now).as_millis();
                let p = self.nodes[i].peer.as_ref().expect("a peer has a timer");
                let hosts: Vec<String> =
                    p.hosting().map(|h| format!("{:?}@{:?}", h.state(), h.poll_timeout())).collect();
                let guests: Vec<String> =
                    p.joining().map(|g| format!("{:?}@{:?}", g.state(), g.poll_timeout())).collect();
                let local = format!("{} (hosts {hosts:?}, guests {guests:?})", local.as_millis());
                return self.fail(
                    "L1",
                    format!(
                        "node {i} busy-loops: timeout {local} is due at local {now} yet handling it changes nothing"
                    ),
                );
            }
        } else {
            self.nodes[i].spins = 0;
        }
        if self.nodes[i].timer_at == Some(t) {
            return;
        }
        self.nodes[i].timer_gen += 1;
        self.nodes[i].timer_at = Some(t);
        let epoch = self.nodes[i].timer_gen;
        self.at(t, Ev::Timer { node: i, epoch });
    }

    // ----- signaling -----

    pub fn connect_signal(&mut self, i: usize) {
        if !self.nodes[i].up || self.nodes[i].signal.is_some() || !self.server_up {
            return;
        }
        let client = self.open_signal_client(Some(i), i as u64);
        self.nodes[i].signal = Some(client);
        self.trace.line(self.now, i, "signal-up", String::new());
        self.input(i, Input::Signal(ClientInput::Connected), Mark::Clean);
    }

    /// A new connection to the server from `source`, owned by node `owner` (or by the adversary).
    pub fn open_signal_client(&mut self, owner: Option<usize>, source: u64) -> ClientId {
        let client = ClientId(self.next_client);
        self.next_client += 1;
        self.signal_clients.insert(client, SignalConn { owner, source });
        let source = Source(u128::from(source).to_be_bytes());
        self.server.handle_input(ServerInput::Connected { client, source }, self.ts(self.now));
        self.drain_server();
        client
    }

    pub(crate) fn server_frame(&mut self, client: ClientId, bytes: Vec<u8>) {
        if !self.server_up || !self.signal_clients.contains_key(&client) {
            return;
        }
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.server.handle_input(ServerInput::Frame { client, bytes: &bytes }, Timestamp::from_millis(self.now));
        }));
        if result.is_err() {
            return self.fail("panic", format!("the signaling server panicked on a {}-byte frame", bytes.len()));
        }
        self.drain_server();
    }

    pub fn drain_server(&mut self) {
        while let Some(o) = self.server.poll_output() {
            match o {
                ServerOutput::Transmit { client, bytes } => {
                    let Some(SignalConn { owner: Some(node), .. }) = self.signal_clients.get(&client).copied() else {
                        continue;
                    };
                    crate::oracle::fair_share::answered(self, client, &bytes);
                    crate::adversary::observe(self, &bytes);
                    for (delay, bytes) in crate::adversary::signal_lies(self, bytes) {
                        let lat = self.net.latency(&self.cfg.faults) + delay;
                        self.after(lat, Ev::FromServer { node, client, bytes });
                    }
                }
                ServerOutput::Disconnect { client } => {
                    if let Some(SignalConn { owner: Some(node), .. }) = self.signal_clients.remove(&client) {
                        self.signal_lost(node);
                    }
                }
                ServerOutput::Timeout(t) => {
                    let t = t.as_millis();
                    if self.server_timer.is_none_or(|s| s > t) {
                        self.server_timer = Some(t);
                        self.at(t, Ev::ServerTimer);
                    }
                }
            }
        }
    }

    /// Node `i` lost its server connection; its driver reconnects a second later.
    pub fn signal_lost(&mut self, i: usize) {
        if self.nodes[i].signal.take().is_some() && self.nodes[i].up {
            self.input(i, Input::Signal(ClientInput::Disconnected), Mark::Clean);
            self.after(1_000, Ev::SignalUp { node: i });
        }
    }

    pub fn server_down(&mut self) {
        if !self.server_up {
            return;
        }
        self.server_up = false;
        let clients: Vec<SignalConn> = std::mem::take(&mut self.signal_clients).into_values().collect();
        for SignalConn { owner, .. } in clients {
            if let Some(i) = owner
                && self.nodes[i].signal.take().is_some()
                && self.nodes[i].up
            {
                self.input(i, Input::Signal(ClientInput::Disconnected), Mark::Clean);
            }
        }
        // A restarted server remembers nothing.
        self.server = SignalServer::new(SignalLimits::default());
        self.server_timer = None;
    }

    pub fn server_restart(&mut self) {
        if self.server_up {
            return;
        }
        self.server_up = true;
        self.signal_reconnect_all();
    }

    // ----- crashes -----

    /// Node `i` dies: memory, pending commits and connections are lost; the disk stays.
    pub fn crash(&mut self, i: usize) {
        if !self.nodes[i].up || self.nodes[i].peer.is_none() {
            return;
        }
        self.trace.line(self.now, i, "crash", String::new());
        let node = &mut self.nodes[i];
        node.up = false;
        node.peer = None;
        node.pending = Pending { epoch: node.pending.epoch + 1, ..Pending::default() };
        node.fsync_at = None;
        node.timer_gen += 1;
        node.timer_at = None;
        if let Some(client) = node.signal.take() {
            self.signal_clients.remove(&client);
            if self.server_up {
                self.server.handle_input(ServerInput::Disconnected { client }, self.ts(self.now));
                self.drain_server();
            }
        }
        crate::net::drop_node(self, i);
        self.work.crashed(i);
        crate::oracle::honest_success::crashed(self, i);
    }

    /// Node `i` comes back from what its disk holds.
    pub fn restart(&mut self, i: usize) {
        if self.nodes[i].up {
            return;
        }
        let now = self.local(i, self.now);
        let log = self.nodes[i].durable.log.clone();
        let peer = match Peer::restore(log, addr_of(i), now, &mut self.rng_seed) {
            Ok(p) => p,
            Err(e) => return self.fail("S5", format!("node {i} cannot restore its durable state: {e}")),
        };
        crate::oracle::restored(self, i, peer.client());
        self.trace.line(self.now, i, "restart", String::new());
        let node = &mut self.nodes[i];
        node.peer = Some(peer);
        node.up = true;
        self.reschedule_timer(i);
        self.connect_signal(i);
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
