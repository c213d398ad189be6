//! Shrinking: from a failing `Config`, a smaller one that fails with the same invariant.
//!
//! Two kinds of step, repeated until neither helps (or the run budget is spent):
//! - the world's dimensions: fewer peers, a shorter safety phase, each fault kind and each
//!   adversary switched off;
//! - the world's sequences, by delta debugging (Zeller's ddmin, chunk removal only): the
//!   user actions and the scheduled faults are cut in halves, then quarters, and so on, and
//!   a cut is kept whenever the same invariant still fails. Without this a liveness failure
//!   keeps every action of the drawn world, and with them thousands of events to read.
//!
//! Each candidate is a fresh deterministic world whose `Config` records its cuts, so the
//! result replays bit for bit like any seed (`replay --scenario`).

use crate::config::{Config, PEERS_MIN};
use crate::cuts::Ranges;
use crate::world::World;

/// Worlds one shrink runs by default: each is a whole world (0.1 to 2 s in release), and a
/// shrink must end in minutes.
pub const RUNS_MAX: usize = 600;

/// How big a world is, as the report of a shrink measures it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub peers: usize,
    /// User actions performed (drawn and not cut).
    pub actions: u32,
    /// Scheduled faults injected (drawn and not cut).
    pub faults: u32,
    pub events: u64,
}

/// One kept step: what it removed, and the world it left.
pub struct Step<'a> {
    pub removed: String,
    pub cfg: &'a Config,
    pub size: Size,
}

/// A shrink's result.
pub struct Shrunk {
    pub cfg: Config,
    pub invariant: &'static str,
    pub before: Size,
    pub after: Size,
    /// Worlds run, the first (the original) included.
    pub runs: usize,
}

/// What one run tells the shrinker: its failure, its size, and how long its sequences were
/// as drawn (the indices cuts may name).
struct Probe {
    invariant: Option<&'static str>,
    size: Size,
    actions_drawn: u32,
    faults_drawn: u32,
}

fn probe(cfg: &Config) -> Probe {
    let mut w = World::new(cfg.clone());
    w.run();
    let (actions_drawn, faults_drawn) = (w.work.acts, w.net.faults_drawn);
    let live = |n: u32, cut: &Ranges| (0..n).filter(|k| !cut.contains(*k)).count() as u32;
    Probe {
        invariant: w.oracle.violation.as_ref().map(|v| v.invariant),
        size: Size {
            peers: cfg.peers,
            actions: live(actions_drawn, &cfg.cuts.actions),
            faults: live(faults_drawn, &cfg.cuts.faults),
            events: w.stats.events,
        },
        actions_drawn,
        faults_drawn,
    }
}

/// Candidates one dimension smaller than `c`, most promising first, each with what it removes.
fn steps(c: &Config) -> Vec<(String, Config)> {
    let mut out = Vec::new();
    let mut push = |what: &str, f: &dyn Fn(&mut Config)| {
        let mut d = c.clone();
        f(&mut d);
        if d != *c {
            let what = match what {
                "peers" => format!("{} peers ({} -> {})", c.peers - d.peers, c.peers, d.peers),
                "safety" => format!("half the safety phase ({} s -> {} s)", c.safety_ms / 1000, d.safety_ms / 1000),
                _ => what.to_string(),
            };
            out.push((what, d));
        }
    };
    push("peers", &|d| d.peers = (d.peers / 2).max(PEERS_MIN + d.blank_devices));
    push("peers", &|d| d.peers = (d.peers - 1).max(PEERS_MIN + d.blank_devices));
    push("blank device", &|d| {
        if d.blank_devices > 0 {
            d.blank_devices -= 1;
            d.peers -= 1;
        }
    });
    push("device removal", &|d| d.device_removal = false);
    push("safety", &|d| d.safety_ms = (d.safety_ms / 2).max(10_000));
    push("on-path attacker", &|d| d.adversaries.network_ppm = 0);
    push("code leaks", &|d| d.adversaries.leak_ppm = 0);
    push("relay MITM", &|d| d.adversaries.mitm_ppm = 0);
    push("lying signaling server", &|d| d.adversaries.signal_ppm = 0);
    push("insider", &|d| d.adversaries.insider = false);
    push("frame flooder", &|d| d.adversaries.flood_per_min = 0);
    push("partitions", &|d| d.faults.partitions_per_min = 0);
    push("crashes", &|d| d.faults.crashes_per_min = 0);
    push("resets", &|d| d.faults.reset_ppm = 0);
    push("latency tails", &|d| d.faults.latency_tail_ppm = 0);
    push("clock skew and drift", &|d| {
        d.faults.skew_ms_max = 0;
        d.faults.drift_ppm_max = 0;
    });
    push("clock jumps", &|d| d.faults.clock_jumps_per_min = 0);
    push("signaling outages", &|d| d.faults.signal_outages_per_min = 0);
    out
}

/// The two sequences a world's cuts delete from.
#[derive(Clone, Copy)]
enum Seq {
    Actions,
    Faults,
}

impl Seq {
    fn name(self) -> &'static str {
        match self {
            Seq::Actions => "actions",
            Seq::Faults => "faults",
        }
    }

    fn cuts(self, c: &mut Config) -> &mut Ranges {
        match self {
            Seq::Actions => &mut c.cuts.actions,
            Seq::Faults => &mut c.cuts.faults,
        }
    }
}

struct Shrinker<'p> {
    invariant: &'static str,
    best: Config,
    last: Probe,
    runs: usize,
    runs_max: usize,
    /// `probe`, or a stand-in world in the unit tests.
    run: &'p dyn Fn(&Config) -> Probe,
    progress: &'p mut dyn FnMut(&Step),
}

impl Shrinker<'_> {
    /// Runs `cand` and keeps it if it fails with the same invariant.
    fn keep_if_fails(&mut self, cand: Config, removed: String) -> bool {
        if self.runs >= self.runs_max {
            return false;
        }
        self.runs += 1;
        let p = (self.run)(&cand);
        if p.invariant != Some(self.invariant) {
            return false;
        }
        self.best = cand;
        self.last = p;
        (self.progress)(&Step { removed, cfg: &self.best, size: self.last.size });
        true
    }

    /// Takes the first dimension step that still fails, until none does; true if any did.
    fn dimensions(&mut self) -> bool {
        let mut any = false;
        'again: while self.runs < self.runs_max {
            for (removed, cand) in steps(&self.best) {
                if self.keep_if_fails(cand, removed) {
                    any = true;
                    continue 'again;
                }
            }
            break;
        }
        any
    }

    /// Delta debugging over one sequence: cut `chunks` equal parts of what is left, one at a
    /// time; after a kept cut try fewer, larger parts again, else twice as many smaller ones,
    /// down to single elements. True if anything was cut.
    fn sequence(&mut self, seq: Seq) -> bool {
        let mut any = false;
        let mut chunks = 1usize;
        while self.runs < self.runs_max {
            let drawn = match seq {
                Seq::Actions => self.last.actions_drawn,
                Seq::Faults => self.last.faults_drawn,
            };
            let cut = seq.cuts(&mut self.best).clone();
            let present: Vec<u32> = (0..drawn).filter(|k| !cut.contains(*k)).collect();
            if present.is_empty() {
                break;
            }
            let size = present.len().div_ceil(chunks.min(present.len()));
            let kept = present.chunks(size).any(|chunk| {
                let mut cand = self.best.clone();
                *seq.cuts(&mut cand) = cut.with(chunk);
                let removed = format!("{} {} of {}", seq.name(), span(chunk), present.len());
                self.keep_if_fails(cand, removed)
            });
            if kept {
                any = true;
                chunks = chunks.saturating_sub(1).max(2);
            } else if size == 1 {
                break;
            } else {
                chunks = (chunks * 2).min(present.len());
            }
        }
        any
    }
}

/// `chunk` as a reader wants it: `12` or `12..=40` (indices, so their gaps are cut already).
fn span(chunk: &[u32]) -> String {
    match chunk {
        [one] => format!("#{one}"),
        [first, .., last] => format!("#{first}..=#{last} ({})", chunk.len()),
        [] => "none".into(),
    }
}

/// Shrinks `cfg` to a local minimum that fails with the same invariant, running at most
/// `runs_max` worlds and telling `progress` of every kept step; `None` if `cfg` passes.
pub fn shrink(cfg: Config, runs_max: usize, mut progress: impl FnMut(&Step)) -> Option<Shrunk> {
    shrink_with(cfg, runs_max, &probe, &mut progress)
}

fn shrink_with(
    cfg: Config,
    runs_max: usize,
    run: &dyn Fn(&Config) -> Probe,
    progress: &mut dyn FnMut(&Step),
) -> Option<Shrunk> {
    assert!(runs_max >= 1, "the original world is one run");
    let first = run(&cfg);
    let invariant = first.invariant?;
    let before = first.size;
    let mut s = Shrinker { invariant, best: cfg, last: first, runs: 1, runs_max, run, progress };
    loop {
        let dims = s.dimensions();
        let faults = s.sequence(Seq::Faults);
        let actions = s.sequence(Seq::Actions);
        if !(dims || faults || actions) || s.runs >= s.runs_max {
            break;
        }
    }
    debug_assert!(s.last.invariant == Some(invariant), "the result fails the same way");
    Some(Shrunk { after: s.last.size, cfg: s.best, invariant, before, runs: s.runs })
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} peers, {} actions, {} faults, {} events", self.peers, self.actions, self.faults, self.events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Profile, draw};

    /// A stand-in world of 40 actions that fails S1 exactly while actions 3 and 17 both
    /// happen: ddmin must cut the other 38, and nothing else.
    fn needs_3_and_17(c: &Config) -> Probe {
        let kept = |k| !c.cuts.actions.contains(k);
        let actions = (0..40).filter(|k| kept(*k)).count() as u32;
        Probe {
            invariant: (kept(3) && kept(17)).then_some("S1"),
            size: Size { peers: c.peers, actions, faults: 0, events: u64::from(actions) * 10 },
            actions_drawn: 40,
            faults_drawn: 0,
        }
    }

    #[test]
    fn delta_debugging_cuts_every_action_the_failure_does_not_need() {
        let cfg = draw(1, Profile::Calm);
        let mut said = Vec::new();
        let out =
            shrink_with(cfg, RUNS_MAX, &needs_3_and_17, &mut |s: &Step| said.push(s.removed.clone())).expect("fails");
        assert_eq!(out.invariant, "S1");
        assert_eq!(out.before.actions, 40);
        assert_eq!(out.after.actions, 2, "only the two needed actions are left");
        assert_eq!(out.cfg.cuts.actions.to_set(), (0..40).filter(|k| *k != 3 && *k != 17).collect());
        assert!(said.iter().any(|s| s.starts_with("actions #")), "each step says what it removed: {said:?}");
        assert!(out.runs < 100, "ddmin needs far fewer runs than one per subset: {}", out.runs);
    }

    #[test]
    fn a_passing_world_has_nothing_to_shrink() {
        let pass = |c: &Config| Probe { invariant: None, ..needs_3_and_17(c) };
        assert!(shrink_with(draw(1, Profile::Calm), RUNS_MAX, &pass, &mut |_: &Step| {}).is_none());
    }
}
