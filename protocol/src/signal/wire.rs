//! Frames of the signaling protocol (SPEC.md §8.2), one per transport message. Both
//! directions start with the version and decode strictly (`codec`); a field over its maximum
//! decodes as `DecodeError::TooLarge`, so the server can answer `TooLarge` rather than
//! `Malformed`.

use serde::{Deserialize, Serialize};

use super::{PeerInfo, SignalError};
use crate::codec::{self, Canonical, DecodeError};
use crate::hash::Digest;
use crate::keys::PublicKey;

/// No frame is longer, in either direction: room for the largest relay and the largest
/// `Joined`, small enough that a server holds many in flight.
pub const FRAME_SIZE_MAX: usize = 16 * 1024;
/// A relay payload: a Noise handshake message or an SDP offer fits many times over, and
/// fallback frames are chunked to it by the layer above.
pub const PAYLOAD_SIZE_MAX: usize = 8 * 1024;
/// A transport address (an URL, a socket address, an ICE candidate summary).
pub const ADDR_SIZE_MAX: usize = 64;
/// Peers one `Joined` lists: 64 × 97 bytes stays well inside `FRAME_SIZE_MAX`.
pub const JOINED_PEERS_MAX: usize = 64;

/// A frame sent by a client to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientFrame {
    pub version: u8,
    pub message: ClientMessage,
}

/// What a client asks of the server. Variant indices are the wire values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientMessage {
    Join { topic: Digest, info: PeerInfo },
    Leave { topic: Digest },
    Relay { topic: Digest, to: PublicKey, payload: Vec<u8> },
    Ping,
}

/// A frame sent by the server to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFrame {
    pub version: u8,
    pub message: ServerMessage,
}

/// What the server tells a client. Variant indices are the wire values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerMessage {
    Joined { topic: Digest, peers: Vec<PeerInfo> },
    PeerJoined { topic: Digest, info: PeerInfo },
    PeerLeft { topic: Digest, peer: PublicKey },
    Relayed { topic: Digest, from: PublicKey, payload: Vec<u8> },
    Pong,
    Error { kind: SignalError, topic: Option<Digest> },
}

impl ClientFrame {
    pub fn new(message: ClientMessage) -> Self {
        ClientFrame { version: codec::VERSION, message }
    }
}

impl ServerFrame {
    pub fn new(message: ServerMessage) -> Self {
        ServerFrame { version: codec::VERSION, message }
    }
}

impl Canonical for ClientFrame {
    const ENCODED_SIZE_MAX: usize = FRAME_SIZE_MAX;

    fn validate(&self) -> Result<(), DecodeError> {
        codec::check_version(self.version)?;
        match &self.message {
            ClientMessage::Join { info, .. } => check_info(info),
            ClientMessage::Relay { payload, .. } => check_payload(payload),
            ClientMessage::Leave { .. } | ClientMessage::Ping => Ok(()),
        }
    }
}

impl Canonical for ServerFrame {
    const ENCODED_SIZE_MAX: usize = FRAME_SIZE_MAX;

    fn validate(&self) -> Result<(), DecodeError> {
        codec::check_version(self.version)?;
        match &self.message {
            ServerMessage::Joined { peers, .. } => {
                if peers.len() > JOINED_PEERS_MAX {
                    return Err(DecodeError::TooLarge { len: peers.len(), max: JOINED_PEERS_MAX });
                }
                // One entry per key, in key order: the one canonical form of the snapshot.
                if !peers.windows(2).all(|w| w[0].peer < w[1].peer) {
                    return Err(DecodeError::Invalid("Joined peers must be strictly ascending by key"));
                }
                peers.iter().try_for_each(check_info)
            }
            ServerMessage::PeerJoined { info, .. } => check_info(info),
            ServerMessage::Relayed { payload, .. } => check_payload(payload),
            ServerMessage::PeerLeft { .. } | ServerMessage::Pong | ServerMessage::Error { .. } => Ok(()),
        }
    }
}

fn check_info(info: &PeerInfo) -> Result<(), DecodeError> {
    if info.addr.len() > ADDR_SIZE_MAX {
        return Err(DecodeError::TooLarge { len: info.addr.len(), max: ADDR_SIZE_MAX });
    }
    Ok(())
}

fn check_payload(payload: &[u8]) -> Result<(), DecodeError> {
    if payload.len() > PAYLOAD_SIZE_MAX {
        return Err(DecodeError::TooLarge { len: payload.len(), max: PAYLOAD_SIZE_MAX });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(byte: u8, addr_len: usize) -> PeerInfo {
        PeerInfo { peer: PublicKey([byte; 32]), addr: vec![b'a'; addr_len] }
    }

    #[test]
    fn largest_frames_fit() {
        let relay = ClientFrame::new(ClientMessage::Relay {
            topic: Digest([1; 32]),
            to: PublicKey([2; 32]),
            payload: vec![0; PAYLOAD_SIZE_MAX],
        });
        assert!(relay.to_bytes().len() <= FRAME_SIZE_MAX);
        assert_eq!(ClientFrame::from_bytes(&relay.to_bytes()), Ok(relay));
        let peers = (0..JOINED_PEERS_MAX as u8).map(|i| info(i, ADDR_SIZE_MAX)).collect();
        let joined = ServerFrame::new(ServerMessage::Joined { topic: Digest([1; 32]), peers });
        assert!(joined.to_bytes().len() <= FRAME_SIZE_MAX);
        assert_eq!(ServerFrame::from_bytes(&joined.to_bytes()), Ok(joined));
    }

    #[test]
    fn oversized_fields_are_too_large() {
        let join = ClientFrame::new(ClientMessage::Join { topic: Digest([1; 32]), info: info(1, ADDR_SIZE_MAX + 1) });
        assert!(matches!(ClientFrame::from_bytes(&join.to_bytes()), Err(DecodeError::TooLarge { .. })));
        let relay = ClientFrame::new(ClientMessage::Relay {
            topic: Digest([1; 32]),
            to: PublicKey([2; 32]),
            payload: vec![0; PAYLOAD_SIZE_MAX + 1],
        });
        assert!(matches!(ClientFrame::from_bytes(&relay.to_bytes()), Err(DecodeError::TooLarge { .. })));
    }

    #[test]
    fn unsorted_or_duplicate_snapshot_is_refused() {
        for peers in [vec![info(2, 0), info(1, 0)], vec![info(1, 0), info(1, 1)]] {
            let joined = ServerFrame::new(ServerMessage::Joined { topic: Digest([1; 32]), peers });
            assert!(ServerFrame::from_bytes(&joined.to_bytes()).is_err());
        }
    }

    #[test]
    fn variant_indices_are_the_documented_ones() {
        // version 1, variant 3 (Ping); version 1, variant 4 (Pong); Error: 5, kind 7, no topic.
        assert_eq!(ClientFrame::new(ClientMessage::Ping).to_bytes(), [1, 3]);
        assert_eq!(ServerFrame::new(ServerMessage::Pong).to_bytes(), [1, 4]);
        let error = ServerMessage::Error { kind: SignalError::ServerFull, topic: None };
        assert_eq!(ServerFrame::new(error).to_bytes(), [1, 5, 7, 0]);
    }
}
