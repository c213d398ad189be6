//! Handshake throughput (issue 14), everything in one run so the ratios mean something on a
//! noisy machine: complete in-memory invitations (both sides in one thread, then the guest
//! accepts the grant) for the PIN and KEY methods; the host's part of each alone (what a
//! host pays per guest); a bare snow XK handshake with the same parameters and prologue; and
//! the floor, each operation an invitation cannot avoid timed alone (`floor/*`, composed by
//! `spaces_benches::floor::FLOOR_COUNTS`).
//!
//! `cargo bench -p spaces-benches --bench invitation`, then
//! `cargo run --release -p spaces-benches --bin bench-report` writes `benches/REPORT.md`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_benches::floor::Primitives;
use spaces_benches::invite;
use spaces_protocol::invitation::AuthMethod;
use spaces_protocol::keys::NoiseKeypair;

/// Runs `iters` invitations, each on a fresh setup made outside the clock, and returns the
/// time `part` picks from each.
fn timed(iters: u64, auth: AuthMethod, seed: &mut u64, part: fn(&invite::Timing) -> Duration) -> Duration {
    let mut sum = Duration::ZERO;
    for _ in 0..iters {
        *seed += 1;
        let mut s = invite::setup(*seed);
        sum += part(&invite::invitation(&mut s, auth));
    }
    sum
}

fn invitations(c: &mut Criterion) {
    let mut g = c.benchmark_group("invitation");
    g.sample_size(30);
    let mut seed = 0;
    for (name, auth) in [("pin", AuthMethod::Pin), ("key", AuthMethod::Key)] {
        g.bench_function(format!("complete_{name}"), |b| b.iter_custom(|n| timed(n, auth, &mut seed, |t| t.total)));
        g.bench_function(format!("host_{name}"), |b| b.iter_custom(|n| timed(n, auth, &mut seed, |t| t.host)));
    }
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let host = NoiseKeypair::generate(&mut rng);
    let guest = NoiseKeypair::generate(&mut rng);
    let code = invite::bare_code(&host);
    g.bench_function("bare_snow_xk", |b| b.iter(|| invite::bare_xk(&mut rng, &code, &host, &guest)));
    g.finish();
}

fn floor(c: &mut Criterion) {
    let mut g = c.benchmark_group("floor");
    let mut p = Primitives::new();
    g.bench_function("x25519_dh", |b| b.iter(|| black_box(p.dh())));
    g.bench_function("x25519_keygen", |b| b.iter(|| black_box(p.keygen())));
    g.bench_function("spake2_both_sides", |b| b.iter(|| black_box(p.spake2_both())));
    g.bench_function("ed25519_sign", |b| b.iter(|| black_box(p.sign())));
    g.bench_function("ed25519_verify_strict", |b| b.iter(|| black_box(p.verify_strict())));
    g.finish();
}

criterion_group!(invitation_benches, invitations, floor);
criterion_main!(invitation_benches);
