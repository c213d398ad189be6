//! `handshake.json`: the invitation handshake with every secret fixed (SPEC.md §7.3–7.5):
//! SPAKE2 and the confirmations (§7.5.4), the Noise XK frames and handshake hash, prologue
//! binding, and strict decoding of invitation frames.

use serde_json::{Value, json};
use spaces_protocol::Role;
use spaces_protocol::invitation::{AuthMethod, InvitationCode, Kind};

use super::codes::SPEC_CODE;
use super::{invalid, valid};
use crate::file::VectorFile;
use crate::json::hex;

const PAKE: &str = "pake.run";
const TRANSCRIPT: &str = "handshake.transcript";
const FRAME: &str = "invitation.decode_frame";

fn notes(f: &mut VectorFile) {
    f.note("Valid", "Functionality", "Every byte both sides produce with these secrets.");
    f.note("SpecExample", "Functionality", "The test vector of SPEC.md §7.5.4.");
    f.note("WrongPin", "Authentication", "The guest used another PIN: both sides still derive a key, but the host MUST refuse the guest's confirmation (hostAcceptsGuest false) and answer with a sealed Refused.");
    f.note("PrologueMismatch", "ParameterBinding", "Guest and host hold codes that differ in one parameter: the prologues differ and the host MUST fail to read Noise message 1 (§7.2).");
    f.note(
        "WrongPinnedKey",
        "Authentication",
        "The guest pins another host key than the host holds: the handshake MUST fail (§7.4).",
    );
    f.note("Frame", "Encoding", "A well-formed invitation frame (§7.3.1).");
    f.note("MalformedFrame", "Encoding", "An invitation frame a strict decoder MUST refuse (§2.3).");
    f.note(
        "SharedBudget",
        "Authentication",
        "A delegated invitation's attempt budget split over its hosts (§7.8.1 step 2): the parts add up to attempts_max, so a guesser moving from host to host gets no more wrong PINs than at one host.",
    );
}

fn shares(f: &mut VectorFile) {
    const SHARES: &str = "delegation.shares";
    let t = f.group(SHARES);
    for (total, hosts, comment) in [
        (3, 1, "3 over one host: all of it"),
        (3, 2, "3 over 2 hosts: [2, 1] (SPEC §7.8.1)"),
        (3, 5, "3 over 5 hosts: the first 3 get one each, the rest none"),
        (5, 3, "5 over 3 hosts: [2, 2, 1]"),
        (3, 0, "no host: no share"),
    ] {
        let v = valid(SHARES, comment, &["Valid", "SharedBudget"], json!({ "total": total, "hosts": hosts }));
        let sum: u64 = v.output["shares"].as_array().into_iter().flatten().filter_map(Value::as_u64).sum();
        assert_eq!(sum, if hosts == 0 { 0 } else { total }, "{comment}");
        t.push(v);
    }
}

fn seq(from: u8) -> [u8; 32] {
    core::array::from_fn(|i| from.wrapping_add(i as u8))
}

fn pake(f: &mut VectorFile) {
    let mut x = [0x5a; 32];
    x[31] = 0x05;
    let mut y = [0xa5; 32];
    y[31] = 0x0a;
    let h = seq(0x80);
    let input = |pin: &str, guest_pin: Option<&str>, h: [u8; 32], run: u8| json!({ "h": hex(h), "run": run, "pin": pin, "guestPin": guest_pin, "x": hex(x), "y": hex(y) });
    let t = f.group(PAKE);
    let spec = valid(PAKE, "SPEC §7.5.4", &["Valid", "SpecExample"], input("024681", None, h, 0));
    let o = &spec.output;
    assert_eq!(o["guestMessage"], "41de08023de5edbed51bc2a4e3687e58c358d907d0a1ab2fd6345ce5eb156c9d9c");
    assert_eq!(o["hostMessage"], "4203049ae2ccbb09b579971abde84a45be9fcf2dbb876e3db5db63a221c44135dc");
    assert_eq!(o["guestKey"], "3b9ffedf18ea07e81c572a0afdc37e16c3b09a02481053c711bb60ffaed651fb");
    assert_eq!(o["macGuest"], "d59c6dc382ba71b4906fe4ddde2f7df4ab0bef82b2fc1240e2c2244bd0f73308");
    assert_eq!(o["macHost"], "fdc15a35d0cc7cc2aa146485a672814f0796df75b8c4f77feb3976355f689909");
    t.push(spec);
    let wrong = valid(
        PAKE,
        "SPEC §7.5.4, the guest typed 024680",
        &["Valid", "SpecExample", "WrongPin"],
        input("024681", Some("024680"), h, 0),
    );
    assert_eq!(wrong.output["macGuest"], "c02a14fe753d15217a1e2beec33aa2d1aacf6e365eafe2b0d58a637afeafb92f");
    assert_eq!(wrong.output["hostAcceptsGuest"], false);
    t.push(wrong);
    t.push(valid(PAKE, "run 1 of the same session", &["Valid"], input("024681", None, h, 1)));
    t.push(valid(PAKE, "PIN 000000, another handshake hash", &["Valid"], input("000000", None, seq(0), 0)));
}

fn transcripts(f: &mut VectorFile) {
    let mut x = [0x5a; 32];
    x[31] = 0x05;
    let mut y = [0xa5; 32];
    y[31] = 0x0a;
    let input = |guest_code: Option<String>, guest_pin: Option<&str>| {
        json!({
            "code": SPEC_CODE,
            "guestCode": guest_code,
            "hostStatic": hex(seq(0)),
            "guestStatic": hex([0x33; 32]),
            "hostEphemeral": hex([0x44; 32]),
            "guestEphemeral": hex([0x55; 32]),
            "run": 0,
            "pin": "024681",
            "guestPin": guest_pin,
            "x": hex(x),
            "y": hex(y),
            "guestIdentitySeed": hex([0x61; 32]),
            "guestDeviceSeed": hex([0x62; 32]),
            "controlFeedSeed": hex([0x63; 32]),
            "dataFeedSeed": hex([0x64; 32]),
            "issuedAt": 1_700_000_000_000u64,
        })
    };
    let t = f.group(TRANSCRIPT);
    let ok = valid(TRANSCRIPT, "SPEC §7.1.4 code, right PIN", &["Valid"], input(None, None));
    assert_eq!(ok.output["pake"]["hostAcceptsGuest"], true);
    t.push(ok);
    t.push(valid(
        TRANSCRIPT,
        "SPEC §7.1.4 code, wrong PIN: host answers Refused{WrongPin, 2}",
        &["Valid", "WrongPin"],
        input(None, Some("135790")),
    ));
    let spec = InvitationCode::decode(SPEC_CODE).expect("SPEC code decodes");
    let altered = |c: InvitationCode| Some(c.encode());
    let cases = [
        (altered(InvitationCode { role: Some(Role::Admin), ..spec }), "the guest's code says ADMIN"),
        (altered(InvitationCode { auth: AuthMethod::None, ..spec }), "the guest's code says method None"),
        (altered(InvitationCode { expires_at_s: spec.expires_at_s + 1, ..spec }), "the guest's code expires 1 s later"),
        (altered(InvitationCode { id: [0; 16], ..spec }), "the guest's code has another id"),
        (altered(InvitationCode { kind: Kind::Device, role: None, ..spec }), "the guest's code is a DEVICE code"),
    ];
    for (code, what) in cases {
        t.push(invalid(TRANSCRIPT, what, &["PrologueMismatch"], input(code, None)));
    }
    let other_host = InvitationCode { host: spaces_protocol::keys::NoiseKey([0x09; 32]), ..spec };
    t.push(invalid(
        TRANSCRIPT,
        "the guest pins another host key",
        &["WrongPinnedKey"],
        input(Some(other_host.encode()), None),
    ));
}

fn frames(f: &mut VectorFile) {
    let t = f.group(FRAME);
    let frame = |t: &mut Vec<_>, comment: &str, bytes: &str| {
        t.push(valid(FRAME, comment, &["Frame"], json!({ "bytes": bytes })))
    };
    frame(t, "SPEC §7.3.1: Reject{Busy}", "010306");
    frame(t, "SPEC §7.3.1: Sealed with chunks cccccc and dddd", "01020203cccccc02dddd");
    frame(t, "Reject{UnknownInvitation}", "010308");
    frame(t, "Handshake with an empty Noise message", "010100");
    let hello = format!("0100{}30{}", "11".repeat(32), "22".repeat(48));
    frame(t, "Hello: topic and a 48-byte Noise message", &hello);
    let bad = |t: &mut Vec<_>, comment: &str, bytes: String| {
        t.push(invalid(FRAME, comment, &["MalformedFrame"], json!({ "bytes": bytes })));
    };
    bad(t, "version 2", "020306".into());
    bad(t, "version 0", "000306".into());
    bad(t, "frame variant 4", "0104".into());
    bad(t, "refusal index 10", "01030a".into());
    bad(t, "Reject without its refusal", "0103".into());
    bad(t, "trailing byte", "01030600".into());
    bad(t, "Hello cut inside its topic", format!("0100{}", "11".repeat(20)));
    bad(t, "chunk count 2 written as 82 00", "0102820003cccccc02dddd".into());
    bad(t, "empty", String::new());
}

pub fn file() -> VectorFile {
    let mut f = VectorFile::new("handshake.json", "spaces/1 invitation handshake: Noise XK, SPAKE2, confirmation");
    notes(&mut f);
    pake(&mut f);
    transcripts(&mut f);
    frames(&mut f);
    shares(&mut f);
    f
}
