//! The driver protocol's messages (`conformance/DRIVER.md`): JSON lines, one request and one
//! reply per line. Shared by the harness (which sends requests) and the reference driver
//! (which answers them), so the two cannot drift apart.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use spaces_protocol::Role;
use spaces_protocol::invitation::{AuthMethod, Refusal, State};

use crate::diff::{SHOWN_CHARS_MAX, clip};

/// Driver protocol version; `hello` reports it and the harness refuses another.
pub const DRIVER_PROTOCOL: &str = "spaces-driver/1";

/// One request line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    pub op: String,
    #[serde(default)]
    pub args: Value,
}

/// Why an op failed: `kind` is a stable name a grader may compare, `message` is for people.
/// One type for vector ops and driver ops alike.
pub use spaces_vectors::ops::OpError;

/// What a driver answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Ok(Value),
    Error(OpError),
    Unsupported,
}

impl Reply {
    /// The reply line for request `id` (without the newline).
    pub fn to_line(&self, id: u64) -> String {
        let v = match self {
            Reply::Ok(value) => json!({ "id": id, "ok": value }),
            Reply::Error(e) => json!({ "id": id, "error": e }),
            Reply::Unsupported => json!({ "id": id, "unsupported": true }),
        };
        v.to_string()
    }

    /// Parses a reply line: its id and the reply. Exactly one of `ok`, `error`, `unsupported`.
    pub fn from_line(line: &str) -> Result<(u64, Reply), String> {
        // Every message quotes the line (clipped): a traceback or a debug print on stdout is
        // then visible in the report, not only the parser's complaint about it.
        let quoted = || Value::String(clip(line, SHOWN_CHARS_MAX)).to_string();
        let v: Value = serde_json::from_str(line).map_err(|e| format!("reply is not JSON ({e}): {}", quoted()))?;
        let obj = v.as_object().ok_or_else(|| format!("reply is not a JSON object: {}", quoted()))?;
        let id =
            obj.get("id").and_then(Value::as_u64).ok_or_else(|| format!("reply has no numeric id: {}", quoted()))?;
        let keys = ["ok", "error", "unsupported"].iter().filter(|k| obj.contains_key(**k)).count();
        if keys != 1 {
            return Err(format!("reply must carry exactly one of ok, error, unsupported: {}", quoted()));
        }
        if let Some(value) = obj.get("ok") {
            return Ok((id, Reply::Ok(value.clone())));
        }
        if let Some(e) = obj.get("error") {
            let e: OpError =
                serde_json::from_value(e.clone()).map_err(|why| format!("bad error object ({why}): {}", quoted()))?;
            return Ok((id, Reply::Error(e)));
        }
        match obj.get("unsupported") {
            Some(Value::Bool(true)) => Ok((id, Reply::Unsupported)),
            _ => Err(format!("unsupported must be true: {}", quoted())),
        }
    }
}

/// `hello`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub name: String,
    pub version: String,
    pub protocol: String,
    /// Every op the driver answers other than with `unsupported`.
    pub ops: Vec<String>,
}

/// `host.create`'s args. Only SPACE invitations are driven in this protocol version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostCreate {
    /// 32 bytes, hex: the only randomness of the flow (identity, space, invitation, PIN).
    pub seed: String,
    pub kind: String,
    pub auth: String,
    pub role: String,
    pub expires_at_ms: u64,
    /// 1 = single use, 0 = unlimited.
    pub use_limit: u32,
    /// For `auth: "key"`: the invited guest's identity key, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest: Option<String>,
}

/// `host.create`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostCreated {
    pub handle: u64,
    pub code: String,
    #[serde(default)]
    pub pin: Option<String>,
    /// The space key, hex.
    pub space: String,
    /// The host's identity key, hex.
    pub identity: String,
}

/// `guest.create`'s args.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestCreate {
    pub seed: String,
    pub code: String,
}

/// `guest.create`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestCreated {
    pub handle: u64,
    /// The guest's identity key, hex: what a host reports in `admitted`.
    pub identity: String,
}

/// An input to a flow (`flow.input`'s `input`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FlowInput {
    /// A frame arrived on `session` (for a host, a new session starts with its first frame).
    Frame {
        session: u64,
        bytes: String,
    },
    /// Guest only: the connection asked for by `connect` is up.
    Connected {
        session: u64,
    },
    /// Guest only: the connection asked for by `connect` could not be made.
    ConnectFailed,
    Closed {
        session: u64,
    },
    /// The driver's clock reached the flow's `timeout_ms` (or later).
    Timeout,
    /// Guest only: the user typed this PIN.
    Authenticate {
        pin: String,
    },
    Cancel,
}

/// An output of a flow, in the order the flow produced it (`flow.poll`'s `outputs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FlowOutput {
    /// Guest: find the host on this topic (hex) and connect.
    Connect {
        topic: String,
    },
    Transmit {
        session: u64,
        bytes: String,
    },
    Close {
        session: u64,
    },
    /// The flow's state changed (DXOS names, upper case).
    State {
        state: String,
    },
    /// Guest: the host said the PIN was wrong.
    WrongPin {
        attempts_left: u8,
    },
    /// Host: a wrong PIN was confirmed and the budget shrank.
    AttemptFailed {
        attempts_left: u8,
    },
    /// Host: a guest (identity hex) was admitted on a session.
    Admitted {
        session: u64,
        guest: String,
    },
    /// Host: a session ended without admission.
    SessionFailed {
        session: u64,
        reason: String,
    },
    /// Guest: the flow ended in failure.
    Failed {
        reason: String,
    },
    /// Any output this harness does not know; ignored.
    #[serde(other)]
    Other,
}

/// How a guest flow ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Success { space: String, role: String },
    Failure { reason: String },
}

/// In the words of DRIVER.md §4.5, for reports: `success (editor of space 1a2b…)`.
impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Success { space, role } => write!(f, "success ({role} of space {})", clip(space, 8)),
            Outcome::Failure { reason } => write!(f, "failure ({reason})"),
        }
    }
}

/// Any wire value as the JSON a driver author reads in DRIVER.md (never Rust's `Debug`).
pub fn json_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("<unserializable: {e}>"))
}

/// An optional count as a report says it: the number, or `none`.
pub fn count_text(n: Option<u8>) -> String {
    n.map_or_else(|| "none".to_owned(), |n| n.to_string())
}

/// `flow.poll`'s answer: the outputs since the last poll, and the flow's status now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Poll {
    #[serde(default)]
    pub outputs: Vec<FlowOutput>,
    pub state: String,
    /// When the flow wants a `timeout` input next (driver clock, ms), if ever.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Host: the budget left; guest: the last count the host reported.
    #[serde(default)]
    pub attempts_left: Option<u8>,
    /// Host: identities admitted so far, hex, sorted.
    #[serde(default)]
    pub admitted: Vec<String>,
    /// Guest: set once the flow is terminal.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// Per session (decimal string): the transcript hash of DRIVER.md, hex. Optional.
    #[serde(default)]
    pub transcripts: BTreeMap<String, String>,
}

pub fn state_name(s: State) -> &'static str {
    s.name()
}

/// Terminal states, by name: a flow in one of these will never change again.
pub fn is_terminal_name(state: &str) -> bool {
    matches!(state, "SUCCESS" | "CANCELLED" | "TIMEOUT" | "ERROR" | "EXPIRED")
}

pub fn refusal_name(r: Refusal) -> &'static str {
    match r {
        Refusal::WrongPin => "wrong_pin",
        Refusal::AttemptsExhausted => "attempts_exhausted",
        Refusal::Expired => "expired",
        Refusal::Cancelled => "cancelled",
        Refusal::NotAuthorised => "not_authorised",
        Refusal::AlreadyUsed => "already_used",
        Refusal::Busy => "busy",
        Refusal::ProtocolViolation => "protocol_violation",
        Refusal::UnknownInvitation => "unknown_invitation",
        Refusal::Timeout => "timeout",
    }
}

pub fn parse_role(s: &str) -> Option<Role> {
    Role::from_name(s)
}

pub fn auth_name(a: AuthMethod) -> &'static str {
    a.name()
}

pub fn parse_auth(s: &str) -> Option<AuthMethod> {
    [AuthMethod::None, AuthMethod::Pin, AuthMethod::Key].into_iter().find(|a| auth_name(*a) == s)
}

/// Decodes lowercase (or any-case) hex into exactly `N` bytes.
pub fn hex_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = hex::decode(text).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_that_is_not_json_is_quoted_clipped() {
        let e = Reply::from_line("Traceback (most recent call last): KeyError 'text'").unwrap_err();
        assert!(e.contains("Traceback (most recent call last)"), "{e}");
        let long = format!("debug: {}", "x".repeat(5000));
        let e = Reply::from_line(&long).unwrap_err();
        assert!(e.contains("debug: xxx") && e.contains("(5007 chars)") && e.len() < 400, "{e}");
        let e = Reply::from_line(r#"{"id":1,"ok":{},"error":{}}"#).unwrap_err();
        assert!(e.contains(r#"\"ok\":{}"#), "{e}");
    }

    #[test]
    fn replies_round_trip_and_need_exactly_one_answer() {
        for reply in [Reply::Ok(json!({"a": 1})), Reply::Error(OpError::new("k", "m")), Reply::Unsupported] {
            assert_eq!(Reply::from_line(&reply.to_line(7)), Ok((7, reply)));
        }
        assert!(Reply::from_line(r#"{"id":1}"#).is_err());
        assert!(Reply::from_line(r#"{"id":1,"ok":1,"unsupported":true}"#).is_err());
        assert!(Reply::from_line(r#"{"id":1,"unsupported":false}"#).is_err());
    }

    #[test]
    fn flow_messages_have_the_documented_shape() {
        let input: FlowInput = serde_json::from_str(r#"{"type":"frame","session":3,"bytes":"00"}"#).unwrap();
        assert_eq!(input, FlowInput::Frame { session: 3, bytes: "00".into() });
        let out = serde_json::to_value(FlowOutput::WrongPin { attempts_left: 2 }).unwrap();
        assert_eq!(out, json!({"type": "wrong_pin", "attempts_left": 2}));
        let unknown: FlowOutput = serde_json::from_str(r#"{"type":"persist","x":1}"#).unwrap();
        assert_eq!(unknown, FlowOutput::Other);
        let outcome = serde_json::to_value(Outcome::Failure { reason: "expired".into() }).unwrap();
        assert_eq!(outcome, json!({"result": "failure", "reason": "expired"}));
    }
}
