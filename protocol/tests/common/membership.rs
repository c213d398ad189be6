//! Membership over random DAGs: convergence whatever the arrival order, strong removal, no
//! change of one's own role, and the reproduction of `KNOWN_BUG_BLIND_CANCEL`.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use spaces_protocol::credential::{Assertion, AuthMethod, Credential, CredentialId, Role};
use spaces_protocol::fixture::{Actor, SpaceFixture};
use spaces_protocol::keys::{NoiseKeypair, PublicKey};
use spaces_protocol::membership::{Effect, IgnoreReason, Membership};
use spaces_protocol::time::Timestamp;

use super::{Check, Dag, Delivery, KNOWN_BUG_BLIND_CANCEL, arb_delivery, below, chance, heads_of, rng};

/// (seed, random steps, arrival orders) for the membership properties.
pub fn arb_convergence_case() -> impl Strategy<Value = (u64, usize, Vec<Delivery>)> {
    (any::<u64>(), 2usize..14, vec(arb_delivery(), 3..6))
}

pub fn arb_strong_removal_case() -> impl Strategy<Value = (u64, usize, Vec<Delivery>)> {
    (any::<u64>(), 0usize..10, vec(arb_delivery(), 2..4))
}

/// (seed, random steps, self changes as (who, role index)).
pub fn arb_self_change_case() -> impl Strategy<Value = (u64, usize, Vec<(Index, usize)>)> {
    (any::<u64>(), 0usize..10, vec((any::<Index>(), 0usize..5), 1..4))
}

pub fn batch_membership(space: PublicKey, creds: &[Credential]) -> Result<Membership, TestCaseError> {
    let mut m = Membership::new(space);
    for r in m.insert_batch(creds.to_vec()) {
        prop_assert!(r.is_ok(), "valid credential refused: {:?}", r);
    }
    Ok(m)
}

pub fn same_membership(a: &Membership, b: &Membership, ids: &[CredentialId], what: &str) -> Check {
    prop_assert_eq!(a.members(), b.members(), "{}: members differ", what);
    prop_assert_eq!(a.heads(), b.heads(), "{}: heads differ", what);
    for id in ids {
        prop_assert_eq!(a.effect(id), b.effect(id), "{}: effect of {:?} differs", what, id);
    }
    let feeds = |m: &Membership| m.feeds().map(|(k, a)| (*k, *a)).collect::<Vec<_>>();
    prop_assert_eq!(feeds(a), feeds(b), "{}: feeds differ", what);
    let delegations = |m: &Membership| {
        let mut d = m.delegations();
        d.sort_by_key(|d| d.credential);
        d
    };
    prop_assert_eq!(delegations(a), delegations(b), "{}: delegations differ", what);
    Ok(())
}

/// (b) Membership is a function of the set of credentials: any arrival order, duplicates,
/// single inserts or batches, all give the same members, heads and per-credential effects.
pub fn check_membership_convergence(seed: u64, steps: usize, orders: &[Delivery]) -> Check {
    check_membership_convergence_of(Dag::random(seed, steps), orders)
}

/// As `check_membership_convergence`, with cancellations that may be concurrent with the
/// delegation they cancel. Fails on the current code: see `KNOWN_BUG_BLIND_CANCEL`.
pub fn check_membership_convergence_blind_cancels(seed: u64, steps: usize, orders: &[Delivery]) -> Check {
    check_membership_convergence_of(Dag::random_with(seed, steps, true), orders)
}

fn check_membership_convergence_of(dag: Dag, orders: &[Delivery]) -> Check {
    let space = dag.fixture.space();
    let ids = dag.ids();
    let reference = batch_membership(space, &dag.creds)?;
    prop_assert!(ids.iter().all(|id| reference.effect(id).is_some()));
    let mut one_by_one = Membership::new(space);
    for c in &dag.creds {
        prop_assert!(one_by_one.insert(c.clone()).is_ok());
    }
    same_membership(&reference, &one_by_one, &ids, "one at a time in generation order")?;
    for (i, order) in orders.iter().enumerate() {
        let m = order.membership(space, &dag.creds)?;
        same_membership(&reference, &m, &ids, &format!("arrival order #{i}"))?;
    }
    Ok(())
}

/// Strong removal in every order: an admin removed (or demoted) concurrently with an
/// admission it issued never gets that admission through, whatever else happened around.
pub fn check_strong_removal(seed: u64, steps: usize, orders: &[Delivery]) -> Check {
    let mut rng = rng(seed);
    let mut dag = Dag::new(&mut rng);
    let owner = dag.fixture.owner.clone();
    let admin = dag.admit(&mut rng, &owner, Role::Admin, heads_of(&dag.creds));
    let remover = if chance(&mut rng, 50) {
        owner.clone()
    } else {
        dag.admit(&mut rng, &owner, Role::Admin, heads_of(&dag.creds))
    };
    let since = dag.creds.len();
    // Background: changes by anyone that never touch the owner, the admin or the remover.
    let protected = [owner.key(), admin.key(), remover.key()];
    for _ in 0..steps {
        let kind = below(&mut rng, 11);
        let before = dag.creds.len();
        let actors_before = dag.actors.len();
        dag.step(&mut rng, kind);
        let touches = dag.creds[before..]
            .iter()
            .any(|c| matches!(c.assertion(), Assertion::SpaceMember { .. }) && protected.contains(&c.subject()));
        if touches {
            dag.creds.truncate(before);
            dag.actors.truncate(actors_before);
            dag.delegations.retain(|(_, at)| *at < before);
        }
    }
    let base = dag.parents_after(&mut rng, since - 1);
    let other = dag.parents_after(&mut rng, since - 1);
    let role = [Role::Editor, Role::Reader, Role::Removed][below(&mut rng, 3)];
    let removal = dag.fixture.grant(&remover, admin.key(), role, base);
    let new_role = [Role::Admin, Role::Editor, Role::Reader][below(&mut rng, 3)];
    let (late, admission) = dag.fixture.admit(&mut rng, &admin, new_role, other);
    dag.creds.push(removal);
    dag.creds.extend(admission.iter().cloned());

    let space = dag.fixture.space();
    let mut replicas = vec![batch_membership(space, &dag.creds)?];
    for order in orders {
        replicas.push(order.membership(space, &dag.creds)?);
    }
    for (i, m) in replicas.iter().enumerate() {
        prop_assert_eq!(m.role(&admin.key()), Some(role), "replica {}: the removal applies", i);
        prop_assert_eq!(m.role(&late.key()), None, "replica {}: the concurrent admission is void", i);
        prop_assert_eq!(
            m.effect(&admission[0].id()),
            Some(Effect::Ignored(IgnoreReason::StrongRemoval)),
            "replica {}",
            i
        );
        prop_assert!(m.feed(&late.data.public()).is_none(), "replica {}: its feeds are not admitted", i);
        prop_assert!(m.feed(&late.control.public()).is_none(), "replica {}", i);
    }
    Ok(())
}

/// A member's credential changing its own role never takes effect, and changes nothing.
pub fn check_no_self_change(seed: u64, steps: usize, picks: &[(Index, usize)]) -> Check {
    let mut rng = rng(seed.wrapping_add(1));
    let dag = Dag::random(seed, steps);
    let space = dag.fixture.space();
    let baseline = batch_membership(space, &dag.creds)?;
    let mut with = batch_membership(space, &dag.creds)?;
    let roles = [Role::Owner, Role::Admin, Role::Editor, Role::Reader, Role::Removed];
    for (who, role) in picks {
        let member = &dag.actors[who.index(dag.actors.len())];
        let parents = dag.parents(&mut rng);
        let own = dag.fixture.grant(member, member.key(), roles[role % roles.len()], parents);
        prop_assert!(with.insert(own.clone()).is_ok());
        // Pending when the parents picked include a credential that never arrives.
        let effect = with.effect(&own.id());
        prop_assert!(
            matches!(effect, Some(Effect::Ignored(_) | Effect::Pending)),
            "self change by {:?} ({:?}) to {:?}: {:?}",
            member.key(),
            baseline.role(&member.key()),
            roles[role % roles.len()],
            effect
        );
        prop_assert_eq!(with.members(), baseline.members());
    }
    let ids = dag.ids();
    for id in &ids {
        prop_assert_eq!(with.effect(id), baseline.effect(id));
    }
    Ok(())
}

/// Minimal reproduction of `KNOWN_BUG_BLIND_CANCEL`: the same five credentials after the
/// genesis give a different membership by batch and one at a time. Panics on the current code.
pub fn known_bug_blind_cancel_repro() {
    let mut rng = rng(1);
    let f = SpaceFixture::new(&mut rng);
    let space = f.space();
    let owner = f.owner.identity.signer();
    // Anything one level below the genesis tip, so the delegation sorts after the cancellation.
    let x = f.grant(&f.owner, Actor::new(&mut rng, f.now).key(), Role::Reader, vec![f.tip()]);
    let delegation = owner.issue(
        space,
        Assertion::DelegateInvitation {
            space,
            invitation_id: [1; 16],
            auth_method: AuthMethod::None,
            role: Role::Editor,
            expires_at: Timestamp(u64::MAX),
            use_limit: 0,
            guest: None,
            host_key: NoiseKeypair::generate(&mut rng).public(),
            shares: Vec::new(),
        },
        f.now,
        vec![x.id()],
    );
    // Names the delegation, but only the genesis tip as parent: concurrent with it.
    let cancel =
        owner.issue(space, Assertion::CancelInvitation { space, delegation: delegation.id() }, f.now, vec![f.tip()]);
    // An admission through the delegation with both in its past.
    let guest = Actor::new(&mut rng, f.now);
    let via = owner.issue(
        guest.key(),
        Assertion::SpaceMember { space, role: Role::Editor, invitation: Some(delegation.id()), data_frontier: vec![] },
        f.now,
        vec![delegation.id(), cancel.id()],
    );
    let rest = [cancel, x, delegation, via.clone()];

    let mut batch = Membership::new(space);
    batch.insert_batch(f.genesis.iter().chain(&rest).cloned().collect());
    let mut one_by_one = Membership::new(space);
    for c in f.genesis.iter().chain(&rest) {
        one_by_one.insert(c.clone()).expect("valid");
    }
    // Batch: the admission is Ignored(InvitationUnusable); one by one: Applied.
    assert_eq!(batch.effect(&via.id()), one_by_one.effect(&via.id()), "{KNOWN_BUG_BLIND_CANCEL}");
    assert_eq!(batch.members(), one_by_one.members(), "{KNOWN_BUG_BLIND_CANCEL}");
}
