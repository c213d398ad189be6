//! Membership at scale on every credential shape (issue 11): the honest workload of the
//! `membership` bench beside the hostile shapes of `spaces_protocol::fixture::shapes`, with the
//! floor they are reported against measured in the same run (one `verify_strict` of a
//! credential signature, with the key already decompressed). See `benches/README.md`.
//!
//! Run: `cargo bench -p spaces-benches --bench scale -- --noplot`

use std::alloc::System;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_benches::membership_workload_cached;
use spaces_protocol::PublicKey;
use spaces_protocol::credential::Credential;
use spaces_protocol::fixture::shapes;
use spaces_protocol::membership::Membership;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SEED: u64 = 0x5eed_0001;
const SIZES: [(&str, usize); 2] = [("1k", 1_000), ("10k", 10_000)];

/// A shape's credentials at `size`, in issue order.
fn shape(name: &str, size: usize) -> (PublicKey, Vec<Credential>) {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    let (f, creds) = match name {
        "honest" => {
            let w = membership_workload_cached(size / 10, size, SEED);
            return (w.space, w.credentials.clone());
        }
        "double-cite" => shapes::double_cite_reader(&mut rng, size),
        "cascade" => shapes::demotion_cascade(&mut rng, size),
        other => unreachable!("unknown shape {other}"),
    };
    (f.space(), creds)
}

fn load(space: PublicKey, creds: &[Credential]) -> Membership {
    let mut m = Membership::new(space);
    for r in m.insert_batch(creds.to_vec()) {
        r.expect("every shape is valid");
    }
    m
}

/// Heap bytes a loaded membership holds per credential (printed, not timed).
fn heap_per_credential(name: &str, size: usize) {
    let (space, creds) = shape(name, size);
    let region = Region::new(GLOBAL);
    let m = load(space, &creds);
    let s = region.change();
    let held = s.bytes_allocated as i64 - s.bytes_deallocated as i64;
    eprintln!(
        "heap {name}/{size}: {:.0} bytes per credential ({} clock entries)",
        held as f64 / size as f64,
        m.clock_entries()
    );
    drop(m);
}

fn floor(c: &mut Criterion) {
    let (_, creds) = shape("honest", 1_000);
    let chained = creds.last().expect("non-empty").clone();
    let input = chained.body.signing_input();
    let key = chained.body.signer;
    let prepared = key.prepare().expect("a valid key");
    let mut group = c.benchmark_group("scale/floor");
    group.sample_size(20).measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_strict", |b| b.iter(|| prepared.verify(black_box(&input), &chained.signature)));
    group.bench_function("verify_strict_decompress", |b| b.iter(|| key.verify(black_box(&input), &chained.signature)));
    group.finish();
}

fn rebuild(c: &mut Criterion) {
    for name in ["honest", "double-cite", "cascade"] {
        for (_, size) in SIZES {
            heap_per_credential(name, size);
        }
    }
    let mut group = c.benchmark_group("scale/rebuild");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(4));
    for name in ["honest", "double-cite", "cascade"] {
        for (label, size) in SIZES {
            let (space, creds) = shape(name, size);
            group.throughput(Throughput::Elements(creds.len() as u64));
            group.bench_function(format!("{name}/{label}"), |b| {
                b.iter_batched(
                    || creds.clone(),
                    |input| {
                        let mut m = Membership::new(space);
                        let r = m.insert_batch(input);
                        (m, r)
                    },
                    BatchSize::LargeInput,
                )
            });
        }
    }
    group.finish();
}

fn one_by_one(c: &mut Criterion) {
    let mut group = c.benchmark_group("scale/one_by_one");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(4));
    for name in ["honest", "double-cite", "cascade"] {
        for (label, size) in SIZES {
            if name == "cascade" && size > 1_000 {
                continue; // reruns its rounds per insert: O(voids) each (SPEC §4.10)
            }
            let (space, creds) = shape(name, size);
            group.throughput(Throughput::Elements(creds.len() as u64));
            group.bench_function(format!("{name}/{label}"), |b| {
                b.iter_batched(
                    || creds.clone(),
                    |input| {
                        let mut m = Membership::new(space);
                        for cred in input {
                            m.insert(cred).expect("valid");
                        }
                        m
                    },
                    BatchSize::LargeInput,
                )
            });
        }
    }
    group.finish();
}

/// Early-sorting junk after an honest history: the junk alone, one credential at a time.
fn early_junk(c: &mut Criterion) {
    let mut group = c.benchmark_group("scale/early_junk");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(4));
    for (label, size) in SIZES {
        let junk = size / 10;
        let (f, honest, junk) = shapes::early_junk(&mut ChaCha20Rng::seed_from_u64(SEED), size - junk, junk);
        let loaded = load(f.space(), &honest);
        group.throughput(Throughput::Elements(junk.len() as u64));
        group.bench_function(label, |b| {
            b.iter_batched(
                || (loaded.clone(), junk.clone()),
                |(mut m, junk)| {
                    for cred in junk {
                        m.insert(cred).expect("valid");
                    }
                    m
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = floor, rebuild, one_by_one, early_junk
}
criterion_main!(benches);
