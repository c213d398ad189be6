//! Signaling frames (SPEC.md §8.2), decoded strictly in both directions.

use serde_json::{Value, json};
use spaces_protocol::Canonical;
use spaces_protocol::signal::PeerInfo;
use spaces_protocol::signal::wire::{ClientFrame, ClientMessage, ServerFrame, ServerMessage};

use super::{OpError, decode_error};
use crate::json::{bytes_of, hex};

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
