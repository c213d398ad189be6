//! `membership.json`, `feeds.json` and `items.json`: replicas computed from sets of
//! credentials and entries (SPEC.md §4–6). Every set that order could matter for appears in
//! more than one order, with the same expected output.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::{Value, json};
use spaces_protocol::Canonical;
use spaces_protocol::Role;
use spaces_protocol::credential::{Credential, CredentialId, FeedPosition};
use spaces_protocol::feed::{EntryHash, FeedEntry};
use spaces_protocol::fixture::{Actor, SpaceFixture};
use spaces_protocol::item::{ItemId, Op, Value as ItemValue};
use spaces_protocol::keys::Keypair;

use super::{invalid, valid};
use crate::file::{Test, VectorFile};
use crate::json::{hex, hex_list};

const RESOLVE: &str = "membership.resolve";
const FEED: &str = "feed.verify";
const MERGE: &str = "items.merge";

fn set_input(fx: &SpaceFixture, creds: &[Credential], entries: &[FeedEntry]) -> Value {
    json!({
        "space": hex(fx.space().0),
        "credentials": hex_list(creds.iter().map(Canonical::to_bytes)),
        "entries": hex_list(entries.iter().map(Canonical::to_bytes)),
    })
}

fn role_of(t: &Test, who: &Actor) -> Option<String> {
    let key = hex::encode(who.key().0);
    t.output["members"]
        .as_array()?
        .iter()
        .find(|m| m["identity"] == key.as_str())
        .map(|m| m["role"].as_str().unwrap_or("").to_owned())
}

/// Pushes the set in the given order, reversed, and rotated by half; asserts they agree.
fn orders(
    t: &mut Vec<Test>,
    op: &'static str,
    fx: &SpaceFixture,
    comment: &str,
    flags: &[&'static str],
    creds: &[Credential],
    entries: &[FeedEntry],
) -> Test {
    let first = valid(op, &format!("{comment} (causal order)"), flags, set_input(fx, creds, entries));
    let mut rc = creds.to_vec();
    rc.reverse();
    let mut re = entries.to_vec();
    re.reverse();
    let mut flags_reordered = flags.to_vec();
    flags_reordered.push("Reordered");
    let reversed = valid(op, &format!("{comment} (reversed)"), &flags_reordered, set_input(fx, &rc, &re));
    assert_eq!(first.output, reversed.output, "{comment}: order changed the answer");
    let mut sc = creds.to_vec();
    sc.rotate_left(creds.len() / 2);
    let mut se = entries.to_vec();
    se.rotate_left(entries.len() / 2);
    let rotated = valid(op, &format!("{comment} (rotated by half)"), &flags_reordered, set_input(fx, &sc, &se));
    assert_eq!(first.output, rotated.output, "{comment}: order changed the answer");
    t.push(first.clone());
    t.push(reversed);
    t.push(rotated);
    first
}

fn membership_notes(f: &mut VectorFile) {
    f.note("Valid", "Functionality", "The expected members and roles of the set.");
    f.note(
        "Reordered",
        "Determinism",
        "The same set as a neighbouring test, in another order: membership is a function of the set (§0.5, §4.2).",
    );
    f.note(
        "ConcurrentRemoval",
        "StrongRemoval",
        "Operations concurrent with the removal or demotion of their issuer are void (§4.5).",
    );
    f.note("MutualRemoval", "StrongRemoval", "Two admins remove each other concurrently: both are removed (§4.5).");
    f.note(
        "SelfChange",
        "Authorization",
        "A member changes its own role; always ignored (§4.4), whatever the direction.",
    );
    f.note("NoAuthority", "Authorization", "A grant by a member whose role may not make it (§4.3).");
    f.note("OwnerProtected", "Authorization", "Only the space key assigns or removes OWNER (§4.3).");
    f.note("InvalidCredential", "Authentication", "A credential that does not verify is ignored, not fatal.");
}

pub fn membership() -> VectorFile {
    let mut f = VectorFile::new("membership.json", "spaces/1 membership resolution");
    membership_notes(&mut f);
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0003);
    let fx = SpaceFixture::new(&mut rng);
    let g = fx.genesis.clone();
    let t = f.group(RESOLVE);
    t.push(valid(RESOLVE, "genesis only: the creator is OWNER", &["Valid"], set_input(&fx, &g, &[])));

    let (admin, c_admin) = fx.admit(&mut rng, &fx.owner, Role::Admin, vec![fx.tip()]);
    let (editor, c_editor) = fx.admit(&mut rng, &admin, Role::Editor, vec![c_admin[2].id()]);
    let (reader, c_reader) = fx.admit(&mut rng, &admin, Role::Reader, vec![c_editor[2].id()]);
    let base: Vec<Credential> = [g.clone(), c_admin.clone(), c_editor.clone(), c_reader.clone()].concat();
    let tip = c_reader[2].id();
    let r = orders(t, RESOLVE, &fx, "owner admits an admin, who admits an editor and a reader", &["Valid"], &base, &[]);
    assert_eq!(role_of(&r, &reader).as_deref(), Some("reader"));

    let by_editor = fx.grant(&editor, fx.owner.key(), Role::Reader, vec![tip]);
    let outsider = Actor::new(&mut rng, fx.now);
    let editor_admits = fx.grant(&editor, outsider.key(), Role::Editor, vec![tip]);
    let r = orders(
        t,
        RESOLVE,
        &fx,
        "an editor grants a role: ignored",
        &["Valid", "NoAuthority"],
        &[base.clone(), vec![by_editor, editor_admits]].concat(),
        &[],
    );
    assert_eq!(role_of(&r, &outsider), None);

    let up = fx.grant(&editor, editor.key(), Role::Admin, vec![tip]);
    let r = orders(
        t,
        RESOLVE,
        &fx,
        "an editor promotes itself to ADMIN: ignored",
        &["Valid", "SelfChange"],
        &[base.clone(), vec![up]].concat(),
        &[],
    );
    assert_eq!(role_of(&r, &editor).as_deref(), Some("editor"));
    let up = fx.grant(&admin, admin.key(), Role::Owner, vec![tip]);
    let r = orders(
        t,
        RESOLVE,
        &fx,
        "an admin promotes itself to OWNER: ignored",
        &["Valid", "SelfChange", "OwnerProtected"],
        &[base.clone(), vec![up]].concat(),
        &[],
    );
    assert_eq!(role_of(&r, &admin).as_deref(), Some("admin"));
    let down = fx.grant(&admin, admin.key(), Role::Reader, vec![tip]);
    let r = orders(
        t,
        RESOLVE,
        &fx,
        "an admin demotes itself: ignored too",
        &["Valid", "SelfChange"],
        &[base.clone(), vec![down]].concat(),
        &[],
    );
    assert_eq!(role_of(&r, &admin).as_deref(), Some("admin"));
    let oust = fx.grant(&admin, fx.owner.key(), Role::Removed, vec![tip]);
    let r = orders(
        t,
        RESOLVE,
        &fx,
        "an admin removes the owner: ignored",
        &["Valid", "OwnerProtected"],
        &[base.clone(), vec![oust]].concat(),
        &[],
    );
    assert_eq!(role_of(&r, &fx.owner).as_deref(), Some("owner"));

    // Strong removal: the owner removes the admin while, concurrently, the admin admits a
    // newcomer and demotes the editor. Both concurrent acts are void.
    let remove_admin = fx.grant(&fx.owner, admin.key(), Role::Removed, vec![tip]);
    let (late, c_late) = fx.admit(&mut rng, &admin, Role::Editor, vec![tip]);
    let demote = fx.grant(&admin, editor.key(), Role::Reader, vec![tip]);
    let set = [base.clone(), vec![remove_admin.clone()], c_late.clone(), vec![demote]].concat();
    let r = orders(
        t,
        RESOLVE,
        &fx,
        "owner removes an admin; the admin's concurrent grant and demotion are void",
        &["Valid", "ConcurrentRemoval"],
        &set,
        &[],
    );
    assert_eq!(role_of(&r, &admin).as_deref(), Some("removed"));
    assert_eq!(role_of(&r, &late), None);
    assert_eq!(role_of(&r, &editor).as_deref(), Some("editor"));
    // The same grant *after* the removal (citing it) is no authority at all.
    let after = fx.grant(&admin, late.key(), Role::Editor, vec![remove_admin.id()]);
    let r = orders(
        t,
        RESOLVE,
        &fx,
        "a removed admin grants after its removal: ignored",
        &["Valid", "NoAuthority"],
        &[base.clone(), vec![remove_admin.clone(), after]].concat(),
        &[],
    );
    assert_eq!(role_of(&r, &late), None);

    // Mutual removal between two admins.
    let (admin2, c_admin2) = fx.admit(&mut rng, &fx.owner, Role::Admin, vec![tip]);
    let tip2 = c_admin2[2].id();
    let a_removes_b = fx.grant(&admin, admin2.key(), Role::Removed, vec![tip2]);
    let b_removes_a = fx.grant(&admin2, admin.key(), Role::Removed, vec![tip2]);
    let set = [base.clone(), c_admin2.clone(), vec![a_removes_b, b_removes_a]].concat();
    let r = orders(
        t,
        RESOLVE,
        &fx,
        "two admins remove each other concurrently: both removed",
        &["Valid", "MutualRemoval", "ConcurrentRemoval"],
        &set,
        &[],
    );
    assert_eq!(role_of(&r, &admin).as_deref(), Some("removed"));
    assert_eq!(role_of(&r, &admin2).as_deref(), Some("removed"));
    // Concurrent demotion and promotion of the same member by two admins.
    let promote = fx.grant(&admin, reader.key(), Role::Editor, vec![tip2]);
    let demote_admin = fx.grant(&admin2, admin.key(), Role::Reader, vec![tip2]);
    let set = [base.clone(), c_admin2.clone(), vec![promote, demote_admin]].concat();
    let r = orders(
        t,
        RESOLVE,
        &fx,
        "an admin promotes a reader while demoted concurrently: promotion void",
        &["Valid", "ConcurrentRemoval"],
        &set,
        &[],
    );
    assert_eq!(role_of(&r, &reader).as_deref(), Some("reader"));
    assert_eq!(role_of(&r, &admin).as_deref(), Some("reader"));

    let mut broken = c_editor[0].clone();
    broken.signature.0[7] ^= 4;
    let r = orders(
        t,
        RESOLVE,
        &fx,
        "a grant with a bad signature (and the feeds it would admit) is ignored",
        &["Valid", "InvalidCredential"],
        &[g.clone(), c_admin.clone(), vec![broken]].concat(),
        &[],
    );
    assert_eq!(role_of(&r, &editor), None);
    f
}

fn feed_notes(f: &mut VectorFile) {
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

pub fn feeds() -> VectorFile {
    let mut f = VectorFile::new("feeds.json", "spaces/1 feeds: signed hash-linked logs");
    feed_notes(&mut f);
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

fn item_notes(f: &mut VectorFile) {
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
    f.note("Pending", "Causality", "A write whose control point names a credential the replica lacks is judged when it arrives, not before (§6.4).");
    f.note(
        "Malformed",
        "Robustness",
        "A signed data entry whose payload does not decode as a Mutation is void on every replica (§6.4).",
    );
}

struct Writers {
    fx: SpaceFixture,
    creds: Vec<Credential>,
    editor: Actor,
    editor2: Actor,
    reader: Actor,
    tip: CredentialId,
}

fn writers() -> Writers {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0004);
    let fx = SpaceFixture::new(&mut rng);
    let (editor, c1) = fx.admit(&mut rng, &fx.owner, Role::Editor, vec![fx.tip()]);
    let (editor2, c2) = fx.admit(&mut rng, &fx.owner, Role::Editor, vec![c1[2].id()]);
    let (reader, c3) = fx.admit(&mut rng, &fx.owner, Role::Reader, vec![c2[2].id()]);
    let tip = c3[2].id();
    let creds = [fx.genesis.clone(), c1, c2, c3].concat();
    Writers { fx, creds, editor, editor2, reader, tip }
}

fn set(item: ItemId, field: &str, v: ItemValue) -> Op {
    Op::Set { item, field: field.into(), value: v }
}

pub fn items() -> VectorFile {
    let mut f = VectorFile::new("items.json", "spaces/1 items: last-writer-wins merge of data feeds");
    item_notes(&mut f);
    let w = writers();
    let (fx, tip) = (&w.fx, w.tip);
    let x = ItemId([0x11; 16]);
    let text = |s: &str| ItemValue::Text(s.into());
    let create = w.fx.owner.data_entry(
        0,
        None,
        vec![tip],
        1,
        vec![Op::Create { item: x, type_name: "task".into() }, set(x, "title", text("write vectors"))],
    );
    let e1 = w.editor.data_entry(
        0,
        None,
        vec![tip],
        2,
        vec![set(x, "done", ItemValue::Bool(false)), set(x, "n", ItemValue::Int(-7))],
    );
    let e2 = w.editor.data_entry(
        1,
        Some(e1.hash()),
        vec![tip],
        3,
        vec![set(x, "done", ItemValue::Bool(true)), set(x, "blob", ItemValue::Bytes(vec![1, 2, 3]))],
    );
    let t = f.group(MERGE);
    orders(
        t,
        MERGE,
        fx,
        "owner creates, an editor sets fields twice",
        &["Valid"],
        &w.creds,
        &[create.clone(), e1.clone(), e2.clone()],
    );

    // Same Lamport clock on two feeds: the greater data-feed key wins.
    let a = w.editor.data_entry(0, None, vec![tip], 2, vec![set(x, "title", text("from editor"))]);
    let b = w.editor2.data_entry(0, None, vec![tip], 2, vec![set(x, "title", text("from editor2"))]);
    let winner = if w.editor.data.public() > w.editor2.data.public() { "from editor" } else { "from editor2" };
    let (hi, lo) = if winner == "from editor" { (a.clone(), b.clone()) } else { (b.clone(), a.clone()) };
    let r = orders(
        t,
        MERGE,
        fx,
        "concurrent sets with equal Lamport clocks",
        &["Valid", "LwwTie"],
        &w.creds,
        &[create.clone(), hi.clone(), lo.clone()],
    );
    assert_eq!(r.output["items"][0]["fields"]["title"]["text"], winner);
    let stale = w.editor2.data_entry(0, None, vec![tip], 1, vec![set(x, "title", text("stale"))]);
    let newer = w.editor.data_entry(0, None, vec![tip], 5, vec![set(x, "title", text("newer"))]);
    let r = orders(
        t,
        MERGE,
        fx,
        "a higher Lamport clock wins whatever arrives last",
        &["Valid"],
        &w.creds,
        &[create.clone(), newer.clone(), stale],
    );
    assert_eq!(r.output["items"][0]["fields"]["title"]["text"], "newer");

    let rw = w.reader.data_entry(0, None, vec![tip], 9, vec![set(x, "title", text("by reader"))]);
    let r =
        orders(t, MERGE, fx, "a reader's write is void", &["Valid", "ReaderWrite"], &w.creds, &[create.clone(), rw]);
    assert_eq!(r.output["items"][0]["fields"]["title"]["text"], "write vectors");

    let del = w.editor.data_entry(0, None, vec![tip], 4, vec![Op::Delete { item: x }]);
    let r = orders(
        t,
        MERGE,
        fx,
        "an editor deletes the item",
        &["Valid", "Delete"],
        &w.creds,
        &[create.clone(), del.clone()],
    );
    assert_eq!(r.output["items"], json!([]));
    let revive = w.fx.owner.data_entry(
        1,
        Some(create.hash()),
        vec![tip],
        6,
        vec![Op::Create { item: x, type_name: "note".into() }],
    );
    let r = orders(
        t,
        MERGE,
        fx,
        "re-created after the delete with a later clock",
        &["Valid", "Delete"],
        &w.creds,
        &[create.clone(), del, revive],
    );
    assert_eq!(r.output["items"][0]["type"], "note");

    let unknown = CredentialId(spaces_protocol::hash::Digest([0xcc; 32]));
    let pending = w.editor.data_entry(0, None, vec![unknown], 7, vec![set(x, "title", text("too early"))]);
    let r = orders(
        t,
        MERGE,
        fx,
        "a write citing a credential the replica lacks waits",
        &["Valid", "Pending"],
        &w.creds,
        &[create.clone(), pending],
    );
    assert!(r.output["verdicts"].as_array().is_some_and(|v| v.iter().any(|v| v["verdict"] == "pending")));
    let garbage = spaces_protocol::feed::FeedEntry::sign(&w.editor.data, 0, None, vec![0xde, 0xad]);
    let r = orders(
        t,
        MERGE,
        fx,
        "a data entry whose payload is not a mutation is void",
        &["Valid", "Malformed"],
        &w.creds,
        &[create.clone(), garbage],
    );
    assert!(r.output["verdicts"].as_array().is_some_and(|v| v.iter().any(|v| v["verdict"] == "malformed")));

    // The owner removes the editor, recording that 1 entry of its data feed stands; the
    // editor, concurrently, writes entries 0 and 1.
    let frontier = vec![FeedPosition { feed: w.editor.data.public(), length: 1 }];
    let removal = fx.grant_with_frontier(&fx.owner, w.editor.key(), Role::Removed, vec![tip], frontier);
    let w0 = w.editor.data_entry(0, None, vec![tip], 2, vec![set(x, "a", text("kept"))]);
    let w1 = w.editor.data_entry(1, Some(w0.hash()), vec![tip], 3, vec![set(x, "b", text("void"))]);
    let creds = [w.creds.clone(), vec![removal.clone()]].concat();
    let r = orders(
        t,
        MERGE,
        fx,
        "writes concurrent with a removal: within the frontier kept, beyond it void",
        &["Valid", "WriteAfterRemoval"],
        &creds,
        &[create.clone(), w0.clone(), w1],
    );
    assert_eq!(r.output["items"][0]["fields"]["a"]["text"], "kept");
    assert!(r.output["items"][0]["fields"].get("b").is_none());
    let w1_after = w.editor.data_entry(1, Some(w0.hash()), vec![removal.id()], 4, vec![set(x, "b", text("void"))]);
    let r = orders(
        t,
        MERGE,
        fx,
        "a write that cites its author's removal",
        &["Valid", "WriteAfterRemoval"],
        &creds,
        &[create, w0, w1_after],
    );
    assert!(r.output["items"][0]["fields"].get("b").is_none());
    f
}
