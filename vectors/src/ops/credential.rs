//! Credentials (SPEC.md §3): signing a given body, and stateless verification (§3.6).

use serde_json::{Value, json};
use spaces_protocol::Canonical;
use spaces_protocol::credential::{Credential, CredentialBody};
use spaces_protocol::keys::Keypair;

use super::{OpError, decode_error};
use crate::json::{array_of, bytes_of, hex, opt, parse_hex};

/// Signs `body` (the canonical `CredentialBody`) with the Ed25519 seed `signerSeed`, and
/// attaches `chain` (an encoded credential) when given.
pub fn sign(input: &Value) -> Result<Value, OpError> {
    let key = Keypair::from_secret_bytes(array_of::<32>(input, "signerSeed")?);
    let body_bytes = bytes_of(input, "body")?;
    let body: CredentialBody = postcard_body(&body_bytes)?;
    let chain = match opt(input, "chain").and_then(Value::as_str) {
        Some(text) => Some(Box::new(Credential::from_bytes(&parse_hex(text, "chain")?).map_err(decode_error)?)),
        None => None,
    };
    let input_bytes = body.signing_input();
    let signature = key.sign(&input_bytes);
    let credential = Credential { body, signature, chain };
    Ok(json!({
        "signingInput": hex(&input_bytes),
        "signature": hex(signature.0),
        "id": hex(credential.id().0.0),
        "credential": hex(credential.to_bytes()),
    }))
}

/// Strictly decodes the body by round trip through a one-field credential encoding: the body
/// is a prefix of `enc(Credential)`, so append an all-zero signature and no chain.
fn postcard_body(bytes: &[u8]) -> Result<CredentialBody, OpError> {
    let mut whole = bytes.to_vec();
    whole.extend_from_slice(&[0u8; 64]);
    whole.push(0);
    Credential::from_bytes(&whole).map(|c| c.body).map_err(decode_error)
}

/// Decodes strictly, then verifies statelessly: shape, signature (strict), device chain.
pub fn verify(input: &Value) -> Result<Value, OpError> {
    let c = Credential::from_bytes(&bytes_of(input, "credential")?).map_err(decode_error)?;
    let id = c.verify().map_err(|e| OpError::new("credential", e.to_string()))?;
    Ok(json!({ "id": hex(id.0.0), "type": c.assertion().type_name() }))
}
