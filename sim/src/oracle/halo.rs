//! H1, part of L1: after healing, the devices of one identity agree on their HALO (SPEC §9.8).
//! Each holds every space another holds as a current member (unless it left that space, or
//! the other is leaving it), and they know the same devices and contacts. A device linked by a
//! DEVICE invitation starts with none of this, so the check fails on a protocol that does not
//! replicate the HALO (`halo-no-join`). A device its identity removed is left out: it is none
//! of the identity's devices any more.

use std::collections::BTreeSet;

use spaces_protocol::PublicKey;
use spaces_protocol::space::Standing;

use super::short;
use crate::world::World;

pub(super) fn check(w: &World) -> Result<(), String> {
    // A device its identity removed is none of its devices any more (SPEC §9.8), nor is one
    // linked through it: L1's removal part holds each to knowing so where it holds the space.
    let removed = super::removal::removed_devices(w);
    let kept = |i: &usize| w.nodes[*i].peer.is_some() && !super::removal::disowned(w, *i, &removed);
    let up: Vec<usize> = w.honest().filter(|i| w.trusted(*i) && kept(i)).collect();
    for &i in &up {
        let p = w.nodes[i].peer.as_ref().expect("up");
        let me = p.client().identity_key();
        for &j in up.iter().filter(|j| **j != i) {
            let q = w.nodes[j].peer.as_ref().expect("up");
            if q.client().identity_key() != me {
                continue;
            }
            let member = |k: &PublicKey| matches!(p.client().standing(k), Ok(Standing::Member(_)));
            let lacking = p
                .client()
                .space_keys()
                .filter(|k| member(k) && !p.is_leaving(k))
                .find(|k| q.client().space(k).is_none() && !q.client().has_left(k));
            if let Some(k) = lacking {
                return Err(format!(
                    "HALO: node {j}, a device of node {i}'s identity, lacks space {} that node {i} holds as a member",
                    short(k)
                ));
            }
            let devices = |c: &spaces_protocol::Client| c.halo().devices().map(|(d, _)| *d).collect::<BTreeSet<_>>();
            if devices(p.client()) != devices(q.client()) {
                return Err(format!("HALO: nodes {i} and {j}, devices of one identity, know different devices"));
            }
            if let Some(c) = p.client().contacts().iter().find(|c| !q.client().contacts().contains(*c) && **c != me) {
                return Err(format!("HALO: node {j} lacks contact {} that node {i}, of its identity, knows", short(c)));
            }
        }
    }
    Ok(())
}
