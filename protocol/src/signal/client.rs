//! The client side of signaling, as a Peer embeds it: the topics it wants to be on, kept
//! joined across reconnections and kept alive with pings, and the server's messages turned
//! into events.
//!
//! The server is untrusted (SPEC.md §8.1), so nothing it says is an error here: a message
//! about a topic this client did not join, a peer list naming the client itself, a flood of
//! peers, a frame that does not decode are all ignored and counted (`ignored`). What it
//! remembers is bounded by its own choices: topics it joined (at most
//! `topics_per_client_max`) and at most `peers_per_topic_max` peers per topic.

use std::collections::{BTreeMap, VecDeque};

use super::wire::{ADDR_SIZE_MAX, ClientFrame, ClientMessage, PAYLOAD_SIZE_MAX, ServerFrame, ServerMessage};
use super::{PeerInfo, SignalError, SignalLimits};
use crate::codec::Canonical;
use crate::hash::Digest;
use crate::keys::PublicKey;
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientInput<'a> {
    /// The driver's connection to the server is up (first time or again).
    Connected,
    /// A frame from the server.
    Frame { bytes: &'a [u8] },
    /// The connection to the server is gone; the driver reconnects when it sees fit.
    Disconnected,
    /// Time passed; ping if due.
    Timeout,
}

/// What the Peer learns from signaling. Every event is a hint from an untrusted server:
/// a peer is only ever trusted after the Noise handshake with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalEvent {
    /// The server says `info.peer` is on `topic`. Again for a known peer: its address changed.
    PeerAppeared { topic: Digest, info: PeerInfo },
    /// `peer` is no longer on `topic`, as far as this client knows: the server said so, the
    /// topic was left, or the connection to the server ended. Every `PeerAppeared` peer gets
    /// exactly one `PeerGone` before it can appear afresh.
    PeerGone { topic: Digest, peer: PublicKey },
    /// A message `from` a peer on `topic`, as the server claims.
    Relayed { topic: Digest, from: PublicKey, payload: Vec<u8> },
    /// The server refused something (the topic, when the refusal concerns one).
    Error(SignalError, Option<Digest>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOutput {
    /// A frame for the server.
    Transmit {
        bytes: Vec<u8>,
    },
    Event(SignalEvent),
    /// Nothing else to do until this time (or an input); last after each input.
    Timeout(Timestamp),
}

/// Why a command was refused locally (nothing was sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError {
    /// Already on `topics_per_client_max` topics.
    TooManyTopics,
    /// Leave or relay on a topic this client has not joined.
    NotJoined,
    /// A payload over `wire::PAYLOAD_SIZE_MAX`, or an address over `wire::ADDR_SIZE_MAX`.
    TooLarge,
    /// Not connected to the server: relays are not queued, since the layer above retries
    /// with fresher data once a path exists.
    Offline,
}

impl core::fmt::Display for CommandError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CommandError::TooManyTopics => "too many topics joined",
            CommandError::NotJoined => "topic not joined",
            CommandError::TooLarge => "payload or address exceeds its maximum",
            CommandError::Offline => "not connected to the signaling server",
        })
    }
}

impl std::error::Error for CommandError {}

#[derive(Debug, Default)]
struct Topic {
    /// The server accepted the join on the current connection.
    joined: bool,
    peers: BTreeMap<PublicKey, PeerInfo>,
}

/// A Peer's signaling state machine.
#[derive(Debug)]
pub struct SignalClient {
    info: PeerInfo,
    limits: SignalLimits,
    connected: bool,
    topics: BTreeMap<Digest, Topic>,
    next_ping: Option<Timestamp>,
    ignored: u64,
    out: VecDeque<ClientOutput>,
    timeout_due: bool,
    /// Where the rolling refresh resumes: the last topic re-joined.
    refreshed: Option<Digest>,
}

/// Topics re-joined with each ping. The server answers a repeated `Join` with a fresh
/// `Joined` snapshot, so a `Joined` or `PeerJoined` that was lost (or that a lying server
/// withheld) is made good within a few pings, without a flood: a device on 256 topics
/// refreshes each about every 11 minutes, one on a few topics every ping.
pub const REFRESH_PER_PING: usize = 8;

impl SignalClient {
    /// A client announcing `info` on every topic it joins.
    pub fn new(info: PeerInfo, limits: SignalLimits) -> Result<Self, CommandError> {
        if info.addr.len() > ADDR_SIZE_MAX {
            return Err(CommandError::TooLarge);
        }
        Ok(SignalClient {
            info,
            limits,
            connected: false,
            topics: BTreeMap::new(),
            next_ping: None,
            ignored: 0,
            out: VecDeque::new(),
            timeout_due: false,
            refreshed: None,
        })
    }

    // ----- commands -----

    /// Joins `topic` now if connected, else on connection; idempotent.
    pub fn join(&mut self, topic: Digest) -> Result<(), CommandError> {
        if self.topics.contains_key(&topic) {
            return Ok(());
        }
        if self.topics.len() >= self.limits.topics_per_client_max {
            return Err(CommandError::TooManyTopics);
        }
        self.topics.insert(topic, Topic::default());
        if self.connected {
            self.transmit(ClientMessage::Join { topic, info: self.info.clone() });
        }
        Ok(())
    }

    /// Leaves `topic`; its known peers are reported gone.
    pub fn leave(&mut self, topic: Digest) -> Result<(), CommandError> {
        let Some(state) = self.topics.remove(&topic) else {
            return Err(CommandError::NotJoined);
        };
        for peer in state.peers.into_keys() {
            self.event(SignalEvent::PeerGone { topic, peer });
        }
        if self.connected {
            self.transmit(ClientMessage::Leave { topic });
        }
        Ok(())
    }

    /// Asks the server to pass `payload` to `to` on `topic`. Best effort: the server may
    /// answer `UnknownPeer`, or drop it silently.
    pub fn relay(&mut self, topic: Digest, to: PublicKey, payload: Vec<u8>) -> Result<(), CommandError> {
        if !self.topics.contains_key(&topic) {
            return Err(CommandError::NotJoined);
        }
        if payload.len() > PAYLOAD_SIZE_MAX {
            return Err(CommandError::TooLarge);
        }
        if !self.connected {
            return Err(CommandError::Offline);
        }
        self.transmit(ClientMessage::Relay { topic, to, payload });
        Ok(())
    }

    // ----- sans-IO surface -----

    pub fn handle_input(&mut self, input: ClientInput<'_>, now: Timestamp) {
        match input {
            ClientInput::Connected => self.on_connected(now),
            ClientInput::Frame { bytes } => self.on_frame(bytes),
            ClientInput::Disconnected => self.on_disconnected(),
            ClientInput::Timeout => self.on_timeout(now),
        }
        self.timeout_due = true;
    }

    /// The queued outputs, then (once per input) the next deadline.
    pub fn poll_output(&mut self) -> Option<ClientOutput> {
        if let Some(out) = self.out.pop_front() {
            return Some(out);
        }
        if std::mem::take(&mut self.timeout_due) {
            return self.poll_timeout().map(ClientOutput::Timeout);
        }
        None
    }

    /// The next ping, while connected.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.next_ping
    }

    // ----- queries -----

    pub fn info(&self) -> &PeerInfo {
        &self.info
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Whether the server accepted the join of `topic` on the current connection.
    pub fn is_joined(&self, topic: &Digest) -> bool {
        self.topics.get(topic).is_some_and(|t| t.joined)
    }

    /// The topics this client holds (joined or waiting to be), in order.
    /// How many topics it may hold at once (`topics_per_client_max`).
    pub fn topic_limit(&self) -> usize {
        self.limits.topics_per_client_max
    }

    pub fn topics(&self) -> impl Iterator<Item = &Digest> {
        self.topics.keys()
    }

    /// The peers the server reported on `topic`, in key order.
    pub fn peers(&self, topic: &Digest) -> impl Iterator<Item = &PeerInfo> {
        self.topics.get(topic).into_iter().flat_map(|t| t.peers.values())
    }

    /// Server messages (or entries of them) ignored as redundant or nonsense: a measure of
    /// how much a server misbehaves.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    // ----- transitions -----

    fn on_connected(&mut self, now: Timestamp) {
        // A second `Connected` without `Disconnected` is a new connection all the same.
        self.forget_peers();
        self.connected = true;
        let topics: Vec<Digest> = self.topics.keys().copied().collect();
        for topic in topics {
            self.transmit(ClientMessage::Join { topic, info: self.info.clone() });
        }
        self.next_ping = Some(now.saturating_add_millis(self.limits.ping_interval_ms()));
    }

    fn on_disconnected(&mut self) {
        self.forget_peers();
        self.connected = false;
        self.next_ping = None;
    }

    fn on_timeout(&mut self, now: Timestamp) {
        let Some(_) = self.next_ping.filter(|at| *at <= now) else {
            return;
        };
        assert!(self.connected, "pings are scheduled only while connected");
        self.transmit(ClientMessage::Ping);
        self.refresh();
        self.next_ping = Some(now.saturating_add_millis(self.limits.ping_interval_ms()));
    }

    /// Re-joins the next `REFRESH_PER_PING` topics after the last one refreshed, in key
    /// order, wrapping around.
    fn refresh(&mut self) {
        let after = self.refreshed;
        let next: Vec<Digest> = self
            .topics
            .keys()
            .filter(|t| after.is_none_or(|a| **t > a))
            .chain(self.topics.keys().filter(|t| after.is_some_and(|a| **t <= a)))
            .take(REFRESH_PER_PING)
            .copied()
            .collect();
        for topic in next {
            self.refreshed = Some(topic);
            self.transmit(ClientMessage::Join { topic, info: self.info.clone() });
        }
    }

    fn on_frame(&mut self, bytes: &[u8]) {
        if !self.connected {
            return self.ignore();
        }
        let Ok(frame) = ServerFrame::from_bytes(bytes) else {
            return self.ignore();
        };
        match frame.message {
            ServerMessage::Joined { topic, peers } => {
                let Some(state) = self.topics.get_mut(&topic) else {
                    return self.ignore();
                };
                state.joined = true;
                for info in peers {
                    self.add_peer(topic, info);
                }
            }
            ServerMessage::PeerJoined { topic, info } => self.add_peer(topic, info),
            ServerMessage::PeerLeft { topic, peer } => self.remove_peer(topic, peer),
            ServerMessage::Relayed { topic, from, payload } => {
                if !self.topics.contains_key(&topic) || from == self.info.peer {
                    return self.ignore();
                }
                self.event(SignalEvent::Relayed { topic, from, payload });
            }
            ServerMessage::Pong => {}
            ServerMessage::Error { kind, topic } => self.on_error(kind, topic),
        }
    }

    fn on_error(&mut self, kind: SignalError, topic: Option<Digest>) {
        if let Some(topic) = topic {
            let Some(state) = self.topics.get_mut(&topic) else {
                return self.ignore();
            };
            match kind {
                // The server lost the registration (or never made it): ask again, once per
                // refusal, so even a lying server gets one frame per frame it sends.
                SignalError::NotJoined => self.transmit(ClientMessage::Join { topic, info: self.info.clone() }),
                // Refused or evicted for room: asked again by the rolling refresh (a few pings).
                SignalError::TooManyTopics
                | SignalError::TopicFull
                | SignalError::ServerFull
                | SignalError::Evicted => state.joined = false,
                _ => {}
            }
        }
        self.event(SignalEvent::Error(kind, topic));
    }

    // ----- helpers -----

    /// Records `info` as on `topic`, within the bounds and never this client itself.
    fn add_peer(&mut self, topic: Digest, info: PeerInfo) {
        let own = self.info.peer;
        let peers_max = self.limits.peers_per_topic_max;
        let Some(state) = self.topics.get_mut(&topic) else {
            return self.ignore();
        };
        if info.peer == own || state.peers.get(&info.peer) == Some(&info) {
            return self.ignore();
        }
        if !state.peers.contains_key(&info.peer) && state.peers.len() >= peers_max {
            return self.ignore();
        }
        state.peers.insert(info.peer, info.clone());
        assert!(state.peers.len() <= peers_max);
        self.event(SignalEvent::PeerAppeared { topic, info });
    }

    fn remove_peer(&mut self, topic: Digest, peer: PublicKey) {
        let removed = self.topics.get_mut(&topic).and_then(|state| state.peers.remove(&peer));
        if removed.is_none() {
            return self.ignore();
        }
        self.event(SignalEvent::PeerGone { topic, peer });
    }

    /// What this client knew of the server's view belongs to one connection.
    fn forget_peers(&mut self) {
        let mut gone = Vec::new();
        for (topic, state) in &mut self.topics {
            state.joined = false;
            gone.extend(std::mem::take(&mut state.peers).into_keys().map(|peer| (*topic, peer)));
        }
        for (topic, peer) in gone {
            self.event(SignalEvent::PeerGone { topic, peer });
        }
    }

    fn ignore(&mut self) {
        self.ignored = self.ignored.saturating_add(1);
    }

    fn transmit(&mut self, message: ClientMessage) {
        assert!(self.connected, "frames are only sent on a connection");
        self.out.push_back(ClientOutput::Transmit { bytes: ClientFrame::new(message).to_bytes() });
    }

    fn event(&mut self, event: SignalEvent) {
        self.out.push_back(ClientOutput::Event(event));
    }
}
