//! Deterministic builders for tests, benchmarks, vectors and the simulator: a space with its
//! genesis, actors with devices, and credentials issued with explicit parents, so a caller
//! can shape any DAG (concurrent branches included). Pure: randomness is passed in.

use rand_core::{CryptoRng, RngCore};

use crate::credential::{Assertion, Credential, CredentialId, Designation, FeedPosition, Role, Signer};
use crate::feed::FeedEntry;
use crate::identity::Identity;
use crate::item::{Mutation, Op};
use crate::keys::{Keypair, PublicKey};
use crate::time::Timestamp;

pub mod shapes;

/// An identity with one device and, per space, one control and one data feed key.
#[derive(Debug, Clone)]
pub struct Actor {
    pub identity: Identity,
    pub control: Keypair,
    pub data: Keypair,
}

impl Actor {
    pub fn new<R: RngCore + CryptoRng>(rng: &mut R, now: Timestamp) -> Self {
        Actor { identity: Identity::create(rng, now), control: Keypair::generate(rng), data: Keypair::generate(rng) }
    }

    pub fn key(&self) -> PublicKey {
        self.identity.identity_key()
    }

    /// Another device of this actor's identity, linked by this device (its chain is one link
    /// longer), with fresh feed keys.
    pub fn linked_device<R: RngCore + CryptoRng>(&self, rng: &mut R, now: Timestamp) -> Self {
        let (device, noise) = Identity::new_device_keys(rng);
        let credential = self.identity.authorize_device(device.public(), noise.public(), now);
        let identity = Identity::from_authorization(device, noise, credential).expect("issued for these keys");
        Actor { identity, control: Keypair::generate(rng), data: Keypair::generate(rng) }
    }

    /// A signed data-feed entry with the given ops at `seq`, linked to `prev`.
    pub fn data_entry(
        &self,
        seq: u64,
        prev: Option<crate::feed::EntryHash>,
        control: Vec<CredentialId>,
        lamport: u64,
        ops: Vec<Op>,
    ) -> FeedEntry {
        let mut control = control;
        control.sort();
        control.dedup();
        let m = Mutation { version: crate::codec::VERSION, control, lamport, ops };
        FeedEntry::sign(&self.data, seq, prev, crate::codec::Canonical::to_bytes(&m))
    }
}

/// A space under construction: its key, its owner, and its genesis credentials.
#[derive(Debug, Clone)]
pub struct SpaceFixture {
    pub space_key: Keypair,
    pub owner: Actor,
    /// SpaceGenesis, the owner's grant, the owner's control and data feed admissions.
    pub genesis: Vec<Credential>,
    pub now: Timestamp,
}

impl SpaceFixture {
    pub fn new<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let now = Timestamp::from_millis(1_700_000_000_000);
        let space_key = Keypair::generate(rng);
        let owner = Actor::new(rng, now);
        let space = space_key.public();
        let by_space = Signer::direct(&space_key);
        let genesis = by_space.issue(space, Assertion::SpaceGenesis { space }, now, Vec::new());
        let grant = by_space.issue(
            owner.key(),
            Assertion::SpaceMember { space, role: Role::Owner, invitation: None, data_frontier: Vec::new() },
            now,
            vec![genesis.id()],
        );
        let mut fixture = SpaceFixture { space_key, owner, genesis: vec![genesis, grant], now };
        let owner = fixture.owner.clone();
        let feeds = fixture.admit_feeds(&owner, &owner, vec![fixture.genesis[1].id()]);
        fixture.genesis.extend(feeds);
        fixture
    }

    pub fn space(&self) -> PublicKey {
        self.space_key.public()
    }

    /// The id of the last genesis credential: the parent of the first real change.
    pub fn tip(&self) -> CredentialId {
        self.genesis.last().expect("genesis is never empty").id()
    }

    /// `by` sets `subject`'s role, citing `parents`.
    pub fn grant(&self, by: &Actor, subject: PublicKey, role: Role, parents: Vec<CredentialId>) -> Credential {
        self.grant_with_frontier(by, subject, role, parents, Vec::new())
    }

    pub fn grant_with_frontier(
        &self,
        by: &Actor,
        subject: PublicKey,
        role: Role,
        parents: Vec<CredentialId>,
        data_frontier: Vec<FeedPosition>,
    ) -> Credential {
        let assertion = Assertion::SpaceMember { space: self.space(), role, invitation: None, data_frontier };
        by.identity.signer().issue(subject, assertion, self.now, parents)
    }

    /// The space key sets a role (the only way to assign or remove OWNER).
    pub fn grant_by_space_key(&self, subject: PublicKey, role: Role, parents: Vec<CredentialId>) -> Credential {
        let assertion =
            Assertion::SpaceMember { space: self.space(), role, invitation: None, data_frontier: Vec::new() };
        Signer::direct(&self.space_key).issue(subject, assertion, self.now, parents)
    }

    /// `by` admits `member`'s control and data feeds: two credentials, the second after the first.
    pub fn admit_feeds(&self, by: &Actor, member: &Actor, parents: Vec<CredentialId>) -> Vec<Credential> {
        let admit = |feed: PublicKey, designation, parents| {
            let assertion = Assertion::AdmittedFeed {
                space: self.space(),
                identity: member.key(),
                device: member.identity.device_key(),
                noise_key: member.identity.noise_key(),
                designation,
            };
            by.identity.signer().issue(feed, assertion, self.now, parents)
        };
        let control = admit(member.control.public(), Designation::Control, parents);
        let data = admit(member.data.public(), Designation::Data, vec![control.id()]);
        vec![control, data]
    }

    /// `by` (a device of the identity) removes the identity's device `device` from the space.
    pub fn remove_device(
        &self,
        by: &Actor,
        device: PublicKey,
        parents: Vec<CredentialId>,
        data_frontier: Vec<FeedPosition>,
    ) -> Credential {
        let assertion = Assertion::RemovedDevice { space: self.space(), device, data_frontier };
        by.identity.signer().issue(device, assertion, self.now, parents)
    }

    /// A new member admitted by `by` with `role`, after `parents`: grant then feed admissions.
    pub fn admit<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        by: &Actor,
        role: Role,
        parents: Vec<CredentialId>,
    ) -> (Actor, Vec<Credential>) {
        let member = Actor::new(rng, self.now);
        let grant = self.grant(by, member.key(), role, parents);
        let mut creds = vec![grant.clone()];
        creds.extend(self.admit_feeds(by, &member, vec![grant.id()]));
        (member, creds)
    }
}
