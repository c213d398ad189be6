//! Replication (SPEC.md §9.3): the `SwarmMessage`s, and which entries a `Have` shows missing.

use serde_json::{Value, json};
use spaces_protocol::Canonical;
use spaces_protocol::credential::FeedPosition;
use spaces_protocol::keys::PublicKey;
use spaces_protocol::replication;
use spaces_protocol::swarm::SwarmMessage;

use super::space::replica;
use super::{OpError, decode_error};
use crate::json::{array_of, bytes_of, hex, hex_items, hex_list, list_of, u64_of};

fn positions_json(p: &[FeedPosition]) -> Value {
    Value::Array(p.iter().map(|p| json!({ "feed": hex(p.feed.0), "length": p.length })).collect())
}

pub fn decode_message(input: &Value) -> Result<Value, OpError> {
    let m = SwarmMessage::from_bytes(&bytes_of(input, "bytes")?).map_err(decode_error)?;
    Ok(match m {
        SwarmMessage::Have { space, feeds } => {
            json!({ "type": "have", "space": hex(space.0), "feeds": positions_json(&feeds) })
        }
        SwarmMessage::Entries { space, entries } => json!({
            "type": "entries",
            "space": hex(space.0),
            "entries": hex_list(entries.iter().map(|e| e.to_bytes())),
        }),
        SwarmMessage::Refused { space } => json!({ "type": "refused", "space": hex(space.0) }),
        SwarmMessage::HavePage { space, after, through, feeds } => json!({
            "type": "havePage",
            "space": hex(space.0),
            "after": after.map(|k| hex(k.0)),
            "through": through.map(|k| hex(k.0)),
            "feeds": positions_json(&feeds),
        }),
        SwarmMessage::Summary { space, after, through, feeds, credentials } => json!({
            "type": "summary",
            "credentials": hex(credentials.0),
            "space": hex(space.0),
            "after": after.map(|k| hex(k.0)),
            "through": through.map(|k| hex(k.0)),
            "feeds": Value::Array(feeds.iter().map(|h| json!({ "feed": hex(h.feed.0), "length": h.length, "head": hex(h.head.0.0) })).collect()),
        }),
        SwarmMessage::Credentials { space, credentials } => json!({
            "type": "credentials",
            "space": hex(space.0),
            "credentials": hex_list(credentials.iter().map(|c| c.to_bytes())),
        }),
        SwarmMessage::Halo { devices, contacts, spaces } => json!({
            "type": "halo",
            "devices": hex_list(devices.iter().map(|c| c.to_bytes())),
            "contacts": Value::Array(contacts.iter().map(|k| json!(hex(k.0))).collect()),
            "spaces": Value::Array(spaces.iter().map(|k| json!(hex(k.0))).collect()),
        }),
        SwarmMessage::HaloJoin { space, control_feed, data_feed } => json!({
            "type": "haloJoin",
            "space": hex(space.0),
            "controlFeed": hex(control_feed.0),
            "dataFeed": hex(data_feed.0),
        }),
        SwarmMessage::Forks { space, evidence } => json!({
            "type": "forks",
            "space": hex(space.0),
            "evidence": Value::Array(evidence.iter().map(|e| json!({ "first": hex(e.first.to_bytes()), "second": hex(e.second.to_bytes()) })).collect()),
        }),
    })
}

/// Our replica (the input's credentials and entries) answers the peer's `have`: our own
/// `Have`, and the `Entries` message that carries what the peer lacks.
pub fn missing(input: &Value) -> Result<Value, OpError> {
    let ours = replica(input)?;
    let theirs: Vec<FeedPosition> = list_of(input, "have")?
        .iter()
        .map(|p| Ok(FeedPosition { feed: PublicKey(array_of::<32>(p, "feed")?), length: u64_of(p, "length")? }))
        .collect::<Result<_, OpError>>()?;
    let entries = replication::missing(&ours, &theirs);
    let space = ours.key();
    let have = replication::have(&ours);
    Ok(json!({
        "have": positions_json(&have),
        "haveMessage": hex(SwarmMessage::Have { space, feeds: have.clone() }.to_bytes()),
        "missing": hex_list(entries.iter().map(|e| e.to_bytes())),
        "entriesMessage": hex(SwarmMessage::Entries { space, entries }.to_bytes()),
    }))
}

/// Our replica (the input's credentials and entries) takes the `heard` entries from a device
/// that is no current member's (SPEC §9.2.2 rule 6): what `ingest_heard` made of them, and the
/// heard limit of every feed they name afterwards (`null`: unbounded).
pub fn ingest_heard(input: &Value) -> Result<Value, OpError> {
    let mut ours = replica(input)?;
    let heard: Vec<spaces_protocol::feed::FeedEntry> = hex_items(input, "heard")?
        .iter()
        .map(|b| spaces_protocol::feed::FeedEntry::from_bytes(b).map_err(super::decode_error))
        .collect::<Result<_, OpError>>()?;
    let feeds: std::collections::BTreeSet<PublicKey> = heard.iter().map(|e| e.body.feed).collect();
    let report = replication::ingest_heard(&mut ours, heard);
    let limits: Vec<Value> = feeds
        .iter()
        .map(|f| {
            let limit = replication::heard_limit(&ours, f);
            let length = ours.feed(f).map_or(0, |feed| feed.len());
            json!({ "feed": hex(f.0), "limit": (limit != u64::MAX).then_some(limit), "length": length })
        })
        .collect();
    Ok(json!({
        "new": report.new,
        "duplicate": report.duplicate,
        "refused": report.refused,
        "deferred": report.deferred,
        "feeds": limits,
    }))
}
