//! Part of L1: a removed member's device learns of its removal (SPEC §9.2.2 rule 7). Its
//! replica may lag on items, but it must not go on believing itself a member.

use spaces_protocol::membership::Member;
use spaces_protocol::{PublicKey, Role};

use super::{View, short};
use crate::world::World;

/// `truth` is what the rules make of every honest replica together; `views`, each honest
/// replica's own.
pub(super) fn check(w: &World, space: &PublicKey, truth: &[Member], views: &[(usize, View)]) -> Result<(), String> {
    for (i, v) in views {
        let Some(p) = w.nodes[*i].peer.as_ref() else { continue };
        let me = p.client().identity_key();
        if !truth.iter().any(|m| m.identity == me && m.role == Role::Removed) {
            continue;
        }
        if let Some(m) = v.0.iter().find(|m| m.identity == me && m.role != Role::Removed) {
            return Err(format!(
                "node {i} was removed from space {} but its replica still shows it {}",
                short(space),
                m.role.name()
            ));
        }
    }
    Ok(())
}
