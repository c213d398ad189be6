//! Per-peer clocks: the simulator owns true (global) time; each peer reads its own clock,
//! which starts skewed, drifts, and may jump. The protocol only ever sees local time, so
//! expiry and timers are judged by the clock of whoever judges them, as on real devices.

/// Global virtual time at which every world starts (an arbitrary, realistic epoch).
pub const EPOCH_MS: u64 = 1_800_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Local minus global at `EPOCH_MS`, in ms (may be negative).
    offset_ms: i64,
    /// Parts per million the local clock runs fast (negative: slow).
    drift_ppm: i64,
}

impl Clock {
    pub fn new(offset_ms: i64, drift_ppm: i64) -> Self {
        assert!(drift_ppm.abs() < 10_000, "a drift that large breaks the inverse");
        Clock { offset_ms, drift_ppm }
    }

    /// The local reading at global time `t`.
    pub fn local(&self, t: u64) -> u64 {
        let since = t.saturating_sub(EPOCH_MS) as i64;
        let local = t as i64 + self.offset_ms + since * self.drift_ppm / 1_000_000;
        local.max(0) as u64
    }

    /// The first global time at which the local clock reads at least `local`.
    pub fn global(&self, local: u64, not_before: u64) -> u64 {
        let guess = local as i64 - self.offset_ms;
        let since = guess - EPOCH_MS as i64;
        let mut t = (guess - since * self.drift_ppm / 1_000_000).max(not_before as i64) as u64;
        // The integer inverse may land a millisecond short.
        while self.local(t) < local {
            t += 1;
        }
        t
    }

    /// The clock steps by `delta_ms` (NTP correcting it, a user changing it).
    pub fn jump(&mut self, delta_ms: i64) {
        self.offset_ms += delta_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_inverts_local() {
        for (offset, drift) in [(0, 0), (25_000, 150), (-30_000, -200), (7, 1)] {
            let c = Clock::new(offset, drift);
            for t in [EPOCH_MS, EPOCH_MS + 1, EPOCH_MS + 3_600_000, EPOCH_MS + 86_400_000] {
                let l = c.local(t);
                let g = c.global(l, 0);
                assert!(c.local(g) >= l);
                assert!(g <= t, "the inverse never overshoots: {g} > {t}");
            }
        }
    }
}
