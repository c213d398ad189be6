//! The simulator's weather inside the scenario world: per-frame latency with tails, connection
//! resets, and windows in which the host is cut off, drawn by `spaces-sim`'s own network model
//! (`spaces_sim::net::Net::latency`, `chance_ppm`) from a `spaces_sim::config::Faults`, so an
//! invitation world has the same weather as a simulated one of the same seed and profile.
//!
//! Sessions stay reliable ordered streams, as in the simulator: a frame never overtakes an
//! earlier one of its direction, and a close comes after what was sent before it.

use std::collections::BTreeMap;

use rand_chacha::ChaCha20Rng;
use spaces_sim::config::Faults;

/// How long a connect to a host that is down or cut off takes to fail (the simulator's).
pub const CONNECT_TIMEOUT_MS: u64 = spaces_sim::net::CONNECT_TIMEOUT_MS;
/// How long until both ends notice that a partition cut their session (the simulator's).
pub const CUT_DETECT_MS_MAX: u64 = spaces_sim::net::CUT_DETECT_MS_MAX;

pub struct Weather {
    model: spaces_sim::net::Net,
    faults: Faults,
    /// From this time on, no tails, resets or cuts: the world has healed.
    pub heal_at: u64,
    /// `[start, end)` windows in which the host can be neither reached nor heard.
    pub cuts: Vec<(u64, u64)>,
    /// Per (session, receiving slot): the arrival time of the last delivery, for ordering.
    last_at: BTreeMap<(u64, usize), u64>,
}

impl Weather {
    pub fn new(rng: ChaCha20Rng, faults: Faults, heal_at: u64, cuts: Vec<(u64, u64)>) -> Self {
        Weather { model: spaces_sim::net::Net::new(rng), faults, heal_at, cuts, last_at: BTreeMap::new() }
    }

    fn faults_at(&self, now: u64) -> Faults {
        if now < self.heal_at {
            return self.faults.clone();
        }
        Faults {
            latency_min_ms: self.faults.latency_min_ms,
            latency_max_ms: self.faults.latency_max_ms,
            ..Faults::none()
        }
    }

    /// When something sent now reaches `to` on `session` (`None`: a connection event, which
    /// is ordered with nothing).
    pub fn arrival(&mut self, now: u64, ordered: Option<(u64, usize)>) -> u64 {
        let faults = self.faults_at(now);
        let at = now + self.model.latency(&faults);
        let Some(key) = ordered else { return at };
        let last = self.last_at.entry(key).or_default();
        *last = at.max(*last);
        *last
    }

    /// Whether the network resets a session instead of carrying a frame sent now.
    pub fn resets(&mut self, now: u64) -> bool {
        let ppm = self.faults_at(now).reset_ppm;
        self.model.chance_ppm(ppm)
    }

    /// Whether the host is cut off now.
    pub fn cut(&self, now: u64) -> bool {
        now < self.heal_at && self.cuts.iter().any(|(a, b)| (*a..*b).contains(&now))
    }

    /// How long the ends of a cut session take to notice.
    pub fn cut_detect_ms(&mut self) -> u64 {
        1 + self.model.roll(CUT_DETECT_MS_MAX)
    }
}
