//! `membership.json`: the members and roles of sets of credentials (SPEC.md §4): authority,
//! self-changes, owner protection, strong removal (concurrent and mutual), invalid credentials.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::Value;
use spaces_protocol::Role;
use spaces_protocol::credential::{Credential, CredentialId};
use spaces_protocol::fixture::{Actor, SpaceFixture};

use super::sets::{Sets, set_input};
use super::valid;
use crate::file::VectorFile;

const RESOLVE: &str = "membership.resolve";

fn notes(f: &mut VectorFile) {
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
    f.note(
        "ConcurrentDemotion",
        "StrongRemoval",
        "Step 7 of the walk (§4.4), where the §4.6 fixpoint alone answers otherwise: a demotion made void by its issuer's own concurrent demotion is ignored within the walk, so what its target did concurrently stands (the fixpoint alone would void it for good, §4.6: V only grows).",
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
    f.note(
        "DeviceRemoval",
        "StrongRemoval",
        "An identity removes one of its devices (RemovedDevice, §4.4 step 7, §4.5): what the device signed after or concurrently with the removal is void, what it signed before stands, and the identity keeps its role.",
    );
    f.note(
        "MutualDeviceRemoval",
        "StrongRemoval",
        "Two devices of one identity remove each other concurrently: both are removed (§4.4, counter-removal), and neither signs for the identity again.",
    );
}

/// The role `who` holds in an answer, if listed.
fn role_of(output: &Value, who: &Actor) -> Option<String> {
    let key = hex::encode(who.key().0);
    let members = output["members"].as_array()?;
    members.iter().find(|m| m["identity"] == key.as_str()).map(|m| m["role"].as_str().unwrap_or("").to_owned())
}

/// A space with an admin, who admitted an editor and a reader.
struct Cast {
    rng: ChaCha20Rng,
    fx: SpaceFixture,
    admin: Actor,
    editor: Actor,
    reader: Actor,
    /// Their credentials, genesis first, in causal order.
    base: Vec<Credential>,
    tip: CredentialId,
}

fn cast() -> Cast {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0003);
    let fx = SpaceFixture::new(&mut rng);
    let (admin, c_admin) = fx.admit(&mut rng, &fx.owner, Role::Admin, vec![fx.tip()]);
    let (editor, c_editor) = fx.admit(&mut rng, &admin, Role::Editor, vec![c_admin[2].id()]);
    let (reader, c_reader) = fx.admit(&mut rng, &admin, Role::Reader, vec![c_editor[2].id()]);
    let tip = c_reader[2].id();
    let base = [fx.genesis.clone(), c_admin, c_editor, c_reader].concat();
    Cast { rng, fx, admin, editor, reader, base, tip }
}

fn with(base: &[Credential], more: impl IntoIterator<Item = Credential>) -> Vec<Credential> {
    base.iter().cloned().chain(more).collect()
}

fn authority(s: &mut Sets<'_>, c: &mut Cast) {
    let (fx, tip) = (s.fx, c.tip);
    let r = s.case("owner admits an admin, who admits an editor and a reader", &["Valid"], &c.base, &[]);
    assert_eq!(role_of(&r, &c.reader).as_deref(), Some("reader"));
    let outsider = Actor::new(&mut c.rng, fx.now);
    let by_editor = fx.grant(&c.editor, fx.owner.key(), Role::Reader, vec![tip]);
    let editor_admits = fx.grant(&c.editor, outsider.key(), Role::Editor, vec![tip]);
    let set = with(&c.base, [by_editor, editor_admits]);
    let r = s.case("an editor grants a role: ignored", &["Valid", "NoAuthority"], &set, &[]);
    assert_eq!(role_of(&r, &outsider), None);
    let up = fx.grant(&c.editor, c.editor.key(), Role::Admin, vec![tip]);
    let r = s.case("an editor promotes itself to ADMIN: ignored", &["Valid", "SelfChange"], &with(&c.base, [up]), &[]);
    assert_eq!(role_of(&r, &c.editor).as_deref(), Some("editor"));
    let up = fx.grant(&c.admin, c.admin.key(), Role::Owner, vec![tip]);
    let flags = ["Valid", "SelfChange", "OwnerProtected"];
    let r = s.case("an admin promotes itself to OWNER: ignored", &flags, &with(&c.base, [up]), &[]);
    assert_eq!(role_of(&r, &c.admin).as_deref(), Some("admin"));
    let down = fx.grant(&c.admin, c.admin.key(), Role::Reader, vec![tip]);
    let r = s.case("an admin demotes itself: ignored too", &["Valid", "SelfChange"], &with(&c.base, [down]), &[]);
    assert_eq!(role_of(&r, &c.admin).as_deref(), Some("admin"));
    let oust = fx.grant(&c.admin, fx.owner.key(), Role::Removed, vec![tip]);
    let r = s.case("an admin removes the owner: ignored", &["Valid", "OwnerProtected"], &with(&c.base, [oust]), &[]);
    assert_eq!(role_of(&r, &fx.owner).as_deref(), Some("owner"));
}

/// The owner removes the admin while, concurrently, the admin admits a newcomer and demotes
/// the editor: both concurrent acts are void. After the removal, the admin has no authority.
fn strong_removal(s: &mut Sets<'_>, c: &mut Cast) {
    let (fx, tip) = (s.fx, c.tip);
    let remove_admin = fx.grant(&fx.owner, c.admin.key(), Role::Removed, vec![tip]);
    let (late, c_late) = fx.admit(&mut c.rng, &c.admin, Role::Editor, vec![tip]);
    let demote = fx.grant(&c.admin, c.editor.key(), Role::Reader, vec![tip]);
    let set = with(&c.base, [vec![remove_admin.clone()], c_late, vec![demote]].concat());
    let comment = "owner removes an admin; the admin's concurrent grant and demotion are void";
    let r = s.case(comment, &["Valid", "ConcurrentRemoval"], &set, &[]);
    assert_eq!(role_of(&r, &c.admin).as_deref(), Some("removed"));
    assert_eq!(role_of(&r, &late), None);
    assert_eq!(role_of(&r, &c.editor).as_deref(), Some("editor"));
    let after = fx.grant(&c.admin, late.key(), Role::Editor, vec![remove_admin.id()]);
    let set = with(&c.base, [remove_admin, after]);
    let r = s.case("a removed admin grants after its removal: ignored", &["Valid", "NoAuthority"], &set, &[]);
    assert_eq!(role_of(&r, &late), None);
}

fn mutual_removal(s: &mut Sets<'_>, c: &mut Cast) {
    let fx = s.fx;
    let (admin2, c_admin2) = fx.admit(&mut c.rng, &fx.owner, Role::Admin, vec![c.tip]);
    let tip2 = c_admin2[2].id();
    let a_removes_b = fx.grant(&c.admin, admin2.key(), Role::Removed, vec![tip2]);
    let b_removes_a = fx.grant(&admin2, c.admin.key(), Role::Removed, vec![tip2]);
    let set = with(&c.base, [c_admin2.clone(), vec![a_removes_b, b_removes_a]].concat());
    let flags = ["Valid", "MutualRemoval", "ConcurrentRemoval"];
    let r = s.case("two admins remove each other concurrently: both removed", &flags, &set, &[]);
    assert_eq!(role_of(&r, &c.admin).as_deref(), Some("removed"));
    assert_eq!(role_of(&r, &admin2).as_deref(), Some("removed"));
    let promote = fx.grant(&c.admin, c.reader.key(), Role::Editor, vec![tip2]);
    let demote_admin = fx.grant(&admin2, c.admin.key(), Role::Reader, vec![tip2]);
    let set = with(&c.base, [c_admin2, vec![promote, demote_admin]].concat());
    let comment = "an admin promotes a reader while demoted concurrently: promotion void";
    let r = s.case(comment, &["Valid", "ConcurrentRemoval"], &set, &[]);
    assert_eq!(role_of(&r, &c.reader).as_deref(), Some("reader"));
    assert_eq!(role_of(&r, &c.admin).as_deref(), Some("reader"));
}

fn invalid_credential(s: &mut Sets<'_>, c: &Cast) {
    // base: 4 genesis credentials, then the admin's 3, then the editor's grant.
    let mut broken = c.base[7].clone();
    broken.signature.0[7] ^= 4;
    let set = [&c.base[..7], &[broken]].concat();
    let comment = "a grant with a bad signature (and the feeds it would admit) is ignored";
    let r = s.case(comment, &["Valid", "InvalidCredential"], &set, &[]);
    assert_eq!(role_of(&r, &c.editor), None);
}

/// Owner, admins A (`c.admin`) and B, all concurrent after B's admission: the owner demotes
/// B to READER; B demotes A to READER; A admits a newcomer as EDITOR. B's demotion of A is
/// void (its issuer lost ADMIN concurrently), so A keeps ADMIN and the newcomer stands.
/// Without step 7 the first walk applies all three, the fixpoint voids B's demotion of A
/// *and* A's grant (concurrent with that demotion), and the grant stays void: no newcomer.
/// Without any strong removal A ends READER. Appended last: files only grow.
fn concurrent_demotion(s: &mut Sets<'_>, c: &mut Cast) {
    let fx = s.fx;
    let (b, c_b) = fx.admit(&mut c.rng, &fx.owner, Role::Admin, vec![c.tip]);
    let tip = c_b[2].id();
    let demote_b = fx.grant(&fx.owner, b.key(), Role::Reader, vec![tip]);
    let b_demotes_a = fx.grant(&b, c.admin.key(), Role::Reader, vec![tip]);
    let (newcomer, c_new) = fx.admit(&mut c.rng, &c.admin, Role::Editor, vec![tip]);
    let set = with(&c.base, [c_b, vec![demote_b, b_demotes_a], c_new].concat());
    let comment = "an admin demoted while it demotes another admin: that demotion is void, and its target's concurrent grant stands";
    let r = s.case(comment, &["Valid", "ConcurrentRemoval", "ConcurrentDemotion"], &set, &[]);
    assert_eq!(role_of(&r, &b).as_deref(), Some("reader"));
    assert_eq!(role_of(&r, &c.admin).as_deref(), Some("admin"));
    assert_eq!(role_of(&r, &newcomer).as_deref(), Some("editor"), "step 7, not the fixpoint alone");
}

/// The admin links a second device (`lost`), which admits its own feeds and then a newcomer
/// (`early`). The admin's first device removes `lost`; `lost`, concurrently, admits `racing`
/// and, after seeing the removal, `late`. Only `early` stands. Then the two devices remove
/// each other concurrently, and a grant by each after both removals is void. Appended last:
/// files only grow.
fn device_removal(s: &mut Sets<'_>, c: &mut Cast) {
    let fx = s.fx;
    let lost = c.admin.linked_device(&mut c.rng, fx.now);
    let feeds = fx.admit_feeds(&lost, &lost, vec![c.tip]);
    let (early, c_early) = fx.admit(&mut c.rng, &lost, Role::Editor, vec![feeds[1].id()]);
    let before = c_early[2].id();
    let removal = fx.remove_device(&c.admin, lost.identity.device_key(), vec![before], Vec::new());
    let (racing, c_racing) = fx.admit(&mut c.rng, &lost, Role::Editor, vec![before]);
    let (late, c_late) = fx.admit(&mut c.rng, &lost, Role::Editor, vec![removal.id()]);
    let set = with(&c.base, [feeds.clone(), c_early.clone(), vec![removal], c_racing, c_late].concat());
    let comment = "an identity removes its lost device: what the device admits concurrently or after is void";
    let r = s.case(comment, &["Valid", "DeviceRemoval"], &set, &[]);
    assert_eq!(role_of(&r, &early).as_deref(), Some("editor"));
    assert_eq!(role_of(&r, &racing), None);
    assert_eq!(role_of(&r, &late), None);
    assert_eq!(role_of(&r, &c.admin).as_deref(), Some("admin"));
    let a_removes_lost = fx.remove_device(&c.admin, lost.identity.device_key(), vec![before], Vec::new());
    let lost_removes_a = fx.remove_device(&lost, c.admin.identity.device_key(), vec![before], Vec::new());
    let both = vec![a_removes_lost.id(), lost_removes_a.id()];
    let by_a = fx.grant(&c.admin, c.reader.key(), Role::Editor, both.clone());
    let by_lost = fx.grant(&lost, c.editor.key(), Role::Reader, both);
    let set = with(&c.base, [feeds, c_early, vec![a_removes_lost, lost_removes_a, by_a, by_lost]].concat());
    let flags = ["Valid", "DeviceRemoval", "MutualDeviceRemoval"];
    let r = s.case("two devices of one identity remove each other concurrently: both removed", &flags, &set, &[]);
    assert_eq!(role_of(&r, &c.reader).as_deref(), Some("reader"));
    assert_eq!(role_of(&r, &c.editor).as_deref(), Some("editor"));
}

pub fn file() -> VectorFile {
    let mut f = VectorFile::new("membership.json", "spaces/1 membership resolution");
    notes(&mut f);
    let mut c = cast();
    let genesis_only = set_input(&c.fx, &c.fx.genesis, &[]);
    f.group(RESOLVE).push(valid(RESOLVE, "genesis only: the creator is OWNER", &["Valid"], genesis_only));
    let fx = c.fx.clone();
    let mut s = Sets::new(RESOLVE, &fx);
    authority(&mut s, &mut c);
    strong_removal(&mut s, &mut c);
    mutual_removal(&mut s, &mut c);
    invalid_credential(&mut s, &c);
    concurrent_demotion(&mut s, &mut c);
    device_removal(&mut s, &mut c);
    s.into_file(&mut f);
    f
}
