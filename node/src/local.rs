//! Commands that need no network: they restore the device, give the Peer one command, store
//! what it persisted and print the result. Writes made here reach other devices at the next
//! `sync` or `up`.

use std::path::Path;

use rand_core::{OsRng, RngCore};
use serde_json::json;
use spaces_protocol::item::{Item, ItemId, Op, Value};
use spaces_protocol::peer::{Command, Event};
use spaces_protocol::{PublicKey, Role};

use crate::driver::Node;
use crate::error::NodeError;
use crate::output::Out;

/// Local space names live in the store's settings under this prefix.
pub const ALIAS: &str = "alias/";
/// The field that names an item created by `put` (the protocol's ids are random, SPEC.md §6).
pub const NAME_FIELD: &str = "name";
/// The type of items `put` creates.
pub const ITEM_TYPE: &str = "item";

pub fn init(home: &Path, name: &str, out: Out) -> Result<(), NodeError> {
    let node = Node::init(home)?;
    node.store.set_meta("name", name)?;
    let identity = node.peer.client().identity_key();
    out.emit(
        format!("created device {name:?} in {}\nidentity {identity}", home.display()),
        json!({"event": "initialised", "name": name, "identity": identity.to_string()}),
    );
    Ok(())
}

/// The space `given` names: a local name, a key, or a unique prefix of a key (4+ digits).
pub fn resolve_space(node: &Node, given: &str) -> Result<PublicKey, NodeError> {
    if let Some(key) = node.store.meta(&format!("{ALIAS}{given}"))? {
        return key.parse().map_err(|_| NodeError::UnknownSpace { given: given.to_owned() });
    }
    let keys: Vec<PublicKey> = node.peer.client().space_keys().copied().collect();
    let matching: Vec<PublicKey> = if given.len() >= 4 {
        keys.into_iter().filter(|k| k.to_string().starts_with(given)).collect()
    } else {
        Vec::new()
    };
    match matching.as_slice() {
        [one] => Ok(*one),
        [] => Err(NodeError::UnknownSpace { given: given.to_owned() }),
        _ => Err(NodeError::AmbiguousSpace { given: given.to_owned() }),
    }
}

fn alias_of(node: &Node, space: &PublicKey) -> Result<Option<String>, NodeError> {
    let key = space.to_string();
    Ok(node.store.meta_prefixed(ALIAS)?.into_iter().find(|(_, k)| *k == key).map(|(name, _)| name))
}

pub fn set_alias(node: &Node, name: &str, space: &PublicKey) -> Result<(), NodeError> {
    if name.is_empty() || name.len() > 64 {
        return Err(NodeError::bad("space name", "expected 1 to 64 characters"));
    }
    if node.store.meta(&format!("{ALIAS}{name}"))?.is_some() {
        return Err(NodeError::bad("space name", format!("{name:?} already names a space here")));
    }
    node.store.set_meta(&format!("{ALIAS}{name}"), &space.to_string())
}

/// Gives the Peer `command` and returns the events it released (all of them: the records
/// they follow are committed by then).
pub fn run(node: &mut Node, command: &Command) -> Result<Vec<Event>, NodeError> {
    node.command(command)?;
    let mut events = Vec::new();
    while let Some(e) = node.next_event() {
        events.push(e);
    }
    Ok(events)
}

pub(crate) fn describe(command: &Command) -> &'static str {
    match command {
        Command::CreateSpace => "creating the space",
        Command::Write { .. } => "the write",
        Command::SetRole { .. } => "the role change",
        Command::CreateInvitation { .. } => "the invitation",
        _ => "the command",
    }
}

pub fn spaces(home: &Path, out: Out) -> Result<(), NodeError> {
    let node = Node::offline(home)?;
    let summaries = node.peer.client().spaces();
    if summaries.is_empty() && !out.json {
        println!("no spaces yet: spaces space create --name NAME, or spaces join CODE");
    }
    for s in summaries {
        let name = alias_of(&node, &s.key)?.unwrap_or_default();
        let role =
            node.peer.client().space(&s.key).and_then(|sp| sp.membership().role(&node.peer.client().identity_key()));
        out.emit(
            format!("{} {:<12} {} members, {} items, role {}", s.key, name, s.members, s.items, role_name(role)),
            json!({"space": s.key.to_string(), "name": name, "members": s.members, "items": s.items, "role": role_name(role)}),
        );
    }
    Ok(())
}

pub fn role_name(role: Option<Role>) -> &'static str {
    role.map_or("none", Role::name)
}

pub fn create_space(home: &Path, name: Option<&str>, out: Out) -> Result<(), NodeError> {
    let mut node = Node::offline(home)?;
    if let Some(name) = name
        && node.store.meta(&format!("{ALIAS}{name}"))?.is_some()
    {
        return Err(NodeError::bad("space name", format!("{name:?} already names a space here")));
    }
    let events = run(&mut node, &Command::CreateSpace)?;
    let Some(space) = events.iter().find_map(|e| match e {
        Event::SpaceCreated { space } => Some(*space),
        _ => None,
    }) else {
        return Err(NodeError::Refused { what: "creating the space".into(), detail: "no space was created".into() });
    };
    if let Some(name) = name {
        set_alias(&node, name, &space)?;
    }
    out.emit(
        format!("created space {space}{}", name.map(|n| format!(" ({n})")).unwrap_or_default()),
        json!({"event": "space_created", "space": space.to_string(), "name": name}),
    );
    Ok(())
}

pub fn members(home: &Path, space: &str, out: Out) -> Result<(), NodeError> {
    let node = Node::offline(home)?;
    let key = resolve_space(&node, space)?;
    let me = node.peer.client().identity_key();
    let members = node
        .peer
        .client()
        .members(&key)
        .map_err(|e| NodeError::Refused { what: "members".into(), detail: e.to_string() })?;
    for m in members {
        let you = if m.identity == me { " (you)" } else { "" };
        out.emit(
            format!("{} {}{you}", m.identity, role_name(Some(m.role))),
            json!({"identity": m.identity.to_string(), "role": role_name(Some(m.role)), "you": m.identity == me}),
        );
    }
    Ok(())
}

/// `FIELD=VALUE`: integers and `true`/`false`/`null` are typed, everything else is text.
fn parse_field(text: &str) -> Result<(String, Value), NodeError> {
    let (field, value) =
        text.split_once('=').ok_or_else(|| NodeError::bad("field", format!("{text:?} (expected FIELD=VALUE)")))?;
    if field.is_empty() {
        return Err(NodeError::bad("field", format!("{text:?} has no field name")));
    }
    let value = match value {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        v => v.parse::<i64>().map(Value::Int).unwrap_or_else(|_| Value::Text(v.to_owned())),
    };
    Ok((field.to_owned(), value))
}

/// The items `given` names: its id, or the live items whose `name` field is `given`.
fn find_items(items: &[Item], given: &str) -> Vec<Item> {
    items
        .iter()
        .filter(|i| i.id.to_string() == given || i.fields.get(NAME_FIELD) == Some(&Value::Text(given.to_owned())))
        .cloned()
        .collect()
}

pub fn put(home: &Path, space: &str, item: &str, fields: &[String], out: Out) -> Result<(), NodeError> {
    let mut node = Node::offline(home)?;
    let key = resolve_space(&node, space)?;
    let fields = fields.iter().map(|f| parse_field(f)).collect::<Result<Vec<_>, _>>()?;
    let items = node
        .peer
        .client()
        .items(&key)
        .map_err(|e| NodeError::Refused { what: "the write".into(), detail: e.to_string() })?;
    // Two devices may have created an item of the same name before they synced: the one with
    // the least id is the one `put` changes, on every device alike.
    let (id, mut ops) = match find_items(&items, item).first() {
        Some(existing) => (existing.id, Vec::new()),
        None => {
            let mut id = [0u8; 16];
            OsRng.fill_bytes(&mut id);
            let id = ItemId(id);
            let create = Op::Create { item: id, type_name: ITEM_TYPE.into() };
            let name = Op::Set { item: id, field: NAME_FIELD.into(), value: Value::Text(item.into()) };
            (id, vec![create, name])
        }
    };
    ops.extend(fields.into_iter().map(|(field, value)| Op::Set { item: id, field, value }));
    run(&mut node, &Command::Write { space: key, ops })?;
    out.emit(
        format!("wrote {item} ({id})"),
        json!({"event": "written", "space": key.to_string(), "item": id.to_string(), "name": item}),
    );
    Ok(())
}

fn value_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Text(t) => json!(t),
        Value::Bytes(b) => json!(hex::encode(b)),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Text(t) => t.clone(),
        Value::Bytes(b) => format!("0x{}", hex::encode(b)),
    }
}

pub fn get(home: &Path, space: &str, item: Option<&str>, out: Out) -> Result<(), NodeError> {
    let node = Node::offline(home)?;
    let key = resolve_space(&node, space)?;
    let items = node
        .peer
        .client()
        .items(&key)
        .map_err(|e| NodeError::Refused { what: "reading".into(), detail: e.to_string() })?;
    let shown = match item {
        Some(given) => {
            let found = find_items(&items, given);
            if found.is_empty() {
                return Err(NodeError::UnknownItem { given: given.to_owned() });
            }
            found
        }
        None => items,
    };
    for i in shown {
        let name = i.fields.get(NAME_FIELD).map(value_text).unwrap_or_else(|| i.id.to_string());
        let text: Vec<String> =
            i.fields.iter().filter(|(f, _)| *f != NAME_FIELD).map(|(f, v)| format!("{f}={}", value_text(v))).collect();
        let fields: serde_json::Map<String, serde_json::Value> =
            i.fields.iter().map(|(f, v)| (f.clone(), value_json(v))).collect();
        out.emit(
            format!("{name} {}", text.join(" ")),
            json!({"item": i.id.to_string(), "name": name, "fields": fields}),
        );
    }
    Ok(())
}

/// The member `given` names: an identity key or a unique prefix of one (4+ digits).
fn resolve_member(node: &Node, space: &PublicKey, given: &str) -> Result<PublicKey, NodeError> {
    let members = node
        .peer
        .client()
        .members(space)
        .map_err(|e| NodeError::Refused { what: "members".into(), detail: e.to_string() })?;
    let matching: Vec<PublicKey> =
        members.iter().map(|m| m.identity).filter(|k| given.len() >= 4 && k.to_string().starts_with(given)).collect();
    match matching.as_slice() {
        [one] => Ok(*one),
        [] => Err(NodeError::bad("member", format!("no member {given:?} (see spaces members SPACE)"))),
        _ => Err(NodeError::bad("member", format!("{given:?} names more than one member"))),
    }
}

pub fn set_role(home: &Path, space: &str, member: &str, role: Role, out: Out) -> Result<(), NodeError> {
    let mut node = Node::offline(home)?;
    let key = resolve_space(&node, space)?;
    let member = resolve_member(&node, &key, member)?;
    run(&mut node, &Command::SetRole { space: key, member, role })?;
    out.emit(
        format!("{member} is now {} (others learn it at the next sync)", role_name(Some(role))),
        json!({"event": "role_set", "space": key.to_string(), "member": member.to_string(), "role": role_name(Some(role))}),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A long history is compacted to a snapshot, and the device restored from it holds all
    /// it wrote: the bound on the log loses nothing.
    #[test]
    fn a_compacted_log_restores_every_write() {
        let home = std::env::temp_dir().join(format!("spaces-compact-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        let mut node = Node::init(&home).expect("init");
        let events = run(&mut node, &Command::CreateSpace).expect("create");
        let Some(Event::SpaceCreated { space }) = events.into_iter().find(|e| matches!(e, Event::SpaceCreated { .. }))
        else {
            panic!("no space created");
        };
        let writes = crate::store::LOG_RECORDS_MAX + 20;
        for n in 0..writes {
            let item = ItemId(u128::from(n).to_be_bytes());
            let ops = vec![Op::Create { item, type_name: ITEM_TYPE.into() }];
            run(&mut node, &Command::Write { space, ops }).expect("write");
        }
        let logged = node.store.log().expect("log").len() as u64;
        assert!(logged <= crate::store::LOG_RECORDS_MAX, "compacted: {logged} records");
        drop(node);
        let restored = Node::offline(&home).expect("restore");
        let items = restored.peer.client().items(&space).expect("items");
        assert_eq!(items.len() as u64, writes);
        let _ = std::fs::remove_dir_all(&home);
    }
}
