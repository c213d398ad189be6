//! Generators and property bodies shared by `properties.rs` (the properties hold on the real
//! code) and `mutant_proofs.rs` (each property fails once a relevant planted bug is active),
//! one file per topic; this module re-exports them all, so a test file names one `common`.
//!
//! Every check returns `Result<(), TestCaseError>` so it can run under `proptest!` and under a
//! hand-built `TestRunner` alike. Randomness inside a case comes from a `ChaCha20Rng` seeded by
//! a generated `u64`, so every case is a pure function of its generated input.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use proptest::test_runner::TestCaseError;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use spaces_protocol::credential::CredentialId;
use spaces_protocol::hash::Digest;

mod codec;
mod dag;
mod forks;
mod items;
mod membership;
mod signatures;
mod space;
mod write_access;

pub use codec::*;
pub use dag::*;
pub use forks::*;
pub use items::*;
pub use membership::*;
pub use signatures::*;
pub use space::*;
pub use write_access::*;

pub type Check = Result<(), TestCaseError>;

/// Cases per property: cheap ones (codec, signatures, forks) and expensive ones (whole
/// spaces replayed in several orders). Both test files use these.
pub const CHEAP_CASES: u32 = 256;
pub const COSTLY_CASES: u32 = 128;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn below(rng: &mut ChaCha20Rng, n: usize) -> usize {
    assert!(n > 0);
    (rng.next_u64() % n as u64) as usize
}

fn chance(rng: &mut ChaCha20Rng, percent: u64) -> bool {
    rng.next_u64() % 100 < percent
}

fn cid(bytes: [u8; 32]) -> CredentialId {
    CredentialId(Digest(bytes))
}
