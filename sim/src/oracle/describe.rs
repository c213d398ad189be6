//! The oracle's words for what it saw: nodes, links, rosters and roles as SPEC names them,
//! never Rust's `Debug` (issue 16: a failure is read by people who do not write Rust).

use spaces_protocol::membership::Member;
use spaces_protocol::{PublicKey, Role};

use crate::world::World;

/// A node's open swarm links, by remote node and number of spaces carried.
pub(super) fn links(w: &World, i: usize) -> String {
    let Some(p) = w.nodes[i].peer.as_ref() else { return "down".into() };
    let parts: Vec<String> = p
        .swarm_links()
        .iter()
        .map(|l| {
            let n = w.nodes.iter().position(|n| {
                n.peer.as_ref().is_some_and(|p| p.client().identity().noise_keypair().public() == l.remote)
            });
            let spaces: Vec<String> = l.spaces.iter().map(short).collect();
            format!("n{}({})", n.map_or("?".into(), |n| n.to_string()), spaces.join(","))
        })
        .collect();
    format!("[{}]", parts.join(" "))
}

/// Members as `node:role`, naming nodes by index where the identity is a node's.
pub(super) fn roster(w: &World, members: &[Member]) -> String {
    let name = |k: &PublicKey| {
        let node = w.nodes.iter().position(|n| n.peer.as_ref().is_some_and(|p| p.client().identity_key() == *k));
        node.map_or_else(|| short(k), |n| format!("n{n}"))
    };
    let parts: Vec<String> = members.iter().map(|m| format!("{}:{}", name(&m.identity), m.role.name())).collect();
    format!("[{}]", parts.join(" "))
}

pub(super) fn short(k: &PublicKey) -> String {
    crate::trace::short(&k.0)
}

/// A role as SPEC names it, or `none` (a DEVICE code has none).
pub fn role_or_none(role: Option<Role>) -> &'static str {
    role.map_or("none", Role::name)
}
