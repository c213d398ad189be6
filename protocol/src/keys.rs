//! Keys and signatures. Ed25519 for everything that signs (identities, devices, spaces,
//! feeds), X25519 for a device's Noise static key. Verification is always `verify_strict`,
//! which rejects small-order keys and non-canonical signatures, so a signature is valid on
//! every implementation or on none (SPEC.md §1).

use core::fmt;
use core::str::FromStr;

use ed25519_dalek::Signer as _;
use rand_core::{CryptoRng, RngCore};
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hash::{domain, hash_tagged};

/// An Ed25519 public key as its 32 bytes. Not validated on construction: a key that does not
/// decode, or has small order, fails every verification instead.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct PublicKey(pub [u8; 32]);

/// An X25519 public key: a device's static key for Noise handshakes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct NoiseKey(pub [u8; 32]);

/// An Ed25519 signature (R || s).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signature(pub [u8; 64]);

/// Why a signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// The 32 bytes are not a valid Ed25519 point encoding.
    BadKey,
    /// `verify_strict` refused: wrong key or message, small-order key, non-canonical `s`.
    Invalid,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::BadKey => f.write_str("public key is not a valid Ed25519 point"),
            SignatureError::Invalid => f.write_str("signature does not verify (strict)"),
        }
    }
}

impl std::error::Error for SignatureError {}

impl PublicKey {
    /// Verifies with Ed25519 `verify_strict`.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), SignatureError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_err(|_| SignatureError::BadKey)?;
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(message, &sig).map_err(|_| SignatureError::Invalid)
    }

    /// The key decompressed once, to verify many signatures by it (a feed's entries, an
    /// issuer's credentials): decompression is about a fifth of a verification.
    pub fn prepare(&self) -> Result<PreparedKey, SignatureError> {
        ed25519_dalek::VerifyingKey::from_bytes(&self.0).map(PreparedKey).map_err(|_| SignatureError::BadKey)
    }

    /// A short, stable, human-comparable form: 16 hex digits of a domain-separated hash,
    /// in groups of four. Two keys with the same fingerprint are astronomically unlikely by
    /// chance, but it is for people comparing screens, not for security decisions.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }
}

/// A decompressed Ed25519 public key. Verifies exactly as [`PublicKey::verify`] does
/// (`verify_strict`), without decompressing the key again.
#[derive(Clone, Debug)]
pub struct PreparedKey(ed25519_dalek::VerifyingKey);

impl PreparedKey {
    /// Verifies with Ed25519 `verify_strict`.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), SignatureError> {
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.0.verify_strict(message, &sig).map_err(|_| SignatureError::Invalid)
    }
}

impl NoiseKey {
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }
}

fn fingerprint(bytes: &[u8; 32]) -> String {
    let digest = hash_tagged(domain::FINGERPRINT, bytes);
    let hex = hex::encode(&digest.0[..8]);
    let groups: Vec<&str> = (0..4).map(|i| &hex[i * 4..i * 4 + 4]).collect();
    groups.join("-")
}

/// Why a key's text form was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyParseError {
    /// Not exactly 64 characters.
    Length { found: usize },
    /// A character outside `0-9a-f` (upper case is refused: one text per key).
    NotLowerHex,
}

impl fmt::Display for KeyParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyParseError::Length { found } => {
                write!(f, "expected 64 hex characters, found {found}")
            }
            KeyParseError::NotLowerHex => f.write_str("expected lowercase hex digits"),
        }
    }
}

impl std::error::Error for KeyParseError {}

fn parse_hex32(s: &str) -> Result<[u8; 32], KeyParseError> {
    if s.len() != 64 {
        return Err(KeyParseError::Length { found: s.len() });
    }
    if !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(KeyParseError::NotLowerHex);
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|_| KeyParseError::NotLowerHex)?;
    Ok(out)
}

macro_rules! key_text {
    ($t:ty) => {
        impl fmt::Display for $t {
            /// The stable text form: 64 lowercase hex digits.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}…", &hex::encode(self.0)[..8])
            }
        }
        impl FromStr for $t {
            type Err = KeyParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex32(s).map(Self)
            }
        }
    };
}
key_text!(PublicKey);
key_text!(NoiseKey);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sig:{}…", &hex::encode(self.0)[..8])
    }
}

// serde derives arrays only up to 32 elements; a signature is a 64-byte tuple (64 raw bytes
// in postcard), the same shape as a key.
impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(64)?;
        for b in &self.0 {
            t.serialize_element(b)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Signature;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("64 bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Signature, A::Error> {
                let mut out = [0u8; 64];
                for (i, b) in out.iter_mut().enumerate() {
                    *b = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                Ok(Signature(out))
            }
        }
        d.deserialize_tuple(64, V)
    }
}

/// An Ed25519 key pair. The secret never leaves this type except through `secret_bytes`,
/// which exists for a driver's durable storage.
#[derive(Clone)]
pub struct Keypair {
    inner: ed25519_dalek::SigningKey,
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({:?})", self.public())
    }
}

impl Keypair {
    /// Secrets come only from the injected CSPRNG.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Self::from_secret_bytes(seed)
    }

    pub fn from_secret_bytes(seed: [u8; 32]) -> Self {
        Keypair { inner: ed25519_dalek::SigningKey::from_bytes(&seed) }
    }

    pub fn secret_bytes(&self) -> [u8; 32] {
        self.inner.to_bytes()
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.inner.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.inner.sign(message).to_bytes())
    }
}

/// An X25519 static key pair for Noise. The public key is derived once, when the pair is
/// made: each derivation is a base-point multiplication, and an invitation asked for it
/// again on every use (issue 14).
#[derive(Clone)]
pub struct NoiseKeypair {
    secret: [u8; 32],
    public: NoiseKey,
}

impl fmt::Debug for NoiseKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoiseKeypair({:?})", self.public())
    }
}

impl NoiseKeypair {
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        Self::from_secret_bytes(secret)
    }

    pub fn from_secret_bytes(secret: [u8; 32]) -> Self {
        let public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(secret));
        NoiseKeypair { secret, public: NoiseKey(public.to_bytes()) }
    }

    pub fn secret_bytes(&self) -> [u8; 32] {
        self.secret
    }

    pub fn public(&self) -> NoiseKey {
        self.public
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn sign_verify_and_reject_other_message() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let k = Keypair::generate(&mut rng);
        let sig = k.sign(b"hello");
        assert_eq!(k.public().verify(b"hello", &sig), Ok(()));
        assert_eq!(k.public().verify(b"hellO", &sig), Err(SignatureError::Invalid));
    }

    #[test]
    fn small_order_key_is_refused() {
        // The identity point: every signature with R = identity, s = 0 "verifies" under
        // non-strict rules; verify_strict must refuse it.
        let mut key = [0u8; 32];
        key[0] = 1;
        let mut sig = [0u8; 64];
        sig[0] = 1;
        assert!(PublicKey(key).verify(b"anything", &Signature(sig)).is_err());
    }

    #[test]
    fn text_form_round_trips_and_is_strict() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let k = Keypair::generate(&mut rng).public();
        let text = k.to_string();
        assert_eq!(text.parse::<PublicKey>(), Ok(k));
        assert_eq!(text.to_uppercase().parse::<PublicKey>(), Err(KeyParseError::NotLowerHex));
        assert_eq!(text[1..].parse::<PublicKey>(), Err(KeyParseError::Length { found: 63 }));
        assert_eq!(k.fingerprint().len(), 19);
    }
}
