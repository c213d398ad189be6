//! Time as data. The protocol never reads a clock: every input carries `now`.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, as the caller's clock reports it.
///
/// Peers' clocks disagree, so timestamps inside credentials are informative only; no
/// safety rule depends on them. Deadlines (invitation expiry, timeouts) compare a
/// timestamp against the local caller-supplied `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp(0);

    pub fn from_millis(ms: u64) -> Self {
        Timestamp(ms)
    }

    pub fn as_millis(self) -> u64 {
        self.0
    }

    /// Saturating so that a hostile duration cannot wrap a deadline into the past.
    pub fn saturating_add_millis(self, ms: u64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }
}
