//! A deterministic in-memory world of invitation hosts and guests, in the style of
//! quinn-proto's `tests/util.rs`: frames travel through one time-ordered queue with a fixed
//! latency, virtual time jumps to the next event, and a tap can drop, duplicate, reorder or
//! tamper with any frame. The signaling route of a topic can point at any host (a malicious
//! signaling network), hosts can crash and restart from their last persisted record, and every
//! frame put on the wire is kept, so a test can check that a secret never crossed it.

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};

use super::EPOCH_MS;
use crate::client::Client;
use crate::hash::Digest;
use crate::invitation::guest::{GuestEvent, GuestInput, GuestOutput, InvitationGuest, Joiner};
use crate::invitation::host::{HostEvent, HostInput, HostOutput, HostRecord, InvitationHost};
use crate::invitation::{InvitationCode, Limits, SessionId, State};
use crate::time::Timestamp;

/// One hop of the world's network, for frames, closes and connects alike.
pub const LATENCY_MS: u64 = 20;
/// Steps one `run_until` takes at most: a world that never settles is a bug in a test or in
/// the flows, and must fail the test rather than hang it.
pub const STEPS_MAX: usize = 1_000_000;
/// How long `settle` lets the flows run: longer than any invitation's deadlines.
pub const SETTLE_MS: u64 = 30 * 60_000;

/// The direction of a frame, as the tap sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dir {
    ToHost,
    ToGuest,
}

/// What the tap does with a frame, given its direction and its index among the frames of that
/// direction so far: the frames to deliver instead (empty = drop).
pub type Tap = Box<dyn FnMut(Dir, usize, Vec<u8>) -> Vec<Vec<u8>>>;

/// A host and what the world keeps for it: its admitter, its last durable record and its events.
pub struct HostSlot {
    /// The admitter: the client holding the space (or identity) the invitation is for.
    pub client: Client,
    pub host: InvitationHost,
    /// The record the host persisted last: what a restart comes back from.
    pub persisted: Option<HostRecord>,
    pub events: Vec<HostEvent>,
    /// A host that is down is reached by no connection and sends nothing.
    pub up: bool,
}

/// A guest and what it reported.
pub struct GuestSlot {
    /// The client that accepts the grant once the guest succeeds.
    pub client: Client,
    pub guest: InvitationGuest,
    pub events: Vec<GuestEvent>,
}

/// Something in flight, delivered `LATENCY_MS` after it was sent.
#[derive(Debug)]
enum Delivery {
    ToHost { host: usize, session: SessionId, bytes: Vec<u8> },
    ToGuest { guest: usize, session: SessionId, bytes: Vec<u8> },
    HostClosed { host: usize, session: SessionId },
    GuestClosed { guest: usize, session: SessionId },
    Connected { guest: usize, session: SessionId },
    ConnectFailed { guest: usize },
}

/// The world: its clock and randomness, the parties, and the network between them.
pub struct World {
    pub now: Timestamp,
    pub rng: ChaCha20Rng,
    pub hosts: Vec<HostSlot>,
    pub guests: Vec<GuestSlot>,
    queue: BTreeMap<(Timestamp, u64), Delivery>,
    seq: u64,
    next_session: SessionId,
    /// session -> (host, guest)
    sessions: BTreeMap<SessionId, (usize, usize)>,
    /// Sessions each end has closed (or learned were closed): frames to it are dropped.
    closed_at_host: BTreeSet<SessionId>,
    closed_at_guest: BTreeSet<SessionId>,
    /// Where the (possibly malicious) signaling network sends a topic's connections.
    pub route: BTreeMap<Digest, usize>,
    pub tap: Option<Tap>,
    frames_seen: [usize; 2],
    /// Every frame put on the wire, for secrecy checks.
    pub wire: Vec<(Dir, Vec<u8>)>,
}

impl World {
    /// An empty world at `EPOCH_MS` whose randomness is all drawn from `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        World {
            now: Timestamp::from_millis(EPOCH_MS),
            rng: ChaCha20Rng::seed_from_u64(seed),
            hosts: Vec::new(),
            guests: Vec::new(),
            queue: BTreeMap::new(),
            seq: 0,
            next_session: 1,
            sessions: BTreeMap::new(),
            closed_at_host: BTreeSet::new(),
            closed_at_guest: BTreeSet::new(),
            route: BTreeMap::new(),
            tap: None,
            frames_seen: [0, 0],
            wire: Vec::new(),
        }
    }

    /// A fresh identity from the world's randomness.
    #[must_use]
    pub fn client(&mut self) -> Client {
        Client::create_identity(&mut self.rng, self.now)
    }

    /// Adds a host admitting as `client`; its topic is routed to it. Returns its index.
    pub fn add_host(&mut self, client: Client, host: InvitationHost) -> usize {
        self.route.insert(host.code().topic(), self.hosts.len());
        self.hosts.push(HostSlot { client, host, persisted: None, events: Vec::new(), up: true });
        self.hosts.len() - 1
    }

    /// Adds a guest that accepts grants as `client`. Returns its index.
    pub fn add_guest(&mut self, client: Client, guest: InvitationGuest) -> usize {
        self.guests.push(GuestSlot { client, guest, events: Vec::new() });
        self.guests.len() - 1
    }

    /// A guest for `code`, joining a space with the client's identity.
    ///
    /// # Panics
    /// If the guest cannot be created for `code` (an expired code, for instance): a test that
    /// wants that refusal builds the guest itself.
    pub fn space_guest(&mut self, mut client: Client, code: InvitationCode) -> usize {
        let joiner = space_joiner(&mut client, &mut self.rng);
        let guest = InvitationGuest::new(code, joiner, Limits::default(), self.now, &mut self.rng)
            .expect("a guest can be created for this code");
        self.add_guest(client, guest)
    }

    fn push(&mut self, delay: u64, d: Delivery) {
        self.seq += 1;
        self.queue.insert((self.now.saturating_add_millis(delay), self.seq), d);
    }

    /// Passes a frame through the tap and records what goes on the wire.
    fn tapped(&mut self, dir: Dir, bytes: Vec<u8>) -> Vec<Vec<u8>> {
        let i = dir as usize;
        let index = self.frames_seen[i];
        self.frames_seen[i] += 1;
        let out = match self.tap.as_mut() {
            Some(tap) => tap(dir, index, bytes),
            None => vec![bytes],
        };
        for b in &out {
            self.wire.push((dir, b.clone()));
        }
        out
    }

    /// Drains every output of every party into the queue: the hosts first, then the guests.
    fn drain(&mut self) {
        for h in 0..self.hosts.len() {
            while let Some(o) = self.hosts[h].host.poll_output() {
                self.on_host_output(h, o);
            }
        }
        for g in 0..self.guests.len() {
            while let Some(o) = self.guests[g].guest.poll_output() {
                self.on_guest_output(g, o);
            }
        }
    }

    fn on_host_output(&mut self, h: usize, o: HostOutput) {
        match o {
            HostOutput::Transmit { session, bytes } => {
                let Some(&(_, g)) = self.sessions.get(&session) else { return };
                if self.closed_at_host.contains(&session) || !self.hosts[h].up {
                    return;
                }
                for b in self.tapped(Dir::ToGuest, bytes) {
                    self.push(LATENCY_MS, Delivery::ToGuest { guest: g, session, bytes: b });
                }
            }
            HostOutput::Close { session } => {
                if let Some(&(_, g)) = self.sessions.get(&session)
                    && self.closed_at_host.insert(session)
                {
                    self.push(LATENCY_MS, Delivery::GuestClosed { guest: g, session });
                }
            }
            HostOutput::Persist(r) => self.hosts[h].persisted = Some(r),
            HostOutput::Event(e) => self.hosts[h].events.push(e),
            HostOutput::Timeout(_) => {}
        }
    }

    fn on_guest_output(&mut self, g: usize, o: GuestOutput) {
        match o {
            GuestOutput::Connect { topic } => match self.route.get(&topic).copied().filter(|h| self.hosts[*h].up) {
                Some(h) => {
                    let session = self.next_session;
                    self.next_session += 1;
                    self.sessions.insert(session, (h, g));
                    self.push(LATENCY_MS, Delivery::Connected { guest: g, session });
                }
                None => self.push(LATENCY_MS, Delivery::ConnectFailed { guest: g }),
            },
            GuestOutput::Transmit { session, bytes } => {
                let Some(&(h, _)) = self.sessions.get(&session) else { return };
                if self.closed_at_guest.contains(&session) {
                    return;
                }
                for b in self.tapped(Dir::ToHost, bytes) {
                    self.push(LATENCY_MS, Delivery::ToHost { host: h, session, bytes: b });
                }
            }
            GuestOutput::Close { session } => {
                if let Some(&(h, _)) = self.sessions.get(&session)
                    && self.closed_at_guest.insert(session)
                {
                    self.push(LATENCY_MS, Delivery::HostClosed { host: h, session });
                }
            }
            GuestOutput::Event(e) => self.guests[g].events.push(e),
            GuestOutput::Timeout(_) => {}
        }
    }

    fn deliver(&mut self, d: Delivery) {
        let now = self.now;
        match d {
            Delivery::ToHost { host, session, bytes } => {
                let slot = &mut self.hosts[host];
                if slot.up && !self.closed_at_host.contains(&session) {
                    slot.host.handle_input(HostInput::Frame { session, bytes: &bytes }, now, &mut slot.client);
                }
            }
            Delivery::ToGuest { guest, session, bytes } => {
                if !self.closed_at_guest.contains(&session) {
                    self.guests[guest].guest.handle_input(GuestInput::Frame { session, bytes: &bytes }, now);
                }
            }
            Delivery::HostClosed { host, session } => {
                if self.closed_at_host.insert(session) {
                    let slot = &mut self.hosts[host];
                    slot.host.handle_input(HostInput::Closed { session }, now, &mut slot.client);
                }
            }
            Delivery::GuestClosed { guest, session } => {
                if self.closed_at_guest.insert(session) {
                    self.guests[guest].guest.handle_input(GuestInput::Closed { session }, now);
                }
            }
            Delivery::Connected { guest, session } => {
                self.guests[guest].guest.handle_input(GuestInput::Connected { session }, now);
            }
            Delivery::ConnectFailed { guest } => self.guests[guest].guest.handle_input(GuestInput::ConnectFailed, now),
        }
    }

    /// The next delivery or timer of a party that is up.
    fn next_time(&self) -> Option<Timestamp> {
        let q = self.queue.keys().next().map(|(t, _)| *t);
        let h = self.hosts.iter().filter(|h| h.up).filter_map(|h| h.host.poll_timeout()).min();
        let g = self.guests.iter().filter_map(|g| g.guest.poll_timeout()).min();
        [q, h, g].into_iter().flatten().min()
    }

    /// Delivers everything due now, then fires the timers due now.
    fn step_now(&mut self) {
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let d = entry.remove();
            self.deliver(d);
            self.drain();
        }
        let now = self.now;
        for slot in self.hosts.iter_mut().filter(|h| h.up) {
            if slot.host.poll_timeout().is_some_and(|t| t <= now) {
                slot.host.handle_input(HostInput::Timeout, now, &mut slot.client);
            }
        }
        for slot in &mut self.guests {
            if slot.guest.poll_timeout().is_some_and(|t| t <= now) {
                slot.guest.handle_input(GuestInput::Timeout, now);
            }
        }
    }

    /// Runs until `done` holds or `limit_ms` of virtual time pass. Returns whether `done` held.
    ///
    /// # Panics
    /// If the world takes `STEPS_MAX` steps without settling (a livelock).
    pub fn run_until(&mut self, limit_ms: u64, mut done: impl FnMut(&World) -> bool) -> bool {
        let end = self.now.saturating_add_millis(limit_ms);
        for _ in 0..STEPS_MAX {
            self.drain();
            if done(self) {
                return true;
            }
            let Some(t) = self.next_time() else { return false };
            if t > end {
                self.now = end;
                return false;
            }
            self.now = self.now.max(t);
            self.step_now();
        }
        panic!("the world did not settle in {STEPS_MAX} steps");
    }

    /// Runs until every guest is terminal (or `SETTLE_MS` pass); returns whether they all are.
    pub fn settle(&mut self) -> bool {
        self.run_until(SETTLE_MS, |w| w.guests.iter().all(|g| g.guest.state().is_terminal()))
    }

    /// Hands `input` to guest `g` now (its outputs are drained by the next run).
    pub fn input_guest(&mut self, g: usize, input: GuestInput<'_>) {
        let now = self.now;
        self.guests[g].guest.handle_input(input, now);
    }

    /// Hands `input` to host `h` now (its outputs are drained by the next run).
    pub fn input_host(&mut self, h: usize, input: HostInput<'_>) {
        let now = self.now;
        let slot = &mut self.hosts[h];
        slot.host.handle_input(input, now, &mut slot.client);
    }

    /// Crash and restart a host from its last persisted record; its connections drop (its
    /// guests learn it a latency later).
    ///
    /// # Panics
    /// If the host has persisted no record yet, or its record does not restore.
    pub fn restart_host(&mut self, h: usize) {
        let record = self.hosts[h].persisted.clone().expect("the host persisted its record");
        let sessions: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(s, (hh, _))| *hh == h && !self.closed_at_host.contains(s))
            .map(|(s, _)| *s)
            .collect();
        for s in sessions {
            self.closed_at_host.insert(s);
            let (_, g) = self.sessions[&s];
            self.push(LATENCY_MS, Delivery::GuestClosed { guest: g, session: s });
        }
        let host =
            InvitationHost::restore(record, Limits::default(), &mut self.rng).expect("the host's record restores");
        self.hosts[h].host = host;
    }

    /// Whether guest `g` is waiting for its user to enter the PIN.
    #[must_use]
    pub fn guest_waits_for_pin(&self, g: usize) -> bool {
        self.guests[g].guest.state() == State::ReadyForAuthentication
    }
}

/// What a guest joining a space as `client` presents: a fresh join request with the client's
/// device and Noise keys (the Peer does the same when it accepts a SPACE invitation).
#[must_use]
pub fn space_joiner<R: RngCore + CryptoRng>(client: &mut Client, rng: &mut R) -> Joiner {
    Joiner::Space {
        join: client.join_request(rng),
        device: client.device_keypair().clone(),
        noise: client.identity().noise_keypair().clone(),
    }
}
