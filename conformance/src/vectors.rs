//! Running vector files through a driver and grading each answer (README.md, "Grading").

use std::path::{Path, PathBuf};

use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::diff::{Difference, SHOWN_CHARS_MAX, clip, first_difference, show};
use crate::driver::{Driver, DriverError};
use crate::report::{Case, Report, Status};
use crate::wire::Reply;
use spaces_vectors::grade::{DRIVER_FAILURE_KINDS, invalid_kind_mismatch};

/// Files one run reads at most, and tests per file: a bound on a directory we are pointed at.
pub const FILES_MAX: usize = 1024;
pub const TESTS_PER_FILE_MAX: usize = 100_000;

/// A Wycheproof-shaped vector file. Fields the harness does not grade on are read leniently.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VectorFile {
    pub algorithm: String,
    #[serde(default)]
    pub version: Value,
    pub number_of_tests: usize,
    pub test_groups: Vec<TestGroup>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TestGroup {
    /// The op name the driver is asked.
    #[serde(rename = "type")]
    pub op: String,
    pub tests: Vec<TestCase>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestCase {
    pub tc_id: u64,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub flags: Vec<String>,
    pub input: Value,
    #[serde(default)]
    pub output: Value,
    pub result: Expectation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expectation {
    Valid,
    Invalid,
    Acceptable,
}

/// Why the vectors could not be run at all.
#[derive(Debug)]
pub enum LoadError {
    Io(PathBuf, std::io::Error),
    Parse(PathBuf, String),
    TooMany(usize),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            LoadError::Parse(p, e) => write!(f, "{}: not a vector file: {e}", p.display()),
            LoadError::TooMany(n) => write!(f, "{n} vector files; at most {FILES_MAX}"),
        }
    }
}

/// Every `*.json` directly in `dir`, sorted by file name, parsed and checked for
/// `numberOfTests`.
pub fn load_dir(dir: &Path) -> Result<Vec<(String, VectorFile)>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LoadError::Io(dir.to_owned(), e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    paths.sort();
    if paths.len() > FILES_MAX {
        return Err(LoadError::TooMany(paths.len()));
    }
    paths.iter().map(|p| load_file(p).map(|f| (file_name(p), f))).collect()
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

pub fn load_file(path: &Path) -> Result<VectorFile, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::Io(path.to_owned(), e))?;
    let file: VectorFile = serde_json::from_str(&text).map_err(|e| LoadError::Parse(path.to_owned(), e.to_string()))?;
    let count: usize = file.test_groups.iter().map(|g| g.tests.len()).sum();
    if count != file.number_of_tests {
        return Err(LoadError::Parse(
            path.to_owned(),
            format!("numberOfTests {} but {count} tests", file.number_of_tests),
        ));
    }
    if count > TESTS_PER_FILE_MAX {
        return Err(LoadError::Parse(path.to_owned(), format!("{count} tests; at most {TESTS_PER_FILE_MAX}")));
    }
    Ok(file)
}

/// Runs every test of every file through `driver`, appending one case per test; with a
/// non-empty `only`, just the tests whose file name, op or `op#tcId` contains it.
pub fn run(driver: &mut dyn Driver, files: &[(String, VectorFile)], only: &str, report: &mut Report) {
    for (name, file) in files {
        let suite = format!("vectors/{name}");
        for group in &file.test_groups {
            let selected = |t: &&TestCase| name.contains(only) || format!("{}#{}", group.op, t.tc_id).contains(only);
            for test in group.tests.iter().filter(selected) {
                let case = run_one(driver, &suite, &group.op, test);
                report.cases.push(case);
            }
        }
    }
}

fn run_one(driver: &mut dyn Driver, suite: &str, op: &str, test: &TestCase) -> Case {
    let name = format!("{op}#{}", test.tc_id);
    let request = format!("-> {op} {}", clip(&test.input.to_string(), SHOWN_CHARS_MAX));
    let started = Instant::now();
    let mut case = match driver.call(op, test.input.clone()) {
        Ok(reply) => {
            let mut case = grade(suite, &name, &test.comment, test, &reply);
            if case.status == Status::Failed {
                // The reply is `actual` already: showing it twice is noise.
                case.transcript = vec![request];
            }
            case
        }
        Err(e) => {
            // Start a fresh driver so one crash does not fail every later case.
            let restarted = match driver.restart() {
                Ok(()) => "restarted".to_owned(),
                Err(r) => format!("restart failed: {r}"),
            };
            let mut case = Case::failed(suite, &name, &test.comment, String::new(), format!("{e} ({restarted})"));
            case.expected = Some(expected_value(test));
            case.expected_text = Some(expected_text(test));
            case.transcript = vec![request];
            case
        }
    };
    case.time = started.elapsed();
    case.tc_id = Some(test.tc_id);
    case.flags = test.flags.clone();
    case
}

fn reply_text(reply: &Reply) -> String {
    match reply {
        Reply::Ok(v) => format!("ok {v}"),
        Reply::Error(e) => format!("error {}: {}", e.kind, e.message),
        Reply::Unsupported => "unsupported".into(),
    }
}

/// The reply as the driver sent it (DRIVER.md §1.2), for the JSON report.
fn reply_value(reply: &Reply) -> Value {
    match reply {
        Reply::Ok(v) => json!({ "ok": v }),
        Reply::Error(e) => json!({ "error": e }),
        Reply::Unsupported => json!({ "unsupported": true }),
    }
}

/// The test's own verdict and output, as the vector file has them.
fn expected_value(test: &TestCase) -> Value {
    let result = match test.result {
        Expectation::Valid => "valid",
        Expectation::Invalid => "invalid",
        Expectation::Acceptable => "acceptable",
    };
    json!({ "result": result, "output": test.output })
}

fn expected_text(test: &TestCase) -> String {
    match test.result {
        Expectation::Valid => format!("ok with {}", show(&test.output)),
        Expectation::Invalid => match test.output.get("errorKind").and_then(Value::as_str) {
            Some(kind) => format!("an error of kind `{kind}`"),
            None => "an error (a rejection, not a driver failure)".into(),
        },
        Expectation::Acceptable => format!("an error, or ok with {}", show(&test.output)),
    }
}

/// `errorKind` is graded against an error's kind (`grade`), never against an `ok` value.
const INFORMATIVE_KEYS: &[&str] = &["errorKind"];

/// Where `actual` fails to carry a graded key of `expected` with an equal value; `None`
/// when it carries them all (extra top-level keys are allowed).
fn output_difference(expected: &Value, actual: &Value) -> Option<Difference> {
    match expected.as_object() {
        Some(keys) => {
            let graded = keys.iter().filter(|(k, _)| !INFORMATIVE_KEYS.contains(&k.as_str()));
            first_difference(&Value::Object(graded.map(|(k, v)| (k.clone(), v.clone())).collect()), actual)
        }
        None if expected.is_null() => None,
        None => first_difference(expected, actual),
    }
}

/// The grading rule of the vectors (`spaces_vectors::grade`): valid must be ok with the
/// output; invalid must be an error of the kind `output.errorKind` names (FAILED otherwise:
/// a driver failure such as `internal` or `bad_args` is not a rejection, and another
/// rejection kind means another SPEC rule fired); acceptable passes as a rejection or as the
/// output, and is NON-STRICT as any other value.
pub fn grade(suite: &str, name: &str, comment: &str, test: &TestCase, reply: &Reply) -> Case {
    let ok = |s| Case::new(suite, name, comment, s);
    let fail = |actual: String| {
        let mut c = ok(Status::Failed);
        c.expected = Some(expected_value(test));
        c.actual = Some(reply_value(reply));
        c.expected_text = Some(expected_text(test));
        c.actual_text = Some(actual);
        c
    };
    match (test.result, reply) {
        (_, Reply::Unsupported) => ok(Status::Unsupported),
        (Expectation::Valid, Reply::Ok(v)) => match output_difference(&test.output, v) {
            None => ok(Status::Ok),
            Some(d) => Case { difference: Some(d), ..fail(reply_text(reply)) },
        },
        (Expectation::Valid, other) => fail(reply_text(other)),
        (Expectation::Invalid, Reply::Error(e)) => match invalid_kind_mismatch(&test.output, &e.kind) {
            None => ok(Status::Ok),
            Some(why) => fail(format!("{} ({why})", reply_text(reply))),
        },
        (Expectation::Invalid, other) => fail(reply_text(other)),
        (Expectation::Acceptable, Reply::Error(e)) if DRIVER_FAILURE_KINDS.contains(&e.kind.as_str()) => {
            fail(format!("{} (a driver failure, not a rejection)", reply_text(reply)))
        }
        (Expectation::Acceptable, Reply::Error(_)) => ok(Status::Ok),
        (Expectation::Acceptable, Reply::Ok(v)) => match output_difference(&test.output, v) {
            None => ok(Status::Ok),
            Some(d) => Case { status: Status::NonStrict, difference: Some(d), ..fail(reply_text(reply)) },
        },
    }
}

/// Whether a driver error means the run itself is broken (no driver at all).
pub fn fatal(e: &DriverError) -> bool {
    matches!(e, DriverError::Spawn(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::OpError;
    use serde_json::json;

    fn test(result: Expectation, output: Value) -> TestCase {
        TestCase { tc_id: 1, comment: String::new(), flags: vec![], input: json!({}), output, result }
    }

    #[test]
    fn grading_follows_the_contract() {
        let err = Reply::Error(OpError::new("X", "no"));
        let good = Reply::Ok(json!({"a": 1, "extra": 2}));
        let wrong = Reply::Ok(json!({"a": 2}));
        let g = |t: &TestCase, r: &Reply| grade("s", "n", "", t, r).status;
        let valid = test(Expectation::Valid, json!({"a": 1}));
        assert_eq!(g(&valid, &good), Status::Ok);
        assert_eq!(g(&valid, &wrong), Status::Failed);
        assert_eq!(g(&valid, &err), Status::Failed);
        assert_eq!(g(&valid, &Reply::Unsupported), Status::Unsupported);
        let invalid = test(Expectation::Invalid, json!({}));
        assert_eq!(g(&invalid, &err), Status::Ok);
        assert_eq!(g(&invalid, &good), Status::Failed);
        let internal = Reply::Error(OpError::new("internal", "panicked"));
        let bad_args = Reply::Error(OpError::new("bad_args", "what?"));
        assert_eq!(g(&invalid, &internal), Status::Failed, "a crash is not a rejection");
        let kinded = test(Expectation::Invalid, json!({"errorKind": "X"}));
        assert_eq!(g(&kinded, &err), Status::Ok);
        assert_eq!(g(&kinded, &Reply::Error(OpError::new("Y", "no"))), Status::Failed, "another rule fired");
        assert_eq!(g(&kinded, &internal), Status::Failed);
        assert_eq!(g(&kinded, &bad_args), Status::Failed);
        let informative = test(Expectation::Valid, json!({"a": 1, "errorKind": "x"}));
        assert_eq!(g(&informative, &good), Status::Ok);
        let acceptable = test(Expectation::Acceptable, json!({"a": 1}));
        assert_eq!(g(&acceptable, &err), Status::Ok);
        assert_eq!(g(&acceptable, &internal), Status::Failed);
        assert_eq!(g(&acceptable, &good), Status::Ok);
        assert_eq!(g(&acceptable, &wrong), Status::NonStrict);
    }
}
