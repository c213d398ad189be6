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
    assert!(text(&other).contains("records mutant accept-any-pin:"), "named, not Rust-printed: {}", text(&other));
    let replay = sim(&["replay", "--scenario", file]);
    if spaces_sim::mutant::enabled() {
        assert!(text(&replay).contains("seed 3"), "{}", text(&replay));
    } else {
        // Without the feature the recorded bug cannot be planted: refused, never a clean pass.
        assert_eq!(replay.status.code(), Some(2), "{}", text(&replay));
        assert!(text(&replay).contains("--features mutants"), "{}", text(&replay));
    }
}

/// A normal build has no planted bugs and says so, rather than running a clean world under a
/// mutant's name; it points at the separate target directory planted-bug builds live in.
#[cfg(not(feature = "mutants"))]
#[test]
fn a_normal_build_refuses_to_plant_a_bug_and_says_where_planted_bug_builds_are() {
    for args in [
        &["run", "--seeds", "0..1", "--mutant", "accept-any-pin"][..],
        &["replay", "0", "--mutant", "accept-any-pin"],
        &["shrink", "0", "--mutant", "accept-any-pin"],
    ] {
        let out = sim(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("has no planted bugs"), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("CARGO_TARGET_DIR=target/mutants"), "{args:?}: {}", text(&out));
    }
    let list = sim(&["mutants"]);
    assert!(list.status.success());
    assert!(text(&list).contains("this build has no planted bugs"), "{}", text(&list));
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// CI reads stderr from a pipe: plain progress lines, never a bar's escape codes.
#[test]
fn a_run_for_ci_writes_junit_progress_lines_and_shard_reports_that_merge() {
    let (junit, r0, r1, merged) = (scratch("run.xml"), scratch("r0.json"), scratch("r1.json"), scratch("merged.json"));
    let shard0 = ["run", "--seeds", "0..4", "--profile", "calm", "--shard", "0/2", "--progress-every", "1"];
    let out = sim(&[&shard0[..], &["--junit", junit.to_str().unwrap(), "--report", r0.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("spaces-sim: ") && l.contains(" seeds, ")).count(),
        2,
        "{stderr}"
    );
    assert!(!stderr.contains('\x1b'), "no ANSI escape codes off a terminal: {stderr:?}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 2, "{xml}");
    assert!(xml.contains(r#"name="seed 0""#) && xml.contains(r#"name="seed 2""#), "{xml}");
    let shard1 = ["run", "--seeds", "0..4", "--profile", "calm", "--shard", "1/2", "--report", r1.to_str().unwrap()];
    assert!(sim(&shard1).status.success());
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&r0).unwrap()).unwrap();
    assert_eq!((report["seed_range"].as_str(), report["shards"][0].as_str()), (Some("0..4"), Some("0/2")), "{report}");
    assert!(report["commit"].is_string() && report["features"]["mutants"].is_boolean(), "{report}");
    let m = sim(&["merge-reports", r0.to_str().unwrap(), r1.to_str().unwrap(), "--out", merged.to_str().unwrap()]);
    assert!(m.status.success(), "{}", text(&m));
    assert_eq!(String::from_utf8_lossy(&m.stdout).lines().last(), Some("4 passed, 0 failed"), "{}", text(&m));
    let twice = sim(&["merge-reports", r0.to_str().unwrap(), r0.to_str().unwrap()]);
    assert_eq!(twice.status.code(), Some(2), "one shard twice is refused: {}", text(&twice));
}

#[test]
fn replay_help_explains_every_argument() {
    let help = text(&sim(&["replay", "--help"]));
    for arg in ["[SEED]", "--mutant", "--trace", "--svg", "--log"] {
        let line = help.lines().find(|l| l.trim_start().starts_with(arg) || l.contains(&format!(" {arg} ")));
        let line = line.unwrap_or_else(|| panic!("{arg} in:\n{help}"));
        let described = line.split_whitespace().count() > 2
            || help.lines().skip_while(|l| *l != line).nth(1).is_some_and(|n| n.starts_with("          "));
        assert!(described, "{arg} has no text:\n{help}");
    }
}

#[test]
fn replay_log_uses_virtual_time_and_no_colour() {
    let out = sim(&["replay", "1", "--profile", "calm", "--log"]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.contains(" t="), "each line carries its virtual time: {first}");
    assert!(!first.starts_with("20"), "no wall-clock timestamp: {first}");
    assert!(!stderr.contains('\x1b'), "no ANSI escape codes off a terminal");
    let again = sim(&["replay", "1", "--profile", "calm", "--log"]);
    assert_eq!(stderr, String::from_utf8_lossy(&again.stderr), "two replays log the same bytes");
}
