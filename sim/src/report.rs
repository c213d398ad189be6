//! The end of a run: a summary table for people, a JSON report for machines (mergeable across
//! shards, `merge`), and for each failure the exact command that replays it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Profile;
use crate::{Outcome, Stats};

/// The commit this binary was built from (`build.rs`), or "unknown".
pub const COMMIT: &str = env!("SPACES_COMMIT");

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub profile: Profile,
    pub mutant: Option<String>,
    /// What was asked for, so a report says what it covers: the `--seeds` range, and the
    /// `--shard K/N` (shards of one sweep, once merged, list every shard).
    pub seed_range: String,
    #[serde(default)]
    pub shards: Vec<String>,
    /// The build: its commit and whether planted bugs were compiled in (`--features mutants`).
    pub commit: String,
    pub features: Features,
    pub seeds: usize,
    pub passed: usize,
    pub failed: usize,
    /// Failed seeds per invariant (`S3`, `L2`, `panic`, ...), for a dashboard.
    pub failures_by_invariant: BTreeMap<String, usize>,
    pub wall_ms: u64,
    /// Wall time summed over seeds (one core each): what the rates below divide by.
    pub cpu_ms: u64,
    /// Sum over seeds of simulated time over the sum of their wall time (one core).
    pub speedup: f64,
    pub events_per_s: f64,
    pub totals: Stats,
    pub failures: Vec<Failure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Features {
    pub mutants: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub seed: u64,
    pub invariant: String,
    pub detail: String,
    pub at_ms: u64,
    pub replay: String,
    /// Trace lines (`{"t", "node", "ev", "what"}`) as JSON objects, not JSON inside strings.
    pub last_events: Vec<Value>,
}

/// What a run was asked to cover, for the report.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    pub profile: Profile,
    pub mutant: Option<&'a str>,
    pub seed_range: &'a str,
    pub shard: Option<&'a str>,
}

pub fn build(scope: &Scope<'_>, outcomes: &[Outcome], wall_ms: u64) -> Report {
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
                replay: replay_command(o.seed, scope.profile, scope.mutant),
                last_events: v.last_events.iter().map(String::as_str).map(event_value).collect(),
            })
        })
        .collect();
    let mut r = Report {
        profile: scope.profile,
        mutant: scope.mutant.map(str::to_string),
        seed_range: scope.seed_range.to_owned(),
        shards: scope.shard.map(str::to_owned).into_iter().collect(),
        commit: COMMIT.to_owned(),
        features: Features { mutants: crate::mutant::enabled() },
        seeds: outcomes.len(),
        passed: outcomes.len() - failures.len(),
        failed: failures.len(),
        failures_by_invariant: BTreeMap::new(),
        wall_ms,
        cpu_ms,
        speedup: 0.0,
        events_per_s: 0.0,
        totals,
        failures,
    };
    r.recount();
    r
}

/// A trace line as the object it is; a line that is not JSON stays a string.
fn event_value(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|_| Value::String(line.to_owned()))
}

impl Report {
    /// The fields derived from the failures, the totals and `cpu_ms`.
    fn recount(&mut self) {
        let cpu_ms = self.cpu_ms;
        self.failed = self.failures.len();
        self.passed = self.seeds - self.failed;
        self.failures_by_invariant.clear();
        for f in &self.failures {
            *self.failures_by_invariant.entry(f.invariant.clone()).or_default() += 1;
        }
        self.speedup = self.totals.virtual_ms as f64 / cpu_ms.max(1) as f64;
        self.events_per_s = self.totals.events as f64 / (cpu_ms.max(1) as f64 / 1000.0);
    }
}

/// Why shard reports cannot be merged into one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeError {
    Empty,
    /// The reports differ in what they ran: profile, mutant, seed range, commit or build.
    Mismatch {
        field: &'static str,
        first: String,
        other: String,
    },
    /// Two reports cover the same shard, so seeds would count twice.
    DuplicateShard(String),
    /// A report of a whole range (no `--shard`) merged with another counts seeds twice.
    Unsharded,
}

impl std::fmt::Display for MergeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MergeError::Empty => f.write_str("no reports to merge"),
            MergeError::Mismatch { field, first, other } => {
                write!(f, "the reports ran different {field}s ({first} and {other}): not shards of one sweep")
            }
            MergeError::DuplicateShard(s) => write!(f, "shard {s} appears twice: its seeds would count twice"),
            MergeError::Unsharded => {
                f.write_str("a report run without --shard covers the whole range: nothing to merge it with")
            }
        }
    }
}

/// One report for a sweep run as shards (`run --shard K/N` on several machines): counts and
/// totals summed, failures in seed order, wall time the longest shard's (they ran at once).
pub fn merge(reports: Vec<Report>) -> Result<Report, MergeError> {
    let mut it = reports.into_iter();
    let mut out = it.next().ok_or(MergeError::Empty)?;
    for r in it {
        let same = |field, a: String, b: String| {
            if a == b { Ok(()) } else { Err(MergeError::Mismatch { field, first: a, other: b }) }
        };
        same("profile", out.profile.name().into(), r.profile.name().into())?;
        same("mutant", out.mutant.clone().unwrap_or_default(), r.mutant.clone().unwrap_or_default())?;
        same("seed range", out.seed_range.clone(), r.seed_range.clone())?;
        same("commit", out.commit.clone(), r.commit.clone())?;
        same("build features", out.features.mutants.to_string(), r.features.mutants.to_string())?;
        if out.shards.is_empty() || r.shards.is_empty() {
            return Err(MergeError::Unsharded);
        }
        if let Some(s) = r.shards.iter().find(|s| out.shards.contains(s)) {
            return Err(MergeError::DuplicateShard(s.clone()));
        }
        out.cpu_ms += r.cpu_ms;
        out.shards.extend(r.shards);
        out.seeds += r.seeds;
        out.wall_ms = out.wall_ms.max(r.wall_ms);
        out.totals.merge(&r.totals);
        out.failures.extend(r.failures);
    }
    out.shards.sort();
    out.failures.sort_by_key(|f| f.seed);
    out.recount();
    Ok(out)
}

/// How to run the simulator from a checkout: a planted-bug build lives in its own target
/// directory, so it never becomes `target/release/spaces-sim` (what CI and users run).
pub fn cargo_run(mutants: bool) -> &'static str {
    if mutants {
        "CARGO_TARGET_DIR=target/mutants cargo run --release -p spaces-sim --features mutants --"
    } else {
        "cargo run --release -p spaces-sim --"
    }
}

pub fn replay_command(seed: u64, profile: Profile, mutant: Option<&str>) -> String {
    let m = mutant.map(|m| format!(" --mutant {m}")).unwrap_or_default();
    format!("{} replay {seed} --profile {}{m}", cargo_run(mutant.is_some()), profile.name())
}

/// The command that replays a scenario file (which names its own planted bug, if any).
pub fn scenario_command(path: &str, mutants: bool) -> String {
    format!("{} replay --scenario {path}", cargo_run(mutants))
}

/// A trace line for people: `[t ms] node n ev what`.
pub fn event_line(v: &Value) -> String {
    let Some(ev) = v["ev"].as_str() else { return v.as_str().map_or_else(|| v.to_string(), str::to_owned) };
    let node = v["node"].as_u64().map_or_else(|| "world".to_owned(), |n| format!("node {n}"));
    format!("[{} ms] {node} {ev} {}", v["t"].as_u64().unwrap_or(0), v["what"].as_str().unwrap_or(""))
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
    let shards = if r.shards.is_empty() { String::new() } else { format!(" (shards {})", r.shards.join(", ")) };
    row(&mut s, "seeds", format!("{} of {}{shards}", r.seeds, r.seed_range));
    row(&mut s, "events", format!("{} ({:.0}/s per core)", t.events, r.events_per_s));
    row(&mut s, "virtual time", format!("{:.1} h", t.virtual_ms as f64 / 3_600_000.0));
    row(&mut s, "wall time", format!("{:.1} s", r.wall_ms as f64 / 1000.0));
    row(&mut s, "speedup (simulated/real)", format!("{:.0}x per core", r.speedup));
    row(&mut s, "connections", t.connections.to_string());
    row(&mut s, "items written", t.items_written.to_string());
    row(&mut s, "devices removed", t.devices_removed.to_string());
    row(&mut s, "successes owed (L2)", t.owed_successes.to_string());
    row(&mut s, "delivery after healing (L3)", delivery(&t.delivery_ms));
    row(
        &mut s,
        "busiest link, one window (R3)",
        format!("{} KiB per {} s", t.link_bytes_window_max / 1024, crate::oracle::traffic::WINDOW_MS / 1000),
    );
    row(&mut s, "invitations (guest outcome)", kv(&t.invitations));
    row(&mut s, "faults injected", kv(&t.faults));
    row(&mut s, "attacks tried", kv(&t.attacks));
    row(&mut s, "attack frames refused", t.refused.to_string());
    if !r.failures_by_invariant.is_empty() {
        let tally: BTreeMap<String, u64> =
            r.failures_by_invariant.iter().map(|(k, v)| (k.clone(), *v as u64)).collect();
        row(&mut s, "failures by invariant", kv(&tally));
    }
    for f in &r.failures {
        let _ = writeln!(s, "\nFAILED seed {}: {} at {} ms: {}", f.seed, f.invariant, f.at_ms, f.detail);
        for l in f.last_events.iter().rev().take(8).rev() {
            let _ = writeln!(s, "    {}", event_line(l));
        }
        let _ = writeln!(s, "  replay: {}", f.replay);
    }
    let _ = writeln!(s, "\n{} passed, {} failed", r.passed, r.failed);
    s
}

fn kv(m: &BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}

/// The delivery latencies as "N writes to members, median M ms, max X ms".
fn delivery(histogram: &BTreeMap<u64, u64>) -> String {
    let n: u64 = histogram.values().sum();
    if n == 0 {
        return "none measured".into();
    }
    let mut seen = 0;
    let median = histogram.iter().find(|(_, c)| {
        seen += **c;
        seen * 2 >= n
    });
    let median = median.map_or(0, |(ms, _)| *ms);
    let max = histogram.keys().next_back().copied().unwrap_or(0);
    format!("{n} member arrivals, median {median} ms, max {max} ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_latency_is_the_median_and_max_of_the_histogram() {
        let h: BTreeMap<u64, u64> = [(30, 1), (40, 2), (100, 1)].into_iter().collect();
        assert_eq!(super::delivery(&h), "4 member arrivals, median 40 ms, max 100 ms");
        assert_eq!(super::delivery(&BTreeMap::new()), "none measured");
    }
    use crate::oracle::Violation;

    /// A failed seed as a world reports it.
    pub(crate) fn failed_outcome(seed: u64) -> Outcome {
        let line = r#"{"t":1200,"node":3,"ev":"host","what":"admitted 6b64"}"#.to_owned();
        Outcome {
            seed,
            profile: Profile::Hostile,
            peers: 4,
            violation: Some(Violation {
                invariant: "S1",
                detail: "node 3 admitted 6b64".into(),
                at_ms: 1200,
                last_events: vec![line],
            }),
            stats: Stats::default(),
            trace_hash: "00".into(),
            wall_ms: 40,
        }
    }

    fn passed_outcome(seed: u64) -> Outcome {
        Outcome { violation: None, ..failed_outcome(seed) }
    }

    fn shard(k: &str, outcomes: &[Outcome]) -> Report {
        let scope = Scope { profile: Profile::Hostile, mutant: None, seed_range: "0..4", shard: Some(k) };
        build(&scope, outcomes, 50)
    }

    #[test]
    fn a_report_records_its_scope_tallies_invariants_and_keeps_events_as_objects() {
        let r = shard("1/2", &[failed_outcome(1), passed_outcome(3)]);
        assert_eq!((r.seed_range.as_str(), r.shards.clone()), ("0..4", vec!["1/2".to_owned()]));
        assert!(!r.commit.is_empty());
        assert_eq!(r.failures_by_invariant.get("S1"), Some(&1));
        let json: Value = serde_json::to_value(&r).unwrap();
        assert_eq!(json["failures"][0]["last_events"][0]["node"], 3, "an event is an object: {json}");
        assert_eq!(json["features"]["mutants"], crate::mutant::enabled());
    }

    #[test]
    fn shard_reports_merge_and_overlaps_are_refused() {
        let a = shard("0/2", &[passed_outcome(0), failed_outcome(2)]);
        let b = shard("1/2", &[failed_outcome(1), passed_outcome(3)]);
        let m = merge(vec![b.clone(), a.clone()]).unwrap();
        assert_eq!((m.seeds, m.passed, m.failed), (4, 2, 2));
        assert_eq!(m.failures.iter().map(|f| f.seed).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(m.failures_by_invariant.get("S1"), Some(&2));
        assert_eq!(m.shards, ["0/2", "1/2"]);
        assert_eq!(merge(vec![a.clone(), a.clone()]).unwrap_err(), MergeError::DuplicateShard("0/2".into()));
        let mut other = b.clone();
        other.seed_range = "0..8".into();
        assert!(matches!(merge(vec![a.clone(), other]), Err(MergeError::Mismatch { field: "seed range", .. })));
        let mut whole = b;
        whole.shards.clear();
        assert_eq!(merge(vec![a, whole]).unwrap_err(), MergeError::Unsharded);
        assert_eq!(merge(vec![]).unwrap_err(), MergeError::Empty);
    }

    #[test]
    fn junit_has_one_case_per_seed_and_a_failure_says_how_to_replay() {
        let outcomes = [passed_outcome(0), failed_outcome(2)];
        let r = shard("0/2", &outcomes);
        let xml = crate::junit::render(&r, &outcomes);
        assert_eq!(xml.matches("<testcase ").count(), 2, "{xml}");
        assert!(xml.contains(r#"name="seed 0" time="0.040"/>"#), "{xml}");
        assert!(xml.contains(r#"<failure type="S1" message="S1 at 1200 ms: node 3 admitted 6b64">"#), "{xml}");
        assert!(xml.contains("replay: cargo run --release -p spaces-sim -- replay 2 --profile hostile"), "{xml}");
        assert!(xml.contains("[1200 ms] node 3 host admitted 6b64"), "{xml}");
    }
}
