//! A removed member's device: part of L1, it learns of its removal (SPEC §9.2.2 rule 7), its
//! replica may lag on items, but it must not go on believing itself a member; and R4, once
//! it knows, it stops dialling (SPEC §9.1.1).

use spaces_protocol::membership::Member;
use spaces_protocol::peer::ConnId;
use spaces_protocol::peer::redial::DialState;
use spaces_protocol::space::Standing;
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

/// R4: a device that knows it was removed from every space it holds dials no one for a swarm
/// (SPEC §9.1.1, removed devices): no member would link with it, so each dial is a connection members
/// pay a handshake for, about once a minute per member for as long as it runs. Checked as
/// node `i` releases a `Connect` for `conn`. A dial for an invitation it accepted is its own
/// business (a removed identity may be invited back), so a dial counts as a swarm dial when
/// the Peer's dial table holds it for a device, or when no accepted invitation is open. A dial
/// to a device of its own identity is for the HALO (SPEC §9.8), which removal does not end.
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
    let me = p.client().identity_key();
    let held: Vec<PublicKey> = p.client().space_keys().copied().collect();
    let removed = |k: &PublicKey| p.client().space(k).is_some_and(|sp| sp.standing(&me) == Standing::Removed);
    if held.is_empty() || !held.iter().all(removed) {
        return None;
    }
    let devices: Vec<PublicKey> =
        w.nodes.iter().filter_map(|n| n.peer.as_ref()).map(|q| q.client().identity().device_key()).collect();
    let dialled = devices.iter().find(|d| p.dial_state(d) == Some(DialState::Dialling(conn)));
    // A device of its own identity is dialled for the HALO, not for a space (SPEC §9.8).
    if dialled.is_some_and(|d| p.client().halo().contains(d)) {
        return None;
    }
    let in_table = dialled.is_some();
    let inviting = p.joining().any(|g| !g.state().is_terminal());
    (in_table || !inviting).then(|| held.iter().map(short).collect::<Vec<_>>().join(", "))
}
