//! Replication between two devices through the real swarm path: a Noise XX `SwarmSession`
//! pair, every message sealed, wrapped in a `PeerFrame`, decoded and opened on the other
//! side, and `replication::{have, missing, ingest_batch}` answering each message the way
//! `Peer::swarm_message` does (Have → Entries → Have … until nothing is missing).
//!
//! - `items_100k`, `items_100k_batched`: a member catches up from empty on a space holding
//!   100,000 items (one mutation per item, or 100 items per mutation). Building the writer's
//!   space is setup; bytes on the wire per item are printed once.
//! - `many_spaces/{10,1000}`: two devices sharing 10 or 1,000 spaces, all in sync; one device
//!   writes one item and the other receives it. Heap bytes per space (a counting global
//!   allocator) are printed once.
//!
//! `cargo bench -p spaces-benches --bench replication`, then
//! `cargo run -p spaces-benches --bin bench-report` prints the ratios.

use std::alloc::System;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use spaces_protocol::credential::FeedPosition;
use spaces_protocol::feed::FeedEntry;
use spaces_protocol::item::{ItemId, Op, Value};
use spaces_protocol::peer::{PeerBody, PeerFrame};
use spaces_protocol::replication;
use spaces_protocol::swarm::{SwarmEvent, SwarmMessage, SwarmSession};
use spaces_protocol::{Canonical, Client, PublicKey, Role, Timestamp, codec};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const T0: u64 = 1_700_000_000_000;
const ITEMS: usize = 100_000;
const ITEMS_PER_MUTATION: usize = 100;

/// Heap bytes in use right now.
fn live_bytes() -> usize {
    let s = GLOBAL.stats();
    s.bytes_allocated - s.bytes_deallocated
}

/// Heap bytes `value` holds: what dropping it gives back.
fn heap_of<T>(value: T) -> usize {
    let before = live_bytes();
    drop(value);
    before - live_bytes()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    A,
    B,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// One device's end of the link: its client, its session, and what `Peer` keeps per link.
struct End {
    client: Client,
    session: SwarmSession,
    spaces: BTreeSet<PublicKey>,
    sent: BTreeMap<PublicKey, Vec<FeedPosition>>,
}

/// Two devices joined by one swarm connection, with every byte that crossed it.
struct Link {
    a: End,
    b: End,
    queue: VecDeque<(Side, Vec<u8>)>,
    bytes: usize,
    frames: usize,
    /// `Peer` answers a summary that shows it behind with its own summary, but only if that
    /// differs from the last one it sent (`send_have(.., false)`), so a device in sync never
    /// asks for a single new write: it waits for the next anti-entropy round. With this set
    /// the answer is forced, which is what the timings below measure.
    force_when_behind: bool,
}

impl Link {
    /// Runs the Noise XX handshake (A initiates) and the first exchange of summaries to
    /// completion.
    fn connect(a: Client, b: Client, rng: &mut ChaCha20Rng) -> Link {
        let (session, first) = SwarmSession::initiate(a.identity().noise_keypair(), rng).unwrap();
        let a = End { client: a, session, spaces: BTreeSet::new(), sent: BTreeMap::new() };
        let session = SwarmSession::respond(b.identity().noise_keypair(), rng).unwrap();
        let b = End { client: b, session, spaces: BTreeSet::new(), sent: BTreeMap::new() };
        let mut link = Link { a, b, queue: VecDeque::new(), bytes: 0, frames: 0, force_when_behind: true };
        link.transmit(Side::A, first);
        link.run();
        assert!(link.a.session.is_open() && link.b.session.is_open());
        link
    }

    fn end(&mut self, side: Side) -> &mut End {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    /// Wraps a swarm frame as `Peer` does and puts it on the wire.
    fn transmit(&mut self, from: Side, frame: Vec<u8>) {
        let wire = PeerFrame { version: codec::VERSION, body: PeerBody::Swarm(frame) }.to_bytes();
        self.bytes += wire.len();
        self.frames += 1;
        self.queue.push_back((from.other(), wire));
    }

    fn send(&mut self, from: Side, message: &SwarmMessage) {
        let frame = self.end(from).session.seal(message).unwrap();
        self.transmit(from, frame);
    }

    /// `Peer::send_have`: a summary, unless it repeats the last one sent (or `force`).
    fn send_have(&mut self, from: Side, space: PublicKey, force: bool) {
        let end = self.end(from);
        let feeds = replication::have(end.client.space(&space).unwrap());
        if !force && end.sent.get(&space) == Some(&feeds) {
            return;
        }
        end.sent.insert(space, feeds.clone());
        self.send(from, &SwarmMessage::Have { space, feeds });
    }

    /// Delivers frames until both sides are quiet.
    fn run(&mut self) {
        while let Some((to, wire)) = self.queue.pop_front() {
            let PeerFrame { body: PeerBody::Swarm(frame), .. } = PeerFrame::from_bytes(&wire).unwrap() else {
                panic!("a swarm frame")
            };
            match self.end(to).session.on_frame(&frame).unwrap() {
                SwarmEvent::Reply { frame, established } => {
                    self.transmit(to, frame);
                    if established.is_some() {
                        self.authorise(to);
                    }
                }
                SwarmEvent::Established { .. } => self.authorise(to),
                SwarmEvent::Message(m) => self.message(to, m),
            }
        }
    }

    /// `Peer::authorise`: the spaces the remote device is a member of, and a summary of each.
    fn authorise(&mut self, side: Side) {
        let end = self.end(side);
        let remote = end.session.remote().unwrap();
        let shared: BTreeSet<PublicKey> = end
            .client
            .spaces()
            .iter()
            .map(|s| s.key)
            .filter(|k| end.client.space(k).is_some_and(|sp| replication::is_member_device(sp, &remote)))
            .collect();
        end.spaces = shared.clone();
        for space in shared {
            self.send_have(side, space, true);
        }
    }

    /// `Peer::swarm_message`.
    fn message(&mut self, to: Side, m: SwarmMessage) {
        match m {
            SwarmMessage::Have { space, feeds } => {
                let end = self.end(to);
                assert!(end.spaces.contains(&space));
                let sp = end.client.space(&space).unwrap();
                let missing = replication::missing(sp, &feeds);
                let mine = replication::have(sp);
                let behind =
                    feeds.iter().any(|p| mine.iter().find(|q| q.feed == p.feed).is_none_or(|q| q.length < p.length));
                if !missing.is_empty() {
                    self.send(to, &SwarmMessage::Entries { space, entries: missing });
                }
                if behind {
                    let force = self.force_when_behind;
                    self.send_have(to, space, force);
                }
            }
            SwarmMessage::Entries { space, entries } => {
                let sp = self.end(to).client.space_mut(&space).unwrap();
                let report = replication::ingest_batch(sp, entries);
                assert_eq!((report.refused, report.deferred), (0, 0));
                if report.new > 0 {
                    self.send_have(to, space, false);
                }
            }
            SwarmMessage::Refused { .. } => panic!("both devices are members"),
            SwarmMessage::HavePage { .. } => panic!("the benchmarked spaces have far fewer than 4096 feeds"),
            SwarmMessage::Halo { .. } | SwarmMessage::HaloJoin { .. } => {
                panic!("the two devices are of two identities")
            }
            SwarmMessage::Summary { .. } | SwarmMessage::Forks { .. } | SwarmMessage::Credentials { .. } => {
                panic!("this exchange sends only Have")
            }
        }
    }

    /// What A does after a local write: tell B what it now holds (`Peer::space_changed`).
    fn changed(&mut self, side: Side, space: PublicKey) {
        self.send_have(side, space, false);
        self.run();
    }
}

/// Two devices; A creates `spaces` spaces and admits B to each directly (no invitation).
fn pair(spaces: usize, seed: u64) -> (Client, Client, Vec<PublicKey>, ChaCha20Rng) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let now = Timestamp::from_millis(T0);
    let mut a = Client::create_identity(&mut rng, now);
    let mut b = Client::create_identity(&mut rng, now);
    let keys = (0..spaces)
        .map(|_| {
            let space = a.create_space(&mut rng, now);
            let request = b.join_request(&mut rng);
            let credentials = a.admit(&space, &request, Role::Editor, None, now).unwrap();
            b.accept(&space, credentials).unwrap();
            space
        })
        .collect();
    (a, b, keys, rng)
}

fn item_ops(rng: &mut ChaCha20Rng, i: usize) -> [Op; 2] {
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    let item = ItemId(id);
    [
        Op::Create { item, type_name: "note".into() },
        Op::Set { item, field: "text".into(), value: Value::Text(format!("note {i}")) },
    ]
}

/// A writer holding `ITEMS` items in one space, `per_mutation` items per feed entry, and a
/// member that holds only the space's credentials.
fn writer_and_reader(per_mutation: usize, seed: u64) -> (Client, Client, PublicKey, ChaCha20Rng) {
    let (mut a, b, keys, mut rng) = pair(1, seed);
    let space = keys[0];
    for start in (0..ITEMS).step_by(per_mutation) {
        let ops = (start..ITEMS.min(start + per_mutation)).flat_map(|i| item_ops(&mut rng, i)).collect();
        a.write(&space, ops).unwrap();
    }
    (a, b, space, rng)
}

/// B catches up from empty; returns the link for its byte count (dropped outside timing).
fn catch_up(a: Client, b: Client, space: PublicKey, rng: &mut ChaCha20Rng) -> Link {
    let link = Link::connect(a, b, rng);
    let (ours, theirs) = (link.a.client.space(&space).unwrap(), link.b.client.space(&space).unwrap());
    assert_eq!(replication::have(ours), replication::have(theirs), "B caught up");
    link
}

fn items_100k(c: &mut Criterion) {
    let mut g = c.benchmark_group("replication");
    // Seconds per iteration: 10 samples of one iteration each (criterion's minimum).
    g.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_millis(1));
    for (name, per_mutation, budget_s) in [("items_100k", 1, 60), ("items_100k_batched", ITEMS_PER_MUTATION, 5)] {
        g.measurement_time(Duration::from_secs(budget_s));
        let (a, b, space, mut rng) = writer_and_reader(per_mutation, 1);
        // Once, for the figures: bytes on the wire and the reader's heap per item.
        let started = Instant::now();
        let link = catch_up(a.clone(), b.clone(), space, &mut rng);
        let elapsed = started.elapsed();
        let items = link.b.client.items(&space).unwrap().len();
        assert_eq!(items, ITEMS);
        let entries = link.b.client.space(&space).unwrap().feeds().map(|f| f.len()).sum::<u64>();
        let (bytes, frames) = (link.bytes, link.frames);
        // `Peer` lists the client's spaces (full summaries) on each new swarm link and signal event.
        let started = Instant::now();
        let summaries = a.spaces();
        let listing = started.elapsed();
        drop(summaries);
        let reader = heap_of(link.b.client) - heap_of(b.clone());
        eprintln!(
            "replication/{name}: {items} items in {entries} entries, {frames} frames, {bytes} bytes on the wire \
             ({:.1} bytes/item), first run {:.2} s; reader heap {:.0} bytes/item; Client::spaces() {:.1} ms",
            bytes as f64 / ITEMS as f64,
            elapsed.as_secs_f64(),
            reader as f64 / ITEMS as f64,
            listing.as_secs_f64() * 1e3,
        );
        g.bench_function(name, |bench| {
            bench.iter_batched(
                || (a.clone(), b.clone()),
                |(a, b)| catch_up(a, b, space, &mut rng),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

/// Two devices sharing `n` spaces, connected and in sync.
fn synced(n: usize, seed: u64) -> (Link, Vec<PublicKey>, ChaCha20Rng) {
    let (a, b, keys, mut rng) = pair(n, seed);
    let link = Link::connect(a, b, &mut rng);
    for space in &keys {
        let (ours, theirs) = (link.a.client.space(space).unwrap(), link.b.client.space(space).unwrap());
        assert_eq!(replication::have(ours), replication::have(theirs));
    }
    (link, keys, rng)
}

/// Has B the entry A wrote?
fn delivered(link: &Link, space: &PublicKey, entry: &FeedEntry) -> bool {
    let got = link.b.client.space(space).unwrap().feed(&entry.body.feed).map(|f| f.len());
    got == Some(entry.body.seq + 1)
}

/// Every space's summary from both sides, forced: `Peer`'s periodic anti-entropy round.
fn anti_entropy(link: &mut Link, keys: &[PublicKey]) {
    for space in keys {
        link.send_have(Side::A, *space, true);
        link.send_have(Side::B, *space, true);
    }
    link.run();
}

fn many_spaces(c: &mut Criterion) {
    // Once, for the figures: heap per space on each device, one anti-entropy round, and
    // what `Peer`'s own rule does with a single write between devices in sync.
    let (base, _, _) = synced(0, 2);
    let base = (heap_of(base.a.client), heap_of(base.b.client));
    let n = 1_000;
    let (mut link, keys, mut rng) = synced(n, 2);
    link.force_when_behind = false;
    let entry = link.a.client.write(&keys[0], item_ops(&mut rng, 0).to_vec()).unwrap();
    link.changed(Side::A, keys[0]);
    let by_change = delivered(&link, &keys[0], &entry);
    anti_entropy(&mut link, &keys);
    let by_round = delivered(&link, &keys[0], &entry);
    let (frames, bytes) = (link.frames, link.bytes);
    let started = Instant::now();
    anti_entropy(&mut link, &keys);
    let round = started.elapsed();
    let (round_frames, round_bytes) = (link.frames - frames, link.bytes - bytes);
    let link_state = heap_of(std::mem::take(&mut link.a.sent));
    let owner = heap_of(link.a.client) - base.0;
    let member = heap_of(link.b.client) - base.1;
    eprintln!(
        "replication/many_spaces: heap per space {} bytes (owner), {} bytes (member), {} bytes (a link's last \
         summaries); one anti-entropy round over {n} spaces in sync: {round_frames} frames, {round_bytes} bytes, {:.1} ms; with \
         Peer's send_have rule one write reached the other device on the change: {by_change}, on the next \
         anti-entropy round: {by_round}",
        owner / n,
        member / n,
        link_state / n,
        round.as_secs_f64() * 1e3,
    );

    let mut g = c.benchmark_group("replication");
    g.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    for n in [10, 1_000] {
        let (mut link, keys, mut rng) = synced(n, 3);
        let mut i = 0usize;
        g.bench_with_input(BenchmarkId::new("many_spaces", n), &n, |bench, _| {
            bench.iter(|| {
                // Visit the spaces in a scattered order, so the one written is rarely hot.
                i += 1;
                let space = keys[(i * 7_919) % keys.len()];
                let ops = item_ops(&mut rng, i).to_vec();
                let entry = link.a.client.write(&space, ops).unwrap();
                link.changed(Side::A, space);
                assert!(delivered(&link, &space, &entry), "B has the change");
            })
        });
    }
    g.finish();
}

criterion_group!(replication_benches, items_100k, many_spaces);
criterion_main!(replication_benches);
