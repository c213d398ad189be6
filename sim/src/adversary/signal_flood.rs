//! The signaling flooder: many connections from a few source addresses, each joining as
//! many fresh topics as the server lets it, kept alive with pings through the liveness phase.
//!
//! The server's memory stays bounded under it whatever it does; what this adversary tests
//! is availability: an honest device joining a new topic (an invitation's, a new space's)
//! must still be registered, or its guest never finds it and L2 fails. It reconnects after
//! a server restart, as a real flooder would.

use rand_core::RngCore;
use spaces_protocol::hash::Digest;
use spaces_protocol::signal::wire::{ClientFrame, ClientMessage};
use spaces_protocol::signal::{ClientId, PeerInfo};
use spaces_protocol::{Canonical, PublicKey};

use super::{Attack, roll};
use crate::world::{ADVERSARY_SOURCE, Ev, Phase, World};

/// Between two pings of one flooding connection: well inside the server's registration TTL.
const PING_EVERY_MS: u64 = 20_000;
/// Source addresses the flooder spreads its connections over, at most.
const SOURCES_MAX: u64 = 8;

#[derive(Default)]
pub struct Flood {
    /// The flooder's connections and the index of the source each comes from.
    conns: Vec<(ClientId, u64)>,
    sources: u64,
}

/// Schedules the flood at a random moment of the first half of the safety phase.
pub fn start(w: &mut World) {
    if w.cfg.adversaries.signal_flood_conns == 0 {
        return;
    }
    w.adversary.flood.sources = 1 + roll(w, SOURCES_MAX);
    let at = w.now + roll(w, w.cfg.safety_ms / 2);
    w.at(at, Ev::Attack(Attack::SignalFlood));
}

/// The first wave, or a later tick: every connection the server forgot (restart, expiry,
/// refusal) is opened again and refilled, the others ping.
pub fn tick(w: &mut World) {
    if w.phase == Phase::Done {
        return;
    }
    if w.server_up {
        let want = w.cfg.adversaries.signal_flood_conns as usize;
        let sources = w.adversary.flood.sources.max(1);
        let mut kept = Vec::new();
        for (client, source) in std::mem::take(&mut w.adversary.flood.conns) {
            if w.signal_clients.contains_key(&client) {
                w.server_frame(client, ClientFrame::new(ClientMessage::Ping).to_bytes());
                kept.push((client, source));
            }
        }
        w.adversary.flood.conns = kept;
        while w.adversary.flood.conns.len() < want {
            let source = w.adversary.flood.conns.len() as u64 % sources;
            let client = w.open_signal_client(None, ADVERSARY_SOURCE + 1 + source);
            w.stats.attack("signal-flood-connection");
            fill(w, client);
            w.adversary.flood.conns.push((client, source));
        }
    }
    w.after(PING_EVERY_MS, Ev::Attack(Attack::SignalFlood));
}

/// Joins fresh random topics until the server refuses this connection another one.
fn fill(w: &mut World, client: ClientId) {
    let per_client = w.server.limits().topics_per_client_max;
    for _ in 0..per_client {
        let (mut topic, mut key) = ([0u8; 32], [0u8; 32]);
        w.rng_adv.fill_bytes(&mut topic);
        w.rng_adv.fill_bytes(&mut key);
        let info = PeerInfo { peer: PublicKey(key), addr: b"sim://flooder".to_vec() };
        let join = ClientFrame::new(ClientMessage::Join { topic: Digest(topic), info }).to_bytes();
        w.server_frame(client, join);
        if !w.signal_clients.contains_key(&client) {
            return;
        }
    }
}
