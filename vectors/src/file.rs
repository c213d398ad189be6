//! The Wycheproof-shaped file model and its one serialisation (sorted keys, two-space pretty
//! print, trailing newline), so regeneration is byte-stable.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// What a test expects of an implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// MUST succeed with exactly `output`.
    Valid,
    /// MUST fail.
    Invalid,
    /// MAY do either (a legacy or implementation-defined case).
    Acceptable,
}

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Valid => "valid",
            Expect::Invalid => "invalid",
            Expect::Acceptable => "acceptable",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Test {
    pub comment: String,
    pub flags: Vec<&'static str>,
    pub input: Value,
    pub output: Value,
    pub result: Expect,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub op: &'static str,
    pub tests: Vec<Test>,
}

/// One vector file under construction.
#[derive(Debug, Clone)]
pub struct VectorFile {
    /// File name without directory, e.g. `credentials.json`.
    pub name: &'static str,
    pub algorithm: &'static str,
    /// flag -> (bugType, description)
    pub notes: BTreeMap<&'static str, (&'static str, &'static str)>,
    pub groups: Vec<Group>,
}

impl VectorFile {
    pub fn new(name: &'static str, algorithm: &'static str) -> Self {
        VectorFile { name, algorithm, notes: BTreeMap::new(), groups: Vec::new() }
    }

    /// Declares a flag once; every flag a test uses must be declared (checked in `to_json`).
    pub fn note(&mut self, flag: &'static str, bug_type: &'static str, description: &'static str) {
        let previous = self.notes.insert(flag, (bug_type, description));
        assert!(previous.is_none(), "flag {flag} noted twice");
    }

    pub fn group(&mut self, op: &'static str) -> &mut Vec<Test> {
        if self.groups.last().is_none_or(|g| g.op != op) {
            self.groups.push(Group { op, tests: Vec::new() });
        }
        &mut self.groups.last_mut().expect("just pushed").tests
    }

    pub fn number_of_tests(&self) -> usize {
        self.groups.iter().map(|g| g.tests.len()).sum()
    }

    /// The schema file name: one schema per vector file.
    pub fn schema_name(&self) -> String {
        format!("{}_schema.json", self.name.trim_end_matches(".json"))
    }

    pub fn to_json(&self) -> Value {
        let mut tc_id = 0u64;
        let groups: Vec<Value> = self
            .groups
            .iter()
            .map(|g| {
                let tests: Vec<Value> = g
                    .tests
                    .iter()
                    .map(|t| {
                        tc_id += 1;
                        for f in &t.flags {
                            assert!(self.notes.contains_key(f), "{}: flag {f} has no note", self.name);
                        }
                        json!({
                            "tcId": tc_id,
                            "comment": t.comment,
                            "flags": t.flags,
                            "input": t.input,
                            "output": t.output,
                            "result": t.result.as_str(),
                        })
                    })
                    .collect();
                json!({ "type": g.op, "tests": tests })
            })
            .collect();
        let notes: serde_json::Map<String, Value> = self
            .notes
            .iter()
            .map(|(f, (bug, desc))| ((*f).to_owned(), json!({ "bugType": bug, "description": desc })))
            .collect();
        json!({
            "algorithm": self.algorithm,
            "schema": self.schema_name(),
            "version": crate::SPEC_VERSION,
            "formatVersion": crate::FORMAT_VERSION,
            "numberOfTests": self.number_of_tests(),
            "notes": notes,
            "testGroups": groups,
        })
    }
}

/// The one text form of a JSON document: sorted keys, two-space indent, trailing newline.
pub fn to_text(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values always serialize");
    text.push('\n');
    text
}
