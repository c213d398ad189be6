//! The vectors added for rules no vector covered before (issue 10): each fails the answer an
//! implementation that breaks its rule gives. The reference was run with each bug planted by
//! hand (skipping §4.4 step 7; letting a second `AdmittedFeed` win; calling one body signed
//! twice a fork; checking duplicates before signatures), and these vectors, and only these,
//! failed; the answers below are what those runs gave. `mutants.rs` replays the planted bugs
//! themselves (`skip-concurrent-demotion`, `feed-readmission-wins`, `fork-on-resignature`,
//! `duplicate-before-signature`).

use serde_json::{Value, json};
use spaces_vectors::grade::{Verdict, grade};
use spaces_vectors::ops::{self, OpError};

fn file(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The tests of `name` whose comment starts with `prefix`, with their op.
fn tests(name: &str, prefix: &str) -> Vec<(String, Value)> {
    let doc = file(name);
    let mut out = Vec::new();
    for g in doc["testGroups"].as_array().unwrap() {
        for t in g["tests"].as_array().unwrap() {
            if t["comment"].as_str().unwrap().starts_with(prefix) {
                out.push((g["type"].as_str().unwrap().to_owned(), t.clone()));
            }
        }
    }
    assert!(!out.is_empty(), "{name}: no test `{prefix}…`");
    out
}

fn caught(test: &Value, broken: Result<Value, OpError>) {
    assert!(grade(test, broken.clone()).is_failed(), "{} passes {broken:?}", test["comment"]);
}

/// §4.4 step 7 skipped: the fixpoint alone voids the newcomer's grant for good (V only
/// grows), so the answer lacks the newcomer; the reference's answer has it as EDITOR.
#[test]
fn concurrent_demotion_fails_the_fixpoint_alone() {
    for (op, t) in tests("membership.json", "an admin demoted while it demotes another admin") {
        assert_eq!(grade(&t, ops::run(&op, &t["input"])), Verdict::Ok);
        let members = t["output"]["members"].as_array().unwrap();
        let editors: Vec<&Value> = members.iter().filter(|m| m["role"] == "editor").collect();
        assert_eq!(editors.len(), 2, "the cast's editor and the newcomer");
        // The fixpoint-only answer: the same members without the newcomer. Which editor is
        // the newcomer does not matter for the proof: dropping either fails the vector.
        for dropped in editors {
            let rest: Vec<Value> = members.iter().filter(|m| *m != dropped).cloned().collect();
            caught(&t, Ok(json!({ "members": rest })));
        }
        // And no strong removal at all: the demoted admin ends READER.
        let mut weak = t["output"].clone();
        for m in weak["members"].as_array_mut().unwrap() {
            if m["role"] == "admin" {
                m["role"] = json!("reader");
            }
        }
        caught(&t, Ok(weak));
    }
}

/// The later `AdmittedFeed` wins: the reader's write is applied as the editor's.
#[test]
fn feed_already_admitted_fails_a_later_admission_winning() {
    for (op, t) in tests("items.json", "a reader's data feed re-admitted as an editor's") {
        assert_eq!(grade(&t, ops::run(&op, &t["input"])), Verdict::Ok);
        let mut broken = t["output"].clone();
        broken["items"][0]["fields"]["title"] = json!({ "text": "by reader as editor" });
        for v in broken["verdicts"].as_array_mut().unwrap() {
            if v["verdict"] == "noWriteAccess" {
                v["verdict"] = json!("applied");
            }
        }
        assert_ne!(broken, t["output"]);
        caught(&t, Ok(broken));
    }
}

/// One body signed twice called a fork; a malleated copy taken as a duplicate.
#[test]
fn resigned_entries_fail_a_fork_and_a_duplicate_before_the_signature() {
    for (_, t) in tests("feeds.json", "entry 1, then its body with another valid signature")
        .into_iter()
        .chain(tests("feeds.json", "the re-signed entry 1 first"))
    {
        caught(&t, Err(OpError::new("fork", "entry 2: fork at seq 1")));
    }
    for (op, t) in tests("feeds.json", "entry 1, then entry 1 with s + ℓ") {
        assert_eq!(t["output"]["errorKind"], "signature");
        let mut first_two = t["input"].clone();
        first_two["entries"].as_array_mut().unwrap().truncate(2);
        caught(&t, ops::run(&op, &first_two));
        caught(&t, Err(OpError::new("fork", "a second entry 1")));
    }
}
