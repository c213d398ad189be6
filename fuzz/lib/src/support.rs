//! Helpers every target shares: the strict round trip and seeded randomness.

use core::fmt::Debug;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_protocol::Canonical;

/// Decodes `bytes` as `T`; when they are accepted, asserts the one-encoding rule: the value
/// re-encodes to exactly `bytes` and decodes back to itself. Returns the value.
pub fn round_trip<T: Canonical + PartialEq + Debug>(bytes: &[u8]) -> Option<T> {
    let value = T::from_bytes(bytes).ok()?;
    let again = value.to_bytes();
    assert_eq!(again, bytes, "an accepted {} re-encodes to other bytes", core::any::type_name::<T>());
    assert!(again.len() <= T::ENCODED_SIZE_MAX, "an accepted value exceeds its size maximum");
    assert_eq!(T::from_bytes(&again).as_ref(), Ok(&value), "re-encoded bytes decode to another value");
    Some(value)
}

/// A deterministic generator: a replayed input draws the same keys, ids and PINs.
pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Splits fuzzer bytes into length-prefixed chunks (one byte of length, `scale` bytes per
/// unit), so one input can carry several messages.
pub fn chunks(mut data: &[u8], scale: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let n = (usize::from(len) * scale).min(rest.len());
        out.push(&rest[..n]);
        data = &rest[n..];
    }
    out
}
