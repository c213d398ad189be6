//! Keys (SPEC.md §1): text forms, fingerprints, derivation from seeds, and strict Ed25519
//! verification (§1.3).

use serde_json::{Value, json};
use spaces_protocol::keys::{Keypair, NoiseKeypair, PublicKey, Signature};

use super::OpError;
use crate::json::{array_of, bytes_of, hex, str_of};

pub fn parse(input: &Value) -> Result<Value, OpError> {
    let text = str_of(input, "text")?;
    let key: PublicKey = text.parse().map_err(|e| OpError::new("decode", format!("{e}")))?;
    Ok(json!({ "key": hex(key.0), "fingerprint": key.fingerprint() }))
}

pub fn fingerprint(input: &Value) -> Result<Value, OpError> {
    let key = PublicKey(array_of::<32>(input, "key")?);
    Ok(json!({ "fingerprint": key.fingerprint() }))
}

/// A 32-byte seed as an Ed25519 seed (RFC 8032 §5.1.5) and as an X25519 secret (RFC 7748).
pub fn derive(input: &Value) -> Result<Value, OpError> {
    let seed = array_of::<32>(input, "seed")?;
    let ed = Keypair::from_secret_bytes(seed).public();
    let x = NoiseKeypair::from_secret_bytes(seed).public();
    Ok(json!({
        "ed25519Public": hex(ed.0),
        "ed25519Fingerprint": ed.fingerprint(),
        "x25519Public": hex(x.0),
    }))
}

pub fn ed25519_verify(input: &Value) -> Result<Value, OpError> {
    let key = PublicKey(array_of::<32>(input, "publicKey")?);
    let message = bytes_of(input, "message")?;
    let signature = Signature(array_of::<64>(input, "signature")?);
    key.verify(&message, &signature).map_err(|e| OpError::new("signature", e.to_string()))?;
    Ok(json!({}))
}
