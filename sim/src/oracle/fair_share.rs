//! S7 fair share: the signaling server refuses an honest device room (a connection, a topic,
//! or a registration it evicts) only when that device's source already holds about its fair
//! share of the table: `held + 1 >= capacity / sources`, where `sources` counts the source
//! addresses that hold anything and `held` what the refused source holds (SPEC §8.6).
//!
//! Memory bounds alone keep the server alive under a flood; this keeps it useful. The share
//! is computed from what the simulator knows (who connected from where, how many topics each
//! connection is on), not from the server's own accounting, so a server that charges the
//! wrong source or forgets to evict fails here.

use std::collections::BTreeMap;

use spaces_protocol::Canonical;
use spaces_protocol::signal::wire::{ServerFrame, ServerMessage};
use spaces_protocol::signal::{ClientId, SignalError};

use crate::world::{SignalConn, World};

/// The server sent `bytes` to `client`, an honest node's connection (before any lie).
pub fn answered(w: &mut World, client: ClientId, bytes: &[u8]) {
    let Ok(frame) = ServerFrame::from_bytes(bytes) else { return };
    let ServerMessage::Error { kind, topic } = frame.message else { return };
    if !is_room_refusal(kind) {
        return;
    }
    let Some(conn) = w.signal_clients.get(&client).copied() else { return };
    if !conn.owner.is_some_and(|n| w.nodes[n].is_honest()) {
        return;
    }
    let limits = *w.server.limits();
    // Per source: (connections, registrations).
    let mut held: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    for (id, SignalConn { source, .. }) in &w.signal_clients {
        let entry = held.entry(*source).or_default();
        entry.0 += 1;
        entry.1 += w.server.topics_of(*id);
    }
    let mine = held.get(&conn.source).copied().unwrap_or_default();
    let (what, have, capacity, sources) = match topic {
        Some(_) => ("topics", mine.1, limits.topics_max, held.values().filter(|h| h.1 > 0).count()),
        None => ("connections", mine.0, limits.clients_max, held.len()),
    };
    let share = capacity / sources.max(1);
    if have + 1 < share {
        let node = conn.owner.unwrap_or(usize::MAX);
        w.fail(
            "S7",
            format!(
                "the signaling server refused node {node} room ({kind:?}) holding {have} {what}, below its fair \
                 share {share} of {capacity} over {sources} sources"
            ),
        );
    }
}

/// The answers that mean "no room for you", as opposed to a fault of the request.
fn is_room_refusal(kind: SignalError) -> bool {
    matches!(kind, SignalError::ServerFull | SignalError::SourceFull | SignalError::Evicted)
}
