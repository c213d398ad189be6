//! Invitation codes (SPEC §7.2): text and payload decoding.
//!
//! Invariants: decoding is total; an accepted text is the code's one text form (re-encoding
//! gives the trimmed, lowercased input) and decodes back to the same code; an accepted
//! payload re-encodes to the same 54 bytes; the topic and prologue depend on the payload only.

use spaces_protocol::invitation::code::InvitationCode;

pub fn run(data: &[u8]) {
    payload(data);
    if let Ok(text) = core::str::from_utf8(data) {
        self::text(text);
    }
}

fn payload(bytes: &[u8]) {
    let Ok(code) = InvitationCode::from_payload(bytes) else { return };
    assert_eq!(code.payload().as_slice(), bytes, "an accepted payload re-encodes to other bytes");
    let text = code.encode();
    assert_eq!(InvitationCode::decode(&text), Ok(code), "a code's own text does not decode to it");
}

fn text(text: &str) {
    let Ok(code) = InvitationCode::decode(text) else { return };
    let encoded = code.encode();
    assert_eq!(encoded, text.trim().to_ascii_lowercase(), "an accepted text is not the code's one text form");
    assert_eq!(InvitationCode::decode(&encoded), Ok(code));
    let again = InvitationCode::from_payload(&code.payload()).expect("a decoded code's payload decodes");
    assert_eq!(again, code);
    assert_eq!(again.topic(), code.topic());
    assert_eq!(again.prologue(), code.prologue());
}
