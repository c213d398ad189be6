//! Resolution (SPEC.md §4.4–4.6) as a worklist in canonical order.
//!
//! The walk of §4.4 judges each credential against the effects of the credentials before it.
//! Those inputs are kept as indexes of *applied* credentials sorted in canonical order (grants
//! per subject, admissions per feed, uses and cancels per delegation), so judging `n` reads
//! only their prefix before `n`. A credential whose applied-ness changes queues the later
//! credentials whose judgment reads it (`push_dependents`); popping in canonical order
//! means every credential is judged after everything it depends on is final, which is exactly
//! the walk. A fixpoint round of §4.6 then costs what it changes, not a walk of everything:
//! its new void credentials are queued, and the victims of the next round are looked for only
//! among the credentials whose applied-ness changed (a void pair needs both ends applied, and
//! a round ends with no pair left among the rest).
//!
//! An insert needs the resolution of the new set with `V` starting empty (§4.6), which can
//! differ from the old one's `V`: the old void credentials are queued again unvoided, the new
//! ones queued, and the rounds rerun from there. An insert thus costs the credentials it and
//! the old voids change, never a walk of the whole set, unless a second genesis arrives. A new
//! credential that no walk can apply (`inert`), or a *leaf* (`is_leaf`: its judgment reads only
//! grants that had one applied-ness in every round, and it is not applied or nobody reads it),
//! changes no other judgment in any round: it costs one judgment (two if it is voided).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use super::{Assertion, CredentialId, Effect, FeedAdmission, IgnoreReason, Membership, NodeIx, PublicKey, Role};
use super::{counters, grant_role, required_role};
use crate::causal::CausalGraph;
use crate::mutants::{Mutant, active};

impl Membership {
    /// Resolves after `added` connected: incrementally (see the module doc).
    pub(super) fn update(&mut self, added: &[NodeIx]) {
        if active(Mutant::MembershipArrivalOrder) {
            added.iter().for_each(|n| self.step(*n));
            return self.refresh_roles();
        }
        if active(Mutant::ResolveEveryInsert) {
            return self.resolve();
        }
        let had = self.graph.len() - added.len();
        let genesis = |n: &NodeIx| matches!(self.credentials[*n as usize].assertion(), Assertion::SpaceGenesis { .. });
        if had > 0 && added.iter().any(genesis) {
            return self.resolve();
        }
        // Credentials that change no other judgment leave every other effect and the old void
        // set as they are: each costs its own judgment (see `inert`, `is_leaf`).
        let inert: Vec<bool> = added.iter().map(|n| self.inert(*n)).collect();
        if added.iter().zip(&inert).all(|(n, inert)| *inert || self.is_leaf(*n)) {
            for (n, inert) in added.iter().zip(inert) {
                if inert {
                    self.step(*n);
                    assert!(self.res.effects[*n as usize] != Effect::Applied, "an inert credential is never applied");
                } else {
                    self.settle_leaf(*n);
                }
            }
            return self.refresh_roles();
        }
        for v in std::mem::take(&mut self.void) {
            self.push(v);
        }
        for n in added {
            self.push(*n);
        }
        self.settle_rounds(false);
    }

    /// A new credential that changes no other judgment in any round of §4.6: its judgment reads
    /// only grants whose applied-ness was the same in every round (the grants of its issuer, and
    /// of the member it names, are outside `unstable`), so it is the same in every round; and
    /// either that judgment does not apply it (other judgments read only applied credentials)
    /// or nothing reads it (a feed admission of a feed no other credential admits, a delegation
    /// nobody used, a cancellation of a delegation nobody used). A grant through a delegated
    /// invitation reads the delegation's uses and cancels too, and is never a leaf.
    fn is_leaf(&self, n: NodeIx) -> bool {
        let c = &self.credentials[n as usize];
        let (read_by_others, named) = match c.assertion() {
            Assertion::SpaceMember { invitation: None, .. } => (true, Some(c.subject())),
            Assertion::AdmittedFeed { identity, .. } => {
                (list(&self.by_feed, &c.subject()).iter().any(|o| *o != n), Some(*identity))
            }
            Assertion::DelegateInvitation { .. } => (!list(&self.by_invitation, &self.graph.id(n)).is_empty(), None),
            Assertion::CancelInvitation { delegation, .. } => (!list(&self.by_invitation, delegation).is_empty(), None),
            Assertion::RemovedDevice { device, .. } => (!list(&self.through, &(c.issuer(), *device)).is_empty(), None),
            Assertion::SpaceMember { .. } | Assertion::SpaceGenesis { .. } | Assertion::AuthorizedDevice { .. } => {
                return false;
            }
        };
        let stable = |who: &PublicKey| {
            list(&self.by_subject, who).iter().all(|g| {
                !matches!(self.credentials[*g as usize].assertion(), Assertion::SpaceMember { .. })
                    || !self.unstable.contains(g)
            })
        };
        if !stable(&c.issuer()) || !named.is_none_or(|o| stable(&o)) || self.removals_unstable(n) {
            return false;
        }
        !read_by_others || self.judge(n) != Effect::Applied
    }

    /// Judges a leaf (`is_leaf`) once. It is a victim of §4.6 exactly when it is applied and an
    /// applied grant of its issuer voids it (§4.5): those grants had their applied-ness in every
    /// round, so the pair exists in some round iff it exists in the last. Before this, each such
    /// insert after a strong removal re-ran the rounds from the old void set (the simulator's R2,
    /// hostile seed 727: 31 judgments per credential with 15 void; 1,987 per cancellation after
    /// a cascade voiding 498, `protocol/tests/scale.rs`).
    fn settle_leaf(&mut self, n: NodeIx) {
        self.step(n);
        let issuer = self.credentials[n as usize].issuer();
        let applied = self.res.effects[n as usize] == Effect::Applied;
        let demoted =
            list(&self.res.grants, &issuer).iter().any(|r| self.voids(*r, n)) && !active(Mutant::NoStrongRemoval);
        let victim = applied && (demoted || self.voided_by_removal(n));
        if victim {
            self.void.insert(n);
            self.unstable.insert(n);
            self.step(n);
        }
    }

    /// A new credential no walk can apply, whatever its void set: its issuer is not the space
    /// key and no grant for the issuer in its past, whatever that grant's effect, reaches the
    /// role it needs. Ignored in every round, it changes no other judgment (they read only
    /// applied credentials) and voids nothing, so the old void set stays exact: junk costs
    /// one judgment, not a rerun of the rounds.
    fn inert(&self, n: NodeIx) -> bool {
        let c = &self.credentials[n as usize];
        if c.issuer() == self.space || active(Mutant::AllowSelfPromotion) || self.graph.len() == 1 {
            return false;
        }
        let required = required_role(c).rank();
        let grants = list(&self.by_subject, &c.issuer()).iter().copied();
        !grants.filter(|g| self.graph.is_ancestor(*g, n)).any(|g| match self.credentials[g as usize].assertion() {
            Assertion::SpaceMember { role, .. } => role.rank() >= required,
            _ => false,
        })
    }

    /// Full resolution from empty state and an empty void set: the result must not depend on
    /// history.
    pub fn resolve(&mut self) {
        self.work.full += 1;
        self.void.clear();
        self.unstable.clear();
        self.res = super::Resolution { effects: vec![Effect::Pending; self.graph.len()], ..Default::default() };
        self.queue.clear();
        self.queued = vec![false; self.graph.len()];
        self.changed.clear();
        if active(Mutant::MembershipArrivalOrder) {
            return self.resolve_in_arrival_order();
        }
        for n in 0..self.graph.len() as NodeIx {
            self.push(n);
        }
        self.settle_rounds(true);
    }

    /// The planted bug: walks in arrival order, each round from scratch.
    fn resolve_in_arrival_order(&mut self) {
        loop {
            self.work.rounds += 1;
            self.res = super::Resolution { effects: vec![Effect::Pending; self.graph.len()], ..Default::default() };
            self.touched.clear();
            for n in 0..self.graph.len() as NodeIx {
                self.step(n);
            }
            let all: BTreeSet<NodeIx> = (0..self.graph.len() as NodeIx).collect();
            let newly = self.victims(&all, true);
            if newly.is_empty() {
                return self.refresh_roles();
            }
            self.void.extend(newly);
        }
    }

    /// Judges the queue empty, then runs fixpoint rounds until no new void credential appears.
    /// `full`: every credential is queued (a resolution from scratch), so dependents are
    /// already queued and every applied credential is a candidate victim.
    fn settle_rounds(&mut self, full: bool) {
        let mut full = full;
        let mut later = false;
        loop {
            self.work.rounds += 1;
            self.settle(full, later);
            later = true;
            let changed = std::mem::take(&mut self.changed);
            let newly = self.victims(&changed, full);
            if newly.is_empty() {
                break;
            }
            for v in newly {
                assert!(self.void.insert(v), "the void set only grows within a resolution");
                self.push(v);
            }
            full = false;
        }
        assert!(self.queue.is_empty(), "a resolution ends with nothing left to judge");
        self.refresh_roles();
    }

    fn push(&mut self, n: NodeIx) {
        if !std::mem::replace(&mut self.queued[n as usize], true) {
            self.queue.push(Reverse((self.graph.order_key(n), n)));
        }
    }

    /// Pops in canonical order until the queue is empty. `later`: a round after the first, so
    /// a credential that changes now had another applied-ness in an earlier round.
    fn settle(&mut self, full: bool, later: bool) {
        while let Some(Reverse((_, n))) = self.queue.pop() {
            self.queued[n as usize] = false;
            let before = self.res.effects[n as usize] == Effect::Applied;
            self.step(n);
            if before != (self.res.effects[n as usize] == Effect::Applied) {
                self.changed.insert(n);
                if later {
                    self.unstable.insert(n);
                }
                if !full {
                    self.push_dependents(n);
                }
            }
        }
    }

    /// Decides one credential given everything before it in canonical order.
    pub(super) fn step(&mut self, n: NodeIx) {
        let effect = self.judge(n);
        self.work.judged += 1;
        let before = std::mem::replace(&mut self.res.effects[n as usize], effect);
        match (before == Effect::Applied, effect == Effect::Applied) {
            (false, true) => self.apply(n),
            (true, false) => self.unapply(n),
            _ => {}
        }
    }

    /// Queues the later credentials whose judgment reads `x`'s applied-ness (§4.4: the issuer's
    /// and subject's grants, a feed's earlier admissions, a delegation's effect, uses, cancels
    /// and its issuer's role). A genesis changes everything.
    fn push_dependents(&mut self, x: NodeIx) {
        let key = self.graph.order_key(x);
        let mut out: Vec<NodeIx> = Vec::new();
        let c = &self.credentials[x as usize];
        match c.assertion() {
            Assertion::SpaceGenesis { .. } => out.extend(0..self.graph.len() as NodeIx),
            Assertion::SpaceMember { invitation, .. } => {
                let s = c.subject();
                out.extend(list(&self.by_issuer, &s));
                out.extend(list(&self.by_subject, &s));
                for d in list(&self.by_issuer, &s) {
                    if let Assertion::DelegateInvitation { .. } = self.credentials[*d as usize].assertion() {
                        out.extend(list(&self.by_invitation, &self.graph.id(*d)));
                    }
                }
                if let Some(inv) = invitation {
                    out.extend(list(&self.by_invitation, inv));
                }
            }
            Assertion::AdmittedFeed { .. } => out.extend(list(&self.by_feed, &c.subject())),
            Assertion::DelegateInvitation { .. } => out.extend(list(&self.by_invitation, &self.graph.id(x))),
            Assertion::CancelInvitation { delegation, .. } => out.extend(list(&self.by_invitation, delegation)),
            Assertion::RemovedDevice { device, .. } => out.extend(list(&self.through, &(c.issuer(), *device))),
            Assertion::AuthorizedDevice { .. } => unreachable!("refused at insert"),
        }
        for n in out {
            if self.graph.order_key(n) > key {
                self.push(n);
            }
        }
    }

    pub(super) fn judge(&self, n: NodeIx) -> Effect {
        use IgnoreReason::*;
        let c = &self.credentials[n as usize];
        if let Assertion::SpaceGenesis { .. } = c.assertion() {
            let earlier = self.res.genesis.is_some_and(|g| g != n && self.before(g, n));
            return if earlier { Effect::Ignored(DuplicateGenesis) } else { Effect::Applied };
        }
        match self.res.genesis {
            Some(g) if self.graph.is_ancestor(g, n) => {}
            _ => return Effect::Ignored(Detached),
        }
        if self.void.contains(&n) {
            return Effect::Ignored(StrongRemoval);
        }
        let issuer = c.issuer();
        if active(Mutant::AllowSelfPromotion)
            && matches!(c.assertion(), Assertion::SpaceMember { .. })
            && c.subject() == issuer
        {
            return Effect::Applied;
        }
        if issuer == self.space {
            return self.judge_by_space_key(n);
        }
        let required = required_role(c);
        match self.role_at(issuer, n) {
            Some(role) if role.rank() >= required.rank() => {}
            _ => return Effect::Ignored(NoAuthority),
        }
        if self.revoked_concurrently(n, required) && !active(Mutant::SkipConcurrentDemotion) {
            return Effect::Ignored(StrongRemoval);
        }
        if self.device_removed_before(n) {
            return Effect::Ignored(DeviceRemoved);
        }
        match self.judge_assertion(n) {
            Some(reason) => Effect::Ignored(reason),
            None => Effect::Applied,
        }
    }

    /// The space key may assign any role, OWNER included; it is not a member itself.
    fn judge_by_space_key(&self, n: NodeIx) -> Effect {
        match self.credentials[n as usize].assertion() {
            Assertion::SpaceMember { .. } => Effect::Applied,
            _ => match self.judge_assertion(n) {
                Some(reason) => Effect::Ignored(reason),
                None => Effect::Applied,
            },
        }
    }

    /// Assertion-specific rules once the issuer's role suffices.
    fn judge_assertion(&self, n: NodeIx) -> Option<IgnoreReason> {
        use IgnoreReason::*;
        let c = &self.credentials[n as usize];
        match c.assertion() {
            Assertion::SpaceMember { role, invitation, .. } => {
                if c.subject() == c.issuer() {
                    return Some(SelfChange);
                }
                if *role == Role::Owner {
                    return Some(OwnerOnlyBySpaceKey);
                }
                if self.role_at(c.subject(), n) == Some(Role::Owner) {
                    return Some(OwnerProtected);
                }
                if let Some(inv) = invitation
                    && !self.delegation_usable(inv, n)
                {
                    return Some(InvitationUnusable);
                }
                None
            }
            Assertion::AdmittedFeed { identity, .. } => {
                let admitted = self.res.admitted.get(&c.subject()).and_then(|a| a.first());
                if admitted.is_some_and(|a| self.before(*a, n)) && !active(Mutant::FeedReadmissionWins) {
                    return Some(FeedAlreadyAdmitted);
                }
                if !self.role_at(*identity, n).is_some_and(Role::is_member) {
                    return Some(SubjectNotMember);
                }
                None
            }
            _ => None,
        }
    }

    /// A delegated invitation can admit at `n` when it was in effect in `n`'s past, was not
    /// cancelled in `n`'s past, and has uses left (counted in canonical order).
    fn delegation_usable(&self, delegation: &CredentialId, n: NodeIx) -> bool {
        let Some(d) = self.graph.get(delegation) else {
            return false;
        };
        if self.res.effects[d as usize] != Effect::Applied || !self.graph.is_ancestor(d, n) {
            return false;
        }
        // An invitation dies with its issuer's right to admit.
        let issuer = self.credentials[d as usize].issuer();
        if issuer != self.space && !self.role_at(issuer, n).is_some_and(Role::can_manage_members) {
            return false;
        }
        let cancels = list(&self.res.cancels, delegation);
        if cancels.iter().any(|c| self.graph.is_ancestor(*c, n)) {
            return false;
        }
        let Assertion::DelegateInvitation { use_limit, .. } = self.credentials[d as usize].assertion() else {
            return false;
        };
        let uses = self.prefix(list(&self.res.uses, delegation), n).len();
        *use_limit == 0 || uses < *use_limit as usize
    }

    /// Records an applied credential's consequences in the indexes.
    fn apply(&mut self, n: NodeIx) {
        let c = &self.credentials[n as usize];
        let graph = &self.graph;
        match c.assertion() {
            Assertion::SpaceGenesis { .. } => {
                if self.res.genesis.is_none_or(|g| graph.order_key(n) < graph.order_key(g)) {
                    self.res.genesis = Some(n);
                }
            }
            Assertion::SpaceMember { invitation, .. } => {
                if let Some(inv) = invitation {
                    insert_sorted(graph, self.res.uses.entry(*inv).or_default(), n);
                }
                insert_sorted(graph, self.res.grants.entry(c.subject()).or_default(), n);
                self.touched.insert(c.subject());
            }
            Assertion::AdmittedFeed { .. } => {
                insert_sorted(graph, self.res.admitted.entry(c.subject()).or_default(), n);
                self.refresh_feed(c.subject());
            }
            Assertion::DelegateInvitation { .. } => {
                self.res.delegates.insert(n);
            }
            Assertion::CancelInvitation { delegation, .. } => {
                insert_sorted(graph, self.res.cancels.entry(*delegation).or_default(), n);
            }
            Assertion::RemovedDevice { device, .. } => {
                insert_sorted(graph, self.res.removals.entry((c.issuer(), *device)).or_default(), n);
            }
            Assertion::AuthorizedDevice { .. } => unreachable!("refused at insert"),
        }
    }

    /// Undoes `apply` for a credential that is no longer applied.
    fn unapply(&mut self, n: NodeIx) {
        let c = &self.credentials[n as usize];
        let remove = |v: Option<&mut Vec<NodeIx>>| {
            let v = v.expect("an applied credential is indexed");
            let i = v.iter().position(|x| *x == n).expect("an applied credential is indexed");
            v.remove(i);
        };
        match c.assertion() {
            Assertion::SpaceGenesis { .. } => unreachable!("the genesis never becomes ignored"),
            Assertion::SpaceMember { invitation, .. } => {
                if let Some(inv) = invitation {
                    remove(self.res.uses.get_mut(inv));
                }
                remove(self.res.grants.get_mut(&c.subject()));
                self.touched.insert(c.subject());
            }
            Assertion::AdmittedFeed { .. } => {
                remove(self.res.admitted.get_mut(&c.subject()));
                self.refresh_feed(c.subject());
            }
            Assertion::DelegateInvitation { .. } => {
                assert!(self.res.delegates.remove(&n), "an applied delegation is indexed");
            }
            Assertion::CancelInvitation { delegation, .. } => remove(self.res.cancels.get_mut(delegation)),
            Assertion::RemovedDevice { device, .. } => remove(self.res.removals.get_mut(&(c.issuer(), *device))),
            Assertion::AuthorizedDevice { .. } => unreachable!("refused at insert"),
        }
    }

    /// A feed's admission: the first applied `AdmittedFeed` naming it in canonical order.
    fn refresh_feed(&mut self, feed: PublicKey) {
        let admissions = self.res.admitted.get(&feed);
        let first = if active(Mutant::FeedReadmissionWins) {
            admissions.and_then(|a| a.last().copied())
        } else {
            admissions.and_then(|a| a.first().copied())
        };
        let Some(n) = first else {
            self.res.feeds.remove(&feed);
            return;
        };
        let Assertion::AdmittedFeed { identity, device, noise_key, designation, .. } =
            self.credentials[n as usize].assertion()
        else {
            unreachable!("admissions are AdmittedFeed credentials")
        };
        let admission = FeedAdmission {
            identity: *identity,
            device: *device,
            noise_key: *noise_key,
            designation: *designation,
            credential: self.graph.id(n),
        };
        self.res.feeds.insert(feed, admission);
    }

    /// Current roles of the members whose grants changed.
    fn refresh_roles(&mut self) {
        for member in std::mem::take(&mut self.touched) {
            match self.current_role(member) {
                Some(role) => self.res.roles.insert(member, role),
                None => self.res.roles.remove(&member),
            };
        }
    }

    /// `a` comes before `b` in canonical order.
    fn before(&self, a: NodeIx, b: NodeIx) -> bool {
        self.graph.order_key(a) < self.graph.order_key(b)
    }

    /// The part of a canonically sorted list that comes before `n`.
    pub(super) fn prefix<'a>(&self, sorted: &'a [NodeIx], n: NodeIx) -> &'a [NodeIx] {
        let key = self.graph.order_key(n);
        &sorted[..sorted.partition_point(|x| self.graph.order_key(*x) < key)]
    }

    /// `member`'s role in the past of `n` (strictly before it).
    pub(super) fn role_at(&self, member: PublicKey, n: NodeIx) -> Option<Role> {
        let grants = self.prefix(list(&self.res.grants, &member), n);
        self.merge_role(grants, |g| self.graph.is_ancestor(g, n))
    }

    /// The role from the maximal grants among those `visible`; concurrent maximal grants merge
    /// to the least privileged.
    pub(super) fn merge_role(&self, grants: &[NodeIx], visible: impl Fn(NodeIx) -> bool) -> Option<Role> {
        let mut maximal: Vec<NodeIx> = Vec::new();
        // Canonical order is topological, so a later grant is never an ancestor of an earlier.
        for g in grants.iter().rev().copied().filter(|g| visible(*g)) {
            if !maximal.iter().any(|m| self.graph.is_ancestor(g, *m)) {
                maximal.push(g);
            }
        }
        maximal.iter().map(|g| grant_role(&self.credentials[*g as usize])).min_by_key(|r| r.rank())
    }

    pub(super) fn current_role(&self, member: PublicKey) -> Option<Role> {
        self.merge_role(list(&self.res.grants, &member), |_| true)
    }

    /// An applied role change of `n`'s issuer, earlier in canonical order and concurrent with
    /// `n`, lowered it below what `n` needs. A counter-change against that change's issuer is
    /// exempt, so two admins removing each other are both removed.
    fn revoked_concurrently(&self, n: NodeIx, required: Role) -> bool {
        let c = &self.credentials[n as usize];
        if active(Mutant::NoStrongRemoval) {
            return false;
        }
        let grants = self.prefix(list(&self.res.grants, &c.issuer()), n);
        grants.iter().any(|r| {
            self.graph.concurrent(*r, n)
                && grant_role(&self.credentials[*r as usize]).rank() < required.rank()
                && !counters(c, &self.credentials[*r as usize])
        })
    }

    /// Applied grant `r` voids applied credential `o` (§4.5).
    fn voids(&self, r: NodeIx, o: NodeIx) -> bool {
        let (rc, oc) = (&self.credentials[r as usize], &self.credentials[o as usize]);
        let Assertion::SpaceMember { role, .. } = rc.assertion() else {
            return false;
        };
        self.res.effects[r as usize] == Effect::Applied
            && self.res.effects[o as usize] == Effect::Applied
            && oc.issuer() == rc.subject()
            && required_role(oc).rank() > role.rank()
            && !counters(oc, rc)
            && self.graph.concurrent(o, r)
    }

    /// The fixpoint's next void set among pairs with an end in `changed` (§4.6). `all`: every
    /// applied credential is in `changed`, so looking from each one's own grants finds every
    /// pair.
    fn victims(&self, changed: &BTreeSet<NodeIx>, all: bool) -> BTreeSet<NodeIx> {
        let mut out = BTreeSet::new();
        if active(Mutant::NoStrongRemoval) {
            return out;
        }
        for y in changed.iter().copied().filter(|y| self.res.effects[*y as usize] == Effect::Applied) {
            let c = &self.credentials[y as usize];
            if list(&self.res.grants, &c.issuer()).iter().any(|r| self.voids(*r, y)) || self.voided_by_removal(y) {
                out.insert(y);
            }
            if !all && matches!(c.assertion(), Assertion::SpaceMember { .. }) {
                out.extend(list(&self.by_issuer, &c.subject()).iter().filter(|o| self.voids(y, **o)));
            }
            if !all && matches!(c.assertion(), Assertion::RemovedDevice { .. }) {
                out.extend(self.removal_victims(y));
            }
        }
        out.retain(|v| !self.void.contains(v));
        out
    }
}

/// The credentials an index holds under `key`.
pub(super) fn list<'a, K: Ord>(index: &'a BTreeMap<K, Vec<NodeIx>>, key: &K) -> &'a [NodeIx] {
    index.get(key).map_or(&[][..], Vec::as_slice)
}

/// Inserts `n` into a list kept in canonical order.
fn insert_sorted(graph: &CausalGraph, list: &mut Vec<NodeIx>, n: NodeIx) {
    let key = graph.order_key(n);
    let i = list.partition_point(|x| graph.order_key(*x) < key);
    assert!(list.get(i) != Some(&n), "a credential is indexed once");
    list.insert(i, n);
}
