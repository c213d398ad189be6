//! Each invitation mutant of the protocol crate, planted in the reference driver, is FAILED
//! by at least one scenario: the harness can tell a broken client from a good one. (The
//! mutants of the core are caught by the published vectors.)
#![cfg(feature = "mutants")]

use spaces_conformance::driver::DriverProcess;
use spaces_conformance::report::{Report, Status};
use spaces_conformance::scenarios;

const DRIVER: &str = env!("CARGO_BIN_EXE_spaces-driver");

const INVITATION_MUTANTS: [&str; 6] = [
    "accept-any-pin",
    "per-session-budget",
    "ignore-expiry",
    "forget-budget-on-restart",
    "drop-prologue-binding",
    "admit-after-cancel",
];

fn scenarios_with(mutant: Option<&str>) -> Report {
    let command = match mutant {
        Some(m) => format!("{DRIVER} --mutant {m}"),
        None => DRIVER.to_owned(),
    };
    let mut driver = DriverProcess::spawn(&command).expect("the driver starts");
    let mut report = Report::default();
    scenarios::run(&mut driver, "", &mut report);
    report
}

#[test]
fn every_invitation_mutant_fails_some_scenario() {
    let clean = scenarios_with(None);
    assert_eq!(clean.total().failed, 0, "{}", clean.render(false));
    for mutant in INVITATION_MUTANTS {
        let report = scenarios_with(Some(mutant));
        let caught: Vec<&str> =
            report.cases.iter().filter(|c| c.status == Status::Failed).map(|c| c.name.as_str()).collect();
        println!("{mutant}: caught by {caught:?}");
        assert!(!caught.is_empty(), "{mutant} passed every scenario:\n{}", report.render(false));
    }
}

#[test]
fn an_unknown_mutant_is_refused() {
    let out = std::process::Command::new(DRIVER).args(["--mutant", "no-such-bug"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
