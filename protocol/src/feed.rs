//! Feeds: append-only, hash-linked, signed logs, one per (space, device, designation).
//!
//! A feed entry is signed by the feed's own key and names the hash of its predecessor, so a
//! feed is a chain a writer cannot rewrite without signing a second entry at some sequence
//! number. Two validly signed entries at one sequence number are proof of equivocation,
//! kept as evidence.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::codec::{self, Canonical, DecodeError};
use crate::hash::{Digest, domain, hash_tagged, tagged};
use crate::keys::{Keypair, PublicKey, Signature, SignatureError};
use crate::mutants::{Mutant, active};

/// A payload is at most this large: a credential or a batch of item mutations.
pub const PAYLOAD_SIZE_MAX: usize = 64 * 1024;

/// Content address of a feed entry.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct EntryHash(pub Digest);

impl fmt::Debug for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entry:{:?}", self.0)
    }
}

/// The signed part of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryBody {
    pub version: u8,
    pub feed: PublicKey,
    pub seq: u64,
    /// Hash of entry `seq - 1`; absent exactly for `seq == 0`.
    pub prev: Option<EntryHash>,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEntry {
    pub body: EntryBody,
    pub signature: Signature,
}

impl Canonical for FeedEntry {
    const ENCODED_SIZE_MAX: usize = PAYLOAD_SIZE_MAX + 256;

    fn validate(&self) -> Result<(), DecodeError> {
        codec::check_version(self.body.version)?;
        if (self.body.seq == 0) != self.body.prev.is_none() {
            return Err(DecodeError::Invalid("prev is absent exactly for seq 0"));
        }
        if self.body.payload.len() > PAYLOAD_SIZE_MAX {
            return Err(DecodeError::Invalid("payload too large"));
        }
        Ok(())
    }
}

impl FeedEntry {
    /// Signs the next entry of a feed.
    pub fn sign(key: &Keypair, seq: u64, prev: Option<EntryHash>, payload: Vec<u8>) -> FeedEntry {
        assert_eq!(seq == 0, prev.is_none(), "prev is absent exactly for seq 0");
        assert!(payload.len() <= PAYLOAD_SIZE_MAX, "callers bound payloads");
        let body = EntryBody { version: codec::VERSION, feed: key.public(), seq, prev, payload };
        let signature = key.sign(&signing_input(&body));
        FeedEntry { body, signature }
    }

    pub fn hash(&self) -> EntryHash {
        EntryHash(hash_tagged(domain::ENTRY_HASH, &self.to_bytes()))
    }

    pub fn verify_signature(&self) -> Result<(), SignatureError> {
        self.body.feed.verify(&signing_input(&self.body), &self.signature)
    }
}

fn signing_input(body: &EntryBody) -> Vec<u8> {
    tagged(domain::FEED_ENTRY, &postcard::to_allocvec(body).expect("bodies always serialize"))
}

/// Two validly signed entries of one feed at one sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Equivocation {
    pub first: FeedEntry,
    pub second: FeedEntry,
}

impl Equivocation {
    /// Anyone can check evidence without trusting whoever reported it.
    pub fn verify(&self) -> bool {
        self.first.body.feed == self.second.body.feed
            && self.first.body.seq == self.second.body.seq
            && self.first.body != self.second.body
            && self.first.verify_signature().is_ok()
            && self.second.verify_signature().is_ok()
    }
}

/// Why an entry was not appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedError {
    /// The entry names another feed.
    WrongFeed,
    BadSignature(SignatureError),
    /// Entries must arrive in order; this one leaves a hole.
    Gap {
        expected: u64,
        found: u64,
    },
    /// `prev` is not the hash of our entry `seq - 1`.
    BrokenLink {
        seq: u64,
    },
    /// A different entry already holds this sequence number.
    Fork(Box<Equivocation>),
    Malformed(DecodeError),
}

impl fmt::Display for FeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedError::WrongFeed => f.write_str("entry belongs to another feed"),
            FeedError::BadSignature(e) => write!(f, "entry signature: {e}"),
            FeedError::Gap { expected, found } => {
                write!(f, "gap: expected seq {expected}, found {found}")
            }
            FeedError::BrokenLink { seq } => {
                write!(f, "entry {seq} does not link to its predecessor")
            }
            FeedError::Fork(e) => write!(f, "fork at seq {}: equivocation", e.first.body.seq),
            FeedError::Malformed(e) => write!(f, "malformed entry: {e}"),
        }
    }
}

impl std::error::Error for FeedError {}

/// What `append` did with a valid entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    New,
    Duplicate,
}

/// One feed's verified prefix.
#[derive(Debug, Clone)]
pub struct Feed {
    key: PublicKey,
    /// `key` decompressed at the first entry checked (issue 11: 8% of catching up went into
    /// decompressing the same key again per entry). Affects no outcome.
    prepared: Option<crate::keys::PreparedKey>,
    entries: Vec<FeedEntry>,
    hashes: Vec<EntryHash>,
}

impl Feed {
    pub fn new(key: PublicKey) -> Self {
        Feed { key, prepared: None, entries: Vec::new(), hashes: Vec::new() }
    }

    pub fn key(&self) -> PublicKey {
        self.key
    }

    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[FeedEntry] {
        &self.entries
    }

    pub fn get(&self, seq: u64) -> Option<&FeedEntry> {
        self.entries.get(usize::try_from(seq).ok()?)
    }

    pub fn head(&self) -> Option<EntryHash> {
        self.hashes.last().copied()
    }

    /// The hash of entry `seq`, if held.
    pub fn hash_at(&self, seq: u64) -> Option<EntryHash> {
        self.hashes.get(usize::try_from(seq).ok()?).copied()
    }

    /// Keeps entries `0..len` and returns the rest: how a replica cuts a forked feed at its
    /// lowest proven fork (SPEC.md §5.6).
    pub(crate) fn truncate(&mut self, len: u64) -> Vec<FeedEntry> {
        let keep = usize::try_from(len).unwrap_or(usize::MAX).min(self.entries.len());
        self.hashes.truncate(keep);
        self.entries.split_off(keep)
    }

    /// Verifies and appends. State is unchanged on every error.
    pub fn append(&mut self, entry: FeedEntry) -> Result<Appended, FeedError> {
        if entry.body.feed != self.key {
            return Err(FeedError::WrongFeed);
        }
        entry.validate().map_err(FeedError::Malformed)?;
        if active(Mutant::DuplicateBeforeSignature)
            && self.entries.get(entry.body.seq as usize).is_some_and(|e| e.body == entry.body)
        {
            return Ok(Appended::Duplicate);
        }
        let key = match &self.prepared {
            Some(key) => key,
            None => self.prepared.insert(self.key.prepare().map_err(FeedError::BadSignature)?),
        };
        key.verify(&signing_input(&entry.body), &entry.signature).map_err(FeedError::BadSignature)?;
        let len = self.len();
        let seq = entry.body.seq;
        if seq > len {
            return Err(FeedError::Gap { expected: len, found: seq });
        }
        let hash = entry.hash();
        if seq < len {
            let existing = seq as usize;
            // Same body: the same entry, even if re-signed (only the body is the claim).
            let same = self.hashes[existing] == hash
                || (self.entries[existing].body == entry.body && !active(Mutant::ForkOnResignature));
            if same || active(Mutant::FeedIgnoresForks) {
                return Ok(Appended::Duplicate);
            }
            let first = self.entries[existing].clone();
            return Err(FeedError::Fork(Box::new(Equivocation { first, second: entry })));
        }
        if entry.body.prev != self.head() {
            return Err(FeedError::BrokenLink { seq });
        }
        self.entries.push(entry);
        self.hashes.push(hash);
        Ok(Appended::New)
    }

    /// Signs and appends our own next entry.
    pub fn append_own(&mut self, key: &Keypair, payload: Vec<u8>) -> FeedEntry {
        assert_eq!(key.public(), self.key, "only the feed's key writes it");
        let entry = FeedEntry::sign(key, self.len(), self.head(), payload);
        assert_eq!(self.append_signed_own(entry.clone()), Ok(()), "own entries always extend the feed");
        entry
    }

    /// Appends an entry this device has just signed with the feed's own key for the next
    /// position after the head. Its shape and position are checked, not its signature:
    /// `verify_strict` of what we have just signed cannot fail, and it was a third of the
    /// signature checks of an invitation's host.
    pub(crate) fn append_signed_own(&mut self, entry: FeedEntry) -> Result<(), FeedError> {
        if entry.body.feed != self.key {
            return Err(FeedError::WrongFeed);
        }
        entry.validate().map_err(FeedError::Malformed)?;
        if entry.body.seq != self.len() {
            return Err(FeedError::Gap { expected: self.len(), found: entry.body.seq });
        }
        if entry.body.prev != self.head() {
            return Err(FeedError::BrokenLink { seq: entry.body.seq });
        }
        debug_assert!(entry.verify_signature().is_ok(), "our own signature verifies");
        self.hashes.push(entry.hash());
        self.entries.push(entry);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn feed_with(n: u64) -> (Keypair, Feed) {
        let key = Keypair::generate(&mut ChaCha20Rng::seed_from_u64(7));
        let mut feed = Feed::new(key.public());
        for i in 0..n {
            feed.append_own(&key, vec![i as u8]);
        }
        (key, feed)
    }

    #[test]
    fn replica_accepts_in_order_and_refuses_gaps() {
        let (_, source) = feed_with(3);
        let mut replica = Feed::new(source.key());
        assert_eq!(replica.append(source.entries()[1].clone()), Err(FeedError::Gap { expected: 0, found: 1 }));
        for e in source.entries() {
            assert_eq!(replica.append(e.clone()), Ok(Appended::New));
        }
        assert_eq!(replica.append(source.entries()[0].clone()), Ok(Appended::Duplicate));
        assert_eq!(replica.head(), source.head());
    }

    #[test]
    fn tampered_payload_fails_signature() {
        let (_, source) = feed_with(1);
        let mut e = source.entries()[0].clone();
        e.body.payload[0] ^= 1;
        let mut replica = Feed::new(source.key());
        assert!(matches!(replica.append(e), Err(FeedError::BadSignature(_))));
        assert!(replica.is_empty());
    }

    #[test]
    fn second_entry_at_same_seq_is_evidence() {
        let (key, source) = feed_with(2);
        let forged = FeedEntry::sign(&key, 1, source.get(0).map(FeedEntry::hash), vec![99]);
        let mut replica = source.clone();
        match replica.append(forged) {
            Err(FeedError::Fork(evidence)) => assert!(evidence.verify()),
            other => panic!("expected fork, got {other:?}"),
        }
        assert_eq!(replica.len(), 2);
    }
}
