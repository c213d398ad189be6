//! The client-shaped API of one device: the capabilities of DXOS's client (create a space,
//! query spaces, list members, change roles, write and read items, summaries), over the
//! pure state machines. It performs no IO: entries it writes are returned for a driver to
//! replicate, and everything it needs (time, randomness) is an argument.

mod snapshot;

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
use crate::invitation::wire::{AdmissionGrant, GRANT_CREDENTIALS_MAX};
use crate::invitation::{AuthMethod, InvitationCode, Kind, Limits, Pin, Refusal};
use crate::item::{Item, ItemId, Mutation, Op, Value};
use crate::keys::NoiseKey;
use crate::keys::NoiseKeypair;
use crate::keys::{Keypair, PublicKey};
use crate::membership::{InsertError, Member};
use crate::mutants::{Mutant, active};
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
        let noise = self.identity.noise_key();
        self.feed_admissions_for(space, (identity, device, noise), control.public(), data.public(), now, after)
    }

    fn feed_admissions_for(
        &self,
        space: PublicKey,
        (identity, device, noise_key): (PublicKey, PublicKey, NoiseKey),
        control: PublicKey,
        data: PublicKey,
        now: Timestamp,
        after: crate::credential::CredentialId,
    ) -> Vec<Credential> {
        let signer = self.identity.signer();
        let admit = |feed: PublicKey, designation, parent| {
            let assertion = Assertion::AdmittedFeed { space, identity, device, noise_key, designation };
            signer.issue(feed, assertion, now, vec![parent])
        };
        let c = admit(control, Designation::Control, after);
        let d = admit(data, Designation::Data, c.id());
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

    /// Inserts a credential we issued and appends it to our control feed, if it takes effect.
    fn publish(&mut self, key: &PublicKey, credential: Credential) -> Result<Credential, ClientError> {
        let local = self.local_mut(key)?;
        let mut trial = local.space.membership().clone();
        trial.insert_own(credential.clone()).map_err(ClientError::Credential)?;
        if trial.effect(&credential.id()) != Some(crate::membership::Effect::Applied) {
            return Err(ClientError::NoEffect);
        }
        local.space.append_own(&local.control, credential.to_bytes()).map_err(ClientError::Ingest)?;
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
            let noise =
                request.device_credential.authorized_device().map(|(_, _, n)| n).ok_or(ClientError::NotAllowed)?;
            let who = (request.identity, request.device, noise);
            for cred in self.feed_admissions_for(*key, who, request.control_feed, request.data_feed, now, after) {
                self.publish(key, cred)?;
            }
        }
        self.add_contact(request.identity);
        Ok(self.local(key)?.space.membership().credentials().cloned().collect())
    }

    /// Completes a join with the credentials the admitter returned.
    pub fn accept(&mut self, key: &PublicKey, credentials: Vec<Credential>) -> Result<(), ClientError> {
        let mut space = Space::new(*key);
        space.insert_credentials(credentials);
        self.join(key, space)
    }

    /// Stores `space` as joined if it admits one of our pending joins.
    fn join(&mut self, key: &PublicKey, space: Space) -> Result<(), ClientError> {
        let me = self.identity.identity_key();
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
        self.accept_grant_verified(grant, None)
    }

    /// `accept_grant` with the membership the guest built from this grant's credentials when
    /// it checked them (`InvitationGuest::take_verified`): stored as it is, so no credential
    /// is verified twice. One of another space is ignored.
    pub fn accept_grant_verified(
        &mut self,
        grant: &AdmissionGrant,
        verified: Option<crate::membership::Membership>,
    ) -> Result<PublicKey, ClientError> {
        let AdmissionGrant::Space { space, credentials, .. } = grant else {
            return Err(ClientError::NotAllowed);
        };
        if !self.spaces.contains_key(space) {
            match verified.filter(|m| m.space() == *space) {
                Some(m) => self.join(space, Space::from_membership(m))?,
                None => self.accept(space, credentials.clone())?,
            }
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

    /// Creates a delegated invitation: a DelegateInvitation credential that lets up to
    /// `limits.attempts_max` admin devices (ours first) host it while we are offline. Returns
    /// the credential (replicate it to the hosts), the code, and the PIN to show.
    #[allow(clippy::too_many_arguments)]
    pub fn delegate_invitation<R: RngCore + CryptoRng>(
        &mut self,
        space: &PublicKey,
        auth: AuthMethod,
        role: Role,
        expires_at: Timestamp,
        use_limit: u32,
        guest: Option<PublicKey>,
        limits: Limits,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<(Credential, InvitationCode, Option<Pin>), ClientError> {
        let me = (self.identity.identity_key(), self.identity.device_key(), self.identity.noise_key());
        let local = self.local(space)?;
        let membership = local.space.membership();
        if !membership.role(&me.0).is_some_and(Role::can_manage_members) || !crate::invitation::grantable(role) {
            return Err(ClientError::NotAllowed);
        }
        if (auth == AuthMethod::Key) != guest.is_some() || expires_at <= now {
            return Err(ClientError::NotAllowed);
        }
        let mut hosts = vec![me];
        hosts.extend(membership.admin_devices().into_iter().filter(|h| *h != me));
        let shares = delegation::shares(limits.attempts_max, hosts.len());
        let keypair = delegation::invitation_keypair(rng);
        let mut invitation_id = [0u8; 16];
        rng.fill_bytes(&mut invitation_id);
        let pin = (auth == AuthMethod::Pin).then(|| Pin::generate(rng));
        let expires_at_s = u32::try_from(expires_at.as_millis() / 1000).map_err(|_| ClientError::NotAllowed)?;
        let code = InvitationCode {
            kind: Kind::Space,
            auth,
            role: Some(role),
            id: invitation_id,
            host: keypair.public(),
            expires_at_s,
        };
        let mut sealed = Vec::new();
        for ((_, _, noise), attempts) in hosts.iter().zip(shares) {
            let secret = DelegatedSecret { noise_secret: keypair.secret_bytes(), pin: pin.clone(), attempts };
            sealed.extend(delegation::seal(space, &invitation_id, *noise, &secret, rng));
        }
        let assertion = Assertion::DelegateInvitation {
            space: *space,
            invitation_id,
            auth_method: auth,
            role,
            expires_at: code.expires_at(),
            use_limit,
            guest,
            host_key: keypair.public(),
            shares: sealed,
        };
        let credential = self.identity.signer().issue(*space, assertion, now, membership.next_parents());
        let credential = self.publish(space, credential)?;
        Ok((credential, code, pin))
    }

    /// Hosts a delegated invitation with our sealed share, if the invitation names us.
    pub fn host_delegated<R: RngCore + CryptoRng>(
        &self,
        space: &PublicKey,
        delegation_id: &CredentialId,
        limits: Limits,
        rng: &mut R,
    ) -> Result<InvitationHost, ClientError> {
        let membership = self.local(space)?.space.membership();
        let state = membership.delegation(delegation_id).ok_or(ClientError::NotAllowed)?;
        let Assertion::DelegateInvitation {
            invitation_id,
            auth_method,
            role,
            expires_at,
            use_limit,
            guest,
            host_key,
            shares,
            ..
        } = state.assertion
        else {
            return Err(ClientError::NotAllowed);
        };
        let ours = self.identity.noise_keypair();
        let share = shares.iter().find(|s| s.recipient == ours.public()).ok_or(ClientError::NotAllowed)?;
        let secret = delegation::open(space, &invitation_id, share, ours).map_err(|_| ClientError::NotAllowed)?;
        let code = InvitationCode {
            kind: Kind::Space,
            auth: auth_method,
            role: Some(role),
            id: invitation_id,
            host: host_key,
            expires_at_s: u32::try_from(expires_at.as_millis() / 1000).map_err(|_| ClientError::NotAllowed)?,
        };
        if code.host != NoiseKeypair::from_secret_bytes(secret.noise_secret).public() {
            return Err(ClientError::NotAllowed);
        }
        InvitationHost::delegated(code, *space, guest, use_limit, *delegation_id, secret, limits, rng)
            .map_err(|_| ClientError::NotAllowed)
    }

    /// Ends a delegated invitation everywhere.
    pub fn cancel_delegation(
        &mut self,
        space: &PublicKey,
        delegation: CredentialId,
        now: Timestamp,
    ) -> Result<Credential, ClientError> {
        let membership = self.local(space)?.space.membership();
        let assertion = Assertion::CancelInvitation { space: *space, delegation };
        let credential = self.identity.signer().issue(*space, assertion, now, membership.next_parents());
        self.publish(space, credential)
    }

    /// Inserts credentials another replica sent (replication stands in for issue 4's swarm).
    pub fn receive_credentials(&mut self, space: &PublicKey, credentials: Vec<Credential>) -> Result<(), ClientError> {
        self.local_mut(space)?.space.insert_credentials(credentials);
        Ok(())
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

impl Client {
    /// What a guest admitted to `space` needs: every credential of the space, its role.
    fn grant(&self, space: PublicKey, identity: PublicKey) -> AdmissionGrant {
        let membership = self.space(&space).expect("granting from a space we hold").membership();
        let role = membership.role(&identity).expect("granting to a member");
        let credentials = membership.credentials().cloned().collect();
        AdmissionGrant::Space { space, role, credentials, host_device: self.identity.device_credential().clone() }
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
        admission: Admission<'_>,
        now: Timestamp,
    ) -> Result<AdmissionGrant, Refusal> {
        let membership = self.space(&space).map(|s| s.membership()).ok_or(Refusal::NotAuthorised)?;
        let current = membership.role(&join.identity);
        match admission {
            // A retry returns what was issued: the guest's role and feeds must be there already.
            Admission::Retry => {
                let issued =
                    current.is_some_and(|r| r != Role::Removed) && membership.feed(&join.control_feed).is_some();
                if !issued {
                    return Err(Refusal::NotAuthorised);
                }
                return Ok(self.grant(space, join.identity));
            }
            // A removed identity comes back only through an invitation created after its
            // removal: one whose causal point already shows it Removed (SPEC §7.7.2).
            Admission::New { point } if current == Some(Role::Removed) => {
                let known = membership.role_at_point(&join.identity, point) == Ok(Some(Role::Removed));
                if !known && !active(Mutant::RejoinAfterRemoval) {
                    return Err(Refusal::NotAuthorised);
                }
            }
            // An invitation never changes a member's role: the guest would see another role
            // than its code's and refuse, while the host counted a use (SPEC §7.11, fixed 6).
            Admission::New { .. } if current.is_some_and(|r| r != role) => return Err(Refusal::NotAuthorised),
            Admission::New { .. } => {}
        }
        let already = self.space(&space).is_some_and(|s| s.membership().is_member(&join.identity));
        if let (Some(d), false) = (delegation, already) {
            let state = self.space(&space).and_then(|s| s.membership().delegation(&d)).ok_or(Refusal::NotAuthorised)?;
            if state.cancelled {
                return Err(Refusal::Cancelled);
            }
            if !state.active {
                let used_up = matches!(state.assertion, Assertion::DelegateInvitation { use_limit, .. } if use_limit != 0 && state.uses >= use_limit);
                return Err(if used_up { Refusal::AlreadyUsed } else { Refusal::NotAuthorised });
            }
        }
        // Checked before issuing anything: a refused guest must not become a member.
        let held = self.space(&space).map_or(0, |s| s.membership().len());
        if held + 3 > GRANT_CREDENTIALS_MAX {
            return Err(Refusal::NotAuthorised);
        }
        self.admit(&space, join, role, delegation, now).map_err(|_| Refusal::NotAuthorised)?;
        if !self.space(&space).is_some_and(|s| s.membership().is_member(&join.identity)) {
            return Err(Refusal::NotAuthorised);
        }
        Ok(self.grant(space, join.identity))
    }

    fn admit_device(
        &mut self,
        device: PublicKey,
        noise_key: NoiseKey,
        admission: Admission<'_>,
        now: Timestamp,
    ) -> Result<AdmissionGrant, Refusal> {
        let existing = self.halo.devices().find(|(d, _)| **d == device).map(|(_, c)| c.clone());
        let credential = match existing {
            Some(c) if c.authorized_device().is_some_and(|(_, _, n)| n == noise_key) => c,
            Some(_) => return Err(Refusal::NotAuthorised),
            // A retry signs nothing: the device must have been authorised already.
            None if admission == Admission::Retry => return Err(Refusal::NotAuthorised),
            None => {
                let c = self.identity.authorize_device(device, noise_key, now);
                self.halo.insert(c.clone()).map_err(|_| Refusal::NotAuthorised)?;
                c
            }
        };
        Ok(AdmissionGrant::Device { credential, host_device: self.identity.device_credential().clone() })
    }
}
