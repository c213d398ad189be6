//! Forks: a second signed entry at a taken sequence number is refused with evidence.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use spaces_protocol::feed::{EntryHash, Feed, FeedEntry, FeedError};
use spaces_protocol::fixture::SpaceFixture;
use spaces_protocol::hash::Digest;
use spaces_protocol::item::{ItemId, Op};
use spaces_protocol::keys::Keypair;
use spaces_protocol::space::{IngestError, Ingested, Space, WriteVerdict};

use super::{Check, rng};

#[derive(Debug, Clone)]
pub struct ForkCase {
    pub seed: u64,
    pub payloads: Vec<Vec<u8>>,
    pub at: Index,
    pub forged: Vec<u8>,
    /// Link the forged entry to the true predecessor (else to a made-up one).
    pub true_prev: bool,
}

pub fn arb_fork_case() -> impl Strategy<Value = ForkCase> {
    (any::<u64>(), vec(vec(any::<u8>(), 0..40), 1..16), any::<Index>(), vec(any::<u8>(), 0..40), any::<bool>())
        .prop_map(|(seed, payloads, at, forged, true_prev)| ForkCase { seed, payloads, at, forged, true_prev })
}

/// (e) A second validly signed entry at a taken sequence number is a fork: refused with
/// verifiable evidence, the feed unchanged, and `Space::ingest` keeps the evidence and cuts the
/// feed at the fork.
pub fn check_fork_detected(case: &ForkCase) -> Check {
    let mut rng = rng(case.seed);
    let n = case.payloads.len();
    let s = case.at.index(n);
    let prev_of = |entries: &[FeedEntry], s: usize| {
        if s == 0 {
            None
        } else if case.true_prev {
            Some(entries[s - 1].hash())
        } else {
            Some(EntryHash(Digest([0x5a; 32])))
        }
    };

    // A bare feed.
    let key = Keypair::generate(&mut rng);
    let mut feed = Feed::new(key.public());
    for p in &case.payloads {
        feed.append_own(&key, p.clone());
    }
    let mut payload = case.forged.clone();
    if payload == case.payloads[s] {
        payload.push(1);
    }
    let forged = FeedEntry::sign(&key, s as u64, prev_of(feed.entries(), s), payload);
    let (len, head, entries) = (feed.len(), feed.head(), feed.entries().to_vec());
    match feed.append(forged.clone()) {
        Err(FeedError::Fork(e)) => {
            prop_assert!(e.verify());
            prop_assert_eq!(&e.first, &entries[s]);
            prop_assert_eq!(&e.second, &forged);
        }
        other => return Err(TestCaseError::fail(format!("feed: expected a fork, got {other:?}"))),
    }
    prop_assert_eq!((feed.len(), feed.head()), (len, head));
    prop_assert_eq!(feed.entries(), &entries[..]);

    // The same through a space, on an admitted data feed carrying real mutations.
    let f = SpaceFixture::new(&mut rng);
    let mut space = Space::new(f.space());
    space.insert_credentials(f.genesis.clone());
    let control = vec![f.tip()];
    let mut entries: Vec<FeedEntry> = Vec::new();
    for (seq, p) in case.payloads.iter().enumerate() {
        let prev = entries.last().map(FeedEntry::hash);
        let ops = vec![Op::Create { item: ItemId([seq as u8; 16]), type_name: hex(p) }];
        let e = f.owner.data_entry(seq as u64, prev, control.clone(), seq as u64 + 1, ops);
        prop_assert_eq!(space.ingest(e.clone()), Ok(Ingested::Data(WriteVerdict::Applied)));
        entries.push(e);
    }
    let ops = vec![Op::Create { item: ItemId([s as u8; 16]), type_name: format!("forged {}", hex(&case.forged)) }];
    let forged = f.owner.data_entry(s as u64, prev_of(&entries, s), control, 99, ops);
    let data = f.owner.data.public();
    match space.ingest(forged.clone()) {
        Err(IngestError::Feed(FeedError::Fork(e))) => {
            prop_assert!(e.verify());
            prop_assert_eq!(space.forks().collect::<Vec<_>>(), vec![&*e]);
        }
        other => return Err(TestCaseError::fail(format!("space: expected a fork, got {other:?}"))),
    }
    // The feed is cut at the fork (SPEC §5.6): the space equals one that never held the entries
    // from the fork on, and nothing at or past it is taken again.
    let mut reference = Space::new(f.space());
    reference.insert_credentials(f.genesis.clone());
    for e in &entries[..s] {
        prop_assert!(reference.ingest(e.clone()).is_ok());
    }
    let shown = |sp: &Space| (sp.feed(&data).map(Feed::len), sp.feed(&data).and_then(Feed::head), sp.items());
    prop_assert_eq!(shown(&space), shown(&reference));
    prop_assert_eq!(space.ingest(entries[s].clone()), Err(IngestError::Forked { feed: data, at: s as u64 }));
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
