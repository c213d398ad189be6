//! Device removal (SPEC.md §4.4 step 7, §4.5, §6.4 rule 5): an identity disowns a lost device
//! in a space without leaving it. `the_rules_fail_with_device_removal_planted_off` shows the
//! checks can fail: with `ignore-device-removal` planted, the grant, concurrency, linked-device
//! and data tests fail.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_protocol::Role;
use spaces_protocol::credential::{Credential, CredentialError, CredentialId, FeedPosition, Signer};
use spaces_protocol::fixture::{Actor, SpaceFixture};
use spaces_protocol::item::{ItemId, Op, Value};
use spaces_protocol::membership::{Effect, IgnoreReason, InsertError, Membership};
use spaces_protocol::space::{Space, WriteRejection, WriteVerdict};

const X: ItemId = ItemId([0x42; 16]);

/// A space whose admin has two devices: `a` (the one it created) and `b` (linked by `a`), each
/// with its feeds admitted (by the device itself, as the identity).
struct World {
    rng: ChaCha20Rng,
    f: SpaceFixture,
    m: Membership,
    creds: Vec<Credential>,
    a: Actor,
    b: Actor,
}

fn world(seed: u64) -> World {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let f = SpaceFixture::new(&mut rng);
    let (a, grant) = f.admit(&mut rng, &f.owner, Role::Admin, vec![f.tip()]);
    let b = a.linked_device(&mut rng, f.now);
    let b_feeds = f.admit_feeds(&b, &b, vec![grant[2].id()]);
    let creds = [f.genesis.clone(), grant, b_feeds].concat();
    let mut m = Membership::new(f.space());
    for r in m.insert_batch(creds.clone()) {
        r.unwrap();
    }
    World { rng, f, m, creds, a, b }
}

fn effect(m: &Membership, c: &Credential) -> Option<Effect> {
    m.effect(&c.id())
}

fn insert(m: &mut Membership, c: &Credential) {
    m.insert(c.clone()).unwrap();
}

#[test]
fn a_removed_device_grants_nothing_after_its_removal() {
    let mut w = world(1);
    let removal = w.f.remove_device(&w.a, w.b.identity.device_key(), w.m.heads(), Vec::new());
    insert(&mut w.m, &removal);
    assert_eq!(effect(&w.m, &removal), Some(Effect::Applied));
    let (guest, by_b) = w.f.admit(&mut w.rng, &w.b, Role::Editor, w.m.heads());
    for c in &by_b {
        insert(&mut w.m, c);
    }
    assert_eq!(effect(&w.m, &by_b[0]), Some(Effect::Ignored(IgnoreReason::DeviceRemoved)));
    assert_eq!(w.m.role(&guest.key()), None);
    assert_eq!(w.m.role(&w.a.key()), Some(Role::Admin), "the identity stays a member");
    assert!(w.m.device_removed(&w.a.key(), &w.b.identity.device_key()));
    assert!(!w.m.device_removed(&w.a.key(), &w.a.identity.device_key()));
    // The identity's other device still acts for it.
    let (other, by_a) = w.f.admit(&mut w.rng, &w.a, Role::Reader, w.m.heads());
    for c in &by_a {
        insert(&mut w.m, c);
    }
    assert_eq!(w.m.role(&other.key()), Some(Role::Reader));
}

#[test]
fn what_a_device_did_concurrently_with_its_removal_is_void_in_either_canonical_order() {
    // Which of the two sorts first depends on ids: over many seeds both orders occur, so both
    // the walk (removal first) and the fixpoint (removal after) are exercised.
    let mut orders = [0u32; 2];
    for seed in 0..24 {
        let mut w = world(100 + seed);
        let base = w.m.heads();
        let removal = w.f.remove_device(&w.a, w.b.identity.device_key(), base.clone(), Vec::new());
        let (guest, by_b) = w.f.admit(&mut w.rng, &w.b, Role::Editor, base);
        let removal_first = removal.id() < by_b[0].id();
        orders[removal_first as usize] += 1;
        let all = [w.creds.clone(), vec![removal.clone()], by_b.clone()].concat();
        for order in [all.clone(), all.iter().rev().cloned().collect()] {
            let mut m = Membership::new(w.f.space());
            for c in order {
                let _ = m.insert(c);
            }
            assert_eq!(m.role(&guest.key()), None, "seed {seed}: the lost device's concurrent grant stands");
            assert_eq!(effect(&m, &removal), Some(Effect::Applied));
            let expected = if removal_first { IgnoreReason::DeviceRemoved } else { IgnoreReason::StrongRemoval };
            assert_eq!(effect(&m, &by_b[0]), Some(Effect::Ignored(expected)), "seed {seed}");
        }
    }
    assert!(orders[0] > 0 && orders[1] > 0, "both canonical orders tried: {orders:?}");
}

#[test]
fn what_a_device_did_before_its_removal_stands() {
    let mut w = world(2);
    let (guest, by_b) = w.f.admit(&mut w.rng, &w.b, Role::Editor, w.m.heads());
    for c in &by_b {
        insert(&mut w.m, c);
    }
    let removal = w.f.remove_device(&w.a, w.b.identity.device_key(), w.m.heads(), Vec::new());
    insert(&mut w.m, &removal);
    assert_eq!(w.m.role(&guest.key()), Some(Role::Editor));
    assert_eq!(effect(&w.m, &by_b[0]), Some(Effect::Applied));
}

#[test]
fn two_devices_that_remove_each_other_concurrently_are_both_removed() {
    let mut w = world(3);
    let base = w.m.heads();
    let a_removes_b = w.f.remove_device(&w.a, w.b.identity.device_key(), base.clone(), Vec::new());
    let b_removes_a = w.f.remove_device(&w.b, w.a.identity.device_key(), base, Vec::new());
    insert(&mut w.m, &a_removes_b);
    insert(&mut w.m, &b_removes_a);
    assert_eq!(effect(&w.m, &a_removes_b), Some(Effect::Applied));
    assert_eq!(effect(&w.m, &b_removes_a), Some(Effect::Applied));
    for device in [&w.a, &w.b] {
        let (guest, creds) = w.f.admit(&mut w.rng, device, Role::Reader, w.m.heads());
        for c in &creds {
            insert(&mut w.m, c);
        }
        assert_eq!(w.m.role(&guest.key()), None);
    }
    // The identity key itself is no device: what it signs still counts.
    let secret = w.a.identity.identity_secret().expect("a created the identity").clone();
    let direct = Signer::direct(&secret);
    let guest = Actor::new(&mut w.rng, w.f.now);
    let assertion = spaces_protocol::Assertion::SpaceMember {
        space: w.f.space(),
        role: Role::Reader,
        invitation: None,
        data_frontier: Vec::new(),
    };
    let grant = direct.issue(guest.key(), assertion, w.f.now, w.m.heads());
    insert(&mut w.m, &grant);
    assert_eq!(w.m.role(&guest.key()), Some(Role::Reader));
}

#[test]
fn a_removal_after_the_other_is_no_counter_removal() {
    let mut w = world(4);
    let a_removes_b = w.f.remove_device(&w.a, w.b.identity.device_key(), w.m.heads(), Vec::new());
    insert(&mut w.m, &a_removes_b);
    let b_removes_a = w.f.remove_device(&w.b, w.a.identity.device_key(), w.m.heads(), Vec::new());
    insert(&mut w.m, &b_removes_a);
    assert_eq!(effect(&w.m, &b_removes_a), Some(Effect::Ignored(IgnoreReason::DeviceRemoved)));
    assert!(!w.m.device_removed(&w.a.key(), &w.a.identity.device_key()));
}

#[test]
fn a_device_linked_through_a_removed_one_is_removed_with_it() {
    let mut w = world(5);
    let c = w.b.linked_device(&mut w.rng, w.f.now);
    let c_feeds = w.f.admit_feeds(&c, &c, w.m.heads());
    for x in &c_feeds {
        insert(&mut w.m, x);
    }
    assert_eq!(effect(&w.m, &c_feeds[0]), Some(Effect::Applied));
    let removal = w.f.remove_device(&w.a, w.b.identity.device_key(), w.m.heads(), Vec::new());
    insert(&mut w.m, &removal);
    let (guest, by_c) = w.f.admit(&mut w.rng, &c, Role::Reader, w.m.heads());
    for x in &by_c {
        insert(&mut w.m, x);
    }
    assert_eq!(effect(&w.m, &by_c[0]), Some(Effect::Ignored(IgnoreReason::DeviceRemoved)));
    assert_eq!(w.m.role(&guest.key()), None);
    let admission = w.m.feed(&c.data.public()).expect("admitted before the removal");
    assert!(w.m.feed_removed(&admission), "its feeds were admitted through the removed device");
}

/// The HALO case (SPEC §9.8): a device admits its sibling's feeds; once it is removed, the
/// sibling's feeds, admitted in the removal's past and not linked through it, stay admitted,
/// and the sibling writes on. (Calm seed 255 of the simulator: the remover's own feeds, admitted
/// by the device it removed, were taken for removed, so its writes were void.)
#[test]
fn feeds_a_removed_device_admitted_for_a_sibling_before_its_removal_stand() {
    let mut w = world(11);
    let c = w.a.linked_device(&mut w.rng, w.f.now);
    let c_feeds = w.f.admit_feeds(&w.b, &c, w.m.heads());
    for x in &c_feeds {
        insert(&mut w.m, x);
    }
    let removal = w.f.remove_device(&w.a, w.b.identity.device_key(), w.m.heads(), Vec::new());
    insert(&mut w.m, &removal);
    assert_eq!(effect(&w.m, &removal), Some(Effect::Applied));
    let admission = w.m.feed(&c.data.public()).expect("admitted before the removal");
    assert!(!w.m.feed_removed(&admission), "the sibling is not linked through the removed device");
    let mut space = Space::new(w.f.space());
    for x in w.creds.iter().chain(&c_feeds).chain([&removal]) {
        space.insert_credential(x.clone()).unwrap();
    }
    let create = vec![Op::Create { item: X, type_name: "t".into() }];
    space.ingest(c.data_entry(0, None, vec![removal.id()], 1, create)).unwrap();
    assert_eq!(space.write_verdict(&c.data.public(), 0), Some(WriteVerdict::Applied));
}

#[test]
fn a_removed_devices_feeds_admitted_after_the_removal_are_not_admitted() {
    let mut w = world(6);
    let removal = w.f.remove_device(&w.a, w.b.identity.device_key(), w.m.heads(), Vec::new());
    insert(&mut w.m, &removal);
    // Fresh feeds for the removed device, admitted by the identity's good device.
    let mut b2 = w.b.clone();
    b2.control = spaces_protocol::keys::Keypair::generate(&mut w.rng);
    b2.data = spaces_protocol::keys::Keypair::generate(&mut w.rng);
    let again = w.f.admit_feeds(&w.a, &b2, w.m.heads());
    insert(&mut w.m, &again[0]);
    assert_eq!(effect(&w.m, &again[0]), Some(Effect::Ignored(IgnoreReason::DeviceRemoved)));
    assert!(w.m.feed(&b2.control.public()).is_none());
}

#[test]
fn a_removed_device_is_no_admin_device() {
    let mut w = world(7);
    let devices = |m: &Membership| m.admin_devices().iter().map(|(_, d, _)| *d).collect::<Vec<_>>();
    assert!(devices(&w.m).contains(&w.b.identity.device_key()));
    let removal = w.f.remove_device(&w.a, w.b.identity.device_key(), w.m.heads(), Vec::new());
    insert(&mut w.m, &removal);
    assert!(!devices(&w.m).contains(&w.b.identity.device_key()), "delegated invitations are not sealed to it");
    assert!(devices(&w.m).contains(&w.a.identity.device_key()));
}

#[test]
fn a_removal_needs_a_member_identity_and_names_its_device() {
    let mut w = world(8);
    let stranger = Actor::new(&mut w.rng, w.f.now);
    let by_stranger = w.f.remove_device(&stranger, w.a.identity.device_key(), w.m.heads(), Vec::new());
    insert(&mut w.m, &by_stranger);
    assert_eq!(effect(&w.m, &by_stranger), Some(Effect::Ignored(IgnoreReason::NoAuthority)));
    // Subject and device disagree: refused before any state machine.
    let mut wrong = w.f.remove_device(&w.a, w.b.identity.device_key(), w.m.heads(), Vec::new());
    wrong.body.subject = w.a.identity.device_key();
    let resigned = w.a.identity.signer().issue(wrong.body.subject, wrong.body.assertion.clone(), w.f.now, w.m.heads());
    assert!(matches!(w.m.insert(resigned), Err(InsertError::Invalid(CredentialError::BadShape(_)))));
    let frontier =
        vec![FeedPosition { feed: w.b.data.public(), length: 2 }, FeedPosition { feed: w.b.data.public(), length: 3 }];
    let twice = w.f.remove_device(&w.a, w.b.identity.device_key(), w.m.heads(), frontier);
    assert!(matches!(w.m.insert(twice), Err(InsertError::Invalid(CredentialError::BadShape(_)))));
}

/// The removed device's data: entries within the removal's frontier stand, entries beyond it
/// written concurrently are void, and an entry that cites the removal is void wherever it is.
#[test]
fn a_removed_devices_writes_beyond_the_frontier_are_void() {
    let w = world(9);
    let tip = w.m.heads();
    let frontier = vec![FeedPosition { feed: w.b.data.public(), length: 1 }];
    let removal = w.f.remove_device(&w.a, w.b.identity.device_key(), tip.clone(), frontier);
    let set = |field: &str| Op::Set { item: X, field: field.into(), value: Value::Int(1) };
    let create = w.a.data_entry(0, None, tip.clone(), 1, vec![Op::Create { item: X, type_name: "t".into() }]);
    let e0 = w.b.data_entry(0, None, tip.clone(), 2, vec![set("kept")]);
    let e1 = w.b.data_entry(1, Some(e0.hash()), tip.clone(), 3, vec![set("void")]);
    let mut space = Space::new(w.f.space());
    for c in w.creds.iter().chain([&removal]) {
        space.insert_credential(c.clone()).unwrap();
    }
    for e in [create, e0, e1.clone()] {
        space.ingest(e).unwrap();
    }
    let verdict = |s: &Space, seq| s.write_verdict(&w.b.data.public(), seq);
    assert_eq!(verdict(&space, 0), Some(WriteVerdict::Applied));
    assert_eq!(verdict(&space, 1), Some(WriteVerdict::Rejected(WriteRejection::DeviceRemoved)));
    let fields = &space.item(&X).expect("created").fields;
    assert!(fields.contains_key("kept") && !fields.contains_key("void"), "{fields:?}");
    // Within the frontier, but citing the removal: the device wrote knowing it was removed.
    let mut space2 = Space::new(w.f.space());
    for c in w.creds.iter().chain([&removal]) {
        space2.insert_credential(c.clone()).unwrap();
    }
    let cites: Vec<CredentialId> = vec![removal.id()];
    space2.ingest(w.b.data_entry(0, None, cites, 2, vec![set("late")])).unwrap();
    assert_eq!(verdict(&space2, 0), Some(WriteVerdict::Rejected(WriteRejection::DeviceRemoved)));
    // The identity's other device writes on.
    let a_write = w.a.data_entry(0, None, vec![removal.id()], 4, vec![set("by a")]);
    space2.ingest(a_write).unwrap();
    assert_eq!(space2.write_verdict(&w.a.data.public(), 0), Some(WriteVerdict::Applied));
}

#[cfg(feature = "mutants")]
#[test]
fn the_rules_fail_with_device_removal_planted_off() {
    use spaces_protocol::mutants::{Mutant, set};
    let tests: [(&str, fn()); 5] = [
        ("grant", a_removed_device_grants_nothing_after_its_removal),
        ("concurrent", what_a_device_did_concurrently_with_its_removal_is_void_in_either_canonical_order),
        ("linked", a_device_linked_through_a_removed_one_is_removed_with_it),
        ("admin devices", a_removed_device_is_no_admin_device),
        ("data", a_removed_devices_writes_beyond_the_frontier_are_void),
    ];
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    set(Some(Mutant::IgnoreDeviceRemoval));
    let passed: Vec<&str> =
        tests.iter().filter(|(_, t)| std::panic::catch_unwind(t).is_ok()).map(|(name, _)| *name).collect();
    set(None);
    std::panic::set_hook(hook);
    assert!(passed.is_empty(), "passed with device removal planted off: {passed:?}");
}
