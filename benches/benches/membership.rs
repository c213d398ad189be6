//! Membership and credential benchmarks. See `benches/README.md` for what each one measures
//! and the figures measured so far.
//!
//! Run: `cargo bench -p spaces-benches --bench membership -- --noplot`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use spaces_benches::{MembershipWorkload, membership_workload_cached};
use spaces_protocol::membership::{Effect, Membership};

const SEED: u64 = 0x5eed_0001;

/// A benchmark size: its name, members admitted, credentials in total.
#[derive(Clone, Copy)]
struct Size {
    name: &'static str,
    members: usize,
    credentials: usize,
}

const K1: Size = Size { name: "1k", members: 100, credentials: 1_000 };
const K10: Size = Size { name: "10k", members: 1_000, credentials: 10_000 };
const K100: Size = Size { name: "100k", members: 10_000, credentials: 100_000 };

/// The workload for `size`, generated once per process (never inside a measured closure).
fn workload(size: Size) -> Arc<MembershipWorkload> {
    let start = Instant::now();
    let w = membership_workload_cached(size.members, size.credentials, SEED);
    let took = start.elapsed();
    if took > Duration::from_millis(50) {
        eprintln!("workload {}: generated in {:.2?}: {:?}", size.name, took, w.stats);
    }
    w
}

/// Sampling for a benchmark whose iteration takes about `per_iter`: criterion's defaults
/// (20 samples, 5 s) for quick ones; otherwise 10 flat samples of one iteration each, so the
/// slow cases cost ten iterations plus the warm-up. The target time is deliberately short
/// (criterion then warns that it needs longer, and takes what it needs): a target of ten
/// iterations would, when one runs faster than estimated, double the iterations per sample.
fn configure(group: &mut BenchmarkGroup<'_, WallTime>, per_iter: Duration) {
    if per_iter <= Duration::from_millis(20) {
        group.sample_size(20).sampling_mode(SamplingMode::Auto).measurement_time(Duration::from_secs(5));
    } else {
        group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(per_iter * 5);
    }
}

/// Rough per-iteration time of `size` at `per_credential` each (for sampling only).
fn estimate(size: Size, per_credential: Duration) -> Duration {
    per_credential * size.credentials as u32
}

fn verify(c: &mut Criterion) {
    let w = workload(K10);
    let mut group = c.benchmark_group("credential/verify");
    group.sample_size(20).measurement_time(Duration::from_secs(5));
    // A role change by an admin: signed by the admin's device, so a chain of one.
    let single = w.credentials.last().expect("non-empty").clone();
    // The owner's grant, signed by the space key itself: no chain, one signature.
    let direct = w.credentials[1].clone();
    assert!(single.chain.is_some() && direct.chain.is_none());
    group.throughput(Throughput::Elements(1));
    group.bench_function("single", |b| b.iter(|| black_box(&single).verify().expect("valid")));
    group.bench_function("single_direct", |b| b.iter(|| black_box(&direct).verify().expect("valid")));
    configure(&mut group, estimate(K10, Duration::from_micros(90)));
    group.throughput(Throughput::Elements(w.credentials.len() as u64));
    group.bench_function(K10.name, |b| {
        b.iter(|| {
            for c in black_box(&w.credentials) {
                black_box(c.verify().expect("valid"));
            }
        })
    });
    group.finish();

    // The id alone (encode + SHA-256, no signature), as a caller computes it to cite a parent.
    let mut group = c.benchmark_group("credential/id");
    group.sample_size(20).measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    group.bench_function("single", |b| b.iter(|| black_box(&single).id()));
    group.finish();
}

fn rebuild(c: &mut Criterion) {
    let mut group = c.benchmark_group("membership/rebuild");
    for size in [K1, K10, K100] {
        // Verification dominates: two Ed25519 checks per credential, about 85 µs.
        configure(&mut group, estimate(size, Duration::from_micros(110)));
        group.throughput(Throughput::Elements(size.credentials as u64));
        group.bench_function(size.name, |b| {
            let w = workload(size);
            b.iter_batched(
                || w.credentials.clone(),
                |input| {
                    let mut m = Membership::new(w.space);
                    let results = m.insert_batch(input);
                    // Returned, so dropping the state is not measured.
                    (m, results)
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// Resolution alone: a full `Membership::resolve` over an already stored, verified set. The
/// difference to `rebuild` is verification and storage.
fn resolve(c: &mut Criterion) {
    let mut group = c.benchmark_group("membership/resolve");
    for size in [K1, K10, K100] {
        configure(&mut group, estimate(size, Duration::from_micros(7)));
        group.throughput(Throughput::Elements(size.credentials as u64));
        let mut state: Option<Membership> = None;
        group.bench_function(size.name, |b| {
            let m = state.get_or_insert_with(|| loaded(&workload(size)));
            b.iter(|| m.resolve())
        });
    }
    group.finish();
}

/// The workload's membership, checked: every credential applied, the roles as generated.
fn loaded(w: &MembershipWorkload) -> Membership {
    let mut m = Membership::new(w.space);
    for r in m.insert_batch(w.credentials.clone()) {
        r.expect("the workload is valid");
    }
    for c in &w.credentials {
        assert_eq!(m.effect(&c.id()), Some(Effect::Applied), "workload credential not applied: {:?}", c.assertion());
    }
    assert_eq!(m.members().len(), w.roles.len());
    m
}

fn insert_one_by_one(c: &mut Criterion) {
    let mut group = c.benchmark_group("membership/insert_one_by_one");
    for size in [K1, K10] {
        // Every concurrent branch forces a full resolve: grows faster than linearly.
        configure(&mut group, estimate(size, Duration::from_micros(if size.credentials > 1_000 { 300 } else { 110 })));
        group.throughput(Throughput::Elements(size.credentials as u64));
        group.bench_function(size.name, |b| {
            let w = workload(size);
            b.iter_batched(
                || w.credentials.clone(),
                |input| {
                    let mut m = Membership::new(w.space);
                    for credential in input {
                        m.insert(credential).expect("the workload is valid");
                    }
                    m
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5))
}

criterion_group! {
    name = benches;
    config = config();
    targets = verify, rebuild, resolve, insert_one_by_one
}
criterion_main!(benches);
