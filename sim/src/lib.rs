//! spaces-sim: deterministic simulation of whole worlds of spaces peers.
//!
//! A seed fixes a world (`config`): honest devices and adversaries, a signaling server, a
//! workload of user actions (`workload`), transport and process faults (`net`), attacks
//! (`adversary`). `world` runs it in virtual time, driving the protocol's sans-IO `Peer` and
//! `SignalServer` directly, and `oracle` checks safety after every event and liveness after
//! healing. Any failure replays bit for bit from its `Config`.
//!
//! ```
//! let cfg = spaces_sim::config::draw(3, spaces_sim::config::Profile::Calm);
//! let outcome = spaces_sim::run(cfg);
//! assert!(outcome.violation.is_none(), "{:?}", outcome.violation);
//! ```

pub mod adversary;
pub mod clock;
pub mod config;
pub mod cuts;
pub mod faults;
pub mod junit;
pub mod mutant;
pub mod net;
pub mod node;
pub mod oracle;
pub mod report;
pub mod runner;
pub mod shrink;
pub mod svg;
pub mod trace;
pub mod workload;
pub mod world;

use serde::Serialize;

pub use config::{Config, Profile};
pub use oracle::Violation;
pub use trace::Stats;

/// How one run ended.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub seed: u64,
    pub profile: Profile,
    pub peers: usize,
    pub violation: Option<Violation>,
    pub stats: Stats,
    /// SHA-256 of the whole trace: two runs of one config must agree.
    pub trace_hash: String,
    pub wall_ms: u64,
}

/// Runs one world to its end. The planted bug, if any, must already be set on this thread
/// (`mutant::set_for_run`).
pub fn run(cfg: Config) -> Outcome {
    run_traced(cfg, false).0
}

/// Runs one world, also returning every trace line when `keep` is set.
pub fn run_traced(cfg: Config, keep: bool) -> (Outcome, Vec<String>) {
    let started = std::time::Instant::now();
    let (seed, profile, peers) = (cfg.seed, cfg.profile, cfg.peers);
    let mut w = world::World::new_with_trace(cfg, keep);
    w.run();
    let lines = w.trace.keep.take().unwrap_or_default();
    let outcome = Outcome {
        seed,
        profile,
        peers,
        violation: w.oracle.violation.clone(),
        stats: w.stats.clone(),
        trace_hash: w.trace.digest(),
        wall_ms: started.elapsed().as_millis() as u64,
    };
    (outcome, lines)
}
