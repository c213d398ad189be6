//! A lying host: our honest host state machine (PIN, Noise, PAKE all correct) whose admitter
//! hands the guest a grant other than the one the code promised. A guest MUST refuse each of
//! them (SPEC §7.7.3) and end in `ERROR` (`protocol_violation`), not joined.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_protocol::invitation::Refusal;
use spaces_protocol::invitation::host::{Admission, Admitter};
use spaces_protocol::invitation::wire::AdmissionGrant;
use spaces_protocol::{Assertion, Client, CredentialId, JoinRequest, NoiseKey, PublicKey, Role, Timestamp};

/// What the grant says that the code did not promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    /// The guest is admitted to the host's space, but the grant names another space the host
    /// holds (a grant whose `space` and credentials disagree). A self-consistent grant to
    /// another space is the pinned host's word and cannot be refused (SPEC §7.9).
    OtherSpace,
    /// The guest is admitted as ADMIN; the code says EDITOR. The credentials agree with the
    /// grant's role, so only the comparison with the code catches it.
    OtherRole,
    /// The credentials admit another identity (a stranger's join request), not the guest.
    OtherGuest,
    /// The guest's `SpaceMember` credential carries a signature that does not verify.
    BadSignature,
    /// The guest's `SpaceMember` credential is issued by a READER of the space: a valid
    /// signature by a key without the authority to admit.
    NoAuthority,
}

impl Lie {
    pub fn name(self) -> &'static str {
        match self {
            Lie::OtherSpace => "a grant naming another space",
            Lie::OtherRole => "a grant with another role than the code's",
            Lie::OtherGuest => "a grant admitting another guest",
            Lie::BadSignature => "a grant whose credential has a bad signature",
            Lie::NoAuthority => "a grant whose credential is issued by a reader",
        }
    }
}

/// The host's client, lying as `lie` says.
pub struct LyingAdmitter<'a> {
    pub client: &'a mut Client,
    pub lie: Lie,
    /// Randomness for the keys the lie needs (a second space, a stranger, an accomplice).
    pub seed: [u8; 32],
}

impl Admitter for LyingAdmitter<'_> {
    fn admit_space(
        &mut self,
        space: PublicKey,
        join: &JoinRequest,
        role: Role,
        delegation: Option<CredentialId>,
        admission: Admission<'_>,
        now: Timestamp,
    ) -> Result<AdmissionGrant, Refusal> {
        let mut rng = ChaCha20Rng::from_seed(self.seed);
        let honest =
            |c: &mut Client, join: &JoinRequest, role| c.admit_space(space, join, role, delegation, admission, now);
        match self.lie {
            Lie::OtherSpace => {
                let other = self.client.create_space(&mut rng, now);
                match honest(self.client, join, role)? {
                    AdmissionGrant::Space { role, credentials, host_device, .. } => {
                        Ok(AdmissionGrant::Space { space: other, role, credentials, host_device })
                    }
                    grant => Ok(grant),
                }
            }
            Lie::OtherRole => {
                let lied = if role == Role::Admin { Role::Reader } else { Role::Admin };
                honest(self.client, join, lied)
            }
            Lie::OtherGuest => {
                let mut stranger = Client::create_identity(&mut rng, now);
                let theirs = stranger.join_request(&mut rng);
                match honest(self.client, &theirs, role)? {
                    AdmissionGrant::Space { credentials, host_device, .. } => {
                        Ok(AdmissionGrant::Space { space, role, credentials, host_device })
                    }
                    grant => Ok(grant),
                }
            }
            Lie::BadSignature => match honest(self.client, join, role)? {
                AdmissionGrant::Space { space, role, mut credentials, host_device } => {
                    for c in credentials.iter_mut().filter(|c| member_of(c, &join.identity)) {
                        c.signature.0[0] ^= 0x01;
                    }
                    Ok(AdmissionGrant::Space { space, role, credentials, host_device })
                }
                grant => Ok(grant),
            },
            Lie::NoAuthority => {
                // An accomplice joins as READER (honestly); then it "admits" the guest.
                let mut accomplice = Client::create_identity(&mut rng, now);
                let theirs = accomplice.join_request(&mut rng);
                let AdmissionGrant::Space { host_device, credentials, .. } =
                    honest(self.client, &theirs, Role::Reader)?
                else {
                    return Err(Refusal::ProtocolViolation);
                };
                let mut credentials = credentials;
                let heads = self.client.space(&space).map(|s| s.membership().next_parents()).unwrap_or_default();
                let assertion = Assertion::SpaceMember { space, role, invitation: None, data_frontier: Vec::new() };
                let forged = accomplice.identity().signer().issue(join.identity, assertion, now, heads);
                credentials.push(forged);
                Ok(AdmissionGrant::Space { space, role, credentials, host_device })
            }
        }
    }

    fn admit_device(
        &mut self,
        device: PublicKey,
        noise_key: NoiseKey,
        admission: Admission<'_>,
        now: Timestamp,
    ) -> Result<AdmissionGrant, Refusal> {
        self.client.admit_device(device, noise_key, admission, now)
    }
}

fn member_of(c: &spaces_protocol::Credential, identity: &PublicKey) -> bool {
    matches!(c.assertion(), Assertion::SpaceMember { .. }) && c.subject() == *identity
}
