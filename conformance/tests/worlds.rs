//! Invitation worlds drawn from simulator seeds (`spaces_conformance::worlds`): the reference
//! passes them, a world replays bit for bit, and each of the oracle's rules fails on a
//! planted bug (a driver that lies in its polls here; the protocol crate's planted bugs in
//! `invitation_mutants_fail_worlds`, with the `mutants` feature).

use serde_json::Value;
use spaces_conformance::driver::{Driver, DriverError};
use spaces_conformance::reference::ReferenceDriver;
use spaces_conformance::report::{Report, Status};
use spaces_conformance::scenarios::net::Net;
use spaces_conformance::wire::Reply;
use spaces_conformance::worlds::{self, Plan};
use spaces_sim::config::Profile;

/// Runs seeds `0..n` of every profile and returns the failed worlds, with their rules.
fn failures(driver: &mut dyn Driver, seeds: u64) -> Vec<String> {
    let mut report = Report::default();
    worlds::run(driver, &worlds::PROFILES, 0..seeds, "", &mut report);
    assert_eq!(report.cases.len(), 4 * seeds as usize);
    let failed = report.cases.iter().filter(|c| c.status == Status::Failed);
    failed.map(|c| format!("{}: {}", c.name, c.expected_line().unwrap_or_default())).collect()
}

#[test]
fn the_reference_passes_the_first_worlds_of_every_profile() {
    let failed = failures(&mut ReferenceDriver::default(), 60);
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn a_world_replays_bit_for_bit() {
    let plan = Plan::draw(17, Profile::Hostile);
    let run = || {
        let mut driver = ReferenceDriver::default();
        let mut net = Net::new(&mut driver, 17);
        worlds::run_world(&mut net, &plan).expect("the reference passes");
        (net.excerpt(usize::MAX), net.wire.clone())
    };
    let (log, wire) = run();
    assert!(wire.len() > 20, "the world did something: {} frames", wire.len());
    assert_eq!(run(), (log, wire));
}

#[test]
fn worlds_carry_the_simulators_weather_and_adversaries() {
    let plans: Vec<Plan> = (0..60).map(|s| Plan::draw(s, Profile::Hostile)).collect();
    assert!(plans.iter().any(|p| !p.crashes.is_empty() && !p.cuts.is_empty()));
    assert!(plans.iter().any(|p| p.cast.iter().any(|a| a.part == worlds::cast::Part::Guesser)));
    assert!(plans.iter().any(|p| p.cast.iter().any(|a| a.rejoins)));
    assert!(plans.iter().any(|p| p.driver_joins && p.lie.is_some()));
    assert!(plans.iter().all(|p| p.driver_joins == p.cast.iter().any(|a| a.driver)));
    let calm: Vec<Plan> = (0..60).map(|s| Plan::draw(s, Profile::Calm)).collect();
    let quiet = |p: &Plan| p.crashes.is_empty() && p.cuts.is_empty() && p.lie.is_none();
    assert!(calm.iter().all(|p| quiet(p) && !p.cast.iter().any(|a| a.rejoins)));
}

/// How a lying driver bends the reference's answers.
#[derive(Clone, Copy)]
enum Lie {
    /// Hosts report nobody admitted (W4 must fail).
    HideAdmitted,
    /// Hosts never send a grant (guests stay in doubt past the world's end: W5).
    DropGrants,
    /// Hosts send nothing at all (the honest guest after healing times out: W6).
    Mute,
}

struct Lying {
    inner: ReferenceDriver,
    lie: Lie,
}

/// Frames from a host this large carry a grant (`Admitted`); refusals and PAKE replies are
/// far smaller.
const GRANT_BYTES_MIN: usize = 1_000;

impl Driver for Lying {
    fn call(&mut self, op: &str, args: Value) -> Result<Reply, DriverError> {
        let reply = self.inner.call(op, args)?;
        let Reply::Ok(mut v) = reply else { return Ok(reply) };
        if op != "flow.poll" {
            return Ok(Reply::Ok(v));
        }
        let hides = matches!(self.lie, Lie::HideAdmitted);
        if hides && v.get("admitted").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
            v["admitted"] = Value::Array(vec![]);
        }
        if let Some(outputs) = v.get_mut("outputs").and_then(Value::as_array_mut) {
            outputs.retain(|o| {
                let transmit = o["type"] == "transmit";
                let grant = o["bytes"].as_str().is_some_and(|b| b.len() / 2 >= GRANT_BYTES_MIN);
                match self.lie {
                    Lie::HideAdmitted => true,
                    Lie::DropGrants => !(transmit && grant),
                    Lie::Mute => !transmit,
                }
            });
        }
        Ok(Reply::Ok(v))
    }

    fn restart(&mut self) -> Result<(), DriverError> {
        self.inner = ReferenceDriver::default();
        Ok(())
    }
}

fn caught_by(lie: Lie, rule: &str) {
    let mut driver = Lying { inner: ReferenceDriver::default(), lie };
    let failed = failures(&mut driver, 10);
    assert!(failed.iter().any(|f| f.contains(&format!("{rule}:"))), "{rule} never failed: {failed:#?}");
}

#[test]
fn a_host_that_hides_its_admissions_fails_w4() {
    caught_by(Lie::HideAdmitted, "W4");
}

#[test]
fn a_host_that_never_sends_grants_fails_w5() {
    caught_by(Lie::DropGrants, "W5");
}

#[test]
fn a_mute_host_fails_w6() {
    caught_by(Lie::Mute, "W6");
}

/// The protocol crate's planted bugs of invitations, each failed by some world of seeds 0..50
/// with the rule that must catch it: the host's where the driver hosts, the guest's where it
/// joins.
#[cfg(feature = "mutants")]
#[test]
fn invitation_mutants_fail_worlds() {
    use spaces_conformance::driver::DriverProcess;
    const DRIVER: &str = env!("CARGO_BIN_EXE_spaces-driver");
    const CAUGHT: [(&str, &str); 11] = [
        ("accept-any-pin", "W2"),
        ("per-session-budget", "W1"),
        ("ignore-expiry", "W7"),
        ("forget-budget-on-restart", "W1"),
        ("drop-prologue-binding", "W6"),
        ("admit-after-cancel", "W3"),
        ("rejoin-after-removal", "W2"),
        ("free-guess-after-completion", "W1"),
        ("charge-unconfirmed-attempts", "W1"),
        ("leak-pin-into-frame", "W8"),
        ("guest-trusts-grant", "W9"),
    ];
    for (mutant, rule) in CAUGHT {
        let mut driver = DriverProcess::spawn(&format!("{DRIVER} --mutant {mutant}")).expect("the driver starts");
        let found = first_failure(&mut driver, rule, 50);
        println!("{mutant}: {found:?}");
        assert!(found.is_some(), "{mutant} never failed {rule} in seeds 0..50 of any profile");
    }
}

/// The first world of seeds `0..seeds` (seed by seed, every profile) that fails `rule`.
#[cfg(feature = "mutants")]
fn first_failure(driver: &mut dyn Driver, rule: &str, seeds: u64) -> Option<String> {
    for seed in 0..seeds {
        let mut report = Report::default();
        worlds::run(driver, &worlds::PROFILES, seed..seed + 1, "", &mut report);
        let failed = report.cases.iter().filter(|c| c.status == Status::Failed);
        let mut caught = failed.map(|c| format!("{}: {}", c.name, c.expected_line().unwrap_or_default()));
        if let Some(hit) = caught.find(|f| f.contains(&format!("{rule}:"))) {
            return Some(hit);
        }
    }
    None
}
