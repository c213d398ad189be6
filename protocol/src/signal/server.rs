//! The signaling server's state machine (SPEC.md §8): connections, their registrations on
//! topics, relays between them, and the limits that keep one client from hurting the others.
//!
//! The server holds nothing secret and decides nothing that matters for safety: it is a
//! directory and a mailbox. What it must get right is its own survival, so every table is
//! bounded by `SignalLimits`, every message costs a token, and a connection that goes quiet
//! for the TTL is dropped with its registrations.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::fairness::Shares;
use super::wire::{ClientFrame, ClientMessage, JOINED_PEERS_MAX, ServerFrame, ServerMessage};
use super::{ClientId, PeerInfo, SignalError, SignalLimits, Source};
use crate::codec::{Canonical, DecodeError};
use crate::hash::Digest;
use crate::keys::PublicKey;
use crate::mutants::{Mutant, active};
use crate::time::Timestamp;

/// A token is worth this many milli-tokens: integer refill at `rate_per_s` milli-tokens per
/// millisecond, so the bucket is exact and deterministic without floats.
const TOKEN_MILLI: u64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerInput<'a> {
    /// The driver accepted a connection from `source` (see `Source` for what to pass).
    Connected { client: ClientId, source: Source },
    /// A frame arrived on a connection. Frames of unknown connections (never connected, or
    /// already closed by the server) are ignored.
    Frame { client: ClientId, bytes: &'a [u8] },
    /// The connection is gone; its peers are told.
    Disconnected { client: ClientId },
    /// Time passed; expire stale registrations.
    Timeout,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOutput {
    Transmit {
        client: ClientId,
        bytes: Vec<u8>,
    },
    /// The driver should close this connection (after sending what came before). The server
    /// has already forgotten it.
    Disconnect {
        client: ClientId,
    },
    /// Nothing else to do until this time (or an input); last after each input.
    Timeout(Timestamp),
}

/// A token bucket, refilled by `now` rather than by a timer.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    milli: u64,
    at: Timestamp,
}

impl Bucket {
    fn full(limits: &SignalLimits, now: Timestamp) -> Self {
        Bucket { milli: limits.rate_burst_max.saturating_mul(TOKEN_MILLI), at: now }
    }

    /// Takes one token if there is one. A clock that steps back refills nothing.
    fn take(&mut self, limits: &SignalLimits, now: Timestamp) -> bool {
        let elapsed_ms = now.as_millis().saturating_sub(self.at.as_millis());
        let cap = limits.rate_burst_max.saturating_mul(TOKEN_MILLI);
        self.milli = self.milli.saturating_add(elapsed_ms.saturating_mul(limits.rate_per_s)).min(cap);
        self.at = self.at.max(now);
        if self.milli < TOKEN_MILLI {
            return false;
        }
        self.milli -= TOKEN_MILLI;
        true
    }
}

#[derive(Debug)]
struct Connection {
    source: Source,
    /// The topics this connection is registered on; its `PeerInfo`s live in the topic table.
    topics: BTreeSet<Digest>,
    expires_at: Timestamp,
    bucket: Bucket,
    violations: u32,
    /// In a run of rate-limited messages: only the first is answered, so a flood is not
    /// mirrored back.
    limited: bool,
}

/// One topic: the connections on it, each with what it announced there, and the source its
/// slot in the topic table is charged to.
#[derive(Debug)]
struct Topic {
    members: BTreeMap<ClientId, PeerInfo>,
    /// The source of the connection that created the topic while it is still on it; then
    /// that of the remaining connection with the least `ClientId`.
    charged: Source,
}

/// The signaling server. One per process; the driver maps sockets to `ClientId`s.
#[derive(Debug)]
pub struct SignalServer {
    limits: SignalLimits,
    clients: BTreeMap<ClientId, Connection>,
    topics: BTreeMap<Digest, Topic>,
    /// Connections per source, and topics per source they are charged to (§8.3.8).
    connections_of: Shares<ClientId>,
    topics_of: Shares<Digest>,
    /// `(expires_at, client)` for every connection: the next expiry without a scan.
    expiries: BTreeSet<(Timestamp, ClientId)>,
    out: VecDeque<ServerOutput>,
    timeout_due: bool,
}

impl SignalServer {
    pub fn new(limits: SignalLimits) -> Self {
        SignalServer {
            limits,
            clients: BTreeMap::new(),
            topics: BTreeMap::new(),
            connections_of: Shares::default(),
            topics_of: Shares::default(),
            expiries: BTreeSet::new(),
            out: VecDeque::new(),
            timeout_due: false,
        }
    }

    pub fn limits(&self) -> &SignalLimits {
        &self.limits
    }

    pub fn handle_input(&mut self, input: ServerInput<'_>, now: Timestamp) {
        match input {
            ServerInput::Connected { client, source } => self.on_connected(client, source, now),
            ServerInput::Frame { client, bytes } => self.on_frame(client, bytes, now),
            ServerInput::Disconnected { client } => self.drop_client(client),
            ServerInput::Timeout => self.on_timeout(now),
        }
        self.timeout_due = true;
    }

    /// The queued outputs, then (once per input) the next deadline.
    pub fn poll_output(&mut self) -> Option<ServerOutput> {
        if let Some(out) = self.out.pop_front() {
            return Some(out);
        }
        if std::mem::take(&mut self.timeout_due) {
            return self.poll_timeout().map(ServerOutput::Timeout);
        }
        None
    }

    /// The earliest registration expiry.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.expiries.first().map(|(at, _)| *at)
    }

    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    /// The topics `client` is registered on (0 for an unknown connection).
    pub fn topics_of(&self, client: ClientId) -> usize {
        self.clients.get(&client).map_or(0, |c| c.topics.len())
    }

    /// Registrations in total (connection × topic).
    pub fn registration_count(&self) -> usize {
        self.topics.values().map(|t| t.members.len()).sum()
    }

    /// Who is on `topic`, in `ClientId` order.
    pub fn members(&self, topic: &Digest) -> impl Iterator<Item = (ClientId, &PeerInfo)> {
        self.topics.get(topic).into_iter().flat_map(|t| &t.members).map(|(id, info)| (*id, info))
    }

    /// Panics unless the tables agree with each other and with the limits. For tests and
    /// the simulator: a failure is a bug in this module, never bad input.
    pub fn assert_invariants(&self) {
        let limits = &self.limits;
        assert!(self.clients.len() <= limits.clients_max);
        assert!(self.topics.len() <= limits.topics_max);
        assert_eq!(self.expiries.len(), self.clients.len());
        for (id, conn) in &self.clients {
            assert!(conn.topics.len() <= limits.topics_per_client_max);
            assert!(conn.violations <= limits.violations_max);
            assert!(self.expiries.contains(&(conn.expires_at, *id)));
            for topic in &conn.topics {
                assert!(
                    self.topics.get(topic).is_some_and(|t| t.members.contains_key(id)),
                    "registration in both tables"
                );
            }
        }
        for (topic, t) in &self.topics {
            assert!(!t.members.is_empty(), "empty topics are removed");
            assert!(t.members.len() <= limits.peers_per_topic_max);
            for id in t.members.keys() {
                assert!(self.clients.get(id).is_some_and(|c| c.topics.contains(topic)), "member is connected");
            }
            assert!(self.topics_of.holds(&t.charged, topic), "a topic is charged to its source");
            assert!(t.members.keys().any(|id| self.clients[id].source == t.charged), "charged to a source on it");
        }
        for (id, conn) in &self.clients {
            assert!(self.connections_of.holds(&conn.source, id), "a connection is counted for its source");
            assert!(self.connections_of.count(&conn.source) <= limits.clients_per_source_max);
        }
        assert_eq!(self.topics_of.total(), self.topics.len());
        assert_eq!(self.connections_of.total(), self.clients.len());
        self.topics_of.assert_consistent();
        self.connections_of.assert_consistent();
    }

    // ----- transitions -----

    fn on_connected(&mut self, client: ClientId, source: Source, now: Timestamp) {
        // A reused id is a new connection: the old one's peers must hear it left.
        self.drop_client(client);
        if let Some(kind) = self.connection_refusal(&source) {
            self.send(client, ServerMessage::Error { kind, topic: None });
            self.out.push_back(ServerOutput::Disconnect { client });
            return;
        }
        let expires_at = now.saturating_add_millis(self.limits.registration_ttl_ms);
        self.connections_of.insert(source, client);
        let conn = Connection {
            source,
            topics: BTreeSet::new(),
            expires_at,
            bucket: Bucket::full(&self.limits, now),
            violations: 0,
            limited: false,
        };
        self.clients.insert(client, conn);
        self.expiries.insert((expires_at, client));
    }

    fn on_frame(&mut self, client: ClientId, bytes: &[u8], now: Timestamp) {
        let Some(conn) = self.clients.get_mut(&client) else {
            return;
        };
        // The token is taken before decoding, so garbage costs its sender as much as sense.
        if !conn.bucket.take(&self.limits, now) {
            if !std::mem::replace(&mut conn.limited, true) {
                self.send(client, ServerMessage::Error { kind: SignalError::RateLimited, topic: None });
            }
            return;
        }
        conn.limited = false;
        let frame = match ClientFrame::from_bytes(bytes) {
            Ok(frame) => frame,
            Err(DecodeError::TooLarge { .. }) => return self.violation(client, SignalError::TooLarge),
            Err(_) => return self.violation(client, SignalError::Malformed),
        };
        self.refresh(client, now);
        match frame.message {
            ClientMessage::Join { topic, info } => self.join(client, topic, info),
            ClientMessage::Leave { topic } => self.leave(client, topic),
            ClientMessage::Relay { topic, to, payload } => self.relay(client, topic, to, payload),
            ClientMessage::Ping => self.send(client, ServerMessage::Pong),
        }
    }

    /// Why a connection from `source` cannot be held, if it cannot: its source is at its
    /// cap, or the table is full and no source gives way (§8.3.8). When one does, its newest
    /// connection is evicted to make the room.
    fn connection_refusal(&mut self, source: &Source) -> Option<SignalError> {
        let unfair = active(Mutant::SignalUnfair);
        if self.connections_of.count(source) >= self.limits.clients_per_source_max && !unfair {
            return Some(SignalError::SourceFull);
        }
        if self.clients.len() < self.limits.clients_max {
            return None;
        }
        if unfair {
            return Some(SignalError::ServerFull);
        }
        let newest = |held: &BTreeSet<ClientId>| held.last().copied();
        let Some((_, victim)) = self.connections_of.take_for(source, newest) else {
            return Some(SignalError::ServerFull);
        };
        self.send(victim, ServerMessage::Error { kind: SignalError::Evicted, topic: None });
        self.drop_client(victim);
        self.out.push_back(ServerOutput::Disconnect { client: victim });
        None
    }

    fn join(&mut self, client: ClientId, topic: Digest, info: PeerInfo) {
        let conn = self.clients.get(&client).expect("caller checked the connection");
        let source = conn.source;
        if let Some(kind) = self.join_refusal(conn, &topic)
            && (kind != SignalError::ServerFull || !self.evict_topic_for(&source))
        {
            return self.send(client, ServerMessage::Error { kind, topic: Some(topic) });
        }
        let entry = self.topics.entry(topic).or_insert_with(|| Topic { members: BTreeMap::new(), charged: source });
        if entry.members.is_empty() {
            self.topics_of.insert(source, topic);
        }
        let members = &mut entry.members;
        let previous = members.insert(client, info.clone());
        assert!(members.len() <= self.limits.peers_per_topic_max);
        let conn = self.clients.get_mut(&client).expect("caller checked the connection");
        conn.topics.insert(topic);
        assert!(conn.topics.len() <= self.limits.topics_per_client_max);
        self.send_snapshot(client, topic, info.peer);
        if previous.as_ref() == Some(&info) {
            return;
        }
        self.fan_out(topic, Some(client), &ServerMessage::PeerJoined { topic, info: info.clone() });
        if let Some(previous) = previous.filter(|p| p.peer != info.peer) {
            self.announce_left(topic, previous.peer);
        }
    }

    /// Why a join cannot be made, if it cannot. Re-joining a held topic is no new
    /// registration, so it always can.
    fn join_refusal(&self, conn: &Connection, topic: &Digest) -> Option<SignalError> {
        if conn.topics.contains(topic) {
            return None;
        }
        if conn.topics.len() >= self.limits.topics_per_client_max {
            return Some(SignalError::TooManyTopics);
        }
        match self.topics.get(topic) {
            Some(t) if t.members.len() >= self.limits.peers_per_topic_max => Some(SignalError::TopicFull),
            None if self.topics.len() >= self.limits.topics_max => Some(SignalError::ServerFull),
            _ => None,
        }
    }

    /// Frees a slot in a full topic table for `source` by evicting a whole topic charged to
    /// the heaviest source, if that source holds more than `source` would (§8.3.8). Every
    /// connection on it is told `Evicted`; none of them is left to hear a `PeerLeft`.
    fn evict_topic_for(&mut self, source: &Source) -> bool {
        if active(Mutant::SignalUnfair) {
            return false;
        }
        let first = |held: &BTreeSet<Digest>| held.first().copied();
        let Some((charged, victim)) = self.topics_of.take_for(source, first) else { return false };
        let topic = self.topics.remove(&victim).expect("a charged topic exists");
        self.topics_of.remove(charged, &victim);
        for id in topic.members.keys() {
            let conn = self.clients.get_mut(id).expect("a member is connected");
            conn.topics.remove(&victim);
            self.send(*id, ServerMessage::Error { kind: SignalError::Evicted, topic: Some(victim) });
        }
        true
    }

    fn leave(&mut self, client: ClientId, topic: Digest) {
        let conn = self.clients.get_mut(&client).expect("caller checked the connection");
        if !conn.topics.remove(&topic) {
            return self.send(client, ServerMessage::Error { kind: SignalError::NotJoined, topic: Some(topic) });
        }
        self.unregister(topic, client);
    }

    fn relay(&mut self, client: ClientId, topic: Digest, to: PublicKey, payload: Vec<u8>) {
        let Some(from) = self.topics.get(&topic).and_then(|t| t.members.get(&client)).map(|info| info.peer) else {
            return self.send(client, ServerMessage::Error { kind: SignalError::NotJoined, topic: Some(topic) });
        };
        let recipients: Vec<ClientId> =
            self.members(&topic).filter(|(id, info)| *id != client && info.peer == to).map(|(id, _)| id).collect();
        if recipients.is_empty() {
            return self.send(client, ServerMessage::Error { kind: SignalError::UnknownPeer, topic: Some(topic) });
        }
        let bytes = ServerFrame::new(ServerMessage::Relayed { topic, from, payload }).to_bytes();
        for id in recipients {
            self.out.push_back(ServerOutput::Transmit { client: id, bytes: bytes.clone() });
        }
    }

    fn on_timeout(&mut self, now: Timestamp) {
        while let Some(&(at, client)) = self.expiries.first() {
            if at > now {
                break;
            }
            self.drop_client(client);
            self.out.push_back(ServerOutput::Disconnect { client });
        }
    }

    /// A malformed or oversized frame: answered, counted, and past `violations_max` the end
    /// of the connection.
    fn violation(&mut self, client: ClientId, kind: SignalError) {
        let conn = self.clients.get_mut(&client).expect("caller checked the connection");
        conn.violations += 1;
        let abusive = conn.violations > self.limits.violations_max;
        self.send(client, ServerMessage::Error { kind, topic: None });
        if abusive {
            self.drop_client(client);
            self.out.push_back(ServerOutput::Disconnect { client });
        }
    }

    // ----- helpers -----

    /// Forgets a connection and all its registrations; its peers are told. Idempotent.
    fn drop_client(&mut self, client: ClientId) {
        let Some(conn) = self.clients.remove(&client) else {
            return;
        };
        let indexed = self.expiries.remove(&(conn.expires_at, client));
        assert!(indexed, "every connection has its expiry indexed");
        self.connections_of.remove(conn.source, &client);
        for topic in conn.topics {
            self.unregister(topic, client);
        }
    }

    /// Removes one registration from the topic table (the caller has removed it from the
    /// connection's set) and tells the rest of the topic if its key is gone.
    fn unregister(&mut self, topic: Digest, client: ClientId) {
        let t = self.topics.get_mut(&topic).expect("a registration is in both tables");
        let info = t.members.remove(&client).expect("a registration is in both tables");
        let charged = t.charged;
        let Some(&heir) = t.members.keys().next() else {
            self.topics.remove(&topic);
            self.topics_of.remove(charged, &topic);
            return;
        };
        // The slot stays charged to a source that is still on the topic.
        let clients = &self.clients;
        if !t.members.keys().any(|id| clients[id].source == charged) {
            t.charged = clients[&heir].source;
            self.topics_of.remove(charged, &topic);
            self.topics_of.insert(t.charged, topic);
        }
        self.announce_left(topic, info.peer);
    }

    /// `PeerLeft` to everyone on the topic, unless another connection still claims the key.
    fn announce_left(&mut self, topic: Digest, peer: PublicKey) {
        if self.members(&topic).any(|(_, info)| info.peer == peer) {
            return;
        }
        self.fan_out(topic, None, &ServerMessage::PeerLeft { topic, peer });
    }

    /// The current peers of `topic` as `Joined` pages: one entry per key but the joiner's
    /// own (the highest `ClientId` wins, the likely newest connection), in key order.
    fn send_snapshot(&mut self, client: ClientId, topic: Digest, own: PublicKey) {
        let mut peers: BTreeMap<PublicKey, PeerInfo> = BTreeMap::new();
        for (id, info) in self.members(&topic) {
            if id != client && info.peer != own {
                peers.insert(info.peer, info.clone());
            }
        }
        let peers: Vec<PeerInfo> = peers.into_values().collect();
        let mut pages = peers.chunks(JOINED_PEERS_MAX).peekable();
        if pages.peek().is_none() {
            return self.send(client, ServerMessage::Joined { topic, peers: Vec::new() });
        }
        for page in pages {
            let bytes = ServerFrame::new(ServerMessage::Joined { topic, peers: page.to_vec() }).to_bytes();
            self.out.push_back(ServerOutput::Transmit { client, bytes });
        }
    }

    /// Sends `message` to every connection on `topic` but `except`, encoded once.
    fn fan_out(&mut self, topic: Digest, except: Option<ClientId>, message: &ServerMessage) {
        let bytes = ServerFrame::new(message.clone()).to_bytes();
        let ids: Vec<ClientId> = self.members(&topic).map(|(id, _)| id).filter(|id| Some(*id) != except).collect();
        for client in ids {
            self.out.push_back(ServerOutput::Transmit { client, bytes: bytes.clone() });
        }
    }

    fn refresh(&mut self, client: ClientId, now: Timestamp) {
        let conn = self.clients.get_mut(&client).expect("caller checked the connection");
        let indexed = self.expiries.remove(&(conn.expires_at, client));
        assert!(indexed, "every connection has its expiry indexed");
        conn.expires_at = now.saturating_add_millis(self.limits.registration_ttl_ms);
        self.expiries.insert((conn.expires_at, client));
    }

    fn send(&mut self, client: ClientId, message: ServerMessage) {
        self.out.push_back(ServerOutput::Transmit { client, bytes: ServerFrame::new(message).to_bytes() });
    }
}
