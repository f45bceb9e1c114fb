//! DevOpsPolicies as files hold them: read from manifests (the engine's reader: YAML streams,
//! JSON, Lists), cleaned of what the server owns, and the views that export, import and diff
//! compare.

use std::path::PathBuf;
use std::sync::OnceLock;

use kube::CustomResourceExt;
use kube_devops_engine::manifest::read_paths;
use kube_devops_engine::pod::InputError;
use kube_devops_policy::crd::DevOpsPolicy;
use serde_json::{Value, json};

pub const API_VERSION: &str = "devops.stochastic.io/v1";
pub const KIND: &str = "DevOpsPolicy";
/// How kubectl names the resource in its messages.
pub const QUALIFIED: &str = "devopspolicy.devops.stochastic.io";

/// Metadata the server sets: never in Git, never sent back (a stale `resourceVersion` would
/// turn an apply into a conflict).
const SERVER_METADATA: [&str; 8] = [
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "managedFields",
];

/// kubectl's client-side apply record: the whole object again, and stale once anything else
/// applies.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `(namespace, name)`: the order of every listing.
pub type Key = (String, String);

/// One DevOpsPolicy of the files, cleaned, with where it was read.
#[derive(Debug, Clone)]
pub struct FileObject {
    /// `path:line` of its first line.
    pub location: String,
    pub key: Key,
    /// Cleaned ([`clean`]), its namespace set.
    pub object: Value,
}

/// The objects of the files and what could not be used, each error naming its place.
#[derive(Debug, Default)]
pub struct FileObjects {
    pub objects: Vec<FileObject>,
    pub errors: Vec<InputError>,
    pub warnings: Vec<InputError>,
}

/// Reads `paths`; objects without a namespace go to `namespace` (`-n`), and without one they
/// are errors, as is any object that is not a DevOpsPolicy or that names another namespace
/// than `-n`. The same object twice: the second is an error.
pub fn read(paths: &[PathBuf], namespace: Option<&str>) -> FileObjects {
    let manifests = read_paths(paths);
    let mut out = FileObjects {
        errors: manifests.errors,
        warnings: manifests.warnings,
        ..FileObjects::default()
    };
    for source in manifests.sources {
        let location = source.location(None);
        let fail = |reason: String| InputError {
            location: location.clone(),
            reason,
        };
        let object = match serde_json::from_str::<Value>(source.json()) {
            Ok(Value::Object(object)) => object,
            Ok(_) => {
                out.errors.push(fail("not an object".to_owned()));
                continue;
            }
            Err(error) => {
                out.errors.push(fail(format!("cannot read: {error}")));
                continue;
            }
        };
        let kind = object
            .get("kind")
            .and_then(Value::as_str)
            .or(source.implied_kind())
            .unwrap_or_default();
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind != KIND || api_version != API_VERSION {
            out.errors.push(fail(format!(
                "not a DevOpsPolicy ({api_version} {kind}); only {API_VERSION} {KIND} objects are \
                 imported"
            )));
            continue;
        }
        let mut object = clean(Value::Object(object));
        let metadata = &object["metadata"];
        let Some(name) = metadata["name"].as_str().filter(|n| !n.is_empty()) else {
            out.errors
                .push(fail("the DevOpsPolicy has no metadata.name".to_owned()));
            continue;
        };
        let name = name.to_owned();
        let own = metadata["namespace"].as_str().filter(|n| !n.is_empty());
        let resolved = match (own, namespace) {
            (Some(own), Some(flag)) if own != flag => {
                out.errors.push(fail(format!(
                    "DevOpsPolicy {name} is in namespace {own}, not {flag} (-n): pass -n {own} or \
                     leave -n out"
                )));
                continue;
            }
            (Some(own), _) => own.to_owned(),
            (None, Some(flag)) => flag.to_owned(),
            (None, None) => {
                out.errors.push(fail(format!(
                    "DevOpsPolicy {name} has no metadata.namespace: set it in the file or pass -n"
                )));
                continue;
            }
        };
        object["metadata"]["namespace"] = json!(resolved);
        let key = (resolved, name);
        if let Some(first) = out.objects.iter().find(|o| o.key == key) {
            out.errors.push(fail(format!(
                "DevOpsPolicy {}/{} again (first at {})",
                key.0, key.1, first.location
            )));
            continue;
        }
        out.objects.push(FileObject {
            location,
            key,
            object,
        });
    }
    out
}

/// The object as Git should hold it: no status, no server-set metadata, no last-applied
/// annotation, no empty label or annotation maps. Keys come out sorted (`serde_json`'s map),
/// so the text does not depend on the order the server answered in.
pub fn clean(object: Value) -> Value {
    let Value::Object(mut object) = object else {
        return object;
    };
    object.remove("status");
    if let Some(Value::Object(metadata)) = object.get_mut("metadata") {
        for field in SERVER_METADATA {
            metadata.remove(field);
        }
        if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
            annotations.remove(LAST_APPLIED);
        }
        for field in ["labels", "annotations", "finalizers", "ownerReferences"] {
            let empty = match metadata.get(field) {
                Some(Value::Object(map)) => map.is_empty(),
                Some(Value::Array(items)) => items.is_empty(),
                Some(Value::Null) => true,
                _ => false,
            };
            if empty {
                metadata.remove(field);
            }
        }
    }
    Value::Object(object)
}

/// What import compares to say `configured` or `unchanged`: the spec, labels and annotations.
pub fn import_view(object: &Value) -> Value {
    let cleaned = clean(object.clone());
    let metadata = &cleaned["metadata"];
    json!({
        "spec": cleaned.get("spec").cloned().unwrap_or(Value::Null),
        "labels": metadata.get("labels").cloned().unwrap_or(Value::Null),
        "annotations": metadata.get("annotations").cloned().unwrap_or(Value::Null),
    })
}

/// What diff compares and prints: name and namespace, and the spec with the CRD's defaults
/// filled in, as the API server stores it (a file that leaves `enforcementMode` out equals a
/// cluster object that holds the default).
pub fn diff_view(key: &Key, object: &Value) -> Value {
    let mut spec = object.get("spec").cloned().unwrap_or_else(|| json!({}));
    if let Some(schema) = spec_schema() {
        fill_defaults(&mut spec, schema);
    }
    json!({
        "metadata": {"name": key.1, "namespace": key.0},
        "spec": spec,
    })
}

/// The spec's openAPIV3Schema in the CRD kube-devops generates.
fn spec_schema() -> Option<&'static Value> {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    let schema = SCHEMA.get_or_init(|| {
        let crd = serde_json::to_value(DevOpsPolicy::crd()).unwrap_or_default();
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].clone()
    });
    schema.is_object().then_some(schema)
}

/// Structural defaulting as the API server does it: a property missing from an object that is
/// there gets its schema `default`, recursively through properties, items and
/// additionalProperties.
fn fill_defaults(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(map) => {
            let properties = schema["properties"].as_object();
            for (field, property) in properties.into_iter().flatten() {
                if !map.contains_key(field)
                    && let Some(default) = property.get("default")
                {
                    map.insert(field.clone(), default.clone());
                }
            }
            let extra = schema.get("additionalProperties").filter(|s| s.is_object());
            for (field, child) in map.iter_mut() {
                if let Some(child_schema) = properties.and_then(|p| p.get(field)).or(extra) {
                    fill_defaults(child, child_schema);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|s| s.is_object()) {
                for item in items {
                    fill_defaults(item, item_schema);
                }
            }
        }
        _ => {}
    }
}
