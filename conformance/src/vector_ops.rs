//! The stateless ops that vectors exercise, as the reference driver answers them.
//!
//! The full set lives in `spaces_vectors::ops::run` (crate `spaces-vectors`); until it is in
//! the workspace, this module answers the ops the harness's own sample vectors use, with the
//! same input and output shapes. Swapping in the full set is the two lines `VECTOR_OPS` and
//! `OPS` below (`spaces_vectors::ops::run` and `spaces_vectors::ops::OPS`).

use serde_json::{Value, json};
use spaces_protocol::codec::Canonical;
use spaces_protocol::credential::Credential;
use spaces_protocol::invitation::code::CodeError;
use spaces_protocol::invitation::{InvitationCode, Kind};

use crate::wire::{OpError, auth_name, role_name};

/// Answers one vector op: `Ok(output)`, `Err(error)`, or `Err` with kind `unsupported`.
pub type VectorOps = fn(op: &str, input: &Value) -> Result<Value, OpError>;

/// What the reference driver uses for every vector op.
pub const VECTOR_OPS: VectorOps = vector_op;

/// An op name this driver does not implement.
pub const UNSUPPORTED: &str = "unsupported";

/// The vector ops answered, for `hello`. With spaces-vectors: `spaces_vectors::ops::OPS`.
pub const OPS: &[&str] = &["code.decode", "credential.verify"];

/// Every vector op. With spaces-vectors in the workspace, `run` here becomes
/// `spaces_vectors::ops::run` (whose `OpError` has the same `kind` and `message`).
fn vector_op(op: &str, input: &Value) -> Result<Value, OpError> {
    run(op, input).map_err(|e| OpError { kind: e.kind, message: e.message })
}

pub fn run(op: &str, input: &Value) -> Result<Value, OpError> {
    match op {
        "code.decode" => code_decode(input),
        "credential.verify" => credential_verify(input),
        _ => Err(OpError::new(UNSUPPORTED, format!("no op {op}"))),
    }
}

fn string_arg<'a>(input: &'a Value, key: &str) -> Result<&'a str, OpError> {
    input.get(key).and_then(Value::as_str).ok_or_else(|| OpError::bad_args(format!("input.{key} must be a string")))
}

/// `code.decode`: `{"text"}` → the code's fields, its text, topic and prologue; or the
/// `CodeError` variant, in camel case, as the kind.
fn code_decode(input: &Value) -> Result<Value, OpError> {
    let text = string_arg(input, "text")?;
    let code = InvitationCode::decode(text).map_err(|e| OpError::new(code_error_kind(e), e.to_string()))?;
    Ok(json!({
        "text": code.encode(),
        "kind": match code.kind { Kind::Space => "space", Kind::Device => "device" },
        "auth": auth_name(code.auth),
        "role": code.role.map(role_name),
        "id": hex::encode(code.id),
        "host": hex::encode(code.host.0),
        "expiresAt": code.expires_at_s,
        "payload": hex::encode(code.payload()),
        "topic": hex::encode(code.topic().0),
        "prologue": hex::encode(code.prologue()),
    }))
}

fn code_error_kind(e: CodeError) -> &'static str {
    match e {
        CodeError::TooLong { .. } => "tooLong",
        CodeError::Format => "format",
        CodeError::Checksum => "checksum",
        CodeError::WrongPrefix => "wrongPrefix",
        CodeError::Length { .. } => "length",
        CodeError::UnsupportedVersion { .. } => "unsupportedVersion",
        CodeError::BadFlags => "badFlags",
    }
}

/// `credential.verify`: `{"credential": hex}` → `{"id", "type"}`; errors of kind `decode`
/// (strict decoding) or `credential` (stateless verification, SPEC §3.6).
fn credential_verify(input: &Value) -> Result<Value, OpError> {
    let text = string_arg(input, "credential")?;
    let bytes = hex::decode(text).map_err(|_| OpError::bad_args("input.credential must be hex"))?;
    let credential = Credential::from_bytes(&bytes).map_err(|e| OpError::new("decode", e.to_string()))?;
    let id = credential.verify().map_err(|e| OpError::new("credential", e.to_string()))?;
    Ok(json!({ "id": hex::encode(id.0.0), "type": credential.assertion().type_name() }))
}
