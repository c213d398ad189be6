//! The summary flood (`Adversaries::summary_flood`): the insider, a member with links to honest
//! replicas, sends each of them a stream of summaries claiming to hold nothing of the spaces
//! they share. A `Have` is a hundred bytes; the answer to one is every entry the claimed
//! holder lacks, up to a batch (`BATCH_SIZE_MAX`, 512 KiB). A replica that answered each one
//! would upload without bound to any member, a reader included, and spend the CPU to seal it:
//! the traffic oracle R3 counts what honest devices send the insider.

use spaces_protocol::peer::SwarmLink;
use spaces_protocol::swarm::SwarmMessage;

use crate::world::{Phase, World};

/// Summaries per link and shared space on each tick of the world's workload: a few dozen a
/// second at most, which any device can send.
const HAVES_PER_TICK: usize = 16;

/// The insider's turn: during the safety phase, claim to hold nothing on every link.
pub fn tick(w: &mut World) {
    if !w.cfg.adversaries.summary_flood || w.phase != Phase::Safety {
        return;
    }
    let Some(i) = w.work.insider else { return };
    let now = w.local(i, w.now);
    if !w.nodes[i].up {
        return;
    }
    let Some(peer) = w.nodes[i].peer.as_mut() else { return };
    let links: Vec<SwarmLink> = peer.swarm_links();
    let mut sent = false;
    for link in links {
        for space in link.spaces {
            for _ in 0..HAVES_PER_TICK {
                peer.send_swarm(link.conn, &SwarmMessage::Have { space, feeds: Vec::new() }, now);
                sent = true;
            }
        }
    }
    if sent {
        w.stats.attack("summary-flood");
        w.flush_outputs(i);
    }
}
