//! The invitations a Peer hosts and accepts, in one bounded table that lets ended ones go.
//!
//! An accepted invitation leaves the table as soon as it is terminal: its outcome has gone out
//! as an `Event::Joining`, and nothing can change it. A hosted one stays until its expiry even
//! when ended: until then it answers a guest with its refusal (burned, cancelled) rather than
//! `UnknownInvitation`, a completed one serves admitted guests in doubt (SPEC.md §7.6.5), and a
//! delegation already hosted is not adopted again (one adopted after its expiry never is).

use std::collections::BTreeMap;

use crate::invitation::guest::InvitationGuest;
use crate::invitation::host::InvitationHost;
use crate::time::Timestamp;

/// Invitations a device hosts at once, open or ended and not yet expired. Each holds a record
/// and up to its sessions' limit of PAKE sessions; delegations other admins name this device
/// in are adopted only while there is room, so a space's credentials cannot grow the table.
pub const HOSTED_MAX: usize = 1024;
/// Invitations a device accepts at once: each dials hosts and holds a topic, and a person
/// joins a handful of spaces at a time.
pub const JOINING_MAX: usize = 64;

/// The table is full: end (or wait out) an invitation first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

#[derive(Default)]
pub(super) struct Invitations {
    hosting: BTreeMap<[u8; 16], InvitationHost>,
    joining: BTreeMap<[u8; 16], InvitationGuest>,
}

impl Invitations {
    pub(super) fn host_mut(&mut self, id: &[u8; 16]) -> Option<&mut InvitationHost> {
        self.hosting.get_mut(id)
    }

    pub(super) fn guest(&self, id: &[u8; 16]) -> Option<&InvitationGuest> {
        self.joining.get(id)
    }

    pub(super) fn guest_mut(&mut self, id: &[u8; 16]) -> Option<&mut InvitationGuest> {
        self.joining.get_mut(id)
    }

    /// Hosted invitations by ascending id.
    pub(super) fn hosts(&self) -> impl Iterator<Item = &InvitationHost> {
        self.hosting.values()
    }

    /// Accepted invitations by ascending id.
    pub(super) fn guests(&self) -> impl Iterator<Item = &InvitationGuest> {
        self.joining.values()
    }

    pub(super) fn guests_mut(&mut self) -> impl Iterator<Item = &mut InvitationGuest> {
        self.joining.values_mut()
    }

    pub(super) fn host_ids(&self) -> Vec<[u8; 16]> {
        self.hosting.keys().copied().collect()
    }

    pub(super) fn guest_ids(&self) -> Vec<[u8; 16]> {
        self.joining.keys().copied().collect()
    }

    pub(super) fn hosting_full(&self) -> bool {
        self.hosting.len() >= HOSTED_MAX
    }

    pub(super) fn joining_full(&self) -> bool {
        self.joining.len() >= JOINING_MAX
    }

    pub(super) fn add_host(&mut self, host: InvitationHost) -> Result<(), Full> {
        if self.hosting.len() >= HOSTED_MAX {
            return Err(Full);
        }
        self.hosting.insert(host.code().id, host);
        Ok(())
    }

    pub(super) fn add_guest(&mut self, guest: InvitationGuest) -> Result<(), Full> {
        if self.joining.len() >= JOINING_MAX {
            return Err(Full);
        }
        self.joining.insert(guest.code().id, guest);
        Ok(())
    }

    /// Lets go of terminal guests, and of ended hosts at their expiry; returns the hosts let
    /// go, whose records the log forgets at its next compaction. Only between drains: an
    /// invitation leaves with nothing left to say.
    pub(super) fn evict(&mut self, now: Timestamp) -> Vec<[u8; 16]> {
        self.joining.retain(|_, g| !g.state().is_terminal());
        let gone: Vec<[u8; 16]> = self
            .hosting
            .iter()
            .filter(|(_, h)| h.record().ended.is_some() && now >= h.code().expires_at())
            .map(|(id, _)| *id)
            .collect();
        for id in &gone {
            self.hosting.remove(id);
        }
        assert!(self.hosting.len() <= HOSTED_MAX && self.joining.len() <= JOINING_MAX);
        gone
    }
}
