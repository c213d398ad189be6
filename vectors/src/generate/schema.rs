//! JSON Schemas (draft 2020-12), one per vector file, generated from the file itself: the
//! envelope is fixed, and each op's `input` and `output` schema is inferred from every value
//! the file holds for it (objects closed with `additionalProperties: false`, a key required
//! when every value has it). Regenerated with the vectors, so the two never disagree.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::file::VectorFile;

/// A schema being inferred: the JSON types seen, and for objects and arrays their parts.
#[derive(Default)]
struct Shape {
    types: std::collections::BTreeSet<&'static str>,
    /// key -> (shape, how many objects had it)
    fields: BTreeMap<String, (Shape, usize)>,
    objects: usize,
    items: Option<Box<Shape>>,
}

impl Shape {
    fn add(&mut self, v: &Value) {
        match v {
            Value::Null => {
                self.types.insert("null");
            }
            Value::Bool(_) => {
                self.types.insert("boolean");
            }
            Value::Number(n) => {
                self.types.insert(if n.is_u64() || n.is_i64() { "integer" } else { "number" });
            }
            Value::String(_) => {
                self.types.insert("string");
            }
            Value::Array(items) => {
                self.types.insert("array");
                let shape = self.items.get_or_insert_with(Default::default);
                items.iter().for_each(|i| shape.add(i));
            }
            Value::Object(map) => {
                self.types.insert("object");
                self.objects += 1;
                for (k, v) in map {
                    let (shape, count) = self.fields.entry(k.clone()).or_default();
                    shape.add(v);
                    *count += 1;
                }
            }
        }
    }

    fn to_schema(&self) -> Value {
        let mut s = Map::new();
        let types: Vec<&str> = self.types.iter().copied().collect();
        match types.as_slice() {
            [] => {}
            [one] => {
                s.insert("type".into(), json!(one));
            }
            many => {
                s.insert("type".into(), json!(many));
            }
        }
        if self.types.contains("object") {
            let props: Map<String, Value> =
                self.fields.iter().map(|(k, (sh, _))| (k.clone(), sh.to_schema())).collect();
            let required: Vec<&String> =
                self.fields.iter().filter(|(_, (_, n))| *n == self.objects).map(|(k, _)| k).collect();
            s.insert("properties".into(), Value::Object(props));
            s.insert("required".into(), json!(required));
            s.insert("additionalProperties".into(), json!(false));
        }
        if let Some(items) = &self.items {
            s.insert("items".into(), items.to_schema());
        }
        Value::Object(s)
    }
}

fn group_schema(f: &VectorFile, op: &str) -> Value {
    let (mut input, mut output) = (Shape::default(), Shape::default());
    for t in f.groups.iter().filter(|g| g.op == op).flat_map(|g| &g.tests) {
        input.add(&t.input);
        output.add(&t.output);
    }
    let flags: Vec<&str> = f.notes.keys().copied().collect();
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["type", "tests"],
        "properties": {
            "type": { "const": op },
            "tests": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["tcId", "comment", "flags", "input", "output", "result"],
                    "properties": {
                        "tcId": { "type": "integer", "minimum": 1 },
                        "comment": { "type": "string" },
                        "flags": { "type": "array", "items": { "enum": flags } },
                        "input": input.to_schema(),
                        "output": output.to_schema(),
                        "result": { "enum": ["valid", "invalid", "acceptable"] },
                    },
                },
            },
        },
    })
}

pub fn for_file(f: &VectorFile) -> Value {
    let mut ops: Vec<&str> = f.groups.iter().map(|g| g.op).collect();
    ops.dedup();
    let groups: Vec<Value> = ops.iter().map(|op| group_schema(f, op)).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("spaces/1 test vectors: {}", f.algorithm),
        "type": "object",
        "additionalProperties": false,
        "required": ["algorithm", "schema", "version", "formatVersion", "numberOfTests", "notes", "testGroups"],
        "properties": {
            "algorithm": { "const": f.algorithm },
            "schema": { "const": f.schema_name() },
            "version": { "const": crate::SPEC_VERSION },
            "formatVersion": { "const": crate::FORMAT_VERSION },
            "numberOfTests": { "type": "integer", "minimum": 0 },
            "notes": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["bugType", "description"],
                    "properties": { "bugType": { "type": "string" }, "description": { "type": "string" } },
                },
            },
            "testGroups": { "type": "array", "items": { "oneOf": groups } },
        },
    })
}
