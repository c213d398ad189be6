//! Seed corpora (`fuzz/corpus/<target>/`): the hex inputs of the published vectors
//! (`vectors/*.json`), routed to the targets whose decoders they exercise, and a few encoded
//! values built here (a credential with a device chain, feed entries, a client snapshot, a host
//! record, frames of every kind). `cargo run -p spaces-fuzz --bin seed-corpus` rewrites them.

use std::collections::BTreeMap;

use spaces_protocol::Canonical;
use spaces_protocol::fixture::SpaceFixture;

use crate::support::rng;

/// Which targets a vector file feeds.
const ROUTES: &[(&str, &[&str])] = &[
    ("codes.json", &["code"]),
    ("credentials.json", &["credential", "membership"]),
    ("encoding.json", &["credential", "feed", "snapshot"]),
    ("feeds.json", &["feed"]),
    ("flows.json", &["invitation_frame", "peer_frame", "host", "guest"]),
    ("handshake.json", &["invitation_frame", "host", "guest"]),
    ("items.json", &["feed"]),
    ("membership.json", &["membership", "credential"]),
    ("replication.json", &["swarm_frame", "feed"]),
    ("signaling.json", &["signal_frame", "signal_server"]),
];

/// Inputs longer than this are left out, to keep the corpora small.
const SEED_SIZE_MAX: usize = 16 * 1024;
/// Seeds per target taken from the vectors, at most.
const VECTOR_SEEDS_MAX: usize = 64;

/// Every seed: target name to inputs (deduplicated, in a stable order).
pub fn seeds(vectors_dir: &std::path::Path) -> BTreeMap<&'static str, Vec<Vec<u8>>> {
    let mut out: BTreeMap<&'static str, Vec<Vec<u8>>> = BTreeMap::new();
    for (file, targets) in ROUTES {
        let text = std::fs::read_to_string(vectors_dir.join(file)).expect("a vector file");
        let json: serde_json::Value = serde_json::from_str(&text).expect("vector JSON");
        let mut found = Vec::new();
        hex_inputs(&json, false, *file == "codes.json", &mut found);
        for target in *targets {
            let seeds = out.entry(target).or_default();
            seeds.extend(found.iter().filter(|b| b.len() <= SEED_SIZE_MAX).take(VECTOR_SEEDS_MAX).cloned());
        }
    }
    for (target, bytes) in built().into_iter().chain(duel_scripts()) {
        out.entry(target).or_default().push(bytes);
    }
    for seeds in out.values_mut() {
        seeds.sort();
        seeds.dedup();
    }
    out
}

/// Hex strings under an `input` key, anywhere in the document (with `text`, the strings
/// themselves too: invite codes are text).
fn hex_inputs(v: &serde_json::Value, in_input: bool, text: bool, out: &mut Vec<Vec<u8>>) {
    match v {
        serde_json::Value::String(s) if in_input => {
            if let Ok(b) = hex::decode(s) {
                out.push(b);
            }
            if text {
                out.push(s.as_bytes().to_vec());
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| hex_inputs(i, in_input, text, out)),
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                hex_inputs(child, in_input || k == "input", text, out);
            }
        }
        _ => {}
    }
}

/// Values encoded here, one or a few per target.
fn built() -> Vec<(&'static str, Vec<u8>)> {
    use spaces_protocol::Client;
    use spaces_protocol::Timestamp;
    use spaces_protocol::invitation::host::{HostOutput, HostParams, InvitationHost};
    use spaces_protocol::invitation::{AuthMethod, Kind, Limits};
    use spaces_protocol::peer::{PeerBody, PeerFrame};
    use spaces_protocol::signal::wire::{ClientFrame, ClientMessage};

    let mut rng = rng(3);
    let fixture = SpaceFixture::new(&mut rng);
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();
    for c in &fixture.genesis {
        out.push(("credential", c.to_bytes()));
    }
    let entry = fixture.owner.data_entry(0, None, vec![fixture.tip()], 1, Vec::new());
    out.push(("feed", entry.to_bytes()));
    let now = Timestamp::from_millis(1_700_000_000_000);
    let mut client = Client::create_identity(&mut rng, now);
    let space = client.create_space(&mut rng, now);
    out.push(("snapshot", client.snapshot().to_bytes()));
    let params = HostParams {
        kind: Kind::Space,
        auth: AuthMethod::Pin,
        role: spaces_protocol::Role::Editor,
        space: Some(space),
        guest: None,
        expires_at: now.saturating_add_millis(3_600_000),
        use_limit: 1,
        delegation: None,
    };
    let noise = client.identity().noise_keypair().clone();
    let (mut host, code) = InvitationHost::create(params, &noise, Limits::default(), now, &mut rng).expect("params");
    while let Some(o) = host.poll_output() {
        if let HostOutput::Persist(r) = o {
            out.push(("snapshot", r.to_bytes()));
        }
    }
    out.push(("code", code.encode().into_bytes()));
    out.push(("code", code.payload().to_vec()));
    let join = ClientFrame::new(ClientMessage::Join {
        topic: code.topic(),
        info: spaces_protocol::signal::PeerInfo { peer: client.device_keypair().public(), addr: b"addr".to_vec() },
    });
    out.push(("signal_frame", join.to_bytes()));
    let peer = PeerFrame { version: 1, body: PeerBody::Swarm(vec![1, 0, 0]) };
    out.push(("peer_frame", peer.to_bytes()));
    out
}

/// Scripts for the `host` and `guest` targets, encoded the way `arbitrary` reads them, so the
/// fuzzer starts from complete flows (an honest guest admitted; a budget burned by wrong PINs;
/// a restart in the middle) rather than having to discover each of a flow's ten steps.
pub fn duel_scripts() -> Vec<(&'static str, Vec<u8>)> {
    use crate::duel::Step::{self, *};
    let flow = |knows_pin| vec![AddGuest { knows_pin }, Connect { g: 0 }, Pump, Pin { g: 0, wrong: 0 }, Pump];
    let honest = flow(true);
    let mut burn = flow(false);
    for _ in 0..3 {
        burn.extend([Pin { g: 0, wrong: 0 }, Pump, Connect { g: 0 }, Pump]);
    }
    let mut restart = flow(false);
    restart.extend([RestartHost, Connect { g: 0 }, Pump, Pin { g: 0, wrong: 1 }, Pump, Wait { ms: 0, scale: false }]);
    let mut two = flow(false);
    two.extend([AddGuest { knows_pin: true }, Connect { g: 1 }, Pump, Pin { g: 1, wrong: 0 }, Pump]);
    let mut replay = flow(true);
    replay.extend([Replay { g: 0, index: 3, raw: Some(0) }, Replay { g: 0, index: 2, raw: None }, Close { g: 0 }]);
    let scripts: Vec<(&str, Vec<Step>)> = vec![
        ("guest", honest.clone()),
        ("guest", two.clone()),
        ("guest", replay),
        ("host", flow(false)),
        ("host", burn),
        ("host", restart),
        ("host", two),
    ];
    scripts.into_iter().map(|(target, steps)| (target, encode(&steps))).collect()
}

/// The bytes `arbitrary` decodes into the seed 0 and then `steps`, checked by decoding them.
fn encode(steps: &[crate::duel::Step]) -> Vec<u8> {
    use arbitrary::{Arbitrary, Unstructured};
    let mut out = 0u64.to_le_bytes().to_vec();
    for step in steps {
        let start = out.len();
        out.extend(tag(step));
        out.extend(fields(step));
        let decoded = crate::duel::Step::arbitrary(&mut Unstructured::new(&out[start..])).expect("decodes");
        assert_eq!(format!("{decoded:?}"), format!("{step:?}"), "the seed encoder disagrees with arbitrary");
    }
    out
}

/// The four bytes that make `arbitrary` pick this variant: it maps a `u32` to one of `count`
/// variants as `(u32 * count) >> 32`.
fn tag(step: &crate::duel::Step) -> [u8; 4] {
    use arbitrary::{Arbitrary, Unstructured};
    const COUNT: u64 = 18;
    let index = variant_index(step);
    let v = ((index << 32).div_ceil(COUNT)) as u32;
    let le = v.to_le_bytes();
    if u32::arbitrary(&mut Unstructured::new(&le)).ok() == Some(v) { le } else { v.to_be_bytes() }
}

fn variant_index(step: &crate::duel::Step) -> u64 {
    use crate::duel::Step::*;
    match step {
        AddGuest { .. } => 0,
        Connect { .. } => 1,
        Pin { .. } => 12,
        Close { .. } => 13,
        Wait { .. } => 14,
        RestartHost => 15,
        Replay { .. } => 9,
        Pump => 17,
        other => panic!("no seed encoding for {other:?}"),
    }
}

fn fields(step: &crate::duel::Step) -> Vec<u8> {
    use crate::duel::Step::*;
    match step {
        AddGuest { knows_pin } => vec![u8::from(*knows_pin)],
        Connect { g } | Close { g } => vec![*g],
        Pin { g, wrong } => {
            assert!(*wrong < 256, "seed PIN offsets stay below 256: one byte reads the same either way");
            vec![*g, *wrong as u8, 0, 0, 0]
        }
        Wait { ms: 0, scale } => vec![0, 0, u8::from(*scale)],
        Replay { g, index, raw } => match raw {
            Some(r) => vec![*g, *index, 1, *r],
            None => vec![*g, *index, 0],
        },
        RestartHost | Pump => Vec::new(),
        other => panic!("no seed encoding for {other:?}"),
    }
}
