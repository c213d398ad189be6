//! Removing a device of our identity from our spaces (SPEC.md §1.5, §4.4 step 7): the user's
//! answer to a lost or stolen device, which keeps its keys and would otherwise go on signing
//! as the identity everywhere.

use super::*;

impl Client {
    /// Removes our identity's `device` from space `key`: a `RemovedDevice` after every head,
    /// whose frontier lists the device's data feeds as far as this replica holds them (its
    /// writes beyond are void, §6.4 rule 5). `NotAllowed` for this device itself or one it was
    /// linked through (another device of the identity must disown it) and where we are not a
    /// member; `NoEffect` where the device is removed already or has no feed.
    pub fn remove_device(
        &mut self,
        key: &PublicKey,
        device: PublicKey,
        now: Timestamp,
    ) -> Result<Credential, ClientError> {
        let me = self.identity.identity_key();
        // Removing a device this one was linked through would void what this one signs too,
        // the removal's successors included (§4.4 step 7): another device must do it.
        if self.devices_through().contains(&device) {
            return Err(ClientError::NotAllowed);
        }
        if !matches!(self.standing(key)?, Standing::Member(_)) {
            return Err(ClientError::NotAllowed);
        }
        let local = self.local(key)?;
        let m = local.space.membership();
        let feeds: Vec<_> = m.feeds().filter(|(_, a)| a.identity == me && a.device == device).collect();
        if feeds.is_empty() || m.device_removed(&me, &device) {
            return Err(ClientError::NoEffect);
        }
        let data_frontier: Vec<FeedPosition> = feeds
            .iter()
            .filter(|(_, a)| a.designation == Designation::Data)
            .map(|(feed, _)| FeedPosition { feed: **feed, length: local.space.feed(feed).map_or(0, |f| f.len()) })
            .take(FRONTIER_MAX)
            .collect();
        let assertion = Assertion::RemovedDevice { space: *key, device, data_frontier };
        let credential = self.identity.signer().issue(device, assertion, now, m.next_parents());
        self.publish(key, credential)
    }

    /// Removes `device` from every space we hold where it has feeds of our identity and is not
    /// removed yet. Returns the spaces it was removed from, ascending.
    pub fn remove_device_everywhere(&mut self, device: PublicKey, now: Timestamp) -> Vec<PublicKey> {
        let keys: Vec<PublicKey> = self.spaces.keys().copied().collect();
        keys.into_iter().filter(|key| self.remove_device(key, device, now).is_ok()).collect()
    }

    /// Whether `space` holds a removal of this device by our identity, or of a device this one
    /// was linked through: what this device signs there is void (SPEC.md §4.4 step 7).
    pub(super) fn device_removed_from(&self, space: &Space) -> bool {
        let removed = space.membership().removed_devices(&self.identity.identity_key());
        !removed.is_empty() && self.devices_through().iter().any(|d| removed.contains(d))
    }

    /// This device and each device its chain was linked through: the devices what it signs
    /// passes through (SPEC.md §4.4 step 7), at most `CHAIN_DEPTH_MAX`.
    pub fn devices_through(&self) -> Vec<PublicKey> {
        let mut out = Vec::new();
        let mut link = Some(self.identity.device_credential());
        while let Some(l) = link {
            out.push(l.subject());
            link = l.chain.as_deref();
        }
        out
    }

    /// Whether our identity removed this device from any space we hold: it is no longer one of
    /// the identity's devices (SPEC.md §9.8), so it leaves the HALO.
    pub fn disowned(&self) -> bool {
        self.spaces.values().any(|l| self.device_removed_from(&l.space))
    }

    /// Devices of our identity removed in some space we hold: no longer siblings (§9.8).
    pub fn removed_devices(&self) -> BTreeSet<PublicKey> {
        let me = self.identity.identity_key();
        self.spaces.values().flat_map(|l| l.space.membership().removed_devices(&me)).collect()
    }
}
