//! The published vectors are exactly what the generator produces, every one of them grades
//! OK against the reference, and the grading can fail.

use std::path::Path;

use serde_json::Value;
use spaces_vectors::generate::{self, render_all, verify_documents};
use spaces_vectors::grade::{Verdict, grade, verify_test};
use spaces_vectors::ops::{OPS, OpError};

fn on_disk() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    generate::all()
        .iter()
        .map(|f| {
            let text =
                std::fs::read_to_string(dir.join(f.name)).unwrap_or_else(|_| panic!("{} missing: generate", f.name));
            (f.name.to_owned(), serde_json::from_str(&text).expect("vector files are JSON"))
        })
        .collect()
}

#[test]
fn files_on_disk_are_byte_identical_to_a_regeneration() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    for r in render_all() {
        let disk = std::fs::read_to_string(dir.join(&r.path)).unwrap_or_default();
        if let Some(diff) = generate::first_difference(&r.path, &disk, &r.text) {
            panic!("{diff}\nrun `cargo run -p spaces-vectors -- generate`");
        }
    }
}

#[test]
fn every_vector_on_disk_grades_ok() {
    let docs = on_disk();
    let report = verify_documents(&docs);
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert!(report.checked > 300, "only {} vectors", report.checked);
}

#[test]
fn every_valid_reproduces_and_every_invalid_is_refused() {
    for (name, doc) in on_disk() {
        let mut ids = std::collections::BTreeSet::new();
        let mut count = 0;
        for group in doc["testGroups"].as_array().unwrap() {
            let op = group["type"].as_str().unwrap();
            assert!(OPS.contains(&op), "{name}: unknown op {op}");
            for test in group["tests"].as_array().unwrap() {
                count += 1;
                assert!(ids.insert(test["tcId"].as_u64().unwrap()), "{name}: duplicate tcId");
                for flag in test["flags"].as_array().unwrap() {
                    assert!(doc["notes"].get(flag.as_str().unwrap()).is_some(), "{name}: flag {flag} has no note");
                }
                let answer = spaces_vectors::run(op, &test["input"]);
                match test["result"].as_str().unwrap() {
                    "valid" => assert_eq!(answer.as_ref().ok(), Some(&test["output"]), "{name} {}", test["tcId"]),
                    "invalid" => assert!(answer.is_err(), "{name} {} accepted", test["tcId"]),
                    _ => {}
                }
            }
        }
        assert_eq!(doc["numberOfTests"].as_u64(), Some(count), "{name}");
        assert_eq!(ids.iter().copied().collect::<Vec<_>>(), (1..=count).collect::<Vec<_>>(), "{name}: tcIds 1..n");
        assert_eq!(doc["version"], spaces_vectors::SPEC_VERSION);
    }
}

#[test]
fn every_file_has_positive_and_negative_cases_where_it_should() {
    for (name, doc) in on_disk() {
        let results: Vec<&str> = doc["testGroups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["tests"].as_array().unwrap())
            .map(|t| t["result"].as_str().unwrap())
            .collect();
        assert!(results.contains(&"valid"), "{name} has no valid case");
        let set_files = ["membership.json", "items.json", "flows.json"];
        if !set_files.contains(&name.as_str()) {
            assert!(results.contains(&"invalid"), "{name} has no invalid case");
        }
    }
}

#[test]
fn grading_fails_a_changed_output_and_an_accepted_invalid() {
    let docs = on_disk();
    let (_, credentials) = docs.iter().find(|(n, _)| n == "credentials.json").unwrap();
    let group = &credentials["testGroups"][1];
    let op = group["type"].as_str().unwrap();
    let ok = &group["tests"][0];
    assert_eq!(verify_test(op, ok), Verdict::Ok);
    // Flip one hex digit of an expected output.
    let mut flipped = ok.clone();
    let id = flipped["output"]["id"].as_str().unwrap().to_owned();
    let mut chars: Vec<char> = id.chars().collect();
    chars[0] = if chars[0] == '0' { '1' } else { '0' };
    flipped["output"]["id"] = Value::String(chars.into_iter().collect());
    assert!(verify_test(op, &flipped).is_failed());
    // Flip one byte of an input: a valid credential no longer verifies.
    let mut broken = ok.clone();
    let mut bytes = hex::decode(broken["input"]["credential"].as_str().unwrap()).unwrap();
    bytes[100] ^= 1;
    broken["input"]["credential"] = Value::String(hex::encode(bytes));
    assert!(verify_test(op, &broken).is_failed());
    // An implementation that accepts an invalid case fails it; one that refuses passes.
    let bad = group["tests"].as_array().unwrap().iter().find(|t| t["result"] == "invalid").unwrap();
    assert!(grade(bad, Ok(serde_json::json!({}))).is_failed());
    // Format 2: only the error kind the vector names passes; a driver failure never does.
    let kind = bad["output"]["errorKind"].as_str().expect("invalid vectors name their error kind");
    assert_eq!(grade(bad, Err(OpError::new(kind, "no"))), Verdict::Ok);
    assert!(grade(bad, Err(OpError::new("anything", "no"))).is_failed());
    assert!(grade(bad, Err(OpError::new("internal", "panicked"))).is_failed());
    assert!(grade(bad, Err(OpError::new("bad_args", "what?"))).is_failed());
    assert_eq!(grade(ok, Err(OpError::new("unsupported", "not implemented"))), Verdict::Unsupported);
}

#[test]
fn the_published_file_list_is_the_generated_one() {
    let generated: Vec<&str> = generate::all().iter().map(|f| f.name).collect();
    assert_eq!(generated, spaces_vectors::FILES);
    assert_eq!(spaces_vectors::load(&spaces_vectors::vectors_dir()).unwrap().len(), generated.len());
}

#[test]
fn generation_is_deterministic() {
    let a: Vec<String> = render_all().into_iter().map(|r| r.text).collect();
    let b: Vec<String> = render_all().into_iter().map(|r| r.text).collect();
    assert_eq!(a, b);
}
