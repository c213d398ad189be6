//! Invite codes (SPEC.md §7.1–7.2): text to fields, fields to text, topic and prologue.

use serde_json::{Value, json};
use spaces_protocol::credential::Role;
use spaces_protocol::invitation::code::CodeError;
use spaces_protocol::invitation::{AuthMethod, InvitationCode, Kind};
use spaces_protocol::keys::NoiseKey;

use super::OpError;
use crate::json::{array_of, hex, opt, str_of, u64_of};

pub fn code_json(c: &InvitationCode) -> Value {
    json!({
        "text": c.encode(),
        "kind": kind_name(c.kind),
        "auth": auth_name(c.auth),
        "role": c.role.map(Role::name),
        "id": hex(c.id),
        "host": hex(c.host.0),
        "expiresAt": c.expires_at_s,
        "payload": hex(c.payload()),
        "topic": hex(c.topic().0),
        "prologue": hex(c.prologue()),
    })
}

pub fn kind_name(k: Kind) -> &'static str {
    k.name()
}

pub fn auth_name(a: AuthMethod) -> &'static str {
    a.name()
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

pub fn decode(input: &Value) -> Result<Value, OpError> {
    let text = str_of(input, "text")?;
    let code = InvitationCode::decode(text).map_err(|e| OpError::new(code_error_kind(e), e.to_string()))?;
    Ok(code_json(&code))
}

pub fn parse_role(name: &str) -> Result<Role, OpError> {
    Role::from_name(name).ok_or_else(|| OpError::bad_args(format!("unknown role {name}")))
}

pub fn parse_kind(name: &str) -> Result<Kind, OpError> {
    match name {
        "space" => Ok(Kind::Space),
        "device" => Ok(Kind::Device),
        other => Err(OpError::bad_args(format!("unknown kind {other}"))),
    }
}

pub fn parse_auth(name: &str) -> Result<AuthMethod, OpError> {
    match name {
        "none" => Ok(AuthMethod::None),
        "pin" => Ok(AuthMethod::Pin),
        "key" => Ok(AuthMethod::Key),
        other => Err(OpError::bad_args(format!("unknown auth method {other}"))),
    }
}

/// Fields to code. `role` is required for `space` and absent for `device`.
pub fn encode(input: &Value) -> Result<Value, OpError> {
    let kind = parse_kind(str_of(input, "kind")?)?;
    let role = match opt(input, "role").and_then(Value::as_str) {
        Some(r) => Some(parse_role(r)?),
        None => None,
    };
    if (kind == Kind::Space) != role.is_some() || role.is_some_and(|r| !spaces_protocol::invitation::grantable(r)) {
        return Err(OpError::new("code", "a space code carries a grantable role, a device code none"));
    }
    let expires_at_s =
        u32::try_from(u64_of(input, "expiresAt")?).map_err(|_| OpError::new("code", "expiry beyond u32 seconds"))?;
    let code = InvitationCode {
        kind,
        auth: parse_auth(str_of(input, "auth")?)?,
        role,
        id: array_of::<16>(input, "id")?,
        host: NoiseKey(array_of::<32>(input, "host")?),
        expires_at_s,
    };
    Ok(code_json(&code))
}
