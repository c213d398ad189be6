//! `feeds.json`: single feeds (SPEC.md §5): valid prefixes, duplicates, gaps, forks, bad
//! signatures, broken links, foreign entries.

use serde_json::json;
use spaces_protocol::Canonical;
use spaces_protocol::feed::{EntryHash, FeedEntry};
use spaces_protocol::keys::Keypair;

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
}

fn feed_entries(key: &Keypair, n: u64) -> Vec<FeedEntry> {
    let mut out: Vec<FeedEntry> = Vec::new();
    for seq in 0..n {
        let prev = out.last().map(FeedEntry::hash);
        out.push(FeedEntry::sign(key, seq, prev, format!("entry {seq}").into_bytes()));
    }
    out
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
    f
}
