//! Noise `XK_25519_ChaChaPoly_BLAKE2s`, guest as initiator, host as responder.
//!
//! XK because the guest knows the host's static key from the code (pinning: an attacker who
//! substitutes nothing but the network cannot complete the handshake), while the host learns
//! the guest's static key only in the third message, encrypted. The prologue carries every
//! invitation parameter (see `InvitationCode::prologue`). snow draws its ephemeral keys from
//! an RNG that we seed from the caller's injected RNG, so the handshake is deterministic
//! under a seed and no OS randomness is involved.

use std::cell::Cell;

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use snow::resolvers::{CryptoResolver, DefaultResolver, FallbackResolver};

use super::code::InvitationCode;
use crate::keys::NoiseKeypair;

pub const NOISE_PARAMS: &str = "Noise_XK_25519_ChaChaPoly_BLAKE2s";
/// A Noise message is at most this long (Noise spec §3).
pub const NOISE_MESSAGE_MAX: usize = 65_535;
/// Authentication tag per transport message.
pub const NOISE_TAG_LEN: usize = 16;

/// The handshake hash, the channel binding that the PAKE and admission signatures cover.
pub type HandshakeHash = [u8; 32];

struct SeededRandom(ChaCha20Rng);

impl snow::types::Random for SeededRandom {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

/// Hands snow exactly one RNG, seeded by the caller; a second request gets none (and snow
/// fails) rather than a repeated stream. With a `local` key pair, X25519 is [`KnownStatic`].
struct SeededResolver {
    seed: Cell<Option<[u8; 32]>>,
    local: Option<([u8; 32], [u8; 32])>,
}

impl CryptoResolver for SeededResolver {
    fn resolve_rng(&self) -> Option<Box<dyn snow::types::Random>> {
        self.seed.take().map(|s| Box::new(SeededRandom(ChaCha20Rng::from_seed(s))) as Box<dyn snow::types::Random>)
    }
    fn resolve_dh(&self, choice: &snow::params::DHChoice) -> Option<Box<dyn snow::types::Dh>> {
        match (choice, self.local) {
            (snow::params::DHChoice::Curve25519, Some(local)) => {
                Some(Box::new(KnownStatic { privkey: [0; 32], pubkey: [0; 32], local }))
            }
            _ => None,
        }
    }
    fn resolve_hash(&self, _: &snow::params::HashChoice) -> Option<Box<dyn snow::types::Hash>> {
        None
    }
    fn resolve_cipher(&self, _: &snow::params::CipherChoice) -> Option<Box<dyn snow::types::Cipher>> {
        None
    }
}

/// X25519 exactly as snow's own `Dh25519` computes it (the same RNG draw for an ephemeral
/// key, the same clamped scalar multiplications), except that setting the static private key
/// of our `NoiseKeypair` takes the public half the pair already holds: snow derived it again,
/// a base-point multiplication per side of every handshake (issue 14).
struct KnownStatic {
    privkey: [u8; 32],
    pubkey: [u8; 32],
    /// Our static key pair: (private, public).
    local: ([u8; 32], [u8; 32]),
}

impl KnownStatic {
    fn derive_pubkey(&mut self) {
        let secret = x25519_dalek::StaticSecret::from(self.privkey);
        self.pubkey = x25519_dalek::PublicKey::from(&secret).to_bytes();
    }
}

impl snow::types::Dh for KnownStatic {
    fn name(&self) -> &'static str {
        "25519"
    }
    fn pub_len(&self) -> usize {
        32
    }
    fn priv_len(&self) -> usize {
        32
    }
    fn set(&mut self, privkey: &[u8]) {
        self.privkey.copy_from_slice(&privkey[..32]);
        // Constant time: the bytes are secret (SPEC's rule for every secret comparison).
        if bool::from(subtle::ConstantTimeEq::ct_eq(&self.privkey[..], &self.local.0[..])) {
            self.pubkey = self.local.1;
        } else {
            self.derive_pubkey();
        }
    }
    fn generate(&mut self, rng: &mut dyn snow::types::Random) -> Result<(), snow::Error> {
        rng.try_fill_bytes(&mut self.privkey)?;
        self.derive_pubkey();
        Ok(())
    }
    fn pubkey(&self) -> &[u8] {
        &self.pubkey
    }
    fn privkey(&self) -> &[u8] {
        &self.privkey
    }
    fn dh(&self, pubkey: &[u8], out: &mut [u8]) -> Result<(), snow::Error> {
        let mut remote = [0u8; 32];
        remote.copy_from_slice(&pubkey[..32]);
        out[..32].copy_from_slice(&x25519_dalek::x25519(self.privkey, remote));
        Ok(())
    }
}

/// A builder for the invitation handshake with `local` as our static key pair.
fn builder<'a, R: RngCore + CryptoRng>(rng: &mut R, local: &NoiseKeypair) -> snow::Builder<'a> {
    resolved_builder(NOISE_PARAMS, rng, Some((local.secret_bytes(), local.public().0)))
}

/// A snow builder for `params` whose randomness comes from the caller's RNG only.
pub fn builder_for<'a, R: RngCore + CryptoRng>(params: &str, rng: &mut R) -> snow::Builder<'a> {
    resolved_builder(params, rng, None)
}

fn resolved_builder<'a, R: RngCore + CryptoRng>(
    params: &str,
    rng: &mut R,
    local: Option<([u8; 32], [u8; 32])>,
) -> snow::Builder<'a> {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let seeded = SeededResolver { seed: Cell::new(Some(seed)), local };
    let resolver = FallbackResolver::new(Box::new(seeded), Box::new(DefaultResolver));
    let params = params.parse().expect("constant Noise parameters parse");
    snow::Builder::with_resolver(params, Box::new(resolver))
}

/// The guest's side, pinned to the host key in the code.
pub fn initiator<R: RngCore + CryptoRng>(
    code: &InvitationCode,
    local: &NoiseKeypair,
    rng: &mut R,
) -> Result<snow::HandshakeState, snow::Error> {
    let prologue = code.prologue();
    let secret = local.secret_bytes();
    builder(rng, local)
        .prologue(&prologue)?
        .local_private_key(&secret)?
        .remote_public_key(&code.host.0)?
        .build_initiator()
}

/// The host's side, with the static key the code pins.
pub fn responder<R: RngCore + CryptoRng>(
    code: &InvitationCode,
    local: &NoiseKeypair,
    rng: &mut R,
) -> Result<snow::HandshakeState, snow::Error> {
    let prologue = code.prologue();
    let secret = local.secret_bytes();
    builder(rng, local).prologue(&prologue)?.local_private_key(&secret)?.build_responder()
}

pub fn handshake_hash(state: &snow::HandshakeState) -> HandshakeHash {
    let mut h = [0u8; 32];
    h.copy_from_slice(state.get_handshake_hash());
    h
}

/// Room for any handshake message with an empty payload over X25519: at most an ephemeral
/// key (32 bytes), an encrypted static key (48) and the payload's tag (16). A buffer of
/// `NOISE_MESSAGE_MAX` zeroed 64 KiB for each of these few bytes, six times an invitation
/// (issue 14).
const HANDSHAKE_MESSAGE_ROOM: usize = 256;

/// Writes a handshake message with an empty payload.
pub fn write(state: &mut snow::HandshakeState) -> Result<Vec<u8>, snow::Error> {
    let mut buf = [0u8; HANDSHAKE_MESSAGE_ROOM];
    let n = state.write_message(&[], &mut buf)?;
    Ok(buf[..n].to_vec())
}

/// Reads a handshake message; any payload is a protocol violation (we send none). The
/// payload is never longer than the message, so that much room is all snow can need.
pub fn read(state: &mut snow::HandshakeState, message: &[u8]) -> Result<(), snow::Error> {
    let mut buf = vec![0u8; message.len()];
    let n = state.read_message(message, &mut buf)?;
    if n != 0 {
        return Err(snow::Error::Input);
    }
    Ok(())
}

/// Plaintext chunk size so that each sealed chunk fits one Noise message.
const CHUNK_MAX: usize = NOISE_MESSAGE_MAX - NOISE_TAG_LEN;

/// Encrypts a message as one or more Noise transport messages.
pub fn seal(transport: &mut snow::TransportState, plaintext: &[u8]) -> Result<Vec<Vec<u8>>, snow::Error> {
    let mut chunks = Vec::new();
    let mut pieces: Vec<&[u8]> = plaintext.chunks(CHUNK_MAX).collect();
    if pieces.is_empty() {
        pieces.push(&[]);
    }
    for piece in pieces {
        let mut buf = vec![0u8; piece.len() + NOISE_TAG_LEN];
        let n = transport.write_message(piece, &mut buf)?;
        buf.truncate(n);
        chunks.push(buf);
    }
    Ok(chunks)
}

/// Decrypts the chunks of one message. A tampered, replayed, reordered or truncated chunk
/// fails authentication.
pub fn open(transport: &mut snow::TransportState, chunks: &[Vec<u8>]) -> Result<Vec<u8>, snow::Error> {
    let mut out = Vec::new();
    for chunk in chunks {
        if chunk.len() < NOISE_TAG_LEN || chunk.len() > NOISE_MESSAGE_MAX {
            return Err(snow::Error::Input);
        }
        let mut buf = vec![0u8; chunk.len()];
        let n = transport.read_message(chunk, &mut buf)?;
        out.extend_from_slice(&buf[..n]);
    }
    Ok(out)
}
