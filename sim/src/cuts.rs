//! What shrinking deleted from a drawn world's sequences: user actions (the workload's `Act`
//! events, counted from 0 in the order they fire) and the scheduled faults (counted in the
//! order `faults::schedule` draws them). A world draws these from its seed as always and
//! then skips the cut ones, so a `Config` with cuts still fixes its run bit for bit and a
//! scenario file replays exactly what `shrink` saw. A drawn world has no cuts.
//!
//! Indices are positions in the sequence, not identities: skipping an action changes what
//! the workload's random stream draws for every later one. Shrinking only needs a run that is
//! a function of the `Config`, which this is.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Half-open index ranges `[start, end)`, sorted and disjoint: short in a scenario file
/// even when shrinking deleted hundreds of actions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ranges(pub Vec<[u32; 2]>);

impl Ranges {
    pub fn contains(&self, k: u32) -> bool {
        self.0.iter().any(|[a, b]| (*a..*b).contains(&k))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many indices the ranges hold.
    pub fn len(&self) -> u32 {
        self.0.iter().map(|[a, b]| b - a).sum()
    }

    pub fn to_set(&self) -> BTreeSet<u32> {
        self.0.iter().flat_map(|[a, b]| *a..*b).collect()
    }

    /// The ranges holding exactly `set`, merged where they touch.
    pub fn from_set(set: &BTreeSet<u32>) -> Self {
        let mut out: Vec<[u32; 2]> = Vec::new();
        for &k in set {
            match out.last_mut() {
                Some(last) if last[1] == k => last[1] = k + 1,
                _ => out.push([k, k + 1]),
            }
        }
        debug_assert!(out.windows(2).all(|w| w[0][1] < w[1][0]), "sorted, disjoint, not touching");
        Ranges(out)
    }

    /// These ranges plus `more`.
    pub fn with(&self, more: &[u32]) -> Self {
        let mut set = self.to_set();
        set.extend(more.iter().copied());
        Ranges::from_set(&set)
    }
}

/// The deletions one `Config` records.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Cuts {
    /// User actions skipped (their time still passes, so the next one comes when it would).
    pub actions: Ranges,
    /// Scheduled faults (partitions, crashes, clock jumps, signaling outages) never injected.
    pub faults: Ranges,
}

impl Cuts {
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.faults.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_hold_exactly_the_set_they_were_made_from() {
        let set: BTreeSet<u32> = [0, 1, 2, 5, 7, 8].into_iter().collect();
        let r = Ranges::from_set(&set);
        assert_eq!(r.0, vec![[0, 3], [5, 6], [7, 9]]);
        assert_eq!(r.to_set(), set);
        assert_eq!(r.len(), 6);
        assert!(r.contains(8) && !r.contains(3) && !r.contains(9));
        assert_eq!(r.with(&[3, 4, 6]).0, vec![[0, 9]]);
    }
}
