//! Space membership: a pure function of the *set* of credentials received.
//!
//! Resolution (SPEC.md §4) walks the credential DAG in its canonical order (depth, then id)
//! and decides for each credential whether it takes effect. Authority is judged at the
//! credential's causal point: the issuer's role as its own past shows it, never a grant
//! that was concurrent or later. Strong removal: once a role change lowers a member, that
//! member's operations concurrent with the change are void too, found by a fixpoint that only
//! ever adds to the void set. Everything that decides an outcome depends on the set alone, so
//! replicas that hold the same credentials agree, whatever order they arrived in.

use std::collections::{BTreeMap, BTreeSet};

use crate::causal::{CausalGraph, NodeIx};
use crate::credential::{Assertion, Credential, CredentialError, CredentialId, Designation, FeedPosition, Role};
use crate::keys::PublicKey;
use crate::mutants::{Mutant, active};

mod heard;

/// What a stored credential does in the current resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Applied,
    Ignored(IgnoreReason),
    /// Waiting for parents that have not arrived.
    Pending,
}

/// Why a valid, stored credential has no effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IgnoreReason {
    /// The issuer's role at the credential's causal point does not allow it.
    NoAuthority,
    /// Members never change their own role.
    SelfChange,
    /// Only the space key assigns OWNER.
    OwnerOnlyBySpaceKey,
    /// Only the space key demotes or removes the OWNER.
    OwnerProtected,
    /// The issuer was demoted or removed concurrently (strong removal).
    StrongRemoval,
    /// A genesis other than the space's first.
    DuplicateGenesis,
    /// Does not descend from the space's genesis.
    Detached,
    /// Admits a feed for someone who is not a member at that point.
    SubjectNotMember,
    /// The feed key was already admitted.
    FeedAlreadyAdmitted,
    /// Admission through a delegated invitation that is unknown, cancelled or used up.
    InvitationUnusable,
}

/// An admitted feed: whose it is and what it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedAdmission {
    pub identity: PublicKey,
    pub device: PublicKey,
    pub noise_key: crate::keys::NoiseKey,
    pub designation: Designation,
    pub credential: CredentialId,
}

/// A member and its current role (REMOVED members are listed too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Member {
    pub identity: PublicKey,
    pub role: Role,
}

/// A delegated invitation as the space sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    pub credential: CredentialId,
    pub issuer: PublicKey,
    pub assertion: Assertion,
    pub uses: u32,
    pub cancelled: bool,
    /// Neither cancelled, nor used up, and its issuer may still manage members.
    pub active: bool,
}

/// A role change that lowered a member below write access, as the item layer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub node: NodeIx,
    pub role: Role,
    pub data_frontier: Vec<FeedPosition>,
}

/// Why a credential could not be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertError {
    Invalid(CredentialError),
    /// AuthorizedDevice and credentials of other spaces do not belong here.
    WrongSpace,
    /// The store is at `CREDENTIALS_MAX`.
    Full,
}

/// What an accepted insert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    New,
    Duplicate,
    /// Stored, waiting for missing parents.
    Pending,
}

/// Deterministic work counters of one `Membership`, for tests and the simulator's resource
/// oracle: they count what resolution did, never how long it took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Credentials judged (one rule evaluation each), over every walk and round.
    pub judged: u64,
    /// Fixpoint rounds run (a full walk each before incremental resolution).
    pub rounds: u64,
    /// Full resolutions started from scratch.
    pub full: u64,
}

/// Bound on credentials one space stores (applied and ignored), against flooding.
pub const CREDENTIALS_MAX: usize = 1 << 22;
/// Bound on credentials waiting for parents.
pub const PENDING_MAX: usize = 1 << 16;

#[derive(Debug, Clone, Default)]
struct Resolution {
    effects: Vec<Effect>,
    /// Effective SpaceMember credentials per subject, in canonical order.
    grants: BTreeMap<PublicKey, Vec<NodeIx>>,
    roles: BTreeMap<PublicKey, Role>,
    feeds: BTreeMap<PublicKey, FeedAdmission>,
    delegations: BTreeMap<NodeIx, u32>,
    /// Applied CancelInvitation credentials, by the delegation they cancel.
    /// Keyed by the delegation's *id*: a cancellation may arrive before the delegation it
    /// names (nothing requires the delegation in its past), and must count when it does.
    cancels: BTreeMap<CredentialId, Vec<NodeIx>>,
    genesis: Option<NodeIx>,
    last: Option<(u32, CredentialId)>,
}

/// The membership of one space.
#[derive(Debug, Clone)]
pub struct Membership {
    space: PublicKey,
    graph: CausalGraph,
    credentials: Vec<Credential>,
    /// Credentials by issuer, to find a member's operations concurrent with its demotion.
    by_issuer: BTreeMap<PublicKey, Vec<NodeIx>>,
    /// Connected `AdmittedFeed` credentials naming a control feed, by feed key, whatever their
    /// effect: such a feed carries credentials even once its admission is void (`carrier`).
    carriers: BTreeMap<PublicKey, Vec<NodeIx>>,
    pending: BTreeMap<CredentialId, Credential>,
    /// Missing parent -> pending credentials waiting for it.
    waiting: BTreeMap<CredentialId, BTreeSet<CredentialId>>,
    void: BTreeSet<NodeIx>,
    res: Resolution,
    work: Work,
}

impl Membership {
    pub fn new(space: PublicKey) -> Self {
        Membership {
            space,
            graph: CausalGraph::default(),
            credentials: Vec::new(),
            by_issuer: BTreeMap::new(),
            carriers: BTreeMap::new(),
            pending: BTreeMap::new(),
            waiting: BTreeMap::new(),
            void: BTreeSet::new(),
            res: Resolution::default(),
            work: Work::default(),
        }
    }

    pub fn space(&self) -> PublicKey {
        self.space
    }

    /// Verifies and stores one credential, then updates the resolution (incrementally when
    /// the credential extends the DAG, by a full pass otherwise).
    pub fn insert(&mut self, credential: Credential) -> Result<Inserted, InsertError> {
        let (outcome, added) = self.store(credential)?;
        if !added.is_empty() {
            self.update(&added);
        }
        Ok(outcome)
    }

    /// Verifies and stores many credentials, then resolves once: the fast way to load.
    /// Returns per credential what happened, in input order.
    pub fn insert_batch(&mut self, credentials: Vec<Credential>) -> Vec<Result<Inserted, InsertError>> {
        let mut results = Vec::with_capacity(credentials.len());
        let mut any = false;
        for c in credentials {
            let r = self.store(c).map(|(outcome, added)| {
                any |= !added.is_empty();
                outcome
            });
            results.push(r);
        }
        if any {
            self.resolve();
        }
        results
    }

    /// Verifies and adds to the graph (with any pending credentials it releases).
    fn store(&mut self, credential: Credential) -> Result<(Inserted, Vec<NodeIx>), InsertError> {
        if credential.assertion().space() != Some(self.space) {
            return Err(InsertError::WrongSpace);
        }
        let id = credential.verify().map_err(InsertError::Invalid)?;
        if self.graph.get(&id).is_some() || self.pending.contains_key(&id) {
            return Ok((Inserted::Duplicate, Vec::new()));
        }
        if self.credentials.len() + self.pending.len() >= CREDENTIALS_MAX {
            return Err(InsertError::Full);
        }
        let missing: Vec<CredentialId> =
            credential.parents().iter().filter(|p| self.graph.get(p).is_none()).copied().collect();
        if !missing.is_empty() {
            if self.pending.len() >= PENDING_MAX {
                return Err(InsertError::Full);
            }
            for m in missing {
                self.waiting.entry(m).or_default().insert(id);
            }
            self.pending.insert(id, credential);
            return Ok((Inserted::Pending, Vec::new()));
        }
        let mut added = vec![self.connect(id, credential)];
        let mut ready = vec![id];
        while let Some(done) = ready.pop() {
            for waiter in self.waiting.remove(&done).unwrap_or_default() {
                let Some(c) = self.pending.get(&waiter) else {
                    continue;
                };
                if c.parents().iter().all(|p| self.graph.get(p).is_some()) {
                    let c = self.pending.remove(&waiter).expect("present");
                    added.push(self.connect(waiter, c));
                    ready.push(waiter);
                }
            }
        }
        Ok((Inserted::New, added))
    }

    fn connect(&mut self, id: CredentialId, credential: Credential) -> NodeIx {
        let parents: Vec<NodeIx> =
            credential.parents().iter().map(|p| self.graph.get(p).expect("parents present")).collect();
        let ix = self.graph.insert(id, &parents);
        self.by_issuer.entry(credential.issuer()).or_default().push(ix);
        if let Assertion::AdmittedFeed { designation: Designation::Control, .. } = credential.assertion() {
            self.carriers.entry(credential.subject()).or_default().push(ix);
        }
        self.credentials.push(credential);
        self.res.effects.push(Effect::Pending);
        ix
    }

    /// Incremental when every added node sorts after all resolved ones and none of them
    /// voids an earlier operation; otherwise a full resolution.
    fn update(&mut self, added: &[NodeIx]) {
        if active(Mutant::MembershipArrivalOrder) {
            return added.iter().for_each(|n| self.step(*n));
        }
        let mut sorted = added.to_vec();
        sorted.sort_by_key(|n| self.graph.order_key(*n));
        let extends = match self.res.last {
            None => self.graph.len() == added.len(),
            Some(last) => self.graph.order_key(sorted[0]) > last,
        };
        if !extends {
            return self.resolve();
        }
        // A role change whose subject has operations concurrent with it may void some of them
        // in some pass of the fixpoint; only a full resolution is then certain to agree with a
        // replica that received the same set in another order.
        if sorted.iter().any(|n| self.may_void(*n)) {
            return self.resolve();
        }
        for n in sorted {
            self.step(n);
        }
    }

    /// Full resolution: canonical walk, then strong-removal fixpoint.
    /// Starts from an empty void set every time: the result must not depend on history.
    pub fn resolve(&mut self) {
        let order = match active(Mutant::MembershipArrivalOrder) {
            true => (0..self.graph.len() as NodeIx).collect(),
            false => self.graph.canonical_order(),
        };
        self.void.clear();
        self.work.full += 1;
        loop {
            self.work.rounds += 1;
            self.res = Resolution { effects: vec![Effect::Pending; self.graph.len()], ..Resolution::default() };
            for n in &order {
                self.step(*n);
            }
            let newly = self.newly_void();
            if newly.is_empty() {
                break;
            }
            self.void.extend(newly);
        }
    }

    /// Decides one credential given everything before it in canonical order.
    fn step(&mut self, n: NodeIx) {
        let effect = self.judge(n);
        self.work.judged += 1;
        self.res.effects[n as usize] = effect;
        self.res.last = Some(self.graph.order_key(n));
        if effect == Effect::Applied {
            self.apply(n);
        }
    }

    fn judge(&self, n: NodeIx) -> Effect {
        use IgnoreReason::*;
        let c = &self.credentials[n as usize];
        if let Assertion::SpaceGenesis { .. } = c.assertion() {
            return if self.res.genesis.is_none() { Effect::Applied } else { Effect::Ignored(DuplicateGenesis) };
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
        if self.revoked_concurrently(n, required) {
            return Effect::Ignored(StrongRemoval);
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
                if self.res.feeds.contains_key(&c.subject()) {
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
        let cancels = self.res.cancels.get(delegation).map_or(&[][..], Vec::as_slice);
        if cancels.iter().any(|c| self.graph.is_ancestor(*c, n)) {
            return false;
        }
        let Assertion::DelegateInvitation { use_limit, .. } = self.credentials[d as usize].assertion() else {
            return false;
        };
        let uses = self.res.delegations.get(&d).copied().unwrap_or(0);
        *use_limit == 0 || uses < *use_limit
    }

    /// Records an applied credential's consequences.
    fn apply(&mut self, n: NodeIx) {
        let c = &self.credentials[n as usize];
        match c.assertion() {
            Assertion::SpaceGenesis { .. } => self.res.genesis = Some(n),
            Assertion::SpaceMember { invitation, .. } => {
                let subject = c.subject();
                if let Some(d) = invitation.and_then(|inv| self.graph.get(&inv)) {
                    *self.res.delegations.entry(d).or_default() += 1;
                }
                self.res.grants.entry(subject).or_default().push(n);
                let current = self.current_role(subject).expect("just granted");
                self.res.roles.insert(subject, current);
            }
            Assertion::AdmittedFeed { identity, device, noise_key, designation, .. } => {
                let admission = FeedAdmission {
                    identity: *identity,
                    device: *device,
                    noise_key: *noise_key,
                    designation: *designation,
                    credential: self.graph.id(n),
                };
                self.res.feeds.insert(c.subject(), admission);
            }
            Assertion::DelegateInvitation { .. } => {
                self.res.delegations.entry(n).or_default();
            }
            Assertion::CancelInvitation { delegation, .. } => {
                self.res.cancels.entry(*delegation).or_default().push(n);
            }
            Assertion::AuthorizedDevice { .. } => unreachable!("refused at insert"),
        }
    }

    /// `member`'s role in the past of `n` (strictly before it).
    fn role_at(&self, member: PublicKey, n: NodeIx) -> Option<Role> {
        self.role_at_nodes(member, |g| self.graph.is_ancestor(g, n))
    }

    /// The role from the maximal effective grants among those `visible`; concurrent maximal
    /// grants merge to the least privileged.
    fn role_at_nodes(&self, member: PublicKey, visible: impl Fn(NodeIx) -> bool) -> Option<Role> {
        let grants = self.res.grants.get(&member)?;
        let mut maximal: Vec<NodeIx> = Vec::new();
        // Canonical order is topological, so a later grant is never an ancestor of an earlier.
        for g in grants.iter().rev().copied().filter(|g| visible(*g)) {
            if !maximal.iter().any(|m| self.graph.is_ancestor(g, *m)) {
                maximal.push(g);
            }
        }
        maximal.iter().map(|g| grant_role(&self.credentials[*g as usize])).min_by_key(|r| r.rank())
    }

    fn current_role(&self, member: PublicKey) -> Option<Role> {
        self.role_at_nodes(member, |_| true)
    }

    /// An applied role change of `n`'s issuer, earlier in canonical order and concurrent with
    /// `n`, lowered it below what `n` needs. A counter-change against that change's issuer is
    /// exempt, so two admins removing each other are both removed.
    fn revoked_concurrently(&self, n: NodeIx, required: Role) -> bool {
        let c = &self.credentials[n as usize];
        if active(Mutant::NoStrongRemoval) {
            return false;
        }
        let Some(grants) = self.res.grants.get(&c.issuer()) else {
            return false;
        };
        grants.iter().any(|r| {
            self.graph.concurrent(*r, n)
                && grant_role(&self.credentials[*r as usize]).rank() < required.rank()
                && !counters(c, &self.credentials[*r as usize])
        })
    }

    /// Is `n` a role change whose subject issued anything concurrent with it?
    fn may_void(&self, n: NodeIx) -> bool {
        let c = &self.credentials[n as usize];
        matches!(c.assertion(), Assertion::SpaceMember { .. })
            && self.by_issuer.get(&c.subject()).is_some_and(|ops| ops.iter().any(|op| self.graph.concurrent(*op, n)))
    }

    fn victims_of(&self, r: NodeIx) -> Vec<NodeIx> {
        let c = &self.credentials[r as usize];
        let Assertion::SpaceMember { role, .. } = c.assertion() else {
            return Vec::new();
        };
        let Some(ops) = self.by_issuer.get(&c.subject()) else {
            return Vec::new();
        };
        ops.iter()
            .copied()
            .filter(|op| {
                let o = &self.credentials[*op as usize];
                self.res.effects[*op as usize] == Effect::Applied
                    && self.graph.concurrent(*op, r)
                    && required_role(o).rank() > role.rank()
                    && !counters(o, c)
            })
            .collect()
    }

    /// Applied operations voided by applied role changes (the fixpoint's next step).
    fn newly_void(&self) -> BTreeSet<NodeIx> {
        let mut out = BTreeSet::new();
        if active(Mutant::NoStrongRemoval) {
            return out;
        }
        for grants in self.res.grants.values() {
            for r in grants {
                out.extend(self.victims_of(*r).into_iter().filter(|v| !self.void.contains(v)));
            }
        }
        out
    }

    // ----- queries -----

    /// What resolution has done so far (deterministic counters).
    pub fn work(&self) -> Work {
        self.work
    }

    /// Vector-clock entries the causal graph holds: its memory beyond one node per credential.
    pub fn clock_entries(&self) -> usize {
        self.graph.clock_entries()
    }

    /// Members with their current roles, sorted by key; REMOVED members included.
    pub fn members(&self) -> Vec<Member> {
        self.res.roles.iter().map(|(identity, role)| Member { identity: *identity, role: *role }).collect()
    }

    pub fn role(&self, identity: &PublicKey) -> Option<Role> {
        self.res.roles.get(identity).copied()
    }

    pub fn can_write(&self, identity: &PublicKey) -> bool {
        self.role(identity).is_some_and(Role::can_write)
    }

    pub fn is_member(&self, identity: &PublicKey) -> bool {
        self.role(identity).is_some_and(Role::is_member)
    }

    /// The heads of the credential DAG.
    pub fn heads(&self) -> Vec<CredentialId> {
        self.graph.heads()
    }

    /// Parents for the next credential (or causal point for the next mutation): the heads, at
    /// most `PARENTS_MAX` of them; any others stay heads and are merged by a later credential.
    pub fn next_parents(&self) -> Vec<CredentialId> {
        let mut heads = self.graph.heads();
        heads.truncate(crate::credential::PARENTS_MAX);
        heads
    }

    pub fn genesis(&self) -> Option<CredentialId> {
        self.res.genesis.map(|g| self.graph.id(g))
    }

    pub fn effect(&self, id: &CredentialId) -> Option<Effect> {
        match self.graph.get(id) {
            Some(n) => Some(self.res.effects[n as usize]),
            None => self.pending.contains_key(id).then_some(Effect::Pending),
        }
    }

    pub fn contains(&self, id: &CredentialId) -> bool {
        self.graph.get(id).is_some() || self.pending.contains_key(id)
    }

    /// The causal depth of a connected credential (§4.2): greater than its parents' depths.
    /// Replication sends feeds in the order of their admissions' depths, so an admission comes
    /// before the entries it makes acceptable.
    pub fn depth(&self, id: &CredentialId) -> Option<u32> {
        self.graph.get(id).map(|n| self.graph.depth(n))
    }

    pub fn credential(&self, id: &CredentialId) -> Option<&Credential> {
        self.graph.get(id).map(|n| &self.credentials[n as usize]).or_else(|| self.pending.get(id))
    }

    /// All stored credentials (connected ones in arrival order, then pending ones).
    pub fn credentials(&self) -> impl Iterator<Item = &Credential> {
        self.credentials.iter().chain(self.pending.values())
    }

    pub fn len(&self) -> usize {
        self.credentials.len() + self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn feed(&self, feed: &PublicKey) -> Option<FeedAdmission> {
        self.res.feeds.get(feed).copied()
    }

    pub fn feeds(&self) -> impl Iterator<Item = (&PublicKey, &FeedAdmission)> {
        self.res.feeds.iter()
    }

    /// Delegated invitations, with their use counts and whether they can still admit.
    pub fn delegations(&self) -> Vec<Delegation> {
        let mut out = self
            .res
            .delegations
            .iter()
            .filter(|(d, _)| matches!(self.credentials[**d as usize].assertion(), Assertion::DelegateInvitation { .. }))
            .map(|(d, uses)| {
                let c = &self.credentials[*d as usize];
                let Assertion::DelegateInvitation { use_limit, .. } = c.assertion() else { unreachable!() };
                let cancelled = self.res.cancels.contains_key(&self.graph.id(*d));
                let issuer_ok =
                    c.issuer() == self.space || self.role(&c.issuer()).is_some_and(Role::can_manage_members);
                let left = *use_limit == 0 || uses < use_limit;
                Delegation {
                    credential: self.graph.id(*d),
                    issuer: c.issuer(),
                    assertion: c.assertion().clone(),
                    uses: *uses,
                    cancelled,
                    active: !cancelled && issuer_ok && left,
                }
            })
            .collect::<Vec<_>>();
        // Sorted by id: insertion order differs between replicas.
        out.sort_by_key(|d| d.credential);
        out
    }

    /// One delegated invitation, by its credential id.
    pub fn delegation(&self, id: &CredentialId) -> Option<Delegation> {
        self.delegations().into_iter().find(|d| d.credential == *id)
    }

    /// Devices (with admitted feeds) of members who may manage members now: (identity,
    /// device, Noise key), sorted. Delegated invitations are sealed to these.
    pub fn admin_devices(&self) -> Vec<(PublicKey, PublicKey, crate::keys::NoiseKey)> {
        let admins = self.res.feeds.values().filter(|a| self.role(&a.identity).is_some_and(Role::can_manage_members));
        let set: BTreeSet<_> = admins.map(|a| (a.identity, a.device, a.noise_key)).collect();
        set.into_iter().collect()
    }

    /// `member`'s role as seen from a causal point given by credential ids (e.g. the control
    /// heads a data entry names). `Err(id)` names a credential this replica does not have.
    pub fn role_at_point(&self, member: &PublicKey, point: &[CredentialId]) -> Result<Option<Role>, CredentialId> {
        let nodes = self.point_nodes(point)?;
        Ok(self.role_at_nodes(*member, |g| nodes.iter().any(|h| self.graph.precedes_or_is(g, *h))))
    }

    /// Applied role changes of `member` below write access that are *not* in the causal point:
    /// the item layer voids the member's data beyond each one's frontier.
    pub fn revocations_outside(
        &self,
        member: &PublicKey,
        point: &[CredentialId],
    ) -> Result<Vec<Revocation>, CredentialId> {
        let nodes = self.point_nodes(point)?;
        let Some(grants) = self.res.grants.get(member) else {
            return Ok(Vec::new());
        };
        Ok(grants
            .iter()
            .copied()
            .filter(|g| !nodes.iter().any(|h| self.graph.precedes_or_is(*g, *h)))
            .filter_map(|g| match self.credentials[g as usize].assertion() {
                Assertion::SpaceMember { role, data_frontier, .. } if !role.can_write() => {
                    Some(Revocation { node: g, role: *role, data_frontier: data_frontier.clone() })
                }
                _ => None,
            })
            .collect())
    }

    fn point_nodes(&self, point: &[CredentialId]) -> Result<Vec<NodeIx>, CredentialId> {
        point.iter().map(|id| self.graph.get(id).ok_or(*id)).collect()
    }

    /// A digest-friendly summary of the resolved state, for agreement checks.
    pub fn fingerprint_state(&self) -> Vec<(PublicKey, Role)> {
        self.res.roles.iter().map(|(k, r)| (*k, *r)).collect()
    }
}

/// The least role an issuer needs for a credential.
fn required_role(c: &Credential) -> Role {
    match c.assertion() {
        Assertion::AdmittedFeed { identity, .. } if *identity == c.issuer() => Role::Reader,
        _ => Role::Admin,
    }
}

fn grant_role(c: &Credential) -> Role {
    match c.assertion() {
        Assertion::SpaceMember { role, .. } => *role,
        _ => unreachable!("grants are SpaceMember credentials"),
    }
}

/// `op` is a role change aimed at the issuer of role change `r`: the mutual case.
fn counters(op: &Credential, r: &Credential) -> bool {
    matches!(op.assertion(), Assertion::SpaceMember { .. }) && op.subject() == r.issuer()
}
