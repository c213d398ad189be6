//! The removed member who comes back: once an admin removes it from a space, it opens the code
//! that admitted it again, with the right secret (it is the same user), whatever the method and
//! however the invitation ended. Nothing signed before the removal may undo it (S1,
//! `oracle::readmission`).

use spaces_protocol::peer::Command;
use spaces_protocol::{PublicKey, Role};

use super::chance;
use crate::world::{Ev, Kind, World};

/// A removal command is about to reach its device: maybe the removed member plans to return.
pub fn command(w: &mut World, c: &Command) {
    let Command::SetRole { space, member, role: Role::Removed } = c else { return };
    if !chance(w, w.cfg.adversaries.rejoin_ppm) {
        return;
    }
    let Some(node) = node_of_identity(w, member) else { return };
    // The offer through which it joined this space, finished, so its events are not confused.
    let joined = w.work.offers.iter().enumerate().rev().find(|(k, o)| {
        o.guest == node
            && crate::oracle::space_of_offer(w, *k) == Some(*space)
            && w.oracle.success.tracks.get(k).is_some_and(|t| t.outcome == Some(Ok(())))
    });
    let Some((_, old)) = joined else { return };
    let mut again = old.clone();
    again.plan = crate::workload::Plan::Prompt;
    again.typo_sent = false;
    w.work.offers.push(again);
    let k = w.work.offers.len() - 1;
    w.oracle.success.adversarial.insert(k);
    w.stats.attack("removed-member-rejoins");
    let delay = 1_000 + super::roll(w, 30_000);
    w.after(delay, Ev::Offer { node, offer: k });
}

fn node_of_identity(w: &World, identity: &PublicKey) -> Option<usize> {
    w.nodes
        .iter()
        .position(|n| n.kind == Kind::Honest && n.peer.as_ref().is_some_and(|p| p.client().identity_key() == *identity))
}
