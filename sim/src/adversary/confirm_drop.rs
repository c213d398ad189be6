//! The confirmation dropper: an on-path attacker on invitation connections that drops the
//! guest's key confirmation (the frame that proves the PIN) and cuts the connection, so the
//! guest is left in doubt and retries on its own. One correct PIN typed once must not cost
//! the invitation its budget, and the host's state must say what it does (L2 judges the
//! guest's outcome after healing).

use std::collections::BTreeMap;

use spaces_protocol::Canonical;
use spaces_protocol::invitation::wire::{Frame, FrameBody};
use spaces_protocol::peer::{ConnId, PeerBody, PeerFrame};

use super::chance;
use crate::world::World;

/// Invitation connections tracked at once; beyond it the oldest are forgotten (a bound on the
/// simulator's own memory, not on the protocol).
const TRACKED_MAX: usize = 4_096;

/// Sealed frames each guest has sent on each invitation connection, keyed by (guest, conn).
#[derive(Default)]
pub struct Tracker {
    sealed: BTreeMap<(usize, ConnId), u32>,
}

/// Whether the attacker drops this frame from `a` on `conn` (and cuts the connection).
pub fn strikes(w: &mut World, a: usize, b: usize, conn: ConnId, bytes: &[u8]) -> bool {
    let ppm = w.cfg.adversaries.confirm_drop_ppm;
    if ppm == 0 || !w.nodes[a].is_honest() || !w.nodes[b].is_honest() {
        return false;
    }
    let Ok(PeerFrame { body: PeerBody::Invitation(inner), .. }) = PeerFrame::from_bytes(bytes) else { return false };
    let Ok(frame) = Frame::from_bytes(&inner) else { return false };
    let tracker = &mut w.adversary.confirms;
    match frame.body {
        FrameBody::Hello { .. } => {
            if tracker.sealed.len() >= TRACKED_MAX {
                tracker.sealed.pop_first();
            }
            tracker.sealed.insert((a, conn), 0);
            false
        }
        FrameBody::Sealed { .. } => {
            let Some(n) = tracker.sealed.get_mut(&(a, conn)) else { return false };
            *n += 1;
            // The guest's sealed messages alternate PakeStart, Confirm (PIN method).
            let confirm = *n % 2 == 0;
            if confirm && chance(w, ppm) {
                w.stats.attack("confirm-drop");
                return true;
            }
            false
        }
        _ => false,
    }
}
