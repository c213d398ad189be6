//! TCP with length-delimited frames: the transport of both the signaling server and the peer
//! connections. Each connection is two tasks (a reader that forwards frames into the loop's
//! one event channel, a writer that drains the connection's own queue); the loop that owns
//! the sans-IO machine is the only place where state lives, so nothing here decides anything.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

/// Frames waiting to be written on one connection. A peer that does not read fills it, and is
/// then dropped rather than making us hold its backlog (a limit on what a remote makes us hold).
pub const SEND_QUEUE_MAX: usize = 64;

/// Events from every connection of one loop, in one bounded channel: readers wait when the
/// loop is behind, so a fast sender slows down instead of growing our memory.
pub const EVENT_QUEUE_MAX: usize = 1024;

/// How long a dial may take before it counts as failed. Below the Peer's own connect deadline
/// (10 s), so the Peer hears `ConnectFailed` from us rather than timing out by itself.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// What the connection tasks tell the loop. `K` names a connection in the loop's terms.
#[derive(Debug)]
pub enum NetEvent<K> {
    /// A dial finished: `Ok` with the connection's send queue, or why it failed.
    Dialled {
        key: K,
        result: Result<Link, String>,
    },
    /// Someone connected to our listener.
    Accepted {
        key: K,
        link: Link,
    },
    Frame {
        key: K,
        bytes: Bytes,
    },
    /// The connection ended (either side, an error, or a frame over the bound).
    Closed {
        key: K,
    },
}

/// The loop's handle on one open connection: dropping it closes the connection once the
/// frames queued before have been written.
#[derive(Debug)]
pub struct Link {
    tx: mpsc::Sender<Bytes>,
    writer: tokio::task::JoinHandle<()>,
    pub peer: SocketAddr,
}

impl Link {
    /// Queues one frame. `false` when the queue is full or the connection is gone: the caller
    /// closes it, since a connection that cannot keep up is of no use.
    pub fn send(&self, bytes: Vec<u8>) -> bool {
        self.tx.try_send(Bytes::from(bytes)).is_ok()
    }

    /// Closes the connection after the frames already queued, returning the writer so a
    /// process about to exit can wait for them to leave.
    pub fn finish(self) -> tokio::task::JoinHandle<()> {
        self.writer
    }
}

/// The codec for one kind of connection: frames over `frame_size_max` end the connection
/// (the decoder errors before buffering them).
pub fn codec(frame_size_max: usize) -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder().length_field_type::<u32>().max_frame_length(frame_size_max).new_codec()
}

/// The reading half of an opened connection, started once the loop knows the connection, so
/// that no frame reaches the loop before the event that names it.
pub struct Reader(FramedRead<OwnedReadHalf, LengthDelimitedCodec>);

impl Reader {
    pub fn spawn<K: Copy + Send + 'static>(self, key: K, events: mpsc::Sender<NetEvent<K>>) {
        let mut source = self.0;
        tokio::spawn(async move {
            while let Some(Ok(frame)) = source.next().await {
                if events.send(NetEvent::Frame { key, bytes: frame.freeze() }).await.is_err() {
                    return;
                }
            }
            let _ = events.send(NetEvent::Closed { key }).await;
        });
    }
}

/// Starts the writer of an open connection; returns its send queue and its reader.
pub fn open(stream: TcpStream, frame_size_max: usize) -> std::io::Result<(Link, Reader)> {
    let peer = stream.peer_addr()?;
    stream.set_nodelay(true)?;
    let (read, write) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Bytes>(SEND_QUEUE_MAX);
    let mut sink = FramedWrite::new(write, codec(frame_size_max));
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if sink.send(frame).await.is_err() {
                break;
            }
        }
        // Every queued frame is written (or the socket failed): a clean end for the other side.
        let _ = SinkExt::<Bytes>::close(&mut sink).await;
    });
    Ok((Link { tx, writer, peer }, Reader(FramedRead::new(read, codec(frame_size_max)))))
}

/// Dials `addr` in the background and reports `Dialled`; the connection's frames follow.
pub fn dial<K: Copy + Send + 'static>(
    addr: SocketAddr,
    key: K,
    frame_size_max: usize,
    events: mpsc::Sender<NetEvent<K>>,
) {
    tokio::spawn(async move {
        let opened = match tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => open(stream, frame_size_max).map_err(|e| e.to_string()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out".to_owned()),
        };
        match opened {
            Ok((link, reader)) => {
                if events.send(NetEvent::Dialled { key, result: Ok(link) }).await.is_ok() {
                    reader.spawn(key, events);
                }
            }
            Err(e) => {
                let _ = events.send(NetEvent::Dialled { key, result: Err(e) }).await;
            }
        }
    });
}

/// Accepts connections on `listener` for as long as the loop listens, naming each with
/// `next_key` and reporting it `Accepted` before its first frame.
pub fn accept_loop<K: Copy + Send + 'static>(
    listener: TcpListener,
    frame_size_max: usize,
    mut next_key: impl FnMut() -> K + Send + 'static,
    events: mpsc::Sender<NetEvent<K>>,
) {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of descriptors or similar: wait rather than spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let Ok((link, reader)) = open(stream, frame_size_max) else { continue };
            let key = next_key();
            if events.send(NetEvent::Accepted { key, link }).await.is_err() {
                return;
            }
            reader.spawn(key, events.clone());
        }
    });
}
