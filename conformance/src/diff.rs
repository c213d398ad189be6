//! Showing a wrong answer so that an implementer in any language can act on it: the one JSON
//! field path where the reply differs from the vector, and every value clipped, so that a
//! wrong 1 KiB hex string names its first differing character instead of filling the screen.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest value or line the text report prints whole; longer ones are clipped with their size.
pub const SHOWN_CHARS_MAX: usize = 160;
/// How deep `first_difference` descends: vector outputs are a few levels deep, and a bound
/// keeps a hostile reply from costing a deep recursion.
const DEPTH_MAX: usize = 64;

/// The first place where an answer differs from what the vector expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// A JSON path from the reply's value: `signature`, `members[2].role`; empty for the value itself.
    pub path: String,
    /// `None` when the vector has no such field (nested objects must match exactly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    /// `None` when the reply has no such field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<Value>,
}

impl Difference {
    /// One line for people: where, expected, actual; long strings show where they first differ.
    pub fn describe(&self) -> String {
        let at = if self.path.is_empty() { "the value".to_owned() } else { format!("`{}`", self.path) };
        match (&self.actual, &self.expected) {
            (None, None) => format!("at {at}: both absent"),
            (None, Some(e)) => format!("at {at}: expected {}, but the reply has no such field", show(e)),
            (Some(a), None) => format!("at {at}: no such field expected, but the reply has {}", show(a)),
            (Some(Value::String(a)), Some(Value::String(e))) => {
                let first = e.chars().zip(a.chars()).take_while(|(x, y)| x == y).count();
                let what = if e.chars().count() != a.chars().count() {
                    format!("{} chars expected, {} got", e.chars().count(), a.chars().count())
                } else {
                    format!("{} chars each", e.chars().count())
                };
                format!(
                    "at {at}: strings differ from char {first} ({what}): expected {}, actual {}",
                    show_from(e, first),
                    show_from(a, first)
                )
            }
            (Some(a), Some(e)) => format!("at {at}: expected {}, actual {}", show(e), show(a)),
        }
    }
}

/// Where `actual` first fails to be `expected`, keys in order, arrays element by element.
/// Extra keys are allowed at the top level only (as grading allows them: a reply may carry
/// more fields than the vector grades); nested values must be equal. `None` when they match.
pub fn first_difference(expected: &Value, actual: &Value) -> Option<Difference> {
    let (Value::Object(e), Value::Object(a)) = (expected, actual) else {
        return walk(expected, actual, String::new(), 0);
    };
    e.iter().find_map(|(k, v)| match a.get(k) {
        None => Some(Difference { path: k.clone(), expected: Some(v.clone()), actual: None }),
        Some(x) => walk(v, x, k.clone(), 1),
    })
}

fn walk(expected: &Value, actual: &Value, path: String, depth: usize) -> Option<Difference> {
    let differ = |path: String| Difference { path, expected: Some(expected.clone()), actual: Some(actual.clone()) };
    if expected == actual {
        return None;
    }
    if depth >= DEPTH_MAX {
        return Some(differ(path));
    }
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let missing = e.iter().find_map(|(k, v)| match a.get(k) {
                None => Some(Difference { path: join(&path, k), expected: Some(v.clone()), actual: None }),
                Some(x) => walk(v, x, join(&path, k), depth + 1),
            });
            let extra = || {
                a.iter().find(|(k, _)| !e.contains_key(*k)).map(|(k, v)| Difference {
                    path: join(&path, k),
                    expected: None,
                    actual: Some(v.clone()),
                })
            };
            missing.or_else(extra)
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            e.iter().zip(a).enumerate().find_map(|(i, (x, y))| walk(x, y, format!("{path}[{i}]"), depth + 1))
        }
        _ => Some(differ(path)),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

/// A JSON value as compact JSON, clipped to `SHOWN_CHARS_MAX`.
pub fn show(v: &Value) -> String {
    clip(&v.to_string(), SHOWN_CHARS_MAX)
}

/// A string as JSON, starting a little before char `from` so the difference is in view.
fn show_from(s: &str, from: usize) -> String {
    const BEFORE: usize = 8;
    let start = from.saturating_sub(BEFORE);
    let tail: String = s.chars().skip(start).collect();
    let shown = clip(&tail, 40);
    if start == 0 { format!("\"{shown}\"") } else { format!("\"…{shown}\" (from char {start})") }
}

/// `s` whole when short, else its first `max` chars, `…` and its total size.
pub fn clip(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_owned();
    }
    let head: String = s.chars().take(max).collect();
    format!("{head}… ({n} chars)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_differing_key_is_named_with_its_path() {
        let expected = json!({"id": "ab", "members": [{"role": "editor"}, {"role": "admin"}]});
        let actual = json!({"id": "ab", "extra": 1, "members": [{"role": "editor"}, {"role": "reader"}]});
        let d = first_difference(&expected, &actual).unwrap();
        assert_eq!(d.path, "members[1].role");
        assert_eq!((d.expected, d.actual), (Some(json!("admin")), Some(json!("reader"))));
        let nested_extra = first_difference(&json!({"a": {"x": 1}}), &json!({"a": {"x": 1, "y": 2}})).unwrap();
        assert_eq!(
            (nested_extra.path.as_str(), nested_extra.expected),
            ("a.y", None),
            "only the top level may add keys"
        );
        assert_eq!(first_difference(&expected, &expected), None);
        let missing = first_difference(&json!({"sig": "00"}), &json!({})).unwrap();
        assert_eq!((missing.path.as_str(), &missing.actual), ("sig", &None));
        assert!(missing.describe().contains("no such field"), "{}", missing.describe());
    }

    #[test]
    fn a_long_hex_difference_shows_where_it_starts_not_the_whole_string() {
        let e = "ab".repeat(512);
        let mut a = e.clone();
        a.replace_range(700..701, "f");
        let d = first_difference(&json!({"sig": e}), &json!({"sig": a})).unwrap();
        let line = d.describe();
        assert!(line.contains("from char 700"), "{line}");
        assert!(line.len() < 300, "{} chars: {line}", line.len());
        assert_eq!(clip(&"x".repeat(200), 10), format!("{}… (200 chars)", "x".repeat(10)));
    }
}
