//! The end of a run: a summary table for people, a JSON report for machines, and for each
//! failure the exact command that replays it.

use std::fmt::Write as _;

use serde::Serialize;

use crate::config::Profile;
use crate::{Outcome, Stats};

#[derive(Debug, Serialize)]
pub struct Report {
    pub profile: Profile,
    pub mutant: Option<String>,
    pub seeds: usize,
    pub passed: usize,
    pub failed: usize,
    pub wall_ms: u64,
    /// Sum over seeds of simulated time over the sum of their wall time (one core).
    pub speedup: f64,
    pub events_per_s: f64,
    pub totals: Stats,
    pub failures: Vec<Failure>,
}

#[derive(Debug, Serialize)]
pub struct Failure {
    pub seed: u64,
    pub invariant: String,
    pub detail: String,
    pub at_ms: u64,
    pub replay: String,
    pub last_events: Vec<String>,
}

pub fn build(profile: Profile, mutant: Option<&str>, outcomes: &[Outcome], wall_ms: u64) -> Report {
    let mut totals = Stats::default();
    let mut cpu_ms = 0u64;
    for o in outcomes {
        totals.merge(&o.stats);
        cpu_ms += o.wall_ms;
    }
    let failures: Vec<Failure> = outcomes
        .iter()
        .filter_map(|o| {
            let v = o.violation.as_ref()?;
            Some(Failure {
                seed: o.seed,
                invariant: v.invariant.to_string(),
                detail: v.detail.clone(),
                at_ms: v.at_ms,
                replay: replay_command(o.seed, profile, mutant),
                last_events: v.last_events.clone(),
            })
        })
        .collect();
    let cpu_s = (cpu_ms.max(1)) as f64 / 1000.0;
    Report {
        profile,
        mutant: mutant.map(str::to_string),
        seeds: outcomes.len(),
        passed: outcomes.len() - failures.len(),
        failed: failures.len(),
        wall_ms,
        speedup: totals.virtual_ms as f64 / cpu_ms.max(1) as f64,
        events_per_s: totals.events as f64 / cpu_s,
        totals,
        failures,
    }
}

pub fn replay_command(seed: u64, profile: Profile, mutant: Option<&str>) -> String {
    let features = if mutant.is_some() { " --features mutants" } else { "" };
    let m = mutant.map(|m| format!(" --mutant {m}")).unwrap_or_default();
    format!("cargo run --release -p spaces-sim{features} -- replay {seed} --profile {}{m}", profile.name())
}

/// The table people read.
pub fn table(r: &Report) -> String {
    let mut s = String::new();
    let t = &r.totals;
    let row = |s: &mut String, k: &str, v: String| {
        let _ = writeln!(s, "  {k:<28} {v}");
    };
    let _ = writeln!(
        s,
        "\nspaces-sim: profile {}{}",
        r.profile.name(),
        r.mutant.as_ref().map(|m| format!(", mutant {m}")).unwrap_or_default()
    );
    row(&mut s, "seeds", r.seeds.to_string());
    row(&mut s, "events", format!("{} ({:.0}/s per core)", t.events, r.events_per_s));
    row(&mut s, "virtual time", format!("{:.1} h", t.virtual_ms as f64 / 3_600_000.0));
    row(&mut s, "wall time", format!("{:.1} s", r.wall_ms as f64 / 1000.0));
    row(&mut s, "speedup (simulated/real)", format!("{:.0}x per core", r.speedup));
    row(&mut s, "connections", t.connections.to_string());
    row(&mut s, "items written", t.items_written.to_string());
    row(&mut s, "successes owed (L2)", t.owed_successes.to_string());
    row(&mut s, "invitations (guest outcome)", kv(&t.invitations));
    row(&mut s, "faults injected", kv(&t.faults));
    row(&mut s, "attacks tried", kv(&t.attacks));
    row(&mut s, "attack frames refused", t.refused.to_string());
    for f in &r.failures {
        let _ = writeln!(s, "\nFAILED seed {}: {} at {} ms: {}", f.seed, f.invariant, f.at_ms, f.detail);
        for l in f.last_events.iter().rev().take(8).rev() {
            let _ = writeln!(s, "    {l}");
        }
        let _ = writeln!(s, "  replay: {}", f.replay);
    }
    let _ = writeln!(s, "\n{} passed, {} failed", r.passed, r.failed);
    s
}

fn kv(m: &std::collections::BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}
