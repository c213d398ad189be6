//! HALO replication on the client's side (SPEC.md §9.8): what one device of an identity tells
//! another (its devices, contacts and spaces), what it merges of theirs, and the admission of a
//! sibling device's feeds to a space, which is what lets a newly linked device replicate the
//! identity's spaces.

use super::*;

/// Devices of one identity a HALO holds at most. A sibling device can make us hold what it
/// sends; a user links a handful of devices, so 256 leaves room while bounding the memory and
/// the `verify_strict` work (one chain each) a sibling can make us spend.
pub const HALO_DEVICES_MAX: usize = 256;
/// Contacts a client holds at most: a sibling sends its own, so they are bounded like
/// everything a remote device can make us hold. At 32 bytes each this is 128 KiB.
pub const CONTACTS_MAX: usize = 4096;
/// Control feeds one device of our identity may have admitted to one space by a sibling's
/// `HaloJoin`: a device whose join broke off (a crash, a closed link) asks again with new
/// feed keys, and each ask costs every replica two credentials. Beyond this, nothing more is
/// issued: the device's earlier keys are durable (they are logged before it asks), so the
/// credentials sent show it one of its admissions.
pub const SIBLING_FEEDS_PER_DEVICE_MAX: usize = 4;

/// Why a sibling's `HaloJoin` was refused; nothing was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiblingRefusal {
    /// We do not hold the space, or were removed from it, or left it.
    NotMember,
    /// The device is not one of our identity's as our HALO knows it, or was removed from a
    /// space we hold.
    UnknownDevice,
    /// A feed key is admitted already, to another device or identity.
    FeedTaken,
    /// The membership rules gave the admission no effect.
    Refused,
}

impl Client {
    /// The spaces our HALO lists: those we hold in which our identity is a current member,
    /// ascending.
    pub fn halo_spaces(&self) -> Vec<PublicKey> {
        self.spaces.keys().filter(|k| matches!(self.standing(k), Ok(Standing::Member(_)))).copied().collect()
    }

    /// Spaces this device left (SPEC.md §9.8): a sibling listing one does not bring it back;
    /// joining it again by an invitation does.
    pub fn has_left(&self, space: &PublicKey) -> bool {
        self.left.contains(space)
    }

    /// Merges a sibling's devices and contacts into ours: each `AuthorizedDevice` of our
    /// identity that verifies and names a device we do not know, within `HALO_DEVICES_MAX`;
    /// each contact within `CONTACTS_MAX`. Returns whether a device was new.
    pub fn merge_halo(&mut self, devices: Vec<Credential>, contacts: &[PublicKey]) -> bool {
        let mut new_device = false;
        for c in devices {
            let known = c.authorized_device().is_some_and(|(_, d, _)| self.halo.contains(&d));
            if known || self.halo.devices().count() >= HALO_DEVICES_MAX {
                continue;
            }
            new_device |= self.halo.insert(c).unwrap_or(false);
        }
        for k in contacts {
            if self.contacts.len() >= CONTACTS_MAX {
                break;
            }
            self.add_contact(*k);
        }
        new_device
    }

    /// The identity device (key, Noise key) of a sibling: another device of our identity,
    /// not one removed from a space we hold (`removed_devices`).
    pub fn sibling(&self, noise: &NoiseKey) -> Option<PublicKey> {
        if self.disowned() {
            // Our identity removed this device: it is no one's sibling (SPEC.md §9.8).
            return None;
        }
        let me = self.identity.device_key();
        let device = self
            .halo
            .devices()
            .filter_map(|(_, c)| c.authorized_device())
            .find(|(_, d, n)| n == noise && *d != me)
            .map(|(_, d, _)| d)?;
        (!self.removed_devices().contains(&device)).then_some(device)
    }

    /// A sibling device (`device`, Noise key `noise`) lacks space `key`: admits its two new
    /// feeds as our identity's, after every head, as any member may admit its own
    /// identity's feeds (Reader suffices, SPEC.md §4.4 step 5). Returns whether it issued
    /// anything: not for feeds admitted to that device already, nor beyond
    /// `SIBLING_FEEDS_PER_DEVICE_MAX`.
    pub fn admit_sibling(
        &mut self,
        key: &PublicKey,
        (device, noise): (PublicKey, NoiseKey),
        control: PublicKey,
        data: PublicKey,
        now: Timestamp,
    ) -> Result<bool, SiblingRefusal> {
        let me = self.identity.identity_key();
        if !matches!(self.standing(key), Ok(Standing::Member(_))) {
            return Err(SiblingRefusal::NotMember);
        }
        let local = self.local(key).map_err(|_| SiblingRefusal::NotMember)?;
        if !self.halo.devices().any(|(d, c)| *d == device && c.authorized_device().is_some_and(|(_, _, n)| n == noise))
            || self.removed_devices().contains(&device)
        {
            return Err(SiblingRefusal::UnknownDevice);
        }
        let m = local.space.membership();
        let ours = |f: &PublicKey| m.feed(f).map(|a| a.identity == me && a.device == device && a.noise_key == noise);
        match (ours(&control), ours(&data)) {
            (Some(true), Some(true)) => return Ok(false),
            (None, None) => {}
            _ => return Err(SiblingRefusal::FeedTaken),
        }
        let controls = m
            .feeds()
            .filter(|(_, a)| a.device == device && a.designation == Designation::Control && a.identity == me)
            .count();
        if controls >= SIBLING_FEEDS_PER_DEVICE_MAX {
            return Ok(false);
        }
        // After every head (at most `PARENTS_MAX`): our role at a single head could be none,
        // when the grant that made us a member is on another branch (hostile seed 426 refused
        // every join so), and the admission would take no effect.
        let after = m.next_parents();
        for cred in self.feed_admissions_for(*key, (me, device, noise), control, data, now, after) {
            self.publish(key, cred).map_err(|_| SiblingRefusal::Refused)?;
        }
        Ok(true)
    }

    /// Completes a join from a sibling: `replica` holds the credentials it sent. Stored once
    /// they admit one of our pending joins' control feed as ours and show us a member; else
    /// `NotAllowed` and nothing changes (more credentials may be on their way).
    pub fn accept_sibling_replica(&mut self, key: &PublicKey, replica: Space) -> Result<(), ClientError> {
        let me = self.identity.identity_key();
        let m = replica.membership();
        let admitted = |c: &PublicKey| m.feed(c).is_some_and(|f| f.identity == me);
        let control = self.joining.keys().copied().find(admitted).filter(|_| m.is_member(&me));
        let control = control.ok_or(ClientError::NotAllowed)?;
        let (control, data) = self.joining.remove(&control).expect("found above");
        self.spaces.insert(*key, LocalSpace { space: replica, space_key: None, control, data });
        Ok(())
    }

    /// Drops the feed keys of a join that will not complete (a sibling refused, or went).
    pub fn forget_join(&mut self, control: &PublicKey) {
        self.joining.remove(control);
    }
}
