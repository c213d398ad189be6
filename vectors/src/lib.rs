//! # spaces-vectors
//!
//! Language-neutral test vectors for `spaces/1` (SPEC.md), shaped like Wycheproof's: per file
//! an `algorithm`, a `schema`, the SPEC `version`, `notes` explaining every flag, and
//! `testGroups[].tests[]` whose `result` is `valid`, `invalid` or `acceptable`.
//!
//! - [`ops`] is the contract with every consumer: `ops::run(op, input)` computes a vector's
//!   output from its input with the reference crate, as a pure function.
//! - [`grade`] decides whether an answer matches a vector ([`grade::verify_test`]); `check`,
//!   the tests and the conformance harness all grade with it, so they agree.
//! - [`generate`] builds every file from fixed seeds; `generate::all()` is deterministic,
//!   and `spaces-vectors check` compares it byte for byte with the files in the repository.
//!
//! `FORMAT.md` documents the files, each op's input and output, and the grading rule.

pub mod file;
pub mod generate;
pub mod grade;
pub mod json;
pub mod ops;

/// The SPEC version every file carries. Within one version, changes are additive.
pub const SPEC_VERSION: &str = "spaces/1";

/// The file format's revision, independent of the SPEC version (README.md, "Versioning"):
/// 1 graded `invalid` tests as "any error"; 2 requires the error kind `output.errorKind` names.
pub const FORMAT_VERSION: u32 = 2;

pub use grade::{Verdict, grade as grade_answer, verify_test};

/// The vector files, in the order `generate` writes them (relative to `vectors/`).
pub const FILES: &[&str] = &[
    "encoding.json",
    "keys.json",
    "credentials.json",
    "membership.json",
    "feeds.json",
    "items.json",
    "codes.json",
    "handshake.json",
    "flows.json",
    "signaling.json",
    "replication.json",
];

/// Reads every vector file from `dir` (normally this crate's directory), for graders that
/// run the published files rather than a regeneration.
pub fn load(dir: &std::path::Path) -> std::io::Result<Vec<(String, serde_json::Value)>> {
    FILES
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(dir.join(name))?;
            let doc = serde_json::from_str(&text).map_err(std::io::Error::other)?;
            Ok(((*name).to_owned(), doc))
        })
        .collect()
}

/// This crate's directory, where the published files live.
pub fn vectors_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}
pub use ops::{OpError, run};
