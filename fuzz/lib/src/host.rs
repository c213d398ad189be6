//! The invitation host fed arbitrary frame and timer sequences (SPEC §7.6, §7.7).
//!
//! Every guest the fuzzer adds types a wrong PIN (the fuzzer never learns the right one); it
//! also sends raw frames on sessions of its own, replays guests' frames, flips bits, closes
//! connections, lets time pass and crashes the host. Invariants (`duel`): the host never admits
//! anyone and never reaches SUCCESS; the budget never grows, live, persisted or across a
//! restart, and each change is persisted before the next step.

use arbitrary::{Arbitrary, Unstructured};

use crate::duel::{Duel, STEPS_MAX, Step};

pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(seed) = u64::arbitrary(&mut u) else { return };
    let mut duel = Duel::new(seed);
    for _ in 0..STEPS_MAX {
        let Ok(step) = Step::arbitrary(&mut u) else { break };
        let step = match step {
            Step::AddGuest { .. } => Step::AddGuest { knows_pin: false },
            other => other,
        };
        duel.step(step);
    }
    assert!(duel.parties.iter().all(|p| !p.admitted), "a guest without the PIN was admitted");
}
