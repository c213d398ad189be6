//! The node loop: one `Peer` driven over TCP, with time from the system clock, randomness from
//! the OS and durability from the store. The shape is the simulator's (`sim/src/world/drive.rs`):
//! feed one input with `now`, drain `poll_output` until `Timeout`, append every `Persist` and
//! answer `Durable` once the records are committed, which releases what the Peer held back.
//!
//! A command drives the loop with [`Node::step`] (one input per call) and reads the Peer's
//! events from [`Node::next_event`]; the loop itself decides nothing the protocol decides.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand_core::OsRng;
use spaces_protocol::Canonical;
use spaces_protocol::peer::{Command, ConnId, Event, Input, Output, Peer, PeerFrame};
use spaces_protocol::signal::client::ClientInput;
use spaces_protocol::{Client, Timestamp};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::error::NodeError;
use crate::net::{self, Link, NetEvent};
use crate::store::{LOG_RECORDS_MAX, Store};

/// The largest peer frame (SPEC.md §9.1): the transport refuses longer ones before buffering.
pub const PEER_FRAME_SIZE_MAX: usize = <PeerFrame as Canonical>::ENCODED_SIZE_MAX;
/// The largest signaling frame (SPEC.md §8.2).
pub const SIGNAL_FRAME_SIZE_MAX: usize = spaces_protocol::signal::wire::FRAME_SIZE_MAX;
/// Wait before redialling a lost signaling server: often enough to be found again soon after
/// it restarts, rarely enough not to hammer one that is down.
const SIGNAL_RECONNECT: Duration = Duration::from_secs(1);
/// Addresses whose failed dials are counted at once (the Peer wants at most 1024 devices).
const DIAL_FAILURES_MAX: usize = 1024;
/// Inbound connection ids count up from 1; the Peer names its own from 2^62 + 1 (SPEC.md §9.4.1).
const INBOUND_ID_MAX: u64 = 1 << 62;

/// The system clock as the protocol's `Timestamp` (milliseconds since the Unix epoch). A clock
/// before 1970 reads as 0: timestamps inside credentials are informative only (SPEC.md §1).
pub fn now() -> Timestamp {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    Timestamp::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Which connection a network event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// The signaling connection, by attempt: events of an older attempt are stale.
    Signal(u64),
    Peer(ConnId),
}

/// Inputs that arise while a drain is running and are fed after it.
#[derive(Debug)]
enum Deferred {
    ConnectFailed(ConnId),
    Closed(ConnId),
}

/// What one call to `step` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Progress,
    /// The caller's deadline passed.
    Deadline,
    /// Ctrl-C.
    Interrupted,
}

struct Signaling {
    addr: SocketAddr,
    attempt: u64,
    link: Option<Link>,
    redial_at: Option<Instant>,
}

pub struct Node {
    pub peer: Peer,
    pub store: Store,
    log_len: u64,
    timer: Timestamp,
    links: BTreeMap<ConnId, Link>,
    deferred: VecDeque<Deferred>,
    events: VecDeque<Event>,
    signal: Option<Signaling>,
    rx: mpsc::Receiver<NetEvent<Key>>,
    tx: mpsc::Sender<NetEvent<Key>>,
    interrupts: mpsc::Receiver<()>,
    /// Where peers reach us: what the Peer announces.
    pub listen: Option<SocketAddr>,
    /// The address of each dial in flight, and failed dials in a row per address: how a
    /// command tells "nobody answers there" from "nobody is there" (an unreachable host).
    dialling: BTreeMap<ConnId, Vec<u8>>,
    dial_failures: BTreeMap<Vec<u8>, u32>,
    /// When the last peer frame arrived: commands wait for replication to go quiet.
    pub last_frame: Instant,
}

impl Node {
    /// A new device in `home`: fresh identity from the OS CSPRNG, its first record on disk.
    pub fn init(home: &Path) -> Result<Node, NodeError> {
        let store = Store::open(home, true)?;
        let now = now();
        let client = Client::create_identity(&mut OsRng, now);
        let peer = Peer::new(client, Vec::new(), now, &mut OsRng);
        let mut node = Node::build(peer, store, None, 0);
        node.drain()?;
        Ok(node)
    }

    /// The device in `home`, restored from its log, with no network: for commands that only
    /// read or write the local replica.
    pub fn offline(home: &Path) -> Result<Node, NodeError> {
        let store = Store::open(home, false)?;
        let log = store.log()?;
        let len = log.len() as u64;
        let peer = Peer::restore(log, Vec::new(), now(), &mut OsRng)
            .map_err(|e| NodeError::Restore { detail: format!("{e:?}") })?;
        Ok(Node::build(peer, store, None, len))
    }

    /// The device in `home`, listening on `listen` (announced to others as its address) and
    /// connected to the signaling server at `signal`.
    pub async fn online(home: &Path, signal: SocketAddr, listen: SocketAddr) -> Result<Node, NodeError> {
        let store = Store::open(home, false)?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| NodeError::Listen { addr: listen.to_string(), detail: e.to_string() })?;
        let local =
            listener.local_addr().map_err(|e| NodeError::Listen { addr: listen.to_string(), detail: e.to_string() })?;
        let log = store.log()?;
        let len = log.len() as u64;
        let peer = Peer::restore(log, local.to_string().into_bytes(), now(), &mut OsRng)
            .map_err(|e| NodeError::Restore { detail: format!("{e:?}") })?;
        let mut node = Node::build(peer, store, Some(local), len);
        let next = Arc::new(AtomicU64::new(1));
        let next_key = move || Key::Peer(next.fetch_add(1, Ordering::Relaxed) % INBOUND_ID_MAX);
        net::accept_loop(listener, PEER_FRAME_SIZE_MAX, next_key, node.tx.clone());
        node.connect_signal(signal).await?;
        tracing::info!(listen = %local, signal = %signal, "online");
        Ok(node)
    }

    fn build(peer: Peer, store: Store, listen: Option<SocketAddr>, log_len: u64) -> Node {
        let (tx, rx) = mpsc::channel(net::EVENT_QUEUE_MAX);
        let (itx, interrupts) = mpsc::channel(1);
        if listen.is_some() {
            tokio::spawn(async move {
                while tokio::signal::ctrl_c().await.is_ok() {
                    if itx.send(()).await.is_err() {
                        return;
                    }
                }
            });
        }
        let timer = peer.poll_timeout();
        Node {
            peer,
            store,
            log_len,
            timer,
            links: BTreeMap::new(),
            deferred: VecDeque::new(),
            events: VecDeque::new(),
            signal: None,
            rx,
            tx,
            interrupts,
            listen,
            dialling: BTreeMap::new(),
            dial_failures: BTreeMap::new(),
            last_frame: Instant::now(),
        }
    }

    /// The first signaling connection is made before the command starts, so an unreachable
    /// server is one clear error rather than a silent wait; later losses are redialled.
    async fn connect_signal(&mut self, addr: SocketAddr) -> Result<(), NodeError> {
        let unreachable = |detail: String| NodeError::SignalUnreachable { addr: addr.to_string(), detail };
        let stream = tokio::time::timeout(net::DIAL_TIMEOUT, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| unreachable("timed out".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        let (link, reader) = net::open(stream, SIGNAL_FRAME_SIZE_MAX).map_err(|e| unreachable(e.to_string()))?;
        reader.spawn(Key::Signal(0), self.tx.clone());
        self.signal = Some(Signaling { addr, attempt: 0, link: Some(link), redial_at: None });
        self.feed(Input::Signal(ClientInput::Connected))
    }

    /// The next event the Peer reported, in order.
    pub fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Gives the Peer one input now, and everything it implies.
    pub fn feed(&mut self, input: Input<'_>) -> Result<(), NodeError> {
        self.peer.handle_input(input, now());
        self.drain()
    }

    /// Gives the Peer a user's command: a refusal is an error naming the command; otherwise
    /// what it did is drained and committed like any input's.
    pub fn command(&mut self, command: &Command) -> Result<(), NodeError> {
        let refused = self.peer.command(command, now());
        self.drain()?;
        refused.map_err(|e| NodeError::Refused { what: crate::local::describe(command).into(), detail: e.to_string() })
    }

    /// Drains outputs until `Timeout`; commits what was persisted, reports it durable and
    /// drains again, until a drain persists nothing. Then compacts the log if it is long.
    fn drain(&mut self) -> Result<(), NodeError> {
        loop {
            let mut records = Vec::new();
            let mut persisted = None;
            while let Some(out) = self.peer.poll_output() {
                match out {
                    Output::Persist { seq, records: r } => {
                        records.extend(r);
                        persisted = Some(seq);
                    }
                    Output::Timeout(at) => {
                        self.timer = at;
                        break;
                    }
                    other => self.act(other),
                }
            }
            let Some(seq) = persisted else { break };
            // Group commit: one transaction for the drain's records, then `Durable` for the
            // last seq, which releases every output the Peer held behind them.
            self.store.append(&records)?;
            self.log_len += records.len() as u64;
            self.peer.handle_input(Input::Durable { seq }, now());
        }
        if self.log_len > LOG_RECORDS_MAX {
            self.store.compact(self.peer.snapshot())?;
            self.log_len = 1;
        }
        while let Some(d) = self.deferred.pop_front() {
            let input = match d {
                Deferred::ConnectFailed(conn) => Input::ConnectFailed { conn },
                Deferred::Closed(conn) => Input::Closed { conn },
            };
            self.peer.handle_input(input, now());
            self.drain()?;
        }
        Ok(())
    }

    fn act(&mut self, out: Output) {
        match out {
            Output::SignalTransmit { bytes } => {
                let sent = self.signal.as_ref().and_then(|s| s.link.as_ref()).is_some_and(|l| l.send(bytes));
                if !sent {
                    tracing::debug!("signaling frame dropped: not connected or backlogged");
                }
            }
            Output::Connect { conn, addr } => match std::str::from_utf8(&addr).ok().and_then(|a| a.parse().ok()) {
                Some(sock) => {
                    tracing::debug!(conn, addr = %sock, "dial");
                    self.dialling.insert(conn, addr);
                    net::dial(sock, Key::Peer(conn), PEER_FRAME_SIZE_MAX, self.tx.clone());
                }
                // An address we cannot read (from another driver, or a lying server) fails
                // like an unreachable one.
                None => self.deferred.push_back(Deferred::ConnectFailed(conn)),
            },
            Output::Transmit { conn, bytes } => {
                if let Some(link) = self.links.get(&conn)
                    && !link.send(bytes)
                {
                    tracing::debug!(conn, "peer backlogged: closing");
                    self.links.remove(&conn);
                    self.deferred.push_back(Deferred::Closed(conn));
                }
            }
            Output::Close { conn } => {
                self.links.remove(&conn);
            }
            Output::Event(event) => {
                tracing::debug!(?event, "event");
                self.events.push_back(event);
            }
            Output::Persist { .. } | Output::Timeout(_) => unreachable!("handled by drain"),
        }
    }

    /// Waits for one thing (a frame, a connection event, the Peer's timer, the signaling
    /// redial, Ctrl-C or `until`) and handles it.
    pub async fn step(&mut self, until: Option<Instant>) -> Result<Step, NodeError> {
        let wait = Duration::from_millis(self.timer.as_millis().saturating_sub(now().as_millis()));
        // A timer already due still yields for a millisecond, so a Peer that keeps asking for
        // a past time cannot spin the loop.
        let timer = Instant::now() + wait.max(Duration::from_millis(1));
        let redial = self.signal.as_ref().and_then(|s| s.redial_at);
        let far = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            ev = self.rx.recv() => {
                let ev = ev.expect("the node holds a sender");
                self.net_event(ev)?;
            }
            _ = tokio::time::sleep_until(timer) => self.feed(Input::Timeout)?,
            _ = tokio::time::sleep_until(redial.unwrap_or(far)), if redial.is_some() => self.redial_signal(),
            _ = tokio::time::sleep_until(until.unwrap_or(far)), if until.is_some() => return Ok(Step::Deadline),
            Some(()) = self.interrupts.recv() => return Ok(Step::Interrupted),
        }
        Ok(Step::Progress)
    }

    fn redial_signal(&mut self) {
        let Some(s) = self.signal.as_mut() else { return };
        s.redial_at = None;
        s.attempt += 1;
        tracing::debug!(addr = %s.addr, attempt = s.attempt, "redialling the signaling server");
        net::dial(s.addr, Key::Signal(s.attempt), SIGNAL_FRAME_SIZE_MAX, self.tx.clone());
    }

    fn net_event(&mut self, ev: NetEvent<Key>) -> Result<(), NodeError> {
        match ev {
            NetEvent::Dialled { key: Key::Peer(conn), result: Ok(link) } => {
                if let Some(addr) = self.dialling.remove(&conn) {
                    self.dial_failures.remove(&addr);
                }
                self.links.insert(conn, link);
                self.feed(Input::Connected { conn })
            }
            NetEvent::Dialled { key: Key::Peer(conn), result: Err(e) } => {
                tracing::debug!(conn, error = %e, "dial failed");
                if let Some(addr) = self.dialling.remove(&conn) {
                    // Addresses come from an untrusted server: a bounded table, forgotten whole
                    // when full (it only shapes a hint).
                    if self.dial_failures.len() >= DIAL_FAILURES_MAX {
                        self.dial_failures.clear();
                    }
                    *self.dial_failures.entry(addr).or_default() += 1;
                }
                self.feed(Input::ConnectFailed { conn })
            }
            NetEvent::Accepted { key: Key::Peer(conn), link } => {
                tracing::debug!(conn, from = %link.peer, "accepted");
                self.links.insert(conn, link);
                self.feed(Input::Accepted { conn })
            }
            NetEvent::Frame { key: Key::Peer(conn), bytes } if self.links.contains_key(&conn) => {
                self.last_frame = Instant::now();
                self.feed(Input::Frame { conn, bytes: &bytes })
            }
            NetEvent::Closed { key: Key::Peer(conn) } if self.links.remove(&conn).is_some() => {
                self.feed(Input::Closed { conn })
            }
            NetEvent::Frame { key: Key::Peer(_), .. } | NetEvent::Closed { key: Key::Peer(_) } => Ok(()),
            NetEvent::Accepted { key: Key::Signal(_), .. } => Ok(()),
            NetEvent::Dialled { key: Key::Signal(attempt), result } => self.signal_dialled(attempt, result),
            NetEvent::Frame { key: Key::Signal(attempt), bytes } if self.is_current(attempt) => {
                self.feed(Input::Signal(ClientInput::Frame { bytes: &bytes }))
            }
            NetEvent::Closed { key: Key::Signal(attempt) } if self.is_current(attempt) => {
                tracing::info!("signaling connection lost; redialling");
                if let Some(s) = self.signal.as_mut() {
                    s.link = None;
                    s.redial_at = Some(Instant::now() + SIGNAL_RECONNECT);
                }
                self.feed(Input::Signal(ClientInput::Disconnected))
            }
            NetEvent::Frame { key: Key::Signal(_), .. } | NetEvent::Closed { key: Key::Signal(_) } => Ok(()),
        }
    }

    fn is_current(&self, attempt: u64) -> bool {
        self.signal.as_ref().is_some_and(|s| s.attempt == attempt && s.link.is_some())
    }

    fn signal_dialled(&mut self, attempt: u64, result: Result<Link, String>) -> Result<(), NodeError> {
        let Some(s) = self.signal.as_mut().filter(|s| s.attempt == attempt) else { return Ok(()) };
        match result {
            Ok(link) => {
                tracing::info!(addr = %s.addr, "signaling connection up");
                s.link = Some(link);
                self.feed(Input::Signal(ClientInput::Connected))
            }
            Err(e) => {
                tracing::debug!(error = %e, "signaling server unreachable");
                s.redial_at = Some(Instant::now() + SIGNAL_RECONNECT);
                Ok(())
            }
        }
    }

    /// Closes every connection after what is queued on it, waiting up to `grace` for those
    /// frames to leave (an answer to a guest, entries for a peer), then returns.
    pub async fn shutdown(mut self, grace: Duration) {
        let mut writers: Vec<_> = std::mem::take(&mut self.links).into_values().map(Link::finish).collect();
        if let Some(link) = self.signal.take().and_then(|s| s.link) {
            writers.push(link.finish());
        }
        let _ = tokio::time::timeout(grace, async {
            for w in writers {
                let _ = w.await;
            }
        })
        .await;
    }
}
