//! `replication.json`: replication messages (SPEC.md §9.3.1) and which entries a peer's
//! `Have` shows it lacks (§9.3.2).

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::{Value, json};
use spaces_protocol::Canonical;
use spaces_protocol::Role;
use spaces_protocol::credential::FeedPosition;
use spaces_protocol::feed::FeedEntry;
use spaces_protocol::fixture::SpaceFixture;
use spaces_protocol::item::{ItemId, Op};
use spaces_protocol::keys::PublicKey;
use spaces_protocol::swarm::SwarmMessage;

use super::{acceptable, invalid, valid};
use crate::file::VectorFile;
use crate::json::{hex, hex_list};

const DECODE: &str = "replication.decode_message";
const MISSING: &str = "replication.missing";

fn notes(f: &mut VectorFile) {
    f.note("Valid", "Functionality", "A canonical message, or the exact answer to a Have.");
    f.note("UnsortedSet", "Malleability", "Have feeds not strictly ascending (§9.3.1).");
    f.note("UnknownVariant", "Versioning", "A message index this version does not define.");
    f.note("Malformed", "Robustness", "Truncated, trailing, or an entry inside that does not decode strictly.");
    f.note("InnerEntryVersion", "Versioning", "An Entries message whose entry has version 2. SPEC §2.3 rule 9 asks decoders to refuse it; the reference decodes the message and refuses the entry when it ingests it (Feed::append), so either answer is acceptable until the reference decodes inner entries strictly.");
    f.note(
        "ControlFirst",
        "Liveness",
        "Control feeds are sent before data feeds, so admissions arrive before what they admit (§9.3.2).",
    );
}

fn entries_chain(key: &spaces_protocol::keys::Keypair, payloads: Vec<Vec<u8>>) -> Vec<FeedEntry> {
    let mut out: Vec<FeedEntry> = Vec::new();
    for (seq, p) in payloads.into_iter().enumerate() {
        let prev = out.last().map(FeedEntry::hash);
        out.push(FeedEntry::sign(key, seq as u64, prev, p));
    }
    out
}

/// A replica: the owner's control feed carries the editor's admission; both write data.
struct Replica {
    fx: SpaceFixture,
    space: PublicKey,
    control: Vec<FeedEntry>,
    editor_entries: Vec<FeedEntry>,
    all: Vec<FeedEntry>,
    /// What the replica holds, sorted: its `Have`.
    feeds: Vec<FeedPosition>,
    editor_data: PublicKey,
}

fn pos(feed: PublicKey, length: u64) -> FeedPosition {
    FeedPosition { feed, length }
}

fn replica() -> Replica {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0005);
    let fx = SpaceFixture::new(&mut rng);
    let (editor, c_editor) = fx.admit(&mut rng, &fx.owner, Role::Editor, vec![fx.tip()]);
    let tip = c_editor[2].id();
    let control = entries_chain(&fx.owner.control, c_editor.iter().map(Canonical::to_bytes).collect());
    let x = ItemId([0x31; 16]);
    let o0 = fx.owner.data_entry(0, None, vec![tip], 1, vec![Op::Create { item: x, type_name: "t".into() }]);
    let e0 = editor.data_entry(0, None, vec![tip], 2, vec![Op::Delete { item: x }]);
    let e1 = editor.data_entry(1, Some(e0.hash()), vec![tip], 3, vec![Op::Create { item: x, type_name: "u".into() }]);
    let all: Vec<FeedEntry> = control.iter().cloned().chain([o0, e0.clone(), e1.clone()]).collect();
    let mut feeds =
        vec![pos(fx.owner.control.public(), 3), pos(editor.data.public(), 2), pos(fx.owner.data.public(), 1)];
    feeds.sort();
    Replica {
        space: fx.space(),
        fx,
        control,
        editor_entries: vec![e0, e1],
        all,
        feeds,
        editor_data: editor.data.public(),
    }
}

fn message(msg: SwarmMessage) -> Value {
    json!({ "bytes": hex(msg.to_bytes()) })
}

fn decode_cases(f: &mut VectorFile, r: &Replica) {
    let (space, feeds) = (r.space, &r.feeds);
    let t = f.group(DECODE);
    t.push(valid(
        DECODE,
        "Have of three feeds",
        &["Valid"],
        message(SwarmMessage::Have { space, feeds: feeds.clone() }),
    ));
    let entries = SwarmMessage::Entries { space, entries: r.editor_entries.clone() };
    t.push(valid(DECODE, "Entries carrying two entries", &["Valid"], message(entries)));
    t.push(valid(DECODE, "Refused", &["Valid"], message(SwarmMessage::Refused { space })));
    let mut unsorted = feeds.clone();
    unsorted.reverse();
    let have = message(SwarmMessage::Have { space, feeds: unsorted });
    t.push(invalid(DECODE, "Have feeds in descending order", &["UnsortedSet"], have));
    let have = message(SwarmMessage::Have { space, feeds: vec![feeds[0], feeds[0]] });
    t.push(invalid(DECODE, "Have lists a feed twice", &["UnsortedSet"], have));
    let refused = SwarmMessage::Refused { space }.to_bytes();
    let bytes = |b: Vec<u8>| json!({ "bytes": hex(b) });
    t.push(invalid(DECODE, "message index 3", &["UnknownVariant"], bytes([&[3u8][..], &refused[1..]].concat())));
    t.push(invalid(DECODE, "Refused with a trailing byte", &["Malformed"], bytes([&refused[..], &[0]].concat())));
    t.push(invalid(DECODE, "Refused cut short", &["Malformed"], bytes(refused[..20].to_vec())));
    let mut inner = SwarmMessage::Entries { space, entries: vec![r.editor_entries[0].clone()] }.to_bytes();
    inner[1 + 32 + 1] = 2; // the entry's version byte
    t.push(acceptable(DECODE, "Entries holding an entry of version 2", &["InnerEntryVersion"], bytes(inner)));
}

fn missing_cases(f: &mut VectorFile, r: &Replica) {
    let input = |have: Vec<FeedPosition>| -> Value {
        json!({
            "space": hex(r.space.0),
            "credentials": hex_list(r.fx.genesis.iter().map(Canonical::to_bytes)),
            "entries": hex_list(r.all.iter().map(Canonical::to_bytes)),
            "have": have.iter().map(|p| json!({ "feed": hex(p.feed.0), "length": p.length })).collect::<Vec<_>>(),
        })
    };
    let t = f.group(MISSING);
    let comment = "the peer has nothing: everything, control feed first";
    let fresh = valid(MISSING, comment, &["Valid", "ControlFirst"], input(vec![]));
    assert_eq!(fresh.output["missing"].as_array().map(Vec::len), Some(6));
    assert_eq!(fresh.output["missing"][0], hex(r.control[0].to_bytes()), "control entries lead");
    t.push(fresh);
    let partial = input(vec![pos(r.fx.owner.control.public(), 3), pos(r.editor_data, 1)]);
    t.push(valid(MISSING, "the peer has the control feed and one editor entry", &["Valid"], partial));
    let same = valid(MISSING, "the peer has everything: nothing to send", &["Valid"], input(r.feeds.clone()));
    assert_eq!(same.output["missing"], json!([]));
    t.push(same);
    let ahead = r.feeds.iter().map(|p| pos(p.feed, p.length + 5)).collect();
    t.push(valid(MISSING, "the peer is ahead on every feed: nothing to send", &["Valid"], input(ahead)));
    let unknown = input(vec![pos(PublicKey([0xee; 32]), 4)]);
    t.push(valid(MISSING, "the peer names a feed we do not know", &["Valid"], unknown));
}

pub fn file() -> VectorFile {
    let mut f = VectorFile::new("replication.json", "spaces/1 replication messages");
    notes(&mut f);
    let r = replica();
    decode_cases(&mut f, &r);
    missing_cases(&mut f, &r);
    f
}
