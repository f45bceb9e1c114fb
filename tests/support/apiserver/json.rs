//! JSON helpers: RFC 7386 merge patches (which is also how the fixture applies server-side
//! apply bodies), access to `metadata` fields, and the stored form of objects (serialised
//! without `kind`/`apiVersion`, which responses splice back in).

use axum::body::Bytes;
use serde_json::{Map, Value, json};

use super::resources::RESOURCES;

/// An object as JSON, without `kind` and `apiVersion`.
pub type Object = Map<String, Value>;

/// Applies an RFC 7386 merge patch: objects merge recursively, `null` deletes a field, arrays
/// and scalars replace.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// `metadata.{field}` as a string, if it is one.
pub fn meta_str<'a>(object: &'a Object, field: &str) -> Option<&'a str> {
    object.get("metadata")?.get(field)?.as_str()
}

/// `metadata`, created (or replaced, if it is not an object) as an empty object when missing.
pub fn meta_mut(object: &mut Object) -> &mut Object {
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    match metadata {
        Value::Object(metadata) => metadata,
        _ => unreachable!("metadata was just made an object"),
    }
}

/// Whether the object is marked for deletion and no finalizer holds it back any more.
pub fn ready_to_go(object: &Object) -> bool {
    let Some(metadata) = object.get("metadata") else {
        return false;
    };
    metadata.get("deletionTimestamp").is_some()
        && metadata
            .get("finalizers")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
}

/// Whether any finalizer is set.
pub fn has_finalizers(object: &Object) -> bool {
    object
        .get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}

pub fn strip_type(object: &mut Object) {
    object.remove("kind");
    object.remove("apiVersion");
}

// Encoding and decoding go through `Value`'s Display and FromStr, which serde_json compiles
// itself: generic serde code would be instantiated here, unoptimised in debug test builds,
// and make bulk inserts several times slower.

pub fn encode(object: Object) -> Bytes {
    Bytes::from(Value::Object(object).to_string())
}

/// A stored object (always valid JSON: the store wrote it).
pub fn parse_object(bytes: &[u8]) -> Object {
    match parse(bytes) {
        Value::Object(object) => object,
        _ => Object::new(),
    }
}

/// Stored JSON as a value.
pub fn parse(bytes: &[u8]) -> Value {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_default()
}

/// A stored object with its `kind` and `apiVersion`, as JSON text: what get and watch answer.
pub fn typed_json(resource: usize, bytes: &[u8]) -> Vec<u8> {
    let info = &RESOURCES[resource];
    let mut out = Vec::with_capacity(bytes.len() + 64);
    out.extend_from_slice(b"{\"apiVersion\":\"");
    out.extend_from_slice(info.api_version.as_bytes());
    out.extend_from_slice(b"\",\"kind\":\"");
    out.extend_from_slice(info.kind.as_bytes());
    out.extend_from_slice(b"\"");
    // Stored objects are JSON objects: `{` then members or `}`.
    let members = bytes.get(1..).unwrap_or(b"}".as_slice());
    if members.first() != Some(&b'}') {
        out.push(b',');
    }
    out.extend_from_slice(members);
    out
}

/// A stored object with its `kind` and `apiVersion`, as a value.
pub fn typed(resource: usize, bytes: &[u8]) -> Value {
    let info = &RESOURCES[resource];
    let mut object = parse_object(bytes);
    object.insert("apiVersion".into(), json!(info.api_version));
    object.insert("kind".into(), json!(info.kind));
    Value::Object(object)
}
