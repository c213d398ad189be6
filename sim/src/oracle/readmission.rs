//! S1, readmission: an invitation never re-admits an identity whose removal came after the
//! invitation was created. Removal is the strongest thing an admin does; a code handed out
//! before it must not undo it, whatever the method, the invitation's end or a host restart.
//!
//! The membership rules alone cannot see this: a grant that follows a removal is a legitimate
//! re-invitation when an admin chose to invite the member again, so the oracle judges the
//! grant against what the story knows: when the removal was commanded, and when the
//! invitation that produced the grant was created.

use std::collections::BTreeSet;

use spaces_protocol::credential::{Assertion, CredentialId};
use spaces_protocol::membership::Effect;
use spaces_protocol::{PublicKey, Role};

use crate::world::World;

/// Grants the oracle has already judged, so each is judged once, at the admission that made it.
#[derive(Default)]
pub struct Judged {
    grants: BTreeSet<CredentialId>,
}

/// Host `i` admitted `guest` through invitation `id`: any new grant on its replica that makes
/// a removed `guest` a member again must come from an invitation created after the removal.
pub fn check(w: &mut World, i: usize, id: [u8; 16], guest: PublicKey) {
    let Some(peer) = w.nodes[i].peer.as_ref() else { return };
    let Some(space) = peer.hosting().find(|h| h.code().id == id).and_then(|h| h.record().space) else { return };
    let Some(replica) = peer.client().space(&space) else { return };
    let host = peer.client().identity_key();
    let m = replica.membership();
    let rejoins: Vec<CredentialId> = m
        .credentials()
        .filter(|c| c.body.subject == guest && c.body.issuer == host && m.effect(&c.id()) == Some(Effect::Applied))
        .filter(|c| matches!(c.body.assertion, Assertion::SpaceMember { role, .. } if role != Role::Removed))
        .filter(|c| m.role_at_point(&guest, &c.body.parents) == Ok(Some(Role::Removed)))
        .map(|c| c.id())
        .collect();
    let fresh: Vec<CredentialId> = rejoins.into_iter().filter(|c| !w.oracle.readmission.grants.contains(c)).collect();
    if fresh.is_empty() {
        return;
    }
    w.oracle.readmission.grants.extend(fresh.iter().copied());
    let created = super::created_at(w, &id);
    let removed = super::removed_at(w, &space, &guest);
    let legitimate = matches!((created, removed), (Some(c), Some(r)) if c > r);
    if !legitimate {
        let detail = format!(
            "node {i} re-admitted removed member {} through invitation {} (created at {:?}, removal at {:?})",
            crate::trace::short(&guest.0),
            hex::encode(id),
            created.map(|t| t - crate::clock::EPOCH_MS),
            removed.map(|t| t - crate::clock::EPOCH_MS),
        );
        w.fail("S1", detail);
    }
}
