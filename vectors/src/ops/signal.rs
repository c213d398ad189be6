//! Signaling frames (SPEC.md §8.2), decoded strictly in both directions, and the server's
//! behaviour over a script of inputs (§8.3).

use serde_json::{Value, json};
use spaces_protocol::signal::server::{ServerInput, ServerOutput, SignalServer};
use spaces_protocol::signal::wire::{ClientFrame, ClientMessage, ServerFrame, ServerMessage};
use spaces_protocol::signal::{ClientId, PeerInfo, SignalLimits, Source};
use spaces_protocol::{Canonical, Timestamp};

use super::{OpError, decode_error};
use crate::json::{array_of, bytes_of, hex, list_of, opt, str_of, u64_of};

fn info_json(i: &PeerInfo) -> Value {
    json!({ "peer": hex(i.peer.0), "addr": hex(&i.addr) })
}

pub fn decode_client(input: &Value) -> Result<Value, OpError> {
    let f = ClientFrame::from_bytes(&bytes_of(input, "bytes")?).map_err(decode_error)?;
    Ok(match f.message {
        ClientMessage::Join { topic, info } => {
            json!({ "type": "join", "topic": hex(topic.0), "info": info_json(&info) })
        }
        ClientMessage::Leave { topic } => json!({ "type": "leave", "topic": hex(topic.0) }),
        ClientMessage::Relay { topic, to, payload } => {
            json!({ "type": "relay", "topic": hex(topic.0), "to": hex(to.0), "payload": hex(payload) })
        }
        ClientMessage::Ping => json!({ "type": "ping" }),
    })
}

pub fn decode_server(input: &Value) -> Result<Value, OpError> {
    let f = ServerFrame::from_bytes(&bytes_of(input, "bytes")?).map_err(decode_error)?;
    Ok(match f.message {
        ServerMessage::Joined { topic, peers } => json!({
            "type": "joined",
            "topic": hex(topic.0),
            "peers": peers.iter().map(info_json).collect::<Vec<_>>(),
        }),
        ServerMessage::PeerJoined { topic, info } => {
            json!({ "type": "peerJoined", "topic": hex(topic.0), "info": info_json(&info) })
        }
        ServerMessage::PeerLeft { topic, peer } => {
            json!({ "type": "peerLeft", "topic": hex(topic.0), "peer": hex(peer.0) })
        }
        ServerMessage::Relayed { topic, from, payload } => {
            json!({ "type": "relayed", "topic": hex(topic.0), "from": hex(from.0), "payload": hex(payload) })
        }
        ServerMessage::Pong => json!({ "type": "pong" }),
        ServerMessage::Error { kind, topic } => {
            json!({ "type": "error", "kind": format!("{kind:?}"), "topic": topic.map(|t| hex(t.0)) })
        }
    })
}

/// `signal.serve`: a signaling server (SPEC §8.3) with the given limits, fed a script of
/// inputs; per step, what it sends (`to`, `bytes`) and whom it disconnects (`close`), in
/// order. `Timeout(t)` outputs are not listed: they are the driver's business.
pub fn serve(input: &Value) -> Result<Value, OpError> {
    let l = opt(input, "limits").ok_or_else(|| OpError::bad_args("limits missing"))?;
    let size = |k: &str| u64_of(l, k).map(|n| n as usize);
    let limits = SignalLimits {
        clients_max: size("clientsMax")?,
        clients_per_source_max: size("clientsPerSourceMax")?,
        topics_max: size("topicsMax")?,
        topics_per_client_max: size("topicsPerClientMax")?,
        peers_per_topic_max: size("peersPerTopicMax")?,
        rate_per_s: u64_of(l, "ratePerS")?,
        rate_burst_max: u64_of(l, "rateBurstMax")?,
        registration_ttl_ms: u64_of(l, "registrationTtlMs")?,
        violations_max: u32::try_from(u64_of(l, "violationsMax")?).map_err(|_| OpError::bad_args("violationsMax"))?,
    };
    let start = u64_of(input, "startMs")?;
    let mut server = SignalServer::new(limits);
    let mut answers = Vec::new();
    for step in list_of(input, "steps")? {
        let now = Timestamp::from_millis(start.saturating_add(u64_of(step, "atMs")?));
        let client = || u64_of(step, "client").map(ClientId);
        let bytes;
        let input = match str_of(step, "op")? {
            "connect" => ServerInput::Connected { client: client()?, source: Source(array_of(step, "source")?) },
            "frame" => {
                bytes = bytes_of(step, "bytes")?;
                ServerInput::Frame { client: client()?, bytes: &bytes }
            }
            "disconnect" => ServerInput::Disconnected { client: client()? },
            "timeout" => ServerInput::Timeout,
            other => return Err(OpError::bad_args(format!("unknown step op {other}"))),
        };
        server.handle_input(input, now);
        let mut out = Vec::new();
        while let Some(o) = server.poll_output() {
            match o {
                ServerOutput::Transmit { client, bytes } => out.push(json!({ "to": client.0, "bytes": hex(bytes) })),
                ServerOutput::Disconnect { client } => out.push(json!({ "close": client.0 })),
                ServerOutput::Timeout(_) => {}
            }
        }
        answers.push(Value::Array(out));
    }
    Ok(json!({ "outputs": answers }))
}
