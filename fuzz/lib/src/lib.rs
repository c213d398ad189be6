//! The fuzz targets of spaces, as plain functions over bytes (issue 14).
//!
//! Each module is one target: `run(data: &[u8])` decodes or drives one part of the protocol core
//! and asserts its invariants (round trips, the attempt budget, order independence, the
//! signaling server's tables), so a violation is a panic that libFuzzer reports as a crash.
//! `fuzz/fuzz_targets/<name>.rs` is a three-line wrapper around `run` (nightly, `cargo fuzz`);
//! `tests/corpus.rs` replays every file of `fuzz/corpus/<name>/` through the same `run` on
//! stable, so `cargo test` covers the committed corpora on every run. `TARGETS` names them all.

pub mod code;
pub mod credential;
pub mod duel;
pub mod feed;
pub mod guest;
pub mod host;
pub mod invitation_frame;
pub mod membership;
pub mod peer_frame;
pub mod seed;
pub mod signal_frame;
pub mod signal_server;
pub mod snapshot;
pub mod support;
pub mod swarm_frame;

/// A target's entry point: asserts its invariants on one input.
pub type Target = fn(&[u8]);

/// Every target by name (the file name under `fuzz_targets/` and `corpus/`) and its entry point.
pub const TARGETS: &[(&str, Target)] = &[
    ("code", code::run),
    ("credential", credential::run),
    ("feed", feed::run),
    ("guest", guest::run),
    ("host", host::run),
    ("invitation_frame", invitation_frame::run),
    ("membership", membership::run),
    ("peer_frame", peer_frame::run),
    ("signal_frame", signal_frame::run),
    ("signal_server", signal_server::run),
    ("snapshot", snapshot::run),
    ("swarm_frame", swarm_frame::run),
];
