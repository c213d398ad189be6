//! Replication of a space's feeds between two members (SPEC.md §9.3): exchange `Have`
//! summaries, send exactly the entries the other side lacks, verify everything on arrival.
//! Work is proportional to what is missing: a summary is one position per feed, and only
//! entries beyond the other side's position travel.

use std::collections::{BTreeMap, BTreeSet};

use crate::codec::Canonical;
use crate::credential::{Credential, Designation, FeedPosition};
use crate::feed::{Feed, FeedEntry, FeedError};
use crate::hash::Digest;
use crate::keys::{NoiseKey, PublicKey};
use crate::mutants::{Mutant, active};
use crate::space::{IngestError, Ingested, Space};
use crate::swarm::{ENTRIES_PER_MESSAGE_MAX, FORKS_PER_MESSAGE_MAX, FeedHead, HAVE_FEEDS_MAX, SwarmMessage};

/// Bytes of entries one batch carries at most (well under the swarm message limit).
pub const BATCH_SIZE_MAX: usize = 512 * 1024;

/// Entries of a removed member's control feed a replica takes from a heard device beyond
/// what the member's removal had seen (SPEC.md §9.2.2 rule 6). What lies there either is a
/// credential the member issued before it could learn of its removal, of which only
/// counter-changes take effect (§4.5; an honest member issues them first, as soon as it
/// acts against the admin it disagrees with), or cannot take effect at all (issued after it
/// saw the removal, junk, self-promotion): 32 is room for an honest member's counter-changes
/// with a margin, and a small fixed price for one removed member's flood.
pub const HEARD_ENTRIES_MAX: u64 = 32;

/// Entries before a differing head sent to a replica on another branch of a feed (SPEC.md
/// §9.3.5): enough to reach the fork point in one round when a forking author went on for a
/// while, and a window, not the whole feed, so that one answer stays one batch. A fork lower
/// still is found in the next rounds, each cutting the feed further.
pub const FORK_WINDOW: u64 = 64;

/// What we hold: one position per non-empty feed, ascending by feed key, each feed once. Not
/// bounded: `summary_messages` cuts it into messages.
pub fn have(space: &Space) -> Vec<FeedPosition> {
    // `feeds()` iterates a map by key, so the summary is ascending with no feed twice.
    let feeds: Vec<FeedPosition> =
        space.feeds().filter(|f| !f.is_empty()).map(|f| FeedPosition { feed: f.key(), length: f.len() }).collect();
    assert!(feeds.windows(2).all(|w| w[0].feed < w[1].feed), "one position per feed, ascending");
    feeds
}

/// What we hold with each feed's head: the content of a `Summary`.
pub fn heads(space: &Space) -> Vec<FeedHead> {
    let head = |f: &Feed| f.head().map(|head| FeedHead { feed: f.key(), length: f.len(), head });
    space.feeds().filter_map(head).collect()
}

/// The messages that carry a summary: one `Summary` when it fits, otherwise consecutive pages
/// of at most `HAVE_FEEDS_MAX` feeds whose ranges cover every key, so a receiver learns
/// exactly which feeds each page speaks for.
pub fn summary_messages(space: PublicKey, feeds: &[FeedHead], credentials: Digest) -> Vec<SwarmMessage> {
    if feeds.len() <= HAVE_FEEDS_MAX {
        return vec![SwarmMessage::Summary { space, after: None, through: None, feeds: feeds.to_vec(), credentials }];
    }
    let pages: Vec<&[FeedHead]> = feeds.chunks(HAVE_FEEDS_MAX).collect();
    let mut out = Vec::with_capacity(pages.len());
    let mut after = None;
    for (i, page) in pages.iter().enumerate() {
        let last = page.last().expect("chunks are never empty").feed;
        let through = (i + 1 < pages.len()).then_some(last);
        out.push(SwarmMessage::Summary { space, after, through, feeds: page.to_vec(), credentials });
        after = Some(last);
    }
    assert!(out.len() >= 2);
    out
}

/// The `Forks` messages that carry every proven fork of `space` we hold.
pub fn fork_messages(space: &Space) -> Vec<SwarmMessage> {
    let evidence: Vec<_> = space.forks().cloned().collect();
    evidence
        .chunks(FORKS_PER_MESSAGE_MAX)
        .map(|c| SwarmMessage::Forks { space: space.key(), evidence: c.to_vec() })
        .collect()
}

/// The `Credentials` messages that carry `space`'s loose credentials (`Space::loose_credentials`),
/// each within `CREDENTIALS_PER_MESSAGE_MAX` and `BATCH_SIZE_MAX`.
pub fn loose_messages(space: &Space) -> Vec<SwarmMessage> {
    let mut out = Vec::new();
    let mut batch: Vec<Credential> = Vec::new();
    let mut bytes = 0;
    for c in space.loose_credentials() {
        let size = c.to_bytes().len();
        if batch.len() >= crate::swarm::CREDENTIALS_PER_MESSAGE_MAX
            || (bytes + size > BATCH_SIZE_MAX && !batch.is_empty())
        {
            out.push(SwarmMessage::Credentials { space: space.key(), credentials: std::mem::take(&mut batch) });
            bytes = 0;
        }
        bytes += size;
        batch.push(c);
    }
    if !batch.is_empty() {
        out.push(SwarmMessage::Credentials { space: space.key(), credentials: batch });
    }
    out
}

/// `missing_in` for a page of a `Summary`: a feed whose head differs from our entry at the
/// same position (the other replica holds another branch) is sent from `FORK_WINDOW` entries
/// before that position, so the receiver meets the branch point and proves the fork.
pub fn missing_for_summary(
    space: &Space,
    theirs: &[FeedHead],
    after: Option<&PublicKey>,
    through: Option<&PublicKey>,
) -> Vec<FeedEntry> {
    entries_from(space, |feed| from_head(feed, theirs), after, through)
}

/// Where to send `feed` from to a replica whose summary shows `theirs`: its length, or, if its
/// head differs from our entry at that position (it holds another branch), `FORK_WINDOW`
/// entries before, so that it meets the branch point and proves the fork.
fn from_head(feed: &Feed, theirs: &[FeedHead]) -> u64 {
    let Ok(i) = theirs.binary_search_by(|h| h.feed.cmp(&feed.key())) else { return 0 };
    let h = &theirs[i];
    let diverged = h.length > 0 && feed.hash_at(h.length - 1).is_some_and(|ours| ours != h.head);
    if diverged { h.length.saturating_sub(FORK_WINDOW) } else { h.length }
}

/// The entries the other side lacks given its summary, oldest first per feed, bounded by
/// `ENTRIES_PER_MESSAGE_MAX` and `BATCH_SIZE_MAX` (the rest goes after its next `Have`).
pub fn missing(space: &Space, theirs: &[FeedPosition]) -> Vec<FeedEntry> {
    missing_in(space, theirs, None, None)
}

/// `missing` for one page of a summary: only feeds with keys in `(after, through]` (`None`:
/// unbounded), where an unlisted feed counts as not held. `theirs` is ascending by feed.
pub fn missing_in(
    space: &Space,
    theirs: &[FeedPosition],
    after: Option<&PublicKey>,
    through: Option<&PublicKey>,
) -> Vec<FeedEntry> {
    entries_from(space, |feed| position(theirs, &feed.key()).unwrap_or(0), after, through)
}

/// What a local change pushes (SPEC.md §9.3.3 rule 2): the entries of the feeds `device` writes
/// beyond `theirs` (what the other side is known to hold), one batch. Only its own: relaying
/// others' entries by push too would send each write once per pair of members; those travel by
/// the pull.
pub fn push(space: &Space, theirs: &[FeedPosition], device: &PublicKey) -> Vec<FeedEntry> {
    let own = |feed: &Feed| space.carrier(&feed.key()).is_some_and(|a| a.device == *device);
    entries_from(
        space,
        |feed| if own(feed) { position(theirs, &feed.key()).unwrap_or(0) } else { feed.len() },
        None,
        None,
    )
}

/// What a device that has just ceased to be a member is sent before its link drops `space`
/// (SPEC.md §9.2.2 rule 7): the control-feed entries past `theirs` (its last known positions),
/// one batch, which carry the credentials that removed it. Data entries it never gets again.
pub fn removal_notice(space: &Space, theirs: &[FeedPosition]) -> Vec<FeedEntry> {
    notice_from(space, |feed| position(theirs, &feed.key()).unwrap_or(0))
}

/// `removal_notice` for a device whose whole `Summary` showed `theirs`: a control feed on
/// which it holds another branch goes from `FORK_WINDOW` before its head, so that it proves
/// the fork instead of refusing entries that do not extend its own (a forking remover's
/// later branch carried the removal: hostile seed 1602).
pub fn removal_notice_for_summary(space: &Space, theirs: &[FeedHead]) -> Vec<FeedEntry> {
    notice_from(space, |feed| from_head(feed, theirs))
}

/// The control-feed entries from `from(feed)` on, one batch; data feeds never.
fn notice_from(space: &Space, from: impl Fn(&Feed) -> u64) -> Vec<FeedEntry> {
    let m = space.membership();
    let control = |feed: &Feed| m.carrier(&feed.key()).is_some_and(|a| a.designation == Designation::Control);
    entries_from(space, |feed| if control(feed) { from(feed) } else { feed.len() }, None, None)
}

/// The entries of each feed in `(after, through]` from position `from(feed)` on, in send order,
/// bounded as one batch.
fn entries_from(
    space: &Space,
    from: impl Fn(&Feed) -> u64,
    after: Option<&PublicKey>,
    through: Option<&PublicKey>,
) -> Vec<FeedEntry> {
    let mut out = Vec::new();
    let mut bytes = 0;
    let in_range = |k: &PublicKey| after.is_none_or(|a| a < k) && through.is_none_or(|t| k <= t);
    let mut feeds: Vec<&Feed> = space.feeds().filter(|f| in_range(&f.key())).collect();
    let m = space.membership();
    feeds.sort_by_key(|f| send_order(m, &f.key()));
    for feed in feeds {
        let from = from(feed);
        for entry in feed.entries().iter().skip(usize::try_from(from).unwrap_or(usize::MAX)) {
            let size = entry.body.payload.len() + 160;
            if out.len() >= ENTRIES_PER_MESSAGE_MAX || bytes + size > BATCH_SIZE_MAX {
                return out;
            }
            bytes += size;
            out.push(entry.clone());
        }
    }
    assert!(out.len() <= ENTRIES_PER_MESSAGE_MAX);
    out
}

/// Where a feed goes in a batch: control feeds first, then the others; within each group, by
/// the causal depth of the feed's admission, then by key. A credential admitting feed `F` is an
/// entry of a control feed `C` whose own admission its issuer had applied when issuing it; an
/// issuer cites all its heads as parents (up to `PARENTS_MAX` = 64 concurrent heads), so the
/// credential is deeper than `C`'s admission: `C` comes before `F`, and every batch holds
/// entries the receiver can accept (SPEC.md §9.3.4). A control feed whose admission is void
/// still carries credentials and sorts by that admission; other feeds not admitted go last.
fn send_order(m: &crate::membership::Membership, feed: &PublicKey) -> (bool, u32, PublicKey) {
    let admission = m.carrier(feed);
    let control = admission.is_some_and(|a| a.designation == Designation::Control);
    let depth = admission.and_then(|a| m.depth(&a.credential)).unwrap_or(u32::MAX);
    (!control, depth, *feed)
}

/// Does `theirs` show entries we would take (SPEC.md §9.3.3 rule 3): a feed whose entries we
/// accept (`Space::carrier`) that we lack or hold shorter, below its fork cut if it has one?
/// Only then is asking again worth a message. A feed we would refuse is no reason: two replicas
/// whose credential sets differ would otherwise ask each other every round trip for entries
/// neither can take (hostile seed 675, R3).
pub fn behind(space: &Space, theirs: &[FeedPosition]) -> bool {
    let refused_too = active(Mutant::PullRefusedFeeds) || active(Mutant::ReplicationStorm);
    theirs.iter().any(|p| {
        let takes = space.fork_at(&p.feed).filter(|_| !refused_too).unwrap_or(u64::MAX).min(p.length);
        (refused_too || space.carrier(&p.feed).is_some()) && space.feed(&p.feed).map_or(0, Feed::len) < takes
    })
}

/// The length a summary (ascending by feed, as decoding guarantees) lists for `feed`.
fn position(summary: &[FeedPosition], feed: &PublicKey) -> Option<u64> {
    summary.binary_search_by(|p| p.feed.cmp(feed)).ok().map(|i| summary[i].length)
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

/// What a pass of `ingest_passes` does with one entry before offering it to the space.
enum Take {
    Offer,
    /// Not acceptable from this sender: refused for good in this batch.
    Refuse,
}

/// Ingests a batch in as many passes as make progress: an entry whose feed is admitted by a
/// credential later in the batch is retried after that credential has been applied.
///
/// Entries still deferred because their feed is not admitted give up the credentials they
/// carry, which are inserted as a `Credentials` message's would be (SPEC.md §9.3.3 rule 4), and
/// the deferred entries get another round of passes. A feed's admission may travel only in
/// entries of that feed: after a fork cut its issuer's control feed, each guest carries its
/// own grant again (§9.3.5 rule 3), and a replica that never held the cut branch could take
/// neither (hostile seed 675). Credentials are self-authenticating, so where they come from
/// does not matter; the work is bounded by the batch, as a `Credentials` message's is.
pub fn ingest_batch(space: &mut Space, entries: Vec<FeedEntry>) -> BatchReport {
    let (mut report, mut deferred) = ingest_passes(space, entries, |_, _| Take::Offer);
    while !deferred.is_empty() && !active(Mutant::IgnoreDeferredCredentials) && !active(Mutant::ReplicationStorm) {
        let carried: Vec<Credential> = deferred
            .iter()
            .filter(|e| space.carrier(&e.body.feed).is_none())
            .filter_map(|e| Credential::from_bytes(&e.body.payload).ok())
            .collect();
        if !space.insert_credentials(carried).contains(&Ok(crate::membership::Inserted::New)) {
            break;
        }
        let (again, still) = ingest_passes(space, deferred, |_, _| Take::Offer);
        report.new += again.new;
        report.duplicate += again.duplicate;
        report.refused += again.refused;
        report.deferred = again.deferred;
        deferred = still;
    }
    report
}

/// Ingests a batch from a heard device (SPEC.md §9.2.2 rule 6): only entries of control feeds
/// below their `heard_limit`, judged again at every pass; the others are refused.
pub fn ingest_heard(space: &mut Space, entries: Vec<FeedEntry>) -> BatchReport {
    if active(Mutant::IngestRemovedUnbounded) {
        return ingest_batch(space, entries);
    }
    // Each feed's limit is computed once per batch, when its first entry comes up: scanning
    // the feed once per entry would cost the square of its length. A limit only grows as
    // credentials arrive, so a stale one refuses more, never less; the rest comes again.
    let mut limits: BTreeMap<PublicKey, u64> = BTreeMap::new();
    let (report, _) = ingest_passes(space, entries, |space, entry| {
        let feed = entry.body.feed;
        if space.membership().carrier(&feed).is_none() {
            return Take::Offer; // refused `NotAdmitted` and deferred: its admission may come
        }
        let limit = *limits.entry(feed).or_insert_with(|| heard_limit(space, &feed));
        if entry.body.seq < limit { Take::Offer } else { Take::Refuse }
    });
    report
}

/// The passes of `ingest_batch`: returns what they did and the entries still deferred.
fn ingest_passes(
    space: &mut Space,
    entries: Vec<FeedEntry>,
    mut take: impl FnMut(&Space, &FeedEntry) -> Take,
) -> (BatchReport, Vec<FeedEntry>) {
    let mut report = BatchReport::default();
    let mut pending = entries;
    loop {
        let mut next = Vec::new();
        let before = report.new;
        // Each pass takes the entries of control feeds first and inserts their credentials
        // together (one resolution, `Space::ingest_deferring`), then the rest, judged by the
        // membership those credentials made.
        let (control, rest): (Vec<FeedEntry>, Vec<FeedEntry>) = pending
            .into_iter()
            .partition(|e| space.carrier(&e.body.feed).is_some_and(|a| a.designation == Designation::Control));
        let mut credentials = Vec::new();
        for entry in control {
            let outcome = match take(space, &entry) {
                Take::Refuse => None,
                Take::Offer => Some(space.ingest_deferring(entry.clone(), &mut credentials)),
            };
            tally(&mut report, &mut next, entry, outcome);
        }
        if !credentials.is_empty() {
            space.insert_credentials(credentials);
        }
        for entry in rest {
            let outcome = match take(space, &entry) {
                Take::Refuse => None,
                Take::Offer => Some(space.ingest(entry.clone())),
            };
            tally(&mut report, &mut next, entry, outcome);
        }
        if next.is_empty() || report.new == before {
            report.deferred = next.len();
            return (report, next);
        }
        pending = next;
    }
}

/// Counts what one entry of a pass came to (`None`: refused before ingesting); an entry
/// that may go in once more is known (its admission, the entry before it) goes to `next`.
fn tally(
    report: &mut BatchReport,
    next: &mut Vec<FeedEntry>,
    entry: FeedEntry,
    outcome: Option<Result<Ingested, IngestError>>,
) {
    match outcome {
        None => report.refused += 1,
        Some(Ok(Ingested::Duplicate)) => report.duplicate += 1,
        Some(Ok(_)) => report.new += 1,
        Some(Err(IngestError::NotAdmitted { .. }) | Err(IngestError::Feed(FeedError::Gap { .. }))) => next.push(entry),
        Some(Err(_)) => report.refused += 1,
    }
}

/// How many entries of `feed` a replica holds at most once it took them from a heard device
/// (SPEC.md §9.2.2 rule 6): none of a data feed, nor of a control feed that was not its
/// identity's when a removal of that identity was issued (the removal had seen its admission);
/// all of a current member's admitted feed; and of a removed member's control feed, the
/// entries up to the last credential of the member's that a removal had seen, plus
/// `HEARD_ENTRIES_MAX`. Credentials the member issued after its removal, or forged to look
/// concurrent, therefore cost every replica at most that many entries per feed.
pub fn heard_limit(space: &Space, feed: &PublicKey) -> u64 {
    let m = space.membership();
    let Some(admission) = m.carrier(feed).filter(|a| a.designation == Designation::Control) else {
        return 0;
    };
    let removed_device = m.feed(feed).is_some_and(|a| m.feed_removed(&a));
    if active(Mutant::IngestRemovedUnbounded)
        || (m.feed(feed).is_some() && m.is_member(&admission.identity) && !removed_device)
    {
        return u64::MAX;
    }
    if removed_device {
        // A removed device's credentials after its removal are void (§4.4 step 7): take what
        // a removal of it had seen, and a bounded margin, as for a removed member.
        let seen = |c: &Credential| m.seen_by_device_removal(&admission, &c.id());
        return space.feed(feed).map_or(0, |f| seen_prefix_by(f, seen)) + HEARD_ENTRIES_MAX;
    }
    if !m.seen_by_removal(&admission.identity, &admission.credential) {
        return 0;
    }
    let seen = space.feed(feed).map_or(0, |f| seen_prefix(m, f, &admission.identity));
    seen + HEARD_ENTRIES_MAX
}

/// The length of the prefix of `feed` up to the last entry carrying a credential of
/// `identity`'s that a removal of it had seen.
fn seen_prefix(m: &crate::membership::Membership, feed: &Feed, identity: &PublicKey) -> u64 {
    seen_prefix_by(feed, |c| c.issuer() == *identity && m.seen_by_removal(identity, &c.id()))
}

/// The length of the prefix of `feed` up to the last entry carrying a credential `seen` holds
/// for.
fn seen_prefix_by(feed: &Feed, seen: impl Fn(&Credential) -> bool) -> u64 {
    let carries = |e: &FeedEntry| Credential::from_bytes(&e.body.payload).is_ok_and(|c| seen(&c));
    let prefix = feed.entries().iter().rposition(carries).map_or(0, |i| i as u64 + 1);
    assert!(prefix <= feed.len());
    prefix
}

/// Is the device with this Noise key a current member's device in this space, not one its
/// identity removed (SPEC.md §9.2.2)?
/// A replica joined through a proof of admission also links with its host's devices until its
/// own grant connects (SPEC.md §7.7.3): the host is the one member it knows to hold the rest.
pub fn is_member_device(space: &Space, remote: &NoiseKey) -> bool {
    let m = space.membership();
    space.is_provisional_device(remote)
        || m.feeds().any(|(_, a)| a.noise_key == *remote && m.is_member(&a.identity) && !m.feed_removed(a))
}

/// The device keys of current members that were removed once (so they may have stopped
/// dialling, SPEC.md §9.1.1, removed devices): one pass over the feed admissions.
pub fn readmitted_devices(space: &Space) -> BTreeSet<PublicKey> {
    let m = space.membership();
    m.feeds().filter(|(_, a)| m.is_member(&a.identity) && m.was_removed(&a.identity)).map(|(_, a)| a.device).collect()
}

/// Is the device with this Noise key no current member's device, yet the device of a control
/// feed we accept entries of (`Membership::carrier`): a removed member's device, or one whose
/// admission was voided? It may hold credentials issued concurrently with its removal that
/// every member needs (SPEC.md §9.2.2 rule 6), so we pull its control feeds, and only them.
pub fn is_heard_device(space: &Space, remote: &NoiseKey) -> bool {
    !is_member_device(space, remote) && space.membership().control_carriers().any(|(_, a)| a.noise_key == *remote)
}

/// What to send a heard device (`is_heard_device`) that announced `theirs` (a `Have`, or a
/// `HavePage` whose range starts after `after`): `HavePage`s whose ranges hold, of the feeds it
/// listed, exactly the control feeds we accept and hold shorter than it does, each page
/// listing our positions in them. Its ordinary answer (`missing_in` over each range) is then
/// exactly the entries of those feeds that we lack, and the pages tell it nothing but our
/// positions in feeds it holds further than we do. Empty when we lack nothing there.
pub fn pull_pages(space: &Space, theirs: &[FeedPosition], after: Option<&PublicKey>) -> Vec<SwarmMessage> {
    let m = space.membership();
    let ours = |feed: &PublicKey| space.feed(feed).map_or(0, |f| f.len());
    let wanted = |p: &FeedPosition| {
        ours(&p.feed) < p.length
            && m.carrier(&p.feed).is_some_and(|a| a.designation == Designation::Control)
            && ours(&p.feed) < heard_limit(space, &p.feed)
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < theirs.len() {
        if !wanted(&theirs[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < theirs.len() && wanted(&theirs[i]) && i - start < HAVE_FEEDS_MAX {
            i += 1;
        }
        let run = &theirs[start..i];
        let from = if start == 0 { after.copied() } else { Some(theirs[start - 1].feed) };
        let through = run.last().map(|p| p.feed);
        let feeds: Vec<FeedPosition> = run
            .iter()
            .filter(|p| ours(&p.feed) > 0)
            .map(|p| FeedPosition { feed: p.feed, length: ours(&p.feed) })
            .collect();
        out.push(SwarmMessage::HavePage { space: space.key(), after: from, through, feeds });
    }
    out
}
