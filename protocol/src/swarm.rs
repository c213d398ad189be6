//! Space swarms: an authenticated, encrypted connection between two devices, carrying the
//! replication of every space they share (SPEC.md §9).
//!
//! The handshake is Noise `XX_25519_ChaChaPoly_BLAKE2s`: neither side needs to know the other
//! in advance, and each learns the other's static key, which membership then judges (a device
//! is recognised through the `noise_key` of its admitted feeds). Nothing about a space is sent
//! to a device before it is known as a current member of that space, so a non-member learns
//! nothing but our device's Noise key.

use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::codec::{self, Canonical, DecodeError};
use crate::credential::{Credential, FeedPosition};
use crate::feed::{EntryHash, Equivocation, FeedEntry};
use crate::hash::Digest;
use crate::invitation::handshake;
use crate::keys::{NoiseKey, NoiseKeypair, PublicKey};

pub const SWARM_NOISE_PARAMS: &str = "Noise_XX_25519_ChaChaPoly_BLAKE2s";
const PROLOGUE: &str = "spaces/1 swarm";
/// No swarm message is larger; replication batches stay under it.
pub const SWARM_MESSAGE_SIZE_MAX: usize = 1024 * 1024;
/// Entries per `Entries` message at most.
pub const ENTRIES_PER_MESSAGE_MAX: usize = 512;
/// Feeds one `Have` (or `HavePage`) lists at most; a space with more feeds sends its summary
/// as several `HavePage`s.
pub const HAVE_FEEDS_MAX: usize = 4096;
/// Pieces of equivocation evidence per `Forks` message at most: two entries of at most 64 KiB
/// of payload each, so six stay under `SWARM_MESSAGE_SIZE_MAX`.
pub const FORKS_PER_MESSAGE_MAX: usize = 6;
/// Credentials per `Credentials` message at most (the message size bounds them too).
pub const CREDENTIALS_PER_MESSAGE_MAX: usize = 256;
/// `AuthorizedDevice` credentials per `Halo` message at most: each is under 2 KiB with a chain
/// of `CHAIN_DEPTH_MAX` links, so a message stays far under `SWARM_MESSAGE_SIZE_MAX`; an
/// identity with more devices sends several.
pub const HALO_DEVICES_PER_MESSAGE_MAX: usize = 64;
/// Contact identities, and space keys, per `Halo` message at most (32 bytes each).
pub const HALO_KEYS_PER_MESSAGE_MAX: usize = 1024;

/// What a `Summary` says of one feed: its length and the hash of its last entry, so that two
/// replicas holding different branches of a forked feed notice it even at equal lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FeedHead {
    pub feed: PublicKey,
    pub length: u64,
    pub head: EntryHash,
}

impl FeedHead {
    pub fn position(&self) -> FeedPosition {
        FeedPosition { feed: self.feed, length: self.length }
    }
}

/// Frames on a swarm connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmFrame {
    pub version: u8,
    pub body: SwarmBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SwarmBody {
    Handshake { noise: Vec<u8> },
    Sealed { chunks: Vec<Vec<u8>> },
}

impl Canonical for SwarmFrame {
    const ENCODED_SIZE_MAX: usize = SWARM_MESSAGE_SIZE_MAX + 4096;

    fn validate(&self) -> Result<(), DecodeError> {
        codec::check_version(self.version)
    }
}

/// Replication messages, per space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SwarmMessage {
    /// What I hold of each feed of `space`. Sent on connect, after changes, and periodically:
    /// the receiver answers with what the sender lacks (anti-entropy).
    Have { space: PublicKey, feeds: Vec<FeedPosition> },
    /// Entries the receiver lacked, in feed order.
    Entries { space: PublicKey, entries: Vec<FeedEntry> },
    /// I will not replicate `space` with you (you are not a member as far as I know).
    Refused { space: PublicKey },
    /// One page of a summary too large for one `Have` (more than `HAVE_FEEDS_MAX` feeds): what
    /// I hold of each feed of `space` whose key `k` has `after < k ≤ through` (`None`: no
    /// bound). A feed in that range that is not listed, I do not hold. The pages of one
    /// summary cover all keys, so the receiver answers each like a `Have` over its range.
    HavePage { space: PublicKey, after: Option<PublicKey>, through: Option<PublicKey>, feeds: Vec<FeedPosition> },
    /// A summary page (`after`/`through` as in `HavePage`; both `None` for a whole summary)
    /// that also names each feed's head (SPEC.md §9.3.5). What a device sends; a `Have` or
    /// `HavePage` is answered the same way, without fork detection. `credentials` digests the
    /// sender's credential set (`Space::credentials_digest`, SPEC.md §9.3.5).
    Summary {
        space: PublicKey,
        after: Option<PublicKey>,
        through: Option<PublicKey>,
        feeds: Vec<FeedHead>,
        credentials: Digest,
    },
    /// The lowest proven fork of feeds of `space` (SPEC.md §5.6): sent when a link opens and
    /// when we learn one, so every replica cuts each forked feed at the same place.
    Forks { space: PublicKey, evidence: Vec<Equivocation> },
    /// Credentials of `space` that no entry the sender holds carries (a grant's, or those of a
    /// fork's branch only it saw), sent when both hold the same feeds but not the same
    /// credentials (SPEC.md §9.3.5). Self-authenticating: judged by §4 alone.
    Credentials { space: PublicKey, credentials: Vec<Credential> },
    /// Only between two devices of one identity (SPEC.md §9.8): part of what the sender's
    /// HALO holds, to be merged (a union, so a large HALO travels in several messages):
    /// `AuthorizedDevice` credentials of the identity, contact identities, and the spaces the
    /// sender holds in which the identity is a current member. Keys ascend, each listed once.
    Halo { devices: Vec<Credential>, contacts: Vec<PublicKey>, spaces: Vec<PublicKey> },
    /// Only between two devices of one identity: the sender, which lacks `space`, asks the
    /// receiver to admit these two new feeds of its device as the identity's (SPEC.md §9.8),
    /// and to send the space's credentials.
    HaloJoin { space: PublicKey, control_feed: PublicKey, data_feed: PublicKey },
}

impl SwarmMessage {
    /// The space the message is about; `None` for the HALO's own messages (`Halo`), which
    /// are about no one space. `HaloJoin` names the space it asks for.
    pub fn space(&self) -> Option<PublicKey> {
        match self {
            SwarmMessage::Have { space, .. }
            | SwarmMessage::HavePage { space, .. }
            | SwarmMessage::Summary { space, .. }
            | SwarmMessage::Forks { space, .. }
            | SwarmMessage::Credentials { space, .. }
            | SwarmMessage::Entries { space, .. }
            | SwarmMessage::Refused { space }
            | SwarmMessage::HaloJoin { space, .. } => Some(*space),
            SwarmMessage::Halo { .. } => None,
        }
    }
}

/// At most `HAVE_FEEDS_MAX` positions, one per feed, ascending by feed key: a feed listed
/// twice would make the receiver's answer depend on which listing it reads.
fn summary_ok(feeds: &[PublicKey]) -> bool {
    feeds.len() <= HAVE_FEEDS_MAX && feeds.windows(2).all(|w| w[0] < w[1])
}

/// Every listed feed lies in the page's range, and the range is not empty.
fn page_ok(after: Option<&PublicKey>, through: Option<&PublicKey>, feeds: &[PublicKey]) -> bool {
    let in_range = |k: &PublicKey| after.is_none_or(|a| a < k) && through.is_none_or(|t| k <= t);
    let range_ok = match (after, through) {
        (Some(a), Some(t)) => a < t,
        _ => true,
    };
    range_ok && feeds.iter().all(in_range)
}

fn keys_of(feeds: &[FeedPosition]) -> Vec<PublicKey> {
    feeds.iter().map(|p| p.feed).collect()
}

/// One piece per feed, ascending by feed, each a fork (two entries of one feed at one
/// sequence number): the shape of evidence, not its signatures, which the receiver checks.
fn evidence_ok(evidence: &[Equivocation]) -> bool {
    let shaped = |e: &Equivocation| e.first.body.feed == e.second.body.feed && e.first.body.seq == e.second.body.seq;
    evidence.len() <= FORKS_PER_MESSAGE_MAX
        && evidence.iter().all(shaped)
        && evidence.windows(2).all(|w| w[0].first.body.feed < w[1].first.body.feed)
        && evidence.iter().all(|e| e.first.validate().is_ok() && e.second.validate().is_ok())
}

impl Canonical for SwarmMessage {
    const ENCODED_SIZE_MAX: usize = SWARM_MESSAGE_SIZE_MAX;

    fn validate(&self) -> Result<(), DecodeError> {
        match self {
            SwarmMessage::Have { feeds, .. } if !summary_ok(&keys_of(feeds)) => {
                Err(DecodeError::Invalid("Have lists at most 4096 feeds, each once, ascending"))
            }
            SwarmMessage::HavePage { after, through, feeds, .. }
                if !summary_ok(&keys_of(feeds)) || !page_ok(after.as_ref(), through.as_ref(), &keys_of(feeds)) =>
            {
                Err(DecodeError::Invalid("HavePage lists at most 4096 feeds, each once, ascending, in its range"))
            }
            SwarmMessage::Summary { after, through, feeds, .. } => {
                let keys: Vec<PublicKey> = feeds.iter().map(|h| h.feed).collect();
                let held = feeds.iter().all(|h| h.length > 0);
                match held && summary_ok(&keys) && page_ok(after.as_ref(), through.as_ref(), &keys) {
                    true => Ok(()),
                    false => Err(DecodeError::Invalid(
                        "Summary lists at most 4096 held feeds, each once, ascending, in its range",
                    )),
                }
            }
            SwarmMessage::Credentials { credentials, .. } if credentials.len() > CREDENTIALS_PER_MESSAGE_MAX => {
                Err(DecodeError::Invalid("Credentials carries at most 256 credentials"))
            }
            SwarmMessage::Credentials { credentials, .. } => credentials.iter().try_for_each(Canonical::validate),
            SwarmMessage::Forks { evidence, .. } if !evidence_ok(evidence) => {
                Err(DecodeError::Invalid("Forks carries at most 6 forks, one per feed, ascending"))
            }
            SwarmMessage::Halo { devices, contacts, spaces } => {
                let ascending = |keys: &[PublicKey]| {
                    keys.len() <= HALO_KEYS_PER_MESSAGE_MAX && keys.windows(2).all(|w| w[0] < w[1])
                };
                if devices.len() > HALO_DEVICES_PER_MESSAGE_MAX || !ascending(contacts) || !ascending(spaces) {
                    return Err(DecodeError::Invalid(
                        "Halo carries at most 64 devices and 1024 contacts and spaces, each once, ascending",
                    ));
                }
                devices.iter().try_for_each(Canonical::validate)
            }
            SwarmMessage::HaloJoin { control_feed, data_feed, .. } if control_feed == data_feed => {
                Err(DecodeError::Invalid("HaloJoin names two distinct feeds"))
            }
            SwarmMessage::Entries { entries, .. } if entries.len() > ENTRIES_PER_MESSAGE_MAX => {
                Err(DecodeError::Invalid("too many entries in one message"))
            }
            _ => Ok(()),
        }
    }
}

/// Why a swarm session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwarmError {
    Malformed(DecodeError),
    /// The handshake or an AEAD check failed: tampering, or the wrong peer.
    Crypto,
    /// A message arrived in the wrong phase.
    Unexpected,
}

enum Phase {
    Handshake(Box<snow::HandshakeState>),
    Open(Box<snow::TransportState>),
    Failed,
}

/// One end of a swarm connection.
pub struct SwarmSession {
    phase: Phase,
    remote: Option<NoiseKey>,
}

impl core::fmt::Debug for SwarmSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SwarmSession").field("remote", &self.remote).field("open", &self.is_open()).finish()
    }
}

/// What a frame did to the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwarmEvent {
    /// A handshake frame to send back (and, with `remote`, the handshake is complete).
    Reply {
        frame: Vec<u8>,
        established: Option<NoiseKey>,
    },
    /// The handshake completed on this frame (responder side, after message 3).
    Established {
        remote: NoiseKey,
    },
    Message(SwarmMessage),
}

fn builder<'a, R: RngCore + CryptoRng>(local: &'a [u8; 32], rng: &mut R) -> Result<snow::Builder<'a>, snow::Error> {
    handshake::builder_for(SWARM_NOISE_PARAMS, rng).prologue(PROLOGUE.as_bytes())?.local_private_key(local)
}

fn frame(body: SwarmBody) -> Vec<u8> {
    SwarmFrame { version: codec::VERSION, body }.to_bytes()
}

impl SwarmSession {
    /// Starts as initiator; returns the first frame to send.
    pub fn initiate<R: RngCore + CryptoRng>(local: &NoiseKeypair, rng: &mut R) -> Result<(Self, Vec<u8>), SwarmError> {
        let secret = local.secret_bytes();
        let mut hs = builder(&secret, rng).and_then(|b| b.build_initiator()).map_err(|_| SwarmError::Crypto)?;
        let noise = handshake::write(&mut hs).map_err(|_| SwarmError::Crypto)?;
        Ok((
            SwarmSession { phase: Phase::Handshake(Box::new(hs)), remote: None },
            frame(SwarmBody::Handshake { noise }),
        ))
    }

    /// Starts as responder, waiting for the initiator's first frame.
    pub fn respond<R: RngCore + CryptoRng>(local: &NoiseKeypair, rng: &mut R) -> Result<Self, SwarmError> {
        let secret = local.secret_bytes();
        let hs = builder(&secret, rng).and_then(|b| b.build_responder()).map_err(|_| SwarmError::Crypto)?;
        Ok(SwarmSession { phase: Phase::Handshake(Box::new(hs)), remote: None })
    }

    pub fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Open(_))
    }

    /// The authenticated Noise key of the other device, once the handshake is done.
    pub fn remote(&self) -> Option<NoiseKey> {
        self.remote.filter(|_| self.is_open())
    }

    /// Takes one frame. Any error leaves the session failed: the caller closes it.
    pub fn on_frame(&mut self, bytes: &[u8]) -> Result<SwarmEvent, SwarmError> {
        let result = self.step(bytes);
        if result.is_err() {
            self.phase = Phase::Failed;
        }
        result
    }

    fn step(&mut self, bytes: &[u8]) -> Result<SwarmEvent, SwarmError> {
        let f = SwarmFrame::from_bytes(bytes).map_err(SwarmError::Malformed)?;
        match (&mut self.phase, f.body) {
            (Phase::Handshake(hs), SwarmBody::Handshake { noise }) => {
                handshake::read(hs, &noise).map_err(|_| SwarmError::Crypto)?;
                let reply = if !hs.is_handshake_finished() && hs.is_my_turn() {
                    Some(handshake::write(hs).map_err(|_| SwarmError::Crypto)?)
                } else {
                    None
                };
                if !hs.is_handshake_finished() {
                    let frame = frame(SwarmBody::Handshake { noise: reply.ok_or(SwarmError::Unexpected)? });
                    return Ok(SwarmEvent::Reply { frame, established: None });
                }
                let remote =
                    NoiseKey(hs.get_remote_static().and_then(|k| k.try_into().ok()).ok_or(SwarmError::Crypto)?);
                let Phase::Handshake(hs) = std::mem::replace(&mut self.phase, Phase::Failed) else { unreachable!() };
                self.phase = Phase::Open(Box::new(hs.into_transport_mode().map_err(|_| SwarmError::Crypto)?));
                self.remote = Some(remote);
                Ok(match reply {
                    Some(noise) => {
                        SwarmEvent::Reply { frame: frame(SwarmBody::Handshake { noise }), established: Some(remote) }
                    }
                    None => SwarmEvent::Established { remote },
                })
            }
            (Phase::Open(t), SwarmBody::Sealed { chunks }) => {
                let plain = handshake::open(t, &chunks).map_err(|_| SwarmError::Crypto)?;
                SwarmMessage::from_bytes(&plain).map(SwarmEvent::Message).map_err(SwarmError::Malformed)
            }
            _ => Err(SwarmError::Unexpected),
        }
    }

    /// Seals a message into a frame.
    pub fn seal(&mut self, message: &SwarmMessage) -> Result<Vec<u8>, SwarmError> {
        let Phase::Open(t) = &mut self.phase else { return Err(SwarmError::Unexpected) };
        let chunks = handshake::seal(t, &message.to_bytes()).map_err(|_| SwarmError::Crypto)?;
        Ok(frame(SwarmBody::Sealed { chunks }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn xx_handshake_then_messages_both_ways() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let (a, b) = (NoiseKeypair::generate(&mut rng), NoiseKeypair::generate(&mut rng));
        let (mut i, m1) = SwarmSession::initiate(&a, &mut rng).unwrap();
        let mut r = SwarmSession::respond(&b, &mut rng).unwrap();
        let SwarmEvent::Reply { frame: m2, established: None } = r.on_frame(&m1).unwrap() else { panic!() };
        let SwarmEvent::Reply { frame: m3, established: Some(rb) } = i.on_frame(&m2).unwrap() else { panic!() };
        assert_eq!(rb, b.public());
        assert_eq!(r.on_frame(&m3).unwrap(), SwarmEvent::Established { remote: a.public() });
        let msg = SwarmMessage::Refused { space: PublicKey([7; 32]) };
        let f = i.seal(&msg).unwrap();
        assert_eq!(r.on_frame(&f).unwrap(), SwarmEvent::Message(msg.clone()));
        // A replayed frame fails authentication and ends the session.
        assert_eq!(r.on_frame(&f), Err(SwarmError::Crypto));
        assert!(!r.is_open());
    }
}
