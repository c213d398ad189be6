//! The mutant catalogue: every planted bug the simulator claims must make some seed of its
//! profile fail within 1,000 seeds, and the real code must pass those same seeds. Run with
//! `cargo test -p spaces-sim --release --features mutants`.
#![cfg(feature = "mutants")]

use spaces_sim::config::draw;
use spaces_sim::mutant::{CAUGHT, set_for_run};

const SEEDS_MAX: u64 = 1_000;

#[test]
fn every_mutant_in_the_catalogue_is_caught() {
    spaces_sim::runner::quiet_panics();
    let mut missed = Vec::new();
    for &(m, profile) in CAUGHT {
        set_for_run(Some(m));
        let caught = (0..SEEDS_MAX).find_map(|seed| {
            let mut cfg = draw(seed, profile);
            cfg.mutant = Some(m.name().into());
            spaces_sim::run(cfg).violation.map(|v| (seed, v))
        });
        set_for_run(None);
        match caught {
            None => missed.push(m.name()),
            Some((seed, v)) => {
                // The same seed passes on the real code, so the catch is the mutant's doing.
                let clean = spaces_sim::run(draw(seed, profile));
                assert!(
                    clean.violation.is_none(),
                    "{}: seed {seed} fails without the mutant too: {:?}",
                    m.name(),
                    clean.violation
                );
                eprintln!("{:<28} caught by seed {seed} ({}): {} {}", m.name(), profile.name(), v.invariant, v.detail);
            }
        }
    }
    assert!(missed.is_empty(), "mutants not caught within {SEEDS_MAX} seeds: {missed:?}");
}
