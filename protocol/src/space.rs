//! A space replica: membership, the feeds of its members, and the items they wrote.
//!
//! Credentials are self-authenticating, so they may arrive directly (an invitation hands a
//! guest the space's credentials) or inside control-feed entries; either way they reach the
//! same `Membership`. Data entries are judged against the membership at the causal point the
//! writer named. Items are a pure function of (credentials, data entries): whenever the
//! membership changes they are recomputed, because strong removal can void earlier writes.

use std::collections::BTreeMap;

use crate::codec::{Canonical, DecodeError};
use crate::credential::{Credential, CredentialId, Designation, Role};
use crate::feed::{Appended, Equivocation, Feed, FeedEntry, FeedError};
use crate::hash::{Digest, domain, hash_tagged};
use crate::item::{Item, ItemId, Items, Mutation};
use crate::keys::PublicKey;
use crate::membership::{Effect, FeedAdmission, InsertError, Inserted, Member, Membership, Trial};
use crate::mutants::{Mutant, active};
use crate::proof::Provisional;

/// Why an entry was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestError {
    /// The feed is not (or no longer) admitted to this space.
    NotAdmitted {
        feed: PublicKey,
    },
    /// The feed's author signed two entries at `at`: the feed ends there for every replica
    /// that holds the evidence (SPEC.md §5.6).
    Forked {
        feed: PublicKey,
        at: u64,
    },
    Feed(FeedError),
}

/// Why offered equivocation evidence was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForkError {
    /// The two entries do not prove equivocation (§5.4).
    Unproven,
    /// The feed is no carrier of this space: evidence is kept only for feeds we take entries
    /// from, so what a remote party can make us hold is one piece per such feed.
    NotCarrier,
}

impl core::fmt::Display for IngestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IngestError::NotAdmitted { feed } => {
                write!(f, "feed {feed:?} is not admitted to the space")
            }
            IngestError::Forked { feed, at } => write!(f, "feed {feed:?} forked at seq {at} and ends there"),
            IngestError::Feed(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for IngestError {}

/// What a data entry does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteVerdict {
    Applied,
    /// Its causal point names a credential this replica lacks; judged when it arrives.
    Pending {
        missing: CredentialId,
    },
    Rejected(WriteRejection),
}

/// Why a data entry is void on every replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteRejection {
    Malformed(DecodeError),
    /// The author could not write at the entry's causal point (reader, removed, unknown).
    NoWriteAccess,
    /// The author lost write access concurrently, and this entry lies beyond the frontier
    /// the revoking credential recorded (strong removal).
    Revoked,
    /// The entry's device (or one its feed's admission passes through) was removed by its
    /// identity, and the entry lies beyond the removal's frontier or was written knowing of it
    /// (SPEC §6.4 rule 5).
    DeviceRemoved,
}

/// What a control entry's payload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlVerdict {
    Credential(Result<Inserted, InsertError>),
    Malformed(DecodeError),
    /// Appended; its credential goes into the membership with the rest of its pass
    /// (`Space::ingest_deferring`), which resolves once for all of them.
    Deferred,
}

/// What `ingest` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    Duplicate,
    Control(ControlVerdict),
    Data(WriteVerdict),
}

/// A state summary, as a client lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceSummary {
    pub key: PublicKey,
    pub members: usize,
    pub items: usize,
    pub credentials: usize,
    pub feeds: usize,
    pub entries: u64,
    pub heads: Vec<CredentialId>,
}

/// Where this device stands in a space, as its replica shows it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// A current member with this role (§4.3).
    Member(Role),
    /// Admitted by a proof (SPEC.md §7.7.3) whose grant gives this role, but the replica does
    /// not yet hold the grant's past: replication is still bringing the space. The device can
    /// neither write nor admit until the membership judges the grant.
    Syncing { role: Role },
    /// Its current role is Removed.
    Removed,
    /// No grant for it applies: never admitted, or its admission did not stand (e.g. its host
    /// was removed concurrently).
    NotMember,
}

/// A space's discovery topic: members meet there; the server learns only the hash.
pub fn space_topic(space: &PublicKey) -> Digest {
    hash_tagged(domain::SPACE_TOPIC, &space.0)
}

#[derive(Debug, Clone)]
pub struct Space {
    key: PublicKey,
    membership: Membership,
    feeds: BTreeMap<PublicKey, Feed>,
    items: Items,
    /// The lowest proven fork of each forked feed: the feed is cut there (SPEC.md §5.6).
    forks: BTreeMap<PublicKey, Equivocation>,
    /// Credentials that only cut entries carried here, for our own control feed to carry
    /// again (`take_orphans`): a replica that held them must not be the only one.
    orphans: Vec<Credential>,
    /// Set while this replica was joined through a proof of admission and its own grant is
    /// still pending (SPEC.md §7.7.3): the proof's control feeds are carriers and the host's
    /// devices are linked with. Cleared as soon as the grant connects.
    provisional: Option<Provisional>,
}

impl Space {
    pub fn new(key: PublicKey) -> Self {
        Space {
            key,
            membership: Membership::new(key),
            feeds: BTreeMap::new(),
            items: Items::default(),
            forks: BTreeMap::new(),
            orphans: Vec::new(),
            provisional: None,
        }
    }

    /// Enters the provisional state of a guest admitted by a proof (SPEC.md §7.7.3), unless
    /// the proof's grant is connected already.
    pub fn set_provisional(&mut self, provisional: Provisional) {
        self.provisional = Some(provisional);
        self.settle_provisional();
    }

    pub fn provisional(&self) -> Option<&Provisional> {
        self.provisional.as_ref()
    }

    /// Ends the provisional state once the guest's grant is connected: from then on §4 alone
    /// judges the guest, its feeds and its links.
    fn settle_provisional(&mut self) {
        let connected = |p: &Provisional| self.membership.effect(&p.grant).is_some_and(|e| e != Effect::Pending);
        if self.provisional.as_ref().is_some_and(connected) {
            self.provisional = None;
        }
    }

    /// Where `identity` stands in this space (`Standing`).
    pub fn standing(&self, identity: &PublicKey) -> Standing {
        if let Some(p) = &self.provisional {
            return Standing::Syncing { role: p.role };
        }
        match self.membership.role(identity) {
            Some(Role::Removed) => Standing::Removed,
            Some(role) => Standing::Member(role),
            None => Standing::NotMember,
        }
    }

    /// The admission under which this replica takes entries of `feed`: the membership's
    /// carrier (§5.5), or while provisional a control feed the proof names.
    pub fn carrier(&self, feed: &PublicKey) -> Option<FeedAdmission> {
        self.membership.carrier(feed).or_else(|| self.provisional.as_ref()?.carrier(feed))
    }

    /// Whether this replica, provisional, links with the device of Noise key `k` (the host's).
    pub fn is_provisional_device(&self, k: &crate::keys::NoiseKey) -> bool {
        self.provisional.as_ref().is_some_and(|p| p.is_host_device(k))
    }

    /// A replica holding only `membership`'s credentials, already verified and resolved: how a
    /// guest stores the grant it has just checked without verifying every credential again.
    pub fn from_membership(membership: Membership) -> Self {
        Space { key: membership.space(), membership, ..Space::new(PublicKey([0; 32])) }
    }

    pub fn key(&self) -> PublicKey {
        self.key
    }

    /// Where members of this space meet on the signaling network: a hash of the space key,
    /// so the signaling server never learns the key itself.
    pub fn discovery_topic(&self) -> Digest {
        space_topic(&self.key)
    }

    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    pub fn insert_credential(&mut self, credential: Credential) -> Result<Inserted, InsertError> {
        let result = self.membership.insert(credential);
        if result == Ok(Inserted::New) {
            self.settle_provisional();
            self.recompute_items();
        }
        result
    }

    /// What decoding `len` bytes, the encoding of `credential` that our own `Signer` issued,
    /// and inserting the result would do (`append_own_credential`), given `trial`, the
    /// replica's membership as it is with the credential inserted unverified. Our own value
    /// decodes to itself unless it is too large or invalid (`Canonical::from_bytes`); the
    /// insert checks everything but the signatures, which our keys made a moment ago
    /// (`Credential::check_issued`), and then its membership is the trial's.
    fn adopt_issued(&mut self, credential: &Credential, len: usize, trial: Trial) -> ControlVerdict {
        let max = <Credential as Canonical>::ENCODED_SIZE_MAX;
        if len > max {
            return ControlVerdict::Malformed(DecodeError::TooLarge { len, max });
        }
        if let Err(e) = credential.validate() {
            return ControlVerdict::Malformed(e);
        }
        if let Err(e) = credential.check_issued() {
            return ControlVerdict::Credential(Err(InsertError::Invalid(e)));
        }
        self.membership = trial.membership;
        if trial.inserted == Inserted::New {
            self.settle_provisional();
            self.recompute_items();
        }
        ControlVerdict::Credential(Ok(trial.inserted))
    }

    pub fn insert_credentials(&mut self, credentials: Vec<Credential>) -> Vec<Result<Inserted, InsertError>> {
        let results = self.membership.insert_batch(credentials);
        if results.contains(&Ok(Inserted::New)) {
            self.settle_provisional();
            self.recompute_items();
        }
        results
    }

    /// Verifies and stores a feed entry from an admitted feed, then applies its payload.
    /// On error nothing changes, except that a fork cuts the feed (SPEC.md §5.6).
    pub fn ingest(&mut self, entry: FeedEntry) -> Result<Ingested, IngestError> {
        self.ingest_as(entry, None)
    }

    /// `ingest`, except that a control entry's credential is not inserted but pushed to
    /// `credentials`, for the caller to insert with the others of its batch in one
    /// `insert_credentials`: inserted one at a time, each that sorts before others costs a
    /// resolution of everything after it, and a recomputation of the items (faulty seed 1777,
    /// R2: seven concurrent role changes in one batch were judged some 270 times).
    pub fn ingest_deferring(
        &mut self,
        entry: FeedEntry,
        credentials: &mut Vec<Credential>,
    ) -> Result<Ingested, IngestError> {
        self.ingest_as(entry, Some(credentials))
    }

    fn ingest_as(&mut self, entry: FeedEntry, defer: Option<&mut Vec<Credential>>) -> Result<Ingested, IngestError> {
        let feed_key = entry.body.feed;
        // A control feed whose admission is void still carries credentials (SPEC.md §5.5).
        let admission = self.carrier(&feed_key).ok_or(IngestError::NotAdmitted { feed: feed_key })?;
        if let Some(at) = self.fork_at(&feed_key).filter(|at| entry.body.seq >= *at) {
            return Err(IngestError::Forked { feed: feed_key, at });
        }
        let mut fresh = None;
        let feed = match self.feeds.get_mut(&feed_key) {
            Some(f) => f,
            None => fresh.insert(Feed::new(feed_key)),
        };
        match feed.append(entry.clone()) {
            Ok(Appended::Duplicate) => Ok(Ingested::Duplicate),
            Ok(Appended::New) => {
                // A feed exists only once it holds an entry, so a refused first entry
                // leaves no trace.
                if let Some(f) = fresh {
                    self.feeds.insert(feed_key, f);
                }
                Ok(self.apply_entry(admission, &entry, defer))
            }
            Err(FeedError::Fork(evidence)) => {
                // Both signatures verified (the held entry when it came, this one just now).
                self.cut((*evidence).clone());
                Err(IngestError::Feed(FeedError::Fork(evidence)))
            }
            Err(e) => Err(IngestError::Feed(e)),
        }
    }

    fn apply_entry(
        &mut self,
        admission: FeedAdmission,
        entry: &FeedEntry,
        defer: Option<&mut Vec<Credential>>,
    ) -> Ingested {
        match admission.designation {
            Designation::Control => {
                let verdict = match (Credential::from_bytes(&entry.body.payload), defer) {
                    (Ok(c), Some(later)) => {
                        later.push(c);
                        ControlVerdict::Deferred
                    }
                    (Ok(c), None) => ControlVerdict::Credential(self.insert_credential(c)),
                    (Err(e), _) => ControlVerdict::Malformed(e),
                };
                Ingested::Control(verdict)
            }
            Designation::Data => {
                let (verdict, mutation) = self.judge_write(&admission, entry);
                if let Some(m) = mutation {
                    self.items.apply(entry.body.feed, entry.body.seq, &m);
                }
                Ingested::Data(verdict)
            }
        }
    }

    /// Judges a data entry against the membership at the entry's causal point.
    fn judge_write(&self, admission: &FeedAdmission, entry: &FeedEntry) -> (WriteVerdict, Option<Mutation>) {
        let m = match Mutation::from_bytes(&entry.body.payload) {
            Ok(m) => m,
            Err(e) => return (WriteVerdict::Rejected(WriteRejection::Malformed(e)), None),
        };
        let author = admission.identity;
        let role = match self.membership.role_at_point(&author, &m.control) {
            Ok(role) => role,
            Err(missing) => return (WriteVerdict::Pending { missing }, None),
        };
        let may_write = match active(Mutant::AcceptReaderWrites) {
            true => role.is_some_and(Role::is_member),
            false => role.is_some_and(Role::can_write),
        };
        if !may_write {
            return (WriteVerdict::Rejected(WriteRejection::NoWriteAccess), None);
        }
        let revocations = self.membership.revocations_outside(&author, &m.control).expect("point checked above");
        let beyond = revocations
            .iter()
            .any(|r| entry.body.seq >= crate::membership::frontier_length(&r.data_frontier, &entry.body.feed));
        if beyond && !active(Mutant::AcceptWritesAfterRemoval) {
            return (WriteVerdict::Rejected(WriteRejection::Revoked), None);
        }
        let limit = self.membership.device_limit(admission, &entry.body.feed, &m.control).expect("point checked above");
        if limit.is_some_and(|l| entry.body.seq >= l) {
            return (WriteVerdict::Rejected(WriteRejection::DeviceRemoved), None);
        }
        (WriteVerdict::Applied, Some(m))
    }

    /// Items from scratch: every entry of every admitted data feed, judged anew.
    fn recompute_items(&mut self) {
        let mut items = Items::default();
        for (key, feed) in &self.feeds {
            let Some(admission) = self.membership.feed(key) else {
                continue;
            };
            if admission.designation != Designation::Data {
                continue;
            }
            for entry in feed.entries() {
                if let (WriteVerdict::Applied, Some(m)) = self.judge_write(&admission, entry) {
                    items.apply(*key, entry.body.seq, &m);
                }
            }
        }
        self.items = items;
    }

    /// The verdict on a stored data entry, as of now.
    pub fn write_verdict(&self, feed: &PublicKey, seq: u64) -> Option<WriteVerdict> {
        let admission = self.membership.feed(feed)?;
        let entry = self.feeds.get(feed)?.get(seq)?;
        Some(self.judge_write(&admission, entry).0)
    }

    /// Takes evidence another replica found (SPEC.md §5.6): verified, kept for a carrier feed,
    /// and the feed cut at it if it is the lowest known. `Ok(true)` when it cut further.
    pub fn learn_fork(&mut self, evidence: Equivocation) -> Result<bool, ForkError> {
        if !evidence.verify() {
            return Err(ForkError::Unproven);
        }
        if self.carrier(&evidence.first.body.feed).is_none() {
            return Err(ForkError::NotCarrier);
        }
        Ok(self.cut(evidence))
    }

    /// Cuts a feed at proven equivocation `evidence` unless a lower fork already cut it: its
    /// entries from the fork on are dropped, the items recomputed without them, and the
    /// credentials they carried queued to be carried again. The rule is the same on every
    /// replica, and the evidence travels (§9.3), so all cut the feed at its lowest fork.
    fn cut(&mut self, evidence: Equivocation) -> bool {
        let (feed_key, at) = (evidence.first.body.feed, evidence.first.body.seq);
        if self.fork_at(&feed_key).is_some_and(|held| held <= at) {
            return false;
        }
        self.forks.insert(feed_key, evidence);
        let Some(feed) = self.feeds.get_mut(&feed_key) else { return true };
        let dropped = feed.truncate(at);
        if feed.is_empty() {
            self.feeds.remove(&feed_key);
        }
        let control = self.carrier(&feed_key).is_some_and(|a| a.designation == Designation::Control);
        if control {
            let carried = dropped.iter().filter_map(|e| Credential::from_bytes(&e.body.payload).ok());
            let held: Vec<Credential> = carried.filter(|c| self.membership.contains(&c.id())).collect();
            self.orphans.extend(held);
        } else if !dropped.is_empty() {
            self.recompute_items();
        }
        true
    }

    /// A digest of the credential set this replica holds: its heads and how many it holds,
    /// pending ones included (SPEC.md §9.3.5). Equal sets give equal digests.
    pub fn credentials_digest(&self) -> Digest {
        let mut bytes = (self.membership.len() as u64).to_be_bytes().to_vec();
        for head in self.membership.heads() {
            bytes.extend_from_slice(&head.0.0);
        }
        hash_tagged(domain::CREDENTIAL_SET, &bytes)
    }

    /// Credentials this replica holds that no entry it holds carries: taken from a grant, or
    /// from a branch of a forked feed that this replica never held (SPEC.md §9.3.5). Costs a
    /// decode of every control entry, so callers ask only when the feeds agree and the
    /// credentials do not.
    pub fn loose_credentials(&self) -> Vec<Credential> {
        let mut carried = std::collections::BTreeSet::new();
        for (key, feed) in &self.feeds {
            if self.carrier(key).is_some_and(|a| a.designation == Designation::Control) {
                let ids = feed.entries().iter().filter_map(|e| Credential::from_bytes(&e.body.payload).ok());
                carried.extend(ids.map(|c| c.id()));
            }
        }
        self.membership.credentials().filter(|c| !carried.contains(&c.id())).cloned().collect()
    }

    /// Where `feed` is cut, if a fork of it is proven.
    pub fn fork_at(&self, feed: &PublicKey) -> Option<u64> {
        self.forks.get(feed).map(|e| e.first.body.seq)
    }

    /// The lowest proven fork of each forked feed, by feed key.
    pub fn forks(&self) -> impl Iterator<Item = &Equivocation> {
        self.forks.values()
    }

    /// Credentials that only entries cut since the last call carried here: the owner of the
    /// replica carries them again in its own control feed (`Client::recarry`), so replicas
    /// that took them from the dropped branch do not keep them to themselves.
    pub fn take_orphans(&mut self) -> Vec<Credential> {
        std::mem::take(&mut self.orphans)
    }

    /// Appends an entry we signed ourselves to our own feed (which must be admitted).
    pub fn append_own(
        &mut self,
        key: &crate::keys::Keypair,
        payload: Vec<u8>,
    ) -> Result<(FeedEntry, Ingested), IngestError> {
        self.append_own_with(key, payload, None)
    }

    /// `append_own` of a credential our own `Signer` issued (`Client::publish`), with
    /// `trial`, `Membership::trial_own` of this replica's membership unchanged since: the same
    /// entry and the same outcome, but the credential is neither decoded from the entry again
    /// nor verified and inserted a second time (`adopt_issued`; issue 14).
    pub(crate) fn append_own_credential(
        &mut self,
        key: &crate::keys::Keypair,
        credential: &Credential,
        trial: Trial,
    ) -> Result<(FeedEntry, Ingested), IngestError> {
        self.append_own_with(key, credential.to_bytes(), Some((credential, trial)))
    }

    fn append_own_with(
        &mut self,
        key: &crate::keys::Keypair,
        payload: Vec<u8>,
        issued: Option<(&Credential, Trial)>,
    ) -> Result<(FeedEntry, Ingested), IngestError> {
        let feed_key = key.public();
        let admission = self.carrier(&feed_key).ok_or(IngestError::NotAdmitted { feed: feed_key })?;
        if let Some(at) = self.fork_at(&feed_key) {
            return Err(IngestError::Forked { feed: feed_key, at });
        }
        let (len, head) = self.feeds.get(&feed_key).map_or((0, None), |f| (f.len(), f.head()));
        let entry = FeedEntry::sign(key, len, head, payload);
        // Signed here with the feed's own key at the position after its head: the feed takes
        // it without verifying the signature again (`Feed::append_signed_own`). A feed exists
        // only once it holds an entry, so a refused first entry leaves no trace.
        let mut feed = self.feeds.remove(&feed_key).unwrap_or_else(|| Feed::new(feed_key));
        let appended = feed.append_signed_own(entry.clone());
        if !feed.is_empty() {
            self.feeds.insert(feed_key, feed);
        }
        appended.map_err(IngestError::Feed)?;
        let ingested = match issued {
            Some((c, trial)) if admission.designation == Designation::Control => {
                Ingested::Control(self.adopt_issued(c, entry.body.payload.len(), trial))
            }
            _ => self.apply_entry(admission, &entry, None),
        };
        Ok((entry, ingested))
    }

    pub fn feed(&self, key: &PublicKey) -> Option<&Feed> {
        self.feeds.get(key)
    }

    pub fn feeds(&self) -> impl Iterator<Item = &Feed> {
        self.feeds.values()
    }

    pub fn items(&self) -> Vec<Item> {
        self.items.list()
    }

    pub fn item(&self, id: &ItemId) -> Option<Item> {
        self.items.get(id)
    }

    pub fn next_lamport(&self) -> u64 {
        self.items.next_lamport()
    }

    pub fn members(&self) -> Vec<Member> {
        self.membership.members()
    }

    pub fn summary(&self) -> SpaceSummary {
        SpaceSummary {
            key: self.key,
            members: self.members().iter().filter(|m| m.role.is_member()).count(),
            items: self.items.len(),
            credentials: self.membership.len(),
            feeds: self.feeds.len(),
            entries: self.feeds.values().map(Feed::len).sum(),
            heads: self.membership.heads(),
        }
    }
}
