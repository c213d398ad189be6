//! Frames and messages of the invitation protocol (SPEC.md §7.3). Every frame starts with
//! the version; every decoder is the strict canonical one of `codec`.

use serde::{Deserialize, Serialize};

use super::Refusal;
use super::handshake::HandshakeHash;
use crate::codec::{self, Canonical, DecodeError};
use crate::credential::{Credential, Role};
use crate::hash::{Digest, tagged};
use crate::keys::{Keypair, NoiseKey, PublicKey, Signature};

/// No frame is longer: a host never sends a grant whose message would be (SPEC.md §7.3.5).
pub const FRAME_SIZE_MAX: usize = 1024 * 1024;
/// Credentials a whole grant carries at most: 1024 credentials of at most ~900 bytes (with
/// device chain) stay under `FRAME_SIZE_MAX`. A space holding more sends a proof of admission
/// instead (`crate::proof`, SPEC.md §7.3.3), so any space size can admit a guest.
pub const GRANT_CREDENTIALS_MAX: usize = 1024;

const ADMISSION_DOMAIN: &str = "spaces/1 admission-request";

/// What travels on an invitation connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    pub version: u8,
    pub body: FrameBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FrameBody {
    /// Guest → host: the rendezvous topic in clear (the host needs it to pick the invitation
    /// and its prologue) and Noise message 1.
    Hello { topic: Digest, noise: Vec<u8> },
    /// Noise messages 2 (host → guest) and 3 (guest → host).
    Handshake { noise: Vec<u8> },
    /// A `Message`, encrypted as one or more Noise transport messages.
    Sealed { chunks: Vec<Vec<u8>> },
    /// Host → guest, before the handshake completes: unauthenticated, so a guest treats it
    /// as a failed connection, never as an outcome.
    Reject { refusal: Refusal },
}

impl Canonical for Frame {
    const ENCODED_SIZE_MAX: usize = FRAME_SIZE_MAX + 1024;

    fn validate(&self) -> Result<(), DecodeError> {
        codec::check_version(self.version)
    }
}

impl Frame {
    pub fn new(body: FrameBody) -> Self {
        Frame { version: codec::VERSION, body }
    }
}

/// The sealed messages, after the handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Guest → host: SPAKE2 message A of run `run`.
    PakeStart {
        run: u8,
        pake: Vec<u8>,
    },
    /// Host → guest: SPAKE2 message B (sent only after the attempt is charged and persisted).
    PakeReply {
        run: u8,
        pake: Vec<u8>,
    },
    /// Guest → host: key confirmation and the admission request, together.
    Confirm {
        run: u8,
        mac: [u8; 32],
        request: AdmissionRequest,
    },
    /// Guest → host, for methods NONE and KEY: the admission request.
    Request {
        request: AdmissionRequest,
    },
    /// Host → guest: the host's key confirmation (PIN method) and the grant.
    Admitted {
        mac: Option<[u8; 32]>,
        grant: AdmissionGrant,
    },
    Refused {
        refusal: Refusal,
        attempts_left: u8,
    },
}

impl Canonical for Message {
    const ENCODED_SIZE_MAX: usize = FRAME_SIZE_MAX;
}

/// Who the guest is, signed by its device key over the handshake hash (so it cannot be
/// replayed into another session) and matched against the Noise static key it used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdmissionRequest {
    Space { join: JoinRequest, signature: Signature },
    Device { device: PublicKey, noise_key: NoiseKey, signature: Signature },
}

#[derive(Serialize)]
enum RequestBody<'a> {
    Space(&'a JoinRequest),
    Device(&'a PublicKey, &'a NoiseKey),
}

/// Domain of `AdmissionRequest::digest`, kept in the host's record.
pub const REQUEST_DIGEST_DOMAIN: &str = "spaces/1 admission-request-digest";

fn signing_input(h: &HandshakeHash, body: &RequestBody<'_>) -> Vec<u8> {
    let mut bytes = h.to_vec();
    bytes.extend(postcard::to_allocvec(body).expect("request bodies serialize"));
    tagged(ADMISSION_DOMAIN, &bytes)
}

/// Why a request was refused before admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// The device signature or device credential does not verify.
    BadProof,
    /// The Noise key of the session is not the device's.
    KeyMismatch,
}

impl AdmissionRequest {
    pub fn space(join: JoinRequest, device: &Keypair, h: &HandshakeHash) -> Self {
        let signature = device.sign(&signing_input(h, &RequestBody::Space(&join)));
        AdmissionRequest::Space { join, signature }
    }

    pub fn device(device: &Keypair, noise_key: NoiseKey, h: &HandshakeHash) -> Self {
        let key = device.public();
        let signature = device.sign(&signing_input(h, &RequestBody::Device(&key, &noise_key)));
        AdmissionRequest::Device { device: key, noise_key, signature }
    }

    /// What this request asks for, without the session-bound signature: a retry of the same
    /// request (same identity, device and feed keys) has the same digest on any connection, a
    /// new join (new feed keys) has another.
    pub fn digest(&self) -> crate::hash::Digest {
        let body = match self {
            AdmissionRequest::Space { join, .. } => RequestBody::Space(join),
            AdmissionRequest::Device { device, noise_key, .. } => RequestBody::Device(device, noise_key),
        };
        let bytes = postcard::to_allocvec(&body).expect("request bodies serialize");
        crate::hash::hash_tagged(REQUEST_DIGEST_DOMAIN, &bytes)
    }

    /// The key the invitation is for: the identity (SPACE) or the new device (DEVICE).
    pub fn guest_key(&self) -> PublicKey {
        match self {
            AdmissionRequest::Space { join, .. } => join.identity,
            AdmissionRequest::Device { device, .. } => *device,
        }
    }

    /// Checks the proof against this session: signature over `h`, device chain, and that
    /// `remote` (the Noise static key the guest used) belongs to the signing device.
    pub fn verify(&self, h: &HandshakeHash, remote: &NoiseKey) -> Result<(), RequestError> {
        match self {
            AdmissionRequest::Space { join, signature } => {
                join.device_credential.verify().map_err(|_| RequestError::BadProof)?;
                let Some((identity, device, noise)) = join.device_credential.authorized_device() else {
                    return Err(RequestError::BadProof);
                };
                if identity != join.identity || device != join.device {
                    return Err(RequestError::BadProof);
                }
                if noise != *remote {
                    return Err(RequestError::KeyMismatch);
                }
                join.device
                    .verify(&signing_input(h, &RequestBody::Space(join)), signature)
                    .map_err(|_| RequestError::BadProof)
            }
            AdmissionRequest::Device { device, noise_key, signature } => {
                if noise_key != remote {
                    return Err(RequestError::KeyMismatch);
                }
                device
                    .verify(&signing_input(h, &RequestBody::Device(device, noise_key)), signature)
                    .map_err(|_| RequestError::BadProof)
            }
        }
    }
}

/// What the host gives an admitted guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdmissionGrant {
    /// The space's credentials (including the guest's new ones), or for a space too large for
    /// one grant a proof of admission (SPEC.md §7.3.3; the guest tells them apart by resolving
    /// them), and the host device's own AuthorizedDevice credential, so the guest can record
    /// the host as a contact.
    Space { space: PublicKey, role: Role, credentials: Vec<Credential>, host_device: Credential },
    /// The new device's AuthorizedDevice credential.
    Device { credential: Credential, host_device: Credential },
}

impl AdmissionGrant {
    /// The host's identity, from its (verified) device credential.
    pub fn host_identity(&self) -> Option<PublicKey> {
        self.host_identity_verified(None)
    }

    /// `host_identity`, where `membership` (the guest's, built from this grant) may already
    /// have verified the host's device credential, as the chain of the credentials the host
    /// signed: then it is not verified again (issue 14). The same answer either way.
    pub fn host_identity_verified(&self, membership: Option<&crate::membership::Membership>) -> Option<PublicKey> {
        let host_device = match self {
            AdmissionGrant::Space { host_device, .. } | AdmissionGrant::Device { host_device, .. } => host_device,
        };
        if !membership.is_some_and(|m| m.verified_chain(host_device)) {
            host_device.verify().ok()?;
        }
        host_device.authorized_device().map(|(identity, _, _)| identity)
    }
}

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
