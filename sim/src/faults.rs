//! The faults of the safety phase, as draws: which kind strikes when, and the shape of each
//! (a partition's pairs, a clock jump's size). A leaf: it draws from the network's stream and
//! knows nothing of the world, which applies each fault (`world::faults`).

use std::collections::BTreeSet;

use crate::config::Config;
use crate::net::Net;

/// A fault, scheduled at a global time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    Partition { id: u64 },
    PartitionHeal { id: u64 },
    Crash { node: usize },
    Restart { node: usize },
    ClockJump { node: usize },
    SignalOutage,
    SignalBack,
}

/// Draws the safety phase's faults from `now` until `end` over `nodes` nodes, each kind as a
/// Poisson process of its rate. A fault `Config::cuts` names is still drawn, so deleting one
/// leaves the others as they were.
pub fn schedule(net: &mut Net, cfg: &Config, now: u64, end: u64, nodes: usize) -> Vec<(u64, Fault)> {
    let f = &cfg.faults;
    let kinds: [(u32, u8); 4] =
        [(f.partitions_per_min, 0), (f.crashes_per_min, 1), (f.clock_jumps_per_min, 2), (f.signal_outages_per_min, 3)];
    let mut drawn = Vec::new();
    for (rate, kind) in kinds {
        if rate == 0 {
            continue;
        }
        let mut t = now;
        loop {
            t += 1 + net.roll(2 * 60_000 / u64::from(rate));
            if t >= end {
                break;
            }
            let node = net.roll(nodes as u64) as usize;
            let fault = match kind {
                0 => Fault::Partition { id: 0 },
                1 => Fault::Crash { node },
                2 => Fault::ClockJump { node },
                _ => Fault::SignalOutage,
            };
            let k = net.faults_drawn;
            net.faults_drawn += 1;
            if !cfg.cuts.faults.contains(k) {
                drawn.push((t, fault));
            }
        }
    }
    drawn
}

/// Draws a partition of `n` nodes: isolate one node, split in two (symmetric), one-way, or
/// swizzle. The ordered pairs `(a, b)` whose frames cannot pass; possibly none.
pub fn partition(net: &mut Net, n: usize) -> BTreeSet<(usize, usize)> {
    let mut pairs = BTreeSet::new();
    let isolate = |pairs: &mut BTreeSet<(usize, usize)>, x: usize| {
        for y in (0..n).filter(|y| *y != x) {
            pairs.insert((x, y));
            pairs.insert((y, x));
        }
    };
    let kind = net.roll(4);
    match kind {
        0 => {
            let x = net.roll(n as u64) as usize;
            isolate(&mut pairs, x);
        }
        1 | 3 => {
            let side: Vec<bool> = (0..n).map(|_| net.roll(2) == 0).collect();
            for a in 0..n {
                for b in 0..n {
                    if side[a] != side[b] && (kind == 1 || side[a]) {
                        pairs.insert((a, b));
                    }
                }
            }
        }
        _ => {
            // Swizzle: a random subset, each cut from everyone.
            for x in 0..n {
                if net.roll(3) == 0 {
                    isolate(&mut pairs, x);
                }
            }
        }
    }
    pairs
}

/// A clock jump's size: forward mostly (NTP catching up, a laptop waking), small steps back
/// too.
pub fn clock_jump_ms(net: &mut Net) -> i64 {
    if net.roll(4) == 0 { -(net.roll(2_000) as i64) } else { net.roll(120_000) as i64 }
}
