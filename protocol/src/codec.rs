//! The canonical binary encoding.
//!
//! Every signed, hashed or transmitted structure is encoded with postcard (a stable,
//! documented serde format: LEB128 varints, length-prefixed sequences, variant indices as
//! varints; see SPEC.md §2). Postcard alone would accept some non-minimal inputs (an
//! over-long varint, an unsorted set), so decoding here is *strict*: after decoding, the value
//! is validated and re-encoded, and anything that does not re-encode to exactly the input
//! bytes is rejected. Hence each value has exactly one accepted encoding, which is what
//! signatures and content hashes need.

use serde::{Serialize, de::DeserializeOwned};

use crate::mutants::{Mutant, active};

/// Why bytes were not accepted as a value. Decoding never panics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The input is longer than any valid value of this type may be.
    TooLarge { len: usize, max: usize },
    /// The input ended inside a value.
    Truncated,
    /// A complete value was followed by more bytes.
    TrailingBytes { count: usize },
    /// A varint was malformed or overflowed its integer type.
    BadVarint,
    /// A bool byte other than 0 or 1.
    BadBool,
    /// An option tag other than 0 or 1.
    BadOption,
    /// An enum discriminant this version does not define.
    UnknownVariant,
    /// A string that is not UTF-8.
    BadUtf8,
    /// A version field with a value this implementation does not speak.
    UnsupportedVersion { found: u8 },
    /// Decodable, but not in the one canonical form (e.g. a non-minimal varint).
    NonCanonical,
    /// Well-formed bytes breaking a structural rule of the type (the message says which).
    Invalid(&'static str),
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DecodeError::TooLarge { len, max } => {
                write!(f, "{len} bytes exceeds the maximum of {max}")
            }
            DecodeError::Truncated => f.write_str("input ended inside a value"),
            DecodeError::TrailingBytes { count } => {
                write!(f, "{count} trailing bytes after the value")
            }
            DecodeError::BadVarint => f.write_str("malformed varint"),
            DecodeError::BadBool => f.write_str("bool byte must be 0 or 1"),
            DecodeError::BadOption => f.write_str("option tag must be 0 or 1"),
            DecodeError::UnknownVariant => f.write_str("unknown enum variant"),
            DecodeError::BadUtf8 => f.write_str("string is not UTF-8"),
            DecodeError::UnsupportedVersion { found } => {
                write!(f, "unsupported version {found}, expected 1")
            }
            DecodeError::NonCanonical => f.write_str("not the canonical encoding"),
            DecodeError::Invalid(why) => write!(f, "invalid: {why}"),
        }
    }
}

impl std::error::Error for DecodeError {}

fn map_postcard(e: postcard::Error) -> DecodeError {
    use postcard::Error as E;
    match e {
        E::DeserializeUnexpectedEnd => DecodeError::Truncated,
        E::DeserializeBadVarint => DecodeError::BadVarint,
        E::DeserializeBadBool => DecodeError::BadBool,
        E::DeserializeBadOption => DecodeError::BadOption,
        E::DeserializeBadEnum => DecodeError::UnknownVariant,
        E::DeserializeBadUtf8 | E::DeserializeBadChar => DecodeError::BadUtf8,
        _ => DecodeError::Invalid("malformed encoding"),
    }
}

/// The version number every versioned structure carries in `spaces/1`.
pub const VERSION: u8 = 1;

/// Rejects any version but ours; shared by every versioned type's `validate`.
pub fn check_version(found: u8) -> Result<(), DecodeError> {
    if found == VERSION { Ok(()) } else { Err(DecodeError::UnsupportedVersion { found }) }
}

/// A type with one canonical byte encoding.
pub trait Canonical: Serialize + DeserializeOwned {
    /// No valid value encodes to more bytes; longer input is refused before parsing.
    const ENCODED_SIZE_MAX: usize;

    /// Structural rules beyond what the encoding expresses (versions, sortedness, bounds).
    fn validate(&self) -> Result<(), DecodeError> {
        Ok(())
    }

    fn to_bytes(&self) -> Vec<u8> {
        // Serializing into a Vec cannot fail for our types (no maps with non-string keys,
        // no unsized sequences), so a failure here is a programming error.
        postcard::to_allocvec(self).expect("canonical types always serialize")
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > Self::ENCODED_SIZE_MAX {
            return Err(DecodeError::TooLarge { len: bytes.len(), max: Self::ENCODED_SIZE_MAX });
        }
        let (value, rest): (Self, &[u8]) = postcard::take_from_bytes(bytes).map_err(map_postcard)?;
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytes { count: rest.len() });
        }
        value.validate()?;
        if value.to_bytes() != bytes && !active(Mutant::CodecLenient) {
            return Err(DecodeError::NonCanonical);
        }
        Ok(value)
    }
}

/// True when `items` is strictly ascending: the canonical form of a set.
pub fn strictly_ascending<T: Ord>(items: &[T]) -> bool {
    items.windows(2).all(|w| w[0] < w[1])
}
