//! The operations an invitation cannot avoid, each alone, with the crates the protocol uses:
//! the floor a complete invitation is reported against (issue 14). Composed as
//! [`FLOOR_COUNTS`]: six X25519 DH and two X25519 key generations (Noise XK), one SPAKE2 run
//! of both sides, two Ed25519 signatures and two `verify_strict`.

use ed25519_dalek::{Signer, SigningKey};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spake2::{Ed25519Group, Identity, Password, Spake2};

/// (bench name under `floor/`, how many of it one invitation needs at least).
pub const FLOOR_COUNTS: [(&str, f64); 5] = [
    ("x25519_dh", 6.0),
    ("x25519_keygen", 2.0),
    ("spake2_both_sides", 1.0),
    ("ed25519_sign", 2.0),
    ("ed25519_verify_strict", 2.0),
];

/// Fixed inputs for the primitives, so each bench times the operation and nothing else.
pub struct Primitives {
    pub rng: ChaCha20Rng,
    pub dh_secret: x25519_dalek::StaticSecret,
    pub dh_public: x25519_dalek::PublicKey,
    pub signing: SigningKey,
    pub verifying: ed25519_dalek::VerifyingKey,
    pub message: [u8; 32],
    pub signature: ed25519_dalek::Signature,
}

impl Primitives {
    pub fn new() -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(14);
        let dh_secret = x25519_dalek::StaticSecret::random_from_rng(&mut rng);
        let dh_public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::random_from_rng(&mut rng));
        let signing = SigningKey::generate(&mut rng);
        let message = [7u8; 32];
        let signature = signing.sign(&message);
        let verifying = signing.verifying_key();
        Primitives { rng, dh_secret, dh_public, signing, verifying, message, signature }
    }

    pub fn dh(&self) -> [u8; 32] {
        self.dh_secret.diffie_hellman(&self.dh_public).to_bytes()
    }

    /// A key pair as Noise makes its ephemeral: a random scalar and its base-point multiple.
    pub fn keygen(&mut self) -> [u8; 32] {
        let secret = x25519_dalek::StaticSecret::random_from_rng(&mut self.rng);
        x25519_dalek::PublicKey::from(&secret).to_bytes()
    }

    /// Both sides of one SPAKE2 run, to the shared key.
    pub fn spake2_both(&mut self) -> Vec<u8> {
        let (pw, a, b) = (Password::new(b"123456"), Identity::new(b"guest"), Identity::new(b"host"));
        let (sa, ma) = Spake2::<Ed25519Group>::start_a_with_rng(&pw, &a, &b, &mut self.rng);
        let (sb, mb) = Spake2::<Ed25519Group>::start_b_with_rng(&pw, &a, &b, &mut self.rng);
        let ka = sa.finish(&mb).expect("honest SPAKE2 message");
        let kb = sb.finish(&ma).expect("honest SPAKE2 message");
        assert_eq!(ka, kb);
        ka
    }

    pub fn sign(&self) -> ed25519_dalek::Signature {
        self.signing.sign(&self.message)
    }

    /// With the key already decompressed, as the protocol's `PreparedKey` does.
    pub fn verify_strict(&self) -> bool {
        self.verifying.verify_strict(&self.message, &self.signature).is_ok()
    }
}

/// The floor once, composed as [`FLOOR_COUNTS`] says (for the `profile` binary: its
/// instruction count is the floor's, free of a loaded machine's noise).
#[inline(never)]
pub fn once(p: &mut Primitives) -> u8 {
    let mut acc = 0u8;
    for (name, count) in FLOOR_COUNTS {
        for _ in 0..count as usize {
            acc ^= match name {
                "x25519_dh" => p.dh()[0],
                "x25519_keygen" => p.keygen()[0],
                "spake2_both_sides" => p.spake2_both()[0],
                "ed25519_sign" => p.sign().to_bytes()[0],
                "ed25519_verify_strict" => u8::from(p.verify_strict()),
                other => panic!("floor operation {other} has no primitive here"),
            };
        }
    }
    acc
}

impl Default for Primitives {
    fn default() -> Self {
        Self::new()
    }
}
