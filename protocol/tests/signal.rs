//! Signaling (SPEC.md §8): one `SignalServer` and several `SignalClient`s over an in-memory
//! network with virtual time, plus a raw driver that speaks to the server frame by frame, and
//! a lying server that speaks to a client frame by frame.

use std::collections::{BTreeSet, VecDeque};

use proptest::collection::vec;
use proptest::prelude::*;
use spaces_protocol::codec::Canonical;
use spaces_protocol::hash::Digest;
use spaces_protocol::signal::client::{ClientInput, ClientOutput, CommandError, SignalClient, SignalEvent};
use spaces_protocol::signal::server::{ServerInput, ServerOutput, SignalServer};
use spaces_protocol::signal::wire::{
    ClientFrame, ClientMessage, FRAME_SIZE_MAX, JOINED_PEERS_MAX, PAYLOAD_SIZE_MAX, ServerFrame, ServerMessage,
};
use spaces_protocol::signal::{ClientId, PeerInfo, SignalError, SignalLimits, Source};
use spaces_protocol::{PublicKey, Timestamp};

const T0: u64 = 1_700_000_000_000;
const TTL_MS: u64 = 60_000;

fn topic(b: u8) -> Digest {
    Digest([b; 32])
}

fn key(b: u8) -> PublicKey {
    PublicKey([b; 32])
}

fn info(b: u8) -> PeerInfo {
    PeerInfo { peer: key(b), addr: format!("mem://{b}").into_bytes() }
}

// ----- the in-memory network -----

struct Node {
    client: SignalClient,
    conn: Option<ClientId>,
    events: Vec<SignalEvent>,
}

enum Delivery {
    ToServer(ClientId, Vec<u8>),
    ToClient(ClientId, Vec<u8>),
    Close(ClientId),
}

/// One server, several clients, instant in-order delivery, virtual time. Every output goes
/// into `transcript`, so two runs can be compared byte for byte.
struct Net {
    now: Timestamp,
    limits: SignalLimits,
    server: SignalServer,
    nodes: Vec<Node>,
    next_id: u64,
    queue: VecDeque<Delivery>,
    transcript: Vec<String>,
}

impl Net {
    fn new(limits: SignalLimits) -> Self {
        Net {
            now: Timestamp::from_millis(T0),
            limits,
            server: SignalServer::new(limits),
            nodes: Vec::new(),
            next_id: 1,
            queue: VecDeque::new(),
            transcript: Vec::new(),
        }
    }

    /// A node announcing `info(b)`, connected, on `topics`.
    fn node(&mut self, b: u8, topics: &[u8]) -> usize {
        let mut client = SignalClient::new(info(b), self.limits).unwrap();
        for t in topics {
            client.join(topic(*t)).unwrap();
        }
        self.nodes.push(Node { client, conn: None, events: Vec::new() });
        let i = self.nodes.len() - 1;
        self.connect(i);
        i
    }

    fn connect(&mut self, i: usize) {
        let id = ClientId(self.next_id);
        self.next_id += 1;
        self.nodes[i].conn = Some(id);
        self.server.handle_input(ServerInput::Connected { client: id, source: source(id.0) }, self.now);
        self.nodes[i].client.handle_input(ClientInput::Connected, self.now);
        self.pump();
    }

    fn disconnect(&mut self, i: usize) {
        let id = self.nodes[i].conn.take().expect("connected");
        self.server.handle_input(ServerInput::Disconnected { client: id }, self.now);
        self.nodes[i].client.handle_input(ClientInput::Disconnected, self.now);
        self.pump();
    }

    /// A new server process: every connection breaks, and the clients reconnect.
    fn restart_server(&mut self) {
        self.server = SignalServer::new(self.limits);
        for i in 0..self.nodes.len() {
            if self.nodes[i].conn.take().is_some() {
                self.nodes[i].client.handle_input(ClientInput::Disconnected, self.now);
            }
        }
        self.pump();
        for i in 0..self.nodes.len() {
            self.connect(i);
        }
    }

    fn pump(&mut self) {
        loop {
            self.collect();
            if self.queue.is_empty() {
                return;
            }
            while let Some(d) = self.queue.pop_front() {
                self.deliver(d);
            }
        }
    }

    fn collect(&mut self) {
        for (i, node) in self.nodes.iter_mut().enumerate() {
            while let Some(out) = node.client.poll_output() {
                self.transcript.push(format!("c{i} {out:?}"));
                match out {
                    ClientOutput::Transmit { bytes } => {
                        if let Some(id) = node.conn {
                            self.queue.push_back(Delivery::ToServer(id, bytes));
                        }
                    }
                    ClientOutput::Event(e) => node.events.push(e),
                    ClientOutput::Timeout(_) => {}
                }
            }
        }
        while let Some(out) = self.server.poll_output() {
            self.transcript.push(format!("s {out:?}"));
            match out {
                ServerOutput::Transmit { client, bytes } => {
                    // The server only ever sends what its own clients accept.
                    ServerFrame::from_bytes(&bytes).expect("server frames are canonical");
                    self.queue.push_back(Delivery::ToClient(client, bytes));
                }
                ServerOutput::Disconnect { client } => self.queue.push_back(Delivery::Close(client)),
                ServerOutput::Timeout(_) => {}
            }
        }
        self.server.assert_invariants();
    }

    fn deliver(&mut self, d: Delivery) {
        let now = self.now;
        match d {
            Delivery::ToServer(id, bytes) => {
                self.server.handle_input(ServerInput::Frame { client: id, bytes: &bytes }, now)
            }
            Delivery::ToClient(id, bytes) => {
                if let Some(node) = self.nodes.iter_mut().find(|n| n.conn == Some(id)) {
                    node.client.handle_input(ClientInput::Frame { bytes: &bytes }, now);
                }
            }
            Delivery::Close(id) => {
                if let Some(node) = self.nodes.iter_mut().find(|n| n.conn == Some(id)) {
                    node.conn = None;
                    node.client.handle_input(ClientInput::Disconnected, now);
                }
            }
        }
    }

    /// Moves virtual time forward by `ms`, firing every timer on the way.
    fn advance(&mut self, ms: u64) {
        let target = self.now.saturating_add_millis(ms);
        loop {
            let timers = self.nodes.iter().filter_map(|n| n.client.poll_timeout());
            let Some(next) = timers.chain(self.server.poll_timeout()).min().filter(|t| *t <= target) else {
                break;
            };
            self.now = next;
            if self.server.poll_timeout().is_some_and(|t| t <= next) {
                self.server.handle_input(ServerInput::Timeout, next);
            }
            for node in &mut self.nodes {
                if node.client.poll_timeout().is_some_and(|t| t <= next) {
                    node.client.handle_input(ClientInput::Timeout, next);
                }
            }
            self.pump();
        }
        self.now = target;
    }

    fn relay(&mut self, i: usize, t: u8, to: u8, payload: &[u8]) -> Result<(), CommandError> {
        let r = self.nodes[i].client.relay(topic(t), key(to), payload.to_vec());
        self.pump();
        r
    }

    fn events(&mut self, i: usize) -> Vec<SignalEvent> {
        std::mem::take(&mut self.nodes[i].events)
    }

    fn peers(&self, i: usize, t: u8) -> Vec<PublicKey> {
        self.nodes[i].client.peers(&topic(t)).map(|p| p.peer).collect()
    }
}

fn appeared(t: u8, b: u8) -> SignalEvent {
    SignalEvent::PeerAppeared { topic: topic(t), info: info(b) }
}

fn gone(t: u8, b: u8) -> SignalEvent {
    SignalEvent::PeerGone { topic: topic(t), peer: key(b) }
}

// ----- the raw driver: the server frame by frame -----

#[derive(Debug, Clone, PartialEq, Eq)]
enum Said {
    To(u64, ServerMessage),
    Closed(u64),
}

struct Raw {
    server: SignalServer,
    now: Timestamp,
}

impl Raw {
    fn new(limits: SignalLimits) -> Self {
        Raw { server: SignalServer::new(limits), now: Timestamp::from_millis(T0) }
    }

    fn input(&mut self, input: ServerInput<'_>) -> Vec<Said> {
        self.server.handle_input(input, self.now);
        let mut said = Vec::new();
        while let Some(out) = self.server.poll_output() {
            match out {
                ServerOutput::Transmit { client, bytes } => {
                    said.push(Said::To(client.0, ServerFrame::from_bytes(&bytes).unwrap().message))
                }
                ServerOutput::Disconnect { client } => said.push(Said::Closed(client.0)),
                ServerOutput::Timeout(_) => {}
            }
        }
        self.server.assert_invariants();
        said
    }

    fn connect(&mut self, id: u64) -> Vec<Said> {
        self.connect_from(id, id)
    }

    fn connect_from(&mut self, id: u64, from: u64) -> Vec<Said> {
        self.input(ServerInput::Connected { client: ClientId(id), source: source(from) })
    }

    fn bytes(&mut self, id: u64, bytes: &[u8]) -> Vec<Said> {
        self.input(ServerInput::Frame { client: ClientId(id), bytes })
    }

    fn send(&mut self, id: u64, message: ClientMessage) -> Vec<Said> {
        self.bytes(id, &ClientFrame::new(message).to_bytes())
    }

    fn join(&mut self, id: u64, t: u8, b: u8) -> Vec<Said> {
        self.send(id, ClientMessage::Join { topic: topic(t), info: info(b) })
    }

    fn advance(&mut self, ms: u64) -> Vec<Said> {
        self.now = self.now.saturating_add_millis(ms);
        self.input(ServerInput::Timeout)
    }
}

fn error(id: u64, kind: SignalError, t: Option<u8>) -> Said {
    Said::To(id, ServerMessage::Error { kind, topic: t.map(topic) })
}

fn joined(id: u64, t: u8, peers: &[u8]) -> Said {
    Said::To(id, ServerMessage::Joined { topic: topic(t), peers: peers.iter().map(|b| info(*b)).collect() })
}

// ----- membership of a topic -----

#[test]
fn two_clients_join_a_topic_and_see_each_other() {
    let mut net = Net::new(SignalLimits::default());
    let a = net.node(1, &[9]);
    let b = net.node(2, &[9]);
    assert_eq!(net.events(a), [appeared(9, 2)]);
    assert_eq!(net.events(b), [appeared(9, 1)]);
    assert!(net.nodes[a].client.is_joined(&topic(9)) && net.nodes[b].client.is_joined(&topic(9)));
    assert_eq!((net.peers(a, 9), net.peers(b, 9)), (vec![key(2)], vec![key(1)]));
    assert_eq!((net.server.topic_count(), net.server.registration_count()), (1, 2));
}

#[test]
fn a_join_is_answered_with_every_peer_in_pages() {
    let mut raw = Raw::new(SignalLimits::default());
    let peers = JOINED_PEERS_MAX as u64 + 6;
    for id in 1..=peers {
        raw.connect(id);
        raw.join(id, 9, id as u8);
    }
    raw.connect(1000);
    let said = raw.join(1000, 9, 200);
    let pages: Vec<usize> = said
        .iter()
        .filter_map(|s| match s {
            Said::To(1000, ServerMessage::Joined { peers, .. }) => Some(peers.len()),
            _ => None,
        })
        .collect();
    assert_eq!(pages, [JOINED_PEERS_MAX, 6]);
    let told = said.iter().filter(|s| matches!(s, Said::To(_, ServerMessage::PeerJoined { .. }))).count();
    assert_eq!(told as u64, peers, "every earlier peer hears of the newcomer");
}

#[test]
fn leave_produces_peer_left() {
    let mut net = Net::new(SignalLimits::default());
    let a = net.node(1, &[9]);
    let b = net.node(2, &[9]);
    net.events(a);
    net.events(b);
    net.nodes[a].client.leave(topic(9)).unwrap();
    net.pump();
    assert_eq!(net.events(a), [gone(9, 2)], "the leaver forgets its peers");
    assert_eq!(net.events(b), [gone(9, 1)]);
    assert_eq!(net.nodes[a].client.leave(topic(9)), Err(CommandError::NotJoined));
    assert_eq!(net.server.registration_count(), 1);
}

#[test]
fn disconnect_produces_peer_left() {
    let mut net = Net::new(SignalLimits::default());
    let a = net.node(1, &[9, 10]);
    let b = net.node(2, &[9, 10]);
    net.events(b);
    net.disconnect(a);
    assert_eq!(net.events(b), [gone(9, 1), gone(10, 1)]);
    assert_eq!(net.server.client_count(), 1);
    assert!(!net.nodes[a].client.is_joined(&topic(9)));
}

#[test]
fn a_key_claimed_twice_leaves_only_when_both_claims_end() {
    let mut raw = Raw::new(SignalLimits::default());
    for id in 1..=3 {
        raw.connect(id);
    }
    raw.join(1, 9, 5);
    raw.join(2, 9, 5);
    raw.join(3, 9, 7);
    let relayed = raw.send(3, ClientMessage::Relay { topic: topic(9), to: key(5), payload: b"hi".to_vec() });
    let to: Vec<u64> = relayed.iter().map(|s| if let Said::To(id, _) = s { *id } else { 0 }).collect();
    assert_eq!(to, [1, 2], "both claimants get it; authentication is end to end");
    assert_eq!(raw.send(1, ClientMessage::Leave { topic: topic(9) }), []);
    let left = raw.send(2, ClientMessage::Leave { topic: topic(9) });
    assert_eq!(left, [Said::To(3, ServerMessage::PeerLeft { topic: topic(9), peer: key(5) })]);
}

// ----- relays -----

#[test]
fn relay_reaches_a_peer_on_the_same_topic() {
    let mut net = Net::new(SignalLimits::default());
    let a = net.node(1, &[9]);
    let b = net.node(2, &[9]);
    net.events(b);
    net.relay(a, 9, 2, b"offer").unwrap();
    assert_eq!(net.events(b), [SignalEvent::Relayed { topic: topic(9), from: key(1), payload: b"offer".to_vec() }]);
    assert_eq!(net.events(a), [appeared(9, 2)]);
}

#[test]
fn relay_is_refused_across_topics() {
    let mut net = Net::new(SignalLimits::default());
    let a = net.node(1, &[9]);
    let c = net.node(3, &[10]);
    net.relay(a, 9, 3, b"x").unwrap();
    assert_eq!(net.events(a), [SignalEvent::Error(SignalError::UnknownPeer, Some(topic(9)))]);
    assert_eq!(net.relay(a, 10, 3, b"x"), Err(CommandError::NotJoined), "refused locally");
    assert!(net.events(c).is_empty());

    // A client that skips its own check is refused by the server.
    let mut raw = Raw::new(SignalLimits::default());
    raw.connect(1);
    raw.connect(3);
    raw.join(1, 9, 1);
    raw.join(3, 10, 3);
    let said = raw.send(1, ClientMessage::Relay { topic: topic(10), to: key(3), payload: vec![] });
    assert_eq!(said, [error(1, SignalError::NotJoined, Some(10))]);
    let said = raw.send(1, ClientMessage::Relay { topic: topic(9), to: key(1), payload: vec![] });
    assert_eq!(said, [error(1, SignalError::UnknownPeer, Some(9))], "not even to oneself");
}

#[test]
fn relay_while_offline_or_too_large_is_refused_locally() {
    let mut net = Net::new(SignalLimits::default());
    let a = net.node(1, &[9]);
    assert_eq!(net.relay(a, 9, 2, &vec![0; PAYLOAD_SIZE_MAX + 1]), Err(CommandError::TooLarge));
    net.disconnect(a);
    assert_eq!(net.relay(a, 9, 2, b"x"), Err(CommandError::Offline));
}

// ----- expiry -----

#[test]
fn stale_registrations_expire_after_the_ttl_without_pings() {
    let mut raw = Raw::new(SignalLimits::default());
    raw.connect(1);
    raw.connect(2);
    raw.join(1, 9, 1);
    raw.join(2, 9, 2);
    assert_eq!(raw.server.poll_timeout(), Some(Timestamp::from_millis(T0 + TTL_MS)));
    assert_eq!(raw.advance(TTL_MS - 1), []);
    raw.send(2, ClientMessage::Ping);
    let said = raw.advance(1);
    assert_eq!(said, [Said::To(2, ServerMessage::PeerLeft { topic: topic(9), peer: key(1) }), Said::Closed(1)]);
    assert_eq!(raw.bytes(1, &ClientFrame::new(ClientMessage::Ping).to_bytes()), [], "a closed connection is gone");
    assert_eq!(raw.advance(TTL_MS - 1), [Said::Closed(2)]);
    assert_eq!((raw.server.client_count(), raw.server.topic_count()), (0, 0));
}

#[test]
fn pings_keep_registrations_alive() {
    let mut net = Net::new(SignalLimits::default());
    let a = net.node(1, &[9]);
    let b = net.node(2, &[9]);
    net.events(a);
    net.events(b);
    net.advance(10 * TTL_MS);
    assert!(net.events(a).is_empty() && net.events(b).is_empty());
    assert_eq!(net.server.registration_count(), 2);
    let pings = net.transcript.iter().filter(|l| l.starts_with("s Transmit") && l.ends_with("bytes: [1, 4] }")).count();
    assert_eq!(pings, 2 * 30, "each client pings every TTL/3");
}

// ----- limits -----

fn small() -> SignalLimits {
    SignalLimits {
        clients_max: 3,
        topics_max: 3,
        topics_per_client_max: 2,
        peers_per_topic_max: 2,
        ..SignalLimits::default()
    }
}

#[test]
fn too_many_topics() {
    let mut raw = Raw::new(small());
    raw.connect(1);
    raw.join(1, 1, 1);
    raw.join(1, 2, 1);
    assert_eq!(raw.join(1, 3, 1), [error(1, SignalError::TooManyTopics, Some(3))]);
    assert_eq!(raw.join(1, 2, 1), [joined(1, 2, &[])], "re-joining a held topic is no new registration");

    let mut client = SignalClient::new(info(1), small()).unwrap();
    client.join(topic(1)).unwrap();
    client.join(topic(2)).unwrap();
    assert_eq!(client.join(topic(3)), Err(CommandError::TooManyTopics));
}

#[test]
fn topic_full() {
    let mut raw = Raw::new(small());
    for id in 1..=3 {
        raw.connect(id);
    }
    raw.join(1, 9, 1);
    raw.join(2, 9, 2);
    assert_eq!(raw.join(3, 9, 3), [error(3, SignalError::TopicFull, Some(9))]);
}

#[test]
fn too_large() {
    let mut raw = Raw::new(SignalLimits::default());
    raw.connect(1);
    assert_eq!(raw.bytes(1, &vec![1; FRAME_SIZE_MAX + 1]), [error(1, SignalError::TooLarge, None)]);
    let relay = ClientMessage::Relay { topic: topic(9), to: key(2), payload: vec![0; PAYLOAD_SIZE_MAX + 1] };
    assert_eq!(raw.send(1, relay), [error(1, SignalError::TooLarge, None)]);
    let join = ClientMessage::Join { topic: topic(9), info: PeerInfo { peer: key(1), addr: vec![b'x'; 65] } };
    assert_eq!(raw.send(1, join), [error(1, SignalError::TooLarge, None)]);
    let addr = PeerInfo { peer: key(1), addr: vec![b'x'; 65] };
    assert_eq!(SignalClient::new(addr, SignalLimits::default()).err(), Some(CommandError::TooLarge));
}

#[test]
fn rate_limited() {
    let limits = SignalLimits::default();
    let mut raw = Raw::new(limits);
    raw.connect(1);
    let ping = ClientFrame::new(ClientMessage::Ping).to_bytes();
    let mut said = Vec::new();
    for _ in 0..limits.rate_burst_max + 10 {
        said.extend(raw.bytes(1, &ping));
    }
    let pongs = said.iter().filter(|s| **s == Said::To(1, ServerMessage::Pong)).count();
    assert_eq!(pongs as u64, limits.rate_burst_max);
    assert_eq!(said.last(), Some(&error(1, SignalError::RateLimited, None)), "one answer per run of drops");
    assert_eq!(said.len() as u64, limits.rate_burst_max + 1);
    raw.advance(1000 / limits.rate_per_s);
    assert_eq!(raw.bytes(1, &ping), [Said::To(1, ServerMessage::Pong)], "the bucket refills with time");
    assert_eq!(raw.bytes(1, &ping), [error(1, SignalError::RateLimited, None)]);
    assert_eq!(raw.server.client_count(), 1, "rate limiting drops messages, not the connection");
}

#[test]
fn server_full() {
    let mut raw = Raw::new(small());
    for id in 1..=3 {
        assert_eq!(raw.connect(id), []);
    }
    assert_eq!(raw.connect(4), [error(4, SignalError::ServerFull, None), Said::Closed(4)]);
    assert_eq!(raw.server.client_count(), 3);
    raw.join(1, 1, 1);
    raw.join(1, 2, 1);
    raw.join(2, 3, 2);
    assert_eq!(raw.join(2, 4, 2), [error(2, SignalError::ServerFull, Some(4))], "topics_max reached");
    assert_eq!(raw.join(2, 1, 2).len(), 2, "an existing topic still takes joins");
}

/// The source address a test connection comes from.
fn source(n: u64) -> Source {
    Source(u128::from(n).to_be_bytes())
}

/// Issue 10 item 5: a few connections from one source fill the topic table; a device from
/// another source joining a new topic takes a slot from them (`Evicted`), until the two hold
/// about the same (§8.3.8). With `signal-unfair` planted, the join gets `ServerFull`.
#[test]
fn a_flooding_source_gives_up_topics_to_a_newcomer() {
    let limits = SignalLimits { topics_max: 8, topics_per_client_max: 4, ..SignalLimits::default() };
    let mut raw = Raw::new(limits);
    raw.connect_from(1, 7);
    raw.connect_from(2, 7);
    for t in 0..4 {
        raw.join(1, 100 + t, 1);
        raw.join(2, 110 + t, 2);
    }
    assert_eq!(raw.server.topic_count(), 8, "the flooder holds the whole table");
    raw.connect_from(3, 9);
    let said = raw.join(3, 1, 3);
    assert_eq!(said.first(), Some(&error(1, SignalError::Evicted, Some(100))), "the flooder's first topic goes");
    assert!(said.contains(&Said::To(3, ServerMessage::Joined { topic: topic(1), peers: vec![] })), "{said:?}");
    for t in 2..=4 {
        assert!(raw.join(3, t, 3).iter().any(|s| matches!(s, Said::To(3, ServerMessage::Joined { .. }))));
    }
    // Now 4 against 4: the flooder keeps the rest, and a fifth would be over the share.
    assert_eq!(raw.server.topics_of(ClientId(3)), 4);
    assert_eq!(raw.server.topic_count(), 8);
    raw.connect_from(4, 9);
    assert_eq!(raw.join(4, 5, 4), [error(4, SignalError::ServerFull, Some(5))], "share reached: refused");
}

/// One source holds at most `clients_per_source_max` connections; when the connection table
/// is full, a newcomer's source takes the newest connection of the heaviest one.
#[test]
fn connections_are_shared_out_by_source() {
    let limits = SignalLimits { clients_max: 4, clients_per_source_max: 3, ..SignalLimits::default() };
    let mut raw = Raw::new(limits);
    for id in 1..=3 {
        assert_eq!(raw.connect_from(id, 7), []);
    }
    assert_eq!(raw.connect_from(4, 7), [error(4, SignalError::SourceFull, None), Said::Closed(4)]);
    assert_eq!(raw.connect_from(5, 8), []);
    assert_eq!(
        raw.connect_from(6, 9),
        [error(3, SignalError::Evicted, None), Said::Closed(3)],
        "newest of the heaviest"
    );
    assert_eq!(raw.server.client_count(), 4);
    assert_eq!(raw.connect_from(10, 10), [error(2, SignalError::Evicted, None), Said::Closed(2)], "2 is more than 0+1");
    assert_eq!(
        raw.connect_from(11, 11),
        [error(11, SignalError::ServerFull, None), Said::Closed(11)],
        "1,1,1,1: shared"
    );
}

/// A topic's slot is charged to a source still on it: when its creator leaves, the slot
/// moves to who remains, so an honest topic cannot be parked on a source that later floods.
#[test]
fn a_topic_slot_moves_to_a_source_still_on_it() {
    let limits = SignalLimits { topics_max: 3, topics_per_client_max: 3, ..SignalLimits::default() };
    let mut raw = Raw::new(limits);
    raw.connect_from(1, 1);
    raw.connect_from(2, 2);
    raw.join(1, 1, 1);
    raw.join(2, 1, 2);
    raw.send(1, ClientMessage::Leave { topic: topic(1) });
    raw.join(1, 2, 1);
    raw.join(1, 3, 1);
    // Source 1 holds topics 2 and 3; topic 1 is now charged to source 2, which holds one.
    raw.connect_from(3, 3);
    let said = raw.join(3, 4, 3);
    assert_eq!(said.first(), Some(&error(1, SignalError::Evicted, Some(2))), "{said:?}");
    assert!(raw.server.members(&topic(1)).any(|(id, _)| id == ClientId(2)), "the shared topic stays");
}

#[test]
fn malformed_frames_are_answered_and_repeated_ones_disconnect() {
    let limits = SignalLimits::default();
    let mut raw = Raw::new(limits);
    raw.connect(1);
    raw.connect(2);
    raw.join(1, 9, 1);
    raw.join(2, 9, 2);
    let garbage: [&[u8]; 4] = [&[], &[2, 3], &[1, 9], &[1, 3, 0]];
    for bytes in garbage {
        assert_eq!(raw.bytes(1, bytes), [error(1, SignalError::Malformed, None)], "{bytes:?}");
    }
    for _ in garbage.len()..limits.violations_max as usize {
        assert_eq!(raw.bytes(1, &[0xff]), [error(1, SignalError::Malformed, None)]);
    }
    let said = raw.bytes(1, &[0xff]);
    assert_eq!(
        said,
        [
            error(1, SignalError::Malformed, None),
            Said::To(2, ServerMessage::PeerLeft { topic: topic(9), peer: key(1) }),
            Said::Closed(1),
        ]
    );
    assert_eq!(raw.bytes(1, &[0xff]), []);
}

// ----- recovery and determinism -----

#[test]
fn the_client_recovers_after_a_server_restart() {
    let mut net = Net::new(SignalLimits::default());
    let a = net.node(1, &[9]);
    let b = net.node(2, &[9]);
    net.events(a);
    net.events(b);
    net.restart_server();
    assert_eq!(net.events(a), [gone(9, 2), appeared(9, 2)]);
    assert_eq!(net.events(b), [gone(9, 1), appeared(9, 1)]);
    assert_eq!(net.server.registration_count(), 2, "both re-joined");
    net.relay(b, 9, 1, b"again").unwrap();
    assert!(matches!(&net.events(a)[..], [SignalEvent::Relayed { .. }]));
}

#[test]
fn the_client_rejoins_when_the_server_forgot_it() {
    let mut client = SignalClient::new(info(1), SignalLimits::default()).unwrap();
    client.join(topic(9)).unwrap();
    client.handle_input(ClientInput::Connected, Timestamp::from_millis(T0));
    while client.poll_output().is_some() {}
    let forgot = ServerFrame::new(ServerMessage::Error { kind: SignalError::NotJoined, topic: Some(topic(9)) });
    client.handle_input(ClientInput::Frame { bytes: &forgot.to_bytes() }, Timestamp::from_millis(T0));
    let join = ClientFrame::new(ClientMessage::Join { topic: topic(9), info: info(1) }).to_bytes();
    assert_eq!(client.poll_output(), Some(ClientOutput::Transmit { bytes: join }));
}

/// A busy run: joins, relays, leaves, a disconnect, garbage, expiry, a restart.
fn scenario() -> Vec<String> {
    let mut net = Net::new(SignalLimits::default());
    let a = net.node(1, &[9, 10]);
    let b = net.node(2, &[9]);
    let c = net.node(3, &[10, 9]);
    net.relay(a, 9, 2, b"sdp").unwrap();
    net.relay(c, 10, 1, b"ice").unwrap();
    net.advance(25_000);
    net.nodes[b].client.leave(topic(9)).unwrap();
    net.pump();
    net.server.handle_input(ServerInput::Frame { client: ClientId(3), bytes: &[7, 7, 7] }, net.now);
    net.pump();
    net.disconnect(c);
    net.connect(c);
    net.advance(TTL_MS);
    net.restart_server();
    net.relay(a, 10, 3, b"after").unwrap();
    net.advance(TTL_MS);
    net.transcript
}

#[test]
fn same_inputs_give_the_same_outputs_byte_for_byte() {
    let first = scenario();
    assert!(first.len() > 50);
    assert_eq!(first, scenario());
}

// ----- a lying server -----

/// A client fed frames straight from a (malicious) server.
fn fed(limits: SignalLimits, topics: &[u8]) -> SignalClient {
    let mut client = SignalClient::new(info(1), limits).unwrap();
    for t in topics {
        client.join(topic(*t)).unwrap();
    }
    client.handle_input(ClientInput::Connected, Timestamp::from_millis(T0));
    while client.poll_output().is_some() {}
    client
}

fn feed(client: &mut SignalClient, message: ServerMessage) -> Vec<SignalEvent> {
    client
        .handle_input(ClientInput::Frame { bytes: &ServerFrame::new(message).to_bytes() }, Timestamp::from_millis(T0));
    std::iter::from_fn(|| client.poll_output())
        .filter_map(|o| if let ClientOutput::Event(e) = o { Some(e) } else { None })
        .collect()
}

#[test]
fn a_lying_server_cannot_grow_the_client_beyond_its_limits() {
    let limits = SignalLimits::default();
    let mut client = fed(limits, &[9]);
    // Peers on a topic the client never joined, relays and errors there: ignored.
    assert_eq!(feed(&mut client, ServerMessage::PeerJoined { topic: topic(8), info: info(2) }), []);
    assert_eq!(feed(&mut client, ServerMessage::Joined { topic: topic(8), peers: vec![info(2)] }), []);
    let relayed = ServerMessage::Relayed { topic: topic(8), from: key(2), payload: vec![1] };
    assert_eq!(feed(&mut client, relayed), []);
    let refused = ServerMessage::Error { kind: SignalError::TopicFull, topic: Some(topic(8)) };
    assert_eq!(feed(&mut client, refused), []);
    assert_eq!(client.topics().count(), 1);
    // The client itself listed as a peer, or relaying to itself: ignored.
    assert_eq!(
        feed(&mut client, ServerMessage::Joined { topic: topic(9), peers: vec![info(1), info(2)] }),
        [appeared(9, 2)]
    );
    assert_eq!(feed(&mut client, ServerMessage::PeerJoined { topic: topic(9), info: info(1) }), []);
    let from_self = ServerMessage::Relayed { topic: topic(9), from: key(1), payload: vec![1] };
    assert_eq!(feed(&mut client, from_self), []);
    // Duplicates are deduplicated; departures of unknown peers ignored.
    assert_eq!(feed(&mut client, ServerMessage::PeerJoined { topic: topic(9), info: info(2) }), []);
    assert_eq!(feed(&mut client, ServerMessage::PeerLeft { topic: topic(9), peer: key(3) }), []);
    // A flood of peers stops at the limit.
    for i in 0..2 * limits.peers_per_topic_max as u32 {
        let mut peer = [0; 32];
        peer[..4].copy_from_slice(&i.to_be_bytes());
        peer[31] = 0xaa;
        let info = PeerInfo { peer: PublicKey(peer), addr: vec![0; 64] };
        feed(&mut client, ServerMessage::PeerJoined { topic: topic(9), info });
    }
    assert_eq!(client.peers(&topic(9)).count(), limits.peers_per_topic_max);
    // Garbage is ignored, never an error.
    client.handle_input(ClientInput::Frame { bytes: &[1, 0, 0xff] }, Timestamp::from_millis(T0));
    assert_eq!(client.poll_output(), Some(ClientOutput::Timeout(Timestamp::from_millis(T0 + TTL_MS / 3))));
    // 9 nonsense messages or entries above, 257 flooded peers past the limit, the garbage.
    assert_eq!(client.ignored(), 9 + (2 * limits.peers_per_topic_max as u64 - 255) + 1);
}

// ----- properties -----

#[derive(Debug, Clone)]
enum ServerOp {
    Connect(u8),
    Disconnect(u8),
    Send(u8, ClientMessage),
    Bytes(u8, Vec<u8>),
    Flip(u8, ClientMessage, usize),
    Advance(u16),
}

fn arb_client_message() -> impl Strategy<Value = ClientMessage> {
    let addr = || prop_oneof![4 => vec(any::<u8>(), 0..8), 1 => vec(any::<u8>(), 60..70)];
    prop_oneof![
        3 => (0..3u8, 0..4u8, addr())
            .prop_map(|(t, k, addr)| ClientMessage::Join { topic: topic(t), info: PeerInfo { peer: key(k), addr } }),
        1 => (0..3u8).prop_map(|t| ClientMessage::Leave { topic: topic(t) }),
        2 => (0..3u8, 0..4u8, vec(any::<u8>(), 0..16))
            .prop_map(|(t, k, payload)| ClientMessage::Relay { topic: topic(t), to: key(k), payload }),
        1 => Just(ClientMessage::Ping),
    ]
}

fn arb_server_op() -> impl Strategy<Value = ServerOp> {
    prop_oneof![
        3 => (0..5u8).prop_map(ServerOp::Connect),
        1 => (0..5u8).prop_map(ServerOp::Disconnect),
        6 => (0..5u8, arb_client_message()).prop_map(|(c, m)| ServerOp::Send(c, m)),
        2 => (0..5u8, vec(any::<u8>(), 0..48)).prop_map(|(c, b)| ServerOp::Bytes(c, b)),
        2 => (0..5u8, arb_client_message(), any::<usize>()).prop_map(|(c, m, i)| ServerOp::Flip(c, m, i)),
        1 => (0..1500u16).prop_map(ServerOp::Advance),
    ]
}

fn tiny() -> SignalLimits {
    SignalLimits {
        clients_max: 3,
        clients_per_source_max: 2,
        topics_max: 3,
        topics_per_client_max: 2,
        peers_per_topic_max: 2,
        rate_per_s: 5,
        rate_burst_max: 5,
        registration_ttl_ms: 1_000,
        violations_max: 3,
    }
}

#[derive(Debug, Clone)]
enum ClientOp {
    Connected,
    Disconnected,
    Timeout(u16),
    Join(u8),
    Leave(u8),
    Relay(u8, u8),
    Says(ServerMessage),
    Bytes(Vec<u8>),
}

fn arb_peer() -> impl Strategy<Value = PeerInfo> {
    (0..6u8, vec(any::<u8>(), 0..4)).prop_map(|(k, addr)| PeerInfo { peer: key(k), addr })
}

fn arb_server_message() -> impl Strategy<Value = ServerMessage> {
    let kind = proptest::sample::select(vec![
        SignalError::Malformed,
        SignalError::TooLarge,
        SignalError::TooManyTopics,
        SignalError::TopicFull,
        SignalError::RateLimited,
        SignalError::NotJoined,
        SignalError::UnknownPeer,
        SignalError::ServerFull,
        SignalError::SourceFull,
        SignalError::Evicted,
    ]);
    prop_oneof![
        (0..4u8, vec(arb_peer(), 0..6)).prop_map(|(t, peers)| {
            let peers: std::collections::BTreeMap<_, _> = peers.into_iter().map(|p| (p.peer, p)).collect();
            ServerMessage::Joined { topic: topic(t), peers: peers.into_values().collect() }
        }),
        (0..4u8, arb_peer()).prop_map(|(t, info)| ServerMessage::PeerJoined { topic: topic(t), info }),
        (0..4u8, 0..6u8).prop_map(|(t, k)| ServerMessage::PeerLeft { topic: topic(t), peer: key(k) }),
        (0..4u8, 0..6u8).prop_map(|(t, k)| ServerMessage::Relayed { topic: topic(t), from: key(k), payload: vec![k] }),
        Just(ServerMessage::Pong),
        (kind, proptest::option::of(0..4u8)).prop_map(|(kind, t)| ServerMessage::Error { kind, topic: t.map(topic) }),
    ]
}

fn arb_client_op() -> impl Strategy<Value = ClientOp> {
    prop_oneof![
        1 => Just(ClientOp::Connected),
        1 => Just(ClientOp::Disconnected),
        1 => (0..30_000u16).prop_map(ClientOp::Timeout),
        2 => (0..4u8).prop_map(ClientOp::Join),
        1 => (0..4u8).prop_map(ClientOp::Leave),
        1 => (0..4u8, 0..6u8).prop_map(|(t, k)| ClientOp::Relay(t, k)),
        8 => arb_server_message().prop_map(ClientOp::Says),
        1 => vec(any::<u8>(), 0..40).prop_map(ClientOp::Bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever clients send, in whatever order: no panic, tables consistent and within the
    /// limits, every frame the server sends canonical and about a topic its receiver is on.
    #[test]
    fn the_server_survives_arbitrary_clients(ops in vec(arb_server_op(), 1..80)) {
        let limits = tiny();
        let mut server = SignalServer::new(limits);
        let mut now = Timestamp::from_millis(T0);
        for op in ops {
            let input_bytes;
            let input = match op {
                // Two sources only, so the per-source cap and the evictions of §8.3.8 are exercised.
                ServerOp::Connect(c) => ServerInput::Connected { client: ClientId(c.into()), source: source(u64::from(c % 2)) },
                ServerOp::Disconnect(c) => ServerInput::Disconnected { client: ClientId(c.into()) },
                ServerOp::Send(c, m) => {
                    input_bytes = ClientFrame::new(m).to_bytes();
                    ServerInput::Frame { client: ClientId(c.into()), bytes: &input_bytes }
                }
                ServerOp::Bytes(c, b) => {
                    input_bytes = b;
                    ServerInput::Frame { client: ClientId(c.into()), bytes: &input_bytes }
                }
                ServerOp::Flip(c, m, i) => {
                    let mut b = ClientFrame::new(m).to_bytes();
                    let at = i % b.len();
                    b[at] ^= 1 << (i % 8);
                    input_bytes = b;
                    ServerInput::Frame { client: ClientId(c.into()), bytes: &input_bytes }
                }
                ServerOp::Advance(ms) => {
                    now = now.saturating_add_millis(ms.into());
                    ServerInput::Timeout
                }
            };
            server.handle_input(input, now);
            let mut sent = Vec::new();
            let mut closed = BTreeSet::new();
            while let Some(out) = server.poll_output() {
                match out {
                    ServerOutput::Transmit { client, bytes } => {
                        let frame = ServerFrame::from_bytes(&bytes);
                        prop_assert!(frame.is_ok());
                        sent.push((client, frame.unwrap().message));
                    }
                    ServerOutput::Disconnect { client } => { closed.insert(client); }
                    ServerOutput::Timeout(_) => {}
                }
            }
            // News of a topic, and relays on it, reach only connections on that topic.
            for (client, message) in sent.iter().filter(|(c, _)| !closed.contains(c)) {
                let on = match message {
                    ServerMessage::Joined { topic, .. }
                    | ServerMessage::PeerJoined { topic, .. }
                    | ServerMessage::PeerLeft { topic, .. }
                    | ServerMessage::Relayed { topic, .. } => Some(topic),
                    ServerMessage::Pong | ServerMessage::Error { .. } => None,
                };
                if let Some(topic) = on {
                    prop_assert!(server.members(topic).any(|(id, _)| id == *client), "{message:?} to {client:?}");
                }
            }
            server.assert_invariants();
            prop_assert!(server.registration_count() <= limits.clients_max * limits.topics_per_client_max);
        }
    }

    /// Whatever a server says: no panic, state within the client's limits, every event
    /// consistent (a peer appears before it goes, and what it reports is what it holds).
    #[test]
    fn the_client_survives_an_arbitrary_server(ops in vec(arb_client_op(), 1..80)) {
        let limits = SignalLimits { topics_per_client_max: 3, peers_per_topic_max: 3, ..SignalLimits::default() };
        let mut client = SignalClient::new(info(0), limits).unwrap();
        let mut now = Timestamp::from_millis(T0);
        let mut model: BTreeSet<(Digest, PublicKey)> = BTreeSet::new();
        for op in ops {
            match op {
                ClientOp::Connected => client.handle_input(ClientInput::Connected, now),
                ClientOp::Disconnected => client.handle_input(ClientInput::Disconnected, now),
                ClientOp::Timeout(ms) => {
                    now = now.saturating_add_millis(ms.into());
                    client.handle_input(ClientInput::Timeout, now);
                }
                ClientOp::Join(t) => { let _ = client.join(topic(t)); }
                ClientOp::Leave(t) => { let _ = client.leave(topic(t)); }
                ClientOp::Relay(t, k) => { let _ = client.relay(topic(t), key(k), vec![1]); }
                ClientOp::Says(m) => {
                    client.handle_input(ClientInput::Frame { bytes: &ServerFrame::new(m).to_bytes() }, now);
                }
                ClientOp::Bytes(b) => client.handle_input(ClientInput::Frame { bytes: &b }, now),
            }
            while let Some(out) = client.poll_output() {
                match out {
                    ClientOutput::Transmit { bytes } => {
                        prop_assert!(client.is_connected());
                        prop_assert!(ClientFrame::from_bytes(&bytes).is_ok());
                    }
                    ClientOutput::Event(SignalEvent::PeerAppeared { topic, info }) => {
                        prop_assert!(info.peer != key(0));
                        model.insert((topic, info.peer));
                    }
                    ClientOutput::Event(SignalEvent::PeerGone { topic, peer }) => {
                        prop_assert!(model.remove(&(topic, peer)), "gone without appearing");
                    }
                    _ => {}
                }
            }
            prop_assert!(client.topics().count() <= limits.topics_per_client_max);
            let mut held = BTreeSet::new();
            for t in client.topics() {
                prop_assert!(client.peers(t).count() <= limits.peers_per_topic_max);
                held.extend(client.peers(t).map(|p| (*t, p.peer)));
            }
            prop_assert_eq!(&held, &model);
        }
    }
}

/// The fairness tests can fail: with `signal-unfair` planted, both do.
#[cfg(feature = "mutants")]
#[test]
fn the_fairness_tests_fail_with_signal_unfair() {
    use spaces_protocol::mutants::{Mutant, set};
    set(Some(Mutant::SignalUnfair));
    let topics = std::panic::catch_unwind(a_flooding_source_gives_up_topics_to_a_newcomer).is_err();
    let connections = std::panic::catch_unwind(connections_are_shared_out_by_source).is_err();
    set(None);
    assert!(topics && connections, "signal-unfair: topics caught {topics}, connections caught {connections}");
}

/// Issue 10 item 5 at the default limits: 64 connections × 256 topics fill the topic table
/// when they come from 8 sources, not from one (the source cap stops it at 32 connections,
/// 8192 topics); either way an honest device joining a new topic is registered.
#[test]
fn the_topic_table_flood_of_issue_10_leaves_honest_joins_working() {
    for sources in [1u64, 8] {
        let limits = SignalLimits::default();
        let mut raw = Raw::new(limits);
        let mut next = 0u32;
        for c in 0..64u64 {
            if !raw.connect_from(100 + c, 1_000 + c % sources).is_empty() {
                continue;
            }
            for _ in 0..limits.topics_per_client_max {
                next += 1;
                let mut t = [0u8; 32];
                t[..4].copy_from_slice(&next.to_be_bytes());
                let join = ClientMessage::Join { topic: Digest(t), info: info(1) };
                raw.server.handle_input(
                    ServerInput::Frame { client: ClientId(100 + c), bytes: &ClientFrame::new(join).to_bytes() },
                    raw.now,
                );
                while raw.server.poll_output().is_some() {}
            }
        }
        let expected =
            if sources == 1 { limits.clients_per_source_max * limits.topics_per_client_max } else { limits.topics_max };
        assert_eq!(raw.server.topic_count(), expected, "{sources} sources");
        raw.connect_from(1, 1);
        let said = raw.join(1, 7, 2);
        assert!(said.contains(&Said::To(1, ServerMessage::Joined { topic: topic(7), peers: vec![] })), "{said:?}");
        raw.server.assert_invariants();
    }
}
