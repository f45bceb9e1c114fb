//! Server-side apply with field ownership, for the resources that have it (`apps/v1`
//! workloads, DevOpsPolicies): each manager's fields are recorded in `metadata.managedFields` (`FieldsV1`, as
//! the real server writes them); an apply without `force` that would change a field another
//! manager set is refused with 409 `Conflict` naming the manager and the field; a manager's
//! fields it no longer applies are removed unless another manager owns them too.
//!
//! For workloads the schema is the pod template's, reduced: `containers` and the other lists
//! with a merge key are merged item by item, every other list is atomic (replaced whole, owned
//! as one field). Elsewhere (`keyed_lists: false`, a CRD) every list is atomic. Updates (PUT, merge and JSON patches) keep `managedFields` and record no manager.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::generated::now_rfc3339;
use super::json::{Object, meta_mut};
use super::resources::Resource;
use super::status::{ApiError, ApiResult};

/// Who applies, from the query (`fieldManager`, `force`).
#[derive(Debug, Clone, Default)]
pub struct Applier {
    pub manager: String,
    pub force: bool,
}

/// One step of a field path: a field, or a list item named by its key (`{"name":"app"}`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Field(String),
    Key(String),
}

type Path = Vec<Step>;

/// The merge key of an associative list of the pod template.
fn pod_merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        _ => None,
    }
}

/// How lists of a resource merge: by a key, or atomically.
type MergeKey = fn(&str) -> Option<&'static str>;

fn atomic(_field: &str) -> Option<&'static str> {
    None
}

/// A `managedFields` entry.
struct Managed {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    fields: BTreeSet<Path>,
}

/// The object after `applier` applies `config` over `old` (`None`: the apply creates it).
pub fn apply(
    info: &Resource,
    name: &str,
    old: Option<&Object>,
    config: Object,
    applier: &Applier,
) -> ApiResult<Object> {
    let old = Value::Object(old.cloned().unwrap_or_default());
    let merge_key: MergeKey = if info.keyed_lists {
        pod_merge_key
    } else {
        atomic
    };
    let tracked = tracked(&config);
    let mut applied = BTreeSet::new();
    leaves(merge_key, &tracked, None, &mut Vec::new(), &mut applied);
    let mut managers = managed(&old);

    let mut conflicts = Vec::new();
    for path in &applied {
        if matches!(path.last(), Some(Step::Key(_))) {
            continue;
        }
        let current = get(&old, path);
        if current.is_none() || current == get(&tracked, path) {
            continue;
        }
        for other in &managers {
            if other.manager != applier.manager && other.fields.contains(path) {
                conflicts.push((other.manager.clone(), path.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !applier.force {
        return Err(conflict(info, name, &conflicts));
    }
    // Forced: the fields change hands.
    for (loser, path) in &conflicts {
        for other in managers.iter_mut().filter(|m| &m.manager == loser) {
            other.fields.remove(path);
        }
    }

    let mut new = old.clone();
    merge(merge_key, None, &mut new, &Value::Object(config));
    let previous = managers
        .iter()
        .position(|m| m.manager == applier.manager && m.operation == "Apply");
    let released: Vec<Path> = previous
        .map(|at| managers[at].fields.difference(&applied).cloned().collect())
        .unwrap_or_default();
    let owned_elsewhere = |path: &[Step], applied: &BTreeSet<Path>| {
        applied.iter().any(|owned| owned.starts_with(path))
            || managers
                .iter()
                .filter(|m| m.manager != applier.manager)
                .any(|m| m.fields.iter().any(|owned| owned.starts_with(path)))
    };
    // Deepest first, so an item goes after its fields.
    for path in released.iter().rev() {
        if owned_elsewhere(path, &applied) {
            continue;
        }
        remove(&mut new, path);
        // A struct left empty and owned by no one goes too (`readinessProbe` once its fields
        // are gone); list items are released paths of their own.
        for depth in (1..path.len()).rev() {
            let parent = &path[..depth];
            let empty =
                get(&new, parent).is_some_and(|value| value.as_object().is_some_and(Map::is_empty));
            if matches!(parent.last(), Some(Step::Key(_)))
                || !empty
                || owned_elsewhere(parent, &applied)
            {
                break;
            }
            remove(&mut new, parent);
        }
    }
    // A no-op apply (same fields, same object) keeps its time, so the object does not change
    // and no resourceVersion is spent, as on the real server.
    let time = match previous {
        Some(at) if new == old && managers[at].fields == applied => managers[at].time.clone(),
        _ => now_rfc3339(),
    };
    let entry = Managed {
        manager: applier.manager.clone(),
        operation: "Apply".to_owned(),
        api_version: info.api_version.to_owned(),
        time,
        fields: applied,
    };
    match previous {
        Some(at) => managers[at] = entry,
        None => managers.push(entry),
    }
    managers.retain(|m| !m.fields.is_empty());
    let Value::Object(mut new) = new else {
        return Err(ApiError::bad_request(
            "the apply made the object something else",
        ));
    };
    let entries: Vec<Value> = managers.iter().map(Managed::to_json).collect();
    meta_mut(&mut new).insert("managedFields".into(), Value::Array(entries));
    Ok(new)
}

/// The fields of an applied object that have owners: all but the type, the status and the
/// metadata the server keeps (labels and annotations are owned).
fn tracked(config: &Object) -> Value {
    let mut tracked = config.clone();
    for field in ["apiVersion", "kind", "status", "metadata"] {
        tracked.remove(field);
    }
    let metadata = config.get("metadata").and_then(Value::as_object);
    let mut kept = Map::new();
    for field in ["labels", "annotations"] {
        if let Some(value) = metadata.and_then(|m| m.get(field)) {
            kept.insert(field.to_owned(), value.clone());
        }
    }
    if !kept.is_empty() {
        tracked.insert("metadata".to_owned(), Value::Object(kept));
    }
    Value::Object(tracked)
}

/// Every field `value` sets: scalars, atomic lists and empty objects, and each keyed list item
/// itself.
fn leaves(
    merge_key: MergeKey,
    value: &Value,
    field: Option<&str>,
    prefix: &mut Path,
    out: &mut BTreeSet<Path>,
) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                prefix.push(Step::Field(key.clone()));
                leaves(merge_key, child, Some(key), prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) if let Some(key) = field.and_then(merge_key) => {
            for item in items {
                let Some(id) = item.get(key) else {
                    continue;
                };
                prefix.push(Step::Key(json!({key: id}).to_string()));
                out.insert(prefix.clone());
                leaves(merge_key, item, None, prefix, out);
                prefix.pop();
            }
        }
        _ => {
            out.insert(prefix.clone());
        }
    }
}

fn matches_key(item: &Value, key: &str) -> bool {
    let Ok(Value::Object(key)) = serde_json::from_str::<Value>(key) else {
        return false;
    };
    key.iter()
        .all(|(field, value)| item.get(field) == Some(value))
}

fn get<'a>(value: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(value, |value, step| match step {
        Step::Field(field) => value.as_object()?.get(field),
        Step::Key(key) => value.as_array()?.iter().find(|item| matches_key(item, key)),
    })
}

fn remove(value: &mut Value, path: &[Step]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut parent = value;
    for step in parents {
        let next = match (step, parent) {
            (Step::Field(field), Value::Object(map)) => map.get_mut(field),
            (Step::Key(key), Value::Array(items)) => {
                items.iter_mut().find(|item| matches_key(item, key))
            }
            _ => None,
        };
        let Some(next) = next else {
            return;
        };
        parent = next;
    }
    match (last, parent) {
        (Step::Field(field), Value::Object(map)) => {
            map.remove(field);
        }
        (Step::Key(key), Value::Array(items)) => items.retain(|item| !matches_key(item, key)),
        _ => {}
    }
}

/// An apply merged into the object: objects by field, keyed lists by item, the rest replaced.
fn merge(merge_key: MergeKey, field: Option<&str>, target: &mut Value, patch: &Value) {
    if let (Value::Object(target), Value::Object(patch)) = (&mut *target, patch) {
        for (key, value) in patch {
            match target.get_mut(key) {
                Some(existing) => merge(merge_key, Some(key), existing, value),
                None => {
                    target.insert(key.clone(), value.clone());
                }
            }
        }
        return;
    }
    if let (Value::Array(target), Value::Array(patch), Some(key)) =
        (&mut *target, patch, field.and_then(merge_key))
    {
        for item in patch {
            let id = item.get(key);
            match target
                .iter_mut()
                .find(|existing| id.is_some() && existing.get(key) == id)
            {
                Some(existing) => merge(merge_key, None, existing, item),
                None => target.push(item.clone()),
            }
        }
        return;
    }
    *target = patch.clone();
}

fn managed(object: &Value) -> Vec<Managed> {
    let entries = object["metadata"]["managedFields"].as_array();
    entries
        .into_iter()
        .flatten()
        .map(|entry| {
            let mut fields = BTreeSet::new();
            from_fields_v1(&entry["fieldsV1"], &mut Vec::new(), &mut fields);
            let text = |field: &str| entry[field].as_str().unwrap_or_default().to_owned();
            Managed {
                manager: text("manager"),
                operation: text("operation"),
                api_version: text("apiVersion"),
                time: text("time"),
                fields,
            }
        })
        .collect()
}

fn from_fields_v1(fields: &Value, prefix: &mut Path, out: &mut BTreeSet<Path>) {
    let Some(map) = fields.as_object() else {
        return;
    };
    if map.is_empty() && !prefix.is_empty() {
        out.insert(prefix.clone());
    }
    for (entry, child) in map {
        let step = if entry == "." {
            if !prefix.is_empty() {
                out.insert(prefix.clone());
            }
            continue;
        } else if let Some(field) = entry.strip_prefix("f:") {
            Step::Field(field.to_owned())
        } else if let Some(key) = entry.strip_prefix("k:") {
            Step::Key(key.to_owned())
        } else {
            continue;
        };
        prefix.push(step);
        from_fields_v1(child, prefix, out);
        prefix.pop();
    }
}

impl Managed {
    fn to_json(&self) -> Value {
        let mut root = Map::new();
        for path in &self.fields {
            let mut node = &mut root;
            for step in path {
                let entry = match step {
                    Step::Field(field) => format!("f:{field}"),
                    Step::Key(key) => format!("k:{key}"),
                };
                let child = node.entry(entry).or_insert_with(|| json!({}));
                if !child.is_object() {
                    *child = json!({});
                }
                let Value::Object(child) = child else {
                    unreachable!("made an object just above");
                };
                node = child;
            }
            if matches!(path.last(), Some(Step::Key(_))) {
                node.insert(".".to_owned(), json!({}));
            }
        }
        let mut entry = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": root,
        });
        // An entry a test wrote without a time stays without one (`""` is no timestamp).
        if !self.time.is_empty() {
            entry["time"] = json!(self.time);
        }
        entry
    }
}

/// `.spec.template.spec.containers[name="app"].readinessProbe`, as the server names fields.
fn display(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Field(field) => {
                out.push('.');
                out.push_str(field);
            }
            Step::Key(key) => {
                let pairs: Vec<String> = serde_json::from_str::<Map<String, Value>>(key)
                    .map(|key| key.iter().map(|(k, v)| format!("{k}={v}")).collect())
                    .unwrap_or_default();
                out.push_str(&format!("[{}]", pairs.join(",")));
            }
        }
    }
    out
}

/// 409 as the real server words it: `Apply failed with 1 conflict: conflict with "kubectl"
/// using apps/v1: .spec.replicas`, with one cause per field.
fn conflict(info: &Resource, name: &str, conflicts: &[(String, Path)]) -> ApiError {
    let described: Vec<String> = conflicts
        .iter()
        .map(|(manager, path)| {
            format!(
                "conflict with \"{manager}\" using {}: {}",
                info.api_version,
                display(path)
            )
        })
        .collect();
    let count = conflicts.len();
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(manager, path)| {
            json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with \"{manager}\" using {}", info.api_version),
                "field": display(path),
            })
        })
        .collect();
    ApiError {
        code: 409,
        reason: "Conflict",
        message: format!(
            "Apply failed with {count} conflict{}: {}",
            if count == 1 { "" } else { "s" },
            described.join("; ")
        ),
        details: Some(json!({
            "name": name, "group": info.group, "kind": info.plural, "causes": causes
        })),
    }
}
