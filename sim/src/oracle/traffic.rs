//! R3, replication traffic: no trusted device sends any other device more than
//! `LINK_BYTES_PER_WINDOW_MAX` bytes in any `WINDOW_MS` of virtual time. Two honest replicas
//! that keep answering each other's summaries with entries neither can take (or with summaries
//! that ask again) spend bandwidth and CPU without end and never settle; the L1 deadline would
//! catch that only after the whole liveness phase, at the cost of minutes of a sweep's wall time
//! per seed, and only if the storm also kept them apart. Hostile seed 675 found such a storm
//! (two replicas with different credential sets pulling each other every round trip), and
//! hostile seed 10 replicas that answered each of the insider's empty summaries in full
//! (`adversary::summary_flood`).
//!
//! Why the bound is safe for honest work: a simulated space holds at most a few thousand
//! entries of a few hundred bytes, so a full first sync of every space two devices share is a
//! few megabytes, and after it each write travels once per link. Over seeds 0..1000 of every
//! profile the most a trusted device sent one other in a window was 89 KiB (calm), 85 (faulty),
//! 216 (swarm) and 609 (hostile: answers to the summary flood, which SPEC §9.3.3 rule 3 holds to
//! about a space per feed's wait), a seventh of the bound; the storm it was made for sent about
//! a megabyte a second.

use std::collections::BTreeMap;

use crate::world::World;

/// The window over which a pair's bytes are summed.
pub const WINDOW_MS: u64 = 60_000;
/// Bytes a trusted device may send one other device within one window.
pub const LINK_BYTES_PER_WINDOW_MAX: u64 = 4 * 1024 * 1024;

/// Bytes per ordered pair of nodes in the current window of each.
#[derive(Debug, Default)]
pub struct Traffic {
    /// (from, to) -> (window index, bytes in it).
    windows: BTreeMap<(usize, usize), (u64, u64)>,
}

/// Node `from` sent `to` a frame of `bytes` (counted when it is scheduled for delivery).
pub fn sent(w: &mut World, from: usize, to: usize, bytes: usize) {
    // Whatever the receiver: an adversary that makes an honest device answer without end
    // is the storm's other half (hostile 675's was the insider).
    if !w.trusted(from) {
        return;
    }
    let window = w.now / WINDOW_MS;
    let slot = w.oracle.traffic.windows.entry((from, to)).or_insert((window, 0));
    if slot.0 != window {
        *slot = (window, 0);
    }
    slot.1 += bytes as u64;
    let total = slot.1;
    w.stats.link_bytes_window_max = w.stats.link_bytes_window_max.max(total);
    if total > LINK_BYTES_PER_WINDOW_MAX {
        w.fail(
            "R3",
            format!(
                "node {from} sent node {to} {total} bytes within {} s (bound {LINK_BYTES_PER_WINDOW_MAX}): a replication storm",
                WINDOW_MS / 1000
            ),
        );
    }
}
