//! Our own standing in a space, and whom we dial for it (SPEC.md §9.1.1, removed devices).
//!
//! A device whose replica shows it removed tells its user once and keeps the replica,
//! read-only. It stops dialling for the space: no member links with it, so each dial was a
//! handshake members paid for, about once a minute each for as long as it ran (the
//! simulator's R4, faulty seed 44). It keeps the space's discovery topic, so that it can
//! still be found: a member may re-admit it by a role change. Of two devices only the
//! smaller key dials, so a member whose key is the greater dials a re-admitted device
//! itself, whatever the key order (a removed device that stopped dialling never heard of its
//! re-admission otherwise: calm seed 24 and faulty seed 37 failed L1 that way).

use super::*;

impl Peer {
    /// Tells the user once when its replica shows it removed from `space` (and again after a
    /// later re-admission and removal), and stops or resumes dialling for it.
    pub(super) fn note_own_standing(&mut self, space: PublicKey, now: Timestamp) {
        let Ok(standing) = self.client.standing(&space) else { return };
        let removed = standing == crate::space::Standing::Removed;
        if removed && self.removed.insert(space) {
            self.event(Event::Removed { space });
            // A device our identity disowned is none of its devices any more (§9.8): it leaves
            // the HALO topic, and dials no sibling.
            if self.client.disowned() && !crate::mutants::active(crate::mutants::Mutant::RemovedKeepsDialling) {
                self.topics_dirty = true;
                self.redial.forget_topic(&crate::identity::halo_topic(&self.client.identity_key()));
            }
            if !crate::mutants::active(crate::mutants::Mutant::RemovedKeepsDialling) {
                self.redial.forget_topic(&space_topic(&space));
            }
        } else if !removed && self.removed.remove(&space) {
            let topic = space_topic(&space);
            let peers: Vec<PeerInfo> = self.signal.peers(&topic).cloned().collect();
            for info in peers {
                self.want(topic, &info, now);
            }
        }
    }

    /// Whether we dial for the space whose discovery topic is `topic`: we hold it and are not
    /// removed from it.
    pub(super) fn dials_for(&self, topic: &Digest) -> Option<PublicKey> {
        let space = self.client.space_keys().find(|k| space_topic(k) == *topic).copied()?;
        let removed =
            self.removed.contains(&space) && !crate::mutants::active(crate::mutants::Mutant::RemovedKeepsDialling);
        (!removed).then_some(space)
    }

    /// Signaling reports `info` on `topic`: want it if we dial for that space and either our
    /// key is the smaller (one connection per pair of devices) or it is a re-admitted device.
    /// On our HALO topic, only the smaller key dials (§9.8).
    pub(super) fn want(&mut self, topic: Digest, info: &PeerInfo, now: Timestamp) {
        let me = self.client.identity().device_key();
        if self.is_halo_topic(&topic) {
            if me >= info.peer {
                return;
            }
        } else {
            let Some(space) = self.dials_for(&topic) else { return };
            if me == info.peer || (me > info.peer && !self.is_readmitted(&space, &info.peer)) {
                return;
            }
        }
        self.redial.appeared(topic, info.clone(), now);
        if let Some(conn) = self.conns.dialled_to(&info.peer)
            && matches!(self.redial.state(&info.peer), Some(redial::DialState::Due(_)))
        {
            // Still connected from before signaling forgot it: no second dial.
            self.redial.set(&info.peer, redial::DialState::Dialling(conn));
        }
    }

    /// A membership change of `space` may have re-admitted a device that no longer dials:
    /// want it, whatever the key order.
    pub(super) fn dial_readmitted(&mut self, space: PublicKey, now: Timestamp) {
        let topic = space_topic(&space);
        let me = self.client.identity().device_key();
        let candidates: Vec<PeerInfo> = self
            .signal
            .peers(&topic)
            .filter(|info| info.peer < me && self.redial.state(&info.peer).is_none())
            .cloned()
            .collect();
        for info in candidates {
            if self.is_readmitted(&space, &info.peer) {
                self.want(topic, &info, now);
            }
        }
    }

    /// Whether the device with key `device` is, in our replica of `space`, a device of a
    /// member that was removed once: it may have stopped dialling, and not know it is back.
    /// The set is computed once per membership (`readmitted`, keyed by the count of
    /// credentials, which only grows), so a stale set is never read; sets of spaces we no
    /// longer hold go when another is computed.
    fn is_readmitted(&mut self, space: &PublicKey, device: &PublicKey) -> bool {
        if crate::mutants::active(crate::mutants::Mutant::NoReadmittedDial) {
            return false;
        }
        let Some(sp) = self.client.space(space) else { return false };
        let count = sp.membership().len();
        if self.readmitted.get(space).is_none_or(|(seen, _)| *seen != count) {
            let devices = replication::readmitted_devices(sp);
            let client = &self.client;
            self.readmitted.retain(|k, _| client.space(k).is_some());
            self.readmitted.insert(*space, (count, devices));
        }
        self.readmitted.get(space).is_some_and(|(_, d)| d.contains(device))
    }

    /// A removal of a device of our identity that `space` now shows is repeated in every other
    /// space we hold where the device has feeds, and a device removed once is removed from a
    /// space as soon as we see it there (SPEC.md §9.8, *spreading*): the user disowned the
    /// device, not its place in one space, and the device that removed it may not hold every
    /// space of the identity. Returns the spaces changed. Only devices our HALO knows are
    /// considered (at most `HALO_DEVICES_MAX`), so removals naming invented keys cost nothing.
    pub(super) fn spread_device_removals(&mut self, space: PublicKey, now: Timestamp) -> Vec<PublicKey> {
        if self.client.disowned() || crate::mutants::active(crate::mutants::Mutant::NoRemovalSpread) {
            return Vec::new();
        }
        let me = self.client.identity_key();
        let Some(m) = self.client.space(&space).map(crate::Space::membership) else { return Vec::new() };
        let fresh: Vec<PublicKey> = self
            .client
            .halo()
            .devices()
            .map(|(d, _)| *d)
            .filter(|d| !self.disowned_devices.contains(d) && m.device_removed(&me, d))
            .collect();
        self.disowned_devices.extend(fresh.iter().copied());
        let mut changed = BTreeSet::new();
        for device in fresh {
            changed.extend(self.client.remove_device_everywhere(device, now));
        }
        let known: Vec<PublicKey> = self.disowned_devices.iter().copied().collect();
        for device in known {
            if self.client.remove_device(&space, device, now).is_ok() {
                changed.insert(space);
            }
        }
        changed.into_iter().collect()
    }
}
