//! Credential decoding and stateless verification (SPEC §3).
//!
//! Invariants: decoding is total and an accepted credential re-encodes to the same bytes;
//! verification is total; a verified credential's id is the one `verify` returns and does not
//! change through a round trip; changing any one byte of a verified credential's encoding
//! never yields another credential that verifies (the signature covers the body, the chain is
//! signed itself, and `verify_strict` admits one signature per message); a verified credential
//! offered to an empty membership of its space is never a panic.

use spaces_protocol::credential::Credential;
use spaces_protocol::{Canonical, Membership};

use crate::support::round_trip;

/// Single-byte changes tried per verified input: enough to cover body, signature and chain over
/// a campaign while keeping each execution cheap (each is a signature check).
const FLIPS_MAX: usize = 16;

pub fn run(data: &[u8]) {
    let Some(credential) = round_trip::<Credential>(data) else { return };
    let Ok(id) = credential.verify() else { return };
    assert_eq!(id, credential.id(), "verify returns another id than the credential's");
    let again = Credential::from_bytes(&credential.to_bytes()).expect("round trip checked");
    assert_eq!(again.verify(), Ok(id));
    flips(data);
    if let Some(space) = credential.assertion().space() {
        let mut membership = Membership::new(space);
        let _ = membership.insert(credential);
    }
}

/// Every tried one-byte change is refused by the decoder or by verification.
fn flips(data: &[u8]) {
    let step = (data.len() / FLIPS_MAX).max(1);
    for at in (0..data.len()).step_by(step) {
        let mut changed = data.to_vec();
        changed[at] ^= 0x01 << (at % 8);
        if let Ok(forged) = Credential::from_bytes(&changed) {
            assert!(forged.verify().is_err(), "a one-byte change at {at} of a verified credential verifies");
        }
    }
}
