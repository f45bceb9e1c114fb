//! JSON object surgery: RFC 7386 merge patches (which is also how the fixture applies
//! server-side apply bodies) and access to `metadata` fields.

use serde_json::{Map, Value};

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
pub fn meta_str<'a>(object: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    object.get("metadata")?.get(field)?.as_str()
}

/// `metadata`, created (or replaced, if it is not an object) as an empty object when missing.
pub fn meta_mut(object: &mut Map<String, Value>) -> &mut Map<String, Value> {
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
pub fn ready_to_go(object: &Map<String, Value>) -> bool {
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
pub fn has_finalizers(object: &Map<String, Value>) -> bool {
    object
        .get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}
