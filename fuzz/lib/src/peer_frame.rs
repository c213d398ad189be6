//! Peer frames: the envelope of every connection between two `Peer`s (SPEC §9.1).
//!
//! Invariants: decoding is total; an accepted `PeerFrame` re-encodes to the same bytes; its
//! inner bytes go through the decoder of their kind (invitation `Frame` or `SwarmFrame`), whose
//! own round trip must hold as well.

use spaces_protocol::invitation::wire::Frame;
use spaces_protocol::peer::{PeerBody, PeerFrame};
use spaces_protocol::swarm::SwarmFrame;

use crate::support::round_trip;

pub fn run(data: &[u8]) {
    let Some(frame) = round_trip::<PeerFrame>(data) else { return };
    assert_eq!(frame.version, 1);
    match frame.body {
        PeerBody::Invitation(inner) => {
            round_trip::<Frame>(&inner);
        }
        PeerBody::Swarm(inner) => {
            round_trip::<SwarmFrame>(&inner);
        }
    }
}
