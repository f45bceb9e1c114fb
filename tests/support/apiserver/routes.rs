//! The HTTP side: the router, the middleware that logs requests and injects the test's faults,
//! and thin handlers that turn requests into store calls and results into JSON or `Status`
//! answers.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::Cluster;
use super::apply::Applier;
use super::json::typed_json;
use super::resources::{RESOURCES, Route, Target, route};
use super::schema;
use super::selector::Selectors;
use super::status::{ApiError, ApiResult, reason_for, status_response};
use super::store::{Key, Origin, Store};
use super::verbs::{PatchType, parse_body, patch, replace};
use super::watch::{WatchRequest, respond};

pub fn router(cluster: Arc<Cluster>) -> Router {
    Router::new()
        .route("/version", get(version))
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            post(access_review),
        )
        .route("/api", get(core_versions))
        .route("/apis", get(group_list))
        .fallback(resource_request)
        .layer(axum::middleware::from_fn_with_state(
            cluster.clone(),
            record_and_guard,
        ))
        .with_state(cluster)
}

/// Logs every request, then refuses it if the test said so: everything in forbid mode (as the
/// real server's RBAC does), or the next matching requests of `fail_next`.
async fn record_and_guard(
    State(cluster): State<Arc<Cluster>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let uri = request.uri();
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), ToString::to_string);
    let method = request.method().as_str().to_owned();
    cluster
        .lock_requests()
        .push((method.clone(), path_and_query.clone()));
    if cluster.forbid_all.load(Ordering::SeqCst) {
        let message = format!(
            "{} is forbidden: User \"system:serviceaccount:test:tester\" cannot access it",
            uri.path()
        );
        return status_response(StatusCode::FORBIDDEN, "Forbidden", &message);
    }
    if let Some(code) = cluster.take_fault(&method, &path_and_query) {
        let message = format!(
            "the fixture fails this request as the test asked ({code} {})",
            reason_for(code)
        );
        return ApiError::new(code, message).into_response();
    }
    next.run(request).await
}

async fn version() -> axum::Json<Value> {
    axum::Json(json!({
        "major": "1", "minor": "31", "gitVersion": "v1.31.0-fixture", "gitCommit": "0000000",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23",
        "compiler": "gc", "platform": "linux/amd64"
    }))
}

async fn access_review(State(cluster): State<Arc<Cluster>>, body: Bytes) -> Response {
    let Ok(mut review) = serde_json::from_slice::<Value>(&body) else {
        return ApiError::bad_request("invalid JSON in the body").into_response();
    };
    if !review.is_object() {
        return ApiError::bad_request("the body is not a JSON object").into_response();
    }
    let allowed = !cluster.deny_access.load(Ordering::SeqCst);
    review["status"] = if allowed {
        json!({"allowed": true, "reason": "RBAC: allowed by ClusterRoleBinding \"fixture\""})
    } else {
        json!({"allowed": false, "reason": "no RBAC policy matched"})
    };
    (StatusCode::CREATED, axum::Json(review)).into_response()
}

async fn core_versions() -> axum::Json<Value> {
    axum::Json(json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}))
}

/// The groups with at least one installed resource.
async fn group_list(State(cluster): State<Arc<Cluster>>) -> axum::Json<Value> {
    let mut groups: Vec<Value> = Vec::new();
    cluster.read(|store| {
        for (index, info) in RESOURCES.iter().enumerate() {
            let listed = groups.iter().any(|g| g["name"] == info.group);
            if info.group.is_empty() || listed || !store.installed(index) {
                continue;
            }
            let version = json!({"groupVersion": info.api_version, "version": info.version});
            groups.push(json!({
                "name": info.group, "versions": [version], "preferredVersion": version
            }));
        }
    });
    axum::Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
}

/// Every `/api/v1/…` and `/apis/…` path that names a resource (or a group version's resource
/// list); anything else is 404, as is a resource the test marked not installed.
async fn resource_request(
    State(cluster): State<Arc<Cluster>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = match route(uri.path()) {
        Some(Route::Resource(target)) if cluster.read(|s| s.installed(target.resource)) => target,
        Some(Route::Discovery { group, version }) => {
            return resource_list(&cluster, &group, &version).unwrap_or_else(|| not_found(&uri));
        }
        _ => return not_found(&uri),
    };
    let query = match Query::<HashMap<String, String>>::try_from_uri(&uri) {
        Ok(Query(query)) => query,
        Err(rejection) => return ApiError::bad_request(rejection.body_text()).into_response(),
    };
    let request = ResourceRequest {
        cluster,
        target,
        query,
    };
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    request
        .handle(&method, content_type, &body)
        .unwrap_or_else(IntoResponse::into_response)
}

fn not_found(uri: &Uri) -> Response {
    status_response(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!(
            "the server could not find the requested resource ({})",
            uri.path()
        ),
    )
}

/// The APIResourceList of a group version: its installed resources and their status
/// subresources.
fn resource_list(cluster: &Cluster, group: &str, version: &str) -> Option<Response> {
    let resources: Vec<Value> = cluster.read(|store| {
        RESOURCES
            .iter()
            .enumerate()
            .filter(|(index, r)| {
                r.group == group && r.version == version && store.installed(*index)
            })
            .flat_map(|(_, r)| {
                let verbs = json!([
                    "create", "delete", "get", "list", "patch", "update", "watch"
                ]);
                let main = json!({"name": r.plural, "singularName": "", "namespaced": r.namespaced,
                    "kind": r.kind, "verbs": verbs});
                let status = r.status_subresource.then(|| {
                    json!({"name": format!("{}/status", r.plural), "singularName": "",
                        "namespaced": r.namespaced, "kind": r.kind,
                        "verbs": ["get", "patch", "update"]})
                });
                std::iter::once(main).chain(status)
            })
            .collect()
    });
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    let list = json!({"kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": group_version, "resources": resources});
    Some(axum::Json(list).into_response())
}

/// A request to a collection, an object or an object's status.
struct ResourceRequest {
    cluster: Arc<Cluster>,
    target: Target,
    query: HashMap<String, String>,
}

impl ResourceRequest {
    fn handle(
        self,
        method: &Method,
        content_type: Option<&str>,
        body: &[u8],
    ) -> ApiResult<Response> {
        if *method != Method::GET
            && let Some(value) = self.param("dryRun")
            && value != "All"
        {
            return Err(ApiError::bad_request(format!(
                "Invalid dry run value {value:?}: supported values: \"All\""
            )));
        }
        let name = self.target.name.clone();
        match (method.as_str(), name) {
            ("GET", None) if self.flag("watch") => self.watch(),
            ("GET", None) => self.list(),
            ("POST", None) => self.create(body),
            ("GET", Some(name)) => self.get(&name),
            ("PUT", Some(name)) => self.replace(&name, body),
            ("PATCH", Some(name)) => self.patch(&name, content_type, body),
            ("DELETE", Some(name)) if !self.target.status => self.delete(&name, body),
            _ => Err(ApiError::new(
                405,
                "the server does not allow this method on the requested resource",
            )),
        }
    }

    fn resource(&self) -> usize {
        self.target.resource
    }

    /// Runs a write on the store, or under `dryRun=All` on a copy of it that is then thrown
    /// away: validated and computed like the real write, nothing kept, no watch event.
    fn write<R>(&self, write: impl FnOnce(&mut Store) -> R) -> R {
        if self.param("dryRun") == Some("All") {
            let mut copy = self.cluster.read(Store::clone);
            write(&mut copy)
        } else {
            self.cluster.write(write)
        }
    }

    /// Checks a write's body against the resource's schema, if it has one (`schema.rs`).
    fn check_schema(&self, name: &str, body: &[u8], write: schema::Write) -> ApiResult<()> {
        let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
            // The verb reports a body that is not an object.
            return Ok(());
        };
        let name = object
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or(name);
        let namespace = self.target.namespace.as_deref().unwrap_or_default();
        let strict = self.param("fieldValidation") == Some("Strict");
        schema::check(
            &RESOURCES[self.resource()],
            namespace,
            name,
            &object,
            write,
            strict,
        )
    }

    fn key(&self, name: &str) -> Key {
        let namespace = self.target.namespace.clone().unwrap_or_default();
        (namespace, name.to_owned())
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// A boolean query parameter (`true` or `1`).
    fn flag(&self, name: &str) -> bool {
        matches!(self.param(name), Some("true" | "1"))
    }

    fn selectors(&self) -> ApiResult<Selectors> {
        Selectors::parse(self.param("labelSelector"), self.param("fieldSelector"))
            .map_err(ApiError::bad_request)
    }

    fn list(self) -> ApiResult<Response> {
        let limit = match self.param("limit") {
            None => None,
            Some(limit) => Some(
                limit
                    .parse::<usize>()
                    .map_err(|_| ApiError::bad_request(format!("invalid limit {limit:?}")))?,
            ),
        };
        let selectors = self.selectors()?;
        // resourceVersion and resourceVersionMatch are accepted; every list is served from the
        // latest state.
        let page = self.cluster.read(|store| {
            store.list(
                self.resource(),
                self.target.namespace.as_deref(),
                &selectors,
                limit,
                self.param("continue").filter(|token| !token.is_empty()),
            )
        })?;
        let info = &RESOURCES[self.resource()];
        let mut metadata = json!({"resourceVersion": page.resource_version.to_string()});
        if let Some(token) = page.continue_token {
            metadata["continue"] = json!(token);
        }
        if let Some(remaining) = page.remaining {
            metadata["remainingItemCount"] = json!(remaining);
        }
        let size: usize = page.items.iter().map(|item| item.len() + 1).sum();
        let mut out = Vec::with_capacity(size + 256);
        out.extend_from_slice(b"{\"apiVersion\":");
        out.extend_from_slice(json!(info.api_version).to_string().as_bytes());
        out.extend_from_slice(b",\"kind\":");
        out.extend_from_slice(json!(format!("{}List", info.kind)).to_string().as_bytes());
        out.extend_from_slice(b",\"metadata\":");
        out.extend_from_slice(metadata.to_string().as_bytes());
        out.extend_from_slice(b",\"items\":[");
        for (index, item) in page.items.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(item);
        }
        out.extend_from_slice(b"]}");
        Ok(json_response(StatusCode::OK, out))
    }

    fn watch(self) -> ApiResult<Response> {
        let from = match self.param("resourceVersion") {
            None | Some("" | "0") => None,
            Some(version) => Some(version.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("invalid resource version: {version:?}"))
            })?),
        };
        let timeout = match self.param("timeoutSeconds") {
            None => None,
            Some(seconds) => Some(seconds.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("invalid timeoutSeconds {seconds:?}"))
            })?),
        };
        let request = WatchRequest {
            resource: self.resource(),
            namespace: self.target.namespace.clone(),
            from,
            timeout: timeout.filter(|&s| s > 0).map(Duration::from_secs),
            bookmarks: self.flag("allowWatchBookmarks"),
            send_initial_events: self.flag("sendInitialEvents"),
            selectors: self.selectors()?,
        };
        Ok(respond(self.cluster, request))
    }

    fn get(self, name: &str) -> ApiResult<Response> {
        let key = self.key(name);
        let resource = self.resource();
        let object = self
            .cluster
            .read(|store| store.get(resource, &key).cloned())
            .ok_or_else(|| ApiError::not_found(&RESOURCES[resource], name))?;
        Ok(self.object_response(StatusCode::OK, &object))
    }

    fn create(self, body: &[u8]) -> ApiResult<Response> {
        let info = &RESOURCES[self.resource()];
        if info.namespaced && self.target.namespace.is_none() {
            return Err(ApiError::new(
                405,
                "create in a namespace: POST to /namespaces/{namespace}/…",
            ));
        }
        let object = parse_body(info, body)?;
        self.check_schema("", body, schema::Write::Other)?;
        let created = self.write(|store| {
            store.create(
                self.resource(),
                self.target.namespace.as_deref(),
                object,
                Origin::Api,
            )
        })?;
        Ok(self.object_response(StatusCode::CREATED, &created))
    }

    fn replace(self, name: &str, body: &[u8]) -> ApiResult<Response> {
        let object = parse_body(&RESOURCES[self.resource()], body)?;
        self.check_schema(name, body, schema::Write::Other)?;
        let key = self.key(name);
        let stored =
            self.write(|store| replace(store, self.resource(), &key, object, self.target.status))?;
        Ok(self.object_response(StatusCode::OK, &stored))
    }

    fn patch(self, name: &str, content_type: Option<&str>, body: &[u8]) -> ApiResult<Response> {
        let patch_type = PatchType::from_content_type(content_type)?;
        if patch_type == PatchType::Apply && self.param("fieldManager").is_none_or(str::is_empty) {
            return Err(ApiError::bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is \
                 required for apply patch",
            ));
        }
        match patch_type {
            PatchType::Apply => self.check_schema(name, body, schema::Write::Apply)?,
            PatchType::Merge => self.check_schema(name, body, schema::Write::Other)?,
            PatchType::Json => {}
        }
        let key = self.key(name);
        let applier = Applier {
            manager: self.param("fieldManager").unwrap_or_default().to_owned(),
            force: self.flag("force"),
        };
        let (stored, created) = self.write(|store| {
            patch(
                store,
                self.resource(),
                &key,
                patch_type,
                body,
                self.target.status,
                &applier,
            )
        })?;
        let code = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(self.object_response(code, &stored))
    }

    /// Deletes; DeleteOptions' `preconditions` (uid, resourceVersion) and `dryRun` (kube-rs
    /// sends it in the body) are honoured, the rest (grace periods, propagation) ignored.
    fn delete(mut self, name: &str, body: &[u8]) -> ApiResult<Response> {
        let options: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body)
                .map_err(|error| ApiError::bad_request(format!("invalid DeleteOptions: {error}")))?
        };
        match options["dryRun"].as_array().map(Vec::as_slice) {
            None | Some([]) => {}
            Some([Value::String(all)]) if all == "All" => {
                self.query.insert("dryRun".to_owned(), "All".to_owned());
            }
            Some(_) => {
                return Err(ApiError::bad_request(
                    "Invalid dry run value: supported values: \"All\"",
                ));
            }
        }
        let preconditions = &options["preconditions"];
        let uid = preconditions["uid"].as_str();
        let resource_version = preconditions["resourceVersion"].as_str();
        let key = self.key(name);
        let deleted =
            self.write(|store| store.delete(self.resource(), &key, (uid, resource_version)))?;
        Ok(self.object_response(StatusCode::OK, &deleted))
    }

    fn object_response(&self, code: StatusCode, stored: &[u8]) -> Response {
        json_response(code, typed_json(self.resource(), stored))
    }
}

fn json_response(code: StatusCode, body: Vec<u8>) -> Response {
    (code, [(CONTENT_TYPE, "application/json")], body).into_response()
}
