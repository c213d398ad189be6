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
use crate::membership::{FeedAdmission, InsertError, Inserted, Member, Membership};
use crate::mutants::{Mutant, active};

/// Equivocation evidence kept per space, at most.
pub const EVIDENCE_MAX: usize = 64;

/// Why an entry was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestError {
    /// The feed is not (or no longer) admitted to this space.
    NotAdmitted {
        feed: PublicKey,
    },
    Feed(FeedError),
}

impl core::fmt::Display for IngestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IngestError::NotAdmitted { feed } => {
                write!(f, "feed {feed:?} is not admitted to the space")
            }
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
}

/// What a control entry's payload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlVerdict {
    Credential(Result<Inserted, InsertError>),
    Malformed(DecodeError),
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

#[derive(Debug, Clone)]
pub struct Space {
    key: PublicKey,
    membership: Membership,
    feeds: BTreeMap<PublicKey, Feed>,
    items: Items,
    evidence: Vec<Equivocation>,
}

impl Space {
    pub fn new(key: PublicKey) -> Self {
        Space {
            key,
            membership: Membership::new(key),
            feeds: BTreeMap::new(),
            items: Items::default(),
            evidence: Vec::new(),
        }
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
        hash_tagged(domain::SPACE_TOPIC, &self.key.0)
    }

    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    pub fn insert_credential(&mut self, credential: Credential) -> Result<Inserted, InsertError> {
        let result = self.membership.insert(credential);
        if result == Ok(Inserted::New) {
            self.recompute_items();
        }
        result
    }

    pub fn insert_credentials(&mut self, credentials: Vec<Credential>) -> Vec<Result<Inserted, InsertError>> {
        let results = self.membership.insert_batch(credentials);
        if results.contains(&Ok(Inserted::New)) {
            self.recompute_items();
        }
        results
    }

    /// Verifies and stores a feed entry from an admitted feed, then applies its payload.
    /// On error nothing changes, except that fork evidence is kept.
    pub fn ingest(&mut self, entry: FeedEntry) -> Result<Ingested, IngestError> {
        let feed_key = entry.body.feed;
        // A control feed whose admission is void still carries credentials (SPEC.md §5.5).
        let admission = self.membership.carrier(&feed_key).ok_or(IngestError::NotAdmitted { feed: feed_key })?;
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
                Ok(self.apply_entry(admission, &entry))
            }
            Err(FeedError::Fork(evidence)) => {
                if self.evidence.len() < EVIDENCE_MAX {
                    self.evidence.push((*evidence).clone());
                }
                Err(IngestError::Feed(FeedError::Fork(evidence)))
            }
            Err(e) => Err(IngestError::Feed(e)),
        }
    }

    fn apply_entry(&mut self, admission: FeedAdmission, entry: &FeedEntry) -> Ingested {
        match admission.designation {
            Designation::Control => {
                let verdict = match Credential::from_bytes(&entry.body.payload) {
                    Ok(c) => ControlVerdict::Credential(self.insert_credential(c)),
                    Err(e) => ControlVerdict::Malformed(e),
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
        let beyond = revocations.iter().any(|r| {
            let allowed = r.data_frontier.iter().find(|p| p.feed == entry.body.feed).map_or(0, |p| p.length);
            entry.body.seq >= allowed
        });
        if beyond && !active(Mutant::AcceptWritesAfterRemoval) {
            return (WriteVerdict::Rejected(WriteRejection::Revoked), None);
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

    /// Appends an entry we signed ourselves to our own feed (which must be admitted).
    pub fn append_own(
        &mut self,
        key: &crate::keys::Keypair,
        payload: Vec<u8>,
    ) -> Result<(FeedEntry, Ingested), IngestError> {
        let feed_key = key.public();
        let admission = self.membership.carrier(&feed_key).ok_or(IngestError::NotAdmitted { feed: feed_key })?;
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
        let ingested = self.apply_entry(admission, &entry);
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

    pub fn evidence(&self) -> &[Equivocation] {
        &self.evidence
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
