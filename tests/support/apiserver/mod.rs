//! A loopback Kubernetes API server for tests: real HTTP on 127.0.0.1, so the binary's (and the
//! tests') kube-rs clients are exercised for real. An in-memory store serves the resources in
//! [`resources`] with the real server's verbs and rules: paged lists, watches from a
//! resourceVersion with bookmarks, create/replace with optimistic concurrency, merge and JSON
//! patches, server-side apply, `/status` subresources, generations, deletion with finalizers.
//! It also serves `/version`, discovery and SelfSubjectAccessReviews. On `apps/v1` workloads
//! and DevOpsPolicies, server-side apply records field ownership and answers 409 Conflict as
//! the real one does; DevOpsPolicy bodies are checked against the CRD's schema (`schema.rs`,
//! `fieldValidation=Strict` refuses unknown fields); `dryRun=All` writes compute and return
//! the result on a copy of the store and keep nothing.
//!
//! The test drives the rest of the cluster through [`ApiServer`]: it writes objects, waits for
//! the store to reach a state, reads the request log, and injects faults (failed requests,
//! dropped watches, compaction, a restart, a missing CRD). The server stops when dropped.
//!
//! Layout: `store.rs` holds objects and history, `verbs.rs` the rules of each write, `apply.rs`
//! field ownership, `watch.rs` the streams, `routes.rs` the HTTP handlers, `resources.rs` the
//! resource table and paths, `schema.rs` CRD validation;
//! `json.rs`, `json_patch.rs`, `selector.rs`, `generated.rs` and `status.rs` are helpers.

mod apply;
mod generated;
mod json;
mod json_patch;
mod resources;
mod routes;
mod schema;
mod selector;
mod status;
mod store;
mod verbs;
mod watch;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use store::Store;

use json::typed;
use resources::{PODS, RESOURCES, by_type};

/// What the fixture serves, shared between the server thread and the test.
pub struct Cluster {
    /// Answer every request with 403 Forbidden.
    pub forbid_all: AtomicBool,
    /// Answer SelfSubjectAccessReviews with `allowed: false`.
    pub deny_access: AtomicBool,
    store: Mutex<Store>,
    /// Notified after every change to the store, for [`ApiServer::wait_until`].
    store_changed: Condvar,
    /// Bumped after every change to the store, for open watch streams.
    wake: tokio::sync::watch::Sender<u64>,
    /// Method and path-and-query of every request, in order.
    requests: Mutex<Vec<(String, String)>>,
    faults: Mutex<Vec<Fault>>,
}

/// A `fail_next` instruction.
struct Fault {
    method: String,
    path_contains: String,
    remaining: usize,
    code: u16,
}

impl Cluster {
    fn new() -> Self {
        Cluster {
            forbid_all: AtomicBool::new(false),
            deny_access: AtomicBool::new(false),
            store: Mutex::new(Store::new()),
            store_changed: Condvar::new(),
            wake: tokio::sync::watch::Sender::new(0),
            requests: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
        }
    }

    // A panicking test thread must not take the server down with it: locks ignore poisoning.
    fn lock_store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_requests(&self) -> MutexGuard<'_, Vec<(String, String)>> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read<R>(&self, read: impl FnOnce(&Store) -> R) -> R {
        read(&self.lock_store())
    }

    /// Runs `write` on the store, then wakes everyone waiting for a change.
    fn write<R>(&self, write: impl FnOnce(&mut Store) -> R) -> R {
        let result = write(&mut self.lock_store());
        self.store_changed.notify_all();
        self.wake
            .send_modify(|count| *count = count.wrapping_add(1));
        result
    }

    /// The HTTP code to fail this request with, if a `fail_next` instruction matches it.
    fn take_fault(&self, method: &str, path_and_query: &str) -> Option<u16> {
        let mut faults = self.faults.lock().unwrap_or_else(PoisonError::into_inner);
        let fault = faults.iter_mut().find(|fault| {
            (fault.method == "*" || fault.method.eq_ignore_ascii_case(method))
                && path_and_query.contains(&fault.path_contains)
        })?;
        fault.remaining -= 1;
        let code = fault.code;
        faults.retain(|fault| fault.remaining > 0);
        Some(code)
    }
}

/// A running fixture; the server stops when this is dropped.
pub struct ApiServer {
    /// `http://127.0.0.1:{port}`; the port stays the same across [`ApiServer::restart`].
    pub url: String,
    pub cluster: Arc<Cluster>,
    address: SocketAddr,
    running: Mutex<Option<Running>>,
}

/// The server thread of one run between start and stop.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl ApiServer {
    /// Starts a server on a free loopback port with an empty store.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let address = listener.local_addr().expect("local address");
        let cluster = Arc::new(Cluster::new());
        let running = serve(cluster.clone(), listener);
        ApiServer {
            url: format!("http://{address}"),
            cluster,
            address,
            running: Mutex::new(Some(running)),
        }
    }

    /// Stops serving: closes the listener and every connection, open watches included, as a
    /// crashed API server would. Until [`ApiServer::start_again`], connections are refused. The
    /// store is kept, and the test may change it meanwhile.
    pub fn stop(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Running { stop, thread }) = running {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }

    /// Serves again on the same port, from the same store. Does nothing if running.
    pub fn start_again(&self) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.is_none() {
            *running = Some(serve(self.cluster.clone(), rebind(self.address)));
        }
    }

    /// [`ApiServer::stop`], then [`ApiServer::start_again`].
    pub fn restart(&self) {
        self.stop();
        self.start_again();
    }

    /// Adds pods built by [`pod`] (or replaces ones of the same name), as the cluster's other
    /// controllers would: each one write with its own resourceVersion and ADDED event. 100,000
    /// pods take well under a second in a release build.
    pub fn add_pods(&self, pods: impl IntoIterator<Item = Value>) {
        self.cluster.write(|store| {
            for pod in pods {
                let Value::Object(pod) = pod else {
                    panic!("a pod is a JSON object: {pod}");
                };
                if let Err(error) = store.put(PODS, pod) {
                    panic!("add_pods: {}", error.message);
                }
            }
        });
    }

    /// Creates `object` or replaces it whole, found by its apiVersion, kind, namespace (default
    /// `default`) and name, as `kubectl apply` would; watches see ADDED or MODIFIED, or nothing
    /// if it did not change. Unlike API clients, the test may set `uid`, `creationTimestamp`
    /// and `status` (it plays the cluster's other controllers). Returns the stored object.
    pub fn apply_object(&self, object: Value) -> Value {
        let (api_version, kind) = (
            object["apiVersion"].as_str().unwrap_or_default(),
            object["kind"].as_str().unwrap_or_default(),
        );
        let resource = by_type(api_version, kind)
            .unwrap_or_else(|| panic!("the fixture has no resource for {api_version} {kind}"));
        let Value::Object(object) = object else {
            panic!("apply_object takes a JSON object");
        };
        let stored = self
            .cluster
            .write(|store| store.put(resource, object))
            .unwrap_or_else(|error| panic!("apply_object: {}", error.message));
        typed(resource, &stored)
    }

    /// Server-side apply of `object` by field manager `manager` (a `kubectl apply
    /// --server-side`, Argo CD, …), as a client would send it but not in the request log:
    /// where the resource has field ownership, the fields become `manager`'s. Returns the stored
    /// object, or the `Status` of the refusal (409 Conflict without `force`).
    pub fn apply_as(&self, manager: &str, object: Value, force: bool) -> Result<Value, Value> {
        let (api_version, kind) = (
            object["apiVersion"].as_str().unwrap_or_default(),
            object["kind"].as_str().unwrap_or_default(),
        );
        let resource = by_type(api_version, kind)
            .unwrap_or_else(|| panic!("the fixture has no resource for {api_version} {kind}"));
        let key = (
            object["metadata"]["namespace"]
                .as_str()
                .unwrap_or(if RESOURCES[resource].namespaced {
                    "default"
                } else {
                    ""
                })
                .to_owned(),
            object["metadata"]["name"]
                .as_str()
                .expect("apply_as: metadata.name")
                .to_owned(),
        );
        let applier = verbs::Applier {
            manager: manager.to_owned(),
            force,
        };
        let body = object.to_string();
        self.cluster
            .write(|store| {
                verbs::patch(
                    store,
                    resource,
                    &key,
                    verbs::PatchType::Apply,
                    body.as_bytes(),
                    false,
                    &applier,
                )
            })
            .map(|(stored, _)| typed(resource, &stored))
            .map_err(|error| error.status_object())
    }

    /// Deletes an object as `kubectl delete` would: at once, or with finalizers by marking it
    /// (`deletionTimestamp`) until they are removed. Returns its last state, or `None` if there
    /// was no such object.
    pub fn delete_object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let resource = by_type(api_version, kind)
            .unwrap_or_else(|| panic!("the fixture has no resource for {api_version} {kind}"));
        let key = (namespace.unwrap_or("").to_owned(), name.to_owned());
        self.cluster
            .write(|store| store.delete(resource, &key, (None, None)))
            .ok()
            .map(|last| typed(resource, &last))
    }

    /// The object `name` of `resource` (`pods`, `leases`, `devopspolicies`,
    /// `events.events.k8s.io`, … — a plural, or `plural.group` where plurals are ambiguous),
    /// with kind and apiVersion. `namespace` is `None` for cluster-scoped resources.
    pub fn object(&self, resource: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        self.cluster
            .read(|store| store.object(resource, namespace, name))
    }

    /// Every object of `resource`, ordered by namespace and name.
    pub fn objects(&self, resource: &str) -> Vec<Value> {
        self.cluster.read(|store| store.objects(resource))
    }

    /// The store's current resourceVersion, which every real change moves on.
    pub fn resource_version(&self) -> u64 {
        self.cluster.read(Store::resource_version)
    }

    /// Blocks until `condition` holds, re-checking after every change to the store (no
    /// polling). On timeout, panics with `what`, the store and the last requests. The condition
    /// runs with the store locked: it must read the `&Store` it is given, not call back into
    /// the server.
    pub fn wait_until(&self, deadline: Duration, what: &str, condition: impl Fn(&Store) -> bool) {
        self.wait_for(deadline, what, |store| condition(store).then_some(()));
    }

    /// Like [`ApiServer::wait_until`], returning what `found` finds once it finds something.
    pub fn wait_for<T>(
        &self,
        deadline: Duration,
        what: &str,
        found: impl Fn(&Store) -> Option<T>,
    ) -> T {
        let give_up = Instant::now() + deadline;
        let mut store = self.cluster.lock_store();
        loop {
            if let Some(value) = found(&store) {
                return value;
            }
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let dump = store.dump();
                drop(store);
                panic!(
                    "timed out after {deadline:?} waiting until {what}\n--- store\n{dump}--- last \
                     requests\n{}",
                    self.recent_requests(30)
                );
            }
            store = self
                .cluster
                .store_changed
                .wait_timeout(store, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Requests whose path starts with `prefix` (path and query, in order).
    pub fn requests_to(&self, prefix: &str) -> Vec<String> {
        self.requests_with_method("*", prefix)
    }

    /// Requests with `method` (`GET`, `PATCH`, …, or `*` for any) whose path starts with
    /// `prefix`, as path and query.
    pub fn requests_with_method(&self, method: &str, prefix: &str) -> Vec<String> {
        self.cluster
            .lock_requests()
            .iter()
            .filter(|(m, path)| (method == "*" || m == method) && path.starts_with(prefix))
            .map(|(_, path)| path.clone())
            .collect()
    }

    /// Every request but GETs, as (method, path and query), in order: what clients wrote.
    pub fn writes(&self) -> Vec<(String, String)> {
        self.cluster
            .lock_requests()
            .iter()
            .filter(|(method, _)| method != "GET")
            .cloned()
            .collect()
    }

    /// Makes the next `count` requests with `method` (or `*`) whose path and query contain
    /// `path_contains` fail with HTTP `code` and a `Status` body whose reason fits the code
    /// (Conflict, InternalError, ServiceUnavailable, …). They are logged but not applied.
    pub fn fail_next(&self, method: &str, path_contains: &str, count: usize, code: u16) {
        if count == 0 {
            return;
        }
        self.cluster
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Fault {
                method: method.to_owned(),
                path_contains: path_contains.to_owned(),
                remaining: count,
                code,
            });
    }

    /// Breaks off every open watch stream mid-body, as a restarted proxy would; clients watch
    /// again from the last resourceVersion they saw.
    pub fn drop_watches(&self) {
        self.cluster.write(|store| store.drops += 1);
    }

    /// Compaction: every resourceVersion issued so far becomes too old. Open watches get a
    /// `410 Expired` ERROR event and end; watches from an old version get the same; continue
    /// tokens from before are refused with 410. Clients have to list again.
    pub fn expire_history(&self) {
        self.cluster.write(Store::expire_history);
    }

    /// Installs or uninstalls a resource (a plural, or `plural.group`): uninstalled, every path
    /// of it answers 404 as on a cluster without the CRD, and its watches end. Its objects are
    /// kept for when it comes back.
    pub fn set_installed(&self, resource: &str, installed: bool) {
        self.cluster
            .write(|store| store.set_installed(resource, installed));
    }

    /// Writes a kubeconfig for this server into `dir` and returns its path.
    pub fn kubeconfig(&self, dir: &Path) -> String {
        kubeconfig_for(&self.url, dir)
    }

    fn recent_requests(&self, count: usize) -> String {
        let requests = self.cluster.lock_requests();
        let skip = requests.len().saturating_sub(count);
        requests
            .iter()
            .skip(skip)
            .map(|(method, path)| format!("{method} {path}\n"))
            .collect()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Serves `cluster` on `listener` from a thread with its own runtime. Stopping drops the
/// runtime, which closes the listener and every connection at once.
fn serve(cluster: Arc<Cluster>, listener: std::net::TcpListener) -> Running {
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = routes::router(cluster);
    let thread = std::thread::Builder::new()
        .name("apiserver-fixture".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("fixture runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                tokio::select! {
                    result = async { axum::serve(listener, app).await } => {
                        if let Err(error) = result {
                            eprintln!("the API server fixture stopped: {error}");
                        }
                    }
                    _ = stopped => {}
                }
            });
        })
        .expect("start the fixture thread");
    Running { stop, thread }
}

/// A listener on the port of the previous run. std sets SO_REUSEADDR, so connections of the
/// old run in TIME_WAIT do not block it.
fn rebind(address: SocketAddr) -> std::net::TcpListener {
    std::net::TcpListener::bind(address)
        .unwrap_or_else(|error| panic!("bind {address} again after a stop: {error}"))
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
