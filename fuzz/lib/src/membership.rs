//! Membership from arbitrary credential sequences (SPEC §4), structure-aware.
//!
//! The input is an `arbitrary` list of credential recipes over one space and a pool of five
//! actors (the owner first): role changes by any actor (self-changes, owner changes, removals
//! included), feed admissions, changes by the space key, and hostile DAG shapes: parents drawn
//! from any earlier credential (concurrent branches, diamonds), dangling parents, duplicated
//! genesis. Invariants: the same set of credentials gives the same membership (members, roles,
//! heads, effects, feeds) whether inserted one by one in the generated order, one by one in an
//! order the fuzzer permutes, or as one batch in reverse (incremental resolution equals the
//! full walk); inserting a credential twice changes nothing.

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use spaces_protocol::Membership;
use spaces_protocol::credential::{Credential, CredentialId, Role};
use spaces_protocol::fixture::{Actor, SpaceFixture};
use spaces_protocol::membership::Effect;

use crate::support::rng;

/// Credentials one input generates at most: each costs a signature and three verifications.
const RECIPES_MAX: usize = 24;
const ACTORS: usize = 5;

struct World {
    space: SpaceFixture,
    actors: Vec<Actor>,
}

/// Keys are generated once per process: key generation would dominate every execution.
fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut rng = rng(14);
        let space = SpaceFixture::new(&mut rng);
        let mut actors = vec![space.owner.clone()];
        actors.extend((1..ACTORS).map(|_| Actor::new(&mut rng, space.now)));
        World { space, actors }
    })
}

#[derive(Debug, Arbitrary)]
enum ArbRole {
    Owner,
    Admin,
    Editor,
    Reader,
    Removed,
}

#[derive(Debug, Arbitrary)]
enum Recipe {
    /// `by` sets `subject`'s role.
    Grant { by: u8, subject: u8, role: ArbRole, parents: Vec<u8> },
    /// `by` admits `member`'s control and data feeds.
    Feeds { by: u8, member: u8, parents: Vec<u8> },
    /// The space key sets a role.
    BySpaceKey { subject: u8, role: ArbRole, parents: Vec<u8> },
    /// A change citing a parent nobody has: stays pending for good.
    Dangling { by: u8, subject: u8, role: ArbRole, parent: [u8; 32] },
}

#[derive(Debug, Arbitrary)]
struct Case {
    recipes: Vec<Recipe>,
    /// One sort key per credential: the fuzzer's permutation.
    order: Vec<u16>,
}

pub fn run(data: &[u8]) {
    let Ok(case) = Case::arbitrary_take_rest(Unstructured::new(data)) else { return };
    let world = world();
    let mut all = world.space.genesis.clone();
    for recipe in case.recipes.iter().take(RECIPES_MAX) {
        let made = build(world, recipe, &all);
        all.extend(made);
    }
    let reference = one_by_one(world, &all);
    let mut permuted: Vec<(u16, usize, Credential)> =
        all.iter().cloned().enumerate().map(|(i, c)| (case.order.get(i).copied().unwrap_or(0), i, c)).collect();
    permuted.sort_by_key(|(key, i, _)| (*key, *i));
    let permuted: Vec<Credential> = permuted.into_iter().map(|(_, _, c)| c).collect();
    assert_same(&reference, &one_by_one(world, &permuted), &all, "a permuted insertion order");
    let mut batch = Membership::new(world.space.space());
    let reversed: Vec<Credential> = all.iter().rev().cloned().collect();
    let _ = batch.insert_batch(reversed);
    assert_same(&reference, &batch, &all, "one batch in reverse");
    let mut twice = one_by_one(world, &all);
    for c in &all {
        let _ = twice.insert(c.clone());
    }
    assert_same(&reference, &twice, &all, "every credential inserted twice");
}

fn one_by_one(world: &World, creds: &[Credential]) -> Membership {
    let mut m = Membership::new(world.space.space());
    for c in creds {
        let _ = m.insert(c.clone());
    }
    m
}

fn assert_same(a: &Membership, b: &Membership, all: &[Credential], how: &str) {
    assert_eq!(a.members(), b.members(), "members differ after {how}");
    assert_eq!(a.fingerprint_state(), b.fingerprint_state(), "roles differ after {how}");
    assert_eq!(a.heads(), b.heads(), "heads differ after {how}");
    assert_eq!(a.len(), b.len(), "credential counts differ after {how}");
    for c in all {
        let id = c.id();
        let (ea, eb): (Option<Effect>, Option<Effect>) = (a.effect(&id), b.effect(&id));
        assert_eq!(ea, eb, "the effect of {id:?} differs after {how}");
    }
    let feeds_a: Vec<_> = a.feeds().map(|(k, f)| (*k, *f)).collect();
    let feeds_b: Vec<_> = b.feeds().map(|(k, f)| (*k, *f)).collect();
    assert_eq!(feeds_a, feeds_b, "admitted feeds differ after {how}");
}

fn build(world: &World, recipe: &Recipe, earlier: &[Credential]) -> Vec<Credential> {
    let space = &world.space;
    let actor = |i: u8| &world.actors[usize::from(i) % ACTORS];
    match recipe {
        Recipe::Grant { by, subject, role, parents } => {
            vec![space.grant(actor(*by), actor(*subject).key(), role_of(role), pick(earlier, parents))]
        }
        Recipe::Feeds { by, member, parents } => space.admit_feeds(actor(*by), actor(*member), pick(earlier, parents)),
        Recipe::BySpaceKey { subject, role, parents } => {
            vec![space.grant_by_space_key(actor(*subject).key(), role_of(role), pick(earlier, parents))]
        }
        Recipe::Dangling { by, subject, role, parent } => {
            let mut parents = pick(earlier, &[0]);
            parents.push(CredentialId(spaces_protocol::hash::Digest(*parent)));
            parents.sort();
            parents.dedup();
            vec![space.grant(actor(*by), actor(*subject).key(), role_of(role), parents)]
        }
    }
}

/// Parents as a sorted set of earlier credentials' ids (never empty: at least the first).
fn pick(earlier: &[Credential], picks: &[u8]) -> Vec<CredentialId> {
    let mut ids: Vec<CredentialId> =
        picks.iter().take(4).map(|&p| earlier[usize::from(p) % earlier.len()].id()).collect();
    if ids.is_empty() {
        ids.push(earlier.last().expect("genesis is never empty").id());
    }
    ids.sort();
    ids.dedup();
    ids
}

fn role_of(role: &ArbRole) -> Role {
    match role {
        ArbRole::Owner => Role::Owner,
        ArbRole::Admin => Role::Admin,
        ArbRole::Editor => Role::Editor,
        ArbRole::Reader => Role::Reader,
        ArbRole::Removed => Role::Removed,
    }
}
