//! A bounded sweep of every profile on the real protocol: every seed must pass. The long
//! sweep is the README's main command; this is what every change must keep green.

use spaces_sim::config::{Profile, draw};

fn sweep(profile: Profile, seeds: std::ops::Range<u64>) {
    let mut failures = Vec::new();
    for seed in seeds {
        let outcome = spaces_sim::run(draw(seed, profile));
        if let Some(v) = outcome.violation {
            failures.push(format!("seed {seed}: {} {}", v.invariant, v.detail));
        }
    }
    assert!(failures.is_empty(), "{} failures in {}:\n{}", failures.len(), profile.name(), failures.join("\n"));
}

#[test]
fn calm_worlds_pass() {
    sweep(Profile::Calm, 0..20);
}

#[test]
fn faulty_worlds_pass() {
    sweep(Profile::Faulty, 0..20);
}

#[test]
fn hostile_worlds_pass() {
    sweep(Profile::Hostile, 0..20);
}

#[test]
fn swarm_worlds_pass() {
    sweep(Profile::Swarm, 0..20);
}

/// Seeds beyond the sweeps above that once failed on the real protocol, each named with the
/// defect it found: they must pass for good.
#[test]
fn seeds_that_found_defects_pass() {
    let found: &[(Profile, u64, &str)] = &[
        // R2: a batch's concurrent credentials were inserted (and resolved) one at a time.
        (Profile::Faulty, 1777, "credentials of one batch resolved once"),
        // L1: a removal only a removed device held (the forker now keeps what it removed).
        (Profile::Hostile, 1240, "a rolled-back removal"),
        // L1 (H1): a sibling admitted a linked device's feeds after one head only, where its
        // identity had no role, so every join was refused.
        (Profile::Hostile, 426, "a sibling's admission after every head"),
    ];
    let mut failures = Vec::new();
    for (profile, seed, what) in found {
        if let Some(v) = spaces_sim::run(draw(*seed, *profile)).violation {
            failures.push(format!("{} {seed} ({what}): {} {}", profile.name(), v.invariant, v.detail));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn attacks_and_faults_actually_happen() {
    // The oracle passing means nothing if the adversary never acts: check it does.
    let mut totals = spaces_sim::Stats::default();
    for seed in 0..10 {
        totals.merge(&spaces_sim::run(draw(seed, Profile::Hostile)).stats);
    }
    for kind in [
        "pin-guess",
        "code-leak",
        "flood-non-canonical",
        "relay-role-rewrite",
        "signal-redirect",
        "net-tamper",
        "delegated-wrong-pin",
    ] {
        assert!(
            totals.attacks.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} in 10 hostile worlds: {:?}",
            totals.attacks
        );
    }
    for kind in ["crash", "partition", "reset", "signal-outage"] {
        assert!(totals.faults.get(kind).copied().unwrap_or(0) > 0, "no {kind} in 10 hostile worlds");
    }
    assert!(
        totals.invitations.get("SUCCESS").copied().unwrap_or(0) > 10,
        "invitations succeed: {:?}",
        totals.invitations
    );
    assert!(totals.refused > 0, "some attack frames are refused");
}
