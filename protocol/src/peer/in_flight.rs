//! Answers to summaries still in flight to one remote device, for one space (SPEC.md §9.3.3
//! rule 3).
//!
//! A summary is answered with the entries it lacks, up to a batch. The link is reliable and
//! ordered, so a summary that still lacks what an earlier answer carried was sent before that
//! answer arrived, or its sender could not take it yet, or it lies. Answering it in full again
//! would let any member, a reader included, make every replica upload a batch (`BATCH_SIZE_MAX`,
//! 512 KiB) per hundred-byte `Have`: the simulator's summary flood found that (hostile seed 10,
//! R3). So each feed answered has a mark (how far the answer carried it, when, and a wait), and
//! a summary below the mark gets nothing of the feed until the wait ran out (`ANSWER_RESEND_MS`,
//! doubling with each such resend up to `ANSWER_RESEND_MAX_MS`); progress past the mark goes at
//! once and resets the wait.

use std::collections::BTreeMap;

use super::{ANSWER_RESEND_MAX_MS, ANSWER_RESEND_MS};
use crate::credential::FeedPosition;
use crate::feed::FeedEntry;
use crate::keys::PublicKey;
use crate::time::Timestamp;

/// One feed's answer in flight: the position it carried the feed to, when it went, and how
/// long it holds back the next answer of the feed.
#[derive(Debug, Clone, Copy)]
struct Mark {
    reached: u64,
    at: Timestamp,
    wait_ms: u64,
}

impl Mark {
    fn holds_back(&self, now: Timestamp) -> bool {
        // A clock that went back does not hold an answer back for the time it went.
        self.at <= now && now.as_millis() < self.at.as_millis().saturating_add(self.wait_ms)
    }
}

/// Per feed, its mark; at most one per feed of the space, so bounded by what we hold.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    feeds: BTreeMap<PublicKey, Mark>,
}

impl InFlight {
    /// No mark here holds anything back any more, nor would after doubling: the value can go.
    pub(super) fn is_spent(&self, now: Timestamp) -> bool {
        let old = |m: &Mark| m.at.as_millis().saturating_add(ANSWER_RESEND_MAX_MS) <= now.as_millis();
        self.feeds.values().all(old)
    }

    /// Of `entries` (what a summary showing `theirs` lacks), those to send now; marks them.
    /// A feed goes if the summary shows it at its mark or beyond (what goes is new to the
    /// remote: progress, which resets the wait), or once the mark's wait ran out; a summary
    /// showing it below the mark within the wait gets nothing of it. A resend after the wait
    /// ran out doubles it, up to `ANSWER_RESEND_MAX_MS`. Marks outlive acknowledgements: a
    /// remote that shows what it took, then claims to hold nothing again, gets nothing more
    /// for it (the summary flood alternates the two).
    pub(super) fn answer(
        &mut self,
        theirs: &[FeedPosition],
        mut entries: Vec<FeedEntry>,
        now: Timestamp,
    ) -> Vec<FeedEntry> {
        let held = |feed: &PublicKey| theirs.binary_search_by(|p| p.feed.cmp(feed)).map_or(0, |i| theirs[i].length);
        if crate::mutants::active(crate::mutants::Mutant::AnswerEverySummary) {
            return entries;
        }
        let goes = |m: &Mark, feed: &PublicKey| held(feed) >= m.reached || !m.holds_back(now);
        entries.retain(|e| self.feeds.get(&e.body.feed).is_none_or(|m| goes(m, &e.body.feed)));
        for e in &entries {
            let (feed, reached) = (e.body.feed, e.body.seq.saturating_add(1));
            let fresh = Mark { reached, at: now, wait_ms: ANSWER_RESEND_MS };
            let mark = self.feeds.entry(feed).or_insert(fresh);
            if mark.at != now {
                let progress = held(&feed) >= mark.reached;
                let wait_ms = if progress { ANSWER_RESEND_MS } else { mark.wait_ms.saturating_mul(2) };
                *mark = Mark { reached: mark.reached, at: now, wait_ms: wait_ms.min(ANSWER_RESEND_MAX_MS) };
            }
            mark.reached = mark.reached.max(reached);
        }
        entries
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::Client;
    use crate::item::{ItemId, Op};
    use crate::replication;

    #[test]
    fn a_feed_answered_is_answered_again_only_once_taken_or_after_the_interval() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let t0 = Timestamp::from_millis(1_700_000_000_000);
        let mut c = Client::create_identity(&mut rng, t0);
        let space = c.create_space(&mut rng, t0);
        let write = |c: &mut Client, n: u8| {
            let op = Op::Create { item: ItemId([n; 16]), type_name: "n".into() };
            c.write(&space, vec![op]).unwrap();
        };
        write(&mut c, 1);
        let all = replication::missing(c.space(&space).unwrap(), &[]);
        assert!(!all.is_empty());
        let at = |ms: u64| Timestamp::from_millis(t0.as_millis() + ms);

        let mut f = InFlight::default();
        assert_eq!(f.answer(&[], all.clone(), at(0)), all, "the first summary gets everything");
        assert!(f.answer(&[], all.clone(), at(1)).is_empty(), "the same claim again gets nothing");
        assert!(f.answer(&[], all.clone(), at(ANSWER_RESEND_MS - 1)).is_empty(), "nor within the interval");

        // The remote took the answer and says so: what it lacks since goes at once.
        let taken = replication::have(c.space(&space).unwrap());
        write(&mut c, 2);
        let new = replication::missing(c.space(&space).unwrap(), &taken);
        assert_eq!(new.len(), 1);
        assert_eq!(
            f.answer(&taken, new.clone(), at(ANSWER_RESEND_MS - 1)),
            new,
            "a summary that took it gets the next"
        );

        // A remote that dropped what it got sees it again one interval later.
        let all = replication::missing(c.space(&space).unwrap(), &[]);
        let later = at(2 * ANSWER_RESEND_MS);
        assert_eq!(f.answer(&[], all.clone(), later), all, "after the interval, everything again");
        // Not taken again: the next resend waits twice as long.
        let data = new[0].body.feed;
        let carries = |sent: &[FeedEntry], feed| sent.iter().any(|e| e.body.feed == feed);
        let once = f.answer(&[], all.clone(), later.saturating_add_millis(ANSWER_RESEND_MS));
        assert!(once.is_empty(), "the wait doubled");
        let twice = f.answer(&[], all.clone(), later.saturating_add_millis(2 * ANSWER_RESEND_MS));
        assert!(carries(&twice, data), "and then it goes again");
        // A summary that shows what it took, then claims nothing again: nothing more.
        let took = replication::have(c.space(&space).unwrap());
        let at_twice = later.saturating_add_millis(2 * ANSWER_RESEND_MS + 1);
        assert!(f.answer(&took, Vec::new(), at_twice).is_empty());
        assert!(f.answer(&[], all.clone(), at_twice).is_empty(), "an acknowledgement does not reset the claim");
        // A clock that went back does not hold an answer back for the time it went.
        let mut g = InFlight::default();
        g.answer(&[], all.clone(), later);
        assert_eq!(g.answer(&[], all.clone(), at(0)), all);
    }
}
