//! The mutant catalogue: every planted bug the simulator claims must make some seed of its
//! profile fail within 1,000 seeds, and the real code must pass that same seed; together they
//! show every oracle (S1-S7, R1, R4, L1) failing. The catalogue's known seed is tried first (CI
//! time); a stale one is reported and the hunt goes on through all 1,000. Run with
//! `cargo test -p spaces-sim --release --features mutants --test mutants`.
#![cfg(feature = "mutants")]

use spaces_sim::config::draw;
use spaces_sim::mutant::{CAUGHT, set_for_run};

const SEEDS_MAX: u64 = 1_000;

/// The known seed if it still catches `m`, else the first seed of `profile` that fails with `m`
/// planted and passes without it: the catch is the mutant's doing, not a flaw the real code
/// shares.
fn hunt(
    m: spaces_sim::mutant::Planted,
    profile: spaces_sim::Profile,
    known: u64,
    expected: &[&str],
) -> Option<(u64, String)> {
    let caught = catch(m, profile, known, expected);
    if caught.is_none() {
        eprintln!("{:<28} no longer caught by its catalogue seed {known}: hunting", m.name());
    }
    caught.or_else(|| (0..SEEDS_MAX).find_map(|seed| catch(m, profile, seed, expected)))
}

/// `seed`'s violation with `m` planted, if it is of an `expected` invariant and the real code
/// passes that seed.
fn catch(
    m: spaces_sim::mutant::Planted,
    profile: spaces_sim::Profile,
    seed: u64,
    expected: &[&str],
) -> Option<(u64, String)> {
    let mut cfg = draw(seed, profile);
    cfg.mutant = Some(m.name().into());
    set_for_run(Some(m));
    let planted = spaces_sim::run(cfg).violation;
    set_for_run(None);
    let v = planted.filter(|v| expected.contains(&v.invariant))?;
    let clean = spaces_sim::run(draw(seed, profile)).violation.is_none();
    clean.then(|| (seed, format!("{} ({}): {}", v.invariant, profile.name(), v.detail)))
}

#[test]
fn every_mutant_in_the_catalogue_is_caught() {
    spaces_sim::runner::quiet_panics();
    // One thread per mutant: a planted bug is per thread, so they hunt side by side.
    let results: Vec<(&str, Option<(u64, String)>)> = std::thread::scope(|s| {
        let hunts: Vec<_> = CAUGHT
            .iter()
            .map(|&(m, profile, known, expected)| s.spawn(move || (m.name(), hunt(m, profile, known, expected))))
            .collect();
        hunts.into_iter().map(|h| h.join().expect("a hunt does not panic")).collect()
    });
    let mut missed = Vec::new();
    let mut invariants = std::collections::BTreeSet::new();
    for (name, caught) in results {
        match caught {
            None => missed.push(name),
            Some((seed, what)) => {
                eprintln!("{name:<28} caught by seed {seed}: {what}");
                invariants.insert(what.split(' ').next().unwrap_or("").to_string());
            }
        }
    }
    for oracle in ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "R1", "R4", "L1"] {
        assert!(invariants.contains(oracle), "no planted bug shows that {oracle} can fail: {invariants:?}");
    }
    assert!(missed.is_empty(), "mutants not caught within {SEEDS_MAX} seeds: {missed:?}");
}
