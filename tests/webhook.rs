//! `kube-devops webhook serve` over real TLS with a CA made by `webhook cert-generate`, fed
//! AdmissionReview documents as the API server sends them; its policies come from the loopback
//! API server fixture by a watch.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::apiserver::{ApiServer, pod};
use support::daemon::Daemon;
use support::tls::{Client, der_of};

const NS: &str = "shop";

struct Webhook {
    _server: ApiServer,
    daemon: Daemon,
    client: Client,
    dir: tempfile::TempDir,
}

impl Webhook {
    /// A webhook whose cluster holds `policies` (in namespace `shop` unless they say).
    fn start(policies: &[Value], args: &[&str]) -> Self {
        let server = ApiServer::start();
        for policy in policies {
            server.apply_object(policy.clone());
        }
        let dir = support::temp_dir();
        let certs = dir.path().join("certs");
        generate_certs(&certs);
        let kubeconfig = server.kubeconfig(dir.path());
        let cert = certs.join("tls.crt").to_string_lossy().into_owned();
        let key = certs.join("tls.key").to_string_lossy().into_owned();
        let mut all = vec!["--cert", cert.as_str(), "--key", key.as_str()];
        all.extend_from_slice(args);
        let daemon = Daemon::webhook(&kubeconfig, &all);
        daemon.wait_for_log("policies loaded; ready");
        let ca = std::fs::read_to_string(certs.join("ca.crt")).expect("ca.crt");
        Webhook {
            _server: server,
            daemon,
            client: Client::trusting(&[&ca]),
            dir,
        }
    }

    fn post(&self, body: &[u8]) -> support::tls::Answer {
        self.post_to("/validate", body)
    }

    fn post_to(&self, path: &str, body: &[u8]) -> support::tls::Answer {
        self.client
            .post(&self.daemon.metrics_addr, path, body)
            .expect("an HTTPS answer")
    }

    /// The `response` of an AdmissionReview for `object`.
    fn review(&self, namespace: &str, object: Value) -> Value {
        self.review_at("/validate", namespace, object)
    }

    /// The `response` of the mutating webhook's AdmissionReview for `object`.
    fn mutate(&self, namespace: &str, object: Value) -> Value {
        self.review_at("/mutate", namespace, object)
    }

    fn review_at(&self, path: &str, namespace: &str, object: Value) -> Value {
        let body = review("uid-1", namespace, object).to_string();
        let answer = self.post_to(path, body.as_bytes());
        assert_eq!(answer.status, 200, "{}", answer.body);
        let body = answer.json();
        assert_eq!(body["kind"], "AdmissionReview");
        assert_eq!(body["response"]["uid"], "uid-1");
        body["response"].clone()
    }
}

fn generate_certs(out: &Path) {
    let out = out.to_string_lossy().into_owned();
    let run = support::run_with_stdin(
        &[
            "webhook",
            "cert-generate",
            "--out",
            &out,
            "--ip-san",
            "127.0.0.1",
        ],
        "",
    );
    assert_eq!(run.code, 0, "{run:?}");
}

fn policy(namespace: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "devops.stochastic.io/v1",
        "kind": "DevOpsPolicy",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": spec,
    })
}

fn enforce() -> Value {
    policy(NS, json!({"enforcementMode": "enforce"}))
}

/// An AdmissionReview as the API server sends it for creating `object`.
fn review(uid: &str, namespace: &str, object: Value) -> Value {
    review_as(uid, namespace, object, "kubernetes-admin")
}

/// [`review`] of a request sent by `user`.
fn review_as(uid: &str, namespace: &str, object: Value, user: &str) -> Value {
    let api_version = object["apiVersion"].as_str().unwrap_or("v1").to_owned();
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let kind = object["kind"].as_str().unwrap_or_default().to_owned();
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
            "requestKind": {"group": group, "version": version, "kind": kind},
            "name": object["metadata"]["name"],
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": user, "groups": ["system:authenticated"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        }
    })
}

fn clean_pod(name: &str) -> Value {
    pod(NS, name, "nginx:1.27", "Pending", 0)
}

fn deployment(image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
            "name": "app", "image": image,
            "livenessProbe": {"httpGet": {"path": "/", "port": 80}},
            "readinessProbe": {"httpGet": {"path": "/", "port": 80}}
        }]}}}
    })
}

#[test]
fn pods_are_allowed_denied_or_warned_by_the_namespace_policy() {
    let webhook = Webhook::start(&[enforce()], &[]);
    let allowed = webhook.review(NS, clean_pod("web"));
    assert_eq!(allowed["allowed"], true, "{allowed}");
    assert!(allowed.get("warnings").is_none(), "{allowed}");

    let denied = webhook.review(NS, pod(NS, "web", "nginx:latest", "Pending", 0));
    assert_eq!(denied["allowed"], false, "{denied}");
    assert_eq!(denied["status"]["code"], 403);
    let message = denied["status"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("app: latest-tag:"), "{message}");
    assert!(message.contains("at or above high"), "{message}");

    // A medium finding is below the default threshold: allowed, with a warning.
    let mut no_readiness = clean_pod("web");
    no_readiness["spec"]["containers"][0]
        .as_object_mut()
        .expect("container")
        .remove("readinessProbe");
    let warned = webhook.review(NS, no_readiness);
    assert_eq!(warned["allowed"], true, "{warned}");
    let warnings = warned["warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .unwrap_or_default()
            .contains("missing-readiness-probe")),
        "{warned}"
    );

    // Status checks are not run at admission: a pod "restarting" in its status is fine.
    let restarting = webhook.review(NS, pod(NS, "web", "nginx:1.27", "Running", 50));
    assert_eq!(restarting["allowed"], true, "{restarting}");

    // dryRun is evaluated the same.
    let mut dry = review("uid-1", NS, pod(NS, "web", "nginx:latest", "Pending", 0));
    dry["request"]["dryRun"] = json!(true);
    let answer = webhook.post(dry.to_string().as_bytes());
    assert_eq!(answer.json()["response"]["allowed"], false);
}

#[test]
fn workload_templates_are_reviewed() {
    let webhook = Webhook::start(&[enforce()], &[]);
    let denied = webhook.review(NS, deployment("nginx"));
    assert_eq!(denied["allowed"], false, "{denied}");
    assert!(
        denied["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("latest-tag"),
        "{denied}"
    );
    assert_eq!(
        webhook.review(NS, deployment("nginx:1.27"))["allowed"],
        true
    );
}

/// The seed's meaning of `enforcementMode`: admission denies at the threshold in `audit` mode
/// too (a seed user's audit policy with `forbidLatestTag` still blocks `nginx:latest`); only
/// `admission: warn` turns denials into warnings.
#[test]
fn exempt_objects_admission_warn_and_unpolicied_namespaces_are_allowed() {
    let webhook = Webhook::start(
        &[
            enforce(),
            policy("audit", json!({"forbidLatestTag": true})),
            policy("warn", json!({"admission": "warn"})),
        ],
        &[],
    );
    let latest = |namespace: &str| pod(namespace, "web", "nginx:latest", "Pending", 0);
    for namespace in ["kube-system", "elsewhere"] {
        let response = webhook.review(namespace, latest(namespace));
        assert_eq!(response["allowed"], true, "{namespace}: {response}");
    }
    let audit = webhook.review("audit", latest("audit"));
    assert_eq!(audit["allowed"], false, "{audit}");
    assert!(
        audit["status"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("latest-tag")),
        "{audit}"
    );
    let warned = webhook.review("warn", latest("warn"));
    assert_eq!(warned["allowed"], true, "{warned}");
    assert!(
        warned["warnings"].as_array().is_some_and(|w| !w.is_empty()),
        "{warned}"
    );
    let mut exempt = latest(NS);
    exempt["metadata"]["annotations"] = json!({"devops.stochastic.io/exempt": "true"});
    assert_eq!(webhook.review(NS, exempt)["allowed"], true);
    let mut partly = latest(NS);
    partly["metadata"]["annotations"] = json!({"devops.stochastic.io/exempt-checks": "latest-tag"});
    assert_eq!(webhook.review(NS, partly)["allowed"], true);
}

/// Regression: a namespace named like a system one (`payments-system`, `kube-*`, `monitoring`)
/// with an enforce policy admitted `nginx:latest`, because the name was checked before the
/// policy was looked up. Anyone who could create namespaces escaped every policy.
#[test]
fn a_policy_binds_its_namespace_whatever_the_namespace_is_called() {
    let namespaces = ["payments-system", "kube-apps", "monitoring", "kube-system"];
    let policies: Vec<Value> = namespaces
        .iter()
        .map(|namespace| policy(namespace, json!({"enforcementMode": "enforce"})))
        .collect();
    let webhook = Webhook::start(&policies, &[]);
    for namespace in namespaces {
        let response = webhook.review(
            namespace,
            pod(namespace, "web", "nginx:latest", "Pending", 0),
        );
        assert_eq!(response["allowed"], false, "{namespace}: {response}");
        let message = response["status"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("latest-tag"), "{namespace}: {message}");
    }
}

/// `pod` as the ReplicaSet controller makes it: with a controller ownerReference.
fn owned(mut pod: Value) -> Value {
    pod["metadata"]["ownerReferences"] = json!([{
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f7c",
        "uid": "0f5e8a6c-3c4f-4d0e-9f3a-2b1c0d9e8f7a", "controller": true,
        "blockOwnerDeletion": true,
    }]);
    pod
}

const REPLICASET_CONTROLLER: &str = "system:serviceaccount:kube-system:replicaset-controller";

#[test]
fn pods_a_workload_controller_creates_get_warnings_and_a_copied_owner_reference_proves_nothing() {
    let webhook = Webhook::start(
        &[
            enforce(),
            policy(
                "strict",
                json!({"enforcementMode": "enforce", "ownedPods": "deny"}),
            ),
        ],
        &[],
    );
    let answer = |namespace: &str, object: Value, user: &str| {
        let body = review_as("uid-o", namespace, object, user).to_string();
        webhook.post(body.as_bytes()).json()["response"].clone()
    };
    let latest = |namespace: &str| pod(namespace, "web-5d8f7c-x2x9q", "nginx:latest", "Pending", 0);

    // Its Deployment was reviewed when applied: denying the pod would strand the workload.
    let by_controller = answer(NS, owned(latest(NS)), REPLICASET_CONTROLLER);
    assert_eq!(by_controller["allowed"], true, "{by_controller}");
    let warnings = by_controller["warnings"].to_string();
    assert!(warnings.contains("latest-tag"), "{warnings}");
    assert!(warnings.contains("ownedPods"), "{warnings}");

    // A user copying an ownerReference, or a controller's pod without one: denied as before.
    let copied = answer(NS, owned(latest(NS)), "developer");
    assert_eq!(copied["allowed"], false, "{copied}");
    let unowned = answer(NS, latest(NS), REPLICASET_CONTROLLER);
    assert_eq!(unowned["allowed"], false, "{unowned}");

    // `ownedPods: deny` opts into strict.
    let strict = answer("strict", owned(latest("strict")), REPLICASET_CONTROLLER);
    assert_eq!(strict["allowed"], false, "{strict}");
}

#[test]
fn a_custom_plugin_from_the_policy_is_applied() {
    let wasm = support::plugin_wasm("no-privileged");
    let bytes = std::fs::read(&wasm).expect("plugin");
    let dir = support::temp_dir();
    std::fs::write(dir.path().join("no-privileged.wasm"), &bytes).expect("copy plugin");
    let spec = json!({
        "enforcementMode": "enforce",
        "plugins": [{"name": "no-privileged", "source": {"file": "no-privileged.wasm", "sha256": support::sha256_hex(&bytes)}}],
    });
    let plugin_dir = dir.path().to_string_lossy().into_owned();
    let webhook = Webhook::start(&[policy(NS, spec)], &["--plugin-dir", &plugin_dir]);
    let mut privileged = clean_pod("root");
    privileged["spec"]["containers"][0]["securityContext"] = json!({"privileged": true});
    let denied = webhook.review(NS, privileged);
    assert_eq!(denied["allowed"], false, "{denied}");
    assert!(
        denied["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("app: privileged-container:"),
        "{denied}"
    );
}

#[test]
fn a_plugin_that_loops_forever_fails_open_or_closed_within_the_deadline() {
    let wasm = support::plugin_wasm("misbehave");
    let bytes = std::fs::read(&wasm).expect("plugin");
    let dir = support::temp_dir();
    std::fs::write(dir.path().join("misbehave.wasm"), &bytes).expect("copy plugin");
    let spec = json!({
        "enforcementMode": "enforce",
        "plugins": [{
            "name": "misbehave",
            "settings": {"mode": "loop"},
            "source": {"file": "misbehave.wasm", "sha256": support::sha256_hex(&bytes)},
        }],
    });
    let plugin_dir = dir.path().to_string_lossy().into_owned();
    for (policy_flag, allowed) in [("ignore", true), ("fail", false)] {
        let webhook = Webhook::start(
            &[policy(NS, spec.clone())],
            &[
                "--plugin-dir",
                &plugin_dir,
                "--failure-policy",
                policy_flag,
                "--deadline-ms",
                "2000",
            ],
        );
        let started = Instant::now();
        let response = webhook.review(NS, clean_pod("web"));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "answered after the deadline"
        );
        assert_eq!(response["allowed"], allowed, "{policy_flag}: {response}");
        let text = response.to_string();
        assert!(text.contains("misbehave"), "{policy_flag}: {text}");
        assert!(text.contains("timed out"), "{policy_flag}: {text}");
        // The mutating webhook fails the same way, and proposes no patch from a failed review.
        let started = Instant::now();
        let mutated = webhook.mutate(NS, clean_pod("web"));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "answered after the deadline"
        );
        assert_eq!(mutated["allowed"], allowed, "{policy_flag}: {mutated}");
        assert!(mutated.get("patch").is_none(), "{policy_flag}: {mutated}");
        assert!(
            mutated.to_string().contains("timed out"),
            "{policy_flag}: {mutated}"
        );
    }
}

/// A fresh plugin dir holding test plugin `plugin`, and the policy entry that names it.
fn custom_plugin(plugin: &str, settings: Value) -> (tempfile::TempDir, Value) {
    let dir = support::temp_dir();
    let entry = support::policy_plugin(dir.path(), plugin, settings);
    (dir, entry)
}

/// Regression: instances of a custom plugin were reused from review to review, so a plugin
/// that kept each pod it saw in its memory could write one namespace's pod into the answer (and
/// the PolicyReport) of another. The `stash` plugin lists every pod its instance has seen.
#[test]
fn a_custom_plugin_carries_nothing_from_one_review_into_another() {
    let (dir, entry) = custom_plugin("misbehave", json!({"mode": "stash"}));
    let spec = json!({"enforcementMode": "enforce", "plugins": [entry]});
    let plugin_dir = dir.path().to_string_lossy().into_owned();
    let webhook = Webhook::start(
        &[policy(NS, spec.clone()), policy("other", spec)],
        &["--plugin-dir", &plugin_dir],
    );
    let warnings = |namespace: &str, name: &str| {
        let response = webhook.review(namespace, pod(namespace, name, "nginx:1.27", "Pending", 0));
        assert_eq!(response["allowed"], true, "{response}");
        response["warnings"].to_string()
    };
    let first = warnings(NS, "tenant-a-secret");
    assert!(
        first.contains("shop/tenant-a-secret"),
        "the plugin ran: {first}"
    );
    for (namespace, name) in [("other", "web"), (NS, "second"), ("other", "third")] {
        let later = warnings(namespace, name);
        assert!(
            later.contains(&format!("{namespace}/{name}")),
            "the plugin saw its own pod: {later}"
        );
        assert!(
            !later.contains("tenant-a-secret"),
            "{namespace}/{name} got another pod's data: {later}"
        );
    }
}

/// Regression: a policy's custom module was instantiated, asked for its metadata and
/// configured before its sha256 was compared with the pin, so a swapped file ran its code in
/// the webhook. The `marker` plugin panics with a marker as soon as any of its code runs.
#[test]
fn a_pinned_module_swapped_on_disk_never_runs() {
    let genuine = std::fs::read(support::plugin_wasm("no-privileged")).expect("plugin");
    let swapped = std::fs::read(support::plugin_wasm("marker")).expect("plugin");
    let dir = support::temp_dir();
    std::fs::write(dir.path().join("no-privileged.wasm"), &swapped).expect("swap the file");
    let spec = json!({"enforcementMode": "enforce", "plugins": [{
        "name": "no-privileged",
        "source": {"file": "no-privileged.wasm", "sha256": support::sha256_hex(&genuine)},
    }]});
    let plugin_dir = dir.path().to_string_lossy().into_owned();
    let webhook = Webhook::start(&[policy(NS, spec)], &["--plugin-dir", &plugin_dir]);
    let refused = webhook.daemon.wait_for_log("was not run");
    assert!(refused.contains("pinned to"), "{refused}");
    assert!(
        !webhook.daemon.log().contains("kube-devops-test-marker"),
        "the swapped module ran: {}",
        webhook.daemon.log()
    );
    // The namespace keeps being reviewed, with the built-in checks.
    let latest = webhook.review(NS, pod(NS, "web", "nginx:latest", "Pending", 0));
    assert_eq!(latest["allowed"], false, "{latest}");
}

/// Regression: reviews waited in an unbounded queue and ran even after their deadline, so under
/// overload every request timed out. Now each review either starts in time or is answered at
/// once by the failure policy, and no answer comes after the deadline.
#[test]
fn under_overload_reviews_are_shed_by_the_failure_policy_and_none_misses_its_deadline() {
    // Each review spins in the plugin for milliseconds: two threads sustain a few hundred
    // reviews a second; 64 clients at once are far beyond what a queue of 2 per core holds.
    let (dir, mut entry) = custom_plugin(
        "misbehave",
        json!({"mode": "spin", "spinIterations": 20_000_000}),
    );
    entry["limits"] = json!({"timeoutMs": 5000});
    let spec = json!({"enforcementMode": "enforce", "plugins": [entry]});
    let plugin_dir = dir.path().to_string_lossy().into_owned();
    let webhook = Webhook::start(
        &[policy(NS, spec)],
        &[
            "--plugin-dir",
            &plugin_dir,
            "--deadline-ms",
            "1000",
            "--queue-per-core",
            "2",
        ],
    );
    let answers: Vec<Value> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..64)
            .map(|client| {
                let webhook = &webhook;
                scope.spawn(move || {
                    let uid = format!("uid-{client}");
                    let body = review(&uid, NS, clean_pod("web")).to_string();
                    let answer = webhook.post(body.as_bytes());
                    assert_eq!(answer.status, 200, "{}", answer.body);
                    answer.json()["response"].clone()
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|client| client.join().expect("client"))
            .collect()
    });
    let shed: Vec<&Value> = answers
        .iter()
        .filter(|answer| answer.to_string().contains("overloaded"))
        .collect();
    assert!(!shed.is_empty(), "nothing was shed: {answers:?}");
    assert!(
        shed.iter().all(|answer| answer["allowed"] == true),
        "--failure-policy ignore allows with a warning: {shed:?}"
    );
    assert!(
        answers
            .iter()
            .any(|answer| answer["warnings"].to_string().contains("misbehave")),
        "some reviews ran: {answers:?}"
    );
    let metrics = webhook
        .client
        .get(&webhook.daemon.metrics_addr, "/metrics")
        .expect("metrics")
        .body;
    let metric = |name: &str| support::daemon::parse_metric(&metrics, name).unwrap_or(0.0);
    let shed_count = metric("kube_devops_webhook_shed_total{reason=\"queue_full\"}")
        + metric("kube_devops_webhook_shed_total{reason=\"would_miss_deadline\"}");
    assert_eq!(shed_count, shed.len() as f64, "{metrics}");
    // Measured by the server from receipt to answer: every one within the deadline.
    let answered =
        metric("kube_devops_webhook_request_duration_seconds_count{decision=\"allowed\"}")
            + metric("kube_devops_webhook_request_duration_seconds_count{decision=\"denied\"}");
    let in_time = metric(
        "kube_devops_webhook_request_duration_seconds_bucket{decision=\"allowed\",le=\"1\"}",
    ) + metric(
        "kube_devops_webhook_request_duration_seconds_bucket{decision=\"denied\",le=\"1\"}",
    );
    assert_eq!(answered, 64.0, "{metrics}");
    assert_eq!(in_time, answered, "answers after the deadline: {metrics}");
    assert!(
        metric("kube_devops_webhook_queue_capacity") >= 2.0,
        "the queue's bound is exported: {metrics}"
    );
}

#[test]
fn malformed_requests_get_400_and_the_server_stays_up() {
    let webhook = Webhook::start(&[enforce()], &[]);
    let cases: [(&str, Vec<u8>); 5] = [
        ("not JSON", b"{\"kind\": ".to_vec()),
        ("wrong version", br#"{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "1"}}"#.to_vec()),
        ("wrong kind", br#"{"apiVersion": "v1", "kind": "Pod"}"#.to_vec()),
        ("no object", json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": NS, "operation": "CREATE"}}).to_string().into_bytes()),
        ("over the limit", vec![b' '; 5 << 20]),
    ];
    for (what, body) in cases {
        let answer = webhook.post(&body);
        assert_eq!(answer.status, 400, "{what}: {}", answer.body);
        assert_eq!(answer.json()["reason"], "BadRequest", "{what}");
    }
    assert_eq!(webhook.review(NS, clean_pod("web"))["allowed"], true);
    let metrics = webhook
        .client
        .get(&webhook.daemon.metrics_addr, "/metrics")
        .expect("metrics");
    assert_eq!(
        support::daemon::parse_metric(
            &metrics.body,
            "kube_devops_webhook_errors_total{kind=\"bad_request\"}"
        ),
        Some(5.0),
        "{}",
        metrics.body
    );
}

#[test]
fn concurrent_reviews_are_all_answered() {
    let webhook = Webhook::start(&[enforce()], &[]);
    std::thread::scope(|scope| {
        for thread in 0..16 {
            let webhook = &webhook;
            scope.spawn(move || {
                for index in 0..10 {
                    let image = if (thread + index) % 2 == 0 {
                        "nginx:latest"
                    } else {
                        "nginx:1.27"
                    };
                    let uid = format!("uid-{thread}-{index}");
                    let answer = webhook.post(
                        review(&uid, NS, pod(NS, "web", image, "Pending", 0))
                            .to_string()
                            .as_bytes(),
                    );
                    let body = answer.json();
                    assert_eq!(body["response"]["uid"], uid.as_str());
                    assert_eq!(body["response"]["allowed"], image == "nginx:1.27", "{body}");
                }
            });
        }
    });
}

#[test]
fn a_rotated_certificate_is_picked_up_while_requests_flow() {
    let webhook = Webhook::start(&[enforce()], &[]);
    let certs = webhook.dir.path().join("certs");
    let old_ca = std::fs::read_to_string(certs.join("ca.crt")).expect("ca");
    let old_cert = der_of(&std::fs::read_to_string(certs.join("tls.crt")).expect("cert"));
    let rotated = webhook.dir.path().join("rotated");
    generate_certs(&rotated);
    let new_ca = std::fs::read_to_string(rotated.join("ca.crt")).expect("ca");
    let new_cert = der_of(&std::fs::read_to_string(rotated.join("tls.crt")).expect("cert"));
    // A client trusting both, as the API server does while cert-manager rotates the bundle.
    let client = Client::trusting(&[&old_ca, &new_ca]);
    let address = webhook.daemon.metrics_addr.clone();
    let body = review("uid-r", NS, clean_pod("web")).to_string();

    let first = client
        .post(&address, "/validate", body.as_bytes())
        .expect("answer");
    assert_eq!(first.server_cert, old_cert);
    // Replace the files as cert-manager does (the key first: the pair is read together).
    std::fs::copy(rotated.join("tls.key"), certs.join("tls.key")).expect("key");
    std::fs::copy(rotated.join("tls.crt"), certs.join("tls.crt")).expect("cert");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut answered = 0;
    loop {
        let answer = client
            .post(&address, "/validate", body.as_bytes())
            .unwrap_or_else(|error| panic!("a request failed during rotation: {error}"));
        assert_eq!(answer.json()["response"]["allowed"], true);
        answered += 1;
        if answer.server_cert == new_cert {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served after {answered} requests"
        );
    }
    webhook.daemon.wait_for_log("serving certificate reloaded");
    // Only the new CA is needed now.
    let fresh = Client::trusting(&[&new_ca]);
    assert_eq!(
        fresh
            .post(&address, "/validate", body.as_bytes())
            .expect("answer")
            .status,
        200
    );
}

#[test]
fn install_config_carries_the_ca_bundle_and_the_rules() {
    let dir = support::temp_dir();
    generate_certs(dir.path());
    let ca = dir.path().join("ca.crt").to_string_lossy().into_owned();
    let run = support::run_with_stdin(
        &[
            "webhook",
            "install-config",
            "--ca",
            &ca,
            "--failure-policy",
            "Fail",
            "--timeout-seconds",
            "7",
        ],
        "",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let config: k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration =
        serde_saphyr::from_str(&run.stdout).expect("a ValidatingWebhookConfiguration");
    let webhook = &config.webhooks.expect("webhooks")[0];
    let bundle = webhook.client_config.ca_bundle.as_ref().expect("caBundle");
    assert_eq!(
        bundle.0,
        std::fs::read(dir.path().join("ca.crt")).expect("ca")
    );
    assert_eq!(webhook.failure_policy.as_deref(), Some("Fail"));
    assert_eq!(webhook.timeout_seconds, Some(7));
    assert_eq!(webhook.side_effects, "None");
    let rules = webhook.rules.as_ref().expect("rules");
    let resources: Vec<&String> = rules
        .iter()
        .flat_map(|r| r.resources.iter().flatten())
        .collect();
    for resource in [
        "pods",
        "deployments",
        "statefulsets",
        "daemonsets",
        "replicasets",
        "jobs",
        "cronjobs",
    ] {
        assert!(
            resources.iter().any(|r| *r == resource),
            "{resource} missing"
        );
    }
    let selector = webhook
        .namespace_selector
        .as_ref()
        .expect("namespaceSelector");
    let skipped = &selector.match_expressions.as_ref().expect("expressions")[0];
    assert_eq!(skipped.operator, "NotIn");
    assert!(
        skipped
            .values
            .iter()
            .flatten()
            .any(|ns| ns == "kube-system")
    );
}

/// The selector follows `--system-namespace`; `--url` reaches a webhook outside the cluster.
#[test]
fn install_config_follows_the_system_namespaces_and_takes_a_url() {
    let dir = support::temp_dir();
    generate_certs(dir.path());
    let ca = dir.path().join("ca.crt").to_string_lossy().into_owned();
    let run = support::run(&[
        "webhook",
        "install-config",
        "--ca",
        &ca,
        "--system-namespace",
        "platform",
        "--system-namespace",
        "kube-system",
        "--url",
        "https://192.0.2.10:8443/validate",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let config: k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration =
        serde_saphyr::from_str(&run.stdout).expect("a ValidatingWebhookConfiguration");
    let webhook = &config.webhooks.expect("webhooks")[0];
    assert_eq!(
        webhook.client_config.url.as_deref(),
        Some("https://192.0.2.10:8443/validate")
    );
    assert!(webhook.client_config.service.is_none(), "{webhook:?}");
    let skipped = webhook
        .namespace_selector
        .as_ref()
        .expect("selector")
        .match_expressions
        .as_ref()
        .expect("expressions")[0]
        .values
        .clone()
        .unwrap_or_default();
    assert_eq!(skipped, ["platform", "kube-system", "kube-devops"]);
}

/// The README's local run: `cert-generate`, `serve --policies`, the example reviews.
#[test]
fn the_examples_run_without_a_cluster() {
    let dir = support::temp_dir();
    let certs = dir.path().join("certs");
    generate_certs(&certs);
    let cert = certs.join("tls.crt").to_string_lossy().into_owned();
    let key = certs.join("tls.key").to_string_lossy().into_owned();
    let daemon = Daemon::spawn_command(&[
        "webhook",
        "serve",
        "--policies",
        "examples/webhook/policy.yaml",
        "--cert",
        &cert,
        "--key",
        &key,
        "--addr",
        "127.0.0.1:0",
    ]);
    let ca = std::fs::read_to_string(certs.join("ca.crt")).expect("ca.crt");
    let client = Client::trusting(&[&ca]);
    let example = |name: &str| {
        std::fs::read(support::workspace().join("examples/webhook").join(name)).expect("example")
    };
    let allowed = client
        .post(
            &daemon.metrics_addr,
            "/validate",
            &example("review-allowed.json"),
        )
        .expect("answer")
        .json();
    assert_eq!(allowed["response"]["allowed"], true, "{allowed}");
    assert_eq!(allowed["response"]["uid"], "5d7a-allowed");
    let denied = client
        .post(
            &daemon.metrics_addr,
            "/validate",
            &example("review-denied.json"),
        )
        .expect("answer")
        .json();
    assert_eq!(denied["response"]["allowed"], false, "{denied}");
    let message = denied["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("app: latest-tag:"), "{message}");
    let warnings = denied["response"]["warnings"].to_string();
    assert!(warnings.contains("missing-readiness-probe"), "{warnings}");
}

#[test]
fn a_policy_change_in_the_cluster_reaches_the_webhook_by_its_watch() {
    let server = ApiServer::start();
    server.apply_object(policy(
        NS,
        json!({"enforcementMode": "audit", "admission": "warn"}),
    ));
    let dir = support::temp_dir();
    let certs = dir.path().join("certs");
    generate_certs(&certs);
    let kubeconfig = server.kubeconfig(dir.path());
    let cert = certs.join("tls.crt").to_string_lossy().into_owned();
    let key = certs.join("tls.key").to_string_lossy().into_owned();
    let daemon = Daemon::webhook(&kubeconfig, &["--cert", &cert, "--key", &key]);
    daemon.wait_for_log("policies loaded; ready");
    let ca = std::fs::read_to_string(certs.join("ca.crt")).expect("ca.crt");
    let client = Client::trusting(&[&ca]);
    let body = review("uid-w", NS, pod(NS, "web", "nginx:latest", "Pending", 0)).to_string();
    let allowed = |client: &Client| {
        client
            .post(&daemon.metrics_addr, "/validate", body.as_bytes())
            .expect("answer")
            .json()["response"]["allowed"]
            .as_bool()
    };
    assert_eq!(allowed(&client), Some(true), "admission: warn only warns");
    let requests_before = server.requests_to("/apis/devops.stochastic.io").len();

    // The seed's meaning: an audit policy denies at admission too.
    server.apply_object(policy(NS, json!({"enforcementMode": "audit"})));
    // The watch brings the change; the catalog is rebuilt and published off the request path.
    let deadline = Instant::now() + Duration::from_secs(30);
    while allowed(&client) != Some(false) {
        assert!(
            Instant::now() < deadline,
            "the denying policy never applied"
        );
    }
    // No API call per request: the only requests since are the watch's.
    let since: Vec<String> =
        server.requests_to("/apis/devops.stochastic.io")[requests_before..].to_vec();
    assert!(
        since.iter().all(|request| request.contains("watch")),
        "{since:?}"
    );
}

/// The policy library's `pod-security` is off by default and runs where a policy names it: the
/// same privileged pod is allowed under the seed's checks and denied where the policy lists the
/// plugin (its baseline `privileged` check is `high`, the default deny threshold).
#[test]
fn a_policy_naming_pod_security_enforces_the_pod_security_standards() {
    let strict = policy(
        "strict",
        json!({"enforcementMode": "enforce",
               "plugins": [{"name": "pod-security", "settings": {"level": "baseline"}}]}),
    );
    let webhook = Webhook::start(&[enforce(), strict], &[]);
    let privileged = |namespace: &str| {
        let mut pod = pod(namespace, "web", "nginx:1.27", "Pending", 0);
        pod["spec"]["containers"][0]["securityContext"] = json!({"privileged": true});
        pod
    };
    let seed = webhook.review(NS, privileged(NS));
    assert_eq!(seed["allowed"], true, "the seed's checks only: {seed}");

    let denied = webhook.review("strict", privileged("strict"));
    assert_eq!(denied["allowed"], false, "{denied}");
    let message = denied["status"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("privileged"), "{message}");
    let clean = webhook.review("strict", pod("strict", "web", "nginx:1.27", "Pending", 0));
    assert_eq!(clean["allowed"], true, "{clean}");
}

/// The mutating webhook answers a JSONPatch of the findings' fixes. Applied by an independent
/// RFC 6902 implementation, as the API server applies it, the patch yields an object the
/// validating webhook admits, since every finding it had was fixable: probes from the policy's
/// `defaultProbe` (on the container's first port), the missing requests and limits from
/// `defaultResources`, and the restricted Pod Security settings that are safe to set.
#[test]
fn the_mutating_webhook_patch_makes_an_object_with_only_fixable_findings_admissible() {
    let spec = json!({
        "admissionThreshold": "low",
        "defaultProbe": {"initialDelaySeconds": 7},
        "defaultResources": {"cpuRequest": "100m", "cpuLimit": "500m",
                             "memoryRequest": "128Mi", "memoryLimit": "256Mi"},
        "plugins": [
            {"name": "pod-security", "settings": {"level": "restricted"},
             "checks": ["allow-privilege-escalation", "capabilities-restricted",
                        "seccomp-profile-restricted"]},
            {"name": "best-practices",
             "checks": ["cpu-requests-missing", "memory-requests-missing",
                        "cpu-limits-missing", "memory-limits-missing"]},
        ],
    });
    let webhook = Webhook::start(&[policy(NS, spec)], &[]);
    let mut object = deployment("nginx:1.27");
    object["spec"]["template"]["spec"]["containers"][0] = json!({
        "name": "app", "image": "nginx:1.27",
        "ports": [{"containerPort": 80}],
        "resources": {"limits": {"memory": "1Gi"}},
    });
    let before = webhook.review(NS, object.clone());
    assert_eq!(before["allowed"], false, "{before}");

    let mutated = webhook.mutate(NS, object.clone());
    assert_eq!(mutated["allowed"], true, "{mutated}");
    assert_eq!(mutated["patchType"], "JSONPatch", "{mutated}");
    use base64::Engine;
    let patch = base64::engine::general_purpose::STANDARD
        .decode(mutated["patch"].as_str().expect("a patch"))
        .expect("base64");
    let patch: json_patch::Patch = serde_json::from_slice(&patch).expect("an RFC 6902 patch");
    let mut patched = object.clone();
    json_patch::patch(&mut patched, &patch).expect("the patch applies");

    let pod = &patched["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(
            container[probe],
            json!({"tcpSocket": {"port": 80}, "initialDelaySeconds": 7, "periodSeconds": 10}),
            "{patched}"
        );
    }
    assert_eq!(
        container["resources"],
        json!({"limits": {"memory": "1Gi", "cpu": "500m"},
               "requests": {"cpu": "100m", "memory": "128Mi"}}),
        "only the missing quantities are added: {patched}"
    );
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(
        container["securityContext"]["capabilities"]["drop"],
        json!(["ALL"])
    );
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    // Nothing outside the pod template changed.
    assert_eq!(patched["metadata"], object["metadata"]);

    let after = webhook.review(NS, patched.clone());
    assert_eq!(after["allowed"], true, "{after}");
    let again = webhook.mutate(NS, patched);
    assert!(
        again.get("patch").is_none(),
        "a fixed object needs no patch: {again}"
    );
}
