//! The client-shaped API of one device: the capabilities of DXOS's client (create a space,
//! query spaces, list members, change roles, write and read items, summaries), over the
//! pure state machines. It performs no IO: entries it writes are returned for a driver to
//! replicate, and everything it needs (time, randomness) is an argument.

mod admission;
mod delegated;
mod devices;
mod halo;
mod snapshot;

pub use crate::invitation::wire::JoinRequest;
pub use halo::{CONTACTS_MAX, HALO_DEVICES_MAX, SIBLING_FEEDS_PER_DEVICE_MAX, SiblingRefusal};
pub use snapshot::{ClientSnapshot, SpaceSnapshot};

use std::collections::{BTreeMap, BTreeSet};

use rand_core::{CryptoRng, RngCore};

use crate::codec::{self, Canonical};
use crate::credential::CredentialId;
use crate::credential::{Assertion, Credential, Designation, FRONTIER_MAX, FeedPosition, Role};
use crate::feed::FeedEntry;
use crate::identity::{Halo, Identity};
use crate::invitation::delegation::{self, DelegatedSecret};
use crate::invitation::host::{Admission, Admitter, InvitationHost};
use crate::invitation::wire::{AdmissionGrant, FRAME_SIZE_MAX, GRANT_CREDENTIALS_MAX};
use crate::invitation::{AuthMethod, InvitationCode, Kind, Limits, Pin, Refusal};
use crate::item::{Item, ItemId, Mutation, Op, Value};
use crate::keys::NoiseKey;
use crate::keys::NoiseKeypair;
use crate::keys::{Keypair, PublicKey};
use crate::membership::{InsertError, Member};
use crate::mutants::{Mutant, active};
pub use crate::space::Standing;
use crate::space::{IngestError, Ingested, Space, SpaceSummary, WriteVerdict};
use crate::time::Timestamp;

/// Why a client command was refused. Nothing changes on error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    UnknownSpace,
    /// Our role does not allow this (or we are not a member yet).
    NotAllowed,
    /// The credential we issued had no effect (e.g. changing our own role, demoting the owner).
    NoEffect,
    Credential(InsertError),
    Ingest(IngestError),
    /// The write breaks a bound of SPEC.md §6.3 (too many ops, a name or value too large, the
    /// whole mutation over the feed payload limit); nothing was written.
    InvalidWrite(crate::codec::DecodeError),
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::UnknownSpace => f.write_str("no such space on this device"),
            ClientError::NotAllowed => f.write_str("our role does not allow this"),
            ClientError::NoEffect => f.write_str("the change would have no effect under the membership rules"),
            ClientError::Credential(e) => write!(f, "credential refused: {e:?}"),
            ClientError::Ingest(e) => write!(f, "entry refused: {e}"),
            ClientError::InvalidWrite(e) => write!(f, "write refused: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

#[derive(Debug, Clone)]
struct LocalSpace {
    space: Space,
    /// Only the creator holds the space key (it alone can assign or remove OWNER).
    space_key: Option<Keypair>,
    control: Keypair,
    data: Keypair,
}

/// One device's view of its identity and spaces.
#[derive(Debug, Clone)]
pub struct Client {
    identity: Identity,
    spaces: BTreeMap<PublicKey, LocalSpace>,
    /// Feed keys prepared for joins in progress, by control feed key.
    joining: BTreeMap<PublicKey, (Keypair, Keypair)>,
    /// Identities we completed an invitation with: later invitations to them need no PIN.
    contacts: BTreeSet<PublicKey>,
    /// Our identity's devices as far as we know them.
    halo: Halo,
    /// Spaces this device left: a sibling's HALO does not bring them back (SPEC.md §9.8).
    /// Only the user's own `Leave`s add to it, one key each.
    left: BTreeSet<PublicKey>,
}

impl Client {
    pub fn new(identity: Identity) -> Self {
        let mut halo = Halo::new(identity.identity_key());
        let own = halo.insert(identity.device_credential().clone());
        assert!(own.is_ok(), "our own device credential is valid");
        Client {
            identity,
            spaces: BTreeMap::new(),
            joining: BTreeMap::new(),
            contacts: BTreeSet::new(),
            halo,
            left: BTreeSet::new(),
        }
    }

    pub fn contacts(&self) -> &BTreeSet<PublicKey> {
        &self.contacts
    }

    pub fn add_contact(&mut self, identity: PublicKey) {
        if identity != self.identity.identity_key() {
            self.contacts.insert(identity);
        }
    }

    pub fn halo(&self) -> &Halo {
        &self.halo
    }

    pub fn create_identity<R: RngCore + CryptoRng>(rng: &mut R, now: Timestamp) -> Self {
        Client::new(Identity::create(rng, now))
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn identity_key(&self) -> PublicKey {
        self.identity.identity_key()
    }

    /// Creates a space with us as OWNER: genesis and owner grant signed by a fresh space
    /// key, then our control and data feeds admitted by us.
    pub fn create_space<R: RngCore + CryptoRng>(&mut self, rng: &mut R, now: Timestamp) -> PublicKey {
        let space_key = Keypair::generate(rng);
        let (control, data) = (Keypair::generate(rng), Keypair::generate(rng));
        let space = space_key.public();
        let me = self.identity.identity_key();
        let by_space = crate::credential::Signer::direct(&space_key);
        let genesis = by_space.issue(space, Assertion::SpaceGenesis { space }, now, Vec::new());
        let owner = by_space.issue(
            me,
            Assertion::SpaceMember { space, role: Role::Owner, invitation: None, data_frontier: Vec::new() },
            now,
            vec![genesis.id()],
        );
        let feeds = self.feed_admissions(space, me, self.identity.device_key(), &control, &data, now, owner.id());
        let mut local = LocalSpace { space: Space::new(space), space_key: Some(space_key), control, data };
        let mut all = vec![genesis, owner];
        all.extend(feeds);
        for c in &all {
            let inserted = local.space.insert_credential(c.clone());
            assert!(inserted.is_ok(), "genesis credentials are valid by construction");
        }
        for c in &all {
            let appended = local.space.append_own(&local.control, c.to_bytes());
            assert!(appended.is_ok(), "our control feed is admitted by construction");
        }
        self.spaces.insert(space, local);
        space
    }

    /// AdmittedFeed credentials for a device's control and data feeds, chained after `after`.
    #[allow(clippy::too_many_arguments)]
    fn feed_admissions(
        &self,
        space: PublicKey,
        identity: PublicKey,
        device: PublicKey,
        control: &Keypair,
        data: &Keypair,
        now: Timestamp,
        after: crate::credential::CredentialId,
    ) -> Vec<Credential> {
        let noise = self.identity.noise_key();
        self.feed_admissions_for(space, (identity, device, noise), control.public(), data.public(), now, vec![after])
    }

    /// AdmittedFeed credentials for a control and a data feed: the control one with parents
    /// `after`, the data one after it.
    fn feed_admissions_for(
        &self,
        space: PublicKey,
        (identity, device, noise_key): (PublicKey, PublicKey, NoiseKey),
        control: PublicKey,
        data: PublicKey,
        now: Timestamp,
        after: Vec<crate::credential::CredentialId>,
    ) -> Vec<Credential> {
        let signer = self.identity.signer();
        let admit = |feed: PublicKey, designation, parents| {
            let assertion = Assertion::AdmittedFeed { space, identity, device, noise_key, designation };
            signer.issue(feed, assertion, now, parents)
        };
        let c = admit(control, Designation::Control, after);
        let d = admit(data, Designation::Data, vec![c.id()]);
        vec![c, d]
    }

    /// Summaries of every space on this device, sorted by space key.
    pub fn spaces(&self) -> Vec<SpaceSummary> {
        self.spaces.values().map(|l| l.space.summary()).collect()
    }

    /// The keys of every space on this device, ascending: cheaper than `spaces` when only
    /// the keys are needed (the Peer derives discovery topics from them on every change).
    pub fn space_keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.spaces.keys()
    }

    pub fn space(&self, key: &PublicKey) -> Option<&Space> {
        self.spaces.get(key).map(|l| &l.space)
    }

    /// For replication: entries from other members go straight to the space replica.
    pub fn space_mut(&mut self, key: &PublicKey) -> Option<&mut Space> {
        self.spaces.get_mut(key).map(|l| &mut l.space)
    }

    fn local(&self, key: &PublicKey) -> Result<&LocalSpace, ClientError> {
        self.spaces.get(key).ok_or(ClientError::UnknownSpace)
    }

    fn local_mut(&mut self, key: &PublicKey) -> Result<&mut LocalSpace, ClientError> {
        self.spaces.get_mut(key).ok_or(ClientError::UnknownSpace)
    }

    pub fn members(&self, key: &PublicKey) -> Result<Vec<Member>, ClientError> {
        Ok(self.local(key)?.space.members())
    }

    pub fn summary(&self, key: &PublicKey) -> Result<SpaceSummary, ClientError> {
        Ok(self.local(key)?.space.summary())
    }

    /// Changes a member's role (REMOVED removes). The credential records how much of the
    /// member's data we have seen, so writes we never saw are void if access is taken away.
    pub fn set_role(
        &mut self,
        key: &PublicKey,
        member: PublicKey,
        role: Role,
        now: Timestamp,
    ) -> Result<Credential, ClientError> {
        let local = self.local(key)?;
        let membership = local.space.membership();
        let as_space_key = membership.role(&member) == Some(Role::Owner) || role == Role::Owner;
        let frontier: Vec<FeedPosition> = membership
            .feeds()
            .filter(|(_, a)| a.identity == member && a.designation == Designation::Data)
            .map(|(feed, _)| FeedPosition { feed: *feed, length: local.space.feed(feed).map_or(0, |f| f.len()) })
            .take(FRONTIER_MAX)
            .collect();
        let assertion = Assertion::SpaceMember { space: *key, role, invitation: None, data_frontier: frontier };
        let heads = membership.next_parents();
        let credential = match (&local.space_key, as_space_key) {
            (Some(space_key), true) => {
                crate::credential::Signer::direct(space_key).issue(member, assertion, now, heads)
            }
            (None, true) => return Err(ClientError::NotAllowed),
            (_, false) => self.identity.signer().issue(member, assertion, now, heads),
        };
        self.publish(key, credential)
    }

    pub fn remove_member(
        &mut self,
        key: &PublicKey,
        member: PublicKey,
        now: Timestamp,
    ) -> Result<Credential, ClientError> {
        self.set_role(key, member, Role::Removed, now)
    }

    /// Inserts a credential we issued (our identity's `Signer` or a space key we hold: the
    /// replica trusts its signatures) and appends it to our control feed, if it takes effect.
    fn publish(&mut self, key: &PublicKey, credential: Credential) -> Result<Credential, ClientError> {
        let local = self.local_mut(key)?;
        let trial = local.space.membership().trial_own(credential.clone(), credential.id());
        let trial = trial.map_err(ClientError::Credential)?;
        if trial.effect() != Some(crate::membership::Effect::Applied) {
            return Err(ClientError::NoEffect);
        }
        local.space.append_own_credential(&local.control, &credential, trial).map_err(ClientError::Ingest)?;
        Ok(credential)
    }

    /// Appends `payload` to our own control (or data) feed of space `key` with no check at
    /// all, as a malicious member would: the simulator's insider adversary. Only with the
    /// `adversary` feature, never in a real node.
    #[cfg(feature = "adversary")]
    pub fn append_raw(&mut self, key: &PublicKey, control: bool, payload: Vec<u8>) -> Result<FeedEntry, ClientError> {
        let local = self.local_mut(key)?;
        let feed = if control { &local.control } else { &local.data };
        local.space.append_own(feed, payload).map(|(entry, _)| entry).map_err(ClientError::Ingest)
    }

    /// The next data-feed payload a write of `ops` would carry, whatever our role: lets the
    /// insider adversary write as a reader. Only with the `adversary` feature.
    #[cfg(feature = "adversary")]
    pub fn mutation_raw(&self, key: &PublicKey, ops: Vec<Op>) -> Result<Vec<u8>, ClientError> {
        let local = self.local(key)?;
        let mutation = Mutation {
            version: codec::VERSION,
            control: local.space.membership().next_parents(),
            lamport: local.space.next_lamport(),
            ops,
        };
        Ok(mutation.to_bytes())
    }

    /// Writes ops as one mutation on our data feed. Refused unless we may write now.
    pub fn write(&mut self, key: &PublicKey, ops: Vec<Op>) -> Result<FeedEntry, ClientError> {
        let me = self.identity.identity_key();
        if self.device_removed_from(&self.local(key)?.space) {
            // Our identity disowned this device here: its writes are void (SPEC.md §6.4 rule 5).
            return Err(ClientError::NotAllowed);
        }
        let local = self.local_mut(key)?;
        if !local.space.membership().can_write(&me) {
            return Err(ClientError::NotAllowed);
        }
        let mutation = Mutation {
            version: codec::VERSION,
            control: local.space.membership().next_parents(),
            lamport: local.space.next_lamport(),
            ops,
        };
        mutation.validate().map_err(ClientError::InvalidWrite)?;
        let payload = mutation.to_bytes();
        if payload.len() > crate::feed::PAYLOAD_SIZE_MAX {
            let e = crate::codec::DecodeError::TooLarge { len: payload.len(), max: crate::feed::PAYLOAD_SIZE_MAX };
            return Err(ClientError::InvalidWrite(e));
        }
        let (entry, ingested) = local.space.append_own(&local.data, payload).map_err(ClientError::Ingest)?;
        debug_assert_eq!(ingested, Ingested::Data(WriteVerdict::Applied), "we checked our right to write");
        Ok(entry)
    }

    pub fn create_item<R: RngCore + CryptoRng>(
        &mut self,
        rng: &mut R,
        key: &PublicKey,
        type_name: &str,
        fields: Vec<(String, Value)>,
    ) -> Result<ItemId, ClientError> {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let item = ItemId(id);
        let mut ops = vec![Op::Create { item, type_name: type_name.to_owned() }];
        ops.extend(fields.into_iter().map(|(field, value)| Op::Set { item, field, value }));
        self.write(key, ops)?;
        Ok(item)
    }

    pub fn set_field(
        &mut self,
        key: &PublicKey,
        item: ItemId,
        field: &str,
        value: Value,
    ) -> Result<FeedEntry, ClientError> {
        self.write(key, vec![Op::Set { item, field: field.to_owned(), value }])
    }

    pub fn delete_item(&mut self, key: &PublicKey, item: ItemId) -> Result<FeedEntry, ClientError> {
        self.write(key, vec![Op::Delete { item }])
    }

    pub fn items(&self, key: &PublicKey) -> Result<Vec<Item>, ClientError> {
        Ok(self.local(key)?.space.items())
    }

    /// Inserts credentials another replica sent (replication stands in for issue 4's swarm).
    pub fn receive_credentials(&mut self, space: &PublicKey, credentials: Vec<Credential>) -> Result<(), ClientError> {
        self.local_mut(space)?.space.insert_credentials(credentials);
        Ok(())
    }

    /// Drops our replica of a space (our membership is unchanged for the others).
    pub fn leave(&mut self, key: &PublicKey) -> Result<(), ClientError> {
        self.spaces.remove(key).ok_or(ClientError::UnknownSpace)?;
        self.left.insert(*key);
        Ok(())
    }

    /// Entries of every feed we hold beyond the lengths `have` says the other side has.
    pub fn entries_since(
        &self,
        key: &PublicKey,
        have: &BTreeMap<PublicKey, u64>,
    ) -> Result<Vec<FeedEntry>, ClientError> {
        let space = &self.local(key)?.space;
        Ok(space
            .feeds()
            .flat_map(|f| {
                let from = have.get(&f.key()).copied().unwrap_or(0) as usize;
                f.entries().get(from..).unwrap_or(&[]).iter().cloned()
            })
            .collect())
    }

    /// Our feed lengths, to ask another replica for what we lack.
    pub fn feed_lengths(&self, key: &PublicKey) -> Result<BTreeMap<PublicKey, u64>, ClientError> {
        Ok(self.local(key)?.space.feeds().map(|f| (f.key(), f.len())).collect())
    }

    pub fn ingest(&mut self, key: &PublicKey, entry: FeedEntry) -> Result<Ingested, ClientError> {
        self.local_mut(key)?.space.ingest(entry).map_err(ClientError::Ingest)
    }

    /// Carries again, in our own control feed, the credentials that only the entries a fork cut
    /// carried here (SPEC.md §5.6): others that never saw that branch learn them from us.
    /// Returns how many were appended; none when our own control feed cannot carry.
    pub fn recarry(&mut self, key: &PublicKey) -> usize {
        let Ok(local) = self.local_mut(key) else { return 0 };
        let orphans = local.space.take_orphans();
        let mut carried = 0;
        for credential in orphans {
            if local.space.append_own(&local.control, credential.to_bytes()).is_ok() {
                carried += 1;
            }
        }
        carried
    }
}
