//! The in-memory world of Peers: several [`Peer`]s and one [`SignalServer`], frames through one
//! time-ordered queue with a fixed latency, each peer's durable log kept on its "disk" and
//! reported durable once stored, as a device's driver does (SPEC.md §9.5).
//!
//! Its knobs are the faults a Peer must survive: a malicious signaling network (`redirect`),
//! connection resets and duplicates (`chaos`), crashes and restarts from the disk (`restart`), a
//! stalled disk (`stalled`), failed and unanswered dials, an impostor answering at an address,
//! peers going down for good, raw connections a test drives frame by frame, and signaling
//! clients a test invents.

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use super::EPOCH_MS;
use crate::client::Client;
use crate::codec::Canonical;
use crate::hash::Digest;
use crate::invitation::wire::{Frame, FrameBody};
use crate::keys::PublicKey;
use crate::peer::{Command, CommandError, ConnId, Event, Input, Output, Peer, PeerBody, PeerFrame, Record};
use crate::signal::client::ClientInput;
use crate::signal::server::{ServerInput, ServerOutput, SignalServer};
use crate::signal::wire::{ClientFrame, ClientMessage};
use crate::signal::{ClientId, PeerInfo, SignalLimits, Source};
use crate::time::Timestamp;

mod actions;

pub use actions::space_of;

/// One hop of the world's network: signaling frames, connects and frames alike.
pub const LATENCY_MS: u64 = 10;
/// Steps one `run` takes at most: a world that never settles must fail its test, not hang it.
pub const STEPS_MAX: usize = 2_000_000;
/// How long the helpers that wait for an outcome (a join, a promotion) let the world run.
pub const WAIT_MS: u64 = 60_000;
/// The lifetime of the invitations the helpers create: longer than any helper waits.
pub const INVITATION_LIFETIME_MS: u64 = 3_600_000;
/// The other end of a raw connection a test drives by hand.
const RAW: usize = usize::MAX;
/// The connection id of a raw end that is an impostor (see `Net::impostor`).
const IMPOSTOR: ConnId = 1;

/// A Noise message 2 that no host would send: what an impostor answers.
fn impostor_answer() -> Vec<u8> {
    let frame = Frame::new(FrameBody::Handshake { noise: vec![0x5a; 48] });
    PeerFrame { version: 1, body: PeerBody::Invitation(frame.to_bytes()) }.to_bytes()
}

/// Something in flight, delivered `LATENCY_MS` after it was sent.
#[derive(Debug)]
pub enum Msg {
    ToServer { from: usize, bytes: Vec<u8> },
    FromServer { to: usize, bytes: Vec<u8> },
    Connected { peer: usize, conn: ConnId },
    Accepted { peer: usize, conn: ConnId },
    Frame { peer: usize, conn: ConnId, bytes: Vec<u8> },
    Closed { peer: usize, conn: ConnId },
    ConnectFailed { peer: usize, conn: ConnId },
}

/// The world. Peer `i` has address `[i]` and signaling client id `i`.
pub struct Net {
    pub now: Timestamp,
    rng: ChaCha20Rng,
    /// A malicious signaling network: connections to these addresses go elsewhere.
    pub redirect: BTreeMap<u8, u8>,
    /// Transport faults: per frame, the chance (in 1/1000) of a connection reset and of a
    /// duplicate delivery.
    pub chaos: Option<(u32, u32)>,
    server: SignalServer,
    pub peers: Vec<Peer>,
    /// Every event of each peer, in order.
    pub events: Vec<Vec<Event>>,
    queue: BTreeMap<(Timestamp, u64), Msg>,
    seq: u64,
    /// (peer, conn) -> (peer, conn) of the other end.
    links: BTreeMap<(usize, ConnId), (usize, ConnId)>,
    next_conn: ConnId,
    /// Per peer, how many of its next dials fail (`ConnectFailed`).
    pub fail_dials: BTreeMap<usize, u32>,
    /// Dials made, by (dialler, reached peer); dials to no peer count under `usize::MAX`.
    pub dials: BTreeMap<(usize, usize), u32>,
    /// Dials to addresses no peer has: never answered (a black hole).
    unanswered: BTreeSet<(usize, ConnId)>,
    /// The most unanswered dials one peer had outstanding at once.
    pub unanswered_max: usize,
    /// Frames a peer sent on connections with no other end (raw connections of a test).
    pub raw_out: Vec<(usize, ConnId, Vec<u8>)>,
    /// Connections to this address reach an impostor, which answers every invitation frame
    /// with a garbage handshake message.
    pub impostor: Option<u8>,
    /// The signaling limits of the server and of every peer.
    signal_limits: SignalLimits,
    /// Each peer's disk: the records of its log, in order.
    pub disks: Vec<Vec<Record>>,
    /// Peers whose disk has stalled: their `Persist` outputs are neither stored nor reported
    /// durable, so what follows them stays inside the Peer.
    pub stalled: BTreeSet<usize>,
    /// Peers taken offline for good: no input reaches them and their timers do not run.
    pub down: BTreeSet<usize>,
}

impl Net {
    /// `n` fresh identities, each on its own Peer, all connected to the signaling server.
    #[must_use]
    pub fn new(n: usize, seed: u64) -> Self {
        Net::with_signal_limits(n, seed, SignalLimits::default())
    }

    /// `new`, with a signaling server (and clients) configured with `limits`.
    #[must_use]
    pub fn with_signal_limits(n: usize, seed: u64, limits: SignalLimits) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let now = Timestamp::from_millis(EPOCH_MS);
        let clients = (0..n).map(|_| Client::create_identity(&mut rng, now)).collect();
        Net::build(clients, rng, limits)
    }

    /// A world whose peer `i` starts with `clients[i]` (a test's prepared state).
    #[must_use]
    pub fn with_clients(clients: Vec<Client>, rng: ChaCha20Rng) -> Self {
        Net::build(clients, rng, SignalLimits::default())
    }

    fn build(clients: Vec<Client>, mut rng: ChaCha20Rng, signal_limits: SignalLimits) -> Self {
        let n = clients.len();
        let now = Timestamp::from_millis(EPOCH_MS);
        let mut server = SignalServer::new(signal_limits);
        let mut peers = Vec::new();
        for (i, client) in clients.into_iter().enumerate() {
            peers.push(Peer::with_signal_limits(client, address(i), signal_limits, now, &mut rng));
            server.handle_input(ServerInput::Connected { client: client_id(i), source: source(i) }, now);
        }
        let mut net = Net {
            now,
            rng,
            redirect: BTreeMap::new(),
            chaos: None,
            server,
            peers,
            events: vec![Vec::new(); n],
            queue: BTreeMap::new(),
            seq: 0,
            links: BTreeMap::new(),
            next_conn: 1,
            fail_dials: BTreeMap::new(),
            dials: BTreeMap::new(),
            unanswered: BTreeSet::new(),
            unanswered_max: 0,
            raw_out: Vec::new(),
            impostor: None,
            disks: vec![Vec::new(); n],
            stalled: BTreeSet::new(),
            down: BTreeSet::new(),
            signal_limits,
        };
        for i in 0..n {
            net.input(i, Input::Signal(ClientInput::Connected));
        }
        net
    }

    fn push(&mut self, m: Msg) {
        self.seq += 1;
        self.queue.insert((self.now.saturating_add_millis(LATENCY_MS), self.seq), m);
    }

    /// What is in flight, in the order it will arrive.
    pub fn in_flight(&self) -> impl Iterator<Item = &Msg> {
        self.queue.values()
    }

    /// Hands `input` to peer `i` now (unless it is down) and drains its outputs.
    pub fn input(&mut self, i: usize, input: Input<'_>) {
        if self.down.contains(&i) {
            return;
        }
        let now = self.now;
        self.peers[i].handle_input(input, now);
        self.drain(i);
    }

    /// Peer `i` carries out `c`; its outputs are drained, and its answer returned.
    pub fn try_command(&mut self, i: usize, c: Command) -> Result<(), CommandError> {
        let result = self.peers[i].command(&c, self.now);
        self.drain(i);
        result
    }

    /// `try_command`, for commands a test expects to be carried out.
    ///
    /// # Panics
    /// If the peer refuses the command.
    pub fn command(&mut self, i: usize, c: Command) {
        let what = format!("{c:?}");
        if let Err(e) = self.try_command(i, c) {
            panic!("peer {i} refused {what}: {e}");
        }
    }

    /// The driver loop: every output acted on in order; records stored, then reported durable.
    fn drain(&mut self, i: usize) {
        while let Some(durable) = self.drain_once(i) {
            self.peers[i].handle_input(Input::Durable { seq: durable }, self.now);
        }
    }

    /// Acts on peer `i`'s outputs; returns the last `Persist` stored, for `Durable`.
    fn drain_once(&mut self, i: usize) -> Option<u64> {
        let mut stored = None;
        while let Some(o) = self.peers[i].poll_output() {
            match o {
                Output::SignalTransmit { bytes } => self.push(Msg::ToServer { from: i, bytes }),
                Output::Connect { conn, addr } => self.dial(i, conn, &addr),
                Output::Transmit { conn, bytes } => self.transmit(i, conn, bytes),
                Output::Close { conn } => {
                    self.unanswered.remove(&(i, conn));
                    if let Some((j, c)) = self.links.remove(&(i, conn))
                        && j != RAW
                    {
                        self.links.remove(&(j, c));
                        self.push(Msg::Closed { peer: j, conn: c });
                    }
                }
                Output::Persist { seq, records } => {
                    if !self.stalled.contains(&i) {
                        self.disks[i].extend(records);
                        stored = Some(seq);
                    }
                }
                Output::Event(e) => self.events[i].push(e),
                Output::Timeout(_) => {}
            }
        }
        stored
    }

    /// Peer `i` dials `addr` on `conn`: an impostor, a black hole, a failure or the peer there
    /// (after `redirect`).
    fn dial(&mut self, i: usize, conn: ConnId, addr: &[u8]) {
        let Some(&first) = addr.first() else {
            // No peer has an empty address: a black hole, like any other unknown one.
            return self.unanswered_dial(i, conn);
        };
        if self.impostor == Some(first) {
            self.links.insert((i, conn), (RAW, IMPOSTOR));
            return self.push(Msg::Connected { peer: i, conn });
        }
        let j = usize::from(*self.redirect.get(&first).unwrap_or(&first));
        if j >= self.peers.len() {
            return self.unanswered_dial(i, conn);
        }
        *self.dials.entry((i, j)).or_default() += 1;
        if let Some(n) = self.fail_dials.get_mut(&i)
            && *n > 0
        {
            *n -= 1;
            return self.push(Msg::ConnectFailed { peer: i, conn });
        }
        let remote = self.next_conn;
        self.next_conn += 1;
        self.links.insert((i, conn), (j, remote));
        self.links.insert((j, remote), (i, conn));
        self.push(Msg::Accepted { peer: j, conn: remote });
        self.push(Msg::Connected { peer: i, conn });
    }

    fn unanswered_dial(&mut self, i: usize, conn: ConnId) {
        *self.dials.entry((i, usize::MAX)).or_default() += 1;
        self.unanswered.insert((i, conn));
        let outstanding = self.unanswered.iter().filter(|(p, _)| *p == i).count();
        self.unanswered_max = self.unanswered_max.max(outstanding);
    }

    /// Peer `i` sends `bytes` on `conn`: to the other end, through the chaos if any.
    fn transmit(&mut self, i: usize, conn: ConnId, bytes: Vec<u8>) {
        let Some(&(j, c)) = self.links.get(&(i, conn)) else { return };
        if j == RAW {
            if c == IMPOSTOR {
                self.push(Msg::Frame { peer: i, conn, bytes: impostor_answer() });
            }
            self.raw_out.push((i, conn, bytes));
            return;
        }
        if let Some((reset, dup)) = self.chaos {
            if self.rng.next_u32() % 1000 < reset {
                self.links.remove(&(i, conn));
                self.links.remove(&(j, c));
                self.push(Msg::Closed { peer: j, conn: c });
                self.push(Msg::Closed { peer: i, conn });
                return;
            }
            if self.rng.next_u32() % 1000 < dup {
                self.push(Msg::Frame { peer: j, conn: c, bytes: bytes.clone() });
            }
        }
        self.push(Msg::Frame { peer: j, conn: c, bytes });
    }

    fn drain_server(&mut self) {
        while let Some(o) = self.server.poll_output() {
            match o {
                ServerOutput::Transmit { client, bytes } => match usize::try_from(client.0) {
                    Ok(to) if to < self.peers.len() => self.push(Msg::FromServer { to, bytes }),
                    _ => {} // To a fake signaling client of a test.
                },
                ServerOutput::Disconnect { .. } | ServerOutput::Timeout(_) => {}
            }
        }
    }

    fn deliver(&mut self, m: Msg) {
        let now = self.now;
        match m {
            Msg::ToServer { from, bytes } => {
                self.server.handle_input(ServerInput::Frame { client: client_id(from), bytes: &bytes }, now);
                self.drain_server();
            }
            Msg::FromServer { to, bytes } => self.input(to, Input::Signal(ClientInput::Frame { bytes: &bytes })),
            Msg::Connected { peer, conn } => self.input(peer, Input::Connected { conn }),
            Msg::Accepted { peer, conn } => self.input(peer, Input::Accepted { conn }),
            Msg::Frame { peer, conn, bytes } => {
                if self.links.contains_key(&(peer, conn)) {
                    self.input(peer, Input::Frame { conn, bytes: &bytes });
                }
            }
            Msg::Closed { peer, conn } => self.input(peer, Input::Closed { conn }),
            Msg::ConnectFailed { peer, conn } => self.input(peer, Input::ConnectFailed { conn }),
        }
    }

    /// The next delivery or timer (of a peer that is up, or of the server).
    fn next_time(&self) -> Option<Timestamp> {
        let q = self.queue.keys().next().map(|(t, _)| *t);
        let p = (0..self.peers.len()).filter(|i| !self.down.contains(i)).map(|i| self.peers[i].poll_timeout()).min();
        let s = self.server.poll_timeout();
        [q, p, s].into_iter().flatten().min()
    }

    /// Runs for `ms` of virtual time or until `done`; returns whether `done` held at the end.
    ///
    /// # Panics
    /// If the world takes `STEPS_MAX` steps without settling (a livelock).
    pub fn run(&mut self, ms: u64, mut done: impl FnMut(&Net) -> bool) -> bool {
        let end = self.now.saturating_add_millis(ms);
        for _ in 0..STEPS_MAX {
            if done(self) {
                return true;
            }
            let Some(t) = self.next_time() else { return false };
            if t > end {
                self.now = end;
                return done(self);
            }
            self.now = self.now.max(t);
            if let Some(entry) = self.queue.first_entry()
                && entry.key().0 <= self.now
            {
                let m = entry.remove();
                self.deliver(m);
                continue;
            }
            self.fire_timers();
        }
        panic!("the world did not settle in {STEPS_MAX} steps");
    }

    fn fire_timers(&mut self) {
        for i in 0..self.peers.len() {
            if !self.down.contains(&i) && self.peers[i].poll_timeout() <= self.now {
                self.input(i, Input::Timeout);
            }
        }
        if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
            self.server.handle_input(ServerInput::Timeout, self.now);
            self.drain_server();
        }
    }

    /// Drops every connection of peer `i`; the other ends learn it a latency later.
    fn cut_links(&mut self, i: usize) {
        let ends: Vec<(usize, ConnId)> = self.links.iter().filter(|((p, _), _)| *p == i).map(|(_, o)| *o).collect();
        self.links.retain(|(p, _), (q, _)| *p != i && *q != i);
        for (j, c) in ends {
            self.push(Msg::Closed { peer: j, conn: c });
        }
    }

    /// Crash and restart peer `i` from its disk (what a stalled disk did not store is lost):
    /// its connections drop and it reconnects to the signaling server.
    ///
    /// # Panics
    /// If the disk does not restore: the Peer wrote a log it cannot read back.
    pub fn restart(&mut self, i: usize) {
        self.cut_links(i);
        self.stalled.remove(&i);
        let log = self.disks[i].clone();
        self.peers[i] = Peer::restore_with_signal_limits(log, address(i), self.signal_limits, self.now, &mut self.rng)
            .expect("the log restores");
        self.server.handle_input(ServerInput::Disconnected { client: client_id(i) }, self.now);
        self.server.handle_input(ServerInput::Connected { client: client_id(i), source: source(i) }, self.now);
        self.drain_server();
        self.input(i, Input::Signal(ClientInput::Connected));
    }

    /// Takes peer `i` offline for good: its connections drop and the signaling server forgets it.
    pub fn take_down(&mut self, i: usize) {
        self.cut_links(i);
        self.down.insert(i);
        self.server.handle_input(ServerInput::Disconnected { client: client_id(i) }, self.now);
        self.drain_server();
    }

    /// Brings peer `i`, taken down, back from its disk.
    pub fn bring_back(&mut self, i: usize) {
        self.down.remove(&i);
        self.restart(i);
    }

    /// Opens an inbound connection to peer `to` whose other end is the test itself: frames
    /// the peer sends on it land in `raw_out`.
    pub fn raw_connect(&mut self, to: usize) -> ConnId {
        let conn = self.next_conn;
        self.next_conn += 1;
        self.links.insert((to, conn), (RAW, 0));
        self.push(Msg::Accepted { peer: to, conn });
        conn
    }

    /// Sends `bytes` to peer `to` on a raw connection (a latency later).
    pub fn raw_send(&mut self, to: usize, conn: ConnId, bytes: Vec<u8>) {
        self.push(Msg::Frame { peer: to, conn, bytes });
    }

    /// A signaling client the test invents: it announces `info` on `topic` and never pings.
    pub fn fake_join(&mut self, client: u64, topic: Digest, info: PeerInfo) {
        let now = self.now;
        self.server.handle_input(
            ServerInput::Connected { client: ClientId(client), source: Source(u128::from(client).to_be_bytes()) },
            now,
        );
        let bytes = ClientFrame::new(ClientMessage::Join { topic, info }).to_bytes();
        self.server.handle_input(ServerInput::Frame { client: ClientId(client), bytes: &bytes }, now);
        self.drain_server();
    }

    /// Who is registered on `topic` at the signaling server, by the keys they announce.
    #[must_use]
    pub fn on_topic(&self, topic: &Digest) -> Vec<PublicKey> {
        self.server.members(topic).map(|(_, info)| info.peer).collect()
    }

    /// How often peer `from` dialled peer `to` (`usize::MAX`: an address no peer has).
    #[must_use]
    pub fn dials(&self, from: usize, to: usize) -> u32 {
        self.dials.get(&(from, to)).copied().unwrap_or(0)
    }

    /// Peer `i`'s device key.
    #[must_use]
    pub fn device(&self, i: usize) -> PublicKey {
        self.peers[i].client().identity().device_key()
    }

    /// Peer `i`'s identity key.
    #[must_use]
    pub fn key(&self, i: usize) -> PublicKey {
        self.peers[i].client().identity_key()
    }
}

/// Peer `i`'s address: what others dial to reach it.
fn address(i: usize) -> Vec<u8> {
    vec![u8::try_from(i).expect("a peer's address is one byte")]
}

fn client_id(i: usize) -> ClientId {
    ClientId(u64::try_from(i).expect("a peer index fits a client id"))
}

/// Where peer `i`'s signaling connection comes from: one source per peer, so the server's
/// per-source limits see separate devices.
fn source(i: usize) -> Source {
    let byte = u8::try_from(i).expect("a peer's address is one byte");
    Source([byte; 16])
}
