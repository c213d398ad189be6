//! The ops: each vector group's `type` names one, and `run(op, input)` computes the expected
//! `output` from the test's `input` with the reference crate. Every op is a pure function of
//! its input: randomness enters only as hex seeds or scalars in the input.
//!
//! This is the contract with the conformance harness, which wraps `run` in its reference
//! driver; FORMAT.md documents each op's fields.

use serde_json::Value;

mod codec;
mod credential;
mod flow;
mod handshake;
mod invite_code;
mod keys;
mod replication;
mod signal;
mod space;

/// The kind of an error for an op this build does not implement.
pub const UNSUPPORTED: &str = "unsupported";

/// Why an op refused its input. `kind` is one of: `bad_args` (the vector itself is malformed:
/// the name DRIVER.md gives malformed `args`), `decode`, `signature`, `credential`, `feed`, `code`, `pake`, `handshake`, `frame`,
/// `unsupported`.
/// The conformance driver protocol sends it as it is (`{"kind", "message"}`, DRIVER.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OpError {
    pub kind: String,
    pub message: String,
}

impl OpError {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        OpError { kind: kind.to_owned(), message: message.into() }
    }

    /// The args do not have the shape DRIVER.md gives.
    pub fn bad_args(message: impl Into<String>) -> Self {
        OpError::new("bad_args", message)
    }
}

impl core::fmt::Display for OpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for OpError {}

/// Every op `run` knows, in the order FORMAT.md lists them.
pub const OPS: &[&str] = &[
    "codec.decode_credential",
    "codec.decode_entry",
    "codec.decode_mutation",
    "key.parse",
    "key.fingerprint",
    "key.derive",
    "ed25519.verify",
    "credential.sign",
    "credential.verify",
    "membership.resolve",
    "feed.verify",
    "items.merge",
    "code.decode",
    "code.encode",
    "pake.run",
    "delegation.shares",
    "handshake.transcript",
    "invitation.decode_frame",
    "flow.transcript",
    "flow.outcome",
    "signal.decode_client_frame",
    "signal.decode_server_frame",
    "signal.serve",
    "replication.decode_message",
    "replication.missing",
    "replication.ingest_heard",
];

/// Runs `op` on `input`.
pub fn run(op: &str, input: &Value) -> Result<Value, OpError> {
    match op {
        "codec.decode_credential" => codec::decode_credential(input),
        "codec.decode_entry" => codec::decode_entry(input),
        "codec.decode_mutation" => codec::decode_mutation(input),
        "key.parse" => keys::parse(input),
        "key.fingerprint" => keys::fingerprint(input),
        "key.derive" => keys::derive(input),
        "ed25519.verify" => keys::ed25519_verify(input),
        "credential.sign" => credential::sign(input),
        "credential.verify" => credential::verify(input),
        "membership.resolve" => space::resolve(input),
        "feed.verify" => space::feed_verify(input),
        "items.merge" => space::items_merge(input),
        "code.decode" => invite_code::decode(input),
        "code.encode" => invite_code::encode(input),
        "pake.run" => handshake::pake_run(input),
        "delegation.shares" => handshake::delegation_shares(input),
        "handshake.transcript" => handshake::transcript(input),
        "invitation.decode_frame" => handshake::decode_frame(input),
        "flow.transcript" => flow::transcript(input),
        "flow.outcome" => flow::outcome(input),
        "signal.decode_client_frame" => signal::decode_client(input),
        "signal.decode_server_frame" => signal::decode_server(input),
        "signal.serve" => signal::serve(input),
        "replication.decode_message" => replication::decode_message(input),
        "replication.missing" => replication::missing(input),
        "replication.ingest_heard" => replication::ingest_heard(input),
        other => Err(OpError::new(UNSUPPORTED, format!("unknown op {other}"))),
    }
}

pub(crate) fn decode_error(e: spaces_protocol::DecodeError) -> OpError {
    OpError::new("decode", e.to_string())
}
