//! Strict decoding of the top-level types of SPEC.md §2.3 that carry data: `Credential`,
//! `FeedEntry` and `Mutation`. A valid input decodes to a summary of its fields; every
//! other byte string is an error.

use serde_json::{Value, json};
use spaces_protocol::Canonical;
use spaces_protocol::credential::{Assertion, Credential, FeedPosition};
use spaces_protocol::feed::FeedEntry;
use spaces_protocol::item::{Mutation, Op, Value as ItemValue};

use super::{OpError, decode_error};
use crate::json::{bytes_of, hex, hex_list};

pub fn decode_credential(input: &Value) -> Result<Value, OpError> {
    let c = Credential::from_bytes(&bytes_of(input, "bytes")?).map_err(decode_error)?;
    Ok(credential_json(&c))
}

pub fn decode_entry(input: &Value) -> Result<Value, OpError> {
    let e = FeedEntry::from_bytes(&bytes_of(input, "bytes")?).map_err(decode_error)?;
    Ok(entry_json(&e))
}

pub fn decode_mutation(input: &Value) -> Result<Value, OpError> {
    let m = Mutation::from_bytes(&bytes_of(input, "bytes")?).map_err(decode_error)?;
    Ok(json!({
        "control": hex_list(m.control.iter().map(|c| c.0.0)),
        "lamport": m.lamport,
        "ops": m.ops.iter().map(op_json).collect::<Vec<_>>(),
    }))
}

/// What a decoded credential says (not whether it verifies: see `credential.verify`).
pub fn credential_json(c: &Credential) -> Value {
    let b = &c.body;
    let mut depth = 0;
    let mut link = c.chain.as_deref();
    while let Some(l) = link {
        depth += 1;
        link = l.chain.as_deref();
    }
    json!({
        "id": hex(c.id().0.0),
        "type": c.assertion().type_name(),
        "version": b.version,
        "issuer": hex(b.issuer.0),
        "subject": hex(b.subject.0),
        "signer": hex(b.signer.0),
        "issuedAt": b.issued_at.as_millis(),
        "parents": hex_list(b.parents.iter().map(|p| p.0.0)),
        "assertion": assertion_json(&b.assertion),
        "signature": hex(c.signature.0),
        "chainDepth": depth,
    })
}

fn assertion_json(a: &Assertion) -> Value {
    match a {
        Assertion::SpaceGenesis { space } => json!({ "space": hex(space.0) }),
        Assertion::SpaceMember { space, role, invitation, data_frontier } => json!({
            "space": hex(space.0),
            "role": role.name(),
            "invitation": invitation.map(|i| hex(i.0.0)),
            "dataFrontier": frontier_json(data_frontier),
        }),
        Assertion::AdmittedFeed { space, identity, device, noise_key, designation } => json!({
            "space": hex(space.0),
            "identity": hex(identity.0),
            "device": hex(device.0),
            "noiseKey": hex(noise_key.0),
            "designation": format!("{designation:?}").to_lowercase(),
        }),
        Assertion::AuthorizedDevice { identity, device, noise_key } => json!({
            "identity": hex(identity.0),
            "device": hex(device.0),
            "noiseKey": hex(noise_key.0),
        }),
        Assertion::DelegateInvitation { space, invitation_id, role, expires_at, use_limit, .. } => json!({
            "space": hex(space.0),
            "invitationId": hex(invitation_id),
            "role": role.name(),
            "expiresAt": expires_at.as_millis(),
            "useLimit": use_limit,
        }),
        Assertion::CancelInvitation { space, delegation } => json!({
            "space": hex(space.0),
            "delegation": hex(delegation.0.0),
        }),
        Assertion::RemovedDevice { space, device, data_frontier } => json!({
            "space": hex(space.0),
            "device": hex(device.0),
            "dataFrontier": frontier_json(data_frontier),
        }),
    }
}

fn frontier_json(frontier: &[FeedPosition]) -> Vec<Value> {
    frontier.iter().map(|p| json!({ "feed": hex(p.feed.0), "length": p.length })).collect()
}

pub fn entry_json(e: &FeedEntry) -> Value {
    json!({
        "feed": hex(e.body.feed.0),
        "seq": e.body.seq,
        "prev": e.body.prev.map(|p| hex(p.0.0)),
        "payload": hex(&e.body.payload),
        "signature": hex(e.signature.0),
        "hash": hex(e.hash().0.0),
    })
}

pub fn value_json(v: &ItemValue) -> Value {
    match v {
        ItemValue::Null => json!({ "null": true }),
        ItemValue::Bool(b) => json!({ "bool": b }),
        ItemValue::Int(i) => json!({ "int": i.to_string() }),
        ItemValue::Text(t) => json!({ "text": t }),
        ItemValue::Bytes(b) => json!({ "bytes": hex(b) }),
    }
}

fn op_json(op: &Op) -> Value {
    match op {
        Op::Create { item, type_name } => json!({ "op": "create", "item": hex(item.0), "type": type_name }),
        Op::Set { item, field, value } => {
            json!({ "op": "set", "item": hex(item.0), "field": field, "value": value_json(value) })
        }
        Op::Delete { item } => json!({ "op": "delete", "item": hex(item.0) }),
    }
}
