//! Space membership: a pure function of the *set* of credentials received.
//!
//! Resolution (SPEC.md §4) walks the credential DAG in its canonical order (depth, then id)
//! and decides for each credential whether it takes effect. Authority is judged at the
//! credential's causal point: the issuer's role as its own past shows it, never a grant
//! that was concurrent or later. Strong removal: once a role change lowers a member, that
//! member's operations concurrent with the change are void too, found by a fixpoint that only
//! ever adds to the void set. Everything that decides an outcome depends on the set alone, so
//! replicas that hold the same credentials agree, whatever order they arrived in.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use crate::causal::{CausalGraph, NodeIx};
use crate::credential::{
    Assertion, Credential, CredentialError, CredentialId, Designation, FeedPosition, Role, VerifyCache,
};
use crate::keys::PublicKey;

pub use authority::{AUTHORITY_CHAIN_MAX, ChainError};

mod authority;
mod devices;
mod heard;
mod resolve;

pub(crate) use devices::frontier_length;

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
    /// Signed by (or admits a feed of) a device its identity removed, after or concurrently
    /// with the removal (§4.4 step 7).
    DeviceRemoved,
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

/// How much of a credential `Membership::store` verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Everything (`Credential::verify_cached`): any credential from anyone.
    Full,
    /// Nothing, the id given: one our own `Signer` just issued (`trial_own`).
    Trusted(CredentialId),
}

/// `Membership::trial_own`: the membership with the credential inserted, what inserting did,
/// and the credential's id.
#[derive(Debug)]
pub(crate) struct Trial {
    pub(crate) membership: Membership,
    pub(crate) inserted: Inserted,
    pub(crate) id: CredentialId,
}

impl Trial {
    /// The credential's effect in the trial.
    pub(crate) fn effect(&self) -> Option<Effect> {
        self.membership.effect(&self.id)
    }
}

/// Bound on credentials one space stores (applied and ignored), against flooding.
pub const CREDENTIALS_MAX: usize = 1 << 22;
/// Bound on credentials waiting for parents.
pub const PENDING_MAX: usize = 1 << 16;

#[derive(Debug, Clone, Default)]
struct Resolution {
    effects: Vec<Effect>,
    /// Applied SpaceMember credentials per subject, in canonical order.
    grants: BTreeMap<PublicKey, Vec<NodeIx>>,
    roles: BTreeMap<PublicKey, Role>,
    /// Applied AdmittedFeed credentials per feed key, in canonical order (at most one stays
    /// applied once the walk is done; the index is what judging in any order needs).
    admitted: BTreeMap<PublicKey, Vec<NodeIx>>,
    feeds: BTreeMap<PublicKey, FeedAdmission>,
    /// Applied DelegateInvitation credentials.
    delegates: BTreeSet<NodeIx>,
    /// Applied grants naming a delegation (by its id), in canonical order: its use count at a
    /// point is the part of the list before it.
    uses: BTreeMap<CredentialId, Vec<NodeIx>>,
    /// Applied CancelInvitation credentials, by the delegation they cancel.
    /// Keyed by the delegation's *id*: a cancellation may arrive before the delegation it
    /// names (nothing requires the delegation in its past), and must count when it does.
    cancels: BTreeMap<CredentialId, Vec<NodeIx>>,
    /// Applied RemovedDevice credentials by the (identity, device) they name, in canonical
    /// order.
    removals: BTreeMap<devices::DeviceKey, Vec<NodeIx>>,
    genesis: Option<NodeIx>,
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
    /// Connected SpaceMember credentials by subject and AdmittedFeed credentials by identity:
    /// the credentials whose judgment reads that member's role (as subject).
    by_subject: BTreeMap<PublicKey, Vec<NodeIx>>,
    /// Connected AdmittedFeed credentials by feed key (`FeedAlreadyAdmitted`).
    by_feed: BTreeMap<PublicKey, Vec<NodeIx>>,
    /// Connected SpaceMember credentials by the delegation id they name.
    by_invitation: BTreeMap<CredentialId, Vec<NodeIx>>,
    /// Connected credentials by each (identity, device) they pass through
    /// (`devices::passes_through`): what a removal of that device covers.
    through: BTreeMap<devices::DeviceKey, Vec<NodeIx>>,
    /// Connected RemovedDevice credentials by the (identity, device) they name, whatever their
    /// effect.
    removals_of: BTreeMap<devices::DeviceKey, Vec<NodeIx>>,
    void: BTreeSet<NodeIx>,
    res: Resolution,
    /// Credentials to judge again, popped in canonical order (`resolve.rs`).
    queue: BinaryHeap<Reverse<((u32, CredentialId), NodeIx)>>,
    queued: Vec<bool>,
    /// Credentials whose applied-ness changed since the last fixpoint step.
    changed: BTreeSet<NodeIx>,
    /// Members whose applied grants changed since their role was last computed.
    touched: BTreeSet<PublicKey>,
    /// Credentials whose applied-ness differed between fixpoint rounds of a resolution since
    /// the last full one (a superset: it only grows until then). A credential outside it had
    /// its final effect in every round, which lets a new leaf credential be judged once
    /// (`resolve.rs`, `is_leaf`).
    unstable: BTreeSet<NodeIx>,
    work: Work,
    /// Device chains and signer keys already verified (changes no outcome).
    verified: VerifyCache,
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
            by_subject: BTreeMap::new(),
            by_feed: BTreeMap::new(),
            by_invitation: BTreeMap::new(),
            through: BTreeMap::new(),
            removals_of: BTreeMap::new(),
            void: BTreeSet::new(),
            res: Resolution::default(),
            queue: BinaryHeap::new(),
            queued: Vec::new(),
            changed: BTreeSet::new(),
            touched: BTreeSet::new(),
            unstable: BTreeSet::new(),
            work: Work::default(),
            verified: VerifyCache::default(),
        }
    }

    pub fn space(&self) -> PublicKey {
        self.space
    }

    /// Whether `chain` verified here as the device chain of a stored credential
    /// (`VerifyCache::verified_chain`): a caller holding it need not verify it again.
    pub fn verified_chain(&self, chain: &Credential) -> bool {
        self.verified.verified_chain(chain)
    }

    /// Verifies and stores one credential, then updates the resolution (incrementally when
    /// the credential extends the DAG, by a full pass otherwise).
    pub fn insert(&mut self, credential: Credential) -> Result<Inserted, InsertError> {
        self.insert_checked(credential, Check::Full)
    }

    /// A copy of this membership with `credential` (whose id is `id`), which this device's
    /// own `Signer` issued a moment ago, inserted without verifying it at all: its signature
    /// and chain are right by construction (our keys made them). `Client::publish` asks the
    /// trial what the credential would do; `Space::append_own_credential` then checks the
    /// rest and keeps the trial as the replica's membership, rather than inserting the
    /// credential a second time (issue 14).
    pub(crate) fn trial_own(&self, credential: Credential, id: CredentialId) -> Result<Trial, InsertError> {
        let mut membership = self.clone();
        let inserted = membership.insert_checked(credential, Check::Trusted(id))?;
        Ok(Trial { membership, inserted, id })
    }

    fn insert_checked(&mut self, credential: Credential, check: Check) -> Result<Inserted, InsertError> {
        let (outcome, added) = self.store(credential, check)?;
        if !added.is_empty() {
            self.update(&added);
        }
        Ok(outcome)
    }

    /// Verifies and stores many credentials, then resolves once: the fast way to load.
    /// Returns per credential what happened, in input order.
    pub fn insert_batch(&mut self, credentials: Vec<Credential>) -> Vec<Result<Inserted, InsertError>> {
        let mut results = Vec::with_capacity(credentials.len());
        let mut all = Vec::new();
        for c in credentials {
            let r = self.store(c, Check::Full).map(|(outcome, added)| {
                all.extend(added);
                outcome
            });
            results.push(r);
        }
        // One update for all (the `membership-arrival-order` bug lives in `update`: since batches
        // of replication go through here, a full resolution instead would hide it).
        if !all.is_empty() {
            self.update(&all);
        }
        results
    }

    /// Verifies as `check` says and adds to the graph (with any pending credentials it
    /// releases).
    fn store(&mut self, credential: Credential, check: Check) -> Result<(Inserted, Vec<NodeIx>), InsertError> {
        if credential.assertion().space() != Some(self.space) {
            return Err(InsertError::WrongSpace);
        }
        let id = match check {
            Check::Full => credential.verify_cached(&mut self.verified).map_err(InsertError::Invalid)?,
            Check::Trusted(id) => id,
        };
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
        for key in devices::passes_through(&credential) {
            self.through.entry(key).or_default().push(ix);
        }
        if let Some(key) = devices::removed(&credential) {
            self.removals_of.entry(key).or_default().push(ix);
        }
        match credential.assertion() {
            Assertion::SpaceMember { invitation, .. } => {
                self.by_subject.entry(credential.subject()).or_default().push(ix);
                if let Some(inv) = invitation {
                    self.by_invitation.entry(*inv).or_default().push(ix);
                }
            }
            Assertion::AdmittedFeed { identity, designation, .. } => {
                self.by_subject.entry(*identity).or_default().push(ix);
                self.by_feed.entry(credential.subject()).or_default().push(ix);
                if *designation == Designation::Control {
                    self.carriers.entry(credential.subject()).or_default().push(ix);
                }
            }
            _ => {}
        }
        self.credentials.push(credential);
        self.res.effects.push(Effect::Pending);
        self.queued.push(false);
        ix
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

    /// Every credential with its effect, as `credentials` lists them: what `effect(&c.id())`
    /// for each would say, without hashing each credential again to find it.
    pub fn credential_effects(&self) -> impl Iterator<Item = (&Credential, Effect)> {
        let connected = self.credentials.iter().zip(self.res.effects.iter().copied());
        connected.chain(self.pending.values().map(|c| (c, Effect::Pending)))
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

    /// Delegated invitations, with their use counts and whether they can still admit: each
    /// connected DelegateInvitation that is applied or named by an applied grant.
    pub fn delegations(&self) -> Vec<Delegation> {
        let named = self.res.uses.iter().filter(|(_, u)| !u.is_empty()).filter_map(|(id, _)| self.graph.get(id));
        let all: BTreeSet<NodeIx> = self.res.delegates.iter().copied().chain(named).collect();
        let mut out = all
            .into_iter()
            .filter_map(|d| {
                let c = &self.credentials[d as usize];
                let Assertion::DelegateInvitation { use_limit, .. } = c.assertion() else { return None };
                let id = self.graph.id(d);
                let uses = self.res.uses.get(&id).map_or(0, Vec::len) as u32;
                let cancelled = self.res.cancels.get(&id).is_some_and(|v| !v.is_empty());
                let issuer_ok =
                    c.issuer() == self.space || self.role(&c.issuer()).is_some_and(Role::can_manage_members);
                let left = *use_limit == 0 || uses < *use_limit;
                Some(Delegation {
                    credential: id,
                    issuer: c.issuer(),
                    assertion: c.assertion().clone(),
                    uses,
                    cancelled,
                    active: !cancelled && issuer_ok && left,
                })
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

    /// `member`'s role as seen from a causal point given by credential ids (e.g. the control
    /// heads a data entry names). `Err(id)` names a credential this replica does not have.
    pub fn role_at_point(&self, member: &PublicKey, point: &[CredentialId]) -> Result<Option<Role>, CredentialId> {
        let nodes = self.point_nodes(point)?;
        let grants = self.res.grants.get(member).map_or(&[][..], Vec::as_slice);
        Ok(self.merge_role(grants, |g| nodes.iter().any(|h| self.graph.precedes_or_is(g, *h))))
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
        Assertion::RemovedDevice { .. } => Role::Reader,
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
