//! The signaling server fed arbitrary inputs (SPEC §8.3), structure-aware.
//!
//! A driver script over small limits (so every bound is reached): connections from a few
//! sources, well-formed joins, leaves, relays and pings over small pools of topics and keys
//! (oversized addresses and payloads included), raw bytes, disconnects and time passing.
//! Invariants after every input: `SignalServer::assert_invariants` (tables agree, every limit
//! holds); every frame it sends is a canonical `ServerFrame` within the frame bound, addressed
//! to a connection it has (connected and not yet disconnected by either side); the drain ends
//! with exactly one `Timeout`, last.

use std::collections::BTreeSet;

use arbitrary::{Arbitrary, Unstructured};
use spaces_protocol::Canonical;
use spaces_protocol::hash::Digest;
use spaces_protocol::keys::PublicKey;
use spaces_protocol::signal::server::{ServerInput, ServerOutput, SignalServer};
use spaces_protocol::signal::wire::{ClientFrame, ClientMessage, FRAME_SIZE_MAX, ServerFrame};
use spaces_protocol::signal::{ClientId, PeerInfo, SignalLimits, Source};
use spaces_protocol::time::Timestamp;

use crate::support::round_trip;

/// Inputs one script runs at most, so one execution stays short.
const STEPS_MAX: usize = 256;

#[derive(Debug, Arbitrary)]
enum Step {
    Connect { client: u8, source: u8 },
    Join { client: u8, topic: u8, key: u8, addr_len: u8 },
    Leave { client: u8, topic: u8 },
    Relay { client: u8, topic: u8, to: u8, payload_len: u16 },
    Ping { client: u8 },
    Raw { client: u8, bytes: Vec<u8> },
    Disconnect { client: u8 },
    Wait { ms: u16 },
}

fn limits() -> SignalLimits {
    SignalLimits {
        clients_max: 6,
        clients_per_source_max: 3,
        topics_max: 4,
        topics_per_client_max: 3,
        peers_per_topic_max: 3,
        rate_per_s: 5,
        rate_burst_max: 8,
        registration_ttl_ms: 6_000,
        violations_max: 3,
    }
}

pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut server = SignalServer::new(limits());
    let mut open: BTreeSet<ClientId> = BTreeSet::new();
    let mut now = Timestamp::from_millis(1_000_000);
    for _ in 0..STEPS_MAX {
        let Ok(step) = Step::arbitrary(&mut u) else { break };
        let frame;
        let input = match step {
            Step::Connect { client, source } => {
                let client = ClientId(u64::from(client % 10));
                if !open.insert(client) {
                    continue; // a driver never reuses a live connection's id
                }
                ServerInput::Connected { client, source: Source([source % 4; 16]) }
            }
            Step::Disconnect { client } => {
                let client = ClientId(u64::from(client % 10));
                open.remove(&client);
                ServerInput::Disconnected { client }
            }
            Step::Wait { ms } => {
                now = now.saturating_add_millis(u64::from(ms));
                ServerInput::Timeout
            }
            Step::Raw { client, bytes } => {
                frame = bytes;
                ServerInput::Frame { client: ClientId(u64::from(client % 10)), bytes: &frame }
            }
            other => {
                let (client, message) = message(other);
                frame = ClientFrame::new(message).to_bytes();
                ServerInput::Frame { client, bytes: &frame }
            }
        };
        server.handle_input(input, now);
        drain(&mut server, &mut open);
        server.assert_invariants();
    }
}

fn message(step: Step) -> (ClientId, ClientMessage) {
    let id = |c: u8| ClientId(u64::from(c % 10));
    let topic = |t: u8| Digest([t % 6; 32]);
    let key = |k: u8| PublicKey([k % 8; 32]);
    match step {
        Step::Join { client, topic: t, key: k, addr_len } => {
            let info = PeerInfo { peer: key(k), addr: vec![7; usize::from(addr_len % 80)] };
            (id(client), ClientMessage::Join { topic: topic(t), info })
        }
        Step::Leave { client, topic: t } => (id(client), ClientMessage::Leave { topic: topic(t) }),
        Step::Relay { client, topic: t, to, payload_len } => {
            let payload = vec![9; usize::from(payload_len % 9000)];
            (id(client), ClientMessage::Relay { topic: topic(t), to: key(to), payload })
        }
        Step::Ping { client } => (id(client), ClientMessage::Ping),
        _ => unreachable!("connection steps are handled by the caller"),
    }
}

fn drain(server: &mut SignalServer, open: &mut BTreeSet<ClientId>) {
    let mut timeouts = 0;
    while let Some(out) = server.poll_output() {
        assert_eq!(timeouts, 0, "an output after the Timeout");
        match out {
            ServerOutput::Transmit { client, bytes } => {
                assert!(open.contains(&client), "a frame to {client:?}, which is not connected");
                assert!(bytes.len() <= FRAME_SIZE_MAX, "a frame over the bound");
                round_trip::<ServerFrame>(&bytes).expect("the server sends canonical frames");
            }
            ServerOutput::Disconnect { client } => {
                assert!(open.remove(&client), "a disconnect of {client:?}, which is not connected");
            }
            ServerOutput::Timeout(_) => timeouts += 1,
        }
    }
    assert!(timeouts <= 1, "more than one Timeout per input");
}
