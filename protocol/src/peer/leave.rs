//! Leaving a space hands off first (SPEC.md §9.4.2): what this device signed may exist nowhere
//! else yet (an admission it just issued as an invitation host, above all: the new member
//! holds its grant, but no other member can learn of it from anyone but us, and refuses the
//! new member's links meanwhile). So `Leave` drops the replica only once a member's summary
//! shows every feed of ours at its length, or after `LEAVE_HANDOFF_MS`; until then the device
//! replicates the space as before.

use super::*;
use crate::credential::FeedPosition;

/// How long a leaving device waits for a member to hold its feeds. Long enough for a member
/// met on the space topic to pull them (a few anti-entropy rounds); bounded, so that leaving
/// a space whose members are all unreachable still happens.
pub const LEAVE_HANDOFF_MS: u64 = 120_000;

impl Peer {
    pub(super) fn leave(&mut self, space: PublicKey, now: Timestamp) -> Result<(), CommandError> {
        let sp = self.client.space(&space).ok_or(ClientError::UnknownSpace)?;
        let me = self.client.identity().noise_key();
        let m = sp.membership();
        let others = m.feeds().any(|(_, a)| a.noise_key != me && m.is_member(&a.identity));
        // The user is gone from the space at once: its invitations end here (another host of
        // a delegated one still serves it), and later commands find no such space.
        let hosted: Vec<[u8; 16]> =
            self.invitations.hosts().filter(|h| h.record().space == Some(space)).map(|h| h.code().id).collect();
        for id in hosted {
            if let Some(h) = self.invitations.host_mut(&id) {
                h.handle_input(HostInput::Cancel, now, &mut self.client);
            }
        }
        if others && !self.unheld_feeds(&space).is_empty() {
            self.leaving.entry(space).or_insert(now.saturating_add_millis(LEAVE_HANDOFF_MS));
            return Ok(());
        }
        Ok(self.finish_leave(space)?)
    }

    /// Whether the user left `space` and the device only hands off its feeds before it goes:
    /// commands on it are refused (`UnknownSpace`), as once it is gone.
    pub fn is_leaving(&self, space: &PublicKey) -> bool {
        self.leaving.contains_key(space)
    }

    /// Our own feeds of `space` that hold entries: what a member must have before we go.
    fn unheld_feeds(&self, space: &PublicKey) -> Vec<(PublicKey, u64)> {
        let Some(sp) = self.client.space(space) else { return Vec::new() };
        let me = self.client.identity().noise_key();
        sp.membership()
            .feeds()
            .filter(|(_, a)| a.noise_key == me)
            .filter_map(|(k, _)| sp.feed(k).map(|f| (*k, f.len())))
            .filter(|(_, len)| *len > 0)
            .collect()
    }

    /// A member's summary (or a page of it) of a space we are leaving, from device `remote`:
    /// once it shows every feed of ours at our length, the handoff is done. Not from a member
    /// we admitted (or set the role of: a `SpaceMember` of ours names it) while others exist: it holds our feeds because our grant gave it them, and
    /// the others, who refuse its links until they hold its admission, still lack them (faulty
    /// seed 972: an admin admitted a guest, left, took the guest's summary for the handoff, and
    /// the owner never learned of the guest).
    pub(super) fn note_handoff(&mut self, space: PublicKey, remote: Option<NoiseKey>, feeds: &[FeedPosition]) {
        if !self.leaving.contains_key(&space) {
            return;
        }
        let Some(sp) = self.client.space(&space) else { return };
        let m = sp.membership();
        let me = self.client.identity_key();
        let identity_of = |noise: &NoiseKey| m.feeds().find(|(_, a)| a.noise_key == *noise).map(|(_, a)| a.identity);
        let admitted_by_us = |id: &PublicKey| {
            m.credentials().any(|c| c.issuer() == me && c.subject() == *id && c.issuer() != c.subject())
        };
        let independent = |id: &PublicKey| *id != me && m.is_member(id) && !admitted_by_us(id);
        let others_exist = m.feeds().any(|(_, a)| independent(&a.identity));
        if others_exist && !remote.and_then(|r| identity_of(&r)).is_some_and(|id| independent(&id)) {
            return;
        }
        let held = |(k, len): &(PublicKey, u64)| feeds.iter().any(|p| p.feed == *k && p.length >= *len);
        if self.unheld_feeds(&space).iter().all(held) {
            let _gone = self.finish_leave(space);
        }
    }

    /// Leaves every space whose handoff deadline passed.
    pub(super) fn leave_overdue(&mut self, now: Timestamp) {
        let overdue: Vec<PublicKey> = self.leaving.iter().filter(|(_, at)| **at <= now).map(|(s, _)| *s).collect();
        for space in overdue {
            let _gone = self.finish_leave(space);
        }
    }

    fn finish_leave(&mut self, space: PublicKey) -> Result<(), ClientError> {
        self.leaving.remove(&space);
        self.credentials_seen.remove(&space);
        self.topics_dirty = true;
        self.client.leave(&space)
    }
}
