//! Whole spaces: credentials and data entries together, in any arrival order, make the same
//! space as the in-order replica.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use spaces_protocol::credential::Credential;
use spaces_protocol::feed::{FeedEntry, FeedError};
use spaces_protocol::space::{IngestError, Space};

use super::items::op_of;
use super::{Check, Dag, Delivery, OpSpec, arb_delivery, below, rng};

/// (seed, random steps, arrival orders of credentials and entries together).
pub fn arb_space_case() -> impl Strategy<Value = (u64, usize, Vec<Delivery>)> {
    (any::<u64>(), 2usize..12, vec(arb_delivery(), 2..4))
}

/// A message a replica receives: a credential, or an entry of some data feed.
#[derive(Debug, Clone)]
pub enum Message {
    Credential(Credential),
    Entry(FeedEntry),
}

/// Every actor of a random DAG writes a few entries at random causal points (some before its
/// admission, some concurrent with its removal, some naming credentials that never arrive).
pub fn random_entries(dag: &Dag, seed: u64) -> Vec<FeedEntry> {
    let mut rng = rng(seed ^ 0x5eed);
    let mut entries = Vec::new();
    for actor in &dag.actors {
        let mut prev = None;
        for seq in 0..below(&mut rng, 4) as u64 {
            let control = dag.parents(&mut rng);
            let ops = (0..1 + below(&mut rng, 3))
                .map(|_| match below(&mut rng, 3) {
                    0 => OpSpec::Create(below(&mut rng, 3) as u8, below(&mut rng, 2) as u8),
                    1 => OpSpec::Set(below(&mut rng, 3) as u8, below(&mut rng, 3) as u8, below(&mut rng, 6) as u8),
                    _ => OpSpec::Delete(below(&mut rng, 3) as u8),
                })
                .map(|spec| op_of(&spec))
                .collect();
            let entry = actor.data_entry(seq, prev, control, 1 + below(&mut rng, 6) as u64, ops);
            prev = Some(entry.hash());
            entries.push(entry);
        }
    }
    entries
}

/// Whole-space convergence: credentials and data entries interleaved in random orders (with
/// duplicates, single inserts and batches). Entries refused for now (feed not admitted yet, or
/// ahead of the feed) are offered again at the end, as a sync would. Every replica ends with
/// the same members, items and per-entry verdicts as one that got everything in order.
pub fn check_space_convergence(seed: u64, steps: usize, orders: &[Delivery]) -> Check {
    let dag = Dag::random(seed, steps);
    let entries = random_entries(&dag, seed);
    let space = dag.fixture.space();
    let mut reference = Space::new(space);
    reference.insert_credentials(dag.creds.clone());
    for e in &entries {
        let r = reference.ingest(e.clone());
        prop_assert!(r.is_ok() || matches!(r, Err(IngestError::NotAdmitted { .. })), "{:?}", r);
    }
    let messages: Vec<Message> =
        dag.creds.iter().cloned().map(Message::Credential).chain(entries.iter().cloned().map(Message::Entry)).collect();
    for (i, order) in orders.iter().enumerate() {
        let mut replica = Space::new(space);
        let mut later: Vec<FeedEntry> = Vec::new();
        let mut runs = order.runs.iter().copied().cycle();
        let order = order.order(&messages);
        let mut rest = &order[..];
        while !rest.is_empty() {
            let (batch, size) = runs.next().unwrap_or((false, 1));
            let (now, after) = rest.split_at((size as usize).min(rest.len()));
            rest = after;
            let mut creds = Vec::new();
            for m in now {
                match m {
                    Message::Credential(c) if batch => creds.push(c.clone()),
                    Message::Credential(c) => prop_assert!(replica.insert_credential(c.clone()).is_ok()),
                    Message::Entry(e) => match replica.ingest(e.clone()) {
                        Ok(_) => {}
                        Err(IngestError::NotAdmitted { .. }) | Err(IngestError::Feed(FeedError::Gap { .. })) => {
                            later.push(e.clone())
                        }
                        Err(other) => return Err(TestCaseError::fail(format!("replica {i}: {other:?}"))),
                    },
                }
            }
            for r in replica.insert_credentials(creds) {
                prop_assert!(r.is_ok());
            }
        }
        later.sort_by_key(|e| (e.body.feed, e.body.seq));
        for e in later {
            let r = replica.ingest(e);
            prop_assert!(r.is_ok() || matches!(r, Err(IngestError::NotAdmitted { .. })), "replica {}: {:?}", i, r);
        }
        prop_assert_eq!(replica.members(), reference.members(), "replica {}: members", i);
        for e in &entries {
            prop_assert_eq!(
                replica.write_verdict(&e.body.feed, e.body.seq),
                reference.write_verdict(&e.body.feed, e.body.seq),
                "replica {}: verdict of entry {} of {:?}",
                i,
                e.body.seq,
                e.body.feed
            );
        }
        prop_assert_eq!(replica.items(), reference.items(), "replica {}: items", i);
    }
    Ok(())
}
