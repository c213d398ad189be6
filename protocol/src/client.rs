//! The client-shaped API of one device: the capabilities of DXOS's client (create a space,
//! query spaces, list members, change roles, write and read items, summaries), over the
//! pure state machines. It performs no IO: entries it writes are returned for a driver to
//! replicate, and everything it needs (time, randomness) is an argument.

use std::collections::{BTreeMap, BTreeSet};

use rand_core::{CryptoRng, RngCore};

use crate::codec::{self, Canonical};
use crate::credential::CredentialId;
use crate::credential::{Assertion, Credential, Designation, FRONTIER_MAX, FeedPosition, Role};
use crate::feed::FeedEntry;
use crate::identity::{Halo, Identity};
use crate::invitation::Refusal;
use crate::invitation::host::Admitter;
use crate::invitation::wire::{AdmissionGrant, GRANT_CREDENTIALS_MAX};
use crate::item::{Item, ItemId, Mutation, Op, Value};
use crate::keys::NoiseKey;
use crate::keys::{Keypair, PublicKey};
use crate::membership::{InsertError, Member};
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
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::UnknownSpace => f.write_str("no such space on this device"),
            ClientError::NotAllowed => f.write_str("our role does not allow this"),
            ClientError::NoEffect => f.write_str("the change would have no effect under the membership rules"),
            ClientError::Credential(e) => write!(f, "credential refused: {e:?}"),
            ClientError::Ingest(e) => write!(f, "entry refused: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// What a joining device sends to be admitted: its identity, device and new feed keys.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JoinRequest {
    pub identity: PublicKey,
    pub device: PublicKey,
    pub control_feed: PublicKey,
    pub data_feed: PublicKey,
    /// The device's AuthorizedDevice credential, so the admitter can check the device
    /// belongs to the identity.
    pub device_credential: Credential,
}

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
}

impl Client {
    pub fn new(identity: Identity) -> Self {
        let mut halo = Halo::new(identity.identity_key());
        let own = halo.insert(identity.device_credential().clone());
        assert!(own.is_ok(), "our own device credential is valid");
        Client { identity, spaces: BTreeMap::new(), joining: BTreeMap::new(), contacts: BTreeSet::new(), halo }
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
        self.feed_admissions_for(space, identity, device, control.public(), data.public(), now, after)
    }

    #[allow(clippy::too_many_arguments)]
    fn feed_admissions_for(
        &self,
        space: PublicKey,
        identity: PublicKey,
        device: PublicKey,
        control: PublicKey,
        data: PublicKey,
        now: Timestamp,
        after: crate::credential::CredentialId,
    ) -> Vec<Credential> {
        let signer = self.identity.signer();
        let admit = |feed: PublicKey, designation, parent| {
            signer.issue(feed, Assertion::AdmittedFeed { space, identity, device, designation }, now, vec![parent])
        };
        let c = admit(control, Designation::Control, after);
        let d = admit(data, Designation::Data, c.id());
        vec![c, d]
    }

    /// Summaries of every space on this device, sorted by space key.
    pub fn spaces(&self) -> Vec<SpaceSummary> {
        self.spaces.values().map(|l| l.space.summary()).collect()
    }

    pub fn space(&self, key: &PublicKey) -> Option<&Space> {
        self.spaces.get(key).map(|l| &l.space)
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

    /// Inserts a credential we issued and appends it to our control feed, if it takes effect.
    fn publish(&mut self, key: &PublicKey, credential: Credential) -> Result<Credential, ClientError> {
        let local = self.local_mut(key)?;
        let mut trial = local.space.membership().clone();
        trial.insert(credential.clone()).map_err(ClientError::Credential)?;
        if trial.effect(&credential.id()) != Some(crate::membership::Effect::Applied) {
            return Err(ClientError::NoEffect);
        }
        local.space.append_own(&local.control, credential.to_bytes()).map_err(ClientError::Ingest)?;
        Ok(credential)
    }

    /// Writes ops as one mutation on our data feed. Refused unless we may write now.
    pub fn write(&mut self, key: &PublicKey, ops: Vec<Op>) -> Result<FeedEntry, ClientError> {
        let me = self.identity.identity_key();
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
        let (entry, ingested) =
            local.space.append_own(&local.data, mutation.to_bytes()).map_err(ClientError::Ingest)?;
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

    /// Prepares to join a space: new feed keys, and the request an admitter needs.
    pub fn join_request<R: RngCore + CryptoRng>(&mut self, rng: &mut R) -> JoinRequest {
        let (control, data) = (Keypair::generate(rng), Keypair::generate(rng));
        let request = JoinRequest {
            identity: self.identity.identity_key(),
            device: self.identity.device_key(),
            control_feed: control.public(),
            data_feed: data.public(),
            device_credential: self.identity.device_credential().clone(),
        };
        self.joining.insert(control.public(), (control, data));
        request
    }

    /// The device key pair, for signing invitation requests.
    pub fn device_keypair(&self) -> &Keypair {
        self.identity.device_keypair()
    }

    /// Admits a member: grants the role (unless it is a member already: admission is
    /// idempotent) and admits its feeds (unless admitted). Returns every credential of the
    /// space, which is what the new member needs to start replicating.
    pub fn admit(
        &mut self,
        key: &PublicKey,
        request: &JoinRequest,
        role: Role,
        delegation: Option<CredentialId>,
        now: Timestamp,
    ) -> Result<Vec<Credential>, ClientError> {
        let ok_device = request.device_credential.verify().is_ok()
            && request
                .device_credential
                .authorized_device()
                .is_some_and(|(i, d, _)| i == request.identity && d == request.device);
        let me = self.identity.identity_key();
        let local = self.local(key)?;
        if !ok_device || !local.space.membership().role(&me).is_some_and(Role::can_manage_members) {
            return Err(ClientError::NotAllowed);
        }
        let mut parent = None;
        if !local.space.membership().is_member(&request.identity) {
            let assertion =
                Assertion::SpaceMember { space: *key, role, invitation: delegation, data_frontier: Vec::new() };
            let heads = local.space.membership().next_parents();
            let grant = self.identity.signer().issue(request.identity, assertion, now, heads);
            parent = Some(self.publish(key, grant)?.id());
        }
        if self.local(key)?.space.membership().feed(&request.control_feed).is_none() {
            let after = match parent {
                Some(p) => p,
                None => *self.local(key)?.space.membership().heads().last().expect("heads are never empty"),
            };
            let (i, d, c, dt) = (request.identity, request.device, request.control_feed, request.data_feed);
            for cred in self.feed_admissions_for(*key, i, d, c, dt, now, after) {
                self.publish(key, cred)?;
            }
        }
        self.add_contact(request.identity);
        Ok(self.local(key)?.space.membership().credentials().cloned().collect())
    }

    /// Completes a join with the credentials the admitter returned.
    pub fn accept(&mut self, key: &PublicKey, credentials: Vec<Credential>) -> Result<(), ClientError> {
        let me = self.identity.identity_key();
        let mut space = Space::new(*key);
        space.insert_credentials(credentials);
        let control = self
            .joining
            .keys()
            .copied()
            .find(|c| space.membership().feed(c).is_some_and(|f| f.identity == me))
            .ok_or(ClientError::NotAllowed)?;
        if !space.membership().is_member(&me) {
            return Err(ClientError::NotAllowed);
        }
        let (control, data) = self.joining.remove(&control).expect("found above");
        self.spaces.insert(*key, LocalSpace { space, space_key: None, control, data });
        Ok(())
    }

    /// Completes a SPACE invitation on the guest's side: joins the space and records the host
    /// as a contact. Returns the space key.
    pub fn accept_grant(&mut self, grant: &AdmissionGrant) -> Result<PublicKey, ClientError> {
        let AdmissionGrant::Space { space, credentials, .. } = grant else {
            return Err(ClientError::NotAllowed);
        };
        if !self.spaces.contains_key(space) {
            self.accept(space, credentials.clone())?;
        }
        if let Some(host) = grant.host_identity() {
            self.add_contact(host);
        }
        Ok(*space)
    }

    /// A new device's client, from the grant of a DEVICE invitation.
    pub fn from_device_grant(
        device: Keypair,
        noise: crate::keys::NoiseKeypair,
        grant: &AdmissionGrant,
    ) -> Result<Self, ClientError> {
        let AdmissionGrant::Device { credential, .. } = grant else {
            return Err(ClientError::NotAllowed);
        };
        let identity =
            Identity::from_authorization(device, noise, credential.clone()).map_err(|_| ClientError::NotAllowed)?;
        let mut client = Client::new(identity);
        if let Some(host) = grant.host_identity() {
            client.add_contact(host);
        }
        Ok(client)
    }

    /// Drops our replica of a space (our membership is unchanged for the others).
    pub fn leave(&mut self, key: &PublicKey) -> Result<(), ClientError> {
        self.spaces.remove(key).map(|_| ()).ok_or(ClientError::UnknownSpace)
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
}

/// The host side of invitations admits through the client's spaces and identity.
impl Admitter for Client {
    fn admit_space(
        &mut self,
        space: PublicKey,
        join: &JoinRequest,
        role: Role,
        delegation: Option<CredentialId>,
        now: Timestamp,
    ) -> Result<AdmissionGrant, Refusal> {
        let credentials = self.admit(&space, join, role, delegation, now).map_err(|_| Refusal::NotAuthorised)?;
        if credentials.len() > GRANT_CREDENTIALS_MAX {
            return Err(Refusal::NotAuthorised);
        }
        let role =
            self.space(&space).and_then(|s| s.membership().role(&join.identity)).ok_or(Refusal::NotAuthorised)?;
        Ok(AdmissionGrant::Space { space, role, credentials, host_device: self.identity.device_credential().clone() })
    }

    fn admit_device(
        &mut self,
        device: PublicKey,
        noise_key: NoiseKey,
        now: Timestamp,
    ) -> Result<AdmissionGrant, Refusal> {
        let existing = self.halo.devices().find(|(d, _)| **d == device).map(|(_, c)| c.clone());
        let credential = match existing {
            Some(c) if c.authorized_device().is_some_and(|(_, _, n)| n == noise_key) => c,
            Some(_) => return Err(Refusal::NotAuthorised),
            None => {
                let c = self.identity.authorize_device(device, noise_key, now);
                self.halo.insert(c.clone()).map_err(|_| Refusal::NotAuthorised)?;
                c
            }
        };
        Ok(AdmissionGrant::Device { credential, host_device: self.identity.device_credential().clone() })
    }
}
