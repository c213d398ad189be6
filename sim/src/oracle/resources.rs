//! R2, the resource oracle (issue 11): what a member can make every honest replica compute and
//! hold for a space stays linear in the credentials the replica holds, whatever DAG shape the
//! member issues (`adversary::shapes`). Counted deterministically from `Membership::work` and
//! `Membership::clock_entries`, never timed, so a failure replays bit for bit.
//!
//! The bounds, and why each is safe for an honest replica:
//! - Judgments: a full resolution judges each credential once in its first round and each
//!   changed one once per later round; an insert judges what it and the old void set change
//!   (SPEC §4.10). Honest worlds stay under 3 per credential held; a resolution from scratch on
//!   every insert (the cost before issue 11) is about n/2 per credential.
//! - Clock entries: a chain with side branches, merges and shortcuts raises at most a few
//!   entries per credential; copying a whole clock per new chain (before issue 11) is O(n) per
//!   credential for a member citing its own two previous credentials.
//!
//! The slack covers small spaces, where a constant dominates.

use crate::world::World;

/// Credentials judged per credential held, over the life of a replica's `Membership`.
pub const JUDGED_PER_CREDENTIAL_MAX: u64 = 8;
/// Vector-clock entries held per credential held.
pub const CLOCK_ENTRIES_PER_CREDENTIAL_MAX: usize = 4;
/// Allowance for small spaces (the genesis, a few admissions and a removal's rounds).
pub const SLACK: u64 = 256;

/// Checks every trusted replica's every space.
pub fn check(w: &mut World) {
    let nodes: Vec<usize> = w.honest().filter(|i| w.trusted(*i)).collect();
    for i in nodes {
        let Some(peer) = w.nodes[i].peer.as_ref() else { continue };
        let mut over = None;
        for s in peer.client().spaces() {
            let Some(space) = peer.client().space(&s.key) else { continue };
            let m = space.membership();
            let held = m.len() as u64;
            let judged = m.work().judged;
            let clock = m.clock_entries() as u64;
            if judged > JUDGED_PER_CREDENTIAL_MAX * held + SLACK {
                over = Some(format!(
                    "node {i} judged {judged} credentials for {held} held in space {} (bound {} per credential + {SLACK})",
                    crate::trace::short(&s.key.0),
                    JUDGED_PER_CREDENTIAL_MAX
                ));
            } else if clock > CLOCK_ENTRIES_PER_CREDENTIAL_MAX as u64 * held + SLACK {
                over = Some(format!(
                    "node {i} holds {clock} clock entries for {held} credentials in space {} (bound {} per credential + {SLACK})",
                    crate::trace::short(&s.key.0),
                    CLOCK_ENTRIES_PER_CREDENTIAL_MAX
                ));
            }
            if over.is_some() {
                break;
            }
        }
        if let Some(detail) = over {
            return w.fail("R2", detail);
        }
    }
}
