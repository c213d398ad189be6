//! `replication.json`: replication messages (SPEC.md §9.3.1) and which entries a peer's
//! `Have` shows it lacks (§9.3.2).

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::{Value, json};
use spaces_protocol::Canonical;
use spaces_protocol::Role;
use spaces_protocol::credential::{Credential, FeedPosition};
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
const HEARD: &str = "replication.ingest_heard";

fn notes(f: &mut VectorFile) {
    f.note("Valid", "Functionality", "A canonical message, or the exact answer to a Have.");
    f.note("UnsortedSet", "Malleability", "Have feeds, or Halo contacts or spaces, not strictly ascending (§9.3.1).");
    f.note("Halo", "Functionality", "The HALO messages between two devices of one identity (§9.8): Halo and HaloJoin.");
    f.note("SameFeed", "Malleability", "A HaloJoin naming one key as both of its feeds (§9.3.1).");
    f.note("UnknownVariant", "Versioning", "A message index this version does not define.");
    f.note("Malformed", "Robustness", "Truncated, trailing, or an entry inside that does not decode strictly.");
    f.note("InnerEntryVersion", "Versioning", "An Entries message whose entry has version 2. SPEC §2.3 rule 9 asks decoders to refuse it; the reference decodes the message and refuses the entry when it ingests it (Feed::append), so either answer is acceptable until the reference decodes inner entries strictly.");
    f.note(
        "HeardLimit",
        "Resources",
        "Entries from a device that is no current member's stop at the feed's heard limit (SPEC §9.2.2 rule 6): none of a data feed, and of a removed member's control feed what the removal had seen plus HEARD_ENTRIES_MAX (32); the rest is refused, so a removed member cannot make replicas store without bound.",
    );
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
    let device = r.fx.owner.identity.device_credential().clone();
    let (a, b) = (PublicKey([0x21; 32]), PublicKey([0x22; 32]));
    let halo = SwarmMessage::Halo { devices: vec![device.clone()], contacts: vec![a, b], spaces: vec![space] };
    t.push(valid(DECODE, "Halo with one device, two contacts and one space", &["Valid", "Halo"], message(halo)));
    let join = SwarmMessage::HaloJoin { space, control_feed: a, data_feed: b };
    t.push(valid(DECODE, "HaloJoin", &["Valid", "Halo"], message(join)));
    let halo = SwarmMessage::Halo { devices: vec![device], contacts: vec![b, a], spaces: vec![] };
    t.push(invalid(DECODE, "Halo contacts in descending order", &["UnsortedSet", "Halo"], message(halo)));
    let join = SwarmMessage::HaloJoin { space, control_feed: a, data_feed: a };
    t.push(invalid(DECODE, "HaloJoin naming one feed twice", &["SameFeed", "Halo"], message(join)));
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

/// Entries from a heard device (§9.2.2 rule 6): a removed admin's control feed, whose
/// credentials (role changes of another member, each citing the one before) its removal saw
/// in part or not at all, the same feed while the admin is a member, and its data feed.
fn heard_cases(f: &mut VectorFile) {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0006);
    let fx = SpaceFixture::new(&mut rng);
    let (admin, c_admin) = fx.admit(&mut rng, &fx.owner, Role::Admin, vec![fx.tip()]);
    let (other, c_other) = fx.admit(&mut rng, &fx.owner, Role::Reader, vec![c_admin[2].id()]);
    let owner_creds: Vec<Credential> = c_admin.iter().chain(&c_other).cloned().collect();
    let owner_control = entries_chain(&fx.owner.control, owner_creds.iter().map(Canonical::to_bytes).collect());
    let admin_chain = |seen: usize, after: usize| -> (Vec<Credential>, Vec<FeedEntry>) {
        let mut creds: Vec<Credential> = Vec::new();
        for k in 0..seen + after {
            let parent = creds.last().map_or(c_other[2].id(), Credential::id);
            let role = if k % 2 == 0 { Role::Editor } else { Role::Reader };
            creds.push(fx.grant(&admin, other.key(), role, vec![parent]));
        }
        let entries = entries_chain(&admin.control, creds.iter().map(Canonical::to_bytes).collect());
        (creds, entries)
    };
    let input = |removal: Option<Credential>, held: &[FeedEntry], heard: &[FeedEntry]| -> Value {
        let credentials = fx.genesis.iter().chain(&owner_creds).chain(&removal).map(Canonical::to_bytes);
        json!({
            "space": hex(fx.space().0),
            "credentials": hex_list(credentials),
            "entries": hex_list(owner_control.iter().chain(held).map(Canonical::to_bytes)),
            "heard": hex_list(heard.iter().map(Canonical::to_bytes)),
        })
    };
    let t = f.group(HEARD);
    // Removed after its admission only: 40 credentials later, 32 are taken.
    let (_, late) = admin_chain(0, 40);
    let removal = removal_of(&fx, &admin, &c_other);
    let v = valid(
        HEARD,
        "a removed admin's 40 later credentials: 32 taken",
        &["Valid", "HeardLimit"],
        input(Some(removal.clone()), &[], &late),
    );
    assert_eq!((v.output["new"].as_u64(), v.output["refused"].as_u64()), (Some(32), Some(8)), "{}", v.output);
    t.push(v);
    // The removal had seen 2 of its credentials (held): the limit is 2 + 32.
    let (creds, chain) = admin_chain(2, 40);
    let saw_two = fx.grant(&fx.owner, admin.key(), Role::Removed, vec![creds[1].id()]);
    let comment = "a removed admin whose removal saw 2 of its credentials: 2 + 32";
    let v = valid(HEARD, comment, &["Valid", "HeardLimit"], input(Some(saw_two), &chain[..2], &chain));
    assert_eq!((v.output["duplicate"].as_u64(), v.output["new"].as_u64()), (Some(2), Some(32)), "{}", v.output);
    t.push(v);
    // The same feed while its identity is a member: no limit.
    let v =
        valid(HEARD, "a current admin's 40 credentials: all taken", &["Valid", "HeardLimit"], input(None, &[], &late));
    assert_eq!(v.output["new"].as_u64(), Some(40), "{}", v.output);
    t.push(v);
    // A removed member's data feed: nothing.
    let x = ItemId([0x32; 16]);
    let data: Vec<FeedEntry> = (0..3u64)
        .scan(None, |prev: &mut Option<FeedEntry>, k| {
            let e = admin.data_entry(
                k,
                prev.as_ref().map(FeedEntry::hash),
                vec![c_other[2].id()],
                k + 1,
                vec![Op::Create { item: x, type_name: "t".into() }],
            );
            *prev = Some(e.clone());
            Some(e)
        })
        .collect();
    let v = valid(
        HEARD,
        "a removed admin's data entries: none taken",
        &["Valid", "HeardLimit"],
        input(Some(removal.clone()), &[], &data),
    );
    assert_eq!(v.output["new"].as_u64(), Some(0), "{}", v.output);
    t.push(v);
}

fn removal_of(fx: &SpaceFixture, member: &spaces_protocol::fixture::Actor, after: &[Credential]) -> Credential {
    fx.grant(&fx.owner, member.key(), Role::Removed, vec![after[after.len() - 1].id()])
}

pub fn file() -> VectorFile {
    let mut f = VectorFile::new("replication.json", "spaces/1 replication messages");
    notes(&mut f);
    let r = replica();
    decode_cases(&mut f, &r);
    missing_cases(&mut f, &r);
    heard_cases(&mut f);
    f
}
