//! `keys.json`: key derivation from seeds, text forms, fingerprints (SPEC.md §1.2, §1.4), and
//! strict Ed25519 verification with its edge cases (§1.3).

use serde_json::json;
use spaces_protocol::keys::Keypair;

use super::{invalid, valid};
use crate::file::VectorFile;
use crate::json::hex;

/// ℓ, the order of the Ed25519 base point, little-endian.
pub const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// The canonical encodings of the eight points of small order, and two non-canonical ones.
pub const SMALL_ORDER: [(&str, &str); 10] = [
    ("0100000000000000000000000000000000000000000000000000000000000000", "identity"),
    ("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "order 2"),
    ("0000000000000000000000000000000000000000000000000000000000000000", "order 4"),
    ("0000000000000000000000000000000000000000000000000000000000000080", "order 4, sign bit set"),
    ("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", "order 8"),
    ("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", "order 8"),
    ("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", "order 8"),
    ("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", "order 8"),
    ("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "identity, non-canonical y = p + 1"),
    (
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "order 4 (y = p, x = 0 with sign bit), non-canonical",
    ),
];

/// `s + ℓ` for a little-endian scalar `s < ℓ`: the same signature, malleated.
pub fn add_ell(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(s[i]) + u16::from(ELL[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0, "s + ℓ < 2^256");
    out
}

fn notes(f: &mut VectorFile) {
    f.note("Valid", "Functionality", "A correct input that MUST be accepted.");
    f.note("SpecExample", "Functionality", "A value SPEC.md itself states.");
    f.note("TextForm", "Canonical", "A key's text is exactly 64 lowercase hex digits (§1.4); anything else MUST be refused so that each key has one text.");
    f.note(
        "NonCanonicalS",
        "SignatureMalleability",
        "s ≥ ℓ (§1.3 rule 1): s + ℓ verifies under lenient verifiers and would give an entry a second hash.",
    );
    f.note("SmallOrderKey", "WeakPublicKey", "A public key of small order (§1.3 rule 4); with R = identity and s = 0 the cofactorless equation holds for every message, so a lenient verifier accepts a forgery.");
    f.note("NonCanonicalKey", "WeakPublicKey", "A key encoding with y ≥ p; every such encoding that decodes names a small-order point here, refused by rule 4.");
    f.note("SmallOrderR", "EdgeCase", "R of small order (§1.3 rule 4).");
    f.note("InvalidKey", "EdgeCase", "Bytes that are not a curve point (§1.3 rule 2).");
    f.note("WrongMessage", "Functionality", "A signature over another message.");
}

fn derive(f: &mut VectorFile) {
    let spec_seed: [u8; 32] = core::array::from_fn(|i| i as u8);
    let t = f.group("key.derive");
    let spec = valid(
        "key.derive",
        "SPEC §2.6 space key and §7.1.4 host Noise key: seed 00..1f",
        &["Valid", "SpecExample"],
        json!({ "seed": hex(spec_seed) }),
    );
    assert_eq!(spec.output["ed25519Public"], "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8");
    assert_eq!(spec.output["ed25519Fingerprint"], "09b5-0bb0-73f4-a1c1");
    assert_eq!(spec.output["x25519Public"], "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f");
    t.push(spec);
    for (seed, what) in [([0u8; 32], "all zero"), ([0xff; 32], "all ff (X25519 clamps it)"), ([0x42; 32], "all 42")] {
        t.push(valid("key.derive", &format!("seed {what}"), &["Valid"], json!({ "seed": hex(seed) })));
    }
    let t = f.group("key.fingerprint");
    for (key, what) in [
        ("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8", "SPEC §1.4 example"),
        ("8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f", "a Noise key (same rule)"),
        ("0000000000000000000000000000000000000000000000000000000000000000", "all zero bytes (not validated)"),
    ] {
        t.push(valid("key.fingerprint", what, &["Valid"], json!({ "key": key })));
    }
}

fn parse(f: &mut VectorFile) {
    let key = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
    let t = f.group("key.parse");
    t.push(valid("key.parse", "64 lowercase hex digits", &["Valid"], json!({ "text": key })));
    let cases = [
        (key.to_uppercase(), "upper case"),
        (format!("03A1{}", &key[4..]), "one upper-case digit"),
        (key[..63].to_owned(), "63 digits"),
        (format!("{key}0"), "65 digits"),
        (format!("0x{}", &key[2..]), "0x prefix"),
        (format!(" {}", &key[1..]), "leading space"),
        (format!("g{}", &key[1..]), "non-hex digit g"),
        (String::new(), "empty"),
    ];
    for (text, what) in cases {
        t.push(invalid("key.parse", what, &["TextForm"], json!({ "text": text })));
    }
}

fn verify(f: &mut VectorFile) {
    const OP: &str = "ed25519.verify";
    let key = Keypair::from_secret_bytes([0x11; 32]);
    let msg = b"spaces/1 test message".to_vec();
    let sig = key.sign(&msg).0;
    let case = |pk: &str, m: &[u8], s: &[u8]| json!({ "publicKey": pk, "message": hex(m), "signature": hex(s) });
    let pk = hex::encode(key.public().0);
    let t = f.group(OP);
    t.push(valid(OP, "a signature by the key", &["Valid"], case(&pk, &msg, &sig)));
    t.push(valid(OP, "empty message", &["Valid"], case(&pk, &[], &key.sign(&[]).0)));
    t.push(invalid(OP, "another message", &["WrongMessage"], case(&pk, b"spaces/1 test messagf", &sig)));
    let malleated = [&sig[..32], &add_ell(&sig[32..])[..]].concat();
    t.push(invalid(OP, "s + ℓ (malleated)", &["NonCanonicalS"], case(&pk, &msg, &malleated)));
    let mut high = sig;
    high[63] |= 0xe0;
    t.push(invalid(OP, "s with its top three bits set", &["NonCanonicalS"], case(&pk, &msg, &high)));
    let identity = hex::decode(SMALL_ORDER[0].0).expect("constant hex");
    let forged = [&identity[..], &[0u8; 32][..]].concat();
    for (point, what) in SMALL_ORDER {
        let flag = if what.contains("non-canonical") { "NonCanonicalKey" } else { "SmallOrderKey" };
        let comment = format!("key of {what}, R = identity, s = 0");
        t.push(invalid(OP, &comment, &[flag], case(point, &msg, &forged)));
    }
    let small_r = [&identity[..], &sig[32..]].concat();
    t.push(invalid(OP, "R = identity with the honest s", &["SmallOrderR"], case(&pk, &msg, &small_r)));
    let not_point = "0200000000000000000000000000000000000000000000000000000000000000";
    t.push(invalid(OP, "key y = 2 is not on the curve", &["InvalidKey"], case(not_point, &msg, &sig)));
}

pub fn file() -> VectorFile {
    let mut f = VectorFile::new("keys.json", "spaces/1 keys, text forms, fingerprints and strict Ed25519");
    notes(&mut f);
    derive(&mut f);
    parse(&mut f);
    verify(&mut f);
    f
}
