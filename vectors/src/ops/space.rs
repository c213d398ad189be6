//! Membership (SPEC.md §4), feeds (§5) and items (§6): each op builds a fresh replica from
//! the credentials and entries of its input, in the order given. The answer must not depend
//! on that order (§0.5), which is why several vectors hold one set in two orders.

use serde_json::{Value, json};
use spaces_protocol::Canonical;
use spaces_protocol::credential::Credential;
use spaces_protocol::feed::{Feed, FeedEntry, FeedError};
use spaces_protocol::keys::PublicKey;
use spaces_protocol::space::{IngestError, Space, WriteRejection, WriteVerdict};

use super::codec::value_json;
use super::{OpError, decode_error};
use crate::json::{array_of, hex, hex_items};

/// Decodes every credential strictly (a vector never holds undecodable ones here).
pub(crate) fn credentials(input: &Value) -> Result<Vec<Credential>, OpError> {
    hex_items(input, "credentials")?.iter().map(|b| Credential::from_bytes(b).map_err(decode_error)).collect()
}

pub(crate) fn entries(input: &Value) -> Result<Vec<FeedEntry>, OpError> {
    hex_items(input, "entries")?.iter().map(|b| FeedEntry::from_bytes(b).map_err(decode_error)).collect()
}

/// A replica holding the input's credentials (inserted one by one, in order; invalid ones
/// are ignored) and entries (in order, retried until no more are taken, so a feed's entries
/// may come in any order).
pub(crate) fn replica(input: &Value) -> Result<Space, OpError> {
    let space = PublicKey(array_of::<32>(input, "space")?);
    let mut replica = Space::new(space);
    for c in credentials(input)? {
        let _ignored_if_invalid = replica.insert_credential(c);
    }
    let mut waiting = entries(input)?;
    loop {
        let before = waiting.len();
        waiting.retain(|e| matches!(replica.ingest(e.clone()), Err(IngestError::Feed(FeedError::Gap { .. }))));
        if waiting.len() == before || waiting.is_empty() {
            break;
        }
    }
    Ok(replica)
}

pub fn resolve(input: &Value) -> Result<Value, OpError> {
    let replica = replica(input)?;
    let members: Vec<Value> =
        replica.members().iter().map(|m| json!({ "identity": hex(m.identity.0), "role": m.role.name() })).collect();
    Ok(json!({ "members": members }))
}

/// Appends the entries to one feed in order; the first refused entry is the error.
pub fn feed_verify(input: &Value) -> Result<Value, OpError> {
    let mut feed = Feed::new(PublicKey(array_of::<32>(input, "feed")?));
    for (i, e) in entries(input)?.into_iter().enumerate() {
        feed.append(e).map_err(|err| {
            let kind = match err {
                FeedError::Fork(_) => "fork",
                FeedError::Gap { .. } => "gap",
                FeedError::BadSignature(_) => "signature",
                FeedError::BrokenLink { .. } => "link",
                FeedError::WrongFeed => "wrongFeed",
                FeedError::Malformed(_) => "decode",
            };
            OpError::new(kind, format!("entry {i}: {err}"))
        })?;
    }
    Ok(json!({ "length": feed.len(), "head": feed.head().map(|h| hex(h.0.0)) }))
}

pub fn items_merge(input: &Value) -> Result<Value, OpError> {
    let replica = replica(input)?;
    let items: Vec<Value> = replica
        .items()
        .iter()
        .map(|item| {
            let fields: serde_json::Map<String, Value> =
                item.fields.iter().map(|(k, v)| (k.clone(), value_json(v))).collect();
            json!({ "id": hex(item.id.0), "type": item.type_name, "fields": fields })
        })
        .collect();
    // One verdict per distinct entry, sorted by (feed, seq, hash): independent of input order.
    let mut judged: Vec<(PublicKey, u64, [u8; 32], &'static str)> = entries(input)?
        .iter()
        .map(|e| {
            let stored = replica.feed(&e.body.feed).and_then(|f| f.get(e.body.seq)) == Some(e);
            let verdict = match replica.write_verdict(&e.body.feed, e.body.seq) {
                _ if !stored => "refused",
                None => "refused",
                Some(WriteVerdict::Applied) => "applied",
                Some(WriteVerdict::Pending { .. }) => "pending",
                Some(WriteVerdict::Rejected(WriteRejection::Malformed(_))) => "malformed",
                Some(WriteVerdict::Rejected(WriteRejection::NoWriteAccess)) => "noWriteAccess",
                Some(WriteVerdict::Rejected(WriteRejection::Revoked)) => "revoked",
                Some(WriteVerdict::Rejected(WriteRejection::DeviceRemoved)) => "deviceRemoved",
            };
            (e.body.feed, e.body.seq, e.hash().0.0, verdict)
        })
        .collect();
    judged.sort();
    judged.dedup();
    let verdicts: Vec<Value> =
        judged.iter().map(|(feed, seq, _, v)| json!({ "feed": hex(feed.0), "seq": seq, "verdict": v })).collect();
    Ok(json!({ "items": items, "verdicts": verdicts }))
}
