//! Items: the space's data, as last-writer-wins registers merged from data-feed mutations.
//!
//! Every field (and an item's existence) is a register; the write with the greatest stamp
//! (Lamport clock, then feed key, then sequence number, then op index) wins. Stamps are
//! totally ordered and unique per op, so any replica that holds the same set of valid
//! mutations shows the same items, whatever order they arrived in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::codec::{self, Canonical, DecodeError, strictly_ascending};
use crate::credential::{CredentialId, PARENTS_MAX};
use crate::keys::PublicKey;
use crate::mutants::{Mutant, active};

pub const OPS_MAX: usize = 256;
pub const NAME_SIZE_MAX: usize = 256;
pub const VALUE_SIZE_MAX: usize = 32 * 1024;

/// A random 128-bit item id, drawn by the writer from the injected RNG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ItemId(pub [u8; 16]);

impl core::fmt::Display for ItemId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A field value. No floats: their encodings are not unique (NaNs, signed zero).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Create { item: ItemId, type_name: String },
    Set { item: ItemId, field: String, value: Value },
    Delete { item: ItemId },
}

impl Op {
    pub fn item(&self) -> ItemId {
        match self {
            Op::Create { item, .. } | Op::Set { item, .. } | Op::Delete { item } => *item,
        }
    }
}

/// A data-feed payload: ops that take effect together, with their causal point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mutation {
    pub version: u8,
    /// The control heads (credential ids) the writer had seen: the causal point at which its
    /// right to write is judged. Strictly ascending.
    pub control: Vec<CredentialId>,
    /// Lamport clock: greater than every mutation the writer had seen.
    pub lamport: u64,
    pub ops: Vec<Op>,
}

impl Canonical for Mutation {
    const ENCODED_SIZE_MAX: usize = crate::feed::PAYLOAD_SIZE_MAX;

    fn validate(&self) -> Result<(), DecodeError> {
        codec::check_version(self.version)?;
        if !strictly_ascending(&self.control) || self.control.is_empty() || self.control.len() > PARENTS_MAX {
            return Err(DecodeError::Invalid("control point must be a non-empty sorted set of at most 64"));
        }
        if self.ops.is_empty() || self.ops.len() > OPS_MAX {
            return Err(DecodeError::Invalid("a mutation has 1 to 256 ops"));
        }
        for op in &self.ops {
            let ok = match op {
                Op::Create { type_name, .. } => type_name.len() <= NAME_SIZE_MAX,
                Op::Set { field, value, .. } => field.len() <= NAME_SIZE_MAX && value_size(value) <= VALUE_SIZE_MAX,
                Op::Delete { .. } => true,
            };
            if !ok {
                return Err(DecodeError::Invalid("name or value too large"));
            }
        }
        Ok(())
    }
}

fn value_size(v: &Value) -> usize {
    match v {
        Value::Text(s) => s.len(),
        Value::Bytes(b) => b.len(),
        _ => 8,
    }
}

/// Total order of writes: unique per op because (feed, seq) is unique per entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    pub lamport: u64,
    pub feed: PublicKey,
    pub seq: u64,
    pub op: u32,
}

/// An item as shown to the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: ItemId,
    pub type_name: String,
    pub fields: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default)]
struct Registers {
    type_name: Option<(Stamp, String)>,
    alive: Option<(Stamp, bool)>,
    fields: BTreeMap<String, (Stamp, Value)>,
}

fn lww<T>(slot: &mut Option<(Stamp, T)>, stamp: Stamp, value: T) {
    if slot.as_ref().is_none_or(|(s, _)| stamp > *s || active(Mutant::ItemsLastApplied)) {
        *slot = Some((stamp, value));
    }
}

/// The merged items of a space.
#[derive(Debug, Clone, Default)]
pub struct Items {
    registers: BTreeMap<ItemId, Registers>,
    lamport_max: u64,
    /// Items `list` shows, kept by `apply`: `len` is O(1), so a space's summary costs nothing
    /// per item (issue 11: `Client::spaces` listed every item of every space to count them).
    live: usize,
}

impl Registers {
    fn shown(&self) -> bool {
        matches!(self.alive, Some((_, true))) && self.type_name.is_some()
    }
}

impl Items {
    /// Merges one valid mutation found at (feed, seq). Commutative, associative, idempotent.
    pub fn apply(&mut self, feed: PublicKey, seq: u64, mutation: &Mutation) {
        self.lamport_max = self.lamport_max.max(mutation.lamport);
        for (i, op) in mutation.ops.iter().enumerate() {
            let stamp = Stamp { lamport: mutation.lamport, feed, seq, op: i as u32 };
            let regs = self.registers.entry(op.item()).or_default();
            let before = regs.shown();
            match op {
                Op::Create { type_name, .. } => {
                    lww(&mut regs.type_name, stamp, type_name.clone());
                    lww(&mut regs.alive, stamp, true);
                }
                Op::Set { field, value, .. } => {
                    let slot = regs.fields.entry(field.clone()).or_insert((stamp, value.clone()));
                    if stamp > slot.0 || active(Mutant::ItemsLastApplied) {
                        *slot = (stamp, value.clone());
                    }
                }
                Op::Delete { .. } => lww(&mut regs.alive, stamp, false),
            }
            match (before, regs.shown()) {
                (false, true) => self.live += 1,
                (true, false) => self.live -= 1,
                _ => {}
            }
        }
        assert!(self.live <= self.registers.len(), "only items with registers are live");
    }

    /// The next Lamport clock for a local write.
    pub fn next_lamport(&self) -> u64 {
        self.lamport_max.saturating_add(1)
    }

    /// Live items, sorted by id. A field set to `Null` reads as absent.
    pub fn list(&self) -> Vec<Item> {
        self.registers.iter().filter_map(|(id, r)| self.show(*id, r)).collect()
    }

    pub fn get(&self, id: &ItemId) -> Option<Item> {
        self.registers.get(id).and_then(|r| self.show(*id, r))
    }

    fn show(&self, id: ItemId, r: &Registers) -> Option<Item> {
        let alive = matches!(r.alive, Some((_, true)));
        let (_, type_name) = r.type_name.as_ref()?;
        alive.then(|| Item {
            id,
            type_name: type_name.clone(),
            fields: r
                .fields
                .iter()
                .filter(|(_, (_, v))| *v != Value::Null)
                .map(|(k, (_, v))| (k.clone(), v.clone()))
                .collect(),
        })
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
