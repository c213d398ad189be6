//! Who holds what on the signaling server, per source address, so that a full table is
//! shared out fairly (SPEC §8.3.8).
//!
//! The server's tables are bounded, which keeps it alive; fairness keeps it useful. When a
//! table is full, a newcomer takes a slot from the source holding the most, as long as that
//! source holds more than the newcomer would: loads can only move towards each other, so a
//! source holding no more than `capacity / sources` is never refused. A flooder therefore
//! needs about `capacity / k` source addresses to push anyone below `k` slots.

use std::collections::{BTreeMap, BTreeSet};

use super::Source;

/// The slots (connections, topics) each source holds, with the heaviest found in O(log n).
#[derive(Debug, Clone)]
pub struct Shares<T> {
    held: BTreeMap<Source, BTreeSet<T>>,
    /// `(slots held, source)` for every source holding any: the last is the heaviest (ties
    /// broken by the greatest source, so the choice is deterministic).
    by_load: BTreeSet<(usize, Source)>,
}

impl<T: Ord + Copy> Default for Shares<T> {
    fn default() -> Self {
        Shares { held: BTreeMap::new(), by_load: BTreeSet::new() }
    }
}

impl<T: Ord + Copy> Shares<T> {
    pub fn count(&self, source: &Source) -> usize {
        self.held.get(source).map_or(0, BTreeSet::len)
    }

    /// Slots held in total.
    pub fn total(&self) -> usize {
        self.by_load.iter().map(|(n, _)| n).sum()
    }

    pub fn holds(&self, source: &Source, slot: &T) -> bool {
        self.held.get(source).is_some_and(|s| s.contains(slot))
    }

    pub fn insert(&mut self, source: Source, slot: T) {
        let before = self.count(&source);
        if self.held.entry(source).or_default().insert(slot) {
            self.reindex(source, before);
        }
    }

    pub fn remove(&mut self, source: Source, slot: &T) {
        let before = self.count(&source);
        let Some(set) = self.held.get_mut(&source) else { return };
        if set.remove(slot) {
            if set.is_empty() {
                self.held.remove(&source);
            }
            self.reindex(source, before);
        }
    }

    /// The slot to take from the heaviest source so that `newcomer` can have one, if the
    /// heaviest holds more than `newcomer` would after taking it. Which of its slots goes
    /// is `pick`'s choice among them.
    pub fn take_for(&self, newcomer: &Source, pick: impl Fn(&BTreeSet<T>) -> Option<T>) -> Option<(Source, T)> {
        let &(load, heaviest) = self.by_load.last()?;
        if heaviest == *newcomer || load <= self.count(newcomer) + 1 {
            return None;
        }
        Some((heaviest, pick(self.held.get(&heaviest)?)?))
    }

    /// Panics unless the index agrees with the sets (tests and the simulator).
    pub fn assert_consistent(&self) {
        assert_eq!(self.by_load.len(), self.held.len());
        for (source, set) in &self.held {
            assert!(!set.is_empty(), "empty sources are removed");
            assert!(self.by_load.contains(&(set.len(), *source)));
        }
    }

    fn reindex(&mut self, source: Source, before: usize) {
        if before > 0 {
            self.by_load.remove(&(before, source));
        }
        let after = self.count(&source);
        if after > 0 {
            self.by_load.insert((after, source));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(n: u8) -> Source {
        Source([n; 16])
    }

    #[test]
    fn the_heaviest_gives_way_only_while_it_holds_more_than_the_newcomer_would() {
        let mut shares = Shares::default();
        for slot in 0..5u32 {
            shares.insert(source(1), slot);
        }
        shares.insert(source(2), 100);
        shares.insert(source(2), 101);
        shares.insert(source(2), 102);
        // Source 3 holds nothing: 5 > 0 + 1, it takes source 1's first slot.
        assert_eq!(shares.take_for(&source(3), |s| s.first().copied()), Some((source(1), 0)));
        // Source 2 holds 3: would hold 4, source 1 holds 5 > 4.
        assert_eq!(shares.take_for(&source(2), |s| s.last().copied()), Some((source(1), 4)));
        shares.insert(source(2), 103);
        // Now 5 vs 4 → 5: no longer more.
        assert_eq!(shares.take_for(&source(2), |s| s.first().copied()), None);
        // The heaviest never takes from itself.
        assert_eq!(shares.take_for(&source(1), |s| s.first().copied()), None);
        assert_eq!(shares.total(), 9);
        shares.assert_consistent();
    }

    #[test]
    fn removing_the_last_slot_forgets_the_source() {
        let mut shares = Shares::default();
        shares.insert(source(1), 1u32);
        shares.remove(source(1), &1);
        shares.remove(source(1), &1);
        assert_eq!(shares.count(&source(1)), 0);
        assert_eq!(shares.take_for(&source(2), |s| s.first().copied()), None);
        shares.assert_consistent();
    }
}
