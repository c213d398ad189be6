//! `encoding.json`: strict canonical decoding (SPEC.md §2) of credentials, feed entries and
//! mutations: the worked example of §2.6, then one broken encoding per rule of §2.3.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::json;
use spaces_protocol::Canonical;
use spaces_protocol::credential::{Assertion, Credential, CredentialId, Signer};
use spaces_protocol::feed::FeedEntry;
use spaces_protocol::fixture::SpaceFixture;
use spaces_protocol::item::{ItemId, Mutation, Op, Value as ItemValue};
use spaces_protocol::keys::Keypair;
use spaces_protocol::{Role, Timestamp};

use super::{invalid, valid};
use crate::file::VectorFile;
use crate::json::hex;

const CRED: &str = "codec.decode_credential";
const ENTRY: &str = "codec.decode_entry";
const MUTATION: &str = "codec.decode_mutation";

/// SPEC.md §2.6: the SpaceGenesis credential of the key with seed 00..1f.
pub fn spec_genesis() -> Credential {
    let seed: [u8; 32] = core::array::from_fn(|i| i as u8);
    let key = Keypair::from_secret_bytes(seed);
    let space = key.public();
    Signer::direct(&key).issue(
        space,
        Assertion::SpaceGenesis { space },
        Timestamp::from_millis(1_700_000_000_000),
        vec![],
    )
}

fn notes(f: &mut VectorFile) {
    f.note("Valid", "Functionality", "A canonical encoding that MUST decode.");
    f.note("SpecExample", "Functionality", "The worked example of SPEC.md §2.6, byte for byte.");
    f.note(
        "NonMinimalVarint",
        "Malleability",
        "A varint with a redundant continuation byte (§2.1); two encodings of one value would give it two ids.",
    );
    f.note("TrailingBytes", "Malleability", "Bytes after a complete value (§2.3 rule 3).");
    f.note(
        "Truncated",
        "Robustness",
        "The input ends inside a value (§2.3 rule 2); decoding MUST fail without crashing.",
    );
    f.note("WrongVersion", "Versioning", "A version byte other than 1 (§0.4, §2.3 rule 9).");
    f.note("Oversize", "Resource", "Longer than the type's maximum (§2.4); refused before parsing.");
    f.note("UnknownVariant", "Versioning", "An enum variant index the type does not define (§2.3 rule 6).");
    f.note("BadOptionTag", "Malleability", "An Option tag other than 00/01 (§2.3 rule 7).");
    f.note("BadBool", "Malleability", "A bool byte other than 00/01 (§2.3 rule 7).");
    f.note("BadUtf8", "Robustness", "A String that is not UTF-8 (§2.3 rule 8).");
    f.note(
        "UnsortedSet",
        "Malleability",
        "A set that is not strictly ascending (§0.2, §2.3 rule 10): unsorted or with a duplicate.",
    );
    f.note("StructuralRule", "Functionality", "Breaks a decoding rule of the type's own section (§2.3 rule 11).");
}

fn splice(bytes: &[u8], at: usize, remove: usize, insert: &[u8]) -> Vec<u8> {
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(insert);
    out.extend_from_slice(&bytes[at + remove..]);
    out
}

fn credentials(f: &mut VectorFile) {
    let genesis = spec_genesis();
    let g = genesis.to_bytes();
    assert_eq!(g.len(), 202, "SPEC §2.6: 202 bytes");
    assert_eq!(hex::encode(genesis.id().0.0), "089c0dfea0e2def48d13ea1ebd66f42ee2cf8528c85b1475004be240b6ed4397");
    let fx = SpaceFixture::new(&mut ChaCha20Rng::seed_from_u64(0x5eed_0001));
    let t = f.group(CRED);
    t.push(valid(CRED, "SPEC §2.6 SpaceGenesis (202 bytes)", &["Valid", "SpecExample"], json!({ "bytes": hex(&g) })));
    t.push(valid(
        CRED,
        "owner grant by the space key, one parent",
        &["Valid"],
        json!({ "bytes": hex(fx.genesis[1].to_bytes()) }),
    ));
    t.push(valid(
        CRED,
        "feed admission signed by a device, with its chain",
        &["Valid"],
        json!({ "bytes": hex(fx.genesis[2].to_bytes()) }),
    ));
    let bad = |t: &mut Vec<_>, comment: &str, flag: &'static str, bytes: Vec<u8>| {
        t.push(invalid(CRED, comment, &[flag], json!({ "bytes": hex(bytes) })));
    };
    bad(t, "one trailing 00 byte", "TrailingBytes", splice(&g, 202, 0, &[0]));
    bad(t, "a complete second credential appended", "TrailingBytes", [g.clone(), g.clone()].concat());
    bad(t, "last byte (the chain tag) missing", "Truncated", g[..201].to_vec());
    bad(t, "cut inside the signature", "Truncated", g[..150].to_vec());
    bad(t, "empty input", "Truncated", Vec::new());
    bad(t, "issued_at with a redundant final 80 00", "NonMinimalVarint", splice(&g, 70, 1, &[0xb1, 0x00]));
    bad(t, "parents length 0 written as 80 00", "NonMinimalVarint", splice(&g, 71, 1, &[0x80, 0x00]));
    bad(t, "assertion variant 0 written as 80 00", "NonMinimalVarint", splice(&g, 72, 1, &[0x80, 0x00]));
    bad(t, "version 2", "WrongVersion", splice(&g, 0, 1, &[2]));
    bad(t, "version 0", "WrongVersion", splice(&g, 0, 1, &[0]));
    bad(t, "assertion variant 6 (undefined)", "UnknownVariant", splice(&g, 72, 1, &[6]));
    bad(t, "chain option tag 02", "BadOptionTag", splice(&g, 201, 1, &[2]));
    bad(t, "16385 bytes: one over the maximum", "Oversize", splice(&g, 202, 0, &vec![0; 16385 - 202]));
    // Parents that are not a set: sign them anyway, so only the ordering is wrong.
    let (a, b) = (CredentialId(spaces_protocol::hash::sha256(b"a")), CredentialId(spaces_protocol::hash::sha256(b"b")));
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let owner = &fx.owner;
    let grant = |parents: Vec<CredentialId>| {
        let assertion =
            Assertion::SpaceMember { space: fx.space(), role: Role::Reader, invitation: None, data_frontier: vec![] };
        let mut c = owner.identity.signer().issue(fx.space(), assertion, fx.now, vec![lo]);
        c.body.parents = parents;
        c.signature = owner.identity.device_keypair().sign(&c.body.signing_input());
        c.to_bytes()
    };
    bad(t, "parents in descending order", "UnsortedSet", grant(vec![hi, lo]));
    bad(t, "the same parent twice", "UnsortedSet", grant(vec![lo, lo]));
    let mut deep = fx.genesis[2].clone();
    for _ in 0..5 {
        deep = Credential { chain: Some(Box::new(deep.clone())), ..deep };
    }
    bad(t, "device chain of 6 links (at most 4 below the credential)", "StructuralRule", deep.to_bytes());
}

fn entries(f: &mut VectorFile) {
    let key = Keypair::from_secret_bytes([7; 32]);
    let e0 = FeedEntry::sign(&key, 0, None, b"first".to_vec());
    let e1 = FeedEntry::sign(&key, 1, Some(e0.hash()), vec![0xab; 200]);
    let (b0, b1) = (e0.to_bytes(), e1.to_bytes());
    let t = f.group(ENTRY);
    t.push(valid(ENTRY, "first entry of a feed", &["Valid"], json!({ "bytes": hex(&b0) })));
    t.push(valid(ENTRY, "second entry, 200-byte payload (two-byte length)", &["Valid"], json!({ "bytes": hex(&b1) })));
    let bad = |t: &mut Vec<_>, comment: &str, flag: &'static str, bytes: Vec<u8>| {
        t.push(invalid(ENTRY, comment, &[flag], json!({ "bytes": hex(bytes) })));
    };
    // Layout: version(1) feed(32) seq(varint) prev(option) payload(len, bytes) signature(64).
    bad(t, "trailing byte", "TrailingBytes", splice(&b0, b0.len(), 0, &[0]));
    bad(t, "truncated signature", "Truncated", b0[..b0.len() - 1].to_vec());
    bad(t, "seq 0 written as 80 00", "NonMinimalVarint", splice(&b0, 33, 1, &[0x80, 0x00]));
    bad(t, "payload length 200 written as c8 81 00", "NonMinimalVarint", splice(&b1, 34 + 33, 2, &[0xc8, 0x81, 0x00]));
    bad(t, "version 2", "WrongVersion", splice(&b0, 0, 1, &[2]));
    bad(t, "prev option tag 02", "BadOptionTag", splice(&b0, 34, 1, &[2]));
    bad(t, "seq 0 with a prev hash", "StructuralRule", splice(&b0, 34, 1, &[&[1u8][..], &[0x11; 32]].concat()));
    bad(t, "seq 1 without a prev hash", "StructuralRule", splice(&b1, 34, 33, &[0]));
    bad(t, "65793 bytes: over the maximum", "Oversize", vec![0; 65793]);
}

fn mutation(control: Vec<CredentialId>, ops: Vec<Op>) -> Mutation {
    Mutation { version: 1, control, lamport: 5, ops }
}

fn mutations(f: &mut VectorFile) {
    let c = |b: u8| CredentialId(spaces_protocol::hash::Digest([b; 32]));
    let item = ItemId([0x42; 16]);
    let create = Op::Create { item, type_name: "task".into() };
    let set = |v: ItemValue| Op::Set { item, field: "done".into(), value: v };
    let ok = mutation(vec![c(1), c(2)], vec![create.clone(), set(ItemValue::Bool(true)), Op::Delete { item }]);
    let values = mutation(
        vec![c(1)],
        vec![
            set(ItemValue::Null),
            set(ItemValue::Int(-2)),
            set(ItemValue::Text("é".into())),
            set(ItemValue::Bytes(vec![0, 1])),
        ],
    );
    let t = f.group(MUTATION);
    t.push(valid(MUTATION, "create, set, delete", &["Valid"], json!({ "bytes": hex(ok.to_bytes()) })));
    t.push(valid(
        MUTATION,
        "every value type (i64 zigzag, UTF-8)",
        &["Valid"],
        json!({ "bytes": hex(values.to_bytes()) }),
    ));
    let bad = |t: &mut Vec<_>, comment: &str, flag: &'static str, bytes: Vec<u8>| {
        t.push(invalid(MUTATION, comment, &[flag], json!({ "bytes": hex(bytes) })));
    };
    let b = mutation(vec![c(1)], vec![set(ItemValue::Bool(true))]).to_bytes();
    // Layout: version(1) control(len 1, 32) lamport(1) ops(len 1) Set(variant 1) item(16) field(len 4 "done") value(variant 1, bool).
    let bool_at = b.len() - 1;
    bad(t, "bool byte 02", "BadBool", splice(&b, bool_at, 1, &[2]));
    bad(t, "value variant 5 (undefined)", "UnknownVariant", splice(&b, bool_at - 1, 1, &[5]));
    bad(t, "op variant 3 (undefined)", "UnknownVariant", splice(&b, 36, 1, &[3]));
    bad(t, "field name not UTF-8", "BadUtf8", splice(&b, 54, 1, &[0xff]));
    bad(t, "version 0", "WrongVersion", splice(&b, 0, 1, &[0]));
    bad(t, "lamport 5 written as 85 00", "NonMinimalVarint", splice(&b, 34, 1, &[0x85, 0x00]));
    bad(t, "trailing byte", "TrailingBytes", splice(&b, b.len(), 0, &[0]));
    bad(t, "control point not sorted", "UnsortedSet", mutation(vec![c(2), c(1)], vec![create.clone()]).to_bytes());
    bad(t, "control point empty", "StructuralRule", mutation(vec![], vec![create.clone()]).to_bytes());
    bad(t, "no ops", "StructuralRule", mutation(vec![c(1)], vec![]).to_bytes());
}

pub fn file() -> VectorFile {
    let mut f = VectorFile::new("encoding.json", "spaces/1 canonical encoding");
    notes(&mut f);
    credentials(&mut f);
    entries(&mut f);
    mutations(&mut f);
    f
}
