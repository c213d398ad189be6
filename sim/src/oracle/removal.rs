//! A removed member's device: part of L1, it learns of its removal (SPEC §9.2.2 rule 7), its
//! replica may lag on items, but it must not go on believing itself a member; and R4, once
//! it knows, it stops dialling (SPEC §9.1.1). Likewise a device its identity removed
//! (`RemovedDevice`, SPEC §4.4 step 7): it must come to know, and then dials no one.

use std::collections::BTreeSet;

use spaces_protocol::membership::Member;
use spaces_protocol::peer::ConnId;
use spaces_protocol::peer::redial::DialState;
use spaces_protocol::space::Standing;
use spaces_protocol::{PublicKey, Role, Space};

use super::{View, short};
use crate::world::World;

/// `truth` is what the rules make of every honest replica together; `views`, each honest
/// replica's own. A device its identity removed (SPEC §4.4 step 7) must likewise know it.
pub(super) fn check(w: &World, space: &PublicKey, truth: &Space, views: &[(usize, View)]) -> Result<(), String> {
    let members: Vec<Member> = truth.members();
    for (i, v) in views {
        let Some(p) = w.nodes[*i].peer.as_ref() else { continue };
        let me = p.client().identity_key();
        // Out either way, and aware of it: a removed device need not hear that its identity
        // was removed since (no member links with it to tell it).
        let knows = p.client().standing(space) == Ok(Standing::Removed);
        if device_removed(w, *i, truth) && !knows {
            return Err(format!(
                "node {i}'s identity removed the device from space {} but its replica does not show it",
                short(space)
            ));
        }
        if knows || !members.iter().any(|m| m.identity == me && m.role == Role::Removed) {
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

/// Whether `truth` holds a removal of node `i`'s device by its identity, or of a device it was
/// linked through.
pub(super) fn device_removed(w: &World, i: usize, truth: &Space) -> bool {
    let Some(c) = w.nodes[i].peer.as_ref().map(|p| p.client()) else { return false };
    let removed = truth.membership().removed_devices(&c.identity_key());
    !removed.is_empty() && c.devices_through().iter().any(|d| removed.contains(d))
}

/// Every (identity, device) removal that the rules make of the honest replicas of any space
/// together; empty in worlds without device removal, so as to cost nothing there.
pub(crate) fn removed_devices(w: &World) -> BTreeSet<(PublicKey, PublicKey)> {
    if !w.cfg.device_removal {
        return BTreeSet::new();
    }
    let spaces: BTreeSet<PublicKey> = w.work.spaces.iter().map(|(s, _)| *s).collect();
    let identities: BTreeSet<PublicKey> =
        w.nodes.iter().filter_map(|n| n.peer.as_ref()).map(|p| p.client().identity_key()).collect();
    let mut out = BTreeSet::new();
    for space in spaces {
        let Some(truth) = crate::mutant::suspended(|| super::union_space(w, &space)) else { continue };
        for identity in &identities {
            out.extend(truth.membership().removed_devices(identity).into_iter().map(|d| (*identity, d)));
        }
    }
    out
}

/// Whether node `i`'s device, or one it was linked through, is among `removed`: its identity
/// disowned it, whether or not the device has heard (a device it links meanwhile is linked
/// through it, and so disowned too).
pub(crate) fn disowned(w: &World, i: usize, removed: &BTreeSet<(PublicKey, PublicKey)>) -> bool {
    let Some(c) = w.nodes[i].peer.as_ref().map(|p| p.client()) else { return false };
    let me = c.identity_key();
    !removed.is_empty() && c.devices_through().iter().any(|d| removed.contains(&(me, *d)))
}

/// R4: a device that knows it was removed from every space it holds dials no one for a swarm
/// (SPEC §9.1.1, removed devices): no member would link with it, so each dial is a connection members
/// pay a handshake for, about once a minute per member for as long as it runs. Checked as
/// node `i` releases a `Connect` for `conn`. A dial for an invitation it accepted is its own
/// business (a removed identity may be invited back), so a dial counts as a swarm dial when
/// the Peer's dial table holds it for a device, or when no accepted invitation is open. A dial
/// to a device of its own identity is for the HALO (SPEC §9.8), which a member's removal does
/// not end, and a device's removal does.
pub fn dialled(w: &mut World, i: usize, conn: ConnId) {
    if let Some(spaces) = removed_everywhere_dialling(w, i, conn) {
        w.fail(
            "R4",
            format!("node {i} knows it was removed from every space it holds ({spaces}) yet dials for a swarm"),
        );
    }
}

/// The spaces node `i` holds, if it knows it was removed from each and `conn` is a swarm dial.
fn removed_everywhere_dialling(w: &World, i: usize, conn: ConnId) -> Option<String> {
    let p = w.nodes[i].peer.as_ref().filter(|_| w.trusted(i))?;
    let held: Vec<PublicKey> = p.client().space_keys().copied().collect();
    let removed = |k: &PublicKey| p.client().standing(k) == Ok(Standing::Removed);
    if held.is_empty() || !held.iter().all(removed) {
        return None;
    }
    let devices: Vec<PublicKey> =
        w.nodes.iter().filter_map(|n| n.peer.as_ref()).map(|q| q.client().identity().device_key()).collect();
    let dialled = devices.iter().find(|d| p.dial_state(d) == Some(DialState::Dialling(conn)));
    // A device of its own identity is dialled for the HALO, not for a space (SPEC §9.8),
    // unless the identity disowned this one (it leaves the HALO).
    if dialled.is_some_and(|d| p.client().halo().contains(d)) && !p.client().disowned() {
        return None;
    }
    let in_table = dialled.is_some();
    let inviting = p.joining().any(|g| !g.state().is_terminal());
    (in_table || !inviting).then(|| held.iter().map(short).collect::<Vec<_>>().join(", "))
}
