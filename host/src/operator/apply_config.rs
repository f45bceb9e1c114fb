//! Sparse server-side apply configurations for enforce mode: only the fields a plan adds to a
//! workload's template ([`added`]), on top of the fields the enforcer already owns ([`owned`],
//! read from `managedFields`), so that an apply claims nothing it did not set and drops nothing
//! it set before. Pure functions over JSON; [`super::remediate`] sends the result.
//!
//! Lists are merged as the API server merges them for the pod template: `containers` and the
//! other lists with a merge key by that key, every other list whole (`capabilities.drop` is
//! `listType=atomic` in `k8s.io/api`).

use std::fmt::Write as _;

use serde_json::{Map, Value};

use kube_devops_engine::remedy::Operation;

/// The merge key of the pod template's associative lists; other lists are atomic.
pub fn merge_key(field: &str) -> Option<&'static str> {
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

/// What turns `before` into `after` as an apply configuration: the added and changed fields,
/// list items by their merge key (with the key), atomic lists whole. `Err` names a field or
/// item `after` lacks: an apply cannot remove what another manager owns, so the enforcer never
/// asks for it.
pub fn added(before: &Value, after: &Value) -> Result<Option<Value>, String> {
    added_at(None, Some(before), after, &mut String::new())
}

fn added_at(
    field: Option<&str>,
    before: Option<&Value>,
    after: &Value,
    path: &mut String,
) -> Result<Option<Value>, String> {
    match (before, after) {
        (Some(before), after) if before == after => Ok(None),
        (Some(Value::Object(before)), Value::Object(after)) => {
            if let Some(gone) = before.keys().find(|key| !after.contains_key(*key)) {
                return Err(format!("{path}.{gone}"));
            }
            let mut out = Map::new();
            for (key, value) in after {
                let len = path.len();
                let _ = write!(path, ".{key}");
                if let Some(part) = added_at(Some(key), before.get(key), value, path)? {
                    out.insert(key.clone(), part);
                }
                path.truncate(len);
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        (Some(Value::Array(before)), Value::Array(after))
            if let Some(key) = field.and_then(merge_key) =>
        {
            let id = |item: &Value| item.get(key).cloned();
            if let Some(gone) = before
                .iter()
                .find(|old| !after.iter().any(|new| id(new) == id(old)))
            {
                return Err(format!("{path}[{key}={}]", id(gone).unwrap_or_default()));
            }
            let mut out = Vec::new();
            for item in after {
                let old = id(item)
                    .and_then(|value| before.iter().find(|old| old.get(key) == Some(&value)));
                match (old, id(item)) {
                    (Some(old), Some(value)) => {
                        let len = path.len();
                        let _ = write!(path, "[{key}={value}]");
                        let part = added_at(None, Some(old), item, path)?;
                        path.truncate(len);
                        if let Some(mut part) = part {
                            if let Value::Object(part) = &mut part {
                                part.insert(key.to_owned(), value);
                            }
                            out.push(part);
                        }
                    }
                    _ => out.push(item.clone()),
                }
            }
            Ok((!out.is_empty()).then_some(Value::Array(out)))
        }
        // A new field, a changed scalar, an atomic list.
        (_, after) => Ok(Some(after.clone())),
    }
}

/// The part of `live` that `fields` (a `managedFields` entry's `fieldsV1`) says its manager
/// owns, as an apply configuration: re-applied, it keeps those fields as they are.
pub fn owned(live: &Value, fields: &Value) -> Value {
    let Value::Object(fields) = fields else {
        return live.clone();
    };
    // `{}`: the value itself is owned, whole.
    if fields.is_empty() {
        return live.clone();
    }
    let children = fields.iter().filter(|(entry, _)| *entry != ".");
    match live {
        Value::Object(map) => {
            let mut out = Map::new();
            for (entry, sub) in children {
                if let Some(name) = entry.strip_prefix("f:")
                    && let Some(value) = map.get(name)
                {
                    out.insert(name.to_owned(), owned(value, sub));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let mut out = Vec::new();
            for (entry, sub) in children {
                if let Some(key) = entry.strip_prefix("k:") {
                    let Ok(Value::Object(key)) = serde_json::from_str::<Value>(key) else {
                        continue;
                    };
                    let matches = |item: &&Value| {
                        key.iter()
                            .all(|(name, value)| item.get(name) == Some(value))
                    };
                    if let Some(item) = items.iter().find(matches) {
                        let mut part = owned(item, sub);
                        if let Value::Object(part) = &mut part {
                            part.extend(key.clone());
                        }
                        out.push(part);
                    }
                } else if let Some(value) = entry.strip_prefix("v:")
                    && let Ok(value) = serde_json::from_str::<Value>(value)
                    && items.contains(&value)
                {
                    out.push(value);
                }
            }
            Value::Array(out)
        }
        scalar => scalar.clone(),
    }
}

/// Merges `over` into `base` as the API server merges an apply: objects field by field, lists
/// with a merge key item by item, anything else replaced.
pub fn merge(base: &mut Value, over: &Value) {
    merge_at(None, base, over);
}

fn merge_at(field: Option<&str>, base: &mut Value, over: &Value) {
    if let (Value::Object(base), Value::Object(over)) = (&mut *base, over) {
        for (key, value) in over {
            match base.get_mut(key) {
                Some(existing) => merge_at(Some(key), existing, value),
                None => {
                    base.insert(key.clone(), value.clone());
                }
            }
        }
        return;
    }
    if let (Value::Array(base), Value::Array(over), Some(key)) =
        (&mut *base, over, field.and_then(merge_key))
    {
        for item in over {
            let id = item.get(key);
            match base
                .iter_mut()
                .find(|existing| id.is_some() && existing.get(key) == id)
            {
                Some(existing) => merge_at(None, existing, item),
                None => base.push(item.clone()),
            }
        }
        return;
    }
    *base = over.clone();
}

/// `operations` applied in order to a copy of `object`: a plan's operations mean the same in
/// order as each on the original (their parents exist, lists grow by appends). `None` if one
/// does not apply, which a plan never produces.
pub fn patched(object: &Value, operations: &[Operation]) -> Option<Value> {
    let mut object = object.clone();
    for operation in operations {
        let path = operation.path();
        let (parent, last) = path.rsplit_once('/')?;
        let last = last.replace("~1", "/").replace("~0", "~");
        let target = if parent.is_empty() {
            &mut object
        } else {
            object.pointer_mut(parent)?
        };
        match (target, operation.value()) {
            (Value::Object(map), Some(value)) => {
                map.insert(last, value.clone());
            }
            (Value::Object(map), None) => {
                map.remove(&last);
            }
            (Value::Array(items), value) => {
                let at = if last == "-" {
                    items.len()
                } else {
                    last.parse().ok()?
                };
                match (operation, value) {
                    (Operation::Add { .. }, Some(value)) if at <= items.len() => {
                        items.insert(at, value.clone());
                    }
                    (Operation::Replace { .. }, Some(value)) if at < items.len() => {
                        items[at] = value.clone();
                    }
                    (Operation::Remove { .. }, None) if at < items.len() => {
                        items.remove(at);
                    }
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
    Some(object)
}

/// sha256 of `value`'s JSON with object keys sorted, so equal templates hash equal whatever
/// order the server sent their fields in.
pub fn digest(value: &Value) -> String {
    let mut text = String::new();
    canonical(value, &mut text);
    kube_devops_engine::wasm::sha256_hex(text.as_bytes())
}

fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The fields `operations` (a plan on a workload whose template is at `/spec/template`) add,
/// for people: `containers[app].readinessProbe`, `securityContext`.
pub fn describe(workload: &Value, operations: &[Operation]) -> Vec<String> {
    let mut described: Vec<String> = operations
        .iter()
        .filter_map(|operation| {
            let rest = operation.path().strip_prefix("/spec/template/")?;
            let mut tokens = rest.split('/').peekable();
            let mut out = String::new();
            let mut at = workload.pointer("/spec/template");
            while let Some(token) = tokens.next() {
                let token = token.replace("~1", "/").replace("~0", "~");
                // An append names the list.
                if token == "-" {
                    continue;
                }
                let next = at.and_then(|value| value.get(&token));
                if token == "spec" && out.is_empty() {
                    at = next;
                    continue;
                }
                if let (Some(key), Some(Value::Array(items))) = (merge_key(&token), next)
                    && let Some(index) = tokens.peek().and_then(|index| index.parse::<usize>().ok())
                {
                    tokens.next();
                    let item = items.get(index);
                    let id = item
                        .and_then(|item| item.get(key))
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    push_field(&mut out, &format!("{token}[{id}]"));
                    at = item;
                    continue;
                }
                push_field(&mut out, &token);
                at = next;
            }
            Some(out)
        })
        .collect();
    described.dedup();
    described
}

fn push_field(out: &mut String, field: &str) {
    if !out.is_empty() {
        out.push('.');
    }
    out.push_str(field);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn template() -> Value {
        json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [
                {"name": "web", "image": "nginx", "securityContext": {"capabilities": {"drop": ["NET_RAW"]}}},
                {"name": "sidecar", "image": "envoy"}
            ]}
        })
    }

    #[test]
    fn only_what_changed_is_applied_with_list_items_named_by_their_key() {
        let before = template();
        let mut after = before.clone();
        after["spec"]["containers"][1]["readinessProbe"] = json!({"tcpSocket": {"port": 80}});
        after["spec"]["containers"][0]["securityContext"]["capabilities"]["drop"] =
            json!(["NET_RAW", "ALL"]);
        after["spec"]["securityContext"] = json!({"seccompProfile": {"type": "RuntimeDefault"}});
        let config = added(&before, &after).unwrap().unwrap();
        assert_eq!(
            config,
            json!({"spec": {
                "containers": [
                    {"name": "web", "securityContext": {"capabilities": {"drop": ["NET_RAW", "ALL"]}}},
                    {"name": "sidecar", "readinessProbe": {"tcpSocket": {"port": 80}}}
                ],
                "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}
            }})
        );
        assert_eq!(added(&before, &before).unwrap(), None);
    }

    #[test]
    fn a_removal_cannot_be_applied() {
        let before = template();
        let mut after = before.clone();
        after["metadata"]["labels"] = json!({});
        assert_eq!(added(&before, &after).unwrap_err(), ".metadata.labels.app");
        let mut after = before.clone();
        after["spec"]["containers"].as_array_mut().unwrap().pop();
        assert!(added(&before, &after).unwrap_err().contains("sidecar"));
    }

    #[test]
    fn owned_fields_are_read_back_from_managed_fields() {
        let live = json!({
            "metadata": {"name": "web", "annotations": {"mine": "1", "theirs": "2"}},
            "spec": {"template": {"spec": {"containers": [
                {"name": "web", "image": "nginx", "readinessProbe": {"tcpSocket": {"port": 80}},
                 "securityContext": {"allowPrivilegeEscalation": true}}
            ]}}}
        });
        let fields = json!({
            "f:metadata": {"f:annotations": {"f:mine": {}}},
            "f:spec": {"f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"web\"}": {".": {}, "f:name": {}, "f:readinessProbe": {}}
            }}}}
        });
        assert_eq!(
            owned(&live, &fields),
            json!({
                "metadata": {"annotations": {"mine": "1"}},
                "spec": {"template": {"spec": {"containers": [
                    {"name": "web", "readinessProbe": {"tcpSocket": {"port": 80}}}
                ]}}}
            })
        );
    }

    #[test]
    fn merging_keeps_list_items_apart_by_key() {
        let mut base = json!({"spec": {"containers": [{"name": "a", "x": 1}], "drop": ["A"]}});
        merge(
            &mut base,
            &json!({"spec": {"containers": [{"name": "b", "y": 2}, {"name": "a", "z": 3}], "drop": ["B"]}}),
        );
        assert_eq!(
            base,
            json!({"spec": {"containers": [{"name": "a", "x": 1, "z": 3}, {"name": "b", "y": 2}], "drop": ["B"]}})
        );
    }

    #[test]
    fn operations_apply_in_order_and_fields_are_named_for_people() {
        let workload = json!({"spec": {"template": template()}});
        let operations = vec![
            Operation::Add {
                path: "/spec/template/spec/containers/1/livenessProbe".into(),
                value: json!({"tcpSocket": {"port": 80}}),
            },
            Operation::Add {
                path: "/spec/template/spec/containers/0/securityContext/capabilities/drop/-".into(),
                value: json!("ALL"),
            },
            Operation::Add {
                path: "/spec/template/spec/securityContext".into(),
                value: json!({}),
            },
        ];
        let after = patched(&workload, &operations).unwrap();
        let containers = &after["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[1]["livenessProbe"]["tcpSocket"]["port"], 80);
        assert_eq!(
            containers[0]["securityContext"]["capabilities"]["drop"],
            json!(["NET_RAW", "ALL"])
        );
        assert_eq!(
            describe(&workload, &operations),
            [
                "containers[sidecar].livenessProbe",
                "containers[web].securityContext.capabilities.drop",
                "securityContext"
            ]
        );
    }

    #[test]
    fn the_digest_ignores_key_order() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":{"c":[1,{"d":2,"e":3}]}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b":{"c":[1,{"e":3,"d":2}]},"a":1}"#).unwrap();
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&json!({"a": 2})));
        assert_eq!(digest(&a).len(), 64);
    }
}
