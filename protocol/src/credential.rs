//! Credentials: signed statements that make up a space's membership and an identity's devices.
//!
//! A credential's signature covers a domain tag carrying the protocol version, then the
//! canonical encoding of its body, whose first field is the version and whose assertion is
//! encoded with its type's discriminant. So the signature covers the type and the version
//! (DXOS leaves the type out). The id is the SHA-256 of exactly those signed bytes.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::codec::{self, Canonical, DecodeError, strictly_ascending};
use crate::hash::{Digest, domain, sha256, tagged};
use crate::keys::{Keypair, NoiseKey, PublicKey, Signature, SignatureError};
use crate::mutants::{Mutant, active};
use crate::time::Timestamp;

mod shape;
use shape::check_body;

/// A credential names at most this many parents. Heads beyond this are an attack or a
/// pathological partition; the issuer merges them in several steps instead.
pub const PARENTS_MAX: usize = 64;
/// Device chains (device authorised by device authorised by identity…) are this deep at most.
pub const CHAIN_DEPTH_MAX: usize = 4;
/// A removal names at most this many feed positions of the removed member.
pub const FRONTIER_MAX: usize = 64;

/// Content address of a credential: SHA-256 of its signed bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct CredentialId(pub Digest);

impl fmt::Debug for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cred:{:?}", self.0)
    }
}

impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A member's role. Wire values are the variant indices 0..=4 in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// The creator: an admin whom only the space key can demote or remove.
    Owner,
    /// Admits members, changes roles, admits feeds, delegates invitations.
    Admin,
    /// Writes items.
    Editor,
    /// Reads items only.
    Reader,
    /// No longer a member. Re-admission takes a new credential.
    Removed,
}

impl Role {
    /// The role's name as SPEC, the vectors, the driver protocol and the CLI write it.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Reader => "reader",
            Role::Removed => "removed",
        }
    }

    /// Privilege order: Removed < Reader < Editor < Admin < Owner. Used when concurrent role
    /// assignments must be merged (the least privileged wins).
    pub fn rank(self) -> u8 {
        match self {
            Role::Removed => 0,
            Role::Reader => 1,
            Role::Editor => 2,
            Role::Admin => 3,
            Role::Owner => 4,
        }
    }

    pub fn can_manage_members(self) -> bool {
        self.rank() >= Role::Admin.rank()
    }

    pub fn can_write(self) -> bool {
        self.rank() >= Role::Editor.rank()
    }

    pub fn is_member(self) -> bool {
        self != Role::Removed
    }

    pub const ALL: [Role; 5] = [Role::Owner, Role::Admin, Role::Editor, Role::Reader, Role::Removed];

    /// The role with this wire name (`name`'s inverse): how every tool reads a role.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// What a feed carries: credentials (control) or item mutations (data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Designation {
    Control,
    Data,
}

/// How a guest proves it may use an invitation (SPEC.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AuthMethod {
    None,
    Pin,
    Key,
}

impl AuthMethod {
    /// The method's name as SPEC, the vectors and the driver protocol write it.
    pub const fn name(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::Pin => "pin",
            AuthMethod::Key => "key",
        }
    }
}

/// How much of a feed an issuer had seen: entries with `seq < length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FeedPosition {
    pub feed: PublicKey,
    pub length: u64,
}

/// One host's sealed part of a delegated invitation (HPKE to the host device's Noise key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedShare {
    pub recipient: NoiseKey,
    pub encapsulated: [u8; 32],
    pub ciphertext: Vec<u8>,
}

/// What a credential states. Wire discriminants are the variant indices in this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Assertion {
    /// Creates the space. Issuer, subject and signer are all the space key.
    SpaceGenesis { space: PublicKey },
    /// Sets the subject identity's role. `data_frontier` lists the subject's data feeds as far
    /// as the issuer had seen them; when the role takes write access away, later entries are
    /// void (strong removal, SPEC.md §4.5).
    SpaceMember { space: PublicKey, role: Role, invitation: Option<CredentialId>, data_frontier: Vec<FeedPosition> },
    /// Admits the subject feed key as a feed of `identity`'s `device` in the space, and
    /// records the device's Noise key, by which other members recognise it on connections.
    AdmittedFeed {
        space: PublicKey,
        identity: PublicKey,
        device: PublicKey,
        noise_key: NoiseKey,
        designation: Designation,
    },
    /// Binds the subject device (and its Noise key) to the issuer identity (HALO).
    AuthorizedDevice { identity: PublicKey, device: PublicKey, noise_key: NoiseKey },
    /// Lets admin devices host an invitation while its creator is offline. `host_key` is the
    /// Noise key the code pins; its secret, the PIN and each host's share of the attempt budget
    /// are sealed to the hosts (SPEC.md §7.8).
    DelegateInvitation {
        space: PublicKey,
        invitation_id: [u8; 16],
        auth_method: AuthMethod,
        role: Role,
        expires_at: Timestamp,
        /// 0 means unlimited.
        use_limit: u32,
        guest: Option<PublicKey>,
        host_key: NoiseKey,
        shares: Vec<SealedShare>,
    },
    /// Ends a delegated invitation everywhere.
    CancelInvitation { space: PublicKey, delegation: CredentialId },
    /// Removes the issuer identity's `device` (the subject) from the space: what the device
    /// signed, or admitted for it, that the removal does not descend from is void, and so are
    /// its data entries beyond `data_frontier` (SPEC.md §4.5, §6.4). A lost device keeps its
    /// keys, so its identity must be able to disown it without removing itself.
    RemovedDevice { space: PublicKey, device: PublicKey, data_frontier: Vec<FeedPosition> },
}

impl Assertion {
    /// The space this assertion belongs to, if any (AuthorizedDevice belongs to an identity).
    pub fn space(&self) -> Option<PublicKey> {
        match self {
            Assertion::SpaceGenesis { space }
            | Assertion::SpaceMember { space, .. }
            | Assertion::AdmittedFeed { space, .. }
            | Assertion::DelegateInvitation { space, .. }
            | Assertion::CancelInvitation { space, .. }
            | Assertion::RemovedDevice { space, .. } => Some(*space),
            Assertion::AuthorizedDevice { .. } => None,
        }
    }

    /// A short stable name for logs, errors and vectors.
    pub fn type_name(&self) -> &'static str {
        match self {
            Assertion::SpaceGenesis { .. } => "SpaceGenesis",
            Assertion::SpaceMember { .. } => "SpaceMember",
            Assertion::AdmittedFeed { .. } => "AdmittedFeed",
            Assertion::AuthorizedDevice { .. } => "AuthorizedDevice",
            Assertion::DelegateInvitation { .. } => "DelegateInvitation",
            Assertion::CancelInvitation { .. } => "CancelInvitation",
            Assertion::RemovedDevice { .. } => "RemovedDevice",
        }
    }
}

/// The signed part of a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialBody {
    pub version: u8,
    pub issuer: PublicKey,
    pub subject: PublicKey,
    pub issued_at: Timestamp,
    /// The heads of the credential DAG the issuer had seen: strictly ascending, canonical.
    pub parents: Vec<CredentialId>,
    pub assertion: Assertion,
    /// The key that signed: the issuer itself, or a device acting for it (then `chain`).
    pub signer: PublicKey,
}

/// A signed credential, with the device chain when a device signed for an identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub body: CredentialBody,
    pub signature: Signature,
    pub chain: Option<Box<Credential>>,
}

/// Why a credential was refused before it reached any state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialError {
    UnsupportedVersion {
        found: u8,
    },
    /// Parents not strictly ascending, or more than `PARENTS_MAX`.
    BadParents,
    /// The fields contradict the assertion type (the message says which rule).
    BadShape(&'static str),
    BadSignature(SignatureError),
    /// Signed by a key other than the issuer, without a device chain.
    MissingChain,
    /// Signed by the issuer itself, yet carrying a chain.
    UnexpectedChain,
    /// The chain is not an AuthorizedDevice from the issuer to the signer.
    ChainMismatch,
    ChainTooDeep,
    /// The chain credential itself failed; boxed reason.
    BadChain(Box<CredentialError>),
    /// A space credential for a different space.
    WrongSpace,
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialError::UnsupportedVersion { found } => {
                write!(f, "unsupported credential version {found}")
            }
            CredentialError::BadParents => f.write_str("parents must be strictly ascending and at most 64"),
            CredentialError::BadShape(why) => write!(f, "malformed credential: {why}"),
            CredentialError::BadSignature(e) => write!(f, "bad signature: {e}"),
            CredentialError::MissingChain => f.write_str("signer is not the issuer and no device chain is given"),
            CredentialError::UnexpectedChain => f.write_str("signer is the issuer but a chain is given"),
            CredentialError::ChainMismatch => f.write_str("chain does not authorise the signer for the issuer"),
            CredentialError::ChainTooDeep => f.write_str("device chain deeper than 4"),
            CredentialError::BadChain(e) => write!(f, "device chain invalid: {e}"),
            CredentialError::WrongSpace => f.write_str("credential belongs to another space"),
        }
    }
}

impl std::error::Error for CredentialError {}

impl Canonical for Credential {
    const ENCODED_SIZE_MAX: usize = 16 * 1024;

    fn validate(&self) -> Result<(), DecodeError> {
        let mut cursor = Some(self);
        let mut depth = 0;
        while let Some(c) = cursor {
            codec::check_version(c.body.version)?;
            if !strictly_ascending(&c.body.parents) || c.body.parents.len() > PARENTS_MAX {
                return Err(DecodeError::Invalid("credential parents must be a sorted set of at most 64"));
            }
            depth += 1;
            if depth > CHAIN_DEPTH_MAX + 1 {
                return Err(DecodeError::Invalid("device chain too deep"));
            }
            cursor = c.chain.as_deref();
        }
        Ok(())
    }
}

impl CredentialBody {
    /// The exact bytes the signature covers and the id hashes.
    pub fn signing_input(&self) -> Vec<u8> {
        tagged(domain::CREDENTIAL, &postcard::to_allocvec(self).expect("bodies always serialize"))
    }
}

impl Credential {
    pub fn id(&self) -> CredentialId {
        CredentialId(sha256(&self.body.signing_input()))
    }

    pub fn issuer(&self) -> PublicKey {
        self.body.issuer
    }

    pub fn subject(&self) -> PublicKey {
        self.body.subject
    }

    pub fn assertion(&self) -> &Assertion {
        &self.body.assertion
    }

    pub fn parents(&self) -> &[CredentialId] {
        &self.body.parents
    }

    /// Stateless verification: version, shape, signature (`verify_strict`) and device chain.
    /// Whether the issuer had the *right* to say this is for the state machine to decide.
    pub fn verify(&self) -> Result<CredentialId, CredentialError> {
        let id = self.verify_at_depth(0, Signatures::Check)?;
        Ok(id.expect("a check of signatures hashes the signing input"))
    }

    /// Every check of [`Credential::verify`] but the signatures (its own and its chain's):
    /// for a credential this device's `Signer` issued a moment ago, whose signatures are right
    /// by construction (our keys made them). Verifying them again cost a host three
    /// `verify_strict` per admission (issue 14); the structural checks stay, so what is
    /// stored is exactly what a full verification would have let through.
    pub(crate) fn check_issued(&self) -> Result<(), CredentialError> {
        self.verify_at_depth(0, Signatures::Trusted).map(|_| ())
    }

    /// The id too, when the signatures are checked (their input is the id's); trusting them,
    /// nothing needs the signing input.
    fn verify_at_depth(&self, depth: usize, signatures: Signatures) -> Result<Option<CredentialId>, CredentialError> {
        if depth > CHAIN_DEPTH_MAX {
            return Err(CredentialError::ChainTooDeep);
        }
        let body = &self.body;
        check_body(body)?;
        let id = match signatures {
            Signatures::Check => {
                let input = body.signing_input();
                if !active(Mutant::SkipSignatureCheck) {
                    body.signer.verify(&input, &self.signature).map_err(CredentialError::BadSignature)?;
                }
                Some(CredentialId(sha256(&input)))
            }
            Signatures::Trusted => None,
        };
        self.verify_chain(depth, signatures)?;
        Ok(id)
    }

    fn verify_chain(&self, depth: usize, signatures: Signatures) -> Result<(), CredentialError> {
        let body = &self.body;
        match (&self.chain, body.signer == body.issuer) {
            (None, true) => Ok(()),
            (Some(_), true) => Err(CredentialError::UnexpectedChain),
            (None, false) => Err(CredentialError::MissingChain),
            (Some(chain), false) => {
                let authorises = matches!(
                    chain.body.assertion,
                    Assertion::AuthorizedDevice { identity, device, .. }
                        if identity == body.issuer && device == body.signer
                );
                if !authorises {
                    return Err(CredentialError::ChainMismatch);
                }
                chain.verify_at_depth(depth + 1, signatures).map(|_| ()).map_err(|e| match e {
                    CredentialError::ChainTooDeep => CredentialError::ChainTooDeep,
                    other => CredentialError::BadChain(Box::new(other)),
                })
            }
        }
    }

    /// [`Credential::verify`], with what this replica already checked remembered in `cache`:
    /// the same answer for every credential, whatever the cache holds (issue 11: a rebuild
    /// verified the same few device chains again for every credential, two `verify_strict`
    /// each, and decompressed the same signer keys again).
    pub fn verify_cached(&self, cache: &mut VerifyCache) -> Result<CredentialId, CredentialError> {
        let body = &self.body;
        check_body(body)?;
        let input = body.signing_input();
        if !active(Mutant::SkipSignatureCheck) {
            let key = cache.key(&body.signer).map_err(CredentialError::BadSignature)?;
            key.verify(&input, &self.signature).map_err(CredentialError::BadSignature)?;
        }
        match &self.chain {
            Some(chain) if body.signer != body.issuer => {
                let authorises = matches!(
                    chain.body.assertion,
                    Assertion::AuthorizedDevice { identity, device, .. }
                        if identity == body.issuer && device == body.signer
                );
                let digest = sha256(&chain.to_bytes());
                if !(authorises && cache.chains.contains(&digest)) {
                    self.verify_chain(0, Signatures::Check)?;
                    cache.remember_chain(digest);
                }
            }
            _ => self.verify_chain(0, Signatures::Check)?,
        }
        Ok(CredentialId(sha256(&input)))
    }

    /// The identity a device chain proves for its device, if this is such a credential.
    pub fn authorized_device(&self) -> Option<(PublicKey, PublicKey, NoiseKey)> {
        match self.body.assertion {
            Assertion::AuthorizedDevice { identity, device, noise_key } => Some((identity, device, noise_key)),
            _ => None,
        }
    }
}

/// Whether a verification checks signatures, or trusts them because our own keys made them
/// (`Credential::check_issued`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signatures {
    Check,
    Trusted,
}

/// Bound on the device chains and on the signer keys a [`VerifyCache`] remembers: a remote
/// party can send a fresh chain with every credential. Full, the cache starts over; it changes
/// no outcome, only how often a chain is checked again.
pub const VERIFY_CACHE_MAX: usize = 1 << 16;

/// What one replica has already verified, so each device chain is checked once and each
/// signer key decompressed once (`Credential::verify_cached`).
#[derive(Debug, Clone, Default)]
pub struct VerifyCache {
    /// SHA-256 of the whole encoding (body, signature, nested chain) of device chains that
    /// verified as a credential's direct chain. The signature is in the hash: a chain with a
    /// valid body but other signature bytes is checked again, and refused as a replica without
    /// the cache would refuse it.
    chains: std::collections::BTreeSet<Digest>,
    keys: std::collections::BTreeMap<PublicKey, crate::keys::PreparedKey>,
}

impl VerifyCache {
    fn key(&mut self, key: &PublicKey) -> Result<&crate::keys::PreparedKey, SignatureError> {
        if !self.keys.contains_key(key) {
            let prepared = key.prepare()?;
            if self.keys.len() >= VERIFY_CACHE_MAX {
                self.keys.clear();
            }
            self.keys.insert(*key, prepared);
        }
        Ok(&self.keys[key])
    }

    fn remember_chain(&mut self, digest: Digest) {
        if self.chains.len() >= VERIFY_CACHE_MAX {
            self.chains.clear();
        }
        self.chains.insert(digest);
    }

    /// Whether `chain` verified as the direct device chain of a credential checked with this
    /// cache: then `chain.verify()` passes too (it passed the same checks one level deeper).
    pub fn verified_chain(&self, chain: &Credential) -> bool {
        self.chains.contains(&sha256(&chain.to_bytes()))
    }

    /// Device chains remembered.
    pub fn chains(&self) -> usize {
        self.chains.len()
    }
}

/// Who signs: an issuer key directly, or a device with its chain to the issuer identity.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    pub issuer: PublicKey,
    pub key: &'a Keypair,
    pub chain: Option<&'a Credential>,
}

impl<'a> Signer<'a> {
    /// Signs as the key itself (space key at genesis, identity key for its first device).
    pub fn direct(key: &'a Keypair) -> Self {
        Signer { issuer: key.public(), key, chain: None }
    }

    /// Signs as `chain`'s identity with the device key `key`.
    pub fn device(key: &'a Keypair, chain: &'a Credential) -> Self {
        let (identity, device, _) = chain.authorized_device().expect("a device chain is an AuthorizedDevice");
        assert_eq!(device, key.public(), "the chain must authorise this device key");
        Signer { issuer: identity, key, chain: Some(chain) }
    }

    /// Issues a credential. Parents are sorted and deduplicated here so every issued
    /// credential is canonical.
    pub fn issue(
        &self,
        subject: PublicKey,
        assertion: Assertion,
        issued_at: Timestamp,
        mut parents: Vec<CredentialId>,
    ) -> Credential {
        parents.sort();
        parents.dedup();
        let body = CredentialBody {
            version: codec::VERSION,
            issuer: self.issuer,
            subject,
            issued_at,
            parents,
            assertion,
            signer: self.key.public(),
        };
        let signature = self.key.sign(&body.signing_input());
        Credential { body, signature, chain: self.chain.map(|c| Box::new(c.clone())) }
    }
}
