//! `items.json`: the items a replica shows for sets of credentials and data entries (SPEC.md
//! §6): merge, last-writer-wins ties, deletion, readers, pending and malformed writes, and
//! writes concurrent with their author's removal.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::json;
use spaces_protocol::credential::{Credential, CredentialId, FeedPosition};
use spaces_protocol::feed::FeedEntry;
use spaces_protocol::fixture::{Actor, SpaceFixture};
use spaces_protocol::item::{ItemId, Op, Value as ItemValue};
use spaces_protocol::{Assertion, Designation, Role};

use super::sets::Sets;
use crate::file::VectorFile;

const MERGE: &str = "items.merge";
const X: ItemId = ItemId([0x11; 16]);

fn notes(f: &mut VectorFile) {
    f.note("Valid", "Functionality", "The items and per-entry verdicts a replica shows for the set.");
    f.note("Reordered", "Determinism", "The same set as a neighbouring test, in another order (§0.5, §6.5).");
    f.note("LwwTie", "Convergence", "Two writes with one Lamport clock: the greater feed key wins (§6.5).");
    f.note("ReaderWrite", "Authorization", "A READER's write is void (§6.4).");
    f.note(
        "WriteAfterRemoval",
        "StrongRemoval",
        "Writes beyond the frontier of a concurrent removal are void; those within it stand (§4.5, §6.4).",
    );
    f.note("Delete", "Functionality", "Deletion is a register too: a later create revives the item.");
    f.note(
        "Pending",
        "Causality",
        "A write whose control point names a credential the replica lacks is judged when it arrives, not before (§6.4).",
    );
    f.note(
        "FeedAlreadyAdmitted",
        "Authorization",
        "A second AdmittedFeed for a feed key already admitted is ignored (§4.4 step 8): the first admission's identity owns the feed, so re-admitting a reader's feed as an editor's gives the reader no write access.",
    );
    f.note(
        "Malformed",
        "Robustness",
        "A signed data entry whose payload does not decode as a Mutation is void on every replica (§6.4).",
    );
    f.note(
        "DeviceRemoved",
        "StrongRemoval",
        "Writes of a device its identity removed: within the removal's frontier kept, beyond it or citing the removal void (§6.4 rule 5); the identity's other device writes on.",
    );
}

/// A space with two editors and a reader, and the owner's entry creating item X.
struct Writers {
    fx: SpaceFixture,
    creds: Vec<Credential>,
    editor: Actor,
    editor2: Actor,
    reader: Actor,
    tip: CredentialId,
    create: FeedEntry,
}

fn writers() -> Writers {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0004);
    let fx = SpaceFixture::new(&mut rng);
    let (editor, c1) = fx.admit(&mut rng, &fx.owner, Role::Editor, vec![fx.tip()]);
    let (editor2, c2) = fx.admit(&mut rng, &fx.owner, Role::Editor, vec![c1[2].id()]);
    let (reader, c3) = fx.admit(&mut rng, &fx.owner, Role::Reader, vec![c2[2].id()]);
    let tip = c3[2].id();
    let creds = [fx.genesis.clone(), c1, c2, c3].concat();
    let ops = vec![Op::Create { item: X, type_name: "task".into() }, set("title", text("write vectors"))];
    let create = fx.owner.data_entry(0, None, vec![tip], 1, ops);
    Writers { fx, creds, editor, editor2, reader, tip, create }
}

fn set(field: &str, v: ItemValue) -> Op {
    Op::Set { item: X, field: field.into(), value: v }
}

fn text(s: &str) -> ItemValue {
    ItemValue::Text(s.into())
}

fn merge(s: &mut Sets<'_>, w: &Writers) {
    let tip = w.tip;
    let e1 = w.editor.data_entry(
        0,
        None,
        vec![tip],
        2,
        vec![set("done", ItemValue::Bool(false)), set("n", ItemValue::Int(-7))],
    );
    let ops = vec![set("done", ItemValue::Bool(true)), set("blob", ItemValue::Bytes(vec![1, 2, 3]))];
    let e2 = w.editor.data_entry(1, Some(e1.hash()), vec![tip], 3, ops);
    s.case("owner creates, an editor sets fields twice", &["Valid"], &w.creds, &[w.create.clone(), e1, e2]);
    // Same Lamport clock on two feeds: the greater data-feed key wins.
    let a = w.editor.data_entry(0, None, vec![tip], 2, vec![set("title", text("from editor"))]);
    let b = w.editor2.data_entry(0, None, vec![tip], 2, vec![set("title", text("from editor2"))]);
    let editor_wins = w.editor.data.public() > w.editor2.data.public();
    let (winner, hi, lo) = if editor_wins { ("from editor", a, b) } else { ("from editor2", b, a) };
    let entries = [w.create.clone(), hi, lo];
    let r = s.case("concurrent sets with equal Lamport clocks", &["Valid", "LwwTie"], &w.creds, &entries);
    assert_eq!(r["items"][0]["fields"]["title"]["text"], winner);
    let stale = w.editor2.data_entry(0, None, vec![tip], 1, vec![set("title", text("stale"))]);
    let newer = w.editor.data_entry(0, None, vec![tip], 5, vec![set("title", text("newer"))]);
    let entries = [w.create.clone(), newer, stale];
    let r = s.case("a higher Lamport clock wins whatever arrives last", &["Valid"], &w.creds, &entries);
    assert_eq!(r["items"][0]["fields"]["title"]["text"], "newer");
}

fn deletion(s: &mut Sets<'_>, w: &Writers) {
    let del = w.editor.data_entry(0, None, vec![w.tip], 4, vec![Op::Delete { item: X }]);
    let entries = [w.create.clone(), del.clone()];
    let r = s.case("an editor deletes the item", &["Valid", "Delete"], &w.creds, &entries);
    assert_eq!(r["items"], json!([]));
    let ops = vec![Op::Create { item: X, type_name: "note".into() }];
    let revive = w.fx.owner.data_entry(1, Some(w.create.hash()), vec![w.tip], 6, ops);
    let entries = [w.create.clone(), del, revive];
    let r = s.case("re-created after the delete with a later clock", &["Valid", "Delete"], &w.creds, &entries);
    assert_eq!(r["items"][0]["type"], "note");
}

fn verdicts_of(r: &serde_json::Value, verdict: &str) -> bool {
    r["verdicts"].as_array().is_some_and(|v| v.iter().any(|v| v["verdict"] == verdict))
}

fn void_writes(s: &mut Sets<'_>, w: &Writers) {
    let rw = w.reader.data_entry(0, None, vec![w.tip], 9, vec![set("title", text("by reader"))]);
    let entries = [w.create.clone(), rw];
    let r = s.case("a reader's write is void", &["Valid", "ReaderWrite"], &w.creds, &entries);
    assert_eq!(r["items"][0]["fields"]["title"]["text"], "write vectors");
    let unknown = CredentialId(spaces_protocol::hash::Digest([0xcc; 32]));
    let pending = w.editor.data_entry(0, None, vec![unknown], 7, vec![set("title", text("too early"))]);
    let entries = [w.create.clone(), pending];
    let r = s.case("a write citing a credential the replica lacks waits", &["Valid", "Pending"], &w.creds, &entries);
    assert!(verdicts_of(&r, "pending"));
    let garbage = FeedEntry::sign(&w.editor.data, 0, None, vec![0xde, 0xad]);
    let entries = [w.create.clone(), garbage];
    let comment = "a data entry whose payload is not a mutation is void";
    let r = s.case(comment, &["Valid", "Malformed"], &w.creds, &entries);
    assert!(verdicts_of(&r, "malformed"));
}

/// The owner removes the editor, recording that 1 entry of its data feed stands; the editor,
/// concurrently, writes entries 0 and 1.
fn writes_after_removal(s: &mut Sets<'_>, w: &Writers) {
    let (fx, tip) = (&w.fx, w.tip);
    let frontier = vec![FeedPosition { feed: w.editor.data.public(), length: 1 }];
    let removal = fx.grant_with_frontier(&fx.owner, w.editor.key(), Role::Removed, vec![tip], frontier);
    let w0 = w.editor.data_entry(0, None, vec![tip], 2, vec![set("a", text("kept"))]);
    let w1 = w.editor.data_entry(1, Some(w0.hash()), vec![tip], 3, vec![set("b", text("void"))]);
    let creds = [w.creds.clone(), vec![removal.clone()]].concat();
    let comment = "writes concurrent with a removal: within the frontier kept, beyond it void";
    let r = s.case(comment, &["Valid", "WriteAfterRemoval"], &creds, &[w.create.clone(), w0.clone(), w1]);
    assert_eq!(r["items"][0]["fields"]["a"]["text"], "kept");
    assert!(r["items"][0]["fields"].get("b").is_none());
    let w1_after = w.editor.data_entry(1, Some(w0.hash()), vec![removal.id()], 4, vec![set("b", text("void"))]);
    let entries = [w.create.clone(), w0, w1_after];
    let r = s.case("a write that cites its author's removal", &["Valid", "WriteAfterRemoval"], &creds, &entries);
    assert!(r["items"][0]["fields"].get("b").is_none());
}

/// The owner re-admits the reader's data feed, naming the editor as its identity (appended
/// last: files only grow). The first admission stands (`FeedAlreadyAdmitted`), so the
/// reader's write is still a reader's. An implementation where the later admission wins
/// answers `applied` with the reader's title.
fn feed_already_admitted(s: &mut Sets<'_>, w: &Writers) {
    let assertion = Assertion::AdmittedFeed {
        space: w.fx.space(),
        identity: w.editor.key(),
        device: w.editor.identity.device_key(),
        noise_key: w.editor.identity.noise_key(),
        designation: Designation::Data,
    };
    let readmit = w.fx.owner.identity.signer().issue(w.reader.data.public(), assertion, w.fx.now, vec![w.tip]);
    let rw = w.reader.data_entry(0, None, vec![readmit.id()], 9, vec![set("title", text("by reader as editor"))]);
    let creds = [w.creds.clone(), vec![readmit]].concat();
    let comment = "a reader's data feed re-admitted as an editor's: the first admission stands, the write is void";
    let r = s.case(comment, &["Valid", "FeedAlreadyAdmitted"], &creds, &[w.create.clone(), rw]);
    assert_eq!(r["items"][0]["fields"]["title"]["text"], "write vectors");
    assert!(verdicts_of(&r, "noWriteAccess"), "{r}");
}

/// The editor links a second device (`lost`, feeds admitted by itself). The editor's first
/// device removes it, recording that 1 entry of its data feed stands; `lost`, concurrently,
/// writes entries 0 and 1, and then one citing the removal. Appended last: files only grow.
fn device_removed(s: &mut Sets<'_>, w: &Writers) {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0014);
    let lost = w.editor.linked_device(&mut rng, w.fx.now);
    let feeds = w.fx.admit_feeds(&lost, &lost, vec![w.tip]);
    let tip = feeds[1].id();
    let frontier = vec![FeedPosition { feed: lost.data.public(), length: 1 }];
    let removal = w.fx.remove_device(&w.editor, lost.identity.device_key(), vec![tip], frontier);
    let w0 = lost.data_entry(0, None, vec![tip], 2, vec![set("a", text("kept"))]);
    let w1 = lost.data_entry(1, Some(w0.hash()), vec![tip], 3, vec![set("b", text("void"))]);
    let w2 = lost.data_entry(2, Some(w1.hash()), vec![removal.id()], 4, vec![set("c", text("void"))]);
    let by_editor = w.editor.data_entry(0, None, vec![removal.id()], 5, vec![set("d", text("kept"))]);
    let creds = [w.creds.clone(), feeds, vec![removal]].concat();
    let comment = "a removed device's writes: within the frontier kept, beyond it or after the removal void";
    let entries = [w.create.clone(), w0, w1, w2, by_editor];
    let r = s.case(comment, &["Valid", "DeviceRemoved"], &creds, &entries);
    let fields = &r["items"][0]["fields"];
    assert_eq!(fields["a"]["text"], "kept");
    assert_eq!(fields["d"]["text"], "kept");
    assert!(fields.get("b").is_none() && fields.get("c").is_none(), "{r}");
    assert!(verdicts_of(&r, "deviceRemoved"), "{r}");
}

pub fn file() -> VectorFile {
    let mut f = VectorFile::new("items.json", "spaces/1 items: last-writer-wins merge of data feeds");
    notes(&mut f);
    let w = writers();
    let mut s = Sets::new(MERGE, &w.fx);
    merge(&mut s, &w);
    void_writes(&mut s, &w);
    deletion(&mut s, &w);
    writes_after_removal(&mut s, &w);
    feed_already_admitted(&mut s, &w);
    device_removed(&mut s, &w);
    s.into_file(&mut f);
    f
}
