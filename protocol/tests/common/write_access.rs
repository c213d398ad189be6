//! Write access after revocation: a reader's entries refused, a removed editor's judged by the
//! removal's data frontier, the same on every replica.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use spaces_protocol::codec::Canonical;
use spaces_protocol::credential::{FeedPosition, Role};
use spaces_protocol::feed::FeedEntry;
use spaces_protocol::item::{ItemId, Items, Mutation, Op, Value};
use spaces_protocol::space::{Space, WriteRejection, WriteVerdict};

use super::items::item_id;
use super::{Check, Dag, Interleaving, arb_interleaving, chance, heads_of, rng};

/// (d) What a case of reader writes and a removal with a data frontier looks like.
#[derive(Debug, Clone)]
pub struct RevocationCase {
    pub seed: u64,
    /// Entries of the removed editor's data feed.
    pub writes: usize,
    /// Entries `seq < split` name a causal point before the removal, the rest one after it.
    pub split: Index,
    /// The removal's recorded length of the editor's data feed.
    pub frontier: Index,
    /// Demote to READER instead of removing.
    pub to_reader: bool,
    pub reader_writes: usize,
    /// Per replica: when the removal arrives among the entries, and how the feeds interleave.
    pub replicas: Vec<(Index, Interleaving, bool)>,
}

pub fn arb_revocation_case() -> impl Strategy<Value = RevocationCase> {
    (
        any::<u64>(),
        1usize..9,
        any::<Index>(),
        any::<Index>(),
        any::<bool>(),
        1usize..4,
        vec((any::<Index>(), arb_interleaving(), any::<bool>()), 2..5),
    )
        .prop_map(|(seed, writes, split, frontier, to_reader, reader_writes, replicas)| RevocationCase {
            seed,
            writes,
            split,
            frontier,
            to_reader,
            reader_writes,
            replicas,
        })
}

/// A reader's entries are refused everywhere; a removed editor's entries are judged by the
/// removal's frontier and by whether their causal point includes the removal, the same way
/// on every replica whatever the arrival order, and items show exactly the applied ones.
pub fn check_write_access(case: &RevocationCase) -> Check {
    let mut rng = rng(case.seed);
    let mut dag = Dag::new(&mut rng);
    let owner = dag.fixture.owner.clone();
    let editor = dag.admit(&mut rng, &owner, Role::Editor, heads_of(&dag.creds));
    let reader_parents = if chance(&mut rng, 50) { heads_of(&dag.creds) } else { vec![dag.fixture.tip()] };
    let reader = dag.admit(&mut rng, &owner, Role::Reader, reader_parents);
    let before = heads_of(&dag.creds);
    let n = case.writes;
    let split = case.split.index(n + 1);
    let length = case.frontier.index(n + 1) as u64;
    let role = if case.to_reader { Role::Reader } else { Role::Removed };
    let frontier = vec![FeedPosition { feed: editor.data.public(), length }];
    let removal = dag.fixture.grant_with_frontier(&owner, editor.key(), role, before.clone(), frontier);
    let after = vec![removal.id()];

    let op = |tag: u8, seq: u64| {
        vec![
            Op::Create {
                item: ItemId([tag, seq as u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
                type_name: "t".into(),
            },
            Op::Set { item: item_id(9), field: "last".into(), value: Value::Int(seq as i64) },
        ]
    };
    let mut editor_feed: Vec<FeedEntry> = Vec::new();
    let mut expected = Vec::new();
    let mut items = Items::default();
    for seq in 0..n as u64 {
        let sees_removal = seq >= split as u64;
        let control = if sees_removal { after.clone() } else { before.clone() };
        let prev = editor_feed.last().map(FeedEntry::hash);
        let entry = editor.data_entry(seq, prev, control, 10 + seq, op(1, seq));
        let verdict = if sees_removal {
            WriteVerdict::Rejected(WriteRejection::NoWriteAccess)
        } else if seq < length {
            items.apply(editor.data.public(), seq, &Mutation::from_bytes(&entry.body.payload).expect("valid"));
            WriteVerdict::Applied
        } else {
            WriteVerdict::Rejected(WriteRejection::Revoked)
        };
        expected.push(verdict);
        editor_feed.push(entry);
    }
    let mut reader_feed: Vec<FeedEntry> = Vec::new();
    for seq in 0..case.reader_writes as u64 {
        let control = if seq.is_multiple_of(2) { before.clone() } else { after.clone() };
        let prev = reader_feed.last().map(FeedEntry::hash);
        reader_feed.push(reader.data_entry(seq, prev, control, 1 + seq, op(2, seq)));
    }

    let space = dag.fixture.space();
    let feeds = [editor_feed, reader_feed];
    for (i, (at, interleaving, batch)) in case.replicas.iter().enumerate() {
        let mut replica = Space::new(space);
        if *batch {
            for r in replica.insert_credentials(dag.creds.clone()) {
                prop_assert!(r.is_ok());
            }
        } else {
            for c in &dag.creds {
                prop_assert!(replica.insert_credential(c.clone()).is_ok());
            }
        }
        let stream = interleaving.order(&feeds);
        let at = at.index(stream.len() + 1);
        for (j, entry) in stream.into_iter().enumerate() {
            if j == at {
                prop_assert!(replica.insert_credential(removal.clone()).is_ok());
            }
            let r = replica.ingest(entry);
            prop_assert!(r.is_ok(), "replica {}: {:?}", i, r);
        }
        if replica.membership().credential(&removal.id()).is_none() {
            prop_assert!(replica.insert_credential(removal.clone()).is_ok());
        }
        prop_assert_eq!(replica.membership().role(&editor.key()), Some(role));
        for (seq, want) in expected.iter().enumerate() {
            let got = replica.write_verdict(&editor.data.public(), seq as u64);
            prop_assert_eq!(
                got.as_ref(),
                Some(want),
                "replica {}: editor entry {} (split {}, frontier {})",
                i,
                seq,
                split,
                length
            );
        }
        for seq in 0..case.reader_writes as u64 {
            let got = replica.write_verdict(&reader.data.public(), seq);
            prop_assert_eq!(got, Some(WriteVerdict::Rejected(WriteRejection::NoWriteAccess)), "replica {}: reader", i);
        }
        prop_assert_eq!(replica.items(), items.list(), "replica {}: items", i);
    }
    Ok(())
}
