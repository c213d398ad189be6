//! Signaling: how peers find each other (SPEC.md §8). A `SignalServer` keeps, per *topic*,
//! the peers currently joined to it, tells them when others appear or leave, and relays small
//! messages between two peers on the same topic: enough to set up a direct connection, and a
//! fallback path for frames when no direct path exists. A Peer embeds a `SignalClient`, which
//! keeps its topics joined across reconnects and turns what the server says into events.
//!
//! - [`wire`]: the frames, both directions.
//! - [`server`]: the server's state machine, with its limits.
//! - [`client`]: the client's state machine.
//!
//! Both are sans-IO, like the rest of the crate: inputs carry `now`, outputs are polled.
//!
//! ```
//! use spaces_protocol::hash::Digest;
//! use spaces_protocol::signal::{ClientId, PeerInfo, SignalLimits, Source};
//! use spaces_protocol::signal::client::{ClientInput, ClientOutput, SignalClient};
//! use spaces_protocol::signal::server::{ServerInput, ServerOutput, SignalServer};
//! use spaces_protocol::{PublicKey, Timestamp};
//!
//! let now = Timestamp::from_millis(0);
//! let mut server = SignalServer::new(SignalLimits::default());
//! let info = PeerInfo { peer: PublicKey([1; 32]), addr: b"quic://a".to_vec() };
//! let mut client = SignalClient::new(info, SignalLimits::default()).unwrap();
//! client.join(Digest([7; 32])).unwrap();
//! server.handle_input(ServerInput::Connected { client: ClientId(1), source: Source([0; 16]) }, now);
//! client.handle_input(ClientInput::Connected, now);
//! // The driver's loop: move bytes between the two until neither has anything to say.
//! loop {
//!     let mut moved = false;
//!     while let Some(out) = client.poll_output() {
//!         if let ClientOutput::Transmit { bytes } = out {
//!             server.handle_input(ServerInput::Frame { client: ClientId(1), bytes: &bytes }, now);
//!             moved = true;
//!         }
//!     }
//!     while let Some(out) = server.poll_output() {
//!         if let ServerOutput::Transmit { bytes, .. } = out {
//!             client.handle_input(ClientInput::Frame { bytes: &bytes }, now);
//!             moved = true;
//!         }
//!     }
//!     if !moved {
//!         break;
//!     }
//! }
//! assert!(client.is_joined(&Digest([7; 32])));
//! assert_eq!(server.topic_count(), 1);
//! ```
//!
//! # Specification (to be lifted into SPEC.md §8)
//!
//! ## 8.1 Topics and trust
//!
//! A *topic* is an opaque 32-byte digest: an invitation's rendezvous topic (§7), or a space's
//! discovery topic `SHA-256(tagged("spaces/1 space-topic", space_key))` (§2.5). The server sees
//! only topics, the `PeerInfo` each client announces, and opaque relay payloads; it never
//! learns a space key, an invite code or a PIN.
//!
//! The server is **untrusted**. It may lie about who is on a topic, invent or hide peers,
//! redirect, drop, duplicate or reorder relayed messages, or stop answering. Everything it
//! says is a *hint*: it can stop progress, but it can never admit anyone, because every peer
//! is authenticated end to end in Noise (§7, §9) with keys the server does not hold. Hence a
//! client MUST treat server messages as hints, MUST bound the state they can create (topics
//! it joined itself, at most `peers_per_topic_max` peers remembered per topic), and MUST NOT
//! fail hard on server misbehaviour: nonsense is ignored and counted, never an error. The peer
//! key and address a client announces are hints too: the server does not authenticate them,
//! so two connections may claim one key (both then receive what is relayed to it).
//!
//! ## 8.2 Frames
//!
//! Every frame is one canonical value (§2) on a message-oriented transport (e.g. a WebSocket
//! message): `u8(version = 1) || message`. At most `FRAME_SIZE_MAX` = 16 KiB per frame; a
//! relay payload at most `PAYLOAD_SIZE_MAX` = 8 KiB; an address at most `ADDR_SIZE_MAX` = 64
//! bytes; a `Joined` lists at most `JOINED_PEERS_MAX` = 64 peers, strictly ascending by key
//! (one entry per key); further peers come in further `Joined` frames.
//!
//! `PeerInfo = peer: [u8; 32] (Ed25519 device key) || addr: Vec<u8>`.
//!
//! Client → server (`ClientMessage`), by variant index:
//!
//! | index | message | meaning |
//! |---|---|---|
//! | 0 | `Join { topic, info: PeerInfo }` | register on `topic` (again: update `info`) |
//! | 1 | `Leave { topic }` | unregister |
//! | 2 | `Relay { topic, to: [u8; 32], payload: Vec<u8> }` | deliver `payload` to `to` on `topic` |
//! | 3 | `Ping` | keep the registrations alive |
//!
//! Server → client (`ServerMessage`), by variant index:
//!
//! | index | message | meaning |
//! |---|---|---|
//! | 0 | `Joined { topic, peers: Vec<PeerInfo> }` | the join is accepted; these peers are on it |
//! | 1 | `PeerJoined { topic, info }` | a peer joined (or re-announced a new address) |
//! | 2 | `PeerLeft { topic, peer }` | no connection claims `peer` on `topic` any more |
//! | 3 | `Relayed { topic, from, payload }` | `from` (as it announced itself) relayed `payload` |
//! | 4 | `Pong` | answer to `Ping` |
//! | 5 | `Error { kind: SignalError, topic: Option<Digest> }` | a request was refused |
//!
//! `SignalError` by variant index: 0 `Malformed`, 1 `TooLarge`, 2 `TooManyTopics`,
//! 3 `TopicFull`, 4 `RateLimited`, 5 `NotJoined`, 6 `UnknownPeer`, 7 `ServerFull`,
//! 8 `SourceFull`, 9 `Evicted`.
//!
//! A relay is delivered only between two connections joined to the same topic, to every
//! other connection on it that announced the key `to` (else `UnknownPeer`). `from` is the
//! key the sender announced on that topic.
//!
//! ## 8.3 Limits and timers
//!
//! The server's limits are `SignalLimits` (defaults in parentheses): connections
//! `clients_max` (4096), from one source `clients_per_source_max` (32); topics in total `topics_max` (16384); topics per connection
//! `topics_per_client_max` (256); connections per topic `peers_per_topic_max` (256); a token
//! bucket per connection of `rate_per_s` (50) messages per second, `rate_burst_max` (300)
//! deep; registration TTL `registration_ttl_ms` (60 s); `violations_max` (16) malformed or
//! oversized frames before the connection is closed. A connection that sends nothing
//! accepted for the TTL is closed and its registrations dropped (peers are told `PeerLeft`);
//! a client therefore sends `Ping` every TTL/3 (20 s) while connected. A message over the
//! rate is dropped unanswered, except the first of a run, which gets `RateLimited`.
//! When a table is full, the source holding the most of it gives a slot up to a source that
//! would hold fewer (`Evicted`), so a flood from few addresses takes nothing from anyone
//! (`fairness`, SPEC §8.3.8).
//!
//! The client re-sends `Join` for every topic it holds after each (re)connection, forgets
//! the peers of a connection when it ends (reporting each as gone), and re-sends `Join` when
//! the server says `NotJoined` for a topic it holds.

pub mod client;
pub mod fairness;
pub mod server;
pub mod wire;

use serde::{Deserialize, Serialize};

pub use client::SignalClient;
pub use server::SignalServer;

use crate::keys::PublicKey;

/// A connection to the server, as the driver names it. Opaque to the protocol, and never
/// sent on the wire: peers are named by the keys they announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u64);

/// Where a connection comes from, as far as sharing the server fairly goes (§8.3.8): the
/// driver's choice, 16 bytes. A driver SHOULD pass an IPv4 address as its IPv4-mapped IPv6
/// form and an IPv6 address as its /64 prefix (the rest zero), the unit one party controls;
/// never anything the client itself sends, which a flooder would vary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Source(pub [u8; 16]);

/// How a client announces itself on a topic. Neither field is authenticated: the key says
/// whom to expect at the end of the Noise handshake, the address where to try.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PeerInfo {
    /// The device key the peer claims.
    pub peer: PublicKey,
    /// A transport address only the driver understands, at most `wire::ADDR_SIZE_MAX` bytes.
    pub addr: Vec<u8>,
}

/// Why the server refused something. Sent on the wire (values are the variant indices), so
/// a client can tell its user; from an untrusted server it is a hint like any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SignalError {
    /// The frame did not decode (strictly) as a client message.
    Malformed,
    /// The frame, a payload or an address exceeds its maximum.
    TooLarge,
    /// The connection is already on `topics_per_client_max` topics.
    TooManyTopics,
    /// The topic already has `peers_per_topic_max` connections.
    TopicFull,
    /// The connection sends faster than its token bucket allows; the message was dropped.
    RateLimited,
    /// Leave or relay on a topic the connection has not joined.
    NotJoined,
    /// No other connection on the topic announced the relay's destination key.
    UnknownPeer,
    /// The server is at `clients_max` connections or `topics_max` topics, and no source
    /// holds more of them than the refused one would (§8.3.8).
    ServerFull,
    /// The connection's source already holds `clients_per_source_max` connections.
    SourceFull,
    /// The server took this registration (topic given) or connection (no topic) for a
    /// source holding fewer: join again later, the share has room when others leave.
    Evicted,
}

impl core::fmt::Display for SignalError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SignalError::Malformed => "frame is not a canonical signaling message",
            SignalError::TooLarge => "frame, payload or address exceeds its maximum",
            SignalError::TooManyTopics => "too many topics joined on this connection",
            SignalError::TopicFull => "topic has no room for another peer",
            SignalError::RateLimited => "too many messages; message dropped",
            SignalError::NotJoined => "topic not joined",
            SignalError::UnknownPeer => "no such peer on this topic",
            SignalError::ServerFull => "server has no room for another connection or topic",
            SignalError::SourceFull => "too many connections from this source address",
            SignalError::Evicted => "registration or connection given to a source holding fewer",
        })
    }
}

impl std::error::Error for SignalError {}

/// The operating limits of the server, which also bound what a client remembers. Memory is
/// bounded by them: at most `clients_max × topics_per_client_max` registrations, each one
/// `PeerInfo` (≤ 97 bytes) plus index entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalLimits {
    /// Connections at once; more are refused with `ServerFull`. Bounds the per-connection
    /// state (bucket, topic set) an attacker can make the server hold by opening sockets.
    pub clients_max: usize,
    /// Connections from one source at once; more are refused with `SourceFull`. A
    /// household or office behind one address runs a few devices, each with one connection;
    /// a flooder from one address takes at most this many of `clients_max` (1 in 128).
    pub clients_per_source_max: usize,
    /// Distinct topics at once; a join that would create one more gets `ServerFull`. Bounds
    /// the topic table independently of how registrations are spread.
    pub topics_max: usize,
    /// Topics one connection may be on: a device in a couple of hundred spaces plus a few
    /// invitations (a device is findable only on the topics it holds), while one connection
    /// cannot fill the topic table. Registrations, at most `clients_max` times this, bound
    /// the server's memory (about 1 M of at most ~250 bytes each by default).
    pub topics_per_client_max: usize,
    /// Connections on one topic. A space swarm larger than this needs more than a signaling
    /// server; it also caps the `PeerJoined`/`PeerLeft` fan-out of one message.
    pub peers_per_topic_max: usize,
    /// Sustained messages per second per connection: far above what connection setup and
    /// keep-alive need, far below what would let one client load the server.
    pub rate_per_s: u64,
    /// Burst depth of the token bucket: a reconnecting device re-joins all its topics at once,
    /// so it is above `topics_per_client_max`.
    pub rate_burst_max: u64,
    /// A connection that sends nothing accepted for this long is presumed dead (half-open
    /// sockets never say goodbye): it is closed and its peers are told it left. Clients ping
    /// every third of it.
    pub registration_ttl_ms: u64,
    /// Malformed or oversized frames tolerated per connection before it is closed: an honest
    /// client sends none, so a few cover version skew and the rest is abuse.
    pub violations_max: u32,
}

impl Default for SignalLimits {
    fn default() -> Self {
        SignalLimits {
            clients_max: 4096,
            clients_per_source_max: 32,
            topics_max: 16_384,
            topics_per_client_max: 256,
            peers_per_topic_max: 256,
            rate_per_s: 50,
            rate_burst_max: 300,
            registration_ttl_ms: 60_000,
            violations_max: 16,
        }
    }
}

impl SignalLimits {
    /// How often a client pings: three pings fit in one TTL, so one lost or late ping does
    /// not cost the registrations.
    pub fn ping_interval_ms(&self) -> u64 {
        (self.registration_ttl_ms / 3).max(1)
    }
}
