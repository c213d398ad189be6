//! Many seeds at once: a work queue over `--jobs` threads, each world single-threaded and
//! deterministic on its own. Results are sorted by seed, so the report does not depend on
//! scheduling.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::{Profile, draw};
use crate::{Outcome, run};

/// Which seeds, how, and with which planted bug.
#[derive(Debug, Clone)]
pub struct Plan {
    pub seeds: Vec<u64>,
    pub profile: Profile,
    pub jobs: usize,
    pub mutant: Option<crate::mutant::Planted>,
    /// Stop handing out seeds after the first failure (mutant hunts).
    pub stop_on_failure: bool,
    /// Show progress on stderr: a bar on a terminal; otherwise (CI logs) a plain line every
    /// `progress_every` seeds, without escape codes.
    pub progress: bool,
    pub progress_every: usize,
    /// Every world gets this many honest peers instead of the drawn number.
    pub peers: Option<usize>,
}

/// `A..B` (A < B) or a single seed `A`. An empty, reversed or overflowing range is an error,
/// never a run of no seeds that passes (`3..1` once reported 18446744073709551614 passed).
pub fn parse_seeds(s: &str) -> Result<std::ops::Range<u64>, String> {
    let number =
        |t: &str| t.trim().parse::<u64>().map_err(|_| format!("bad seed {t:?} in {s:?}: seeds are 0 to 2^64-1"));
    let range = match s.split_once("..") {
        Some((a, b)) => number(a)?..number(b)?,
        None => {
            let a = number(s)?;
            a..a.checked_add(1).ok_or_else(|| format!("seed {a} is the last one: give a range that ends after it"))?
        }
    };
    if range.start >= range.end {
        return Err(format!("seed range {s:?} is empty or reversed: write A..B with A < B (B excluded)"));
    }
    Ok(range)
}

/// Seeds `range` restricted to shard `k` of `n` (every n-th seed, starting at k).
pub fn shard(range: std::ops::Range<u64>, k: u64, n: u64) -> Vec<u64> {
    assert!(n > 0 && k < n, "shard k/n needs k < n");
    range.filter(|s| s % n == k).collect()
}

pub fn run_plan(plan: &Plan) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(plan.seeds.len()));
    let failed = std::sync::atomic::AtomicBool::new(false);
    let terminal = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let done = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let bar = (plan.progress && terminal).then(|| {
        let bar = indicatif::ProgressBar::new(plan.seeds.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} seeds {msg}")
                .expect("a valid template"),
        );
        bar
    });
    std::thread::scope(|s| {
        for _ in 0..plan.jobs.max(1) {
            s.spawn(|| {
                crate::mutant::set_for_run(plan.mutant);
                quiet_panics();
                loop {
                    if plan.stop_on_failure && failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&seed) = plan.seeds.get(k) else { break };
                    let mut cfg = draw(seed, plan.profile);
                    if let Some(p) = plan.peers {
                        cfg.peers = p;
                        cfg.blank_devices = cfg.blank_devices.min(p - crate::config::PEERS_MIN);
                    }
                    cfg.mutant = plan.mutant.map(|m| m.name().to_string());
                    let outcome = run(cfg);
                    if outcome.violation.is_some() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    let failed_so_far = failures.fetch_add(usize::from(outcome.violation.is_some()), Ordering::Relaxed)
                        + usize::from(outcome.violation.is_some());
                    let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if let Some(bar) = &bar {
                        bar.inc(1);
                        if outcome.violation.is_some() {
                            bar.set_message(format!("(seed {seed} failed)"));
                        }
                    } else if plan.progress
                        && (finished.is_multiple_of(plan.progress_every.max(1)) || finished == plan.seeds.len())
                    {
                        eprintln!(
                            "spaces-sim: {finished}/{} seeds, {failed_so_far} failed, {:.0} s",
                            plan.seeds.len(),
                            started.elapsed().as_secs_f64()
                        );
                    }
                    results.lock().expect("no worker panics holding the lock").push(outcome);
                }
            });
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut results = results.into_inner().expect("workers are done");
    results.sort_by_key(|o| o.seed);
    results
}

thread_local! {
    /// A step of the system under test is running under `caught` on this thread.
    static CATCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, one step of the system under test (a Peer, the signaling server), catching a
/// panic of it: the caller reports it as a violation, so it prints nothing.
pub fn caught<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    CATCHING.with(|c| c.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(false));
    result
}

/// Panics of the system under test are caught and reported as violations; keep stderr clean
/// of them. A panic anywhere else (the simulator's own code) still prints: before, a bug in
/// an oracle ended the process with status 101 and no word (found in faulty seed 1538).
pub fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CATCHING.with(std::cell::Cell::get) {
                default(info);
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::parse_seeds;

    #[test]
    fn seed_ranges_that_would_run_nothing_are_errors() {
        assert_eq!(parse_seeds("0..1000"), Ok(0..1000));
        assert_eq!(parse_seeds("7"), Ok(7..8));
        for bad in ["3..1", "10..5", "5..5", "18446744073709551615", "x", "1..", "-1..3"] {
            assert!(parse_seeds(bad).is_err(), "{bad} must be refused");
        }
    }
}
