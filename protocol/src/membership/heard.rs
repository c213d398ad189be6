//! Carriers and removals: which control feeds a replica takes entries of whatever their
//! admission's effect (SPEC.md §5.5), and, for the pull from a removed member's own device
//! (§9.2.2 rule 6), which feeds were the member's when it was removed and how far the removal
//! had seen them.

use super::{Assertion, CredentialId, Designation, Effect, FeedAdmission, Membership, NodeIx, PublicKey, Role};

impl Membership {
    /// The admission under which a replica accepts entries of `feed` (SPEC.md §5.5): its
    /// admission if applied; otherwise, if a connected `AdmittedFeed` names it as a control
    /// feed, that credential (the first in canonical order), whatever its effect. A control
    /// feed whose admission was voided (strong removal) or never took effect still carries the
    /// credentials its owner issued; they are part of the credential set (§4), later
    /// credentials may descend from them, and a replica that could not fetch them would keep
    /// those descendants pending forever.
    pub fn carrier(&self, feed: &PublicKey) -> Option<FeedAdmission> {
        if let Some(a) = self.feed(feed) {
            return Some(a);
        }
        let n = self.carriers.get(feed)?.iter().copied().min_by_key(|n| self.graph.order_key(*n))?;
        let c = &self.credentials[n as usize];
        let Assertion::AdmittedFeed { identity, device, noise_key, designation, .. } = c.assertion() else {
            unreachable!("carriers are AdmittedFeed credentials")
        };
        Some(FeedAdmission {
            identity: *identity,
            device: *device,
            noise_key: *noise_key,
            designation: *designation,
            credential: self.graph.id(n),
        })
    }

    /// Every control feed a replica accepts entries of (`carrier`), with its admission.
    pub fn control_carriers(&self) -> impl Iterator<Item = (PublicKey, FeedAdmission)> + '_ {
        self.carriers
            .keys()
            .filter_map(|f| self.carrier(f).map(|a| (*f, a)))
            .filter(|(_, a)| a.designation == Designation::Control)
    }

    /// The applied grants that remove `member` (role Removed), in canonical order.
    fn removals(&self, member: &PublicKey) -> Vec<NodeIx> {
        let grants = self.res.grants.get(member).map_or(&[][..], Vec::as_slice);
        let removed = |g: &NodeIx| {
            matches!(self.credentials[*g as usize].assertion(), Assertion::SpaceMember { role: Role::Removed, .. })
        };
        let removals: Vec<NodeIx> = grants.iter().copied().filter(removed).collect();
        assert!(removals.iter().all(|r| self.res.effects[*r as usize] == Effect::Applied), "grants are applied");
        removals
    }

    /// Whether an applied grant removed `member` at some point (it may be a member again).
    pub fn was_removed(&self, member: &PublicKey) -> bool {
        !self.removals(member).is_empty()
    }

    /// Whether credential `id` is connected and is, or is in the past of, an applied grant that
    /// removes `member`: something a removal had seen. It depends on the resolution, so it may
    /// change as credentials arrive; only what a replica takes from a heard device uses it.
    pub fn seen_by_removal(&self, member: &PublicKey, id: &CredentialId) -> bool {
        let Some(n) = self.graph.get(id) else {
            return false;
        };
        let seen = self.removals(member).iter().any(|r| self.graph.precedes_or_is(n, *r));
        assert!(!seen || self.role(member).is_some(), "a removed member has a role");
        seen
    }
}
