//! Short descriptions of inputs and frames for the scenario log.

use spaces_protocol::codec::Canonical;
use spaces_protocol::invitation::wire::{Frame, FrameBody};

use crate::flow::Dir;
use crate::wire::{FlowInput, refusal_name};

pub(super) fn dir_name(d: Dir) -> &'static str {
    match d {
        Dir::ToHost => "guest->host",
        Dir::ToGuest => "host->guest",
    }
}

pub(super) fn describe_input(input: &FlowInput) -> String {
    match input {
        FlowInput::Frame { session, bytes } => format!("frame s{session} ({} bytes)", bytes.len() / 2),
        FlowInput::Authenticate { .. } => "authenticate (PIN)".into(),
        other => serde_json::to_string(other).expect("serializes"),
    }
}

/// A short description of a frame for the log: its body variant and size.
pub fn describe_frame(bytes: &[u8]) -> String {
    let kind = match Frame::from_bytes(bytes) {
        Ok(f) => match f.body {
            FrameBody::Hello { .. } => "Hello".to_owned(),
            FrameBody::Handshake { .. } => "Handshake".to_owned(),
            FrameBody::Sealed { chunks } => format!("Sealed({} chunk)", chunks.len()),
            FrameBody::Reject { refusal } => format!("Reject({})", refusal_name(refusal)),
        },
        Err(_) => "undecodable".to_owned(),
    };
    format!("{kind} {} bytes", bytes.len())
}
