//! Signaling frames, both directions (SPEC §8.2).
//!
//! Invariants: decoding is total; an accepted `ClientFrame` or `ServerFrame` re-encodes to the
//! same bytes and carries version 1; no accepted frame exceeds the signaling `FRAME_SIZE_MAX`.

use spaces_protocol::signal::wire::{ClientFrame, FRAME_SIZE_MAX, ServerFrame};

use crate::support::round_trip;

pub fn run(data: &[u8]) {
    if let Some(frame) = round_trip::<ClientFrame>(data) {
        assert_eq!(frame.version, 1);
        assert!(data.len() <= FRAME_SIZE_MAX);
    }
    if let Some(frame) = round_trip::<ServerFrame>(data) {
        assert_eq!(frame.version, 1);
        assert!(data.len() <= FRAME_SIZE_MAX);
    }
}
