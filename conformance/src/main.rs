//! `spaces-conformance`: runs vectors and scenarios against a driver and reports per case.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args as ClapArgs, Parser, Subcommand};
use spaces_conformance::driver::{Driver, DriverProcess};
use spaces_conformance::report::Report;
use spaces_conformance::{scenarios, vectors, worlds};
use spaces_sim::config::Profile;

#[derive(Parser)]
#[command(name = "spaces-conformance", version, about = "Conformance harness for spaces/1 implementations")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every vector file through the driver.
    Vectors {
        #[command(flatten)]
        common: Common,
        /// Directory of vector files (*.json).
        #[arg(long, default_value = "vectors")]
        vectors: PathBuf,
        /// Run only the cases whose file name, op or `op#tcId` contains this.
        #[arg(long, default_value = "")]
        only: String,
    },
    /// Play the other party of invitation flows against the driver.
    Scenarios {
        #[command(flatten)]
        common: Common,
        /// Run only the scenarios whose name contains this.
        #[arg(long, default_value = "")]
        only: String,
        /// Cross mode: this second driver command (run with `sh -c`) plays the other party
        /// instead of the harness, so two implementations are checked against each other;
        /// scenarios that script the harness's own flow are then reported UNSUPPORTED.
        #[arg(long, value_name = "COMMAND")]
        peer: Option<String>,
        /// Simulated worlds run after the scripts: seeds 0..N of every simulator profile
        /// (`worlds` runs more). Not in cross mode.
        #[arg(long, default_value_t = worlds::SCENARIO_WORLDS, value_name = "N")]
        worlds: u64,
    },
    /// Host invitations in worlds drawn from simulator seeds: their weather, their
    /// adversaries, honest guests, and the oracle's safety and liveness rules.
    Worlds {
        #[command(flatten)]
        common: Common,
        /// Seeds, as `A..B` (B excluded) or one number.
        #[arg(long, default_value = "0..50", value_parser = parse_seeds)]
        seeds: std::ops::Range<u64>,
        /// Profiles (comma-separated); all of them by default.
        #[arg(long, value_delimiter = ',', value_enum)]
        profile: Vec<Profile>,
        /// Run only the worlds whose name (`world-PROFILE-SEED`) contains this.
        #[arg(long, default_value = "")]
        only: String,
    },
    /// List what the harness can grade: the vector ops and the scenarios, one per line.
    List,
}

#[derive(ClapArgs)]
struct Common {
    /// The driver command, run with `sh -c`.
    #[arg(long)]
    driver: String,
    /// Write the full report as JSON.
    #[arg(long)]
    report_json: Option<PathBuf>,
    /// Write the report as JUnit XML.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// List every case, not only those that are not OK.
    #[arg(long, short)]
    verbose: bool,
    /// Fail (exit 1) unless every case of these vector ops or scenarios was graded:
    /// comma-separated names as `list` prints them, so CI can pin what a driver must cover.
    #[arg(long, value_delimiter = ',', value_name = "OP,OP")]
    require: Vec<String>,
    /// Fail (exit 1) when any case is UNSUPPORTED.
    #[arg(long)]
    fail_on_unsupported: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let common = match &cli.command {
        Command::Vectors { common, .. } | Command::Scenarios { common, .. } | Command::Worlds { common, .. } => common,
        Command::List => {
            let mut out = std::io::stdout();
            for op in spaces_vectors::ops::OPS {
                let _ = writeln!(out, "op {op}");
            }
            for s in scenarios::all() {
                let _ = writeln!(out, "scenario {} ({}): {}", s.name, s.driver.label(), s.description);
            }
            let _ = writeln!(
                out,
                "worlds world-PROFILE-SEED (driver hosts): an invitation in a simulated world (profiles {})",
                Profile::ALL.map(Profile::name).join(", ")
            );
            return ExitCode::SUCCESS;
        }
    };
    // Output paths and required names are checked before the run, so a typo costs nothing
    // but the message.
    if let Err(e) = check_outputs(common).and_then(|()| check_required(&common.require)) {
        return fatal(&e);
    }
    let mut driver = match DriverProcess::spawn(&common.driver) {
        Ok(d) => d,
        Err(e) => return fatal(&e.to_string()),
    };
    let mut report = Report::default();
    match driver.hello() {
        Ok(hello) => report.driver = Some(hello),
        Err(e) => return fatal(&format!("hello: {e}")),
    }
    let mut peer = match &cli.command {
        Command::Scenarios { peer: Some(command), .. } => match DriverProcess::spawn(command) {
            Ok(mut p) => match p.hello() {
                Ok(_) => Some(p),
                Err(e) => return fatal(&format!("the peer driver's hello: {e}")),
            },
            Err(e) => return fatal(&format!("the peer driver: {e}")),
        },
        _ => None,
    };
    let peer_ref: Option<&mut dyn Driver> = match peer.as_mut() {
        Some(p) => Some(p),
        None => None,
    };
    if let Err(e) = run(&cli.command, &mut driver, peer_ref, &mut report) {
        return fatal(&e);
    }
    if let Err(e) = write_outputs(common, &report) {
        return fatal(&e);
    }
    // A closed stdout (piped into `head`) must not turn a finished run into a panic.
    let _ = writeln!(std::io::stdout(), "{}", report.render(common.verbose));
    let total = report.total();
    let tested = total.ok + total.non_strict + total.failed;
    if tested == 0 {
        // Nothing was graded: an empty directory, a filter matching nothing, or a driver that
        // supports nothing asked. That is never a pass.
        eprintln!(
            "spaces-conformance: nothing was tested ({} cases, all UNSUPPORTED or none at all)",
            total.unsupported
        );
        return ExitCode::FAILURE;
    }
    let uncovered = report.coverage_gaps(&common.require, common.fail_on_unsupported);
    for gap in &uncovered {
        eprintln!("spaces-conformance: {gap}");
    }
    if total.failed == 0 && uncovered.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// `A..B` or `N` (one seed).
fn parse_seeds(text: &str) -> Result<std::ops::Range<u64>, String> {
    let bad = || format!("{text}: seeds are A..B or N");
    match text.split_once("..") {
        Some((a, b)) => Ok(a.parse().map_err(|_| bad())?..b.parse().map_err(|_| bad())?),
        None => text.parse::<u64>().map(|n| n..n + 1).map_err(|_| bad()),
    }
}

/// Every name `--require` gives is a vector op or a scenario the harness knows.
fn check_required(require: &[String]) -> Result<(), String> {
    let known = |r: &str| spaces_vectors::ops::OPS.contains(&r) || scenarios::all().any(|s| s.name == r);
    match require.iter().find(|r| !known(r)) {
        Some(r) => Err(format!("--require {r}: not a vector op or scenario the harness grades (see `list`)")),
        None => Ok(()),
    }
}

/// Creates (empty) every output file the run will write, or says why it cannot.
fn check_outputs(common: &Common) -> Result<(), String> {
    for path in [&common.report_json, &common.junit].into_iter().flatten() {
        std::fs::write(path, b"").map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

fn run(
    command: &Command,
    driver: &mut dyn Driver,
    peer: Option<&mut dyn Driver>,
    report: &mut Report,
) -> Result<(), String> {
    match command {
        Command::Vectors { vectors: dir, only, .. } => {
            let files = vectors::load_dir(dir).map_err(|e| e.to_string())?;
            vectors::run(driver, &files, only, report);
        }
        Command::Scenarios { only, worlds: n, .. } => {
            let cross = peer.is_some();
            scenarios::run_cross(driver, peer, only, report);
            if !cross {
                worlds::run(driver, &worlds::PROFILES, 0..*n, only, report);
            }
        }
        Command::Worlds { seeds, profile, only, .. } => {
            let profiles = if profile.is_empty() { worlds::PROFILES.to_vec() } else { profile.clone() };
            worlds::run(driver, &profiles, seeds.clone(), only, report);
        }
        Command::List => {}
    }
    Ok(())
}

fn write_outputs(common: &Common, report: &Report) -> Result<(), String> {
    if let Some(path) = &common.report_json {
        std::fs::write(path, report.to_json()).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(path) = &common.junit {
        std::fs::write(path, report.to_junit()).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// The run itself could not happen: exit 2, and still end with the counting line.
fn fatal(message: &str) -> ExitCode {
    eprintln!("spaces-conformance: {message}");
    let _ = writeln!(std::io::stdout(), "0 passed, 1 failed");
    ExitCode::from(2)
}
