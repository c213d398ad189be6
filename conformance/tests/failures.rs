//! A failed case tells a driver author in any language what to fix (issue 16): the one JSON
//! field that differs, values clipped instead of kilobytes of hex, a reply that is not JSON
//! quoted, and reports whose `expected` and `actual` are JSON values with `tcId` and `flags`.

use std::path::PathBuf;
use std::process::Command;

const HARNESS: &str = env!("CARGO_BIN_EXE_spaces-conformance");

/// Answers `code.decode` with a right `auth` and `expiresAt` but a wrong `host`, and
/// `credential.verify` with a Python traceback on stdout instead of JSON.
const WRONG: &str = r#"while IFS= read -r line; do
  id=$(printf '%s' "$line" | sed 's/^{"id":\([0-9]*\).*/\1/')
  case "$line" in
    *'"op":"hello"'*) printf '{"id":%s,"ok":{"name":"wrong","version":"0","protocol":"spaces-driver/1","ops":[]}}\n' "$id" ;;
    *'"op":"code.decode"'*) printf '{"id":%s,"ok":{"auth":"pin","expiresAt":1800000000,"host":"%s"}}\n' "$id" "$(printf '0%.0s' $(seq 1 600))" ;;
    *) printf 'Traceback (most recent call last): KeyError %s\n' "'credential'" ;;
  esac
done"#;

fn data_dir() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").display().to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn run(extra: &[&str]) -> (Option<i32>, String) {
    let dir = data_dir();
    let args = [&["vectors", "--driver", WRONG, "--vectors", &dir][..], extra].concat();
    let out = Command::new(HARNESS).args(&args).output().expect("the harness runs");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn a_wrong_field_is_named_by_its_path_and_long_values_are_clipped() {
    let (code, text) = run(&[]);
    assert_eq!(code, Some(1), "{text}");
    let case = text.split("FAILED      vectors/code_decode.json code.decode#1:").nth(1).expect("case 1 failed");
    let case: String = case.lines().take_while(|l| !l.starts_with("FAILED")).collect::<Vec<_>>().join("\n");
    assert!(case.contains("differs:  at `host`: strings differ from char 0"), "{case}");
    assert!(text.lines().all(|l| l.len() < 600), "every line is clipped:\n{text}");
    assert!(!text.contains(&"0".repeat(300)), "no value is printed whole:\n{text}");
}

#[test]
fn a_reply_that_is_not_json_is_shown() {
    let (_, text) = run(&[]);
    assert!(text.contains("reply is not JSON"), "{text}");
    assert!(text.contains("Traceback (most recent call last): KeyError 'credential'"), "{text}");
}

#[test]
fn the_json_report_carries_json_values_tc_ids_and_flags() {
    let json = scratch("failures.json");
    let (_, text) = run(&["--report-json", json.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let cases = report["cases"].as_array().unwrap();
    let one = cases.iter().find(|c| c["name"] == "code.decode#1").expect("code.decode#1");
    assert_eq!(one["tcId"], 1, "{one}");
    assert!(one["flags"].is_null() || one["flags"].is_array(), "{one}");
    assert_eq!(one["expected"]["result"], "valid", "{one}");
    assert!(one["expected"]["output"]["host"].is_string(), "expected is the vector's output as JSON: {one}");
    assert_eq!(one["actual"]["ok"]["auth"], "pin", "actual is the reply as JSON, not a string: {one}");
    assert_eq!(one["difference"]["path"], "host", "{one}");
    let flagged = cases.iter().find(|c| c["flags"].as_array().is_some_and(|f| !f.is_empty()));
    assert!(flagged.is_some(), "some failed case has flags:\n{text}");
}

#[test]
fn junit_has_times_and_skipped_cases() {
    let junit = scratch("failures.xml");
    let unsupported = r#"while IFS= read -r line; do
  id=$(printf '%s' "$line" | sed 's/^{"id":\([0-9]*\).*/\1/')
  case "$line" in
    *'"op":"hello"'*) printf '{"id":%s,"ok":{"name":"half","version":"0","protocol":"spaces-driver/1","ops":[]}}\n' "$id" ;;
    *'"op":"code.decode"'*) printf '{"id":%s,"unsupported":true}\n' "$id" ;;
    *) printf '{"id":%s,"ok":{}}\n' "$id" ;;
  esac
done"#;
    let args = ["vectors", "--driver", unsupported, "--vectors", &data_dir(), "--junit", junit.to_str().unwrap()];
    let out = Command::new(HARNESS).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let cases: Vec<&str> = xml.lines().filter(|l| l.trim_start().starts_with("<testcase")).collect();
    assert!(cases.len() > 10, "{xml}");
    assert!(cases.iter().all(|l| l.contains(" time=\"")), "{xml}");
    assert!(xml.lines().any(|l| l.starts_with("<testsuites") && l.contains(" time=\"")), "{xml}");
    let skipped = cases.iter().filter(|l| l.contains("<skipped")).count();
    assert!(skipped > 0 && cases.iter().all(|l| !l.contains("code.decode") || l.contains("<skipped")), "{xml}");
}

/// DRIVER.md §1: malformed `args` are `bad_args`, for vector ops as for flow ops (issue 16:
/// the reference driver answered a missing argument of a vector op with kind `input`, a name
/// DRIVER.md does not have).
#[test]
fn the_reference_driver_answers_malformed_args_with_bad_args() {
    use serde_json::json;
    use spaces_conformance::reference::ReferenceDriver;
    use spaces_conformance::wire::Reply;
    let mut driver = ReferenceDriver::default();
    for (op, args) in [
        ("code.decode", json!({})),
        ("credential.verify", json!({"credential": 7})),
        ("flow.input", json!({})),
        ("time.set", json!({})),
    ] {
        match driver.handle(op, &args) {
            Reply::Error(e) => assert_eq!(e.kind, "bad_args", "{op} {args}: {}", e.message),
            _ => panic!("{op} {args}: not an error"),
        }
    }
}

/// DRIVER.md §3 names every vector op the reference knows, and only those (issue 16: it left out
/// `flow.outcome`), so a driver author reading it implements what the vectors grade.
#[test]
fn driver_md_lists_every_vector_op() {
    let text = include_str!("../DRIVER.md");
    let start = text.find("The op names are those of the vector files").expect("the op list");
    let end = start + text[start..].find("Their inputs and").expect("its end");
    let mut listed: Vec<&str> = text[start..end].split('`').skip(1).step_by(2).filter(|s| s.contains('.')).collect();
    listed.sort();
    let mut ops: Vec<&str> = spaces_conformance::vector_ops::OPS.to_vec();
    ops.sort();
    assert_eq!(listed, ops, "DRIVER.md §3's op names against spaces_vectors::OPS");
}
