//! Every vector file validates against its schema in `schema/`. The validator below covers
//! exactly the keywords the generated schemas use (`type`, `properties`, `required`,
//! `additionalProperties: false`, `items`, `const`, `enum`, `oneOf`, `minimum`), so the test
//! needs no schema library; unknown keywords fail the test rather than pass silently.

use std::path::Path;

use serde_json::Value;

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        other => panic!("unknown type {other}"),
    }
}

fn validate(schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let s = schema.as_object().ok_or(format!("{at}: schema is not an object"))?;
    for (key, rule) in s {
        match key.as_str() {
            "$schema" | "title" => {}
            "type" => {
                let ok = match rule {
                    Value::String(t) => type_matches(t, v),
                    Value::Array(ts) => ts.iter().any(|t| type_matches(t.as_str().unwrap_or(""), v)),
                    _ => false,
                };
                if !ok {
                    return Err(format!("{at}: {v} is not of type {rule}"));
                }
            }
            "const" if rule != v => return Err(format!("{at}: expected {rule}, got {v}")),
            "const" => {}
            "enum" if !rule.as_array().is_some_and(|e| e.contains(v)) => {
                return Err(format!("{at}: {v} not in {rule}"));
            }
            "enum" => {}
            "minimum" if v.as_f64().is_some_and(|n| n < rule.as_f64().unwrap_or(0.0)) => {
                return Err(format!("{at}: {v} below {rule}"));
            }
            "minimum" => {}
            "required" => {
                for k in rule.as_array().into_iter().flatten() {
                    if v.is_object() && v.get(k.as_str().unwrap_or("")).is_none() {
                        return Err(format!("{at}: missing {k}"));
                    }
                }
            }
            "properties" => {
                if let Some(obj) = v.as_object() {
                    for (k, val) in obj {
                        if let Some(sub) = rule.get(k) {
                            validate(sub, val, &format!("{at}.{k}"))?;
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(obj) = v.as_object() {
                    let props = s.get("properties");
                    for (k, val) in obj {
                        if props.and_then(|p| p.get(k)).is_some() {
                            continue;
                        }
                        match rule {
                            Value::Bool(false) => return Err(format!("{at}: unexpected key {k}")),
                            Value::Object(_) => validate(rule, val, &format!("{at}.{k}"))?,
                            _ => {}
                        }
                    }
                }
            }
            "items" => {
                for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                    validate(rule, item, &format!("{at}[{i}]"))?;
                }
            }
            "oneOf" => {
                let matches = rule.as_array().into_iter().flatten().filter(|s| validate(s, v, at).is_ok()).count();
                if matches != 1 {
                    return Err(format!("{at}: matches {matches} of oneOf"));
                }
            }
            other => return Err(format!("{at}: schema keyword {other} not understood")),
        }
    }
    Ok(())
}

#[test]
fn every_file_validates_against_its_schema() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in spaces_vectors::generate::all() {
        let read = |p: &Path| -> Value { serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap() };
        let doc = read(&dir.join(f.name));
        let schema = read(&dir.join("schema").join(doc["schema"].as_str().unwrap()));
        validate(&schema, &doc, f.name).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn the_validator_rejects_what_the_schema_forbids() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| -> Value { serde_json::from_str(&std::fs::read_to_string(dir.join(p)).unwrap()).unwrap() };
    let schema = read("schema/feeds_schema.json");
    let mut doc = read("feeds.json");
    doc["testGroups"][0]["tests"][0]["surprise"] = Value::Bool(true);
    assert!(validate(&schema, &doc, "feeds").is_err(), "additional property accepted");
    let mut doc = read("feeds.json");
    doc["testGroups"][0]["tests"][0]["result"] = Value::String("maybe".into());
    assert!(validate(&schema, &doc, "feeds").is_err(), "unknown result accepted");
    let mut doc = read("feeds.json");
    doc["testGroups"][0]["tests"][0]["input"]["entries"] = Value::String("00".into());
    assert!(validate(&schema, &doc, "feeds").is_err(), "wrong input type accepted");
}
