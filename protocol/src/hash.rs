//! Domain-separated hashing. Every hash and every signature in the protocol is taken over
//! `tagged(domain, body)`, so bytes meant for one purpose can never be accepted for another.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The protocol version string that prefixes every domain tag.
pub const PROTOCOL: &str = "spaces/1";

/// Domain tags: one per purpose. Changing one is a protocol change.
pub mod domain {
    pub const CREDENTIAL: &str = "spaces/1 credential";
    pub const FEED_ENTRY: &str = "spaces/1 feed-entry";
    pub const ENTRY_HASH: &str = "spaces/1 entry-hash";
    pub const FINGERPRINT: &str = "spaces/1 fingerprint";
    pub const SPACE_TOPIC: &str = "spaces/1 space-topic";
    pub const CREDENTIAL_SET: &str = "spaces/1 credential-set";
    pub const TOPIC_ROTATION: &str = "spaces/1 topic-rotation";
    pub const HALO_TOPIC: &str = "spaces/1 halo-topic";
}

/// A SHA-256 output.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Digest(pub [u8; 32]);

impl core::fmt::Debug for Digest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", hex::encode(&self.0[..6]))
    }
}

impl core::fmt::Display for Digest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// `len(domain) as u8 || domain || body`: the input of every signature and tagged hash.
///
/// The length prefix makes the split between tag and body unambiguous.
pub fn tagged(domain: &str, body: &[u8]) -> Vec<u8> {
    let tag = domain.as_bytes();
    assert!(tag.len() <= u8::MAX as usize, "domain tags are short constants");
    let mut out = Vec::with_capacity(1 + tag.len() + body.len());
    out.push(tag.len() as u8);
    out.extend_from_slice(tag);
    out.extend_from_slice(body);
    out
}

/// SHA-256 of raw bytes (callers pass already-tagged input).
pub fn sha256(bytes: &[u8]) -> Digest {
    Digest(Sha256::digest(bytes).into())
}

/// SHA-256 over `tagged(domain, body)`.
pub fn hash_tagged(domain: &str, body: &[u8]) -> Digest {
    let tag = domain.as_bytes();
    let mut h = Sha256::new();
    h.update([tag.len() as u8]);
    h.update(tag);
    h.update(body);
    Digest(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_hash_equals_hash_of_tagged_bytes() {
        let body = b"abc";
        assert_eq!(hash_tagged(domain::CREDENTIAL, body), sha256(&tagged(domain::CREDENTIAL, body)));
    }

    #[test]
    fn domains_separate() {
        assert_ne!(hash_tagged(domain::CREDENTIAL, b"x"), hash_tagged(domain::FEED_ENTRY, b"x"));
    }
}
