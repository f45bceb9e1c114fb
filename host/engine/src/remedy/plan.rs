//! One object's fixes merged into one JSON Patch: each finding's fix is placed where the pod
//! lives in the object, applied whole or not at all, and dropped with a reason when it would
//! undo what another finding's fix set.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Fix, Operation, escape, tokens};

/// A finding's fix left out of a plan, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dropped {
    pub check: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub reason: String,
}

/// The fixes of one object's findings, merged.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The object's JSON Patch. Every path is relative to the object as it was and its parent
    /// exists there; an array grows only by appends (`/-`) and shrinks from its end, so the
    /// operations mean the same applied in order (the webhook's patch) or each on the original
    /// (`kube-devops fix` editing the file in place).
    pub operations: Vec<Operation>,
    /// The findings whose fixes it holds: check and container.
    pub fixed: Vec<(String, Option<String>)>,
    pub dropped: Vec<Dropped>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }
}

/// Merges `fixes` (check, container, fix relative to the pod) on `object`, whose pod is at the
/// JSON Pointer `pod_at` (empty for a Pod).
pub fn plan<'a>(
    object: &Value,
    pod_at: &str,
    fixes: impl IntoIterator<Item = (&'a str, Option<&'a str>, &'a Fix)>,
) -> Plan {
    let mut working = object.clone();
    // Paths a fix set, so a later fix that would change them again is caught.
    let mut claimed: Vec<(String, String)> = Vec::new();
    let mut plan = Plan::default();
    for (check, container, fix) in fixes {
        let mut scratch = working.clone();
        let mut set = Vec::new();
        let outcome = fix.iter().try_for_each(|operation| {
            let operation = operation.under(pod_at);
            apply(&mut scratch, &operation, &claimed, &mut set)
        });
        match outcome {
            Ok(()) => {
                working = scratch;
                claimed.extend(set.into_iter().map(|path| (path, check.to_owned())));
                plan.fixed
                    .push((check.to_owned(), container.map(str::to_owned)));
            }
            Err(reason) => plan.dropped.push(Dropped {
                check: check.to_owned(),
                container: container.map(str::to_owned),
                reason,
            }),
        }
    }
    diff(object, &working, &mut String::new(), &mut plan.operations);
    plan
}

/// Applies one operation to `doc`, creating missing parent objects for `add`; `Err` says why
/// the fix it belongs to cannot be applied.
fn apply(
    doc: &mut Value,
    operation: &Operation,
    claimed: &[(String, String)],
    set: &mut Vec<String>,
) -> Result<(), String> {
    let path = operation.path();
    let tokens: Vec<String> = tokens(path).collect();
    let Some((last, parents)) = tokens.split_last() else {
        return Err("a fix cannot replace the whole object".to_owned());
    };
    let mut parent = &mut *doc;
    for (depth, token) in parents.iter().enumerate() {
        let creating = matches!(operation, Operation::Add { .. });
        parent = match parent {
            Value::Object(map) => {
                if creating && !map.contains_key(token) {
                    // A list is made for an append (`.../drop/-`), an object for anything else.
                    let next = tokens.get(depth + 1).unwrap_or(last);
                    let empty = if next == "-" {
                        Value::Array(Vec::new())
                    } else {
                        Value::Object(Map::new())
                    };
                    map.insert(token.clone(), empty);
                }
                map.get_mut(token).ok_or_else(|| {
                    format!("`{path}`: the object has no `{}`", prefix(&tokens, depth))
                })?
            }
            Value::Array(items) => {
                let index = index(token, items.len())
                    .filter(|index| *index < items.len())
                    .ok_or_else(|| {
                        format!("`{path}`: the object has no `{}`", prefix(&tokens, depth))
                    })?;
                &mut items[index]
            }
            _ => {
                return Err(format!(
                    "`{path}`: `{}` is not an object or a list",
                    prefix(&tokens, depth.saturating_sub(1))
                ));
            }
        };
    }
    let value = operation.value().cloned();
    match (parent, operation) {
        (Value::Array(items), Operation::Add { .. }) if last == "-" => {
            let value = value.unwrap_or(Value::Null);
            // Two findings asking for the same item (`drop: [ALL]`) add it once.
            if !items.contains(&value) {
                items.push(value);
                set.push(format!("{}/{}", parent_path(path), items.len() - 1));
            }
            Ok(())
        }
        (Value::Array(items), _) => {
            let found = index(last, items.len() + 1)
                .ok_or_else(|| format!("`{path}`: `{last}` is not an index of the list"))?;
            match operation {
                Operation::Add { .. } if found <= items.len() => {
                    items.insert(found, value.unwrap_or(Value::Null));
                    set.push(path.to_owned());
                    Ok(())
                }
                _ if found < items.len() => {
                    overwrite(&mut items[found], path, value, claimed, set)?;
                    if value_removed(operation) {
                        items.remove(found);
                    }
                    Ok(())
                }
                _ => Err(format!("`{path}`: the list has no item {found}")),
            }
        }
        (Value::Object(map), operation) => match map.get_mut(last) {
            Some(current) => {
                overwrite(current, path, value, claimed, set)?;
                if value_removed(operation) {
                    map.remove(last);
                }
                Ok(())
            }
            None if matches!(operation, Operation::Add { .. }) => {
                map.insert(last.clone(), value.unwrap_or(Value::Null));
                set.push(path.to_owned());
                Ok(())
            }
            // Removing what is not there leaves the object as the fix wants it.
            None if value_removed(operation) => Ok(()),
            None => Err(format!("`{path}`: nothing to replace")),
        },
        _ => Err(format!("`{path}`: its parent is not an object or a list")),
    }
}

fn value_removed(operation: &Operation) -> bool {
    matches!(operation, Operation::Remove { .. })
}

/// Sets (or, with `None`, clears) a value that exists, unless another fix set it or something
/// inside or around it to something else.
fn overwrite(
    current: &mut Value,
    path: &str,
    value: Option<Value>,
    claimed: &[(String, String)],
    set: &mut Vec<String>,
) -> Result<(), String> {
    if value.as_ref() == Some(current) {
        return Ok(());
    }
    let overlaps = |other: &str| {
        other == path
            || other
                .strip_prefix(path)
                .is_some_and(|rest| rest.starts_with('/'))
            || path
                .strip_prefix(other)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    if let Some((other, check)) = claimed.iter().find(|(other, _)| overlaps(other)) {
        return Err(format!(
            "conflicts with the fix of check `{check}`, which sets `{other}`"
        ));
    }
    if let Some(value) = value {
        *current = value;
    }
    set.push(path.to_owned());
    Ok(())
}

/// An array index token (`-` is one past the end).
fn index(token: &str, len: usize) -> Option<usize> {
    if token == "-" {
        return Some(len);
    }
    // RFC 6901: no leading zeros, no sign.
    if token.is_empty() || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

fn prefix(tokens: &[String], depth: usize) -> String {
    tokens[..=depth.min(tokens.len().saturating_sub(1))]
        .iter()
        .map(|token| format!("/{}", escape(token)))
        .collect()
}

fn parent_path(path: &str) -> &str {
    path.rfind('/').map_or("", |at| &path[..at])
}

/// The operations that turn `left` into `right`, each relative to `left` (see
/// [`Plan::operations`]).
fn diff(left: &Value, right: &Value, path: &mut String, out: &mut Vec<Operation>) {
    match (left, right) {
        (Value::Object(left), Value::Object(right)) => {
            for (key, value) in right {
                let len = path.len();
                path.push('/');
                path.push_str(&escape(key));
                match left.get(key) {
                    Some(old) => diff(old, value, path, out),
                    None => out.push(Operation::Add {
                        path: path.clone(),
                        value: value.clone(),
                    }),
                }
                path.truncate(len);
            }
            for key in left.keys().filter(|key| !right.contains_key(*key)) {
                out.push(Operation::Remove {
                    path: format!("{path}/{}", escape(key)),
                });
            }
        }
        (Value::Array(left), Value::Array(right)) => {
            for (index, (old, new)) in left.iter().zip(right).enumerate() {
                let len = path.len();
                path.push_str(&format!("/{index}"));
                diff(old, new, path, out);
                path.truncate(len);
            }
            for value in right.iter().skip(left.len()) {
                out.push(Operation::Add {
                    path: format!("{path}/-"),
                    value: value.clone(),
                });
            }
            // From the end, so that in-order application removes the same items.
            for index in (right.len()..left.len()).rev() {
                out.push(Operation::Remove {
                    path: format!("{path}/{index}"),
                });
            }
        }
        _ if left == right => {}
        _ => out.push(Operation::Replace {
            path: path.clone(),
            value: right.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn add(path: &str, value: Value) -> Operation {
        Operation::Add {
            path: path.to_owned(),
            value,
        }
    }

    fn deployment() -> Value {
        json!({
            "kind": "Deployment",
            "spec": {"template": {"spec": {"containers": [
                {"name": "web", "image": "nginx:1.27", "securityContext": {"capabilities": {"drop": ["NET_RAW"]}}}
            ]}}}
        })
    }

    /// Applies a plan's operations in order, as the API server applies a webhook's patch.
    fn applied(object: &Value, plan: &Plan) -> Value {
        let patch: json_patch::Patch =
            serde_json::from_value(serde_json::to_value(&plan.operations).unwrap()).unwrap();
        let mut object = object.clone();
        json_patch::patch(&mut object, &patch).unwrap();
        object
    }

    #[test]
    fn fixes_land_under_the_template_and_create_missing_parents() {
        let object = deployment();
        let probe: Fix = Arc::from(vec![add(
            "/spec/containers/0/readinessProbe",
            json!({"tcpSocket": {"port": 8080}}),
        )]);
        let escalation: Fix = Arc::from(vec![
            add(
                "/spec/containers/0/securityContext/allowPrivilegeEscalation",
                json!(false),
            ),
            add(
                "/spec/containers/0/securityContext/capabilities/drop/-",
                json!("ALL"),
            ),
            add("/spec/initContainers/-", json!({"name": "made"})),
            add(
                "/spec/securityContext/seccompProfile",
                json!({"type": "RuntimeDefault"}),
            ),
        ]);
        let plan = plan(
            &object,
            "/spec/template",
            [
                ("missing-readiness-probe", Some("web"), &probe),
                ("allow-privilege-escalation", Some("web"), &escalation),
            ],
        );
        assert!(plan.dropped.is_empty(), "{:?}", plan.dropped);
        assert_eq!(plan.fixed.len(), 2);
        let after = applied(&object, &plan);
        let container = &after["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["readinessProbe"]["tcpSocket"]["port"], 8080);
        assert_eq!(
            container["securityContext"]["allowPrivilegeEscalation"],
            false
        );
        assert_eq!(
            container["securityContext"]["capabilities"]["drop"],
            json!(["NET_RAW", "ALL"])
        );
        assert_eq!(
            after["spec"]["template"]["spec"]["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        assert_eq!(
            after["spec"]["template"]["spec"]["initContainers"],
            json!([{"name": "made"}])
        );
        // The pod-level security context did not exist: one add of the whole object.
        assert!(plan.operations.contains(&add(
            "/spec/template/spec/securityContext",
            json!({"seccompProfile": {"type": "RuntimeDefault"}})
        )));
    }

    #[test]
    fn a_fix_undoing_another_is_dropped_whole_and_the_same_item_is_added_once() {
        let object = deployment();
        let first: Fix = Arc::from(vec![
            add("/spec/containers/0/securityContext/runAsUser", json!(1000)),
            add(
                "/spec/containers/0/securityContext/capabilities/drop/-",
                json!("ALL"),
            ),
        ]);
        let second: Fix = Arc::from(vec![
            add(
                "/spec/containers/0/securityContext/capabilities/drop/-",
                json!("ALL"),
            ),
            add("/spec/containers/0/securityContext/runAsUser", json!(0)),
        ]);
        let plan = plan(
            &object,
            "/spec/template",
            [("a", None, &first), ("b", Some("web"), &second)],
        );
        assert_eq!(plan.fixed, [("a".to_owned(), None)]);
        assert_eq!(plan.dropped.len(), 1);
        assert_eq!(plan.dropped[0].check, "b");
        assert!(
            plan.dropped[0]
                .reason
                .contains("conflicts with the fix of check `a`"),
            "{}",
            plan.dropped[0].reason
        );
        let after = applied(&object, &plan);
        let context = &after["spec"]["template"]["spec"]["containers"][0]["securityContext"];
        assert_eq!(context["runAsUser"], 1000);
        assert_eq!(context["capabilities"]["drop"], json!(["NET_RAW", "ALL"]));
    }

    #[test]
    fn a_fix_that_cannot_apply_is_dropped_with_its_reason() {
        let object = deployment();
        let missing: Fix = Arc::from(vec![add("/spec/containers/3/image", json!("x"))]);
        let replace: Fix = Arc::from(vec![Operation::Replace {
            path: "/spec/nodeName".into(),
            value: json!("n"),
        }]);
        let plan = plan(
            &object,
            "/spec/template",
            [("a", None, &missing), ("b", None, &replace)],
        );
        assert!(plan.is_empty());
        assert_eq!(plan.dropped.len(), 2);
        assert!(
            plan.dropped[0].reason.contains("has no"),
            "{:?}",
            plan.dropped
        );
        assert!(
            plan.dropped[1].reason.contains("nothing to replace"),
            "{:?}",
            plan.dropped
        );
    }

    #[test]
    fn the_diff_is_relative_to_the_original_and_ordered_for_in_order_application() {
        let left = json!({"a": [1, 2, 3, 4], "b": {"c": 1, "gone": true}});
        let right = json!({"a": [1, 9], "b": {"c": 1, "new": {"d": 2}}, "e": []});
        let mut operations = Vec::new();
        diff(&left, &right, &mut String::new(), &mut operations);
        let patch: json_patch::Patch =
            serde_json::from_value(serde_json::to_value(&operations).unwrap()).unwrap();
        let mut patched = left.clone();
        json_patch::patch(&mut patched, &patch).unwrap();
        assert_eq!(patched, right);
        assert!(operations.contains(&Operation::Remove {
            path: "/a/3".into()
        }));
        assert!(operations.contains(&Operation::Remove {
            path: "/a/2".into()
        }));
    }
}
