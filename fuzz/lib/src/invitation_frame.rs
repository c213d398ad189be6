//! Invitation frames and sealed messages (SPEC §7.3).
//!
//! Invariants: decoding is total; an accepted `Frame` or `Message` re-encodes to the same bytes
//! (`support::round_trip`); an accepted frame carries version 1; a `Message` never exceeds the
//! frame bound, so every accepted message fits a frame.

use spaces_protocol::invitation::wire::{FRAME_SIZE_MAX, Frame, Message};

use crate::support::round_trip;

pub fn run(data: &[u8]) {
    if let Some(frame) = round_trip::<Frame>(data) {
        assert_eq!(frame.version, 1);
    }
    if round_trip::<Message>(data).is_some() {
        assert!(data.len() <= FRAME_SIZE_MAX);
    }
}
