//! The stateless ops that vectors exercise, as the reference driver answers them: exactly
//! the reference answers of `spaces_vectors::ops` (crate `spaces-vectors`), which also grade
//! the published vectors, so the driver and the vectors cannot drift apart.

use serde_json::Value;

use crate::wire::OpError;

/// Answers one vector op: `Ok(output)`, `Err(error)`, or `Err` with kind `unsupported`.
pub type VectorOps = fn(op: &str, input: &Value) -> Result<Value, OpError>;

/// What the reference driver uses for every vector op.
pub const VECTOR_OPS: VectorOps = vector_op;

/// An op name this driver does not implement.
pub const UNSUPPORTED: &str = "unsupported";

/// The vector ops answered, for `hello`.
pub const OPS: &[&str] = spaces_vectors::ops::OPS;

fn vector_op(op: &str, input: &Value) -> Result<Value, OpError> {
    spaces_vectors::ops::run(op, input)
}
