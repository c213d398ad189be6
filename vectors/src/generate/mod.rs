//! Builds every vector file from fixed seeds. Valid outputs are computed by the ops
//! themselves (so generation and grading cannot drift apart), and each generator asserts
//! the facts a case exists to show (a removed member is removed, a typo is refused...), so a
//! regression in the reference cannot silently become the published answer.

use serde_json::{Value, json};

use crate::file::{Expect, Test, VectorFile, to_text};
use crate::ops;

mod codes;
mod credentials;
mod encoding;
mod feeds;
mod flows;
mod handshake;
mod items;
mod keys;
mod membership;
mod replication;
mod schema;
mod sets;
mod signaling;

/// Every file, in a fixed order.
pub fn all() -> Vec<VectorFile> {
    vec![
        encoding::file(),
        keys::file(),
        credentials::file(),
        membership::file(),
        feeds::file(),
        items::file(),
        codes::file(),
        handshake::file(),
        flows::file(),
        signaling::file(),
        replication::file(),
    ]
}

/// One file as written to disk, relative to `vectors/`.
pub struct Rendered {
    pub path: String,
    pub text: String,
    pub summary: String,
}

/// Every vector file and its schema, as text.
pub fn render_all() -> Vec<Rendered> {
    let mut out = Vec::new();
    for f in all() {
        let doc = f.to_json();
        out.push(Rendered {
            path: f.name.to_owned(),
            text: to_text(&doc),
            summary: format!("{} tests", f.number_of_tests()),
        });
        out.push(Rendered {
            path: format!("schema/{}", f.schema_name()),
            text: to_text(&schema::for_file(&f)),
            summary: "schema".to_owned(),
        });
    }
    out
}

/// The first line where two texts differ, naming the file and the enclosing test.
pub fn first_difference(path: &str, on_disk: &str, fresh: &str) -> Option<String> {
    if on_disk == fresh {
        return None;
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (on_disk.lines().collect(), fresh.lines().collect());
    let line = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    // Keys are sorted, so `tcId` is the last line of each test: the test a line belongs to is
    // named by the first `tcId` at or after it, once inside `testGroups`.
    let groups_at = b.iter().position(|l| l.trim_start().starts_with("\"testGroups\""));
    let tc = match groups_at {
        Some(g) if line > g => b[line.min(b.len())..].iter().find(|l| l.trim_start().starts_with("\"tcId\"")),
        _ => None,
    };
    Some(format!(
        "{path}: differs from regeneration at line {} ({}): on disk {:?}, generated {:?}",
        line + 1,
        tc.map_or("before the first test".to_owned(), |l| l.trim().trim_end_matches(',').to_owned()),
        a.get(line).unwrap_or(&"<end of file>"),
        b.get(line).unwrap_or(&"<end of file>"),
    ))
}

/// The outcome of grading every vector with the reference ops.
pub struct Report {
    pub checked: usize,
    pub failures: Vec<String>,
}

/// Grades every test of every file given as JSON documents.
pub fn verify_documents(docs: &[(String, Value)]) -> Report {
    let mut report = Report { checked: 0, failures: Vec::new() };
    for (name, doc) in docs {
        for group in doc["testGroups"].as_array().into_iter().flatten() {
            let op = group["type"].as_str().unwrap_or("");
            for test in group["tests"].as_array().into_iter().flatten() {
                report.checked += 1;
                let verdict = crate::grade::verify_test(op, test);
                if verdict.is_failed() {
                    report.failures.push(format!("{name} tcId {}: {op}: FAILED {verdict:?}", test["tcId"]));
                }
            }
        }
    }
    report
}

/// Grades every freshly generated vector.
pub fn verify_all() -> Report {
    let docs: Vec<(String, Value)> = all().iter().map(|f| (f.name.to_owned(), f.to_json())).collect();
    verify_documents(&docs)
}

/// A valid test whose output is what the reference computes (which must succeed).
pub(crate) fn valid(op: &'static str, comment: &str, flags: &[&'static str], input: Value) -> Test {
    let output = ops::run(op, &input).unwrap_or_else(|e| panic!("{op} {comment}: expected a value, got {e}"));
    Test { comment: comment.to_owned(), flags: flags.to_vec(), input, output, result: Expect::Valid }
}

/// An invalid test (the reference must refuse it), with the reference's error kind.
pub(crate) fn invalid(op: &'static str, comment: &str, flags: &[&'static str], input: Value) -> Test {
    let e = match ops::run(op, &input) {
        Err(e) => e,
        Ok(v) => panic!("{op} {comment}: expected an error, got {v}"),
    };
    Test {
        comment: comment.to_owned(),
        flags: flags.to_vec(),
        input,
        output: json!({ "errorKind": e.kind }),
        result: Expect::Invalid,
    }
}

/// An acceptable test: either answer passes; `output` holds the reference's value when it
/// accepts (an implementation that accepts with another value is NON-STRICT).
pub(crate) fn acceptable(op: &'static str, comment: &str, flags: &[&'static str], input: Value) -> Test {
    let output = match ops::run(op, &input) {
        Ok(v) => v,
        Err(e) => json!({ "errorKind": e.kind }),
    };
    Test { comment: comment.to_owned(), flags: flags.to_vec(), input, output, result: Expect::Acceptable }
}
