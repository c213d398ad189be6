//! The grading rule, shared by `check`, the tests and the conformance harness.
//!
//! - `valid`: the op MUST return a value, and for every key of the test's `output` the value
//!   MUST hold an equal JSON value under that key (extra keys in the answer are allowed, so
//!   outputs can grow additively within a SPEC version).
//! - `invalid`: the op MUST return an error of the kind `output.errorKind` names (format 2;
//!   format 1 accepted any error). Another kind fails: a driver's own failure (`internal`,
//!   `bad_args`, `bad_request`) is not a rejection, and a rejection for another reason means
//!   another SPEC rule fired. Without `errorKind`, any rejection passes but a driver failure
//!   does not.
//! - `acceptable`: a rejection (of any kind, but not a driver failure) passes; a value passes if it matches `output`, and is NON-STRICT
//!   if it does not.
//! - An error of kind `unsupported` is UNSUPPORTED whatever the result.

use serde_json::Value;

use crate::ops::{self, OpError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// An `acceptable` case answered with a value that differs from the reference's.
    NonStrict(String),
    Failed(String),
    Unsupported,
}

impl Verdict {
    pub fn is_failed(&self) -> bool {
        matches!(self, Verdict::Failed(_))
    }
}

/// Grades one test (a `tests[]` element) of a group of type `op` with the reference ops.
pub fn verify_test(op: &str, test: &Value) -> Verdict {
    let input = test.get("input").cloned().unwrap_or(Value::Null);
    grade(test, ops::run(op, &input))
}

/// Grades an answer, however it was obtained (the harness gets it from a driver).
pub fn grade(test: &Value, answer: Result<Value, OpError>) -> Verdict {
    let empty = Value::Object(Default::default());
    let expected = test.get("output").unwrap_or(&empty);
    let result = test.get("result").and_then(Value::as_str).unwrap_or("");
    match (result, answer) {
        (_, Err(e)) if e.kind == ops::UNSUPPORTED => Verdict::Unsupported,
        ("valid", Ok(actual)) => match mismatch(expected, &actual) {
            None => Verdict::Ok,
            Some(why) => Verdict::Failed(why),
        },
        ("valid", Err(e)) => Verdict::Failed(format!("expected a value, got error {}: {}", e.kind, e.message)),
        ("invalid", Err(e)) => match invalid_kind_mismatch(expected, &e.kind) {
            None => Verdict::Ok,
            Some(why) => Verdict::Failed(why),
        },
        ("invalid", Ok(actual)) => Verdict::Failed(format!("expected an error, got {actual}")),
        ("acceptable", Err(e)) if DRIVER_FAILURE_KINDS.contains(&e.kind.as_str()) => {
            Verdict::Failed(format!("expected a rejection or a value, got the driver failure `{}`", e.kind))
        }
        ("acceptable", Err(_)) => Verdict::Ok,
        ("acceptable", Ok(actual)) => match mismatch(expected, &actual) {
            None => Verdict::Ok,
            Some(why) => Verdict::NonStrict(why),
        },
        (other, _) => Verdict::Failed(format!("unknown result {other:?}")),
    }
}

/// Error kinds that say the implementation (or its driver) failed, not that it rejected the
/// input: they never pass an `invalid` test.
pub const DRIVER_FAILURE_KINDS: &[&str] = &["internal", "bad_args", "bad_request"];

/// Why an error of `kind` does not pass an `invalid` test expecting `expected`, if it does not.
pub fn invalid_kind_mismatch(expected: &Value, kind: &str) -> Option<String> {
    if DRIVER_FAILURE_KINDS.contains(&kind) {
        return Some(format!("expected a rejection, got the driver failure `{kind}`"));
    }
    match expected.get("errorKind").and_then(Value::as_str) {
        Some(want) if want != kind => Some(format!("expected error kind `{want}`, got `{kind}`")),
        _ => None,
    }
}

/// The first key of `expected` whose value `actual` does not match, described.
fn mismatch(expected: &Value, actual: &Value) -> Option<String> {
    let Some(fields) = expected.as_object() else {
        return (expected != actual).then(|| format!("expected {expected}, got {actual}"));
    };
    for (key, want) in fields {
        if key == "errorKind" {
            continue;
        }
        match actual.get(key) {
            Some(got) if got == want => {}
            Some(got) => return Some(format!("`{key}`: expected {want}, got {got}")),
            None => return Some(format!("`{key}`: expected {want}, got nothing")),
        }
    }
    None
}
