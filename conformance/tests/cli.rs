//! The harness never passes green by accident (issue 16): a run that grades nothing fails, a
//! driver that supports nothing fails, and an output path is checked before the run.

use std::process::{Command, Output};

const HARNESS: &str = env!("CARGO_BIN_EXE_spaces-conformance");
const DRIVER: &str = env!("CARGO_BIN_EXE_spaces-driver");

fn harness(args: &[&str]) -> Output {
    Command::new(HARNESS).args(args).output().expect("the harness runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("spaces-conformance-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

#[test]
fn an_empty_vectors_directory_fails() {
    let empty = scratch("empty");
    let out = harness(&["vectors", "--driver", DRIVER, "--vectors", empty.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("nothing was tested"), "{}", text(&out));
}

#[test]
fn a_filter_that_matches_no_scenario_fails() {
    let out = harness(&["scenarios", "--driver", DRIVER, "--only", "no-such-scenario"]);
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn a_driver_that_supports_nothing_fails() {
    // A driver that answers hello with no ops and every request `unsupported`.
    let dir = scratch("nothing");
    let script = dir.join("driver.sh");
    let body = r#"#!/bin/sh
while read -r line; do
  id=$(printf '%s' "$line" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
  case "$line" in
    *'"hello"'*) printf '{"id":%s,"ok":{"name":"nothing","version":"0","protocol":"spaces-driver/1","ops":["hello"]}}\n' "$id" ;;
    *) printf '{"id":%s,"unsupported":true}\n' "$id" ;;
  esac
done
"#;
    std::fs::write(&script, body).unwrap();
    let vectors = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors");
    let out = harness(&["vectors", "--driver", &format!("sh {}", script.display()), "--vectors", vectors]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("nothing was tested"), "{}", text(&out));
}

#[test]
fn a_bad_output_path_fails_before_the_run() {
    let out = harness(&["vectors", "--driver", DRIVER, "--junit", "/no/such/dir/report.xml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("cannot write /no/such/dir/report.xml"), "{}", text(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("OK"), "no table was printed: the run never started");
}

#[test]
fn list_names_every_op_and_scenario_and_version_answers() {
    let out = harness(&["list"]);
    assert!(out.status.success(), "{}", text(&out));
    let listing = text(&out);
    assert!(listing.contains("op signal.serve") && listing.contains("scenario dropped-confirmations-cost-nothing"));
    let version = harness(&["--version"]);
    assert!(text(&version).starts_with("spaces-conformance "), "{}", text(&version));
}

fn sample_vectors() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data")
}

#[test]
fn vectors_only_runs_the_matching_cases() {
    let out = harness(&["vectors", "--driver", DRIVER, "--vectors", sample_vectors(), "--only", "code.decode#5", "-v"]);
    assert!(out.status.success(), "{}", text(&out));
    let cases: Vec<String> = text(&out).lines().filter(|l| l.starts_with("OK ")).map(str::to_owned).collect();
    assert_eq!(cases.len(), 1, "{}", text(&out));
    assert!(cases[0].contains("code.decode#5"), "{}", text(&out));
    let by_file =
        harness(&["vectors", "--driver", DRIVER, "--vectors", sample_vectors(), "--only", "credential_verify"]);
    assert!(by_file.status.success() && !text(&by_file).contains("code_decode.json"), "{}", text(&by_file));
}

/// Answers `code.decode` as the reference does and `unsupported` to everything else.
fn half_driver() -> String {
    format!(
        r#"while IFS= read -r line; do
  case "$line" in
    *'"op":"credential.verify"'*) id=$(printf '%s' "$line" | sed 's/^{{"id":\([0-9]*\).*/\1/'); printf '{{"id":%s,"unsupported":true}}\n' "$id" ;;
    *) printf '%s\n' "$line" | {DRIVER} ;;
  esac
done"#
    )
}

#[test]
fn require_and_fail_on_unsupported_make_coverage_a_gate() {
    // The reference driver answers one line and exits; restarting it per line is slow but
    // keeps this driver to a few lines of shell.
    let driver = half_driver();
    let base = ["vectors", "--driver", &driver, "--vectors", sample_vectors()];
    let plain = harness(&base);
    assert!(plain.status.success(), "UNSUPPORTED alone passes: {}", text(&plain));
    let covered = harness(&[&base[..], &["--require", "code.decode"]].concat());
    assert!(covered.status.success(), "{}", text(&covered));
    let gap = harness(&[&base[..], &["--require", "code.decode,credential.verify"]].concat());
    assert_eq!(gap.status.code(), Some(1), "{}", text(&gap));
    assert!(text(&gap).contains("required credential.verify:") && text(&gap).contains("UNSUPPORTED"), "{}", text(&gap));
    let strict = harness(&[&base[..], &["--fail-on-unsupported"]].concat());
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict));
    let typo = harness(&[&base[..], &["--require", "code.decod"]].concat());
    assert_eq!(typo.status.code(), Some(2), "an unknown name is refused before the run: {}", text(&typo));
}

/// Cross mode (issue 16, the MLS interop harness's shape): a second driver plays the harness's
/// part, so two implementations are checked against each other. The reference against itself
/// passes every scenario that does not script the harness's own flow; those are UNSUPPORTED,
/// saying why.
#[test]
fn cross_mode_runs_one_driver_against_another() {
    let out = harness(&["scenarios", "--driver", DRIVER, "--peer", DRIVER]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("honest-host-pin") || t.contains("passed"), "{t}");
    assert!(t.contains("lying-host-other-role") && t.contains("not in cross mode"), "{t}");
    let passed: usize = t.lines().find_map(|l| l.strip_suffix(" passed, 0 failed")?.parse().ok()).expect("a tally");
    assert!(passed >= 20, "{passed} scenarios ran across two drivers: {t}");
}

#[test]
fn cross_mode_refuses_a_peer_that_cannot_start() {
    let out = harness(&["scenarios", "--driver", DRIVER, "--peer", "/nonexistent/driver"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("peer driver"), "{}", text(&out));
}
