//! `signaling.json`: the signaling frames of SPEC.md §8.2, both directions, decoded strictly;
//! and the server's behaviour over scripts of inputs (§8.3), its sharing rule included.

use serde_json::{Value, json};
use spaces_protocol::Canonical;
use spaces_protocol::hash::Digest;
use spaces_protocol::keys::PublicKey;
use spaces_protocol::signal::wire::{ClientFrame, ClientMessage, ServerFrame, ServerMessage};
use spaces_protocol::signal::{PeerInfo, SignalError};

use super::{invalid, valid};
use crate::file::{Test, VectorFile};
use crate::json::hex;
use crate::ops;

const CLIENT: &str = "signal.decode_client_frame";
const SERVER: &str = "signal.decode_server_frame";

fn notes(f: &mut VectorFile) {
    f.note("Valid", "Functionality", "A canonical frame and what it says.");
    f.note("WrongVersion", "Versioning", "A version byte other than 1.");
    f.note("UnknownVariant", "Versioning", "A message index the version does not define.");
    f.note("Oversize", "Resource", "A frame, payload, address or peer list over its maximum (§8.5).");
    f.note("UnsortedSet", "Malleability", "Joined peers not strictly ascending by key (§8.2).");
    f.note("Malformed", "Robustness", "Truncated, trailing or non-minimal bytes.");
    f.note("Fairness", "Resource", "Full tables shared out per source address (§8.3.8).");
}

fn info(b: u8, addr: &[u8]) -> PeerInfo {
    PeerInfo { peer: PublicKey([b; 32]), addr: addr.to_vec() }
}

const TOPIC: Digest = Digest([0x70; 32]);

fn input(b: &[u8]) -> Value {
    json!({ "bytes": hex(b) })
}

fn bad(t: &mut Vec<Test>, op: &'static str, comment: &str, flag: &'static str, b: Vec<u8>) {
    t.push(invalid(op, comment, &[flag], input(&b)));
}

fn client_frames(f: &mut VectorFile) {
    let topic = TOPIC;
    let c = |m| ClientFrame::new(m).to_bytes();
    let join = c(ClientMessage::Join { topic, info: info(1, b"10.0.0.1:4000") });
    let relay = c(ClientMessage::Relay { topic, to: PublicKey([2; 32]), payload: vec![9; 300] });
    let t = f.group(CLIENT);
    t.push(valid(CLIENT, "Join", &["Valid"], input(&join)));
    t.push(valid(CLIENT, "Leave", &["Valid"], input(&c(ClientMessage::Leave { topic }))));
    t.push(valid(CLIENT, "Relay, 300-byte payload", &["Valid"], input(&relay)));
    let ping = c(ClientMessage::Ping);
    assert_eq!(ping, [1, 3], "SPEC §8.2: Ping is 01 03");
    t.push(valid(CLIENT, "Ping (01 03)", &["Valid"], input(&ping)));
    t.push(valid(
        CLIENT,
        "Relay with the largest payload, 8192 bytes",
        &["Valid"],
        input(&c(ClientMessage::Relay { topic, to: PublicKey([2; 32]), payload: vec![0; 8192] })),
    ));
    bad(t, CLIENT, "version 2", "WrongVersion", [&[2u8][..], &ping[1..]].concat());
    bad(t, CLIENT, "message index 4", "UnknownVariant", vec![1, 4]);
    bad(t, CLIENT, "Ping with a trailing byte", "Malformed", vec![1, 3, 0]);
    bad(t, CLIENT, "Join cut inside the topic", "Malformed", join[..20].to_vec());
    bad(t, CLIENT, "Join: message index written 80 00", "Malformed", [&[1u8, 0x80, 0x00][..], &join[2..]].concat());
    bad(
        t,
        CLIENT,
        "Relay with an 8193-byte payload",
        "Oversize",
        c(ClientMessage::Relay { topic, to: PublicKey([2; 32]), payload: vec![0; 8193] }),
    );
    bad(
        t,
        CLIENT,
        "Join with a 65-byte address",
        "Oversize",
        c(ClientMessage::Join { topic, info: info(1, &[b'a'; 65]) }),
    );
    bad(t, CLIENT, "16385 bytes", "Oversize", vec![1; 16385]);
}

fn server_frames(f: &mut VectorFile) {
    let topic = TOPIC;
    let s = |m| ServerFrame::new(m).to_bytes();
    let joined = s(ServerMessage::Joined { topic, peers: vec![info(1, b"a"), info(2, b"b")] });
    let t = f.group(SERVER);
    t.push(valid(SERVER, "Joined with two peers", &["Valid"], input(&joined)));
    t.push(valid(SERVER, "Joined, nobody else", &["Valid"], input(&s(ServerMessage::Joined { topic, peers: vec![] }))));
    t.push(valid(SERVER, "PeerJoined", &["Valid"], input(&s(ServerMessage::PeerJoined { topic, info: info(3, b"") }))));
    t.push(valid(
        SERVER,
        "PeerLeft",
        &["Valid"],
        input(&s(ServerMessage::PeerLeft { topic, peer: PublicKey([3; 32]) })),
    ));
    t.push(valid(
        SERVER,
        "Relayed",
        &["Valid"],
        input(&s(ServerMessage::Relayed { topic, from: PublicKey([4; 32]), payload: b"hi".to_vec() })),
    ));
    t.push(valid(SERVER, "Pong (01 04)", &["Valid"], input(&s(ServerMessage::Pong))));
    let full = s(ServerMessage::Error { kind: SignalError::ServerFull, topic: None });
    assert_eq!(full, [1, 5, 7, 0], "SPEC §8.2: Error{{ServerFull}} is 01 05 07 00");
    t.push(valid(SERVER, "Error{ServerFull}, no topic (01 05 07 00)", &["Valid"], input(&full)));
    t.push(valid(
        SERVER,
        "Error{NotJoined} with a topic",
        &["Valid"],
        input(&s(ServerMessage::Error { kind: SignalError::NotJoined, topic: Some(topic) })),
    ));
    bad(
        t,
        SERVER,
        "Joined peers in descending order",
        "UnsortedSet",
        s(ServerMessage::Joined { topic, peers: vec![info(2, b""), info(1, b"")] }),
    );
    bad(
        t,
        SERVER,
        "Joined lists one peer twice",
        "UnsortedSet",
        s(ServerMessage::Joined { topic, peers: vec![info(1, b"a"), info(1, b"b")] }),
    );
    bad(
        t,
        SERVER,
        "Joined lists 65 peers",
        "Oversize",
        s(ServerMessage::Joined { topic, peers: (0..65).map(|i| info(i, b"")).collect() }),
    );
    bad(t, SERVER, "error kind 10", "UnknownVariant", vec![1, 5, 10, 0]);
    bad(t, SERVER, "error topic option tag 02", "Malformed", vec![1, 5, 7, 2]);
    bad(t, SERVER, "version 0", "WrongVersion", vec![0, 4]);
    // Appended with the sharing rule of SPEC §8.3.8 (issue 10); "error kind 10" above was
    // "error kind 8" before it (errata in vectors/README.md).
    t.push(valid(SERVER, "Error{SourceFull}, no topic (01 05 08 00)", &["Valid"], input(&[1, 5, 8, 0])));
    t.push(valid(
        SERVER,
        "Error{Evicted} with a topic",
        &["Valid"],
        input(&s(ServerMessage::Error { kind: SignalError::Evicted, topic: Some(topic) })),
    ));
}

const SERVE: &str = "signal.serve";

/// Small limits, so that a few steps fill every table.
fn small_limits(clients: u64, per_source: u64, topics: u64) -> Value {
    json!({
        "clientsMax": clients, "clientsPerSourceMax": per_source, "topicsMax": topics,
        "topicsPerClientMax": 2, "peersPerTopicMax": 4, "ratePerS": 50, "rateBurstMax": 300,
        "registrationTtlMs": 60_000, "violationsMax": 16,
    })
}

fn connect(at: u64, client: u64, source: u8) -> Value {
    json!({ "atMs": at, "op": "connect", "client": client, "source": hex([source; 16]) })
}

fn send(at: u64, client: u64, m: ClientMessage) -> Value {
    json!({ "atMs": at, "op": "frame", "client": client, "bytes": hex(ClientFrame::new(m).to_bytes()) })
}

fn join(at: u64, client: u64, t: u8, who: u8) -> Value {
    send(at, client, ClientMessage::Join { topic: Digest([t; 32]), info: info(who, &[who]) })
}

fn script(limits: Value, steps: Vec<Value>) -> Value {
    json!({ "limits": limits, "startMs": 1_700_000_000_000u64, "steps": steps })
}

/// Whether step `i` of a served script sent `kind` as an error (to anyone).
fn says_error(out: &Value, i: usize, kind: SignalError) -> bool {
    out["outputs"][i].as_array().into_iter().flatten().any(|o| {
        o["bytes"].as_str().is_some_and(|b| {
            let bytes = crate::json::parse_hex(b, "bytes").unwrap_or_default();
            matches!(ServerFrame::from_bytes(&bytes), Ok(f) if matches!(f.message, ServerMessage::Error { kind: k, .. } if k == kind))
        })
    })
}

fn server_behaviour(f: &mut VectorFile) {
    let t = f.group(SERVE);
    let basics = script(
        small_limits(8, 8, 8),
        vec![
            connect(0, 1, 1),
            connect(0, 2, 2),
            join(10, 1, 7, 1),
            join(20, 2, 7, 2),
            send(
                30,
                1,
                ClientMessage::Relay { topic: Digest([7; 32]), to: PublicKey([2; 32]), payload: b"hi".to_vec() },
            ),
            send(40, 2, ClientMessage::Ping),
            send(50, 2, ClientMessage::Leave { topic: Digest([7; 32]) }),
            send(60, 2, ClientMessage::Leave { topic: Digest([7; 32]) }),
            json!({ "atMs": 60_040, "op": "timeout" }),
            json!({ "atMs": 60_060, "op": "timeout" }),
        ],
    );
    t.push(valid(SERVE, "join, PeerJoined, relay, ping, leave, NotJoined, expiry (§8.3)", &["Valid"], basics));
    let capped = script(
        small_limits(4, 2, 4),
        vec![
            connect(0, 1, 0xa),
            connect(0, 2, 0xa),
            connect(0, 3, 0xa),
            join(10, 1, 1, 1),
            join(10, 1, 2, 1),
            join(10, 2, 3, 2),
            join(10, 2, 4, 2),
            connect(20, 4, 0xb),
            join(30, 4, 9, 4),
            join(40, 4, 8, 4),
            connect(45, 5, 0xb),
            join(50, 5, 6, 5),
        ],
    );
    let out = ops::run(SERVE, &capped).expect("the script runs");
    assert!(says_error(&out, 2, SignalError::SourceFull), "a third connection from one source: {out}");
    assert!(says_error(&out, 8, SignalError::Evicted) && says_error(&out, 9, SignalError::Evicted));
    assert!(says_error(&out, 11, SignalError::ServerFull), "2 against 2: the newcomer has its share: {out}");
    t.push(valid(SERVE, "a full topic table is shared out per source (§8.3.8)", &["Valid", "Fairness"], capped));
    let connections = script(
        small_limits(3, 3, 8),
        vec![
            connect(0, 1, 0xa),
            connect(0, 2, 0xa),
            connect(0, 3, 0xa),
            connect(10, 4, 0xb),
            connect(20, 5, 0xc),
            connect(30, 6, 0xd),
        ],
    );
    let out = ops::run(SERVE, &connections).expect("the script runs");
    assert!(says_error(&out, 3, SignalError::Evicted) && says_error(&out, 4, SignalError::Evicted));
    assert!(says_error(&out, 5, SignalError::ServerFull), "1, 1, 1: shared");
    t.push(valid(
        SERVE,
        "a full connection table is shared out per source (§8.3.8)",
        &["Valid", "Fairness"],
        connections,
    ));
    let moved = script(
        small_limits(8, 8, 3),
        vec![
            connect(0, 1, 1),
            connect(0, 2, 2),
            join(10, 1, 1, 1),
            join(20, 2, 1, 2),
            send(30, 1, ClientMessage::Leave { topic: Digest([1; 32]) }),
            join(40, 1, 2, 1),
            join(50, 1, 3, 1),
            connect(60, 3, 3),
            join(70, 3, 4, 3),
        ],
    );
    let out = ops::run(SERVE, &moved).expect("the script runs");
    assert!(says_error(&out, 8, SignalError::Evicted), "source 1 holds 2 of 3: {out}");
    t.push(valid(SERVE, "a topic's slot moves to a source still on it (§8.3.3)", &["Valid", "Fairness"], moved));
}

pub fn file() -> VectorFile {
    let mut f = VectorFile::new("signaling.json", "spaces/1 signaling frames");
    notes(&mut f);
    client_frames(&mut f);
    server_frames(&mut f);
    server_behaviour(&mut f);
    f
}
