//! Shrinking: from a failing `Config`, a smaller one that fails the same way. Greedy delta
//! debugging over the world's dimensions (fewer peers, a shorter safety phase, a calmer
//! pace, each fault and each adversary switched off), keeping any step that still fails
//! with the same invariant, until no step helps. Each candidate is a fresh deterministic
//! world, so the result replays like any seed.

use crate::config::Config;
use crate::run;

/// Candidates one step smaller than `c`, most promising first.
fn steps(c: &Config) -> Vec<Config> {
    let mut out = Vec::new();
    let mut push = |f: &dyn Fn(&mut Config)| {
        let mut d = c.clone();
        f(&mut d);
        if d != *c {
            out.push(d);
        }
    };
    push(&|d| d.peers = (d.peers / 2).max(crate::config::PEERS_MIN + d.blank_devices));
    push(&|d| d.peers = (d.peers - 1).max(crate::config::PEERS_MIN + d.blank_devices));
    push(&|d| {
        if d.blank_devices > 0 {
            d.blank_devices -= 1;
            d.peers -= 1;
        }
    });
    push(&|d| d.safety_ms = (d.safety_ms / 2).max(10_000));
    push(&|d| d.adversaries.network_ppm = 0);
    push(&|d| d.adversaries.leak_ppm = 0);
    push(&|d| d.adversaries.mitm_ppm = 0);
    push(&|d| d.adversaries.signal_ppm = 0);
    push(&|d| d.adversaries.insider = false);
    push(&|d| d.adversaries.flood_per_min = 0);
    push(&|d| d.faults.partitions_per_min = 0);
    push(&|d| d.faults.crashes_per_min = 0);
    push(&|d| d.faults.reset_ppm = 0);
    push(&|d| d.faults.latency_tail_ppm = 0);
    push(&|d| {
        d.faults.skew_ms_max = 0;
        d.faults.drift_ppm_max = 0;
    });
    push(&|d| d.faults.clock_jumps_per_min = 0);
    push(&|d| d.faults.signal_outages_per_min = 0);
    out
}

/// Shrinks `cfg` (which must fail) to a local minimum; returns it with its invariant.
pub fn shrink(cfg: Config, mut progress: impl FnMut(&Config)) -> Option<(Config, &'static str)> {
    let invariant = run(cfg.clone()).violation?.invariant;
    let mut best = cfg;
    let mut budget = 200usize;
    'outer: while budget > 0 {
        for cand in steps(&best) {
            budget = budget.saturating_sub(1);
            if run(cand.clone()).violation.is_some_and(|v| v.invariant == invariant) {
                best = cand;
                progress(&best);
                continue 'outer;
            }
            if budget == 0 {
                break 'outer;
            }
        }
        break;
    }
    Some((best, invariant))
}
