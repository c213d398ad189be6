//! The membership rules of SPEC.md §4, one scenario each.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_protocol::Role;
use spaces_protocol::credential::Credential;
use spaces_protocol::fixture::{Actor, SpaceFixture};
use spaces_protocol::membership::{Effect, IgnoreReason, Membership};

fn setup(seed: u64) -> (ChaCha20Rng, SpaceFixture, Membership) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let f = SpaceFixture::new(&mut rng);
    let mut m = Membership::new(f.space());
    for r in m.insert_batch(f.genesis.clone()) {
        r.unwrap();
    }
    (rng, f, m)
}

fn add(m: &mut Membership, creds: &[Credential]) {
    for c in creds {
        m.insert(c.clone()).unwrap();
    }
}

#[test]
fn genesis_makes_the_creator_owner() {
    let (_, f, m) = setup(1);
    assert_eq!(m.role(&f.owner.key()), Some(Role::Owner));
    assert_eq!(m.members().len(), 1);
    assert_eq!(m.heads(), vec![f.tip()]);
}

#[test]
fn admin_admits_editor_admits_nobody() {
    let (mut rng, f, mut m) = setup(2);
    let (admin, c1) = f.admit(&mut rng, &f.owner, Role::Admin, vec![f.tip()]);
    add(&mut m, &c1);
    let (editor, c2) = f.admit(&mut rng, &admin, Role::Editor, m.heads());
    add(&mut m, &c2);
    assert_eq!(m.role(&editor.key()), Some(Role::Editor));
    let (outsider, c3) = f.admit(&mut rng, &editor, Role::Reader, m.heads());
    add(&mut m, &c3);
    assert_eq!(m.role(&outsider.key()), None);
    assert_eq!(m.effect(&c3[0].id()), Some(Effect::Ignored(IgnoreReason::NoAuthority)));
}

#[test]
fn nobody_changes_their_own_role_and_owner_is_protected() {
    let (mut rng, f, mut m) = setup(3);
    let (admin, c1) = f.admit(&mut rng, &f.owner, Role::Admin, vec![f.tip()]);
    add(&mut m, &c1);
    let own = f.grant(&admin, admin.key(), Role::Editor, m.heads());
    add(&mut m, std::slice::from_ref(&own));
    assert_eq!(m.effect(&own.id()), Some(Effect::Ignored(IgnoreReason::SelfChange)));
    let demote_owner = f.grant(&admin, f.owner.key(), Role::Removed, m.heads());
    add(&mut m, std::slice::from_ref(&demote_owner));
    assert_eq!(m.effect(&demote_owner.id()), Some(Effect::Ignored(IgnoreReason::OwnerProtected)));
    let make_owner = f.grant(&f.owner, admin.key(), Role::Owner, m.heads());
    add(&mut m, std::slice::from_ref(&make_owner));
    assert_eq!(m.effect(&make_owner.id()), Some(Effect::Ignored(IgnoreReason::OwnerOnlyBySpaceKey)));
    let by_space = f.grant_by_space_key(f.owner.key(), Role::Reader, m.heads());
    add(&mut m, std::slice::from_ref(&by_space));
    assert_eq!(m.role(&f.owner.key()), Some(Role::Reader));
}

#[test]
fn authority_is_judged_at_the_causal_point() {
    let (mut rng, f, mut m) = setup(4);
    let (editor, c1) = f.admit(&mut rng, &f.owner, Role::Editor, vec![f.tip()]);
    add(&mut m, &c1);
    let base = m.heads();
    // Concurrently: the owner promotes the editor, and the editor admits someone.
    let promote = f.grant(&f.owner, editor.key(), Role::Admin, base.clone());
    let (guest, by_editor) = f.admit(&mut rng, &editor, Role::Reader, base);
    add(&mut m, std::slice::from_ref(&promote));
    add(&mut m, &by_editor);
    assert_eq!(m.role(&editor.key()), Some(Role::Admin));
    assert_eq!(m.role(&guest.key()), None, "the promotion was not in the admission's past");
}

#[test]
fn mutual_removal_removes_both() {
    let (mut rng, f, mut m) = setup(5);
    let (a, ca) = f.admit(&mut rng, &f.owner, Role::Admin, vec![f.tip()]);
    add(&mut m, &ca);
    let (b, cb) = f.admit(&mut rng, &f.owner, Role::Admin, m.heads());
    add(&mut m, &cb);
    let base = m.heads();
    let a_removes_b = f.grant(&a, b.key(), Role::Removed, base.clone());
    let b_removes_a = f.grant(&b, a.key(), Role::Removed, base);
    add(&mut m, &[a_removes_b, b_removes_a]);
    assert_eq!(m.role(&a.key()), Some(Role::Removed));
    assert_eq!(m.role(&b.key()), Some(Role::Removed));
}

#[test]
fn removal_voids_the_removed_admins_concurrent_admission() {
    let (mut rng, f, mut m) = setup(6);
    let (a, ca) = f.admit(&mut rng, &f.owner, Role::Admin, vec![f.tip()]);
    add(&mut m, &ca);
    let base = m.heads();
    let (late, by_a) = f.admit(&mut rng, &a, Role::Editor, base.clone());
    let remove_a = f.grant(&f.owner, a.key(), Role::Removed, base);
    // Both arrival orders give the same answer.
    let mut m2 = m.clone();
    add(&mut m, &by_a);
    add(&mut m, std::slice::from_ref(&remove_a));
    add(&mut m2, std::slice::from_ref(&remove_a));
    add(&mut m2, &by_a);
    for m in [&m, &m2] {
        assert_eq!(m.role(&a.key()), Some(Role::Removed));
        assert_eq!(m.role(&late.key()), None);
        assert_eq!(m.effect(&by_a[0].id()), Some(Effect::Ignored(IgnoreReason::StrongRemoval)));
    }
    assert_eq!(m.members(), m2.members());
}

#[test]
fn removed_member_can_be_readmitted() {
    let (mut rng, f, mut m) = setup(7);
    let (e, ce) = f.admit(&mut rng, &f.owner, Role::Editor, vec![f.tip()]);
    add(&mut m, &ce);
    let c = f.grant(&f.owner, e.key(), Role::Removed, m.heads());
    add(&mut m, &[c]);
    assert_eq!(m.role(&e.key()), Some(Role::Removed));
    let c = f.grant(&f.owner, e.key(), Role::Reader, m.heads());
    add(&mut m, &[c]);
    assert_eq!(m.role(&e.key()), Some(Role::Reader));
}

#[test]
fn concurrent_role_changes_merge_to_least_privilege() {
    let (mut rng, f, mut m) = setup(8);
    let (a, ca) = f.admit(&mut rng, &f.owner, Role::Admin, vec![f.tip()]);
    add(&mut m, &ca);
    let (e, ce) = f.admit(&mut rng, &f.owner, Role::Editor, m.heads());
    add(&mut m, &ce);
    let base = m.heads();
    add(&mut m, &[f.grant(&f.owner, e.key(), Role::Admin, base.clone()), f.grant(&a, e.key(), Role::Reader, base)]);
    assert_eq!(m.role(&e.key()), Some(Role::Reader));
    // A later change that has seen both settles it.
    let c = f.grant(&f.owner, e.key(), Role::Editor, m.heads());
    add(&mut m, &[c]);
    assert_eq!(m.role(&e.key()), Some(Role::Editor));
}

#[test]
fn pending_until_parents_arrive() {
    let (mut rng, f, mut m) = setup(9);
    let (x, cx) = f.admit(&mut rng, &f.owner, Role::Editor, vec![f.tip()]);
    add(&mut m, &cx[1..]);
    assert_eq!(m.effect(&cx[1].id()), Some(Effect::Pending));
    assert_eq!(m.role(&x.key()), None);
    add(&mut m, &cx[..1]);
    assert_eq!(m.role(&x.key()), Some(Role::Editor));
    assert_eq!(m.effect(&cx[2].id()), Some(Effect::Applied));
}

#[test]
fn outsiders_feeds_and_wrong_space_are_refused() {
    let (mut rng, f, mut m) = setup(10);
    let stranger = Actor::new(&mut rng, f.now);
    let feeds = f.admit_feeds(&stranger, &stranger, vec![f.tip()]);
    add(&mut m, &feeds);
    assert!(m.feed(&stranger.control.public()).is_none());
    let other = SpaceFixture::new(&mut rng);
    assert!(m.insert(other.genesis[0].clone()).is_err());
}
