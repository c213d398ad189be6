//! Scripted scenarios: the harness plays the other party of an invitation flow with our
//! protocol crate (honest or adversarial) against the driver's flow, and checks that both
//! sides end in agreement (same outcome, same space and role, same transcripts) or that an
//! attack got nowhere.

pub mod attacks;
pub mod cases;
mod chaos;
mod describe;
pub mod endings;
pub mod host_holes;
pub mod lying_host;
pub mod net;

use crate::driver::Driver;
use crate::report::{Case, Report, Status, TRANSCRIPT_EXCERPT_LINES};
use net::{Abort, Net, Step};

/// Who the driver plays in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverRole {
    Host,
    Guest,
}

impl DriverRole {
    /// What the driver plays, as reports and `list` say it.
    pub fn label(self) -> &'static str {
        match self {
            DriverRole::Host => "driver hosts",
            DriverRole::Guest => "driver joins",
        }
    }
}

pub struct Scenario {
    /// Stable name: reports, filters and tests refer to it.
    pub name: &'static str,
    pub driver: DriverRole,
    /// What must hold, in one sentence.
    pub description: &'static str,
    pub run: fn(&mut Net<'_>) -> Step,
}

pub const SUITE: &str = "scenarios";

/// Every scenario, in run order (a scenario's seed is its position).
pub fn all() -> impl Iterator<Item = &'static Scenario> {
    cases::ALL.iter().chain(attacks::ALL).chain(endings::ALL).chain(lying_host::ALL).chain(host_holes::ALL)
}

/// Runs the scenarios whose name contains `filter` (all when empty), one case each. Every
/// scenario gets a fresh driver (`restart`), so no state leaks from one into the next.
pub fn run(driver: &mut dyn Driver, filter: &str, report: &mut Report) {
    run_cross(driver, None, filter, report);
}

/// `run`, with `peer` (if any) playing the harness's hosts and guests: two implementations
/// checked against each other, each through its driver. Scenarios that script the harness's
/// own flow (a lying host, a relay, a replay) are reported unsupported in cross mode.
pub fn run_cross(driver: &mut dyn Driver, mut peer: Option<&mut dyn Driver>, filter: &str, report: &mut Report) {
    for (i, scenario) in all().enumerate() {
        if !scenario.name.contains(filter) {
            continue;
        }
        let mut comment = format!("{}: {}", scenario.driver.label(), scenario.description);
        if peer.is_some() {
            comment = format!("{} (the other party: the peer driver)", comment);
        }
        let mut restarted = Ok(());
        if i > 0 {
            restarted = driver.restart();
            if let (Ok(()), Some(p)) = (&restarted, peer.as_mut()) {
                restarted = p.restart();
            }
        }
        if let Err(e) = restarted {
            let case = Case::failed(SUITE, scenario.name, &comment, "a driver".into(), e.to_string());
            report.cases.push(case);
            continue;
        }
        let started = std::time::Instant::now();
        // Reborrowed for this scenario only (the trait object's lifetime shrinks with it).
        let other: Option<&mut dyn Driver> = match peer.as_mut() {
            Some(p) => Some(&mut **p),
            None => None,
        };
        let mut net = Net::with_peer(driver, other, 0x5eed_0000 + i as u64);
        let result = (scenario.run)(&mut net);
        let excerpt = net.excerpt(TRANSCRIPT_EXCERPT_LINES);
        let mut case = case_of(SUITE, scenario.name, &comment, result, excerpt);
        case.time = started.elapsed();
        report.cases.push(case);
    }
}

/// The report's case for a scenario or world that ended with `result`; a failure carries the
/// tail of the world's log.
pub(crate) fn case_of(suite: &str, name: &str, comment: &str, result: Step, excerpt: Vec<String>) -> Case {
    match result {
        Ok(()) => Case::new(suite, name, comment, Status::Ok),
        Err(Abort::Unsupported(op)) => {
            let mut c = Case::new(suite, name, comment, Status::Unsupported);
            let why = if op == net::HARNESS_ONLY { op } else { format!("the driver does not support {op}") };
            c.actual = Some(why.into());
            c
        }
        Err(Abort::Driver(e)) => {
            let mut c = Case::failed(suite, name, comment, "a working driver".into(), e);
            c.transcript = excerpt;
            c
        }
        Err(Abort::Check { expected, actual }) => {
            let mut c = Case::failed(suite, name, comment, expected, actual);
            c.transcript = excerpt;
            c
        }
    }
}
