//! Identities and devices (HALO). A user's identity key vouches for each of their devices
//! with an `AuthorizedDevice` credential; devices then sign for the identity, presenting that
//! credential as their chain. The identity secret stays on the device that created it.

use std::collections::BTreeMap;

use rand_core::{CryptoRng, RngCore};

use crate::credential::{Assertion, Credential, CredentialError, Signer};
use crate::keys::{Keypair, NoiseKey, NoiseKeypair, PublicKey};
use crate::time::Timestamp;

/// A device's keys and its proof of belonging to an identity.
#[derive(Debug, Clone)]
pub struct Identity {
    identity_key: PublicKey,
    /// Present only on the device that created the identity.
    identity_secret: Option<Keypair>,
    device: Keypair,
    noise: NoiseKeypair,
    device_credential: Credential,
}

/// Why a device credential was not accepted for an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceError {
    Invalid(CredentialError),
    /// Not an AuthorizedDevice, or for another identity or device.
    NotForThisDevice,
}

impl Identity {
    /// A new identity with its first device.
    pub fn create<R: RngCore + CryptoRng>(rng: &mut R, now: Timestamp) -> Self {
        let identity = Keypair::generate(rng);
        let device = Keypair::generate(rng);
        let noise = NoiseKeypair::generate(rng);
        let assertion = Assertion::AuthorizedDevice {
            identity: identity.public(),
            device: device.public(),
            noise_key: noise.public(),
        };
        let device_credential = Signer::direct(&identity).issue(device.public(), assertion, now, Vec::new());
        Identity { identity_key: identity.public(), identity_secret: Some(identity), device, noise, device_credential }
    }

    /// Rebuilds an identity from durable storage (see `Client::snapshot`).
    pub fn from_parts(
        identity_secret: Option<Keypair>,
        device: Keypair,
        noise: NoiseKeypair,
        device_credential: Credential,
    ) -> Result<Self, DeviceError> {
        device_credential.verify().map_err(DeviceError::Invalid)?;
        let Some((identity, dev, nk)) = device_credential.authorized_device() else {
            return Err(DeviceError::NotForThisDevice);
        };
        let secret_ok = identity_secret.as_ref().is_none_or(|s| s.public() == identity);
        if dev != device.public() || nk != noise.public() || !secret_ok {
            return Err(DeviceError::NotForThisDevice);
        }
        Ok(Identity { identity_key: identity, identity_secret, device, noise, device_credential })
    }

    pub fn identity_secret(&self) -> Option<&Keypair> {
        self.identity_secret.as_ref()
    }

    /// Keys for a device that is about to be linked to an existing identity.
    pub fn new_device_keys<R: RngCore + CryptoRng>(rng: &mut R) -> (Keypair, NoiseKeypair) {
        (Keypair::generate(rng), NoiseKeypair::generate(rng))
    }

    /// Completes device linking on the new device, given the credential an existing device
    /// issued for it.
    pub fn from_authorization(
        device: Keypair,
        noise: NoiseKeypair,
        credential: Credential,
    ) -> Result<Self, DeviceError> {
        credential.verify().map_err(DeviceError::Invalid)?;
        let Some((identity, dev, nk)) = credential.authorized_device() else {
            return Err(DeviceError::NotForThisDevice);
        };
        if dev != device.public() || nk != noise.public() {
            return Err(DeviceError::NotForThisDevice);
        }
        Ok(Identity { identity_key: identity, identity_secret: None, device, noise, device_credential: credential })
    }

    /// Issues an AuthorizedDevice for another device, signed by this device with its chain.
    pub fn authorize_device(&self, device: PublicKey, noise_key: NoiseKey, now: Timestamp) -> Credential {
        let assertion = Assertion::AuthorizedDevice { identity: self.identity_key, device, noise_key };
        self.signer().issue(device, assertion, now, Vec::new())
    }

    /// Signs as the identity through this device.
    pub fn signer(&self) -> Signer<'_> {
        Signer::device(&self.device, &self.device_credential)
    }

    pub fn identity_key(&self) -> PublicKey {
        self.identity_key
    }

    pub fn device_key(&self) -> PublicKey {
        self.device.public()
    }

    pub fn noise_key(&self) -> NoiseKey {
        self.noise.public()
    }

    pub fn device_keypair(&self) -> &Keypair {
        &self.device
    }

    pub fn noise_keypair(&self) -> &NoiseKeypair {
        &self.noise
    }

    pub fn device_credential(&self) -> &Credential {
        &self.device_credential
    }

    pub fn holds_identity_secret(&self) -> bool {
        self.identity_secret.is_some()
    }
}

/// An identity's HALO discovery topic: its devices meet there to replicate their HALO (SPEC.md
/// §9.8); the server learns only the hash.
pub fn halo_topic(identity: &PublicKey) -> crate::hash::Digest {
    crate::hash::hash_tagged(crate::hash::domain::HALO_TOPIC, &identity.0)
}

/// The devices of one identity, as its HALO knows them.
#[derive(Debug, Clone)]
pub struct Halo {
    identity: PublicKey,
    devices: BTreeMap<PublicKey, Credential>,
}

impl Halo {
    pub fn new(identity: PublicKey) -> Self {
        Halo { identity, devices: BTreeMap::new() }
    }

    /// Accepts a verified AuthorizedDevice of this identity (idempotent).
    pub fn insert(&mut self, credential: Credential) -> Result<bool, DeviceError> {
        credential.verify().map_err(DeviceError::Invalid)?;
        match credential.authorized_device() {
            Some((identity, device, _)) if identity == self.identity => {
                Ok(self.devices.insert(device, credential).is_none())
            }
            _ => Err(DeviceError::NotForThisDevice),
        }
    }

    pub fn devices(&self) -> impl Iterator<Item = (&PublicKey, &Credential)> {
        self.devices.iter()
    }

    pub fn contains(&self, device: &PublicKey) -> bool {
        self.devices.contains_key(device)
    }
}
