//! The shape-maker (`Adversaries::shapes`): the insider, while it is a member, appends to its
//! control feed bursts of credentials in the hostile DAG shapes of issue 11, which made every
//! replica's resolution or memory grow faster than its credentials before that issue:
//! - a chain whose credentials each cite the two previous ones (each started a new causal
//!   chain copying every earlier chain's clock);
//! - early junk, citing only the genesis (it sorts before everything and forced a full
//!   resolution per insert);
//! - width: credentials citing a random earlier credential, so the DAG has many concurrent
//!   branches.
//!
//! Each credential is a cancellation of a delegation that does not exist: whatever the
//! insider's role, it changes no member and no item, so every other oracle judges the world as
//! if the burst were not there, and only R2 (`oracle::resources`) sees its cost.

use std::collections::BTreeMap;

use rand_core::RngCore;
use spaces_protocol::credential::Assertion;
use spaces_protocol::hash::Digest;
use spaces_protocol::{Canonical, CredentialId, PublicKey};

use super::roll;
use crate::world::World;

/// Credentials one burst appends: enough that a cost per insert that grows with the space
/// shows within a few bursts.
const BURST: usize = 48;
/// Credentials the shape-maker appends per space at most: bounds the run, and is well above
/// the honest spaces' size (at most a few dozen credentials), so R2's slack is small beside it.
const PER_SPACE_MAX: usize = 384;

/// What the shape-maker appended, per space: how many, and the ids of its last two (the
/// double-citing chain continues from them).
#[derive(Default)]
pub struct Shapes {
    made: BTreeMap<PublicKey, (usize, Vec<CredentialId>)>,
}

/// One burst in `space`, of one shape.
pub fn burst(w: &mut World, i: usize, space: PublicKey) {
    let done = w.adversary.shapes.made.get(&space).map_or(0, |(n, _)| *n);
    let shape = roll(w, 3);
    w.stats.attack(match shape {
        0 => "shapes-double-cite",
        1 => "shapes-early-junk",
        _ => "shapes-width",
    });
    let now = w.local(i, w.now);
    for _ in 0..BURST.min(PER_SPACE_MAX.saturating_sub(done)) {
        let mut fresh = [0u8; 32];
        w.rng_adv.fill_bytes(&mut fresh);
        let pick = w.rng_adv.next_u64();
        let Some(peer) = w.nodes[i].peer.as_mut() else { return };
        let Some(sp) = peer.client().space(&space) else { return };
        let m = sp.membership();
        let Some(genesis) = m.genesis() else { return };
        let last = w.adversary.shapes.made.get(&space).map(|(_, l)| l.clone()).unwrap_or_default();
        let parents = match shape {
            0 if last.len() == 2 => last.clone(),
            0 => m.next_parents(),
            1 => vec![genesis],
            _ => m.credentials().nth((pick % m.len().max(1) as u64) as usize).map(|c| vec![c.id()]).unwrap_or_default(),
        };
        let cancel = Assertion::CancelInvitation { space, delegation: CredentialId(Digest(fresh)) };
        let credential = peer.client().identity().signer().issue(space, cancel, now, parents);
        let id = credential.id();
        if peer.client_mut().append_raw(&space, true, credential.to_bytes()).is_err() {
            return;
        }
        let (n, last) = w.adversary.shapes.made.entry(space).or_default();
        *n += 1;
        last.push(id);
        if last.len() > 2 {
            last.remove(0);
        }
    }
}
