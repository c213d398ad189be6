//! `spaces-sim`: run seeded worlds, replay one, shrink a failure, list the planted bugs.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use spaces_sim::config::{Config, Profile, draw};
use spaces_sim::runner::{Plan, parse_seeds, run_plan, shard};
use spaces_sim::{junit, mutant, report};

#[derive(Parser)]
#[command(name = "spaces-sim", version, about = "Deterministic simulation of spaces peers under faults and attacks")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run many seeds; exit 0 only if every one passes.
    Run {
        /// Seeds as START..END (end exclusive) or a single seed.
        #[arg(long, default_value = "0..1000")]
        seeds: String,
        #[arg(long, value_enum, default_value_t = Profile::Swarm)]
        profile: Profile,
        /// Worker threads (default: the machine's cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Only seeds s with s % N == K, given as K/N: spreads a sweep over machines.
        #[arg(long)]
        shard: Option<String>,
        /// Plant a bug from the catalogue (needs `--features mutants`).
        #[arg(long)]
        mutant: Option<String>,
        /// Write the whole report as JSON (mergeable across shards with `merge-reports`).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Write JUnit XML: one testcase per seed, a failure carrying its invariant, the
        /// replay command and the last events.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// When stderr is not a terminal (CI), print a progress line every N seeds.
        #[arg(long, default_value_t = 100, value_name = "N")]
        progress_every: usize,
        /// Stop at the first failure (mutant hunts).
        #[arg(long)]
        fail_fast: bool,
        /// Override the number of honest peers every world has (2-20), e.g. to measure a
        /// 10-peer hostile world.
        #[arg(long)]
        peers: Option<usize>,
    },
    /// Run one seed, optionally writing its trace (JSON lines) and a sequence chart (SVG).
    Replay {
        /// The seed whose world to run (drawn for `--profile`); not with `--scenario`.
        #[arg(required_unless_present = "scenario", conflicts_with = "scenario")]
        seed: Option<u64>,
        /// The profile the seed's world is drawn for [default: swarm]; not with `--scenario`.
        #[arg(long, value_enum, conflicts_with = "scenario")]
        profile: Option<Profile>,
        /// A planted bug (needs `--features mutants`); with `--scenario`, only the one it records.
        #[arg(long)]
        mutant: Option<String>,
        /// A scenario file (a Config as JSON, as `shrink` writes): self-contained, its seed,
        /// profile and planted bug included.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Write every event as a JSON line `{"t", "node", "ev", "what"}` (sim/README.md).
        #[arg(long, value_name = "FILE.jsonl")]
        trace: Option<PathBuf>,
        /// Write a message sequence chart of the run (one lifeline per node).
        #[arg(long, value_name = "FILE.svg")]
        svg: Option<PathBuf>,
        /// Run twice and compare the trace hashes.
        #[arg(long)]
        check_determinism: bool,
        /// Print every event as a tracing log line on stderr, stamped with virtual time
        /// (`t`, ms since the world's epoch), never the wall clock.
        #[arg(long)]
        log: bool,
        /// The same override `run --peers` applied.
        #[arg(long)]
        peers: Option<usize>,
    },
    /// Minimise a failing seed to a small scenario that still fails the same way.
    Shrink {
        seed: u64,
        #[arg(long, value_enum, default_value_t = Profile::Swarm)]
        profile: Profile,
        #[arg(long)]
        mutant: Option<String>,
        /// Where to write the scenario (default: shrunk-SEED.json).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worlds to run at most; each kept step is printed with what it removed.
        #[arg(long, default_value_t = spaces_sim::shrink::RUNS_MAX)]
        runs: usize,
    },
    /// List the planted bugs and the profile that catches each.
    Mutants,
    /// Merge the `--report` files of the shards of one sweep into one report; exit 1 if any
    /// seed failed.
    MergeReports {
        /// The shard reports (`run --shard K/N --report FILE`).
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Write the merged report here (JSON).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run seeds twice each and compare trace hashes.
    Determinism {
        #[arg(long, default_value = "0..100")]
        seeds: String,
        #[arg(long, value_enum, default_value_t = Profile::Swarm)]
        profile: Profile,
    },
}

fn write_report(path: &Path, r: &report::Report) -> Result<(), String> {
    let json = serde_json::to_string_pretty(r).map_err(|e| e.to_string())?;
    std::fs::write(path, json + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

fn parse_mutant(name: Option<&str>) -> Result<Option<mutant::Planted>, String> {
    let Some(name) = name else { return Ok(None) };
    if !mutant::enabled() {
        return Err(format!(
            "this spaces-sim has no planted bugs, so it cannot plant {name}: it was built without \
             `--features mutants`. Planted-bug builds live in their own target directory, so they never \
             replace this binary: `{} ...`",
            report::cargo_run(true)
        ));
    }
    mutant::parse(name).map(Some)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Cmd::Run {
            seeds: seed_range,
            profile,
            jobs,
            shard: sh,
            mutant: m,
            report: out,
            junit,
            progress_every,
            fail_fast,
            peers,
        } => {
            // Output paths are tried first: a typo must not cost a whole sweep.
            for path in [&out, &junit].into_iter().flatten() {
                std::fs::write(path, b"").map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            if peers.is_some_and(|p| !(spaces_sim::config::PEERS_MIN..=spaces_sim::config::PEERS_MAX).contains(&p)) {
                return Err("--peers must be within 2..=20".into());
            }
            let range = parse_seeds(&seed_range)?;
            let seeds = match &sh {
                Some(s) => {
                    let (k, n) = s.split_once('/').ok_or("shard is K/N")?;
                    let (k, n) = (k.parse().map_err(|_| "bad K")?, n.parse().map_err(|_| "bad N")?);
                    if n == 0 || k >= n {
                        return Err("shard K/N needs K < N".into());
                    }
                    shard(range, k, n)
                }
                None => range.collect(),
            };
            if seeds.is_empty() {
                return Err("the shard holds none of these seeds".into());
            }
            let planted = parse_mutant(m.as_deref())?;
            let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let plan = Plan {
                seeds,
                profile,
                jobs,
                mutant: planted,
                stop_on_failure: fail_fast,
                progress: true,
                progress_every,
                peers,
            };
            let started = std::time::Instant::now();
            let outcomes = run_plan(&plan);
            let scope = report::Scope { profile, mutant: m.as_deref(), seed_range: &seed_range, shard: sh.as_deref() };
            let mut r = report::build(&scope, &outcomes, started.elapsed().as_millis() as u64);
            if let Some(p) = peers {
                for f in &mut r.failures {
                    f.replay.push_str(&format!(" --peers {p}"));
                }
            }
            print!("{}", report::table(&r));
            if let Some(path) = out {
                write_report(&path, &r)?;
            }
            if let Some(path) = junit {
                std::fs::write(&path, junit::render(&r, &outcomes)).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            Ok(if r.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Cmd::MergeReports { reports, out } => {
            let mut parsed = Vec::with_capacity(reports.len());
            for p in &reports {
                let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                let r: report::Report = serde_json::from_str(&text)
                    .map_err(|e| format!("{}: not a spaces-sim report: {e}", p.display()))?;
                parsed.push(r);
            }
            let merged = report::merge(parsed).map_err(|e| e.to_string())?;
            print!("{}", report::table(&merged));
            if let Some(path) = out {
                write_report(&path, &merged)?;
            }
            Ok(if merged.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Cmd::Replay { seed, profile, mutant: m, scenario, trace, svg, check_determinism, log, peers } => {
            if log {
                // Every line carries its virtual time `t`; a wall-clock stamp would make two
                // replays of one seed differ. Colour only on a terminal.
                tracing_subscriber::fmt()
                    .with_writer(std::io::stderr)
                    .with_max_level(tracing::Level::DEBUG)
                    .without_time()
                    .with_ansi(std::io::stderr().is_terminal())
                    .init();
            }
            let (mut cfg, m): (Config, Option<String>) = match scenario {
                Some(p) => {
                    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                    let cfg: Config = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
                    if m.is_some() && m != cfg.mutant {
                        let recorded = cfg.mutant.as_deref().map_or("no planted bug".into(), |m| format!("mutant {m}"));
                        return Err(format!(
                            "{} records {recorded}: a scenario replays with its own planted bug",
                            p.display()
                        ));
                    }
                    let m = cfg.mutant.clone();
                    (cfg, m)
                }
                None => (draw(seed.expect("clap requires a seed"), profile.unwrap_or(Profile::Swarm)), m),
            };
            let planted = parse_mutant(m.as_deref())?;
            mutant::set_for_run(planted);
            spaces_sim::runner::quiet_panics();
            if let Some(p) = peers {
                cfg.peers = p;
                cfg.blank_devices = cfg.blank_devices.min(p.saturating_sub(spaces_sim::config::PEERS_MIN));
            }
            if planted.is_some() {
                cfg.mutant = m.clone();
            }
            let keep = trace.is_some() || svg.is_some();
            let (outcome, lines) = spaces_sim::run_traced(cfg.clone(), keep);
            if let Some(p) = &trace {
                std::fs::write(p, lines.join("\n") + "\n").map_err(|e| format!("{}: {e}", p.display()))?;
            }
            if let Some(p) = &svg {
                let labels = spaces_sim::svg::labels(&cfg);
                let mark = outcome.violation.as_ref().map(|v| spaces_sim::svg::Mark {
                    invariant: v.invariant,
                    at_ms: v.at_ms,
                    detail: &v.detail,
                });
                std::fs::write(p, spaces_sim::svg::render(&lines, &labels, mark))
                    .map_err(|e| format!("{}: {e}", p.display()))?;
            }
            println!(
                "seed {} ({}): {} events, {:.1} min virtual, {} ms wall, trace {}",
                outcome.seed,
                outcome.profile.name(),
                outcome.stats.events,
                outcome.stats.virtual_ms as f64 / 60_000.0,
                outcome.wall_ms,
                &outcome.trace_hash[..16]
            );
            let mut ok = outcome.violation.is_none();
            if let Some(v) = &outcome.violation {
                println!("FAILED {} at {} ms: {}", v.invariant, v.at_ms, v.detail);
                for l in &v.last_events {
                    println!("    {l}");
                }
            }
            if check_determinism {
                let again = spaces_sim::run(cfg);
                let same = again.trace_hash == outcome.trace_hash;
                println!("determinism: {}", if same { "same trace hash twice" } else { "TRACES DIFFER" });
                ok &= same;
            }
            println!("{} passed, {} failed", u8::from(ok), u8::from(!ok));
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Cmd::Shrink { seed, profile, mutant: m, out: out_path, runs } => {
            let planted = parse_mutant(m.as_deref())?;
            mutant::set_for_run(planted);
            spaces_sim::runner::quiet_panics();
            let mut cfg = draw(seed, profile);
            cfg.mutant = m.clone();
            if runs == 0 {
                return Err("--runs must be at least 1 (the original world)".into());
            }
            let Some(out) = spaces_sim::shrink::shrink(cfg, runs, |step| {
                eprintln!("  cut {}: still fails with {}", step.removed, step.size);
            }) else {
                println!("seed {seed} passes: nothing to shrink");
                return Ok(ExitCode::SUCCESS);
            };
            let path = out_path.unwrap_or_else(|| PathBuf::from(format!("shrunk-{seed}.json")));
            let json = serde_json::to_string_pretty(&out.cfg).map_err(|e| e.to_string())?;
            std::fs::write(&path, json + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
            println!("shrunk in {} runs from {}", out.runs, out.before);
            println!("            to {}; still fails {}", out.after, out.invariant);
            println!("replay: {}", report::scenario_command(&path.display().to_string(), m.is_some()));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Mutants => {
            println!("{:<28} {:<10} caught by", "mutant", "profile");
            for p in mutant::Planted::all() {
                let caught = mutant::CAUGHT.iter().find(|(c, ..)| *c == p);
                match (caught, p) {
                    (Some((_, profile, seed, _)), _) => println!(
                        "{:<28} {:<10} spaces-sim replay {seed} --profile {} --mutant {}",
                        p.name(),
                        profile.name(),
                        profile.name(),
                        p.name()
                    ),
                    (None, mutant::Planted::Protocol(m)) => {
                        println!("{:<28} {:<10} {}", m.name(), "-", mutant::not_simulated(m).unwrap_or("?"))
                    }
                    (None, _) => println!("{:<28} -", p.name()),
                }
            }
            if !mutant::enabled() {
                println!("\n(this build has no planted bugs; to run them: {} mutants)", report::cargo_run(true));
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Determinism { seeds, profile } => {
            let range = parse_seeds(&seeds)?;
            spaces_sim::runner::quiet_panics();
            let mut differ = 0;
            let n = range.end - range.start;
            for seed in range {
                let a = spaces_sim::run(draw(seed, profile));
                let b = spaces_sim::run(draw(seed, profile));
                if a.trace_hash != b.trace_hash {
                    println!("seed {seed}: traces differ");
                    differ += 1;
                }
            }
            println!("{} passed, {} failed", n - differ, differ);
            Ok(if differ == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}
