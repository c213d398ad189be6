//! Golden traces: one fixed seed per profile keeps its whole trace as an insta snapshot, so any
//! change of protocol or simulator behaviour shows up in review as a trace diff, accepted
//! deliberately (`INSTA_UPDATE=always cargo test -p spaces-sim --release --test golden`) or not.

use spaces_sim::config::{Profile, draw};

fn golden(profile: Profile, seed: u64) {
    let (outcome, lines) = spaces_sim::run_traced(draw(seed, profile), true);
    assert!(outcome.violation.is_none(), "seed {seed} ({}) must pass: {:?}", profile.name(), outcome.violation);
    insta::assert_snapshot!(format!("{}-{seed}", profile.name()), lines.join("\n"));
}

#[test]
fn calm() {
    golden(Profile::Calm, 6);
}

#[test]
fn faulty() {
    golden(Profile::Faulty, 6);
}

#[test]
fn hostile() {
    golden(Profile::Hostile, 5);
}

#[test]
fn swarm() {
    golden(Profile::Swarm, 7);
}
