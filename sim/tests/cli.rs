//! The simulator's commands never pass green by accident (issue 16): a seed range that runs
//! nothing is an error, and a scenario file replays with the planted bug it records or not at
//! all.

use std::process::{Command, Output};

const SIM: &str = env!("CARGO_BIN_EXE_spaces-sim");

fn sim(args: &[&str]) -> Output {
    Command::new(SIM).args(args).output().expect("spaces-sim runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn ranges_that_run_nothing_are_errors() {
    for args in [
        &["determinism", "--seeds", "3..1"][..],
        &["run", "--seeds", "10..5"],
        &["run", "--seeds", "18446744073709551615"],
    ] {
        let out = sim(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(!text(&out).contains(" passed, 0 failed"), "{args:?}: {}", text(&out));
    }
}

#[test]
fn a_scenario_is_self_contained() {
    let mut cfg = spaces_sim::config::draw(3, spaces_sim::Profile::Calm);
    cfg.mutant = Some("accept-any-pin".into());
    let path = std::env::temp_dir().join(format!("spaces-sim-cli-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_string(&cfg).unwrap()).unwrap();
    let file = path.to_str().unwrap();
    let with_seed = sim(&["replay", "3", "--scenario", file]);
    assert_eq!(with_seed.status.code(), Some(2), "a seed beside a scenario is refused: {}", text(&with_seed));
    let other = sim(&["replay", "--scenario", file, "--mutant", "ignore-expiry"]);
    assert_eq!(other.status.code(), Some(2), "another mutant than the file's is refused: {}", text(&other));
    let replay = sim(&["replay", "--scenario", file]);
    if spaces_sim::mutant::enabled() {
        assert!(text(&replay).contains("seed 3"), "{}", text(&replay));
    } else {
        // Without the feature the recorded bug cannot be planted: refused, never a clean pass.
        assert_eq!(replay.status.code(), Some(2), "{}", text(&replay));
        assert!(text(&replay).contains("--features mutants"), "{}", text(&replay));
    }
}
