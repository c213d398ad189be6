//! The invitation guest fed arbitrary frame and timer sequences (SPEC §7.6).
//!
//! Guests that know the PIN and guests that do not, against a real host, over a network that
//! drops, delays, bit-flips and injects frames towards the guest and replays the guest's own.
//! Invariants (`duel`): a guest reaches SUCCESS only if it typed the right PIN and the host
//! admitted it; its reported attempts never grow; plus the host's invariants. And a terminal
//! guest stays where it ended, whatever arrives after.

use arbitrary::{Arbitrary, Unstructured};

use crate::duel::{Duel, STEPS_MAX, Step};

pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(seed) = u64::arbitrary(&mut u) else { return };
    let mut duel = Duel::new(seed);
    for _ in 0..STEPS_MAX {
        let Ok(step) = Step::arbitrary(&mut u) else { break };
        let ended: Vec<_> = duel.parties.iter().map(|p| p.guest.outcome().cloned()).collect();
        duel.step(step);
        for (p, before) in duel.parties.iter().zip(ended) {
            if before.is_some() {
                assert_eq!(p.guest.outcome().cloned(), before, "a terminal guest changed its outcome");
            }
        }
    }
}
