//! What each write verb asks of the store: replace (PUT) and the patch flavours,
//! on an object or on its `/status`. These are the API server's rules for request bodies;
//! `store.rs` then applies its own (system fields, generation, no-op writes).

use axum::body::Bytes;
use serde_json::Value;

pub use super::apply::Applier;
use super::apply::apply;
use super::json::{Object, merge_patch, meta_mut, meta_str};
use super::json_patch;
use super::resources::{RESOURCES, Resource};
use super::status::{ApiError, ApiResult};
use super::store::{Key, Origin, Store};

/// How a PATCH body is read, from its content type.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PatchType {
    /// Server-side apply (`application/apply-patch+yaml`): with field ownership where the
    /// resource has it (`apply.rs`), elsewhere a deep merge of the applied object: objects
    /// merge, arrays and scalars replace.
    Apply,
    /// RFC 7386 merge patch; strategic merge patches are read the same way.
    Merge,
    /// RFC 6902 JSON patch.
    Json,
}

impl PatchType {
    pub fn from_content_type(content_type: Option<&str>) -> ApiResult<Self> {
        let essence = content_type
            .and_then(|c| c.split(';').next())
            .map(str::trim)
            .unwrap_or("");
        match essence {
            "application/apply-patch+yaml" => Ok(PatchType::Apply),
            "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                Ok(PatchType::Merge)
            }
            "application/json-patch+json" => Ok(PatchType::Json),
            other => Err(ApiError::new(
                415,
                format!(
                    "the body of the request was in an unknown format ({other:?}) - accepted media \
                     types include: application/json-patch+json, application/merge-patch+json, \
                     application/apply-patch+yaml"
                ),
            )),
        }
    }
}

/// A request body: a JSON object whose `apiVersion` and `kind`, if given, are the resource's.
pub fn parse_body(resource: &Resource, body: &[u8]) -> ApiResult<Object> {
    let Value::Object(object) = parse_json(body)? else {
        return Err(ApiError::bad_request("the body is not a JSON object"));
    };
    if let Some(api_version) = object.get("apiVersion").and_then(Value::as_str)
        && api_version != resource.api_version
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version \
             ({})",
            resource.api_version
        )));
    }
    if let Some(kind) = object.get("kind").and_then(Value::as_str)
        && kind != resource.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            resource.kind
        )));
    }
    Ok(object)
}

fn parse_json(body: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("invalid JSON in the body: {error}")))
}

/// PUT: replaces the object (or, on `/status`, its status), if the body's resourceVersion, when
/// given, is still the stored one.
pub fn replace(
    store: &mut Store,
    resource: usize,
    key: &Key,
    body: Object,
    status: bool,
) -> ApiResult<Bytes> {
    let info = &RESOURCES[resource];
    check_identity(info, key, &body)?;
    store.update(resource, key, |old| {
        check_resource_version(info, key, old, &body)?;
        Ok(scoped(info, old, body, status))
    })
}

/// PATCH; returns the stored object and whether an apply created it. `applier` is the apply's
/// field manager and `force`.
pub fn patch(
    store: &mut Store,
    resource: usize,
    key: &Key,
    patch_type: PatchType,
    body: &[u8],
    status: bool,
    applier: &Applier,
) -> ApiResult<(Bytes, bool)> {
    if patch_type == PatchType::Json {
        let operations = parse_json(body)?;
        return Ok((
            json_patch(store, resource, key, &operations, status)?,
            false,
        ));
    }
    let info = &RESOURCES[resource];
    let patch = parse_body(info, body)?;
    check_identity(info, key, &patch)?;
    if patch_type == PatchType::Apply {
        if !patch.contains_key("apiVersion") || !patch.contains_key("kind") {
            return Err(ApiError::bad_request(
                "an apply patch must set apiVersion and kind",
            ));
        }
        if info.field_ownership && !status {
            return owned_apply(store, resource, key, patch, applier);
        }
        if store.get(resource, key).is_none() && !status {
            // Apply creates what is missing; the name comes from the URL.
            let mut object = patch;
            meta_mut(&mut object).insert("name".into(), key.1.clone().into());
            let namespace = info.namespaced.then_some(key.0.as_str());
            return Ok((
                store.create(resource, namespace, object, Origin::Api)?,
                true,
            ));
        }
    }
    let stored = store.update(resource, key, |old| {
        check_resource_version(info, key, old, &patch)?;
        let candidate = if patch_type == PatchType::Apply && status {
            // The applied status is all of it: conditions left out disappear.
            patch
        } else {
            let mut merged = Value::Object(old.clone());
            merge_patch(&mut merged, &Value::Object(patch));
            match merged {
                Value::Object(merged) => merged,
                _ => old.clone(),
            }
        };
        Ok(scoped(info, old, candidate, status))
    })?;
    Ok((stored, false))
}

/// Server-side apply on a resource with field ownership: creates or updates the object with
/// `managedFields`, or refuses a conflicting change.
fn owned_apply(
    store: &mut Store,
    resource: usize,
    key: &Key,
    patch: Object,
    applier: &Applier,
) -> ApiResult<(Bytes, bool)> {
    let info = &RESOURCES[resource];
    if store.get(resource, key).is_none() {
        let mut object = apply(info, &key.1, None, patch, applier)?;
        meta_mut(&mut object).insert("name".into(), key.1.clone().into());
        let namespace = info.namespaced.then_some(key.0.as_str());
        return Ok((
            store.create(resource, namespace, object, Origin::Api)?,
            true,
        ));
    }
    let stored = store.update(resource, key, |old| {
        check_resource_version(info, key, old, &patch)?;
        let candidate = apply(info, &key.1, Some(old), patch, applier)?;
        Ok(scoped(info, old, candidate, false))
    })?;
    Ok((stored, false))
}

/// Applies RFC 6902 operations to a copy of the object; a failed operation (a `test` that no
/// longer holds, a missing path) is 422 Invalid and changes nothing.
fn json_patch(
    store: &mut Store,
    resource: usize,
    key: &Key,
    operations: &Value,
    status: bool,
) -> ApiResult<Bytes> {
    let info = &RESOURCES[resource];
    store.update(resource, key, |old| {
        let mut patched = Value::Object(old.clone());
        json_patch::apply(&mut patched, operations)
            .map_err(|message| ApiError::new(422, message))?;
        let Value::Object(patched) = patched else {
            return Err(ApiError::new(
                422,
                "the patch made the object something else",
            ));
        };
        check_identity(info, key, &patched)?;
        check_resource_version(info, key, old, &patched)?;
        Ok(scoped(info, old, patched, status))
    })
}

/// The part of `candidate` a write may change: on `/status` only the status; on an object with
/// a status subresource everything but the status.
fn scoped(info: &Resource, old: &Object, mut candidate: Object, status: bool) -> Object {
    let keep_from = |source: Option<&Value>, target: &mut Object| match source {
        Some(value) => {
            target.insert("status".into(), value.clone());
        }
        None => {
            target.remove("status");
        }
    };
    if status {
        let mut new = old.clone();
        keep_from(candidate.get("status"), &mut new);
        new
    } else {
        if info.status_subresource {
            keep_from(old.get("status"), &mut candidate);
        }
        candidate
    }
}

/// A body naming another object than the URL is refused.
fn check_identity(info: &Resource, key: &Key, body: &Object) -> ApiResult<()> {
    if let Some(name) = meta_str(body, "name")
        && name != key.1
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({name}) does not match the name on the URL ({})",
            key.1
        )));
    }
    if info.namespaced
        && let Some(namespace) = meta_str(body, "namespace")
        && namespace != key.0
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the \
             request",
        ));
    }
    Ok(())
}

/// Optimistic concurrency: a body carrying a resourceVersion writes only over that version.
fn check_resource_version(
    info: &Resource,
    key: &Key,
    old: &Object,
    body: &Object,
) -> ApiResult<()> {
    match meta_str(body, "resourceVersion").filter(|rv| !rv.is_empty()) {
        Some(expected) if Some(expected) != meta_str(old, "resourceVersion") => {
            Err(ApiError::conflict(info, &key.1))
        }
        _ => Ok(()),
    }
}
