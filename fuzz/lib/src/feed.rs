//! Feed verification and replication ingest (SPEC §5, §9.3).
//!
//! The raw bytes go through the `FeedEntry` and `Mutation` decoders (round trip). Then, read as
//! an `arbitrary` script, they build signed entries for the owner's and a member's feeds of one
//! space: correctly linked entries with item ops or arbitrary payloads, the member's admission
//! carried on the owner's control feed, forks at taken positions, entries with a chosen
//! sequence number and link, and entries signed by the wrong key. Invariants: every built
//! entry round-trips; `Space::ingest` and `Feed::append` leave state unchanged on error (fork
//! evidence aside); and when no two entries share a position, `replication::ingest_batch` of
//! the entries in the generated order and in reverse gives the same space (feeds, items,
//! members, heads): state is a function of the set.

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use spaces_protocol::credential::{Credential, Role};
use spaces_protocol::feed::{EntryHash, Feed, FeedEntry, FeedError};
use spaces_protocol::fixture::{Actor, SpaceFixture};
use spaces_protocol::item::{ItemId, Mutation, Op, Value};
use spaces_protocol::keys::Keypair;
use spaces_protocol::space::IngestError;
use spaces_protocol::{Canonical, Space, replication};

use crate::support::{rng, round_trip};

/// Entries one script builds at most: each costs a signature and several verifications.
const ENTRIES_MAX: usize = 24;

struct World {
    space: SpaceFixture,
    member: Actor,
    /// The member's grant and feed admissions, for the owner's control feed.
    admission: Vec<Credential>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut rng = rng(5);
        let space = SpaceFixture::new(&mut rng);
        let owner = space.owner.clone();
        let (member, admission) = space.admit(&mut rng, &owner, Role::Editor, vec![space.tip()]);
        World { space, member, admission }
    })
}

#[derive(Debug, Arbitrary)]
enum Payload {
    Ops { lamport: u8, ops: Vec<(u8, u8, Option<i8>)> },
    Admission { index: u8 },
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Recipe {
    /// The next entry of a feed, correctly linked.
    Next { feed: u8, payload: Payload },
    /// Another entry at a taken position: a fork.
    Fork { feed: u8, seq: u8, payload: Payload },
    /// Any position and link.
    Garbled { feed: u8, seq: u8, prev: Option<[u8; 32]>, payload: Payload },
    /// The next position of a feed, signed by another key.
    Forged { feed: u8, payload: Payload },
}

pub fn run(data: &[u8]) {
    round_trip::<FeedEntry>(data);
    round_trip::<Mutation>(data);
    let mut u = Unstructured::new(data);
    let Ok(recipes) = Vec::<Recipe>::arbitrary(&mut u) else { return };
    let world = world();
    let entries = build(world, &recipes);
    for e in &entries {
        round_trip::<FeedEntry>(&e.to_bytes()).expect("built entries are canonical");
    }
    check_feeds(&entries);
    check_ingest(world, &entries);
    let positions: std::collections::BTreeSet<_> = entries.iter().map(|e| (e.body.feed, e.body.seq)).collect();
    if positions.len() == entries.len() {
        let forward = batch(world, entries.clone());
        let backward = batch(world, entries.into_iter().rev().collect());
        assert_eq!(view(&forward), view(&backward), "ingest order changed the space");
    }
}

fn keys(world: &World) -> [&Keypair; 4] {
    let (owner, member) = (&world.space.owner, &world.member);
    [&owner.control, &owner.data, &member.control, &member.data]
}

fn build(world: &World, recipes: &[Recipe]) -> Vec<FeedEntry> {
    let keys = keys(world);
    let mut chains: [Vec<FeedEntry>; 4] = Default::default();
    let mut all = Vec::new();
    for recipe in recipes.iter().take(ENTRIES_MAX) {
        let entry = match recipe {
            Recipe::Next { feed, payload } => {
                let f = usize::from(*feed) % 4;
                let e = sign(keys[f], &chains[f], chains[f].len() as u64, None, payload, world);
                chains[f].push(e.clone());
                e
            }
            Recipe::Fork { feed, seq, payload } => {
                let f = usize::from(*feed) % 4;
                let seq = u64::from(*seq) % (chains[f].len() as u64 + 1);
                sign(keys[f], &chains[f], seq, None, payload, world)
            }
            Recipe::Garbled { feed, seq, prev, payload } => {
                let f = usize::from(*feed) % 4;
                let prev = prev.map(|p| EntryHash(spaces_protocol::hash::Digest(p)));
                sign(keys[f], &chains[f], u64::from(*seq), prev, payload, world)
            }
            Recipe::Forged { feed, payload } => {
                let f = usize::from(*feed) % 4;
                let mut e = sign(keys[(f + 1) % 4], &chains[f], chains[f].len() as u64, None, payload, world);
                e.body.feed = keys[f].public();
                e
            }
        };
        all.push(entry);
    }
    all
}

/// Signs an entry at `seq`; its link is `prev` if given, else the chain's entry before it, else
/// a hash nobody has (an entry has a link exactly when `seq > 0`).
fn sign(
    key: &Keypair,
    chain: &[FeedEntry],
    seq: u64,
    prev: Option<EntryHash>,
    payload: &Payload,
    world: &World,
) -> FeedEntry {
    let linked = || seq.checked_sub(1).and_then(|s| chain.get(s as usize)).map(FeedEntry::hash);
    let unknown = EntryHash(spaces_protocol::hash::Digest([0xee; 32]));
    let prev = (seq > 0).then(|| prev.or_else(linked).unwrap_or(unknown));
    FeedEntry::sign(key, seq, prev, bytes_of(payload, world))
}

fn bytes_of(payload: &Payload, world: &World) -> Vec<u8> {
    match payload {
        Payload::Ops { lamport, ops } => {
            let ops: Vec<Op> = ops.iter().take(8).map(|&(item, field, value)| op(item, field, value)).collect();
            let control = vec![world.space.tip()];
            let m = Mutation { version: 1, control, lamport: u64::from(*lamport), ops };
            m.to_bytes()
        }
        Payload::Admission { index } => world.admission[usize::from(*index) % world.admission.len()].to_bytes(),
        Payload::Raw(bytes) => bytes.clone(),
    }
}

fn op(item: u8, field: u8, value: Option<i8>) -> Op {
    let item = ItemId([item % 4; 16]);
    match (field % 3, value) {
        (0, _) => Op::Create { item, type_name: "note".into() },
        (_, Some(v)) => Op::Set { item, field: format!("f{}", field % 3), value: Value::Int(i64::from(v)) },
        (_, None) => Op::Delete { item },
    }
}

fn space(world: &World) -> Space {
    let mut space = Space::new(world.space.space());
    let _ = space.insert_credentials(world.space.genesis.clone());
    space
}

/// What a replica shows: compared between ingest orders, and before and after a refusal.
fn view(space: &Space) -> impl PartialEq + core::fmt::Debug + use<> {
    let feeds: Vec<_> = space.feeds().map(|f| (f.key(), f.len(), f.head())).collect();
    (space.summary(), space.items(), space.members(), feeds)
}

fn check_ingest(world: &World, entries: &[FeedEntry]) {
    let mut space = space(world);
    for e in entries {
        let before = view(&space);
        let forks = space.forks().count();
        match space.ingest(e.clone()) {
            // A proven fork cuts the feed there (SPEC §5.6): it changes the space, by rule.
            Err(IngestError::Feed(FeedError::Fork(evidence))) => {
                let (feed, at) = (evidence.first.body.feed, evidence.first.body.seq);
                assert!(space.fork_at(&feed).is_some_and(|cut| cut <= at), "a fork cuts its feed");
                assert!(space.feed(&feed).is_none_or(|f| f.len() <= at));
                assert!(space.forks().count() <= forks + 1);
            }
            Err(err) => assert_eq!(view(&space), before, "a refused entry changed the space ({err:?})"),
            Ok(_) => {}
        }
    }
}

fn check_feeds(entries: &[FeedEntry]) {
    let mut feeds: std::collections::BTreeMap<_, Feed> = Default::default();
    for e in entries {
        let feed = feeds.entry(e.body.feed).or_insert_with(|| Feed::new(e.body.feed));
        let (len, head) = (feed.len(), feed.head());
        if feed.append(e.clone()).is_err() {
            assert_eq!((feed.len(), feed.head()), (len, head), "a refused append changed the feed");
        }
        assert!(feed.entries().iter().enumerate().all(|(i, x)| x.body.seq == i as u64));
    }
}

fn batch(world: &World, entries: Vec<FeedEntry>) -> Space {
    let mut space = space(world);
    let _ = replication::ingest_batch(&mut space, entries);
    space
}
