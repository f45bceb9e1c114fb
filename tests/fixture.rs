//! The loopback API server fixture, proved with kube-rs itself: paged lists, kube-runtime
//! watchers through changes and faults (compaction, dropped streams, a restart), server-side
//! apply and the status subresource, optimistic concurrency on a Lease, injected failures.
//! Tests wait on conditions with deadlines, never on sleeps.

mod support;

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use support::apiserver::{ApiServer, pod};

/// Longest any awaited condition may take.
const DEADLINE: Duration = Duration::from_secs(10);

/// A runtime for the kube client, beside the test thread that drives the fixture.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("test runtime")
}

fn client(runtime: &Runtime, server: &ApiServer) -> Client {
    let _entered = runtime.enter();
    let config = kube::Config::new(server.url.parse().expect("fixture URL"));
    Client::try_from(config).expect("kube client")
}

fn policies(client: &Client, namespace: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("devops.stochastic.io", "v1", "DevOpsPolicy");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "devopspolicies");
    Api::namespaced_with(client.clone(), namespace, &resource)
}

/// The Status of a failed call.
fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Box<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// What a kube-runtime watcher reported, by object name.
#[derive(Clone, Debug, PartialEq)]
enum Seen {
    Init,
    InitApply(String),
    InitDone,
    Apply(String),
    Delete(String),
    Error(String),
}

/// The events of a watcher running on the test runtime, for the test thread to wait on.
#[derive(Default)]
struct Watched {
    events: Mutex<Vec<Seen>>,
    changed: Condvar,
}

impl Watched {
    fn push(&self, seen: Seen) {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(seen);
        self.changed.notify_all();
    }

    /// Waits until `condition` holds for the events so far; returns them.
    fn wait_until(&self, what: &str, condition: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        let give_up = Instant::now() + DEADLINE;
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        while !condition(&events) {
            let left = give_up.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting until {what}: {events:?}"
            );
            events = self
                .changed
                .wait_timeout(events, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        events.clone()
    }

    fn count(events: &[Seen], wanted: &Seen) -> usize {
        events.iter().filter(|seen| *seen == wanted).count()
    }
}

/// Runs a watcher on the pods of `namespace`, recording what it reports. After an error it
/// pauses briefly, as a backoff would, so a stopped server is not hammered.
fn watch_pods(runtime: &Runtime, client: &Client, namespace: &str) -> Arc<Watched> {
    watch_pods_with(runtime, client, namespace, watcher::Config::default())
}

fn watch_pods_with(
    runtime: &Runtime,
    client: &Client,
    namespace: &str,
    config: watcher::Config,
) -> Arc<Watched> {
    let watched = Arc::new(Watched::default());
    let sink = watched.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    runtime.spawn(async move {
        let mut events = kube::runtime::watcher(pods, config).boxed();
        while let Some(event) = events.next().await {
            let seen = match event {
                Ok(Event::Init) => Seen::Init,
                Ok(Event::InitApply(pod)) => Seen::InitApply(pod.name_any()),
                Ok(Event::InitDone) => Seen::InitDone,
                Ok(Event::Apply(pod)) => Seen::Apply(pod.name_any()),
                Ok(Event::Delete(pod)) => Seen::Delete(pod.name_any()),
                Err(error) => Seen::Error(error.to_string()),
            };
            let failed = matches!(seen, Seen::Error(_));
            sink.push(seen);
            if failed {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    watched
}

fn listed_once(events: &[Seen]) -> bool {
    events.contains(&Seen::InitDone)
}

#[test]
fn lists_page_in_namespace_and_name_order_at_one_resource_version() {
    let server = ApiServer::start();
    server.add_pods((0..1234).map(|i| {
        let namespace = ["shop", "billing", "tools"][i % 3];
        pod(
            namespace,
            &format!("pod-{i:04}"),
            "nginx:1.27",
            "Running",
            0,
        )
    }));
    let runtime = runtime();
    let pods: Api<Pod> = Api::all(client(&runtime, &server));

    let mut names = Vec::new();
    let mut versions = Vec::new();
    let mut params = ListParams::default().limit(500);
    loop {
        let page = runtime.block_on(pods.list(&params)).expect("list a page");
        versions.push(
            page.metadata
                .resource_version
                .clone()
                .expect("list version"),
        );
        names.extend(
            page.items
                .iter()
                .map(|p| format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any())),
        );
        if page.items.len() == 500 && versions.len() == 1 {
            // A write between pages moves the store on; the pages stay one snapshot's.
            server.apply_object(pod("zoo", "late", "nginx", "Pending", 0));
        }
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params.continue_token = Some(token),
            _ => break,
        }
    }

    assert_eq!(versions.len(), 3, "{versions:?}");
    assert!(versions.iter().all(|v| *v == versions[0]), "{versions:?}");
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        names, sorted,
        "ordered by namespace then name, no duplicates"
    );
    assert_eq!(names.len(), 1235, "with the pod created while paging");
    assert_eq!(names[0], "billing/pod-0001");

    let shop: Api<Pod> = Api::namespaced(client(&runtime, &server), "shop");
    let selected = runtime
        .block_on(shop.list(&ListParams::default().fields("metadata.name=pod-0003")))
        .expect("list with a field selector");
    assert_eq!(selected.items.len(), 1);
}

#[test]
fn serves_a_hundred_thousand_pods_in_pages_of_500() {
    let server = ApiServer::start();
    // Cloning a template is cheap even unoptimised; building each pod with `json!` is not.
    let template = pod("load", "", "nginx:1.27", "Running", 0);
    let pods = (0..100_000).map(|i| {
        let mut pod = template.clone();
        pod["metadata"]["name"] = json!(format!("pod-{i:06}"));
        pod
    });
    let started = Instant::now();
    server.add_pods(pods);
    let inserted = started.elapsed();
    let runtime = runtime();
    let client = client(&runtime, &server);

    // Raw pages, counted as JSON values: the fixture's speed, not typed decoding's.
    let started = Instant::now();
    let (mut count, mut pages) = (0, 0);
    let mut params = ListParams::default().limit(500);
    loop {
        let request = kube::core::Request::new("/api/v1/namespaces/load/pods")
            .list(&params)
            .expect("list request");
        let text = runtime
            .block_on(client.request_text(request))
            .expect("list a page");
        let page: Value = text.parse().expect("a JSON page");
        count += page["items"].as_array().map_or(0, Vec::len);
        pages += 1;
        match page["metadata"]["continue"].as_str() {
            Some(token) => params.continue_token = Some(token.to_owned()),
            None => break,
        }
    }
    eprintln!(
        "inserted 100,000 pods in {inserted:?}, listed them in {:?}",
        started.elapsed()
    );
    assert_eq!((count, pages), (100_000, 200));
}

#[test]
fn a_watcher_sees_what_the_test_writes_and_nothing_for_no_op_writes() {
    let server = ApiServer::start();
    server.add_pods([pod("shop", "old", "nginx", "Running", 0)]);
    let runtime = runtime();
    let watched = watch_pods(&runtime, &client(&runtime, &server), "shop");
    let events = watched.wait_until("the first list", listed_once);
    assert_eq!(
        events,
        [Seen::Init, Seen::InitApply("old".into()), Seen::InitDone]
    );

    server.apply_object(pod("shop", "web", "nginx:1.27", "Running", 0));
    server.apply_object(pod("elsewhere", "other", "nginx", "Running", 0));
    server.apply_object(pod("shop", "web", "nginx:1.28", "Running", 0));
    let version = server.resource_version();
    let stored = server.apply_object(pod("shop", "web", "nginx:1.28", "Running", 0));
    assert_eq!(
        server.resource_version(),
        version,
        "a no-op write moves nothing"
    );
    assert_eq!(stored["metadata"]["resourceVersion"], version.to_string());
    server.delete_object("v1", "Pod", Some("shop"), "web");

    let events = watched.wait_until("the deletion", |events| {
        events.contains(&Seen::Delete("web".into()))
    });
    assert_eq!(
        events[3..],
        [
            Seen::Apply("web".into()),
            Seen::Apply("web".into()),
            Seen::Delete("web".into())
        ]
    );
    assert!(server.object("pods", Some("shop"), "web").is_none());
}

#[test]
fn a_selector_watch_sees_pods_enter_and_leave_and_streaming_lists_work() {
    let server = ApiServer::start();
    let labelled = |name: &str, app: &str| {
        let mut pod = pod("shop", name, "nginx", "Running", 0);
        pod["metadata"]["labels"] = json!({"app": app});
        pod
    };
    server.add_pods([labelled("web-1", "web"), labelled("db-1", "db")]);
    let runtime = runtime();
    let config = watcher::Config::default()
        .labels("app=web")
        .streaming_lists();
    let watched = watch_pods_with(&runtime, &client(&runtime, &server), "shop", config);
    let events = watched.wait_until("the streamed list", listed_once);
    assert_eq!(
        events,
        [Seen::Init, Seen::InitApply("web-1".into()), Seen::InitDone]
    );

    server.apply_object(labelled("web-1", "db"));
    server.apply_object(labelled("db-1", "web"));

    let events = watched.wait_until("both relabellings", |events| events.len() == 5);
    assert_eq!(
        events[3..],
        [Seen::Delete("web-1".into()), Seen::Apply("db-1".into())]
    );
    let watches = server.requests_to("/api/v1/namespaces/shop/pods?");
    assert!(watches[0].contains("sendInitialEvents=true"), "{watches:?}");
}

#[test]
fn server_side_apply_and_the_status_subresource_on_a_devopspolicy() {
    let server = ApiServer::start();
    let runtime = runtime();
    let client = client(&runtime, &server);
    let api = policies(&client, "shop");
    let apply = PatchParams::apply("kube-devops").force();
    let policy = |spec: Value, status: Value| {
        json!({"apiVersion": "devops.stochastic.io/v1", "kind": "DevOpsPolicy",
            "metadata": {"name": "strict"}, "spec": spec, "status": status})
    };

    let created = runtime
        .block_on(api.patch(
            "strict",
            &apply,
            &Patch::Apply(policy(
                json!({"mode": "audit", "rules": ["latest-tag", "probes"]}),
                json!({"ignored": true}),
            )),
        ))
        .expect("apply creates");
    assert_eq!(created.metadata.generation, Some(1));
    assert!(
        created.data.get("status").is_none(),
        "status is ignored on the object"
    );
    assert!(created.uid().is_some() && created.creation_timestamp().is_some());

    let version = server.resource_version();
    runtime
        .block_on(api.patch(
            "strict",
            &apply,
            &Patch::Apply(policy(
                json!({"mode": "audit", "rules": ["latest-tag", "probes"]}),
                Value::Null,
            )),
        ))
        .expect("apply again");
    assert_eq!(
        server.resource_version(),
        version,
        "the same apply changes nothing"
    );

    let changed = runtime
        .block_on(api.patch(
            "strict",
            &apply,
            &Patch::Apply(policy(json!({"rules": ["latest-tag"]}), Value::Null)),
        ))
        .expect("apply a new spec");
    assert_eq!(changed.metadata.generation, Some(2));
    assert_eq!(
        changed.data["spec"],
        json!({"rules": ["latest-tag"]}),
        "the fields the manager no longer applies are removed"
    );

    let ready =
        json!({"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]});
    let with_status = runtime
        .block_on(api.patch_status(
            "strict",
            &apply,
            &Patch::Apply(policy(Value::Null, ready.clone())),
        ))
        .expect("apply the status");
    assert_eq!(with_status.data["status"], ready);
    assert_eq!(
        with_status.metadata.generation,
        Some(2),
        "status writes keep the generation"
    );
    assert_eq!(with_status.data["spec"]["rules"], json!(["latest-tag"]));

    let replaced = runtime
        .block_on(api.patch_status(
            "strict",
            &apply,
            &Patch::Apply(policy(Value::Null, json!({"observedGeneration": 2}))),
        ))
        .expect("apply a smaller status");
    assert_eq!(
        replaced.data["status"],
        json!({"observedGeneration": 2}),
        "applied status replaces"
    );

    let merged = runtime
        .block_on(api.patch_status(
            "strict",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Enforcing"}, "spec": {"mode": "x"}})),
        ))
        .expect("merge into the status");
    assert_eq!(
        merged.data["status"],
        json!({"observedGeneration": 2, "phase": "Enforcing"})
    );
    assert_eq!(
        merged.data["spec"],
        json!({"rules": ["latest-tag"]}),
        "a status write touches only the status"
    );

    let status_patches = server
        .writes()
        .into_iter()
        .filter(|(method, path)| method == "PATCH" && path.contains("/strict/status"))
        .count();
    assert_eq!(status_patches, 3);
    let stored = server
        .object("devopspolicies", Some("shop"), "strict")
        .expect("stored");
    assert_eq!(stored["status"]["phase"], "Enforcing");

    let no_manager =
        http::Request::patch("/apis/devops.stochastic.io/v1/namespaces/shop/devopspolicies/strict")
            .header("content-type", "application/apply-patch+yaml")
            .body(policy(json!({}), Value::Null).to_string().into_bytes())
            .expect("request");
    let status = api_error(runtime.block_on(client.request_text(no_manager)));
    assert_eq!((status.code, status.reason.as_str()), (400, "BadRequest"));
}

#[test]
fn replacing_a_lease_from_a_stale_version_is_a_conflict() {
    let server = ApiServer::start();
    let runtime = runtime();
    let leases: Api<Lease> = Api::namespaced(client(&runtime, &server), "kube-devops");
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "leader"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}
    }))
    .expect("lease");
    let post = PostParams::default();

    let created = runtime
        .block_on(leases.create(&post, &lease))
        .expect("create");
    let exists = api_error(runtime.block_on(leases.create(&post, &lease)));
    assert_eq!(
        (exists.code, exists.reason.as_str()),
        (409, "AlreadyExists")
    );

    let mut renewed = created.clone();
    renewed.spec.as_mut().expect("spec").holder_identity = Some("b".into());
    let renewed = runtime
        .block_on(leases.replace("leader", &post, &renewed))
        .expect("replace from the current version");
    assert_ne!(renewed.resource_version(), created.resource_version());
    assert_eq!(renewed.uid(), created.uid());

    let mut stale = created;
    stale.spec.as_mut().expect("spec").holder_identity = Some("c".into());
    let conflict = api_error(runtime.block_on(leases.replace("leader", &post, &stale)));
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        conflict.message,
        "Operation cannot be fulfilled on leases.coordination.k8s.io \"leader\": the object has \
         been modified; please apply your changes to the latest version and try again"
    );
    let stored = server
        .object("leases", Some("kube-devops"), "leader")
        .expect("lease");
    assert_eq!(stored["spec"]["holderIdentity"], "b");

    let missing = api_error(runtime.block_on(leases.get("nobody")));
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
}

#[test]
fn expired_history_makes_the_watcher_list_again() {
    let server = ApiServer::start();
    let runtime = runtime();
    let client = client(&runtime, &server);
    let watched = watch_pods(&runtime, &client, "shop");
    watched.wait_until("the first list", listed_once);
    server.wait_until(DEADLINE, "the watch is open", |store| {
        store.open_watches("pods") == 1
    });
    let old_version = server.resource_version();

    server.expire_history();
    let events = watched.wait_until("a second list", |events| {
        Watched::count(events, &Seen::InitDone) == 2
    });
    assert!(
        events
            .iter()
            .any(|seen| matches!(seen, Seen::Error(e) if e.contains("too old resource version"))),
        "{events:?}"
    );
    server.apply_object(pod("shop", "after", "nginx", "Running", 0));
    watched.wait_until("the pod after the new list", |events| {
        events.contains(&Seen::Apply("after".into()))
    });

    // A watch from a compacted version gets one 410 ERROR event, with HTTP 200, and ends.
    let pods: Api<Pod> = Api::namespaced(client, "shop");
    let events: Vec<_> = runtime.block_on(async {
        let stream = pods
            .watch(&WatchParams::default(), &old_version.to_string())
            .await
            .expect("watch");
        stream.collect().await
    });
    match events.as_slice() {
        [Ok(WatchEvent::Error(status))] => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert!(
                status
                    .message
                    .starts_with(&format!("too old resource version: {old_version} ("))
            );
        }
        other => panic!("expected one 410 event: {other:?}"),
    }
}

#[test]
fn dropped_watches_resume_from_the_last_version_without_a_new_list() {
    let server = ApiServer::start();
    let runtime = runtime();
    let watched = watch_pods(&runtime, &client(&runtime, &server), "shop");
    watched.wait_until("the first list", listed_once);
    server.wait_until(DEADLINE, "the watch is open", |store| {
        store.open_watches("pods") == 1
    });

    server.drop_watches();
    server.apply_object(pod("shop", "web", "nginx", "Running", 0));

    let events = watched.wait_until("the pod", |events| {
        events.contains(&Seen::Apply("web".into()))
    });
    assert_eq!(Watched::count(&events, &Seen::InitDone), 1, "{events:?}");
    let watches: Vec<String> = server
        .requests_to("/api/v1/namespaces/shop/pods?")
        .into_iter()
        .filter(|request| request.contains("watch=true"))
        .collect();
    assert_eq!(watches.len(), 2, "{watches:?}");
}

#[test]
fn a_restarted_server_keeps_its_port_and_store_and_the_watcher_recovers() {
    let server = ApiServer::start();
    let runtime = runtime();
    let client = client(&runtime, &server);
    let watched = watch_pods(&runtime, &client, "shop");
    watched.wait_until("the first list", listed_once);

    server.stop();
    assert!(
        std::net::TcpStream::connect(server.url.trim_start_matches("http://")).is_err(),
        "refused while stopped"
    );
    server.apply_object(pod("shop", "while-down", "nginx", "Running", 0));
    server.start_again();

    watched.wait_until("the pod written while the server was down", |events| {
        events.contains(&Seen::Apply("while-down".into()))
            || events.contains(&Seen::InitApply("while-down".into()))
    });
    let pods: Api<Pod> = Api::namespaced(client, "shop");
    let listed = runtime
        .block_on(pods.list(&ListParams::default()))
        .expect("list after the restart");
    assert_eq!(listed.items.len(), 1);
}

#[test]
fn injected_failures_answer_a_status_and_change_nothing() {
    let server = ApiServer::start();
    server.add_pods([pod("shop", "web", "nginx", "Running", 0)]);
    let runtime = runtime();
    let client = client(&runtime, &server);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");

    server.fail_next("GET", "/namespaces/shop/pods/web", 1, 500);
    let failed = api_error(runtime.block_on(pods.get("web")));
    assert_eq!(
        (failed.code, failed.reason.as_str()),
        (500, "InternalError")
    );
    runtime
        .block_on(pods.get("web"))
        .expect("only the next one fails");

    server.fail_next("POST", "/namespaces/shop/pods", 1, 409);
    let new_pod: Pod =
        serde_json::from_value(pod("shop", "api", "api:1", "Pending", 0)).expect("pod");
    let failed = api_error(runtime.block_on(pods.create(&PostParams::default(), &new_pod)));
    assert_eq!((failed.code, failed.reason.as_str()), (409, "Conflict"));
    assert!(
        server.object("pods", Some("shop"), "api").is_none(),
        "not applied"
    );

    // kube-rs retries 503 on its own (its default retry policy): the third try succeeds.
    server.fail_next("DELETE", "/pods/web", 2, 503);
    runtime
        .block_on(pods.delete("web", &DeleteParams::default()))
        .expect("delete after retries");
    let deletes = server.requests_with_method("DELETE", "/api/v1/namespaces/shop/pods/web");
    assert_eq!(deletes.len(), 3, "{deletes:?}");

    let malformed = http::Request::post("/api/v1/namespaces/shop/pods")
        .header("content-type", "application/json")
        .body(b"{\"metadata\":".to_vec())
        .expect("request");
    let status = api_error(runtime.block_on(client.request_text(malformed)));
    assert_eq!((status.code, status.reason.as_str()), (400, "BadRequest"));
}

#[test]
fn an_uninstalled_resource_answers_404_like_a_missing_crd() {
    let server = ApiServer::start();
    let runtime = runtime();
    let api = policies(&client(&runtime, &server), "shop");

    server.set_installed("devopspolicies", false);
    let missing = api_error(runtime.block_on(api.list(&ListParams::default())));
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));

    server.set_installed("devopspolicies", true);
    let listed = runtime
        .block_on(api.list(&ListParams::default()))
        .expect("list once installed");
    assert!(listed.items.is_empty());
}

#[test]
fn deletion_waits_for_finalizers_and_generate_name_names() {
    let server = ApiServer::start();
    let runtime = runtime();
    let api = policies(&client(&runtime, &server), "shop");
    let created = runtime
        .block_on(api.create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "devops.stochastic.io/v1", "kind": "DevOpsPolicy",
                "metadata": {"generateName": "policy-", "finalizers": ["devops.stochastic.io/cleanup"]},
                "spec": {}
            }))
            .expect("policy"),
        ))
        .expect("create");
    let name = created.name_any();
    assert!(
        name.starts_with("policy-") && name.len() == "policy-".len() + 5,
        "{name}"
    );

    runtime
        .block_on(api.delete(&name, &DeleteParams::default()))
        .expect("delete");
    let marked = server
        .object("devopspolicies", Some("shop"), &name)
        .expect("kept for its finalizer");
    assert!(marked["metadata"]["deletionTimestamp"].is_string());

    runtime
        .block_on(api.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        ))
        .expect("remove the finalizer");
    server.wait_until(DEADLINE, "the policy is gone", |store| {
        store
            .object("devopspolicies", Some("shop"), &name)
            .is_none()
    });
}

#[test]
fn kube_runtime_finalizers_work_through_json_patches() {
    const FINALIZER: &str = "devops.stochastic.io/cleanup";
    let server = ApiServer::start();
    server.apply_object(json!({
        "apiVersion": "devops.stochastic.io/v1", "kind": "DevOpsPolicy",
        "metadata": {"name": "strict", "namespace": "shop"}, "spec": {}
    }));
    let runtime = runtime();
    let client = client(&runtime, &server);
    let api = policies(&client, "shop");
    // One reconciliation through kube-runtime's finalizer helper; says whether it cleaned up.
    let reconcile = || {
        runtime.block_on(async {
            let policy = api.get("strict").await.expect("get the policy");
            let mut cleaned_up = false;
            finalizer(&api, FINALIZER, Arc::new(policy), |event| {
                cleaned_up = matches!(event, finalizer::Event::Cleanup(_));
                futures::future::ready(Ok::<_, std::io::Error>(Action::await_change()))
            })
            .await
            .expect("reconcile");
            cleaned_up
        })
    };

    assert!(!reconcile(), "the first pass adds the finalizer");
    let policy = server
        .object("devopspolicies", Some("shop"), "strict")
        .expect("policy");
    assert_eq!(policy["metadata"]["finalizers"], json!([FINALIZER]));

    runtime
        .block_on(api.delete("strict", &DeleteParams::default()))
        .expect("delete");
    assert!(reconcile(), "a deleted object is cleaned up");
    assert!(
        server
            .object("devopspolicies", Some("shop"), "strict")
            .is_none(),
        "gone once its finalizer is"
    );

    // A `test` that no longer holds fails the whole patch: what the helper relies on.
    server.apply_object(json!({
        "apiVersion": "devops.stochastic.io/v1", "kind": "DevOpsPolicy",
        "metadata": {"name": "strict", "namespace": "shop", "finalizers": ["other"]}
    }));
    let stale = json!([
        {"op": "test", "path": "/metadata/finalizers/0", "value": FINALIZER},
        {"op": "remove", "path": "/metadata/finalizers/0"}
    ]);
    let request =
        http::Request::patch("/apis/devops.stochastic.io/v1/namespaces/shop/devopspolicies/strict")
            .header("content-type", "application/json-patch+json")
            .body(stale.to_string().into_bytes())
            .expect("request");
    let status = api_error(runtime.block_on(client.request_text(request)));
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    let policy = server
        .object("devopspolicies", Some("shop"), "strict")
        .expect("policy");
    assert_eq!(policy["metadata"]["finalizers"], json!(["other"]));
}

#[test]
fn a_watch_ends_at_its_timeout_with_a_bookmark() {
    let server = ApiServer::start();
    let runtime = runtime();
    let pods: Api<Pod> = Api::namespaced(client(&runtime, &server), "shop");
    let version = server.resource_version().to_string();

    let events: Vec<_> = runtime.block_on(async {
        let params = WatchParams::default().timeout(1);
        pods.watch(&params, &version)
            .await
            .expect("watch")
            .collect()
            .await
    });
    match events.last() {
        Some(Ok(WatchEvent::Bookmark(bookmark))) => {
            assert_eq!(bookmark.metadata.resource_version, version);
        }
        other => panic!("expected a final bookmark: {other:?}"),
    }
}
