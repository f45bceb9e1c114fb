//! A loopback Kubernetes API server for tests: real HTTP on 127.0.0.1, speaking the parts of the
//! Kubernetes REST protocol kube-devops uses, so the binary's kube-rs client is exercised for
//! real. It serves `/version`, pod lists (cluster-wide and namespaced) with `limit`/`continue`
//! paging as the real server does (items carry no `kind`), and SelfSubjectAccessReviews; it can
//! be told to forbid everything (403) or deny access reviews. It stops when dropped.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

/// What the fixture serves, shared with the test.
#[derive(Default)]
pub struct Cluster {
    /// Pod objects, as stored (with `kind`; it is stripped in list answers).
    pub pods: Mutex<Vec<Value>>,
    /// Answer every request with 403 Forbidden.
    pub forbid_all: AtomicBool,
    /// Answer SelfSubjectAccessReviews with `allowed: false`.
    pub deny_access: AtomicBool,
    /// Path and query of every request, in order.
    pub requests: Mutex<Vec<String>>,
}

/// A running fixture; the server stops when this is dropped.
pub struct ApiServer {
    pub url: String,
    pub cluster: Arc<Cluster>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ApiServer {
    pub fn start() -> Self {
        let cluster = Arc::new(Cluster::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let address: SocketAddr = listener.local_addr().expect("local address");
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(cluster.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("fixture runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("fixture server");
            });
        });
        ApiServer {
            url: format!("http://{address}"),
            cluster,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// Adds pods built by [`pod`].
    pub fn add_pods(&self, pods: impl IntoIterator<Item = Value>) {
        self.cluster.pods.lock().expect("pods").extend(pods);
    }

    /// Requests whose path starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<String> {
        self.cluster
            .requests
            .lock()
            .expect("requests")
            .iter()
            .filter(|r| r.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Writes a kubeconfig for this server into `dir` and returns its path.
    pub fn kubeconfig(&self, dir: &Path) -> String {
        kubeconfig_for(&self.url, dir)
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A kubeconfig whose only context points at `url` with a bearer token.
pub fn kubeconfig_for(url: &str, dir: &Path) -> String {
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fixture\n  cluster:\n    server: {url}\nusers:\n- name: tester\n  user:\n    token: fixture-token\ncontexts:\n- name: fixture\n  context:\n    cluster: fixture\n    user: tester\ncurrent-context: fixture\n"
    );
    super::write(dir, "kubeconfig", &text)
}

/// A Pod object: `image` in one container named `app`, with the given phase and restarts.
pub fn pod(namespace: &str, name: &str, image: &str, phase: &str, restarts: i32) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": format!("uid-{namespace}-{name}")},
        "spec": {
            "nodeName": "node-1",
            "containers": [{
                "name": "app",
                "image": image,
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}
            }]
        },
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": "app", "image": image, "ready": phase == "Running", "restartCount": restarts,
                "state": {"running": {}}}]
        }
    })
}

fn router(cluster: Arc<Cluster>) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/api/v1/pods", get(list_all_pods))
        .route(
            "/api/v1/namespaces/{namespace}/pods",
            get(list_namespaced_pods),
        )
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            post(access_review),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            cluster.clone(),
            record_and_guard,
        ))
        .with_state(cluster)
}

/// Logs every request and, in forbid mode, refuses it as the real server's RBAC does.
async fn record_and_guard(
    State(cluster): State<Arc<Cluster>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let uri = request.uri().clone();
    cluster.requests.lock().expect("requests").push(
        uri.path_and_query()
            .map_or_else(|| uri.path().to_owned(), |pq| pq.to_string()),
    );
    if cluster.forbid_all.load(Ordering::SeqCst) {
        let message = format!(
            "{} is forbidden: User \"system:serviceaccount:test:tester\" cannot access it",
            uri.path()
        );
        return status_response(StatusCode::FORBIDDEN, "Forbidden", &message);
    }
    next.run(request).await
}

async fn version() -> Json<Value> {
    Json(json!({
        "major": "1", "minor": "31", "gitVersion": "v1.31.0-fixture", "gitCommit": "0000000",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23",
        "compiler": "gc", "platform": "linux/amd64"
    }))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
    #[serde(rename = "continue")]
    continue_token: Option<String>,
}

async fn list_all_pods(
    State(cluster): State<Arc<Cluster>>,
    Query(query): Query<ListQuery>,
) -> Response {
    list_pods(&cluster, None, query)
}

async fn list_namespaced_pods(
    State(cluster): State<Arc<Cluster>>,
    UrlPath(namespace): UrlPath<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    list_pods(&cluster, Some(&namespace), query)
}

/// A PodList page. The continue token is the offset of the next item, which is all a real
/// server's opaque token means to a client.
fn list_pods(cluster: &Cluster, namespace: Option<&str>, query: ListQuery) -> Response {
    let pods = cluster.pods.lock().expect("pods");
    let matching: Vec<&Value> = pods
        .iter()
        .filter(|pod| namespace.is_none_or(|ns| pod["metadata"]["namespace"] == ns))
        .collect();
    let start = match query.continue_token.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(offset)) if offset <= matching.len() => offset,
        Some(_) => {
            return status_response(
                StatusCode::GONE,
                "Expired",
                "the provided continue parameter is too old",
            );
        }
    };
    let end = query
        .limit
        .filter(|&limit| limit > 0)
        .map_or(matching.len(), |limit| (start + limit).min(matching.len()));
    let items: Vec<Value> = matching[start..end]
        .iter()
        .map(|pod| {
            let mut item = (*pod).clone();
            if let Some(object) = item.as_object_mut() {
                object.remove("kind");
                object.remove("apiVersion");
            }
            item
        })
        .collect();
    let mut metadata = json!({"resourceVersion": "1000"});
    if end < matching.len() {
        metadata["continue"] = json!(end.to_string());
        metadata["remainingItemCount"] = json!(matching.len() - end);
    }
    Json(json!({"kind": "PodList", "apiVersion": "v1", "metadata": metadata, "items": items}))
        .into_response()
}

async fn access_review(
    State(cluster): State<Arc<Cluster>>,
    Json(mut review): Json<Value>,
) -> Response {
    let allowed = !cluster.deny_access.load(Ordering::SeqCst);
    review["status"] = if allowed {
        json!({"allowed": true, "reason": "RBAC: allowed by ClusterRoleBinding \"fixture\""})
    } else {
        json!({"allowed": false, "reason": "no RBAC policy matched"})
    };
    (StatusCode::CREATED, Json(review)).into_response()
}

async fn not_found(uri: Uri) -> Response {
    status_response(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!(
            "the server could not find the requested resource ({})",
            uri.path()
        ),
    )
}

/// A `Status` object, the body the API server sends with every error.
fn status_response(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code.as_u16()
    });
    (code, Json(body)).into_response()
}
