//! The client's durable form (SPEC.md §9.5.1): `ClientSnapshot` written by `Client::snapshot`
//! and read back, verified again, by `Client::restore`; and the pieces of it the Peer's log
//! records carry (one space, the keys of a join in progress).

use super::*;

/// Everything a device must keep across restarts: its keys, its spaces (credentials and feed
/// entries; the state is rebuilt from them, verified again), contacts and known devices.
/// A driver stores it after each batch of outputs; what it did not store is lost in a crash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientSnapshot {
    pub version: u8,
    pub identity_secret: Option<[u8; 32]>,
    pub device_secret: [u8; 32],
    pub noise_secret: [u8; 32],
    pub device_credential: Credential,
    pub spaces: Vec<SpaceSnapshot>,
    /// (control, data) feed secrets of joins in progress.
    pub joining: Vec<([u8; 32], [u8; 32])>,
    pub contacts: Vec<PublicKey>,
    pub devices: Vec<Credential>,
    /// Spaces the device left, ascending (SPEC.md §9.8).
    pub left: Vec<PublicKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpaceSnapshot {
    pub key: PublicKey,
    pub space_secret: Option<[u8; 32]>,
    pub control_secret: [u8; 32],
    pub data_secret: [u8; 32],
    pub credentials: Vec<Credential>,
    pub entries: Vec<FeedEntry>,
    /// The lowest proven fork of each forked feed (SPEC.md §5.6): restored before the
    /// entries, so that what a fork cut stays cut.
    pub forks: Vec<crate::feed::Equivocation>,
}

impl Canonical for ClientSnapshot {
    const ENCODED_SIZE_MAX: usize = 1 << 30;

    fn validate(&self) -> Result<(), crate::codec::DecodeError> {
        codec::check_version(self.version)
    }
}

impl Client {
    pub fn snapshot(&self) -> ClientSnapshot {
        let spaces = self.spaces.keys().filter_map(|key| self.space_snapshot(key)).collect();
        ClientSnapshot {
            version: codec::VERSION,
            identity_secret: self.identity.identity_secret().map(Keypair::secret_bytes),
            device_secret: self.identity.device_keypair().secret_bytes(),
            noise_secret: self.identity.noise_keypair().secret_bytes(),
            device_credential: self.identity.device_credential().clone(),
            spaces,
            joining: self.joining.values().map(|(c, d)| (c.secret_bytes(), d.secret_bytes())).collect(),
            contacts: self.contacts.iter().copied().collect(),
            devices: self.halo.devices().map(|(_, c)| c.clone()).collect(),
            left: self.left.iter().copied().collect(),
        }
    }

    /// One space as the snapshot holds it: its keys, credentials and entries.
    pub fn space_snapshot(&self, key: &PublicKey) -> Option<SpaceSnapshot> {
        let l = self.spaces.get(key)?;
        Some(SpaceSnapshot {
            key: *key,
            space_secret: l.space_key.as_ref().map(Keypair::secret_bytes),
            control_secret: l.control.secret_bytes(),
            data_secret: l.data.secret_bytes(),
            credentials: l.space.membership().credentials().cloned().collect(),
            entries: l.space.feeds().flat_map(|f| f.entries().iter().cloned()).collect(),
            forks: l.space.forks().cloned().collect(),
        })
    }

    /// Our own control feed's key in space `key`: a space that comes back under another one
    /// was left and joined again.
    pub fn own_control_feed(&self, key: &PublicKey) -> Option<PublicKey> {
        self.spaces.get(key).map(|l| l.control.public())
    }

    /// The joins in progress: each control feed key with the (control, data) feed secrets.
    pub fn joining_secrets(&self) -> impl Iterator<Item = (PublicKey, ([u8; 32], [u8; 32]))> + '_ {
        self.joining.iter().map(|(k, (c, d))| (*k, (c.secret_bytes(), d.secret_bytes())))
    }

    /// Rebuilds a client from a snapshot, re-verifying every credential and entry.
    pub fn restore(s: ClientSnapshot) -> Result<Self, ClientError> {
        let identity = Identity::from_parts(
            s.identity_secret.map(Keypair::from_secret_bytes),
            Keypair::from_secret_bytes(s.device_secret),
            NoiseKeypair::from_secret_bytes(s.noise_secret),
            s.device_credential,
        )
        .map_err(|_| ClientError::NotAllowed)?;
        let mut client = Client::new(identity);
        for sp in s.spaces {
            let mut space = Space::new(sp.key);
            space.insert_credentials(sp.credentials);
            let control = Keypair::from_secret_bytes(sp.control_secret).public();
            restore_provisional(&mut space, &client.identity.identity_key(), &control);
            for evidence in sp.forks {
                let _ = space.learn_fork(evidence);
            }
            crate::replication::ingest_batch(&mut space, sp.entries);
            // What a cut dropped was carried again before the snapshot was taken.
            let _ = space.take_orphans();
            let local = LocalSpace {
                space,
                space_key: sp.space_secret.map(Keypair::from_secret_bytes),
                control: Keypair::from_secret_bytes(sp.control_secret),
                data: Keypair::from_secret_bytes(sp.data_secret),
            };
            client.spaces.insert(sp.key, local);
        }
        for (c, d) in s.joining {
            let (c, d) = (Keypair::from_secret_bytes(c), Keypair::from_secret_bytes(d));
            client.joining.insert(c.public(), (c, d));
        }
        client.contacts = s.contacts.into_iter().collect();
        for d in s.devices {
            let _ = client.halo.insert(d);
        }
        client.left = s.left.into_iter().collect();
        Ok(client)
    }
}

/// A replica joined through a proof of admission whose grant was still pending when stored is
/// provisional again (SPEC.md §7.7.3): the proof is among the credentials it holds, so it is
/// checked again from them (its host and role as they show them), before the entries are
/// taken, since the proof's feeds are what makes them acceptable.
fn restore_provisional(space: &mut Space, me: &PublicKey, control: &PublicKey) {
    if space.membership().feed(control).is_some() {
        return;
    }
    if let Ok(provisional) = crate::proof::check(space.membership(), None, me, control, None) {
        space.set_provisional(provisional);
    }
}
