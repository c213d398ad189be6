//! The PIN: six decimal digits from the injected CSPRNG. It never appears in a code or a
//! frame; it only enters SPAKE2 as the password.

use core::fmt;

use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

/// A 6-digit PIN, leading zeros kept. `Debug` hides it so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin(String);

/// Why user input is not a PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinError {
    /// Not exactly six ASCII digits.
    Format,
}

impl Pin {
    pub const DIGITS: usize = 6;

    /// Uniform over 000000..=999999 by rejection sampling (no modulo bias).
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        const SPACE: u32 = 1_000_000;
        const LIMIT: u32 = u32::MAX - (u32::MAX % SPACE);
        loop {
            let x = rng.next_u32();
            if x < LIMIT {
                return Pin(format!("{:06}", x % SPACE));
            }
        }
    }

    /// Parses what a user typed (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Self, PinError> {
        let t = text.trim();
        if t.len() == Self::DIGITS && t.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Pin(t.to_owned()))
        } else {
            Err(PinError::Format)
        }
    }

    /// Shown to the host's user, who passes it to the guest over a side channel.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(******)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn six_digits_with_leading_zeros_and_hidden_debug() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        for _ in 0..1000 {
            let p = Pin::generate(&mut rng);
            assert_eq!(p.reveal().len(), 6);
            assert!(p.reveal().bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(format!("{p:?}"), "Pin(******)");
        }
        assert_eq!(Pin::parse(" 012345 ").map(|p| p.reveal().to_owned()), Ok("012345".into()));
        assert_eq!(Pin::parse("12345"), Err(PinError::Format));
        assert_eq!(Pin::parse("12345a"), Err(PinError::Format));
    }
}
