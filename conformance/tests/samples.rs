//! The harness's own sample vectors (`tests/data/*.json`): generated here from fixed keys,
//! checked byte for byte (set `SPACES_UPDATE_SAMPLES=1` to rewrite them), and graded all OK
//! against the in-process reference driver. The published vectors live in `vectors/`; these
//! only keep the harness testable on its own.

use std::path::PathBuf;

use serde_json::{Value, json};
use spaces_conformance::reference::ReferenceDriver;
use spaces_conformance::report::{Report, Status};
use spaces_conformance::vectors;
use spaces_conformance::wire::Reply;
use spaces_protocol::codec::Canonical;
use spaces_protocol::credential::{Assertion, Credential, CredentialBody, CredentialId};
use spaces_protocol::hash::Digest;
use spaces_protocol::invitation::{AuthMethod, InvitationCode, Kind};
use spaces_protocol::keys::{Keypair, NoiseKeypair};
use spaces_protocol::{Role, Signature, Timestamp};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

struct Tests {
    op: &'static str,
    tests: Vec<Value>,
}

impl Tests {
    fn new(op: &'static str) -> Self {
        Tests { op, tests: Vec::new() }
    }

    /// A test whose output is the reference's answer: its value when `result` is valid, its
    /// error kind (informative) when invalid. Panics if the reference disagrees with `result`.
    fn add(&mut self, comment: &str, flags: &[&str], input: Value, result: &str) {
        let output = match (ReferenceDriver::default().handle(self.op, &input), result) {
            (Reply::Ok(v), "valid") => v,
            (Reply::Error(e), "invalid") => json!({ "errorKind": e.kind }),
            (other, _) => panic!("{comment}: the reference answered {other:?}, not {result}"),
        };
        let tc_id = self.tests.len() + 1;
        self.tests.push(json!({
            "tcId": tc_id, "comment": comment, "flags": flags, "input": input, "output": output, "result": result,
        }));
    }
}

fn file(algorithm: &str, notes: Value, tests: Tests) -> String {
    let op = tests.op;
    let v = json!({
        "algorithm": algorithm,
        "schema": format!("{}_schema.json", op.replace('.', "_")),
        "version": "spaces/1",
        "numberOfTests": tests.tests.len(),
        "notes": notes,
        "testGroups": [{ "type": op, "tests": tests.tests }],
    });
    serde_json::to_string_pretty(&v).unwrap() + "\n"
}

fn note(bug: &str, description: &str) -> Value {
    json!({ "bugType": bug, "description": description })
}

/// The example of SPEC.md §7.1.4.
fn spec_code() -> InvitationCode {
    let noise = NoiseKeypair::from_secret_bytes(core::array::from_fn(|i| i as u8));
    InvitationCode {
        kind: Kind::Space,
        auth: AuthMethod::Pin,
        role: Some(Role::Editor),
        id: core::array::from_fn(|i| 0xa0 + i as u8),
        host: noise.public(),
        expires_at_s: 1_800_000_000,
    }
}

fn code_vectors() -> String {
    let code = spec_code();
    let text = code.encode();
    let mut t = Tests::new("code.decode");
    t.add("SPEC §7.1.4 example", &[], json!({ "text": text }), "valid");
    t.add("upper case (QR alphanumeric mode)", &[], json!({ "text": text.to_uppercase() }), "valid");
    t.add("surrounding white space is removed", &[], json!({ "text": format!("  {text}\n") }), "valid");
    let device = InvitationCode { kind: Kind::Device, auth: AuthMethod::Key, role: None, ..code };
    t.add("DEVICE/Key code, no role", &[], json!({ "text": device.encode() }), "valid");
    for at in [5, 40, 96] {
        let mut b = text.clone().into_bytes();
        b[at] = if b[at] == b'q' { b'p' } else { b'q' };
        let typo = String::from_utf8(b).unwrap();
        t.add(&format!("one character substituted at {at}"), &["Typo"], json!({ "text": typo }), "invalid");
    }
    let mut b = text.clone().into_bytes();
    let at = (10..96).find(|i| b[*i] != b[*i + 1]).unwrap();
    b.swap(at, at + 1);
    let swapped = String::from_utf8(b).unwrap();
    t.add("adjacent characters swapped", &["Typo"], json!({ "text": swapped }), "invalid");
    t.add("truncated by one character", &["Truncated"], json!({ "text": &text[..96] }), "invalid");
    let mixed = format!("S{}", &text[1..]);
    t.add("mixed case", &["Format"], json!({ "text": mixed }), "invalid");
    let padded = "spc1qyj2pgdz5wj2tf484z5642av4kh2lr6qckkmdre9vf9wtvs5afm85mkffkpf60tmtcddrwn08csns2zlddyayqpx2vg3m";
    t.add("non-zero padding bit (SPEC §7.1.4)", &["NonCanonical"], json!({ "text": padded }), "invalid");
    t.add("longer than 100 characters", &["TooLong"], json!({ "text": "q".repeat(101) }), "invalid");
    t.add("empty", &["Format"], json!({ "text": "" }), "invalid");
    let notes = json!({
        "Typo": note("MODIFIED_INPUT", "A single mistyped or swapped character must be an error, never another invitation."),
        "Truncated": note("MODIFIED_INPUT", "A code missing characters must be refused."),
        "Format": note("MALFORMED", "Not bech32 text: mixed case or no separator."),
        "NonCanonical": note("CAN_OF_WORMS", "Each code has exactly one text: non-zero padding bits are refused."),
        "TooLong": note("EDGE_CASE", "Input longer than 100 bytes is refused unparsed."),
    });
    file("spaces/1 invitation code (sample)", notes, t)
}

fn sign(body: CredentialBody, key: &Keypair, chain: Option<Credential>) -> Credential {
    let signature = key.sign(&body.signing_input());
    Credential { body, signature, chain: chain.map(Box::new) }
}

fn credential_vectors() -> String {
    let identity = Keypair::from_secret_bytes([1; 32]);
    let device = Keypair::from_secret_bytes([2; 32]);
    let member = Keypair::from_secret_bytes([3; 32]);
    let space = Keypair::from_secret_bytes([4; 32]);
    let noise = NoiseKeypair::from_secret_bytes([5; 32]).public();
    let authorize = CredentialBody {
        version: 1,
        issuer: identity.public(),
        subject: device.public(),
        issued_at: Timestamp::from_millis(1_700_000_000_000),
        parents: vec![],
        assertion: Assertion::AuthorizedDevice {
            identity: identity.public(),
            device: device.public(),
            noise_key: noise,
        },
        signer: identity.public(),
    };
    let chain = sign(authorize.clone(), &identity, None);
    let member_body = CredentialBody {
        version: 1,
        issuer: identity.public(),
        subject: member.public(),
        issued_at: Timestamp::from_millis(1_700_000_000_001),
        parents: vec![CredentialId(Digest([9; 32]))],
        assertion: Assertion::SpaceMember {
            space: space.public(),
            role: Role::Editor,
            invitation: None,
            data_frontier: vec![],
        },
        signer: device.public(),
    };
    let genesis_body = CredentialBody {
        version: 1,
        issuer: space.public(),
        subject: space.public(),
        issued_at: Timestamp::from_millis(1_700_000_000_000),
        parents: vec![],
        assertion: Assertion::SpaceGenesis { space: space.public() },
        signer: space.public(),
    };
    let genesis = sign(genesis_body.clone(), &space, None);
    let signed = sign(member_body.clone(), &device, Some(chain.clone()));
    let hexed = |c: &Credential| json!({ "credential": hex::encode(c.to_bytes()) });
    let mut t = Tests::new("credential.verify");
    t.add("space genesis signed by the space key", &[], hexed(&genesis), "valid");
    t.add("device-signed SpaceMember with its chain", &[], hexed(&signed), "valid");
    t.add("AuthorizedDevice signed by the identity", &[], hexed(&chain), "valid");
    let mut bad = genesis.clone();
    bad.signature.0[10] ^= 1;
    t.add("signature byte flipped", &["BadSignature"], hexed(&bad), "invalid");
    let mut malleable = genesis.clone();
    add_group_order(&mut malleable.signature);
    t.add("s + l (malleated signature)", &["SignatureMalleability"], hexed(&malleable), "invalid");
    let unchained = Credential { chain: None, ..signed.clone() };
    t.add("device-signed without its chain", &["MissingChain"], hexed(&unchained), "invalid");
    let wrong_type = sign(CredentialBody { signer: identity.public(), ..member_body }, &device, None);
    t.add("signed by another key than the signer", &["BadSignature"], hexed(&wrong_type), "invalid");
    let mut identity_point = [0u8; 32];
    identity_point[0] = 1;
    let weak_body = CredentialBody {
        issuer: spaces_protocol::PublicKey(identity_point),
        subject: spaces_protocol::PublicKey(identity_point),
        signer: spaces_protocol::PublicKey(identity_point),
        assertion: Assertion::SpaceGenesis { space: spaces_protocol::PublicKey(identity_point) },
        ..genesis_body
    };
    let mut weak_sig = [0u8; 64];
    weak_sig[0] = 1;
    let weak = Credential { body: weak_body, signature: Signature(weak_sig), chain: None };
    t.add("identity-point key, R = identity, s = 0", &["SmallOrderKey"], hexed(&weak), "invalid");
    let mut trailing = genesis.to_bytes();
    trailing.push(0);
    t.add("a byte after the credential", &["NonCanonical"], json!({ "credential": hex::encode(trailing) }), "invalid");
    // issued_at (at byte 65, six bytes) with a redundant continuation: `… b1 00`, not `… 31`.
    let canonical = genesis.to_bytes();
    assert_eq!(canonical[70], 0x31, "the last byte of issued_at");
    let mut padded = canonical[..70].to_vec();
    padded.extend([0xb1, 0x00]);
    padded.extend(&canonical[71..]);
    t.add(
        "issued_at as a non-minimal varint",
        &["NonCanonical"],
        json!({ "credential": hex::encode(padded) }),
        "invalid",
    );
    let truncated = &genesis.to_bytes()[..50];
    t.add("truncated", &["NonCanonical"], json!({ "credential": hex::encode(truncated) }), "invalid");
    let notes = json!({
        "BadSignature": note("AUTH_BYPASS", "The signature does not verify under the signer over the tagged body."),
        "SignatureMalleability": note("SIGNATURE_MALLEABILITY", "s must be below the group order (verify_strict)."),
        "MissingChain": note("AUTH_BYPASS", "A signer other than the issuer needs its AuthorizedDevice chain."),
        "SmallOrderKey": note("WEAK_PUBLIC_KEY", "Small-order keys verify almost anything; verify_strict refuses them."),
        "NonCanonical": note("MALFORMED", "Strict decoding: no trailing or missing bytes."),
    });
    file("spaces/1 credential verification (sample)", notes, t)
}

/// s += l (little-endian), keeping s below 2^256: a malleated, non-canonical signature.
fn add_group_order(sig: &mut Signature) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (s, l) in sig.0[32..].iter_mut().zip(L) {
        let sum = u16::from(*s) + u16::from(l) + carry;
        *s = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "s + l fits 256 bits");
}

#[test]
fn sample_vectors_are_current_and_pass_on_the_reference() {
    let dir = data_dir();
    for (name, text) in [("code_decode.json", code_vectors()), ("credential_verify.json", credential_vectors())] {
        let path = dir.join(name);
        if std::env::var_os("SPACES_UPDATE_SAMPLES").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(on_disk == text, "{name} is stale: rerun with SPACES_UPDATE_SAMPLES=1");
    }
    let files = vectors::load_dir(&dir).unwrap();
    let mut report = Report::default();
    vectors::run(&mut ReferenceDriver::default(), &files, "", &mut report);
    assert!(report.cases.len() >= 20);
    for case in &report.cases {
        assert_eq!(case.status, Status::Ok, "{case:?}");
    }
}
