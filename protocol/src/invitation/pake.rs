//! SPAKE2 over the PIN, bound to the Noise session, with explicit key confirmation.
//!
//! Why SPAKE2 (RFC 9382 family, RustCrypto `spake2` over Ed25519): a balanced PAKE fits an
//! interactive invitation, where the host holds the PIN itself; each run lets an active
//! attacker test exactly one PIN, and a passive one none. The identities fed to SPAKE2 are
//! the Noise handshake hash and the run number, so PAKE messages cannot be spliced into
//! another session or run. Confirmation MACs are HMAC-SHA256 under the SPAKE2 key; the
//! guest's comes first, and the host sends nothing keyed by the PAKE before it verified, so an
//! attacker who aborts learns nothing it could test a second PIN against.

use hmac::{Hmac, Mac};
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;
use spake2::{Ed25519Group, Identity, Password, Spake2};

use super::handshake::HandshakeHash;
use super::pin::Pin;
use crate::hash::tagged;

/// One SPAKE2 message: a side byte and a compressed Edwards point.
pub const PAKE_MESSAGE_LEN: usize = 33;

const GUEST_ID: &str = "spaces/1 pake-guest";
const HOST_ID: &str = "spaces/1 pake-host";
const GUEST_CONFIRM: &str = "spaces/1 pake-confirm-guest";
const HOST_CONFIRM: &str = "spaces/1 pake-confirm-host";

/// A SPAKE2 run in progress.
pub struct Pake(Spake2<Ed25519Group>);

impl core::fmt::Debug for Pake {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Pake(..)")
    }
}

/// The key both sides derive when their PINs match.
#[derive(Clone)]
pub struct PakeKey([u8; 32]);

impl PakeKey {
    /// The 32 key bytes, for published test vectors (SPEC.md §7.5.4) and diagnostics only:
    /// the protocol never sends or stores the key, it only keys the confirmation MACs.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl core::fmt::Debug for PakeKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PakeKey(..)")
    }
}

fn identities(h: &HandshakeHash, run: u8) -> (Identity, Identity) {
    let mut binding = h.to_vec();
    binding.push(run);
    (Identity::new(&tagged(GUEST_ID, &binding)), Identity::new(&tagged(HOST_ID, &binding)))
}

/// The guest starts (SPAKE2 side A).
pub fn start_guest<R: RngCore + CryptoRng>(pin: &Pin, h: &HandshakeHash, run: u8, rng: &mut R) -> (Pake, Vec<u8>) {
    let (a, b) = identities(h, run);
    let (state, msg) = Spake2::<Ed25519Group>::start_a_with_rng(&Password::new(pin.as_bytes()), &a, &b, rng);
    (Pake(state), msg)
}

/// The host answers (SPAKE2 side B).
pub fn start_host<R: RngCore + CryptoRng>(pin: &Pin, h: &HandshakeHash, run: u8, rng: &mut R) -> (Pake, Vec<u8>) {
    let (a, b) = identities(h, run);
    let (state, msg) = Spake2::<Ed25519Group>::start_b_with_rng(&Password::new(pin.as_bytes()), &a, &b, rng);
    (Pake(state), msg)
}

/// Why a PAKE message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PakeError;

impl Pake {
    /// Combines with the peer's message. Fails on a malformed message or point, never on a
    /// wrong PIN (that shows only in the confirmation).
    pub fn finish(self, peer: &[u8]) -> Result<PakeKey, PakeError> {
        if peer.len() != PAKE_MESSAGE_LEN {
            return Err(PakeError);
        }
        let key = self.0.finish(peer).map_err(|_| PakeError)?;
        let mut out = [0u8; 32];
        if key.len() != 32 {
            return Err(PakeError);
        }
        out.copy_from_slice(&key);
        Ok(PakeKey(out))
    }
}

/// Which side's confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Guest,
    Host,
}

fn mac(key: &PakeKey, side: Side, h: &HandshakeHash, run: u8) -> Hmac<Sha256> {
    let domain = match side {
        Side::Guest => GUEST_CONFIRM,
        Side::Host => HOST_CONFIRM,
    };
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&key.0).expect("HMAC takes any key length");
    let mut binding = h.to_vec();
    binding.push(run);
    m.update(&tagged(domain, &binding));
    m
}

pub fn confirmation(key: &PakeKey, side: Side, h: &HandshakeHash, run: u8) -> [u8; 32] {
    mac(key, side, h, run).finalize().into_bytes().into()
}

/// Constant-time check of a peer's confirmation.
pub fn verify_confirmation(key: &PakeKey, side: Side, h: &HandshakeHash, run: u8, tag: &[u8; 32]) -> bool {
    mac(key, side, h, run).verify_slice(tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn same_pin_same_key_other_pin_fails_confirmation() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let h = [1u8; 32];
        let pin = Pin::parse("123456").unwrap();
        let (g, gm) = start_guest(&pin, &h, 0, &mut rng);
        let (hs, hm) = start_host(&pin, &h, 0, &mut rng);
        let (kg, kh) = (g.finish(&hm).unwrap(), hs.finish(&gm).unwrap());
        let tag = confirmation(&kg, Side::Guest, &h, 0);
        assert!(verify_confirmation(&kh, Side::Guest, &h, 0, &tag));
        assert!(!verify_confirmation(&kh, Side::Host, &h, 0, &tag), "sides are separated");

        let (g, gm) = start_guest(&Pin::parse("123457").unwrap(), &h, 0, &mut rng);
        let (hs, hm) = start_host(&pin, &h, 0, &mut rng);
        let (kg, kh) = (g.finish(&hm).unwrap(), hs.finish(&gm).unwrap());
        assert!(!verify_confirmation(&kh, Side::Guest, &h, 0, &confirmation(&kg, Side::Guest, &h, 0)));
    }

    #[test]
    fn malformed_messages_are_errors() {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let (g, _) = start_guest(&Pin::parse("000000").unwrap(), &[0; 32], 0, &mut rng);
        assert_eq!(g.finish(&[0u8; 5]).err(), Some(PakeError));
        let (g, _) = start_guest(&Pin::parse("000000").unwrap(), &[0; 32], 0, &mut rng);
        assert!(g.finish(&[0xffu8; PAKE_MESSAGE_LEN]).is_err());
    }
}
