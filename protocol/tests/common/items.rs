//! Items: conflicting writes by several editors, a last-writer-wins reference model, and
//! convergence of the items in any interleaving of the feeds.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use spaces_protocol::codec::Canonical;
use spaces_protocol::credential::Role;
use spaces_protocol::feed::FeedEntry;
use spaces_protocol::item::{Item, ItemId, Mutation, Op, Value};
use spaces_protocol::keys::PublicKey;
use spaces_protocol::space::{Ingested, Space, WriteVerdict};
use std::collections::BTreeMap;

use super::{Check, Dag, chance, heads_of, rng};

/// (seed, editors besides the owner, writes, interleavings).
pub fn arb_items_case() -> impl Strategy<Value = (u64, usize, Vec<WriteSpec>, Vec<Interleaving>)> {
    (any::<u64>(), 1usize..4, vec(arb_write(), 1..24), vec(arb_interleaving(), 2..5))
}

#[derive(Debug, Clone)]
pub enum OpSpec {
    Create(u8, u8),
    Set(u8, u8, u8),
    Delete(u8),
}

#[derive(Debug, Clone)]
pub struct WriteSpec {
    pub writer: Index,
    pub lamport: u64,
    pub control: Index,
    pub ops: Vec<OpSpec>,
}

pub fn arb_write() -> impl Strategy<Value = WriteSpec> {
    let op = prop_oneof![
        (0u8..4, 0u8..2).prop_map(|(i, t)| OpSpec::Create(i, t)),
        (0u8..4, 0u8..3, 0u8..6).prop_map(|(i, f, v)| OpSpec::Set(i, f, v)),
        (0u8..4).prop_map(OpSpec::Delete),
    ];
    (any::<Index>(), 1u64..8, any::<Index>(), vec(op, 1..4)).prop_map(|(writer, lamport, control, ops)| WriteSpec {
        writer,
        lamport,
        control,
        ops,
    })
}

pub(super) fn item_id(i: u8) -> ItemId {
    ItemId([i; 16])
}

pub(super) fn op_of(spec: &OpSpec) -> Op {
    let values = [
        Value::Null,
        Value::Bool(true),
        Value::Int(-3),
        Value::Int(7),
        Value::Text("x".into()),
        Value::Bytes(vec![1, 2]),
    ];
    match *spec {
        OpSpec::Create(i, t) => Op::Create { item: item_id(i), type_name: ["task", "note"][t as usize].into() },
        OpSpec::Set(i, f, v) => {
            Op::Set { item: item_id(i), field: ["a", "b", "c"][f as usize].into(), value: values[v as usize].clone() }
        }
        OpSpec::Delete(i) => Op::Delete { item: item_id(i) },
    }
}

/// Entry arrival for several feeds: each feed in order, feeds interleaved by `picks`,
/// `dup` re-delivers an entry the replica already has.
#[derive(Debug, Clone)]
pub struct Interleaving {
    pub picks: Vec<(Index, bool)>,
}

pub fn arb_interleaving() -> impl Strategy<Value = Interleaving> {
    vec((any::<Index>(), proptest::bool::weighted(0.2)), 0..64).prop_map(|picks| Interleaving { picks })
}

impl Interleaving {
    pub fn order(&self, feeds: &[Vec<FeedEntry>]) -> Vec<FeedEntry> {
        let mut next = vec![0usize; feeds.len()];
        let mut out = Vec::new();
        let mut picks = self.picks.iter();
        loop {
            let open: Vec<usize> = (0..feeds.len()).filter(|f| next[*f] < feeds[*f].len()).collect();
            if open.is_empty() {
                return out;
            }
            let (pick, dup) = picks.next().map_or((0, false), |(i, d)| (i.index(open.len()), *d));
            let f = open[pick];
            out.push(feeds[f][next[f]].clone());
            if dup {
                out.push(feeds[f][next[f] / 2].clone());
            }
            next[f] += 1;
        }
    }
}

/// A model of the items that `entries` (all valid) make: every register (an item's type,
/// its existence, each field) holds the write with the greatest (lamport, feed, seq, op index).
pub fn lww_model<'a>(entries: impl Iterator<Item = &'a FeedEntry>) -> Vec<Item> {
    type Stamp = (u64, PublicKey, u64, usize);
    let mut type_names: BTreeMap<ItemId, (Stamp, String)> = BTreeMap::new();
    let mut alive: BTreeMap<ItemId, (Stamp, bool)> = BTreeMap::new();
    let mut fields: BTreeMap<(ItemId, String), (Stamp, Value)> = BTreeMap::new();
    fn keep<K: Ord, V>(map: &mut BTreeMap<K, (Stamp, V)>, key: K, stamp: Stamp, value: V) {
        if map.get(&key).is_none_or(|(s, _)| stamp > *s) {
            map.insert(key, (stamp, value));
        }
    }
    for e in entries {
        let m = Mutation::from_bytes(&e.body.payload).expect("valid mutation");
        for (i, op) in m.ops.iter().enumerate() {
            let stamp = (m.lamport, e.body.feed, e.body.seq, i);
            match op {
                Op::Create { item, type_name } => {
                    keep(&mut type_names, *item, stamp, type_name.clone());
                    keep(&mut alive, *item, stamp, true);
                }
                Op::Set { item, field, value } => keep(&mut fields, (*item, field.clone()), stamp, value.clone()),
                Op::Delete { item } => keep(&mut alive, *item, stamp, false),
            }
        }
    }
    type_names
        .into_iter()
        .filter(|(id, _)| alive.get(id).is_some_and(|(_, a)| *a))
        .map(|(id, (_, type_name))| Item {
            id,
            type_name,
            fields: fields
                .iter()
                .filter(|((item, _), (_, v))| *item == id && *v != Value::Null)
                .map(|((_, f), (_, v))| (f.clone(), v.clone()))
                .collect(),
        })
        .collect()
}

/// (c) Several editors write conflicting ops on a few items; replicas that receive the same
/// entries in different interleavings (with duplicates) show the same items, those of the
/// last-writer-wins model.
pub fn check_item_convergence(seed: u64, editors: usize, writes: &[WriteSpec], orders: &[Interleaving]) -> Check {
    let mut rng = rng(seed);
    let mut dag = Dag::new(&mut rng);
    let owner = dag.fixture.owner.clone();
    // Writers, with the index in `creds` after which their feeds are admitted.
    let mut writers = vec![(owner.clone(), dag.creds.len() - 1)];
    for _ in 0..editors {
        let parents = if chance(&mut rng, 50) { heads_of(&dag.creds) } else { vec![dag.fixture.tip()] };
        let editor = dag.admit(&mut rng, &owner, Role::Editor, parents);
        writers.push((editor, dag.creds.len() - 1));
    }
    let mut feeds: Vec<Vec<FeedEntry>> = vec![Vec::new(); writers.len()];
    for spec in writes {
        let i = spec.writer.index(writers.len());
        let (writer, admitted) = &writers[i];
        // The causal point: the heads of a prefix that has the writer's admission.
        let end = admitted + 1 + spec.control.index(dag.creds.len() - admitted);
        let control = heads_of(&dag.creds[..end]);
        let feed = &mut feeds[i];
        let prev = feed.last().map(FeedEntry::hash);
        let ops = spec.ops.iter().map(op_of).collect();
        feed.push(writer.data_entry(feed.len() as u64, prev, control, spec.lamport, ops));
    }
    let model = lww_model(feeds.iter().flatten());
    let space = dag.fixture.space();
    let mut reference: Option<Vec<_>> = None;
    let in_feed_order = Interleaving { picks: Vec::new() };
    for (i, order) in std::iter::once(&in_feed_order).chain(orders).enumerate() {
        let mut replica = Space::new(space);
        for r in replica.insert_credentials(dag.creds.clone()) {
            prop_assert!(r.is_ok());
        }
        for entry in order.order(&feeds) {
            let r = replica.ingest(entry);
            prop_assert!(
                matches!(r, Ok(Ingested::Data(WriteVerdict::Applied)) | Ok(Ingested::Duplicate)),
                "replica {}: {:?}",
                i,
                r
            );
        }
        let items = replica.items();
        match &reference {
            None => {
                prop_assert_eq!(&items, &model, "items differ from the last-writer-wins model");
                reference = Some(items);
            }
            Some(first) => prop_assert_eq!(first, &items, "replica {} disagrees", i),
        }
    }
    Ok(())
}
