//! Shrinking liveness failures: a planted bug that breaks L1 or L2 in a world of dozens of
//! actions and thousands of events must shrink to a handful of actions, and the scenario it
//! leaves (its cuts included) must replay bit for bit and fail the same way. Before `shrink`
//! cut the action and fault sequences (delta debugging), these worlds kept every action of
//! their drawn world. Run with
//! `CARGO_TARGET_DIR=target/mutants cargo test -p spaces-sim --release --features mutants --test shrink`.
#![cfg(feature = "mutants")]

use spaces_sim::config::{Config, Profile, draw};
use spaces_sim::mutant::{parse, set_for_run};
use spaces_sim::shrink::{Shrunk, shrink};

/// Shrinks `seed` of `profile` with `mutant` planted, printing each kept step.
fn shrunk(seed: u64, profile: Profile, mutant: &str, runs_max: usize) -> Shrunk {
    spaces_sim::runner::quiet_panics();
    set_for_run(Some(parse(mutant).expect("a catalogued mutant")));
    let mut cfg = draw(seed, profile);
    cfg.mutant = Some(mutant.into());
    let out =
        shrink(cfg, runs_max, |s| eprintln!("  cut {}: {}", s.removed, s.size)).expect("the mutant fails this seed");
    eprintln!("{mutant}: {} -> {} in {} runs", out.before, out.after, out.runs);
    out
}

/// The scenario file's round trip: the same trace twice, and the same invariant.
fn replays_bit_for_bit(out: &Shrunk) {
    let json = serde_json::to_string_pretty(&out.cfg).expect("a config serialises");
    assert!(json.contains("\"cuts\""), "the scenario records what was cut: {json}");
    let back: Config = serde_json::from_str(&json).expect("the scenario reads back");
    assert_eq!(back, out.cfg);
    let (a, b) = (spaces_sim::run(back.clone()), spaces_sim::run(back));
    assert_eq!(a.trace_hash, b.trace_hash, "a shrunk scenario is as deterministic as a seed");
    assert_eq!(a.violation.map(|v| v.invariant), Some(out.invariant));
    assert_eq!(a.stats.events, out.after.events, "the replay is the world shrink saw");
}

/// The world issue 16 named: 9 peers and 14,658 events, which shrinking the dimensions alone
/// left at 4 peers, 242 actions and 8,710 events; 120 runs now leave 4 peers, 67 actions, no
/// fault and 3,757 events.
#[test]
fn an_l1_failure_shrinks_to_a_fraction_of_its_actions_and_replays_bit_for_bit() {
    let out = shrunk(193, Profile::Faulty, "membership-arrival-order", 120);
    assert_eq!(out.invariant, "L1");
    assert!(out.before.peers >= 8 && out.before.events > 13_000, "the drawn world is big: {}", out.before);
    assert!(out.after.actions <= 100, "at most 100 of {} actions left: {}", out.before.actions, out.after);
    assert_eq!(out.after.faults, 0, "no fault is needed: {}", out.after);
    assert!(out.after.events < 6_000, "under 6,000 of {} events left: {}", out.before.events, out.after);
    replays_bit_for_bit(&out);
}

/// Shrinking the dimensions alone left this one at 22 of its 63 actions (612 events).
#[test]
fn an_l2_failure_shrinks_its_actions_and_faults_too() {
    let out = shrunk(190, Profile::Hostile, "charge-unconfirmed-attempts", 250);
    assert_eq!(out.invariant, "L2");
    assert!(out.before.actions >= 40 && out.before.faults >= 3, "{}", out.before);
    assert!(out.after.actions <= 15, "at most 15 of {} actions left: {}", out.before.actions, out.after);
    assert!(out.after.faults < out.before.faults, "faults cut too: {} -> {}", out.before, out.after);
    assert!(out.after.events * 4 < out.before.events, "events cut by 4x: {} -> {}", out.before, out.after);
    replays_bit_for_bit(&out);
}
