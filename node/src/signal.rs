//! `spaces signal`: the signaling server (SPEC.md §8.3) over TCP. The rules are all in the
//! sans-IO `SignalServer`; this loop accepts sockets, tells it each connection's `Source`, moves
//! frames and closes what it says to close.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use spaces_protocol::signal::server::{ServerInput, ServerOutput, SignalServer};
use spaces_protocol::signal::{ClientId, SignalLimits, Source};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::driver::{SIGNAL_FRAME_SIZE_MAX, now};
use crate::error::NodeError;
use crate::net::{self, Link, NetEvent};

/// Sockets held beyond the server's own `clients_max`: the server refuses those with an
/// `Error` (it needs to see them to say so), but a flood of sockets must not make the driver
/// hold more than a bounded few past the table.
const SOCKETS_OVER_MAX: usize = 64;

/// The `Source` of SPEC.md §8.3: an IPv4 address as its IPv4-mapped IPv6 form, an IPv6
/// address as its /64 (the unit one party controls), never anything the client sends.
pub fn source_of(addr: &SocketAddr) -> Source {
    match addr.ip() {
        IpAddr::V4(v4) => Source(v4.to_ipv6_mapped().octets()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Source(v4.to_ipv6_mapped().octets()),
            None => {
                let mut prefix = [0u8; 16];
                prefix[..8].copy_from_slice(&v6.octets()[..8]);
                Source(prefix)
            }
        },
    }
}

pub async fn serve(listen: SocketAddr, ready: impl FnOnce(SocketAddr)) -> Result<(), NodeError> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| NodeError::Listen { addr: listen.to_string(), detail: e.to_string() })?;
    let local =
        listener.local_addr().map_err(|e| NodeError::Listen { addr: listen.to_string(), detail: e.to_string() })?;
    let limits = SignalLimits::default();
    let sockets_max = limits.clients_max + SOCKETS_OVER_MAX;
    let mut server = SignalServer::new(limits);
    let (tx, mut rx) = mpsc::channel::<NetEvent<u64>>(net::EVENT_QUEUE_MAX);
    let mut next = 0u64;
    net::accept_loop(
        listener,
        SIGNAL_FRAME_SIZE_MAX,
        move || {
            next += 1;
            next
        },
        tx,
    );
    tracing::info!(listen = %local, "signaling server listening");
    ready(local);
    let mut links: BTreeMap<u64, Link> = BTreeMap::new();
    let mut timer: Option<spaces_protocol::Timestamp> = None;
    loop {
        let wake =
            timer.map(|t| Instant::now() + Duration::from_millis(t.as_millis().saturating_sub(now().as_millis())));
        let far = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { return Ok(()) };
                handle(&mut server, &mut links, ev, sockets_max);
            }
            _ = tokio::time::sleep_until(wake.unwrap_or(far)), if wake.is_some() => {
                server.handle_input(ServerInput::Timeout, now());
            }
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("signaling server stopping");
                return Ok(());
            }
        }
        timer = flush(&mut server, &mut links);
    }
}

fn handle(server: &mut SignalServer, links: &mut BTreeMap<u64, Link>, ev: NetEvent<u64>, sockets_max: usize) {
    match ev {
        NetEvent::Accepted { key, link } => {
            if links.len() >= sockets_max {
                tracing::info!(client = key, from = %link.peer, "refused: too many sockets");
                return;
            }
            let source = source_of(&link.peer);
            tracing::info!(client = key, from = %link.peer, "connected");
            links.insert(key, link);
            server.handle_input(ServerInput::Connected { client: ClientId(key), source }, now());
        }
        NetEvent::Frame { key, bytes } if links.contains_key(&key) => {
            tracing::debug!(client = key, len = bytes.len(), "frame");
            server.handle_input(ServerInput::Frame { client: ClientId(key), bytes: &bytes }, now());
        }
        NetEvent::Closed { key } if links.remove(&key).is_some() => {
            tracing::info!(client = key, "disconnected");
            server.handle_input(ServerInput::Disconnected { client: ClientId(key) }, now());
        }
        NetEvent::Frame { .. } | NetEvent::Closed { .. } | NetEvent::Dialled { .. } => {}
    }
}

/// Carries out the server's outputs; returns when to wake it.
fn flush(server: &mut SignalServer, links: &mut BTreeMap<u64, Link>) -> Option<spaces_protocol::Timestamp> {
    let mut timer = None;
    while let Some(out) = server.poll_output() {
        match out {
            ServerOutput::Transmit { client, bytes } => {
                if let Some(link) = links.get(&client.0)
                    && !link.send(bytes)
                {
                    // A client that does not read its answers is dropped, not buffered for.
                    links.remove(&client.0);
                    tracing::info!(client = client.0, "disconnected: not reading");
                    server.handle_input(ServerInput::Disconnected { client }, now());
                }
            }
            ServerOutput::Disconnect { client } => {
                if links.remove(&client.0).is_some() {
                    tracing::info!(client = client.0, "disconnected by the server");
                }
            }
            ServerOutput::Timeout(t) => timer = Some(t),
        }
    }
    timer.or_else(|| server.poll_timeout())
}
