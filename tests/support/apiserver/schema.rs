//! Validation of custom resources against their CRD's `openAPIV3Schema`, as the real server
//! does it: wrong types and values outside an `enum` are 422 `Invalid` whatever the request
//! says; unknown fields are refused under `fieldValidation=Strict` (server-side apply: 500, as the
//! real server answers it, "failed to create typed patch object (…): .spec.bogus: field not
//! declared in schema";
//! create and update: 400 "strict decoding error: unknown field"). Without `Strict` the fixture
//! keeps unknown fields where the real server would prune them, and it fills in no schema
//! defaults: tests that wrote made-up fields keep passing.
//!
//! The schema walk is general (properties, type, items, additionalProperties, enum,
//! nullable, x-kubernetes-preserve-unknown-fields, x-kubernetes-int-or-string; not yet
//! minimum, maximum, pattern or formats); the schema itself is the one `kube-devops crd
//! generate` prints, from the policy crate.

use std::sync::OnceLock;

use kube::CustomResourceExt;
use serde_json::Value;

use super::json::Object;
use super::resources::Resource;
use super::status::{ApiError, ApiResult};

/// The DevOpsPolicy CRD's `openAPIV3Schema`.
pub fn devops_policy() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let crd = kube_devops_policy::crd::DevOpsPolicy::crd();
        let crd = serde_json::to_value(crd).expect("the CRD as JSON");
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
    })
}

/// Which write a body came with: the error wording differs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Apply,
    /// Create, update, merge patch: `null` deletes in a merge patch, so it is always allowed.
    Other,
}

/// Checks a request body of `info` (named `namespace/name`) against its schema, if it has
/// one. `strict`: `fieldValidation=Strict`.
pub fn check(
    info: &Resource,
    namespace: &str,
    name: &str,
    body: &Object,
    write: Write,
    strict: bool,
) -> ApiResult<()> {
    let Some(schema) = info.schema.map(|schema| schema()) else {
        return Ok(());
    };
    let mut problems = Problems::default();
    let properties = schema["properties"].as_object();
    for (field, value) in body {
        if matches!(field.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        match properties.and_then(|p| p.get(field)) {
            Some(child) => walk(value, child, field, &mut problems),
            None => problems.unknown.push(field.clone()),
        }
    }
    if let Some((path, message)) = problems.invalid.first() {
        let all: Vec<String> = problems
            .invalid
            .iter()
            .map(|(path, message)| format!("{path}: {message}"))
            .collect();
        let mut error = ApiError::new(
            422,
            format!(
                "{}.{} \"{name}\" is invalid: {}",
                info.kind,
                info.group,
                all.join(", ")
            ),
        );
        error.details = Some(serde_json::json!({
            "name": name, "group": info.group, "kind": info.kind,
            "causes": [{"reason": "FieldValueInvalid", "message": message, "field": path}]
        }));
        return Err(error);
    }
    if strict && !problems.unknown.is_empty() {
        let message = match write {
            Write::Apply => {
                let fields: Vec<String> = problems
                    .unknown
                    .iter()
                    .map(|path| format!(".{path}: field not declared in schema"))
                    .collect();
                // 500, as a real server answers it (kubernetes#122480; a fix to 400 is not
                // merged as of 1.36).
                ApiError::new(
                    500,
                    format!(
                        "failed to create typed patch object ({namespace}/{name}; {}, Kind={}): {}",
                        info.api_version,
                        info.kind,
                        fields.join(", ")
                    ),
                )
            }
            Write::Other => {
                let fields: Vec<String> = problems
                    .unknown
                    .iter()
                    .map(|path| format!("unknown field \"{path}\""))
                    .collect();
                ApiError::bad_request(format!(
                    "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding \
                     error: {}",
                    fields.join(", "),
                    kind = info.kind,
                    version = info.version,
                ))
            }
        };
        return Err(message);
    }
    Ok(())
}

#[derive(Default)]
struct Problems {
    /// Paths (`spec.bogus`) the schema does not declare.
    unknown: Vec<String>,
    /// (path, message) of values of the wrong type or outside an enum.
    invalid: Vec<(String, String)>,
}

fn walk(value: &Value, schema: &Value, path: &str, problems: &mut Problems) {
    if value.is_null() {
        // A merge patch's deletion, or an unset optional field.
        return;
    }
    if let Some(expected) = schema["type"].as_str()
        && !has_type(value, expected, schema)
    {
        problems.invalid.push((
            path.to_owned(),
            format!(
                "Invalid value: \"{}\": {path} in body must be of type {expected}: \"{}\"",
                type_name(value),
                type_name(value)
            ),
        ));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        let supported: Vec<String> = allowed.iter().map(Value::to_string).collect();
        problems.invalid.push((
            path.to_owned(),
            format!(
                "Unsupported value: {value}: supported values: {}",
                supported.join(", ")
            ),
        ));
        return;
    }
    let preserve = schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true);
    match value {
        Value::Object(map) => {
            let properties = schema["properties"].as_object();
            let additional = &schema["additionalProperties"];
            for (field, child) in map {
                let child_path = format!("{path}.{field}");
                match properties.and_then(|p| p.get(field)) {
                    Some(child_schema) => walk(child, child_schema, &child_path, problems),
                    None if additional.is_object() => {
                        walk(child, additional, &child_path, problems);
                    }
                    None if preserve || *additional == Value::Bool(true) => {}
                    None => problems.unknown.push(child_path),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|s| s.is_object()) {
                for (index, item) in items.iter().enumerate() {
                    walk(item, item_schema, &format!("{path}[{index}]"), problems);
                }
            }
        }
        _ => {}
    }
}

fn has_type(value: &Value, expected: &str, schema: &Value) -> bool {
    if schema["x-kubernetes-int-or-string"] == Value::Bool(true) {
        return value.is_string() || value.is_i64() || value.is_u64();
    }
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => true,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
