//! Replication of a space's feeds between two members (SPEC.md §9.3): exchange `Have`
//! summaries, send exactly the entries the other side lacks, verify everything on arrival.
//! Work is proportional to what is missing: a summary is one position per feed, and only
//! entries beyond the other side's position travel.

use crate::credential::FeedPosition;
use crate::feed::FeedEntry;
use crate::keys::NoiseKey;
use crate::space::{IngestError, Ingested, Space};
use crate::swarm::{ENTRIES_PER_MESSAGE_MAX, HAVE_FEEDS_MAX};

/// Bytes of entries one batch carries at most (well under the swarm message limit).
pub const BATCH_SIZE_MAX: usize = 512 * 1024;

/// What we hold: one position per non-empty feed, sorted by feed key.
pub fn have(space: &Space) -> Vec<FeedPosition> {
    let mut feeds: Vec<FeedPosition> =
        space.feeds().filter(|f| !f.is_empty()).map(|f| FeedPosition { feed: f.key(), length: f.len() }).collect();
    feeds.sort();
    feeds.truncate(HAVE_FEEDS_MAX);
    feeds
}

/// The entries the other side lacks given its summary, oldest first per feed, bounded by
/// `ENTRIES_PER_MESSAGE_MAX` and `BATCH_SIZE_MAX` (the rest goes after its next `Have`).
pub fn missing(space: &Space, theirs: &[FeedPosition]) -> Vec<FeedEntry> {
    let mut out = Vec::new();
    let mut bytes = 0;
    // Control feeds first: they carry the admissions that make data feeds acceptable, so a
    // batch full of a not-yet-admitted feed's entries cannot stall the receiver.
    let mut feeds: Vec<&crate::feed::Feed> = space.feeds().collect();
    let m = space.membership();
    feeds.sort_by_key(|f| {
        (m.feed(&f.key()).is_none_or(|a| a.designation != crate::credential::Designation::Control), f.key())
    });
    for feed in feeds {
        let from = theirs.iter().find(|p| p.feed == feed.key()).map_or(0, |p| p.length);
        for entry in feed.entries().iter().skip(usize::try_from(from).unwrap_or(usize::MAX)) {
            let size = entry.body.payload.len() + 160;
            if out.len() >= ENTRIES_PER_MESSAGE_MAX || bytes + size > BATCH_SIZE_MAX {
                return out;
            }
            bytes += size;
            out.push(entry.clone());
        }
    }
    out
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub new: usize,
    pub duplicate: usize,
    /// Refused for good (bad signature, fork, broken link, …).
    pub refused: usize,
    /// Not yet acceptable (feed not admitted yet, gap): asked for again later.
    pub deferred: usize,
}

/// Ingests a batch in as many passes as make progress: an entry whose feed is admitted by a
/// credential later in the batch is retried after that credential has been applied.
pub fn ingest_batch(space: &mut Space, entries: Vec<FeedEntry>) -> BatchReport {
    let mut report = BatchReport::default();
    let mut pending = entries;
    loop {
        let mut next = Vec::new();
        let before = report.new;
        for entry in pending {
            match space.ingest(entry.clone()) {
                Ok(Ingested::Duplicate) => report.duplicate += 1,
                Ok(_) => report.new += 1,
                Err(IngestError::NotAdmitted { .. }) | Err(IngestError::Feed(crate::feed::FeedError::Gap { .. })) => {
                    next.push(entry)
                }
                Err(_) => report.refused += 1,
            }
        }
        if next.is_empty() || report.new == before {
            report.deferred = next.len();
            return report;
        }
        pending = next;
    }
}

/// Is the device with this Noise key a current member's device in this space?
pub fn is_member_device(space: &Space, remote: &NoiseKey) -> bool {
    let m = space.membership();
    m.feeds().any(|(_, a)| a.noise_key == *remote && m.is_member(&a.identity))
}
