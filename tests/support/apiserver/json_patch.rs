//! RFC 6902 JSON patches (`application/json-patch+json`), all six operations, as kube-runtime's
//! finalizer helper sends them (a `test` then an `add` or `remove` on
//! `/metadata/finalizers`). Like the real server, `test` treats a missing path as `null`.

use serde_json::Value;

/// Applies `patch` (an array of operations) to `target`, all or nothing for the caller, who
/// works on a copy. The error says which operation failed.
pub fn apply(target: &mut Value, patch: &Value) -> Result<(), String> {
    let operations = patch
        .as_array()
        .ok_or("a JSON patch is an array of operations")?;
    operations
        .iter()
        .try_for_each(|operation| apply_one(target, operation))
}

fn apply_one(target: &mut Value, operation: &Value) -> Result<(), String> {
    let op = operation["op"]
        .as_str()
        .ok_or("a JSON patch operation without \"op\"")?;
    let path_text = operation["path"]
        .as_str()
        .ok_or("a JSON patch operation without \"path\"")?;
    let path = pointer(path_text)?;
    let value = || {
        operation
            .get("value")
            .cloned()
            .ok_or_else(|| format!("{op} {path_text}: no \"value\""))
    };
    let from = || {
        operation["from"]
            .as_str()
            .ok_or_else(|| format!("{op} {path_text}: no \"from\""))
            .and_then(pointer)
    };
    let missing = || format!("{op} {path_text}: no such path");
    match op {
        "add" => add(target, &path, value()?),
        "remove" => remove(target, &path).map(drop).ok_or_else(missing),
        "replace" => {
            remove(target, &path).ok_or_else(missing)?;
            add(target, &path, value()?)
        }
        "move" => {
            let moved = remove(target, &from()?).ok_or_else(missing)?;
            add(target, &path, moved)
        }
        "copy" => {
            let copied = get(target, &from()?).cloned().ok_or_else(missing)?;
            add(target, &path, copied)
        }
        "test" => {
            let actual = get(target, &path).unwrap_or(&Value::Null);
            if *actual == value()? {
                Ok(())
            } else {
                Err(format!("testing value {path_text} failed"))
            }
        }
        other => Err(format!("unknown JSON patch operation {other:?}")),
    }
}

/// A JSON pointer's reference tokens (`~1` is `/`, `~0` is `~`); `""` is the whole document.
fn pointer(text: &str) -> Result<Vec<String>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = text.strip_prefix('/') else {
        return Err(format!("invalid JSON pointer {text:?}"));
    };
    Ok(rest
        .split('/')
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn get<'a>(target: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(target, |value, token| match value {
        Value::Object(object) => object.get(token),
        Value::Array(items) => items.get(token.parse::<usize>().ok()?),
        _ => None,
    })
}

fn get_mut<'a>(target: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(target, |value, token| match value {
        Value::Object(object) => object.get_mut(token),
        Value::Array(items) => items.get_mut(token.parse::<usize>().ok()?),
        _ => None,
    })
}

/// Adds `value` at `path`: sets an object member, or inserts into an array (`-` appends).
fn add(target: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    let Some((last, parent_path)) = path.split_last() else {
        *target = value;
        return Ok(());
    };
    let failed = || format!("add /{}: no such path", path.join("/"));
    match get_mut(target, parent_path).ok_or_else(failed)? {
        Value::Object(object) => {
            object.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            let index = match last.as_str() {
                "-" => items.len(),
                index => index
                    .parse::<usize>()
                    .ok()
                    .filter(|&i| i <= items.len())
                    .ok_or_else(failed)?,
            };
            items.insert(index, value);
            Ok(())
        }
        _ => Err(failed()),
    }
}

/// Removes and returns what is at `path`, if anything is.
fn remove(target: &mut Value, path: &[String]) -> Option<Value> {
    let (last, parent_path) = path.split_last()?;
    match get_mut(target, parent_path)? {
        Value::Object(object) => object.remove(last),
        Value::Array(items) => {
            let index = last.parse::<usize>().ok().filter(|&i| i < items.len())?;
            Some(items.remove(index))
        }
        _ => None,
    }
}
