//! `codes.json`: invite codes (SPEC.md §7.1–7.2): the §7.1.4 example, every kind, method and
//! role, and every class of single-character typo plus the structural errors of §7.1.3.

use bech32::{Bech32, Bech32m, Hrp};
use serde_json::json;
use spaces_protocol::Role;
use spaces_protocol::invitation::{AuthMethod, InvitationCode, Kind};
use spaces_protocol::keys::NoiseKey;

use super::{invalid, valid};
use crate::file::VectorFile;
use crate::json::hex;

const DECODE: &str = "code.decode";
const ENCODE: &str = "code.encode";
const ALPHABET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

pub const SPEC_CODE: &str =
    "spc1qyj2pgdz5wj2tf484z5642av4kh2lr6qckkmdre9vf9wtvs5afm85mkffkpf60tmtcddrwn08csns2zlddyayqqmucavf";

fn spec_code() -> InvitationCode {
    InvitationCode {
        kind: Kind::Space,
        auth: AuthMethod::Pin,
        role: Some(Role::Editor),
        id: core::array::from_fn(|i| 0xa0 + i as u8),
        host: spaces_protocol::keys::NoiseKeypair::from_secret_bytes(core::array::from_fn(|i| i as u8)).public(),
        expires_at_s: 1_800_000_000,
    }
}

fn bech(hrp: &str, payload: &[u8], bip173: bool) -> String {
    let hrp = Hrp::parse(hrp).expect("test prefixes are valid");
    match bip173 {
        true => bech32::encode_lower::<Bech32>(hrp, payload),
        false => bech32::encode_lower::<Bech32m>(hrp, payload),
    }
    .expect("short payloads encode")
}

fn notes(f: &mut VectorFile) {
    f.note("Valid", "Functionality", "A code that MUST decode to these fields.");
    f.note("SpecExample", "Functionality", "The example of SPEC.md §7.1.4.");
    f.note("UpperCase", "Functionality", "Upper case is accepted (QR alphanumeric mode) and decodes to the same code.");
    f.note("Whitespace", "Functionality", "Surrounding white space is removed first (§7.1.3 step 1).");
    f.note("Substitution", "Typo", "One character replaced by another alphabet character: the checksum MUST catch it.");
    f.note("Transposition", "Typo", "Two adjacent different characters swapped: the checksum MUST catch it.");
    f.note("Deletion", "Typo", "One character dropped.");
    f.note("Insertion", "Typo", "One alphabet character inserted.");
    f.note("Duplication", "Typo", "One character typed twice.");
    f.note("MixedCase", "Typo", "One character in the other case: bech32 refuses mixed case (Format).");
    f.note(
        "OutsideAlphabet",
        "Typo",
        "A character bech32 excludes for legibility (b, i, o) or any non-alphabet character.",
    );
    f.note("WrongChecksum", "Encoding", "A correct BIP-173 bech32 checksum where bech32m is required.");
    f.note("WrongPrefix", "Encoding", "A valid bech32m string with another human-readable part.");
    f.note("UnknownVersion", "Versioning", "A payload version other than 1.");
    f.note("Truncated", "Encoding", "A payload shorter than 54 bytes, validly checksummed.");
    f.note("BadFlags", "Encoding", "A flags byte outside §7.1.1.");
    f.note(
        "NonZeroPadding",
        "Canonical",
        "The 3 padding bits not zero: the only freedom left, refused so a code has one text (§7.1.3 step 9).",
    );
    f.note("TooLong", "Resource", "More than 100 characters: never parsed.");
}

fn encode_cases(f: &mut VectorFile) {
    let c = spec_code();
    let fields = |c: &InvitationCode| {
        json!({
            "kind": if c.kind == Kind::Space { "space" } else { "device" },
            "auth": c.auth.name(),
            "role": c.role.map(spaces_protocol::Role::name),
            "id": hex(c.id),
            "host": hex(c.host.0),
            "expiresAt": c.expires_at_s,
        })
    };
    let t = f.group(ENCODE);
    let spec = valid(ENCODE, "SPEC §7.1.4", &["Valid", "SpecExample"], fields(&c));
    assert_eq!(spec.output["text"], SPEC_CODE);
    assert_eq!(spec.output["topic"], "78780c2259198105d88e9130a29481142aa4cc7685efef5c4c32bda06ce5135a");
    t.push(spec);
    for (kind, auth, role) in [
        (Kind::Space, AuthMethod::None, Some(Role::Reader)),
        (Kind::Space, AuthMethod::Key, Some(Role::Admin)),
        (Kind::Device, AuthMethod::Pin, None),
        (Kind::Device, AuthMethod::Key, None),
    ] {
        let code =
            InvitationCode { kind, auth, role, id: [0x5c; 16], host: NoiseKey([0x77; 32]), expires_at_s: u32::MAX };
        let comment = format!("{kind:?} / {auth:?} / {role:?}, expiry u32::MAX");
        t.push(valid(ENCODE, &comment, &["Valid"], fields(&code)));
    }
}

fn decode_cases(f: &mut VectorFile) {
    let t = f.group(DECODE);
    let text = SPEC_CODE;
    t.push(valid(DECODE, "SPEC §7.1.4", &["Valid", "SpecExample"], json!({ "text": text })));
    t.push(valid(DECODE, "upper case", &["Valid", "UpperCase"], json!({ "text": text.to_uppercase() })));
    t.push(valid(
        DECODE,
        "surrounded by spaces and a newline",
        &["Valid", "Whitespace"],
        json!({ "text": format!("  {text}\n") }),
    ));
    let bytes = text.as_bytes();
    let bad = |t: &mut Vec<_>, comment: String, flag: &'static str, s: Vec<u8>| {
        let s = String::from_utf8(s).expect("ASCII");
        t.push(invalid(DECODE, &comment, &[flag], json!({ "text": s })));
    };
    // Every position, substituted by the next alphabet character (the separator and the
    // prefix by a character that keeps the string parseable where possible).
    for i in 0..bytes.len() {
        let mut s = bytes.to_vec();
        let at = ALPHABET.iter().position(|&c| c == bytes[i]).unwrap_or(0);
        s[i] = ALPHABET[(at + 1) % ALPHABET.len()];
        bad(t, format!("substitution at {i}: {} -> {}", bytes[i] as char, s[i] as char), "Substitution", s);
    }
    for i in (0..bytes.len() - 1).step_by(6) {
        if bytes[i] != bytes[i + 1] {
            let mut s = bytes.to_vec();
            s.swap(i, i + 1);
            bad(t, format!("adjacent swap at {i}"), "Transposition", s);
        }
    }
    for i in [0, 3, 4, 40, 90, 96] {
        let mut s = bytes.to_vec();
        s.remove(i);
        bad(t, format!("character {i} deleted"), "Deletion", s);
        let mut s = bytes.to_vec();
        s.insert(i, b'q');
        bad(t, format!("q inserted at {i}"), "Insertion", s);
        let mut s = bytes.to_vec();
        s.insert(i, bytes[i]);
        bad(t, format!("character {i} doubled"), "Duplication", s);
    }
    for i in [0, 10, 96] {
        let mut s = bytes.to_vec();
        s[i] = s[i].to_ascii_uppercase();
        bad(t, format!("character {i} upper case"), "MixedCase", s);
    }
    for (i, c) in [(10, b'b'), (20, b'i'), (30, b'o'), (40, b'-')] {
        let mut s = bytes.to_vec();
        s[i] = c;
        bad(t, format!("{} at {i}", c as char), "OutsideAlphabet", s);
    }
}

/// Well-formed bech32 with the wrong content: checksum kind, prefix, version, length, flags,
/// padding, size.
fn structure_cases(f: &mut VectorFile) {
    let t = f.group(DECODE);
    let text = SPEC_CODE;
    let payload = spec_code().payload();
    let text_of = |t: &mut Vec<_>, comment: &str, flag: &'static str, s: String| {
        t.push(invalid(DECODE, comment, &[flag], json!({ "text": s })));
    };
    text_of(t, "same payload, BIP-173 bech32 checksum", "WrongChecksum", bech("spc", &payload, true));
    text_of(t, "same payload under the prefix spd", "WrongPrefix", bech("spd", &payload, false));
    text_of(t, "same payload under the prefix bc", "WrongPrefix", bech("bc", &payload, false));
    let mut v2 = payload;
    v2[0] = 2;
    text_of(t, "payload version 2", "UnknownVersion", bech("spc", &v2, false));
    let mut v0 = payload;
    v0[0] = 0;
    text_of(t, "payload version 0", "UnknownVersion", bech("spc", &v0, false));
    text_of(t, "53-byte payload (last byte cut)", "Truncated", bech("spc", &payload[..53], false));
    text_of(t, "18-byte payload", "Truncated", bech("spc", &payload[..18], false));
    text_of(t, "55-byte payload (one byte extra)", "Truncated", bech("spc", &[&payload[..], &[0]].concat(), false));
    for (flags, what) in [
        (0x26u8, "kind 2"),
        (0x2c, "method 3"),
        (0x44, "role 4"),
        (0x04, "SPACE without a role"),
        (0x15, "DEVICE with a role"),
        (0xa4, "bit 7 set"),
    ] {
        let mut p = payload;
        p[1] = flags;
        text_of(t, &format!("flags {flags:02x}: {what}"), "BadFlags", bech("spc", &p, false));
    }
    text_of(
        t,
        "SPEC §7.1.4: last padding bit set",
        "NonZeroPadding",
        "spc1qyj2pgdz5wj2tf484z5642av4kh2lr6qckkmdre9vf9wtvs5afm85mkffkpf60tmtcddrwn08csns2zlddyayqpx2vg3m".to_owned(),
    );
    text_of(t, "101 characters", "TooLong", format!("{text}qqqq"));
    text_of(t, "empty", "Truncated", String::new());
}

pub fn file() -> VectorFile {
    let mut f = VectorFile::new("codes.json", "spaces/1 invite codes (bech32m)");
    notes(&mut f);
    encode_cases(&mut f);
    decode_cases(&mut f);
    structure_cases(&mut f);
    f
}
