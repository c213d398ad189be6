//! One config, one run: the trace hash of a world is a function of its seed alone, whatever
//! else runs beside it (FoundationDB's determinism self-check).

use spaces_sim::config::{Profile, draw};

#[test]
fn the_same_seed_replays_bit_for_bit() {
    for profile in Profile::ALL {
        for seed in 0..5 {
            let a = spaces_sim::run(draw(seed, profile));
            let b = spaces_sim::run(draw(seed, profile));
            assert_eq!(a.trace_hash, b.trace_hash, "seed {seed} ({}) replays differently", profile.name());
            assert_eq!(a.stats.events, b.stats.events);
        }
    }
}

#[test]
fn different_seeds_make_different_worlds() {
    let a = spaces_sim::run(draw(1, Profile::Calm));
    let b = spaces_sim::run(draw(2, Profile::Calm));
    assert_ne!(a.trace_hash, b.trace_hash, "the seed must reach the world");
}

#[test]
fn the_kept_trace_hashes_to_the_reported_hash() {
    use sha2::{Digest, Sha256};
    let (outcome, lines) = spaces_sim::run_traced(draw(3, Profile::Faulty), true);
    let mut h = Sha256::new();
    for l in &lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    assert_eq!(hex::encode(h.finalize()), outcome.trace_hash);
    assert!(lines.len() as u64 >= outcome.stats.events / 2, "most events leave a trace line");
}
