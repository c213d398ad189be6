//! The forking insider (`Adversaries::forker`): the insider's device restored from an old copy
//! of its disk, which then writes again at positions of its feeds it had already published.
//!
//! This is how feeds fork in the field (a device brought back from a backup, a disk image
//! copied to a second machine), and what a malicious member does to show different replicas
//! different histories. The insider keeps a copy of its durable log; later, once its feeds
//! have grown past that copy, it crashes, comes back from the copy, and at once (before any
//! replica can hand its own entries back) appends a write and a credential: entries at
//! positions some honest replicas already hold other entries at. Replicas that took the first
//! branch and those that take the second must end with the same items and members (L1); a
//! replica that ignores forks (`feed-ignores-forks`) keeps its branch for ever.

use std::collections::BTreeSet;

use spaces_protocol::credential::Assertion;
use spaces_protocol::peer::durable::Record;
use spaces_protocol::{Canonical, PublicKey};

use super::roll;
use crate::world::World;

/// Roll-backs per run at most: each forks every feed the insider wrote since its copy.
const ROLLBACKS_MAX: u32 = 2;

#[derive(Default)]
pub struct Forker {
    /// The copy of the insider's durable log, the entries its feeds held then, and the guests
    /// it had admitted and the members it had removed then.
    backup: Option<(Vec<Record>, u64, (usize, usize))>,
    rollbacks: u32,
    /// Invitations the insider hosted across a roll-back: their attempt budgets came back
    /// with the copy, and a cancel made since the copy is forgotten, which S6 and S1 do not
    /// hold the insider's own device to (hostile 798: a cancelled invitation admitted again).
    forgetful: BTreeSet<[u8; 16]>,
    /// Admissions by the insider's hosts so far (`admission`).
    admissions: usize,
}

impl Forker {
    /// Did a roll-back give invitation `id`'s host its budget back?
    pub fn forgot(&self, id: &[u8; 16]) -> bool {
        self.forgetful.contains(id)
    }
}

/// Guests the insider's hosted invitations admitted so far: counted as they are admitted, not
/// from the Peer's table, which lets ended invitations go at their expiry (hostile 87: an
/// admission and an eviction in one interval left the sum unchanged, and the insider rolled
/// back below an admission, the case of SPEC §9.7 item 10 the forker must avoid).
fn admitted(w: &World, i: usize) -> usize {
    if w.work.insider == Some(i) { w.adversary.forker.admissions } else { 0 }
}

/// Node `i` admitted a guest through an invitation it hosts.
pub fn admission(w: &mut World, i: usize) {
    if w.work.insider == Some(i) {
        w.adversary.forker.admissions += 1;
    }
}

fn hosted(w: &World, i: usize) -> Vec<[u8; 16]> {
    w.nodes[i].peer.as_ref().map(|p| p.hosting().map(|h| h.code().id).collect()).unwrap_or_default()
}

/// Removals the insider's identity issued, over all the spaces it holds.
fn removed(w: &World, i: usize) -> usize {
    let Some(p) = w.nodes[i].peer.as_ref() else { return 0 };
    let me = p.client().identity_key();
    let removal = |c: &&spaces_protocol::credential::Credential| {
        c.issuer() == me && matches!(c.assertion(), Assertion::SpaceMember { role: spaces_protocol::Role::Removed, .. })
    };
    let spaces = p.client().space_keys().filter_map(|k| p.client().space(k));
    spaces.map(|sp| sp.membership().credentials().filter(removal).count()).sum()
}

/// Entries the insider's replica holds in all its spaces.
fn held(w: &World, i: usize) -> u64 {
    w.nodes[i].peer.as_ref().map_or(0, |p| crate::oracle::owed(p.client()).values().sum())
}

/// The insider's turn: copy its disk, or (once its feeds grew past the copy) come back from
/// the copy and write at once. `true` when it rolled back (its action for this turn).
pub fn act(w: &mut World, i: usize) -> bool {
    if !w.cfg.adversaries.forker || w.adversary.forker.rollbacks >= ROLLBACKS_MAX || !w.nodes[i].up {
        return false;
    }
    let (now_held, now_admitted) = (held(w, i), (admitted(w, i), removed(w, i)));
    let Some((_, then_held, then_admitted)) = &w.adversary.forker.backup else {
        w.adversary.forker.backup = Some((w.nodes[i].durable.log.clone(), now_held, now_admitted));
        return false;
    };
    // A guest admitted since the copy would hold an admission only the dropped branch carried,
    // which no member could learn of (SPEC §9.7 item 10, open); a member removed since, the
    // removal, which only the removed device could then tell (hostile 1240). The insider copies
    // its disk again instead.
    if now_admitted != *then_admitted {
        w.adversary.forker.backup = Some((w.nodes[i].durable.log.clone(), now_held, now_admitted));
        return false;
    }
    if now_held <= *then_held || roll(w, 2) == 0 {
        return false;
    }
    let (log, _, _) = w.adversary.forker.backup.take().expect("checked above");
    w.adversary.forker.rollbacks += 1;
    w.stats.attack("insider-fork");
    let before = hosted(w, i);
    w.adversary.forker.forgetful.extend(before);
    w.crash(i);
    w.nodes[i].durable.log = log;
    // What the device acknowledged after the copy is what it now forgets: the insider's own
    // promises, which S5 holds honest devices to, not this one.
    w.nodes[i].acked.clear();
    w.restart(i);
    let after = hosted(w, i);
    w.adversary.forker.forgetful.extend(after);
    let spaces: Vec<PublicKey> =
        w.nodes[i].peer.as_ref().map(|p| p.client().spaces().iter().map(|s| s.key).collect()).unwrap_or_default();
    for space in spaces {
        write_again(w, i, space);
    }
    true
}

/// A data write and a credential in `space`, appended before the device reconnects.
fn write_again(w: &mut World, i: usize, space: PublicKey) {
    let ops = crate::workload::ops_for(w, i, space);
    let now = w.local(i, w.now);
    let Some(peer) = w.nodes[i].peer.as_mut() else { return };
    if let Ok(payload) = peer.client().mutation_raw(&space, ops) {
        let _ = peer.client_mut().append_raw(&space, false, payload);
    }
    let Some(heads) = peer.client().space(&space).map(|s| s.membership().next_parents()) else { return };
    let mut fresh = [0u8; 32];
    fresh[..8].copy_from_slice(&now.as_millis().to_le_bytes());
    let cancel = Assertion::CancelInvitation {
        space,
        delegation: spaces_protocol::CredentialId(spaces_protocol::hash::Digest(fresh)),
    };
    let credential = peer.client().identity().signer().issue(space, cancel, now, heads);
    let _ = peer.client_mut().append_raw(&space, true, credential.to_bytes());
}
