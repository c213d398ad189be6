//! The insider that goes on after its removal (`Adversaries::insider_after_removal`).
//!
//! Honest replicas never tell a removed member of its removal (SPEC §9.2.2 rule 5), so its
//! device still believes itself a member and can issue credentials and write as fast as it
//! likes. Once every current member's replica lists it as Removed, it appends, on each user
//! action of the world, a burst of entries to its control and data feeds: self-promotions,
//! grants to others, admissions of fresh control feeds, junk cancellations, credentials with
//! only the genesis as parent (forged to look concurrent with the removal), garbage payloads
//! and raw writes. The oracle (R1) then counts how many of them honest replicas hold: every
//! one of them was appended after every member knew of the removal, so a replica takes them
//! only from the removed device itself (§9.2.2 rule 6), which the protocol bounds.

use std::collections::{BTreeMap, BTreeSet};

use rand_core::RngCore;
use spaces_protocol::credential::{Assertion, Designation};
use spaces_protocol::feed::EntryHash;
use spaces_protocol::replication::HEARD_ENTRIES_MAX;
use spaces_protocol::{Canonical, CredentialId, Keypair, PublicKey, Role};

use super::roll;
use crate::world::{Phase, World};

/// Entries appended per user action of the world once the burst is on: as fast as the
/// workload's clock lets the insider act, and far more than the bound per few actions.
const BURST_PER_TICK: usize = 12;
/// Entries appended per space at most: a bound on the run, well above `HEARD_ENTRIES_MAX`.
const BURST_PER_SPACE_MAX: usize = 240;

/// One entry of the burst by position (feed, seq): whether it is a control entry, and its hash.
type Burst = BTreeMap<(PublicKey, u64), (bool, EntryHash)>;

/// What the insider appended after its removal, per space.
#[derive(Default)]
pub struct Persistent {
    /// By position: a crash loses the burst appended since the insider's last durable point,
    /// and its device appends the next one at the same positions (hostile 585 and 967 counted
    /// those twice: "43 entries, bound 32"). A replica holds one entry per position, and counts
    /// only if it is the one appended last there: a forking insider (`fork`) also appends at
    /// positions where replicas hold other entries (hostile 104 and 157 counted those).
    appended: BTreeMap<PublicKey, Burst>,
    /// The replicas that knew of the removal when the burst began, per space: what R1 holds to
    /// the bound. Another (a member the creator had removed too, and which never learned of
    /// either removal) took the burst as a member's.
    knew: BTreeMap<PublicKey, BTreeSet<usize>>,
    /// The role changes of the insider by others that the creator held when the burst began.
    /// A later one (a readmission, or a removal by a member that took the burst as a member's
    /// meanwhile) moves what a removal had seen, so R1 rests there for that space.
    changes: BTreeMap<PublicKey, BTreeSet<CredentialId>>,
    /// Spaces where a trusted replica held the burst while listing the insider as a member.
    relayed: BTreeSet<PublicKey>,
}

/// The role changes of `x` by others that replica `i` holds.
fn role_changes(w: &World, i: usize, space: &PublicKey, x: &PublicKey) -> Option<BTreeSet<CredentialId>> {
    let sp = w.nodes[i].peer.as_ref()?.client().space(space)?;
    let changes = sp
        .membership()
        .credentials()
        .filter(|c| matches!(c.assertion(), Assertion::SpaceMember { .. }) && c.subject() == *x && c.issuer() != *x);
    Some(changes.map(|c| c.id()).collect())
}

/// The insider's node, if this world has a persistent one.
fn insider(w: &World) -> Option<usize> {
    w.cfg.adversaries.insider_after_removal.then_some(w.work.insider?)
}

fn identity(w: &World, i: usize) -> Option<PublicKey> {
    w.nodes[i].peer.as_ref().map(|p| p.client().identity_key())
}

fn role_in(w: &World, i: usize, space: &PublicKey, who: &PublicKey) -> Option<Role> {
    let members = w.nodes[i].peer.as_ref()?.client().members(space).ok()?;
    members.into_iter().find(|m| m.identity == *who).map(|m| m.role)
}

/// The honest replicas of `space` whose identity the creator lists as a current member, if
/// every one of them is up and lists `x` as Removed, and no trusted replica lists it as a
/// member: from now on nothing `x` appends is taken by them as a member's.
fn removal_known(w: &World, space: &PublicKey, x: &PublicKey) -> Option<BTreeSet<usize>> {
    let &(_, creator) = w.work.spaces.iter().find(|(s, _)| s == space)?;
    let members = w.nodes[creator].peer.as_ref()?.client().members(space).ok()?;
    if !members.iter().any(|m| m.identity == *x && m.role == Role::Removed) {
        return None;
    }
    let current: Vec<PublicKey> = members.iter().filter(|m| m.role.is_member()).map(|m| m.identity).collect();
    let trusted: Vec<usize> = w.honest().filter(|i| w.trusted(*i)).collect();
    let holds = |i: usize| w.nodes[i].peer.as_ref().is_none_or(|p| p.client().space(space).is_some());
    let holders: BTreeSet<usize> =
        trusted.iter().copied().filter(|i| identity(w, *i).is_none_or(|k| current.contains(&k)) && holds(*i)).collect();
    // A node that is down holds no peer: it counts, and the burst waits until it is back.
    let all_know = holders.iter().all(|i| w.nodes[*i].up && role_in(w, *i, space, x) == Some(Role::Removed));
    let readmitted = trusted.iter().any(|i| role_in(w, *i, space, x).is_some_and(Role::is_member));
    (all_know && !readmitted).then_some(holders)
}

/// One action's worth of the burst, in every space where the removal is known everywhere.
pub fn tick(w: &mut World) {
    let Some(i) = insider(w) else { return };
    if w.phase != Phase::Safety || !w.nodes[i].up {
        return;
    }
    let Some(me) = identity(w, i) else { return };
    let spaces: Vec<PublicKey> = w.work.spaces.iter().map(|(s, _)| *s).collect();
    for space in spaces {
        let done = w.adversary.persistent.appended.get(&space).map_or(0, BTreeMap::len);
        let held = w.nodes[i].peer.as_ref().is_some_and(|p| p.client().space(&space).is_some());
        if !held || done >= BURST_PER_SPACE_MAX {
            continue;
        }
        let Some(knew) = removal_known(w, &space, &me) else { continue };
        if !w.adversary.persistent.knew.contains_key(&space) {
            let creator = w.work.spaces.iter().find(|(s, _)| *s == space).map(|(_, c)| *c);
            let changes = creator.and_then(|c| role_changes(w, c, &space, &me)).unwrap_or_default();
            w.adversary.persistent.changes.insert(space, changes);
            w.adversary.persistent.knew.insert(space, knew);
        }
        for _ in 0..BURST_PER_TICK.min(BURST_PER_SPACE_MAX - done) {
            if let Some((feed, seq, control, hash)) = append_one(w, i, space, me) {
                w.adversary.persistent.appended.entry(space).or_default().insert((feed, seq), (control, hash));
            }
        }
    }
}

/// Appends one entry of a random kind; returns (feed, seq, control?, hash).
fn append_one(w: &mut World, i: usize, space: PublicKey, me: PublicKey) -> Option<(PublicKey, u64, bool, EntryHash)> {
    let kind = roll(w, 7);
    let now = w.local(i, w.now);
    let mut fresh = [0u8; 32];
    w.rng_adv.fill_bytes(&mut fresh);
    let feed_key = Keypair::generate(&mut w.rng_adv).public();
    let ops = (kind == 6).then(|| crate::workload::ops_for(w, i, space));
    let peer = w.nodes[i].peer.as_mut()?;
    let client = peer.client();
    let sp = client.space(&space)?;
    let heads = sp.membership().next_parents();
    let genesis = sp.membership().genesis()?;
    let others: Vec<PublicKey> = sp.members().iter().map(|m| m.identity).filter(|k| *k != me).collect();
    let other = others.get(fresh[0] as usize % others.len().max(1)).copied().unwrap_or(me);
    let grant = |role| Assertion::SpaceMember { space, role, invitation: None, data_frontier: vec![] };
    let signer = client.identity().signer();
    let (control, payload) = match kind {
        0 => (true, signer.issue(me, grant(Role::Admin), now, heads).to_bytes()),
        1 => (true, signer.issue(other, grant(Role::Admin), now, heads).to_bytes()),
        2 => {
            let noise_key = client.identity().noise_key();
            let device = client.identity().device_key();
            let designation = Designation::Control;
            let assertion = Assertion::AdmittedFeed { space, identity: me, device, noise_key, designation };
            (true, signer.issue(feed_key, assertion, now, heads).to_bytes())
        }
        3 => {
            let cancel = Assertion::CancelInvitation {
                space,
                delegation: spaces_protocol::CredentialId(spaces_protocol::hash::Digest(fresh)),
            };
            (true, signer.issue(space, cancel, now, heads).to_bytes())
        }
        4 => (true, signer.issue(other, grant(Role::Removed), now, vec![genesis]).to_bytes()),
        5 => (true, fresh.to_vec()),
        _ => (false, client.mutation_raw(&space, ops.unwrap_or_default()).ok()?),
    };
    let entry = peer.client_mut().append_raw(&space, control, payload).ok()?;
    w.stats.attack(if control { "insider-removed-credential" } else { "insider-removed-write" });
    Some((entry.body.feed, entry.body.seq, control, entry.hash()))
}

/// R1, on a trusted replica that just changed: of what the insider appended after every
/// member knew of its removal, the replica holds at most `HEARD_ENTRIES_MAX` entries per
/// control feed and none of its data feeds (SPEC §9.2.2 rule 6).
pub fn check(w: &mut World, i: usize, space: PublicKey) {
    let Some(x) = insider(w) else { return };
    let Some(me) = identity(w, x) else { return };
    let Some(appended) = w.adversary.persistent.appended.get(&space) else { return };
    // A trusted replica that holds the space yet lists the insider as a member (one that
    // joined since through the insider's own invitation, say) takes the burst as a member's
    // and passes it on as any member does: what others hold then came through a member, not
    // from the removed device, which is all §9.2.2 rule 6 bounds. R1 rests for the space.
    let relayed = w.honest().filter(|j| w.trusted(*j)).any(|j| role_in(w, j, &space, &me).is_some_and(Role::is_member));
    if relayed {
        w.adversary.persistent.relayed.insert(space);
    }
    if w.adversary.persistent.relayed.contains(&space) {
        return;
    }
    if !w.adversary.persistent.knew.get(&space).is_some_and(|k| k.contains(&i)) {
        return;
    }
    let start = w.adversary.persistent.changes.get(&space);
    // Any honest replica's later role change of the insider (a readmission through a new code,
    // say) moves what the removal had seen: a replica may then take the insider's entries from
    // a member that holds that change before it holds the change itself.
    let mut seen = BTreeSet::new();
    for j in w.honest().filter(|j| w.trusted(*j)) {
        seen.extend(role_changes(w, j, &space, &me).unwrap_or_default());
    }
    if !start.is_some_and(|s| seen.is_subset(s)) {
        return;
    }
    if role_in(w, i, &space, &me) != Some(Role::Removed) {
        return; // admitted again since, or not yet told: what it holds is a member's
    }

    let Some(sp) = w.nodes[i].peer.as_ref().and_then(|p| p.client().space(&space)) else { return };
    let mut held: BTreeMap<(PublicKey, bool), u64> = BTreeMap::new();
    for ((feed, seq), (control, hash)) in appended {
        if sp.feed(feed).and_then(|f| f.hash_at(*seq)) == Some(*hash) {
            *held.entry((*feed, *control)).or_default() += 1;
        }
    }
    let over = held.iter().find(|((_, control), n)| if *control { **n > HEARD_ENTRIES_MAX } else { **n > 0 });
    if let Some(((feed, control), n)) = over {
        let what = if *control { "control" } else { "data" };
        let detail = format!(
            "node {i} holds {n} entries the removed insider appended to its {what} feed {} after every member \
             knew of its removal (bound {})",
            crate::trace::short(&feed.0),
            if *control { HEARD_ENTRIES_MAX } else { 0 }
        );
        w.fail("R1", detail);
    }
}
