//! Device removal (SPEC.md §4.4 step 7, §4.5, §6.4): an identity disowns one of its devices in
//! a space without leaving it.
//!
//! A `RemovedDevice` by identity X for device D *covers* every credential that *passes through*
//! (X, D): one X issued that D signed, or that a device linked through D signed (D is a link
//! of its chain), and every `AdmittedFeed` of D's feeds for X. A covered credential is void
//! when the removal is in its past (the device kept signing after it), or concurrent with it
//! (the device was already lost when it signed), unless it is a *counter-removal*: a removal
//! of a device the first removal passes through, so two devices that remove each other
//! concurrently are both removed, as two admins are (§4.5). Once a removal is applied, a later
//! credential of D is void in every walk: a lost device cannot outrun its disowning, however
//! its credentials sort.

use super::resolve::list;
use super::{Assertion, Credential, FeedAdmission, FeedPosition, Membership, NodeIx, PublicKey, Role};
use crate::credential::CredentialId;
use crate::mutants::{Mutant, active};
use std::collections::BTreeSet;

/// An identity and one of its devices: what a removal names and what a credential passes
/// through.
pub(super) type DeviceKey = (PublicKey, PublicKey);

/// The (identity, device) pairs a credential passes through: its issuer with each device key
/// of its signing chain (at most `CHAIN_DEPTH_MAX`), and for an `AdmittedFeed` the identity and
/// device it admits a feed for. Sorted and distinct.
pub(super) fn passes_through(c: &Credential) -> Vec<DeviceKey> {
    let mut out = Vec::new();
    let mut link = c.chain.as_deref();
    while let Some(l) = link {
        out.push((c.issuer(), l.subject()));
        link = l.chain.as_deref();
    }
    if let Assertion::AdmittedFeed { identity, device, .. } = c.assertion() {
        out.push((*identity, *device));
    }
    out.sort();
    out.dedup();
    out
}

/// The (identity, device) pairs whose removal removes a feed (§6.4 rule 5): its own device,
/// and where that device signed its admission itself, each device its chain links it through.
/// A chain of another signer says how that signer was linked, not the feed's device: a sibling
/// that admitted our feeds (§9.8) and is removed later leaves them admitted, since its
/// admission is in the removal's past (calm seed 255 voided the remover's own writes so).
fn feed_devices(c: &Credential, admission: &FeedAdmission) -> Vec<DeviceKey> {
    if c.body.signer != admission.device {
        return vec![(admission.identity, admission.device)];
    }
    passes_through(c).into_iter().filter(|(identity, _)| *identity == admission.identity).collect()
}

/// The pair a removal names.
pub(super) fn removed(c: &Credential) -> Option<DeviceKey> {
    match c.assertion() {
        Assertion::RemovedDevice { device, .. } => Some((c.issuer(), *device)),
        _ => None,
    }
}

/// `o` removes a device that removal `r` passes through: the mutual case, exempt from `r`.
fn counters(o: &Credential, r: &Credential) -> bool {
    removed(o).is_some_and(|key| passes_through(r).contains(&key))
}

impl Membership {
    /// Walk step 7 for devices: an applied removal before `n` in canonical order covers it and
    /// is in its past, or concurrent with it and not countered by it.
    pub(super) fn device_removed_before(&self, n: NodeIx) -> bool {
        // Most spaces have no removed device: then a judgment costs nothing more.
        if self.res.removals.is_empty() || active(Mutant::IgnoreDeviceRemoval) {
            return false;
        }
        let c = &self.credentials[n as usize];
        passes_through(c).iter().any(|key| {
            self.prefix(list(&self.res.removals, key), n).iter().any(|r| {
                self.graph.is_ancestor(*r, n)
                    || (self.graph.concurrent(*r, n) && !counters(c, &self.credentials[*r as usize]))
            })
        })
    }

    /// Applied removal `r` voids applied credential `o` (§4.5): it covers `o`, they are
    /// concurrent, and `o` does not counter it. (A removal in `o`'s past comes before it in
    /// canonical order, so the walk already ignored `o`.)
    pub(super) fn removal_voids(&self, r: NodeIx, o: NodeIx) -> bool {
        let (rc, oc) = (&self.credentials[r as usize], &self.credentials[o as usize]);
        let Some(key) = removed(rc) else {
            return false;
        };
        !active(Mutant::IgnoreDeviceRemoval)
            && self.res.effects[r as usize] == super::Effect::Applied
            && self.res.effects[o as usize] == super::Effect::Applied
            && passes_through(oc).contains(&key)
            && !counters(oc, rc)
            && self.graph.concurrent(o, r)
    }

    /// Applied removals that void applied credential `o`.
    pub(super) fn voided_by_removal(&self, o: NodeIx) -> bool {
        if self.res.removals.is_empty() {
            return false;
        }
        let c = &self.credentials[o as usize];
        passes_through(c).iter().any(|key| list(&self.res.removals, key).iter().any(|r| self.removal_voids(*r, o)))
    }

    /// The applied credentials removal `r` voids (the other end of `voided_by_removal`).
    pub(super) fn removal_victims(&self, r: NodeIx) -> Vec<NodeIx> {
        let Some(key) = removed(&self.credentials[r as usize]) else {
            return Vec::new();
        };
        list(&self.through, &key).iter().copied().filter(|o| self.removal_voids(r, *o)).collect()
    }

    /// Whether a removal covering `n` (applied or not) changed applied-ness between rounds
    /// since the last full resolution, so `n`'s judgment could differ between rounds.
    pub(super) fn removals_unstable(&self, n: NodeIx) -> bool {
        if self.removals_of.is_empty() {
            return false;
        }
        let c = &self.credentials[n as usize];
        passes_through(c).iter().any(|key| list(&self.removals_of, key).iter().any(|r| self.unstable.contains(r)))
    }

    /// Whether an applied `RemovedDevice` names this device of this identity, whatever its
    /// causal relation to anything: the device is no longer one of the space's (its links are
    /// refused, nothing is sealed to it).
    pub fn device_removed(&self, identity: &PublicKey, device: &PublicKey) -> bool {
        !active(Mutant::IgnoreDeviceRemoval) && !list(&self.res.removals, &(*identity, *device)).is_empty()
    }

    /// Devices (with admitted feeds) of members who may manage members now: (identity,
    /// device, Noise key), sorted. Delegated invitations are sealed to these.
    pub fn admin_devices(&self) -> Vec<(PublicKey, PublicKey, crate::keys::NoiseKey)> {
        let admins = self
            .res
            .feeds
            .values()
            .filter(|a| self.role(&a.identity).is_some_and(Role::can_manage_members) && !self.feed_removed(a));
        let set: BTreeSet<_> = admins.map(|a| (a.identity, a.device, a.noise_key)).collect();
        set.into_iter().collect()
    }

    /// The devices of `identity` an applied `RemovedDevice` names, ascending.
    pub fn removed_devices(&self, identity: &PublicKey) -> Vec<PublicKey> {
        if active(Mutant::IgnoreDeviceRemoval) {
            return Vec::new();
        }
        let named = self.res.removals.range((*identity, PublicKey([0; 32]))..=(*identity, PublicKey([0xff; 32])));
        named.filter(|(_, v)| !v.is_empty()).map(|((_, d), _)| *d).collect()
    }

    /// Whether a feed's admission is covered by an applied removal: its device was removed, or
    /// a device its admission passes through for its own identity.
    pub fn feed_removed(&self, admission: &FeedAdmission) -> bool {
        self.feed_removals(admission).next().is_some()
    }

    /// The applied removals of an admitted feed's device, or of a device it is linked through.
    fn feed_removals(&self, admission: &FeedAdmission) -> impl Iterator<Item = NodeIx> + '_ {
        let node = self.graph.get(&admission.credential).filter(|_| !active(Mutant::IgnoreDeviceRemoval));
        let keys = node.map_or_else(Vec::new, |n| feed_devices(&self.credentials[n as usize], admission));
        keys.into_iter().flat_map(move |key| list(&self.res.removals, &key).iter().copied())
    }

    /// Whether credential `id` is connected and is, or is in the past of, an applied removal
    /// covering `admission`: what a removal of the feed's device had seen (the heard limit of a
    /// removed device's control feed, SPEC.md §9.2.2 rule 6).
    pub fn seen_by_device_removal(&self, admission: &FeedAdmission, id: &CredentialId) -> bool {
        let Some(n) = self.graph.get(id) else {
            return false;
        };
        self.feed_removals(admission).any(|r| self.graph.precedes_or_is(n, r))
    }

    /// How far a data feed's entries may count, as seen from a causal point (§6.4 rule 5): `None`
    /// when no removal covers the feed; `Some(0)` when one is at or before the point (the device
    /// wrote knowing it was removed); otherwise the least length the removals' frontiers give
    /// the feed (0 where one does not list it). `Err(id)` names a credential of the point this
    /// replica lacks.
    pub fn device_limit(
        &self,
        admission: &FeedAdmission,
        feed: &PublicKey,
        point: &[CredentialId],
    ) -> Result<Option<u64>, CredentialId> {
        let nodes = self.point_nodes(point)?;
        let mut limit = None;
        for r in self.feed_removals(admission) {
            let seen = nodes.iter().any(|h| self.graph.precedes_or_is(r, *h));
            let Assertion::RemovedDevice { data_frontier, .. } = self.credentials[r as usize].assertion() else {
                unreachable!("removals are RemovedDevice credentials")
            };
            let allowed = if seen { 0 } else { frontier_length(data_frontier, feed) };
            limit = Some(limit.map_or(allowed, |l: u64| l.min(allowed)));
        }
        Ok(limit)
    }
}

/// A feed's length in a frontier, 0 if it is not listed.
pub(crate) fn frontier_length(frontier: &[FeedPosition], feed: &PublicKey) -> u64 {
    frontier.iter().find(|p| p.feed == *feed).map_or(0, |p| p.length)
}
