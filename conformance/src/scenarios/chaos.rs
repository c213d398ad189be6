//! Seeded network faults for the scenario world (`net.rs`).

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

/// Seeded network faults of the kind a real network has and a conformant flow survives:
/// connection resets (both ends told at once) and duplicated frames, on the first
/// `frames_left` frames only, so that a flow can always finish once they stop.
pub struct Chaos {
    rng: ChaCha20Rng,
    pub reset_percent: u32,
    pub duplicate_percent: u32,
    pub frames_left: usize,
}

impl Chaos {
    pub fn new(seed: u64, reset_percent: u32, duplicate_percent: u32, frames_left: usize) -> Self {
        assert!(reset_percent + duplicate_percent <= 100);
        Chaos { rng: ChaCha20Rng::seed_from_u64(seed), reset_percent, duplicate_percent, frames_left }
    }

    /// 0: deliver, 1: reset, 2: duplicate.
    pub(super) fn roll(&mut self) -> u8 {
        if self.frames_left == 0 {
            return 0;
        }
        self.frames_left -= 1;
        let r = self.rng.next_u32() % 100;
        if r < self.reset_percent {
            1
        } else if r < self.reset_percent + self.duplicate_percent {
            2
        } else {
            0
        }
    }
}
