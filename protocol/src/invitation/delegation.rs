//! Delegated invitations: any OWNER/ADMIN device may host an invitation while its creator is
//! offline (SPEC.md §7.8).
//!
//! The creator draws one Noise key pair for the invitation (the code pins its public half)
//! and the PIN, and seals them with HPKE (RFC 9180: X25519, HKDF-SHA256, ChaCha20-Poly1305) to
//! the Noise keys of up to `attempts_max` admin devices, each with its own share of the
//! attempt budget. What is replicated to every member is ciphertext: no member can test PIN
//! guesses offline, and the shares add up to the budget, so across all hosts an attacker gets
//! at most `attempts_max` guesses without any coordination between hosts.

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use super::pin::Pin;
use crate::codec::{Canonical, DecodeError};
use crate::keys::{NoiseKey, NoiseKeypair, PublicKey};
use crate::mutants::{Mutant, active};

const INFO: &str = "spaces/1 delegated-invitation";

/// hpke speaks a newer `rand_core`; this hands it the caller's CSPRNG unchanged.
struct RngAdapter<'a, R>(&'a mut R);

impl<R: RngCore + CryptoRng> hpke::rand_core::RngCore for RngAdapter<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.0.fill_bytes(dst)
    }
}

impl<R: RngCore + CryptoRng> hpke::rand_core::CryptoRng for RngAdapter<'_, R> {}

pub use crate::credential::SealedShare;

/// What a share opens to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedSecret {
    pub noise_secret: [u8; 32],
    pub pin: Option<Pin>,
    /// This host's part of the attempt budget.
    pub attempts: u8,
}

impl Canonical for DelegatedSecret {
    const ENCODED_SIZE_MAX: usize = 128;
}

/// Splits `total` attempts over `hosts` recipients: the first ones get one more. Hosts beyond
/// `total` get none (and no share is sealed to them).
pub fn shares(total: u8, hosts: usize) -> Vec<u8> {
    let n = hosts.min(usize::from(total));
    if n == 0 {
        return Vec::new();
    }
    if active(Mutant::DelegatedFullShares) {
        return vec![total; n];
    }
    let base = total / n as u8;
    let extra = usize::from(total % n as u8);
    (0..n).map(|i| base + u8::from(i < extra)).collect()
}

fn info(space: &PublicKey, invitation_id: &[u8; 16]) -> Vec<u8> {
    let mut v = INFO.as_bytes().to_vec();
    v.extend_from_slice(&space.0);
    v.extend_from_slice(invitation_id);
    v
}

/// Seals one share to a recipient's Noise key.
pub fn seal<R: RngCore + CryptoRng>(
    space: &PublicKey,
    invitation_id: &[u8; 16],
    recipient: NoiseKey,
    secret: &DelegatedSecret,
    rng: &mut R,
) -> Option<SealedShare> {
    let pk = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(&recipient.0).ok()?;
    let (enc, ciphertext) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256, _>(
        &OpModeS::Base,
        &pk,
        &info(space, invitation_id),
        &secret.to_bytes(),
        &[],
        &mut RngAdapter(rng),
    )
    .ok()?;
    let mut encapsulated = [0u8; 32];
    encapsulated.copy_from_slice(&enc.to_bytes());
    Some(SealedShare { recipient, encapsulated, ciphertext })
}

/// Why a share did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    NotForUs,
    /// Authentication failed: wrong key, or tampered.
    Sealed,
    Malformed(DecodeError),
}

/// Opens our share with our Noise key.
pub fn open(
    space: &PublicKey,
    invitation_id: &[u8; 16],
    share: &SealedShare,
    ours: &NoiseKeypair,
) -> Result<DelegatedSecret, OpenError> {
    if share.recipient != ours.public() {
        return Err(OpenError::NotForUs);
    }
    let sk =
        <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(&ours.secret_bytes()).map_err(|_| OpenError::Sealed)?;
    let enc =
        <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&share.encapsulated).map_err(|_| OpenError::Sealed)?;
    let plain = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &sk,
        &enc,
        &info(space, invitation_id),
        &share.ciphertext,
        &[],
    )
    .map_err(|_| OpenError::Sealed)?;
    DelegatedSecret::from_bytes(&plain).map_err(OpenError::Malformed)
}

/// Draws the invitation's Noise key pair (its public half goes in the code).
pub fn invitation_keypair<R: RngCore + CryptoRng>(rng: &mut R) -> NoiseKeypair {
    NoiseKeypair::generate(rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn shares_never_exceed_the_budget() {
        for total in 0..=5u8 {
            for hosts in 0..=8 {
                let s = shares(total, hosts);
                assert_eq!(s.iter().map(|x| u32::from(*x)).sum::<u32>(), if hosts == 0 { 0 } else { u32::from(total) });
                assert!(s.len() <= hosts && s.iter().all(|x| *x >= 1));
            }
        }
    }

    #[test]
    fn seal_open_round_trip_and_only_for_the_recipient() {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let (alice, bob) = (NoiseKeypair::generate(&mut rng), NoiseKeypair::generate(&mut rng));
        let secret = DelegatedSecret { noise_secret: [3; 32], pin: Some(Pin::parse("123456").unwrap()), attempts: 2 };
        let space = PublicKey([1; 32]);
        let share = seal(&space, &[2; 16], alice.public(), &secret, &mut rng).unwrap();
        assert_eq!(open(&space, &[2; 16], &share, &alice), Ok(secret));
        assert_eq!(open(&space, &[2; 16], &share, &bob), Err(OpenError::NotForUs));
        let stolen = SealedShare { recipient: bob.public(), ..share.clone() };
        assert_eq!(open(&space, &[2; 16], &stolen, &bob), Err(OpenError::Sealed));
        assert_eq!(open(&space, &[3; 16], &share, &alice), Err(OpenError::Sealed), "bound to the invitation");
    }
}
