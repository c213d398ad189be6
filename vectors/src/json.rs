//! Small helpers to read op inputs and write op outputs: byte strings are lowercase hex,
//! 64-bit integers are JSON numbers (every value in the vectors fits 2^53).

use serde_json::{Map, Value};

use crate::ops::OpError;

pub fn hex(bytes: impl AsRef<[u8]>) -> Value {
    Value::String(::hex::encode(bytes))
}

pub fn hex_list<T: AsRef<[u8]>>(items: impl IntoIterator<Item = T>) -> Value {
    Value::Array(items.into_iter().map(hex).collect())
}

fn field<'a>(input: &'a Value, key: &str) -> Result<&'a Value, OpError> {
    input.get(key).ok_or_else(|| OpError::bad_args(format!("missing field `{key}`")))
}

pub fn opt<'a>(input: &'a Value, key: &str) -> Option<&'a Value> {
    input.get(key).filter(|v| !v.is_null())
}

pub fn str_of<'a>(input: &'a Value, key: &str) -> Result<&'a str, OpError> {
    field(input, key)?.as_str().ok_or_else(|| OpError::bad_args(format!("`{key}` must be a string")))
}

pub fn u64_of(input: &Value, key: &str) -> Result<u64, OpError> {
    field(input, key)?.as_u64().ok_or_else(|| OpError::bad_args(format!("`{key}` must be an unsigned integer")))
}

pub fn bool_of(input: &Value, key: &str) -> Result<bool, OpError> {
    field(input, key)?.as_bool().ok_or_else(|| OpError::bad_args(format!("`{key}` must be a boolean")))
}

pub fn bytes_of(input: &Value, key: &str) -> Result<Vec<u8>, OpError> {
    parse_hex(str_of(input, key)?, key)
}

pub fn parse_hex(text: &str, what: &str) -> Result<Vec<u8>, OpError> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(OpError::bad_args(format!("`{what}` must be lowercase hex")));
    }
    ::hex::decode(text).map_err(|_| OpError::bad_args(format!("`{what}` is not hex")))
}

pub fn array_of<const N: usize>(input: &Value, key: &str) -> Result<[u8; N], OpError> {
    let bytes = bytes_of(input, key)?;
    bytes.try_into().map_err(|_| OpError::bad_args(format!("`{key}` must be {N} bytes")))
}

pub fn list_of<'a>(input: &'a Value, key: &str) -> Result<&'a Vec<Value>, OpError> {
    field(input, key)?.as_array().ok_or_else(|| OpError::bad_args(format!("`{key}` must be an array")))
}

pub fn hex_items(input: &Value, key: &str) -> Result<Vec<Vec<u8>>, OpError> {
    list_of(input, key)?
        .iter()
        .map(|v| v.as_str().ok_or_else(|| OpError::bad_args(format!("`{key}` holds hex strings"))))
        .map(|s| s.and_then(|s| parse_hex(s, key)))
        .collect()
}

/// An object from key/value pairs (serde_json keeps keys sorted, hence stable output).
pub fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<String, Value>>())
}
