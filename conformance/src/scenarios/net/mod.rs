//! The scenario world: the driver's flows and the harness's own (`LocalFlow`s of our protocol
//! crate), exchanging frames through one time-ordered queue with a fixed latency, on a
//! virtual clock that jumps to the next event (quinn-proto's test `Pair`, our
//! `spaces_protocol::testing::invitation_pair`). A tap can drop, duplicate or alter frames; the
//! signaling route of a topic can point anywhere; a scripted party can replay recorded frames.
//!
//! It is not built on `invitation_pair`: its parties are flows behind a driver, spoken to in
//! JSON (hex frames, topics as strings, every call fallible), not the crate's typed state
//! machines, and its deliveries follow the simulator's weather.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde_json::{Value, json};
use spaces_protocol::Timestamp;
use spaces_protocol::invitation::InvitationCode;

pub use super::chaos::Chaos;
use super::describe::{describe_frame, describe_input, dir_name};
use crate::driver::Driver;
use crate::flow::{Dir, LocalFlow};
use crate::wire::{
    FlowInput, FlowOutput, GuestCreate, GuestCreated, HostCreate, HostCreated, Poll, Reply, is_terminal_name,
};

mod hosts;
mod parties;
pub mod weather;

pub use weather::Weather;

pub const LATENCY_MS: u64 = 20;
/// The harness's epoch: virtual time starts here (2023-11-14).
pub const T0_MS: u64 = 1_700_000_000_000;
/// Steps one `run_until` takes at most: a flow that never settles is a failure, not a hang.
pub const STEPS_MAX: usize = 50_000;
/// Log lines kept; the excerpt of a failure is the tail.
pub const LOG_LINES_MAX: usize = 4096;

/// Why a scenario stopped before its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Abort {
    /// The driver answered `unsupported` to this op.
    Unsupported(String),
    /// The driver failed an op, crashed, hung or answered nonsense.
    Driver(String),
    /// A check failed.
    Check { expected: String, actual: String },
}

pub type Step<T = ()> = Result<T, Abort>;

/// Fails the scenario unless `cond` holds.
pub fn check(cond: bool, expected: impl Into<String>, actual: impl Into<String>) -> Step {
    if cond { Ok(()) } else { Err(Abort::Check { expected: expected.into(), actual: actual.into() }) }
}

/// What the tap does with a frame: the frames to deliver instead (empty = drop).
pub type Tap = Box<dyn FnMut(Dir, usize, Vec<u8>) -> Vec<Vec<u8>>>;

/// A tap that sees where a frame is in its session: `(direction, session, index of the frame
/// among those of its session and direction, bytes)`; the frames to deliver instead.
pub type SessionTap = Box<dyn FnMut(Dir, u64, usize, Vec<u8>) -> Vec<Vec<u8>>>;

/// Which driver a remote flow lives in: the one under test, or (cross mode) the peer driver
/// that plays the harness's part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Tested,
    Peer,
}

/// What cross mode cannot do: script the harness's own flow (make it lie, impersonate it,
/// replay its frames). Those scenarios are reported as unsupported, not failed.
pub const HARNESS_ONLY: &str = "not in cross mode: it scripts the harness's own flow";

enum Party {
    Local(Box<LocalFlow>),
    Remote(Side, u64),
    /// A guest that sends recorded frames, one per frame received (and the first on connect).
    Replayer(VecDeque<Vec<u8>>),
}

struct Slot {
    name: String,
    party: Party,
    is_host: bool,
    up: bool,
    status: Poll,
    /// Every output other than frames and closes, in order.
    events: Vec<FlowOutput>,
    /// The `now` of the last timeout input, so a deadline is fired once per instant.
    timed_out_at: Option<u64>,
    sessions: usize,
}

#[derive(Debug)]
enum Delivery {
    Frame { to: usize, session: u64, bytes: Vec<u8> },
    Closed { to: usize, session: u64 },
    Connected { guest: usize, session: u64 },
    ConnectFailed { guest: usize },
}

pub struct Net<'d> {
    driver: &'d mut dyn Driver,
    driver_now: Option<u64>,
    /// Cross mode: the driver that plays the harness's part (the MLS interop harness's shape),
    /// so two implementations are checked against each other.
    peer: Option<&'d mut dyn Driver>,
    peer_now: Option<u64>,
    pub now: u64,
    rng: ChaCha20Rng,
    slots: Vec<Slot>,
    queue: BTreeMap<(u64, u64), Delivery>,
    seq: u64,
    next_session: u64,
    /// session → (host slot, guest slot)
    sessions: BTreeMap<u64, (usize, usize)>,
    closed_at_host: BTreeSet<u64>,
    closed_at_guest: BTreeSet<u64>,
    /// Where the (possibly malicious) signaling network sends a topic's connections.
    pub route: BTreeMap<String, usize>,
    pub tap: Option<Tap>,
    pub session_tap: Option<SessionTap>,
    /// Frames put on each (session, direction) so far, for `session_tap`.
    frames_on: BTreeMap<(u64, usize), usize>,
    pub chaos: Option<Chaos>,
    /// The simulator's weather (worlds): variable latency, resets, cuts. Without it every
    /// delivery takes `LATENCY_MS`.
    pub weather: Option<Weather>,
    /// Sessions the network reset: nothing more travels on them.
    severed: BTreeSet<u64>,
    frames_seen: [usize; 2],
    /// Sessions whose frames the tap changed: their transcripts may differ.
    touched: BTreeSet<u64>,
    /// Every frame put on the wire: (session, direction, bytes).
    pub wire: Vec<(u64, Dir, Vec<u8>)>,
    log: Vec<String>,
}

impl<'d> Net<'d> {
    pub fn new(driver: &'d mut dyn Driver, seed: u64) -> Self {
        Self::with_peer(driver, None, seed)
    }

    /// A world where `peer`, if any, plays the harness's hosts and guests.
    pub fn with_peer(driver: &'d mut dyn Driver, peer: Option<&'d mut dyn Driver>, seed: u64) -> Self {
        Net {
            driver,
            driver_now: None,
            peer,
            peer_now: None,
            now: T0_MS,
            rng: ChaCha20Rng::seed_from_u64(seed),
            slots: Vec::new(),
            queue: BTreeMap::new(),
            seq: 0,
            next_session: 1,
            sessions: BTreeMap::new(),
            closed_at_host: BTreeSet::new(),
            closed_at_guest: BTreeSet::new(),
            route: BTreeMap::new(),
            tap: None,
            session_tap: None,
            frames_on: BTreeMap::new(),
            chaos: None,
            weather: None,
            severed: BTreeSet::new(),
            frames_seen: [0, 0],
            touched: BTreeSet::new(),
            wire: Vec::new(),
            log: Vec::new(),
        }
    }

    /// The last `n` log lines.
    pub fn excerpt(&self, n: usize) -> Vec<String> {
        self.log[self.log.len().saturating_sub(n)..].to_vec()
    }

    fn note(&mut self, line: String) {
        if self.log.len() < LOG_LINES_MAX {
            self.log.push(format!("[+{}ms] {line}", self.now - T0_MS));
        }
    }

    /// 32 fresh bytes from the scenario's seed, hex.
    pub fn seed(&mut self) -> String {
        let mut s = [0u8; 32];
        self.rng.fill_bytes(&mut s);
        hex::encode(s)
    }

    pub fn seed_bytes(&mut self) -> [u8; 32] {
        let mut s = [0u8; 32];
        self.rng.fill_bytes(&mut s);
        s
    }

    // ----- the driver -----

    fn call(&mut self, op: &str, args: Value) -> Step<Value> {
        self.call_on(Side::Tested, op, args)
    }

    /// Whether the harness's parts are played by a peer driver.
    pub fn is_cross(&self) -> bool {
        self.peer.is_some()
    }

    fn call_on(&mut self, side: Side, op: &str, args: Value) -> Step<Value> {
        let now = self.now;
        let last = match side {
            Side::Tested => &mut self.driver_now,
            Side::Peer => &mut self.peer_now,
        };
        if *last != Some(now) {
            *last = Some(now);
            self.raw_call(side, "time.set", json!({ "now_ms": now }))?;
        }
        self.raw_call(side, op, args)
    }

    fn raw_call(&mut self, side: Side, op: &str, args: Value) -> Step<Value> {
        let (driver, who) = match side {
            Side::Tested => (&mut *self.driver, ""),
            Side::Peer => (&mut **self.peer.as_mut().expect("peer flows only in cross mode"), "the peer driver's "),
        };
        match driver.call(op, args) {
            Ok(Reply::Ok(v)) => Ok(v),
            Ok(Reply::Unsupported) => Err(Abort::Unsupported(format!("{who}{op}"))),
            Ok(Reply::Error(e)) => Err(Abort::Driver(format!("{who}{op} failed: {}: {}", e.kind, e.message))),
            Err(e) => Err(Abort::Driver(format!("{who}{op}: {e}"))),
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(op: &str, v: Value) -> Step<T> {
        serde_json::from_value(v).map_err(|e| Abort::Driver(format!("{op} answered an unexpected shape: {e}")))
    }

    // ----- inputs and outputs -----

    pub fn input(&mut self, slot: usize, input: FlowInput) -> Step {
        let now = self.now;
        let text = describe_input(&input);
        let name = self.slots[slot].name.clone();
        self.note(format!("{name} <- {text}"));
        match &mut self.slots[slot].party {
            Party::Local(flow) => {
                flow.input(&input, Timestamp::from_millis(now))
                    .map_err(|e| Abort::Driver(format!("harness flow refused {text}: {}", e.message)))?;
            }
            Party::Remote(side, handle) => {
                let (side, args) = (*side, json!({ "handle": *handle, "input": input }));
                self.call_on(side, "flow.input", args)?;
            }
            Party::Replayer(frames) => {
                let session = match input {
                    FlowInput::Connected { session } | FlowInput::Frame { session, .. } => Some(session),
                    _ => None,
                };
                if let (Some(session), Some(bytes)) = (session, frames.pop_front()) {
                    self.on_output(slot, FlowOutput::Transmit { session, bytes: hex::encode(bytes) });
                }
                return Ok(());
            }
        }
        self.refresh(slot)
    }

    /// Polls a flow and routes its outputs.
    fn refresh(&mut self, slot: usize) -> Step {
        let poll = match &mut self.slots[slot].party {
            Party::Local(flow) => flow.poll(),
            Party::Remote(side, handle) => {
                let (side, args) = (*side, json!({ "handle": *handle }));
                let v = self.call_on(side, "flow.poll", args)?;
                Self::parse::<Poll>("flow.poll", v)?
            }
            Party::Replayer(_) => return Ok(()),
        };
        let mut status = poll.clone();
        status.outputs.clear();
        self.slots[slot].status = status;
        for o in poll.outputs {
            self.on_output(slot, o);
        }
        Ok(())
    }

    fn push(&mut self, d: Delivery) {
        let at = match self.weather.as_mut() {
            None => self.now + LATENCY_MS,
            Some(w) => {
                let ordered = match &d {
                    Delivery::Frame { to, session, .. } | Delivery::Closed { to, session } => Some((*session, *to)),
                    Delivery::Connected { .. } | Delivery::ConnectFailed { .. } => None,
                };
                w.arrival(self.now, ordered)
            }
        };
        self.push_at(at, d);
    }

    fn push_at(&mut self, at: u64, d: Delivery) {
        self.seq += 1;
        self.queue.insert((at, self.seq), d);
    }

    /// The weather cuts the host off now.
    fn cut(&self) -> bool {
        self.weather.as_ref().is_some_and(|w| w.cut(self.now))
    }

    fn on_output(&mut self, slot: usize, o: FlowOutput) {
        match o {
            FlowOutput::Connect { topic } => self.connect(slot, &topic),
            FlowOutput::Transmit { session, bytes } => match hex::decode(&bytes) {
                Ok(bytes) => self.transmit(slot, session, bytes),
                Err(_) => self.note(format!("{} sent a frame that is not hex", self.slots[slot].name)),
            },
            FlowOutput::Close { session } => self.close(slot, session),
            FlowOutput::Other => {}
            event => {
                let name = self.slots[slot].name.clone();
                self.note(format!("{name}: {}", serde_json::to_string(&event).expect("serializes")));
                self.slots[slot].events.push(event);
            }
        }
    }

    fn connect(&mut self, guest: usize, topic: &str) {
        if self.slots[guest].is_host {
            let name = self.slots[guest].name.clone();
            return self.note(format!("{name} is a host and asked to connect"));
        }
        let cut = self.cut();
        match self.route.get(topic).copied().filter(|h| self.slots[*h].up && !cut) {
            Some(host) => {
                assert!(self.slots[host].is_host, "routes point at hosts only");
                let session = self.next_session;
                self.next_session += 1;
                self.sessions.insert(session, (host, guest));
                self.slots[guest].sessions += 1;
                let (g, h) = (self.slots[guest].name.clone(), self.slots[host].name.clone());
                self.note(format!("{g} connects to {h}: session {session}"));
                self.push(Delivery::Connected { guest, session });
            }
            None if self.weather.is_some() => {
                self.push_at(self.now + weather::CONNECT_TIMEOUT_MS, Delivery::ConnectFailed { guest })
            }
            None => self.push(Delivery::ConnectFailed { guest }),
        }
    }

    fn transmit(&mut self, from: usize, session: u64, bytes: Vec<u8>) {
        let Some(&(host, guest)) = self.sessions.get(&session).filter(|(h, g)| *h == from || *g == from) else {
            // A driver's mistake, not ours: the frame goes nowhere and the scenario's checks
            // will show what it cost.
            let name = self.slots[from].name.clone();
            return self.note(format!("{name} sent on session {session}, which is not one of its own"));
        };
        let (to, dir, closed) = if from == host {
            (guest, Dir::ToGuest, self.closed_at_host.contains(&session) || !self.slots[host].up)
        } else {
            (host, Dir::ToHost, self.closed_at_guest.contains(&session))
        };
        if closed || self.severed.contains(&session) {
            return;
        }
        if self.cut() {
            // Nothing crosses the cut; both ends notice at their keep-alives.
            self.severed.insert(session);
            self.touched.insert(session);
            self.note(format!("a cut severs session {session}"));
            let w = self.weather.as_mut().expect("cuts are weather");
            let (a, b) = (w.cut_detect_ms(), w.cut_detect_ms());
            self.push_at(self.now + a, Delivery::Closed { to: host, session });
            self.push_at(self.now + b, Delivery::Closed { to: guest, session });
            return;
        }
        let now = self.now;
        let weather_reset = self.weather.as_mut().is_some_and(|w| w.resets(now));
        let fault = if weather_reset { 1 } else { self.chaos.as_mut().map_or(0, Chaos::roll) };
        if fault == 1 {
            self.severed.insert(session);
            self.touched.insert(session);
            self.note(format!("network resets session {session}"));
            self.push(Delivery::Closed { to: host, session });
            self.push(Delivery::Closed { to: guest, session });
            return;
        }
        if fault == 2 {
            self.touched.insert(session);
            self.note(format!("network duplicates a frame on session {session}"));
            self.push(Delivery::Frame { to, session, bytes: bytes.clone() });
        }
        let index = self.frames_seen[dir as usize];
        self.frames_seen[dir as usize] += 1;
        let mut delivered = match self.tap.as_mut() {
            Some(tap) => tap(dir, index, bytes.clone()),
            None => vec![bytes.clone()],
        };
        let on = self.frames_on.entry((session, dir as usize)).or_default();
        let in_session = *on;
        *on += 1;
        if let Some(tap) = self.session_tap.as_mut() {
            delivered = delivered.into_iter().flat_map(|b| tap(dir, session, in_session, b)).collect();
        }
        if delivered != [bytes.clone()] {
            self.touched.insert(session);
            self.note(format!("tap changed {} frame #{index} on session {session}", dir_name(dir)));
        }
        for b in delivered {
            let name = self.slots[from].name.clone();
            self.note(format!("{name} -> s{session} {}", describe_frame(&b)));
            self.wire.push((session, dir, b.clone()));
            self.push(Delivery::Frame { to, session, bytes: b });
        }
    }

    fn close(&mut self, from: usize, session: u64) {
        let Some(&(host, guest)) = self.sessions.get(&session).filter(|(h, g)| *h == from || *g == from) else {
            return;
        };
        let (closed, to) =
            if from == host { (&mut self.closed_at_host, guest) } else { (&mut self.closed_at_guest, host) };
        if closed.insert(session) {
            self.push(Delivery::Closed { to, session });
        }
    }

    fn deliver(&mut self, d: Delivery) -> Step {
        match d {
            Delivery::Frame { to, session, bytes } => {
                let closed = if self.slots[to].is_host { &self.closed_at_host } else { &self.closed_at_guest };
                if self.slots[to].up && !closed.contains(&session) {
                    self.input(to, FlowInput::Frame { session, bytes: hex::encode(bytes) })?;
                }
            }
            Delivery::Closed { to, session } => {
                let closed = if self.slots[to].is_host { &mut self.closed_at_host } else { &mut self.closed_at_guest };
                if closed.insert(session) && self.slots[to].up {
                    self.input(to, FlowInput::Closed { session })?;
                }
            }
            Delivery::Connected { guest, session } => self.input(guest, FlowInput::Connected { session })?,
            Delivery::ConnectFailed { guest } => self.input(guest, FlowInput::ConnectFailed)?,
        }
        Ok(())
    }

    fn next_time(&self) -> Option<u64> {
        let queued = self.queue.keys().next().map(|(t, _)| *t);
        let timers = self
            .slots
            .iter()
            .filter(|s| s.up && !matches!(s.party, Party::Replayer(_)))
            .filter_map(|s| {
                s.status.timeout_ms.map(|t| if s.timed_out_at == Some(self.now) { t.max(self.now + 1) } else { t })
            })
            .min();
        [queued, timers].into_iter().flatten().min()
    }

    /// Runs until `done` holds or `limit_ms` of virtual time pass; returns whether it held.
    pub fn run_until(&mut self, limit_ms: u64, done: impl Fn(&Net<'_>) -> bool) -> Step<bool> {
        let end = self.now + limit_ms;
        for _ in 0..STEPS_MAX {
            if done(self) {
                return Ok(true);
            }
            if !self.step(end)? {
                return Ok(false);
            }
        }
        Err(Abort::Driver(format!("the flows did not settle in {STEPS_MAX} steps")))
    }

    /// One instant: the clock moves to the next delivery or timer (never past `end`), and
    /// everything due then happens. False when nothing is due by `end` (the clock is then at
    /// `end`, or stays where it is when nothing is due at all).
    pub fn step(&mut self, end: u64) -> Step<bool> {
        let Some(t) = self.next_time() else { return Ok(false) };
        if t > end {
            self.now = self.now.max(end);
            return Ok(false);
        }
        self.now = self.now.max(t);
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let d = entry.remove();
            self.deliver(d)?;
        }
        self.fire_timers()?;
        Ok(true)
    }

    fn fire_timers(&mut self) -> Step {
        for slot in 0..self.slots.len() {
            let s = &self.slots[slot];
            let due = s.up && s.timed_out_at != Some(self.now) && s.status.timeout_ms.is_some_and(|t| t <= self.now);
            if due && !matches!(s.party, Party::Replayer(_)) {
                self.slots[slot].timed_out_at = Some(self.now);
                self.input(slot, FlowInput::Timeout)?;
            }
        }
        Ok(())
    }

    /// Lets time pass with nothing scripted: `limit_ms` of deliveries and timers.
    pub fn wait(&mut self, ms: u64) -> Step {
        self.run_until(ms, |_| false).map(|_| ())
    }

    /// The guest's slot of a session.
    pub fn guest_of(&self, session: u64) -> Option<usize> {
        self.sessions.get(&session).map(|(_, g)| *g)
    }

    pub fn is_up(&self, slot: usize) -> bool {
        self.slots[slot].up
    }

    /// Whether anything is still to be delivered.
    pub fn idle(&self) -> bool {
        self.queue.is_empty()
    }

    // ----- observations -----

    pub fn status(&self, slot: usize) -> &Poll {
        &self.slots[slot].status
    }

    pub fn state(&self, slot: usize) -> &str {
        &self.slots[slot].status.state
    }

    pub fn events(&self, slot: usize) -> &[FlowOutput] {
        &self.slots[slot].events
    }

    pub fn terminal(&self, slot: usize) -> bool {
        is_terminal_name(self.state(slot))
    }

    pub fn waits_for_pin(&self, slot: usize) -> bool {
        self.state(slot) == "READY_FOR_AUTHENTICATION"
    }

    /// Connections a guest has opened so far.
    pub fn sessions_of(&self, slot: usize) -> usize {
        self.slots[slot].sessions
    }

    /// Connections the chaos reset so far.
    pub fn resets(&self) -> usize {
        self.severed.len()
    }

    pub fn session_touched(&self, session: u64) -> bool {
        self.touched.contains(&session)
    }

    pub fn name(&self, slot: usize) -> &str {
        &self.slots[slot].name
    }
}
