//! The invite code: what a guest needs to find and authenticate the host, as short text.
//!
//! Layout (SPEC.md §7.1): a 54-byte payload `version(1) || flags(1) || id(16) ||
//! host_noise_key(32) || expires_at_seconds(u32 big-endian)`, written as bech32m with the
//! human-readable prefix `spc`: 97 characters, lowercase letters and digits only (URL-safe;
//! upper case is accepted for QR alphanumeric mode). Bech32m's BCH checksum detects every
//! single-character substitution and every adjacent swap, so a typo is always an error. The
//! PIN is never in the code; the code is also not a bearer secret on its own.

use core::fmt;

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32m, Hrp};

use super::{AuthMethod, Kind};
use crate::credential::Role;
use crate::hash::{Digest, hash_tagged, tagged};
use crate::keys::NoiseKey;
use crate::time::Timestamp;

pub const CODE_VERSION: u8 = 1;
pub const CODE_PREFIX: &str = "spc";
pub const PAYLOAD_LEN: usize = 54;
/// The longest text `decode` looks at; anything longer is refused unparsed.
pub const CODE_LENGTH_MAX: usize = 100;

const TOPIC_DOMAIN: &str = "spaces/1 invitation-topic";
const PROLOGUE_DOMAIN: &str = "spaces/1 invitation-prologue";

/// A decoded invite code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InvitationCode {
    pub kind: Kind,
    pub auth: AuthMethod,
    /// The role a SPACE invitation grants; `None` for DEVICE.
    pub role: Option<Role>,
    pub id: [u8; 16],
    /// The Noise static key the guest pins: only its holder can complete the handshake.
    pub host: NoiseKey,
    /// Seconds since the Unix epoch.
    pub expires_at_s: u32,
}

/// Why a text is not an invite code. Each variant says what to tell the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    /// Longer than any code.
    TooLong {
        len: usize,
    },
    /// Not bech32 text: a character outside the alphabet, mixed case, no separator.
    Format,
    /// The checksum does not match: a character was mistyped, dropped or swapped.
    Checksum,
    /// Not a spaces invite code (another bech32 prefix).
    WrongPrefix,
    /// A payload of the wrong size (truncated or padded code).
    Length {
        found: usize,
    },
    UnsupportedVersion {
        found: u8,
    },
    /// Flags out of range (unknown kind, method or role).
    BadFlags,
}

impl fmt::Display for CodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeError::TooLong { len } => write!(f, "{len} characters is too long for an invite code"),
            CodeError::Format => f.write_str("not an invite code (unexpected characters)"),
            CodeError::Checksum => f.write_str("the code has a typo: check every character"),
            CodeError::WrongPrefix => f.write_str("not a spaces invite code (must start with spc1)"),
            CodeError::Length { found } => write!(f, "the code is incomplete ({found} of {PAYLOAD_LEN} bytes)"),
            CodeError::UnsupportedVersion { found } => write!(f, "invite code version {found} is not supported"),
            CodeError::BadFlags => f.write_str("the code names an unknown kind, method or role"),
        }
    }
}

impl std::error::Error for CodeError {}

fn kind_code(k: Kind) -> u8 {
    match k {
        Kind::Space => 0,
        Kind::Device => 1,
    }
}

fn auth_code(a: AuthMethod) -> u8 {
    match a {
        AuthMethod::None => 0,
        AuthMethod::Pin => 1,
        AuthMethod::Key => 2,
    }
}

fn role_code(r: Option<Role>) -> u8 {
    match r {
        None => 0,
        Some(Role::Admin) => 1,
        Some(Role::Editor) => 2,
        Some(Role::Reader) => 3,
        Some(Role::Owner | Role::Removed) => unreachable!("validated at construction"),
    }
}

impl InvitationCode {
    /// The code's 54 bytes: version, flags, id, host key, expiry.
    pub fn payload(&self) -> [u8; PAYLOAD_LEN] {
        assert_eq!(self.kind == Kind::Space, self.role.is_some(), "SPACE codes carry a role, DEVICE codes none");
        assert!(self.role.is_none_or(super::grantable), "never OWNER or REMOVED");
        let mut out = [0u8; PAYLOAD_LEN];
        out[0] = CODE_VERSION;
        out[1] = kind_code(self.kind) | (auth_code(self.auth) << 2) | (role_code(self.role) << 4);
        out[2..18].copy_from_slice(&self.id);
        out[18..50].copy_from_slice(&self.host.0);
        out[50..54].copy_from_slice(&self.expires_at_s.to_be_bytes());
        out
    }

    pub fn from_payload(p: &[u8]) -> Result<Self, CodeError> {
        if p.len() != PAYLOAD_LEN {
            return Err(CodeError::Length { found: p.len() });
        }
        if p[0] != CODE_VERSION {
            return Err(CodeError::UnsupportedVersion { found: p[0] });
        }
        let flags = p[1];
        let kind = match flags & 0b11 {
            0 => Kind::Space,
            1 => Kind::Device,
            _ => return Err(CodeError::BadFlags),
        };
        let auth = match (flags >> 2) & 0b11 {
            0 => AuthMethod::None,
            1 => AuthMethod::Pin,
            2 => AuthMethod::Key,
            _ => return Err(CodeError::BadFlags),
        };
        let role = match ((flags >> 4) & 0b111, kind) {
            (0, Kind::Device) => None,
            (1, Kind::Space) => Some(Role::Admin),
            (2, Kind::Space) => Some(Role::Editor),
            (3, Kind::Space) => Some(Role::Reader),
            _ => return Err(CodeError::BadFlags),
        };
        if flags & 0x80 != 0 {
            return Err(CodeError::BadFlags);
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&p[2..18]);
        let mut host = [0u8; 32];
        host.copy_from_slice(&p[18..50]);
        let expires_at_s = u32::from_be_bytes([p[50], p[51], p[52], p[53]]);
        Ok(InvitationCode { kind, auth, role, id, host: NoiseKey(host), expires_at_s })
    }

    /// The text form, lowercase.
    pub fn encode(&self) -> String {
        let hrp = Hrp::parse(CODE_PREFIX).expect("constant prefix is valid");
        bech32::encode_lower::<Bech32m>(hrp, &self.payload()).expect("54 bytes fit a bech32m string")
    }

    /// Parses a code as a user typed or scanned it. Total: any input gives a code or an error.
    pub fn decode(text: &str) -> Result<Self, CodeError> {
        let text = text.trim();
        if text.len() > CODE_LENGTH_MAX {
            return Err(CodeError::TooLong { len: text.len() });
        }
        let checked = CheckedHrpstring::new::<Bech32m>(text).map_err(|e| {
            use bech32::primitives::decode::CheckedHrpstringError as E;
            match e {
                E::Checksum(_) => CodeError::Checksum,
                _ => CodeError::Format,
            }
        })?;
        if checked.hrp().to_lowercase() != CODE_PREFIX {
            return Err(CodeError::WrongPrefix);
        }
        let bytes: Vec<u8> = checked.byte_iter().collect();
        let code = Self::from_payload(&bytes)?;
        // One text per code: padding bits must be zero, so re-encoding gives the input back.
        if code.encode() != text.to_ascii_lowercase() {
            return Err(CodeError::Length { found: bytes.len() });
        }
        Ok(code)
    }

    pub fn expires_at(&self) -> Timestamp {
        Timestamp::from_millis(u64::from(self.expires_at_s) * 1000)
    }

    /// Where guest and host meet on the signaling network. A hash: the server sees the topic
    /// but never the host key or the id, and nothing in it depends on the PIN.
    pub fn topic(&self) -> Digest {
        hash_tagged(TOPIC_DOMAIN, &self.payload())
    }

    /// The Noise prologue: both sides mix in every parameter, so a relay that alters the
    /// method, role, kind, expiry or id makes the handshake fail.
    pub fn prologue(&self) -> Vec<u8> {
        if crate::mutants::active(crate::mutants::Mutant::DropPrologueBinding) {
            return tagged(PROLOGUE_DOMAIN, &[]);
        }
        tagged(PROLOGUE_DOMAIN, &self.payload())
    }
}

impl fmt::Display for InvitationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> InvitationCode {
        InvitationCode {
            kind: Kind::Space,
            auth: AuthMethod::Pin,
            role: Some(Role::Editor),
            id: [7; 16],
            host: NoiseKey([9; 32]),
            expires_at_s: 1_800_000_000,
        }
    }

    #[test]
    fn round_trip_and_length() {
        let c = sample();
        let text = c.encode();
        assert!(text.len() <= CODE_LENGTH_MAX, "{} chars", text.len());
        assert!(text.starts_with("spc1"));
        assert_eq!(InvitationCode::decode(&text), Ok(c));
        assert_eq!(InvitationCode::decode(&text.to_uppercase()), Ok(c));
    }

    #[test]
    fn every_single_substitution_and_adjacent_swap_is_rejected() {
        let text = sample().encode();
        let alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
        let bytes = text.as_bytes();
        for i in 0..bytes.len() {
            for c in alphabet.bytes().chain(b"1".iter().copied()) {
                if c == bytes[i] {
                    continue;
                }
                let mut t = bytes.to_vec();
                t[i] = c;
                let t = String::from_utf8(t).unwrap();
                assert!(InvitationCode::decode(&t).is_err(), "substitution at {i} accepted: {t}");
            }
            if i + 1 < bytes.len() && bytes[i] != bytes[i + 1] {
                let mut t = bytes.to_vec();
                t.swap(i, i + 1);
                let t = String::from_utf8(t).unwrap();
                assert!(InvitationCode::decode(&t).is_err(), "swap at {i} accepted: {t}");
            }
        }
    }

    #[test]
    fn truncation_and_garbage_are_errors() {
        let text = sample().encode();
        for n in 0..text.len() {
            assert!(InvitationCode::decode(&text[..n]).is_err());
        }
        assert_eq!(InvitationCode::decode(&"x".repeat(101)), Err(CodeError::TooLong { len: 101 }));
        assert_eq!(InvitationCode::decode("héllo"), Err(CodeError::Format));
    }
}
