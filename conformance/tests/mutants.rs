//! Each invitation mutant of the protocol crate, planted in the reference driver, is FAILED
//! by at least one scenario: the harness can tell a broken client from a good one. (The
//! mutants of the core are caught by the published vectors.)
#![cfg(feature = "mutants")]

use spaces_conformance::driver::DriverProcess;
use spaces_conformance::report::{Report, Status};
use spaces_conformance::scenarios;

const DRIVER: &str = env!("CARGO_BIN_EXE_spaces-driver");

const INVITATION_MUTANTS: [&str; 8] = [
    "accept-any-pin",
    "per-session-budget",
    "ignore-expiry",
    "forget-budget-on-restart",
    "drop-prologue-binding",
    "admit-after-cancel",
    "leak-pin-into-frame",
    "guest-trusts-grant",
];

/// Planted bugs of issue 10's host holes, with the scenarios that must catch them.
const ISSUE_10_MUTANTS: [(&str, &[&str]); 3] = [
    ("rejoin-after-removal", &["rejoin-after-removal-none", "rejoin-after-removal-pin", "rejoin-after-removal-key"]),
    ("free-guess-after-completion", &["free-guess-after-completion"]),
    ("charge-unconfirmed-attempts", &["dropped-confirmations-cost-nothing"]),
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
    let open = |c: &&spaces_conformance::report::Case| scenarios::host_holes::OPEN.contains(&c.name.as_str());
    let unexpected = clean.cases.iter().filter(|c| c.status == Status::Failed && !open(c)).count();
    assert_eq!(unexpected, 0, "{}", clean.render(false));
    for mutant in INVITATION_MUTANTS {
        let report = scenarios_with(Some(mutant));
        // The open scenarios fail without any mutant: they prove nothing about one.
        let caught: Vec<&str> =
            report.cases.iter().filter(|c| c.status == Status::Failed && !open(c)).map(|c| c.name.as_str()).collect();
        println!("{mutant}: caught by {caught:?}");
        assert!(!caught.is_empty(), "{mutant} passed every scenario:\n{}", report.render(false));
    }
}

#[test]
fn issue_10_mutants_fail_their_scenarios() {
    use spaces_protocol::mutants::Mutant;
    for (mutant, expected) in ISSUE_10_MUTANTS {
        assert!(Mutant::from_name(mutant).is_some(), "{mutant} is in the catalogue");
        let report = scenarios_with(Some(mutant));
        for name in expected {
            let case = report.cases.iter().find(|c| c.name == *name).expect("the scenario ran");
            assert_eq!(case.status, Status::Failed, "{mutant} passes {name}:\n{}", report.render(false));
        }
    }
}

#[test]
fn an_unknown_mutant_is_refused() {
    let out = std::process::Command::new(DRIVER).args(["--mutant", "no-such-bug"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The core mutants (codec, signatures, membership, items, feeds, the heard limit) and the
/// signaling server's `signal-unfair` are the vectors' to catch.
/// With only the harness's samples, two of them are; with the published vectors and a driver
/// that answers their ops, every one must be.
#[test]
fn core_mutants_fail_some_vector() {
    use spaces_conformance::driver::Driver;
    use spaces_conformance::vectors;
    use spaces_protocol::mutants::Mutant;
    use std::path::PathBuf;

    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let published = manifest.join("../vectors");
    let full = DriverProcess::spawn(DRIVER).unwrap().hello().unwrap().ops.iter().any(|o| o == "membership.resolve");
    let (dir, mutants): (PathBuf, Vec<Mutant>) = if full && published.is_dir() {
        // The signaling server's sharing rule (SPEC §8.3.8) is in the published vectors too, and
        // so are the rules issue 10 added vectors for (§4.4 step 7, FeedAlreadyAdmitted, §5.3
        // duplicates, §9.2.2 rule 6's heard limit, §7.8.1's shared budget), and issue 15's device removal
        // (§4.4 step 7, §6.4 rule 5).
        let issue_10 = [
            Mutant::SignalUnfair,
            Mutant::IngestRemovedUnbounded,
            Mutant::SkipConcurrentDemotion,
            Mutant::FeedReadmissionWins,
            Mutant::ForkOnResignature,
            Mutant::DuplicateBeforeSignature,
            Mutant::DelegatedFullShares,
            Mutant::IgnoreDeviceRemoval,
        ];
        (published, [&Mutant::ALL[..9], &issue_10[..]].concat())
    } else {
        (manifest.join("tests/data"), vec![Mutant::CodecLenient, Mutant::SkipSignatureCheck])
    };
    let files = vectors::load_dir(&dir).unwrap();
    for mutant in mutants {
        let mut driver = DriverProcess::spawn(&format!("{DRIVER} --mutant {}", mutant.name())).unwrap();
        let mut report = Report::default();
        vectors::run(&mut driver, &files, "", &mut report);
        let caught = report.cases.iter().filter(|c| c.status == Status::Failed).count();
        println!("{}: {caught} vectors failed", mutant.name());
        assert!(caught > 0, "{} passed every vector in {}", mutant.name(), dir.display());
    }
}

/// Cross mode catches a disagreement between two implementations: an honest driver against a
/// peer driver whose host accepts any PIN fails a scenario (the honest guest, told its wrong PIN
/// was right, is admitted).
#[test]
fn cross_mode_fails_when_the_peer_has_a_planted_bug() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spaces-conformance"))
        .args(["scenarios", "--driver", DRIVER, "--peer", &format!("{DRIVER} --mutant accept-any-pin")])
        .output()
        .expect("the harness runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "an honest driver against a PIN-ignoring peer must fail:\n{text}");
    assert!(text.contains("FAILED"), "{text}");
}
