//! `feeds.json`: single feeds (SPEC.md §5): valid prefixes, duplicates, gaps, forks, bad
//! signatures, broken links, foreign entries.

use serde_json::json;
use spaces_protocol::Canonical;
use spaces_protocol::feed::{EntryHash, FeedEntry};
use spaces_protocol::keys::Keypair;

use super::keys::add_ell;
use super::{invalid, valid};
use crate::file::VectorFile;
use crate::json::{hex, hex_list};

const FEED: &str = "feed.verify";

fn notes(f: &mut VectorFile) {
    f.note("Valid", "Functionality", "A well-formed feed prefix: its length and head hash.");
    f.note("Duplicate", "Functionality", "An entry delivered twice is taken once.");
    f.note("Gap", "Integrity", "An entry beyond the next sequence number (§5.3).");
    f.note("Fork", "Equivocation", "A second, differently signed entry at a taken sequence number: evidence of equivocation (§5.4), never a duplicate.");
    f.note("BadSignature", "Authentication", "An entry not signed by the feed key (§5.2).");
    f.note("BrokenLink", "Integrity", "An entry whose prev is not the hash of its predecessor (§5.3).");
    f.note("WrongFeed", "Integrity", "An entry of another feed.");
    f.note(
        "Resigned",
        "Equivocation",
        "The held entry's body with another valid signature (another nonce; Ed25519 signing is deterministic only by convention, RFC 8032 §5.1.6, and verification accepts any nonce): a duplicate, not a fork (§5.3 step 5). One claim signed twice is not equivocation, so no fork evidence may be recorded against the author.",
    );
    f.note(
        "MalleatedDuplicate",
        "SignatureMalleability",
        "The held entry with s + ℓ (§1.3 rule 1): refused as a bad signature before any duplicate check (§5.3 step 3 comes before step 5), never taken as a duplicate.",
    );
}

fn feed_entries(key: &Keypair, n: u64) -> Vec<FeedEntry> {
    let mut out: Vec<FeedEntry> = Vec::new();
    for seq in 0..n {
        let prev = out.last().map(FeedEntry::hash);
        out.push(FeedEntry::sign(key, seq, prev, format!("entry {seq}").into_bytes()));
    }
    out
}

/// `entry`'s body signed again by `key` with a nonce other than RFC 8032's: a second valid
/// signature of the same claim. (The signed message is the tagged body: the entry's
/// encoding without its trailing 64 signature bytes.)
fn resign(key: &Keypair, entry: &FeedEntry) -> FeedEntry {
    use ed25519_dalek::hazmat::{ExpandedSecretKey, raw_sign};
    let bytes = entry.to_bytes();
    let body = &bytes[..bytes.len() - 64];
    let message = spaces_protocol::hash::tagged(spaces_protocol::hash::domain::FEED_ENTRY, body);
    let mut esk = ExpandedSecretKey::from(&key.secret_bytes());
    esk.hash_prefix = [0x5a; 32];
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&key.public().0).expect("our keys are points");
    let signature = raw_sign::<sha2::Sha512>(&esk, &message, &verifying);
    let resigned =
        FeedEntry { body: entry.body.clone(), signature: spaces_protocol::keys::Signature(signature.to_bytes()) };
    assert_ne!(resigned.signature, entry.signature, "another nonce, another signature");
    assert!(resigned.verify_signature().is_ok(), "the second signature verifies (strictly)");
    resigned
}

/// Appended last (files only grow): one body signed twice is a duplicate (either copy
/// held first), and a malleated copy of a held entry is a bad signature.
fn one_body_signed_twice(f: &mut VectorFile, key: &Keypair, e: &[FeedEntry]) {
    let input = |entries: &[FeedEntry]| json!({ "feed": hex(key.public().0), "entries": hex_list(entries.iter().map(Canonical::to_bytes)) });
    let again = resign(key, &e[1]);
    let t = f.group(FEED);
    let r = valid(
        FEED,
        "entry 1, then its body with another valid signature: a duplicate",
        &["Valid", "Duplicate", "Resigned"],
        input(&[e[0].clone(), e[1].clone(), again.clone(), e[2].clone()]),
    );
    assert_eq!(r.output["length"], 3);
    t.push(r);
    let r = valid(
        FEED,
        "the re-signed entry 1 first, then the original: a duplicate, the first copy held",
        &["Valid", "Duplicate", "Resigned"],
        input(&[e[0].clone(), again.clone(), e[1].clone()]),
    );
    assert_eq!(r.output["head"], hex(again.hash().0.0), "the copy held first is the head");
    t.push(r);
    let mut malleated = e[1].clone();
    let s = add_ell(&malleated.signature.0[32..]);
    malleated.signature.0[32..].copy_from_slice(&s);
    t.push(invalid(
        FEED,
        "entry 1, then entry 1 with s + ℓ: a bad signature, not a duplicate",
        &["MalleatedDuplicate", "BadSignature"],
        input(&[e[0].clone(), e[1].clone(), malleated]),
    ));
}

pub fn file() -> VectorFile {
    let mut f = VectorFile::new("feeds.json", "spaces/1 feeds: signed hash-linked logs");
    notes(&mut f);
    let key = Keypair::from_secret_bytes([0x21; 32]);
    let other = Keypair::from_secret_bytes([0x22; 32]);
    let e = feed_entries(&key, 4);
    let input = |entries: &[FeedEntry]| json!({ "feed": hex(key.public().0), "entries": hex_list(entries.iter().map(Canonical::to_bytes)) });
    let t = f.group(FEED);
    t.push(valid(FEED, "empty feed", &["Valid"], input(&[])));
    t.push(valid(FEED, "four entries", &["Valid"], input(&e)));
    t.push(valid(
        FEED,
        "entry 1 delivered twice",
        &["Valid", "Duplicate"],
        input(&[e[0].clone(), e[1].clone(), e[1].clone(), e[2].clone()]),
    ));
    t.push(invalid(FEED, "entry 0 then entry 2", &["Gap"], input(&[e[0].clone(), e[2].clone()])));
    t.push(invalid(FEED, "first entry is seq 1", &["Gap"], input(&[e[1].clone()])));
    let fork = FeedEntry::sign(&key, 1, Some(e[0].hash()), b"another entry 1".to_vec());
    t.push(invalid(
        FEED,
        "a second entry 1, correctly linked and signed",
        &["Fork"],
        input(&[e[0].clone(), e[1].clone(), fork.clone()]),
    ));
    t.push(invalid(FEED, "the fork first, then the original", &["Fork"], input(&[e[0].clone(), fork, e[1].clone()])));
    let mut bad = e[1].clone();
    bad.signature.0[63] ^= 0x01;
    t.push(invalid(FEED, "entry 1 signature changed", &["BadSignature"], input(&[e[0].clone(), bad])));
    let mut resigned = e[1].clone();
    resigned.signature = other.sign(b"unrelated");
    t.push(invalid(FEED, "entry 1 signed by another key", &["BadSignature"], input(&[e[0].clone(), resigned])));
    let unlinked =
        FeedEntry::sign(&key, 1, Some(EntryHash(spaces_protocol::hash::Digest([9; 32]))), b"entry 1".to_vec());
    t.push(invalid(FEED, "entry 1 with a wrong prev hash", &["BrokenLink"], input(&[e[0].clone(), unlinked])));
    let foreign = feed_entries(&other, 1);
    t.push(invalid(FEED, "an entry of another feed", &["WrongFeed"], input(&foreign)));
    one_body_signed_twice(&mut f, &key, &e);
    f
}
