//! `kube-devops operator` against the loopback API server fixture: the real binary, its real
//! kube-rs client, watch streams, server-side apply, leases. Every wait is on a condition of the
//! fixture's store (woken by each change) or of the operator's log, with a deadline.

mod support;

use serde_json::{Value, json};
use support::apiserver::{ApiServer, pod};
use support::daemon::{DEADLINE, Operator};

const NS: &str = "shop";

fn policy(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "devops.stochastic.io/v1",
        "kind": "DevOpsPolicy",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    })
}

/// Waits until the policy's status satisfies `check`, and returns it.
fn wait_status(server: &ApiServer, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    server.wait_for(DEADLINE, what, |store| {
        let status = store.object("devopspolicies", Some(NS), "default")?["status"].clone();
        check(&status).then_some(status)
    })
}

/// The status condition of `kind`, or null.
fn condition<'a>(status: &'a Value, kind: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .and_then(|conditions| conditions.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

fn report(server: &ApiServer) -> Value {
    server
        .object("policyreports", Some(NS), "kube-devops")
        .unwrap_or(Value::Null)
}

fn start_operator(server: &ApiServer, dir: &std::path::Path, extra: &[&str]) -> Operator {
    let kubeconfig = server.kubeconfig(dir);
    let mut args = vec!["--leader-election=false"];
    args.extend_from_slice(extra);
    Operator::start(&kubeconfig, &args)
}

#[test]
fn a_pod_appearing_changing_and_leaving_moves_status_report_and_metrics() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    server.apply_object(policy("default", json!({})));
    server.apply_object(pod(NS, "web", "nginx:1.27", "Running", 0));
    let operator = start_operator(&server, dir.path(), &[]);

    let status = wait_status(&server, "the clean pod is counted", |status| {
        status["podsAnalyzed"] == 1
    });
    assert_eq!(status["healthScore"], 100);
    assert_eq!(operator.get("/readyz").0, 200);

    server.apply_object(pod(NS, "web", "nginx:latest", "Running", 0));
    let status = wait_status(&server, "the latest tag is reported", |status| {
        status["findingsByCheck"]["latest-tag"] == 1
    });
    assert_eq!(status["healthScore"], 95);
    assert_eq!(status["status"], "Healthy");
    assert_eq!(status["findingsBySeverity"]["high"], 1);
    assert_eq!(status["violations"][0]["check"], "latest-tag");
    assert_eq!(status["violations"][0]["pod"], "web");
    let conditions = status["conditions"].as_array().expect("conditions");
    assert!(
        conditions
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    );
    assert!(
        conditions
            .iter()
            .any(|c| c["type"] == "Enforcing" && c["status"] == "True" && c["reason"] == "Audit")
    );
    server.wait_until(DEADLINE, "the report lists the finding", |store| {
        store
            .object("policyreports", Some(NS), "kube-devops")
            .is_some_and(|report| report["summary"]["fail"] == 1)
    });
    let report = report(&server);
    assert_eq!(report["results"][0]["rule"], "latest-tag");
    assert_eq!(report["results"][0]["result"], "fail");
    assert_eq!(report["results"][0]["resources"][0]["name"], "web");

    // /metrics is valid exposition text and says what the status says.
    let (code, body) = operator.get("/metrics");
    assert_eq!(code, 200);
    let sample = format!("kube_devops_namespace_health_score{{namespace=\"{NS}\"}}");
    assert_eq!(support::daemon::parse_metric(&body, &sample), Some(95.0));
    assert_eq!(
        support::daemon::parse_metric(
            &body,
            "kube_devops_findings{check=\"latest-tag\",severity=\"high\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        support::daemon::parse_metric(&body, "kube_devops_pods_tracked"),
        Some(1.0)
    );
    let calls = support::daemon::parse_metric(
        &body,
        "kube_devops_plugin_call_duration_seconds_count{plugin=\"latest-tag\"}",
    );
    assert!(calls.is_some_and(|calls| calls >= 2.0), "{body}");

    server.apply_object(pod(NS, "web", "nginx:1.28", "Running", 0));
    let status = wait_status(&server, "the fixed pod recovers the score", |status| {
        status["healthScore"] == 100 && status["podsAnalyzed"] == 1
    });
    assert!(
        status["findingsByCheck"].get("latest-tag").is_none(),
        "{status}"
    );

    server.apply_object(pod(NS, "worker", "busybox", "Running", 0));
    wait_status(&server, "a second pod is counted", |status| {
        status["podsAnalyzed"] == 2 && status["findingsByCheck"]["latest-tag"] == 1
    });
    server.delete_object("v1", "Pod", Some(NS), "worker");
    let status = wait_status(&server, "the deleted pod leaves the counts", |status| {
        status["podsAnalyzed"] == 1
    });
    assert_eq!(status["healthScore"], 100);
    assert_eq!(operator.terminate(), 0);
}

#[test]
fn a_policy_edit_reevaluates_its_namespace_and_exempt_pods_are_not_counted() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    server.apply_object(policy("default", json!({"forbidLatestTag": true})));
    server.apply_object(pod(NS, "web", "nginx:latest", "Running", 0));
    let mut exempt = pod(NS, "legacy", "legacy:latest", "Running", 0);
    exempt["metadata"]["annotations"] = json!({"devops.stochastic.io/exempt": "true"});
    server.apply_object(exempt);
    let mut partly = pod(NS, "batch", "batch:latest", "Running", 0);
    partly["metadata"]["annotations"] = json!({"devops.stochastic.io/exempt-checks": "latest-tag"});
    server.apply_object(partly);
    // Another namespace, without policy: analysed with the defaults, untouched by the edit.
    server.apply_object(pod("other", "api", "api:latest", "Running", 0));
    let _operator = start_operator(&server, dir.path(), &[]);

    let status = wait_status(&server, "the first evaluation", |status| {
        status["findingsByCheck"]["latest-tag"] == 1
    });
    assert_eq!(status["podsAnalyzed"], 2);
    assert_eq!(status["exempted"], 1);
    assert_eq!(status["exemptedFindings"], 1);
    assert_eq!(status["observedGeneration"], 1);
    let reports_before = server
        .requests_with_method("PATCH", "/apis/wgpolicyk8s.io/v1alpha2/namespaces/other/")
        .len();

    let mut edited = server
        .object("devopspolicies", Some(NS), "default")
        .expect("policy");
    edited["spec"] = json!({
        "forbidLatestTag": false,
        "enforcementMode": "enforce",
        "severityOverrides": {"missing-liveness-probe": "critical"},
    });
    server.apply_object(edited);
    let status = wait_status(&server, "the edit is applied", |status| {
        status["observedGeneration"] == 2
    });
    assert_eq!(status["healthScore"], 100);
    assert!(
        status["findingsByCheck"].get("latest-tag").is_none(),
        "{status}"
    );
    let enforcing = status["conditions"]
        .as_array()
        .and_then(|conditions| conditions.iter().find(|c| c["type"] == "Enforcing"))
        .expect("Enforcing condition");
    assert_eq!(enforcing["status"], "True");
    assert_eq!(enforcing["reason"], "Enforce");
    assert_eq!(
        server
            .requests_with_method("GET", "/api/v1/namespaces/shop/pods")
            .len(),
        1,
        "the namespace is listed once to re-analyse it"
    );
    assert!(
        server
            .requests_with_method("GET", "/api/v1/namespaces/other/pods")
            .is_empty()
    );
    assert_eq!(
        server
            .requests_with_method("PATCH", "/apis/wgpolicyk8s.io/v1alpha2/namespaces/other/")
            .len(),
        reports_before,
        "the other namespace is not rewritten"
    );
    server.wait_until(
        DEADLINE,
        "the namespace without policy has a report",
        |store| {
            store
                .object("policyreports", Some("other"), "kube-devops")
                .is_some_and(|report| report["summary"]["fail"] == 1)
        },
    );
}

#[test]
fn an_invalid_policy_is_reported_in_its_status() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    server.apply_object(policy(
        "default",
        json!({"severityOverrides": {"latest-tags": "high"}}),
    ));
    server.apply_object(pod(NS, "web", "nginx:latest", "Running", 0));
    let _operator = start_operator(&server, dir.path(), &[]);
    let status = wait_status(&server, "the policy is refused", |status| {
        condition(status, "Ready")["reason"] == "InvalidPolicy"
    });
    let ready = condition(&status, "Ready");
    assert_eq!(ready["status"], "False");
    assert!(
        ready["message"]
            .as_str()
            .unwrap_or_default()
            .contains("latest-tags"),
        "{ready}"
    );
    // The namespace is still analysed, with the defaults.
    assert_eq!(status["findingsByCheck"]["latest-tag"], 1);
}

#[test]
fn without_the_policyreport_crd_the_operator_says_so_once_and_goes_on() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    server.set_installed("policyreports", false);
    server.apply_object(policy("default", json!({})));
    server.apply_object(pod(NS, "web", "nginx:latest", "Running", 0));
    server.apply_object(pod("other", "api", "api:latest", "Running", 0));
    let operator = start_operator(&server, dir.path(), &[]);
    wait_status(&server, "the status is written", |status| {
        status["findingsByCheck"]["latest-tag"] == 1
    });
    operator.wait_for_log("PolicyReport CRD");
    server.apply_object(pod(NS, "web", "nginx:1.27", "Running", 0));
    wait_status(&server, "later changes still reach the status", |status| {
        status["healthScore"] == 100
    });
    assert_eq!(
        operator.log_lines("PolicyReport CRD").len(),
        1,
        "{}",
        operator.log()
    );
}

#[test]
fn one_leader_writes_a_standby_takes_over_and_sigterm_releases_the_lease() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    server.apply_object(policy("default", json!({})));
    server.apply_object(pod(NS, "web", "nginx:latest", "Running", 0));
    let election = |identity: &'static str| {
        Operator::start(
            &kubeconfig,
            &[
                "--leader-election",
                "--lease-namespace",
                "default",
                "--lease-duration",
                "2",
                "--identity",
                identity,
            ],
        )
    };
    let first = election("replica-a");
    let holder = |server: &ApiServer| -> String {
        server.wait_for(DEADLINE, "a replica holds the lease", |store| {
            let lease = store.object("leases", Some("default"), "kube-devops-operator")?;
            lease["spec"]["holderIdentity"].as_str().map(str::to_owned)
        })
    };
    assert_eq!(holder(&server), "replica-a");
    wait_status(&server, "the leader writes", |status| {
        status["findingsByCheck"]["latest-tag"] == 1
    });
    let second = election("replica-b");
    second.wait_for_log("initial sync done");
    assert_eq!(first.metric("kube_devops_leader"), Some(1.0));
    assert_eq!(second.metric("kube_devops_leader"), Some(0.0));
    // The standby analysed everything but wrote nothing.
    assert_eq!(second.metric("kube_devops_pods_tracked"), Some(1.0));
    server.apply_object(pod(NS, "web", "nginx:1.27", "Running", 0));
    wait_status(&server, "the leader writes the change", |status| {
        status["healthScore"] == 100
    });
    let (_, standby_metrics) = second.get("/metrics");
    assert!(
        !standby_metrics.contains("kube_devops_writes_total{"),
        "the standby wrote:\n{standby_metrics}"
    );

    // The leader dies without releasing: the standby takes over once the lease expires.
    first.kill();
    server.wait_until(DEADLINE, "the standby takes the lease", |store| {
        store
            .object("leases", Some("default"), "kube-devops-operator")
            .is_some_and(|lease| lease["spec"]["holderIdentity"] == "replica-b")
    });
    server.apply_object(pod(NS, "web", "nginx:latest", "Running", 0));
    wait_status(&server, "the new leader writes", |status| {
        status["findingsByCheck"]["latest-tag"] == 1
    });
    assert_eq!(second.metric("kube_devops_leader"), Some(1.0));

    // SIGTERM: the leader releases the lease and exits cleanly.
    assert_eq!(second.terminate(), 0);
    let lease = server
        .object("leases", Some("default"), "kube-devops-operator")
        .expect("lease");
    assert!(
        lease["spec"]["holderIdentity"].is_null(),
        "lease not released: {lease}"
    );
}

#[test]
fn dropped_watches_expired_history_errors_and_a_restart_lose_nothing() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    server.apply_object(policy("default", json!({})));
    for index in 0..10 {
        server.apply_object(pod(NS, &format!("web-{index}"), "nginx:1.27", "Running", 0));
    }
    let _operator = start_operator(&server, dir.path(), &[]);
    wait_status(&server, "ten clean pods", |status| {
        status["podsAnalyzed"] == 10 && status["healthScore"] == 100
    });

    // A dropped watch: the operator resumes from its last resourceVersion.
    server.drop_watches();
    for index in 0..3 {
        server.apply_object(pod(
            NS,
            &format!("web-{index}"),
            "nginx:latest",
            "Running",
            0,
        ));
    }
    wait_status(&server, "changes after a dropped watch", |status| {
        status["findingsByCheck"]["latest-tag"] == 3
    });

    // Expired history (410 Gone): the operator re-lists; a pod deleted meanwhile is forgotten.
    server.expire_history();
    server.delete_object("v1", "Pod", Some(NS), "web-9");
    server.apply_object(pod(NS, "web-3", "nginx:latest", "Running", 0));
    wait_status(&server, "changes across a re-list", |status| {
        status["podsAnalyzed"] == 9 && status["findingsByCheck"]["latest-tag"] == 4
    });

    // Conflicts and server errors on writes are retried.
    server.fail_next("PATCH", "/status", 2, 409);
    server.fail_next("PATCH", "/status", 2, 500);
    server.apply_object(pod(NS, "web-4", "nginx:latest", "Running", 0));
    wait_status(&server, "a write that failed four times lands", |status| {
        status["findingsByCheck"]["latest-tag"] == 5
    });

    // The API server restarts; changes made while it was down arrive afterwards.
    server.stop();
    server.start_again();
    server.delete_object("v1", "Pod", Some(NS), "web-0");
    server.apply_object(pod(NS, "new", "nginx:latest", "Running", 0));
    let status = wait_status(&server, "changes after a restart", |status| {
        status["podsAnalyzed"] == 9 && status["findingsByCheck"]["latest-tag"] == 5
    });
    // web-1..4 and `new` carry the latest tag; nothing counted twice.
    assert_eq!(status["findingsBySeverity"]["high"], 5);
    assert_eq!(status["healthScore"], 100 - (5 * 5) / 9);
    server.wait_until(DEADLINE, "the report agrees", |store| {
        store
            .object("policyreports", Some(NS), "kube-devops")
            .is_some_and(|report| report["summary"]["fail"] == 5 && report["summary"]["pass"] == 4)
    });
}

#[test]
fn the_crd_under_deploy_is_the_generated_one() {
    let run = support::run_with_stdin(&["crd", "generate"], "");
    assert_eq!(run.code, 0, "{run:?}");
    let committed = std::fs::read_to_string(
        support::workspace().join("deploy/helm/kube-devops/crds/devopspolicy.yaml"),
    )
    .expect("deploy/helm/kube-devops/crds/devopspolicy.yaml");
    assert_eq!(
        run.stdout, committed,
        "deploy/helm/kube-devops/crds/devopspolicy.yaml is stale: run `cargo run -- crd generate > deploy/helm/kube-devops/crds/devopspolicy.yaml`"
    );
    assert!(run.stdout.contains("kind: CustomResourceDefinition"));
    assert!(run.stdout.contains("forbidPendingDuration"));
}

#[test]
fn crd_install_applies_the_crd_by_server_side_apply() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    let run = support::run_with_stdin(&["crd", "install", "--kubeconfig", &kubeconfig], "");
    assert_eq!(run.code, 0, "{run:?}");
    let crd = server
        .object(
            "customresourcedefinitions",
            None,
            "devopspolicies.devops.stochastic.io",
        )
        .expect("the CRD was created");
    assert_eq!(crd["spec"]["names"]["kind"], "DevOpsPolicy");
    let patches = server.requests_with_method(
        "PATCH",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/",
    );
    assert_eq!(patches.len(), 1);
    assert!(
        patches[0].contains("fieldManager=kube-devops"),
        "{patches:?}"
    );
}

#[test]
fn a_pending_pod_counts_once_forbid_pending_duration_is_up_without_changing() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    server.apply_object(policy("default", json!({"forbidPendingDuration": 2})));
    // The fixture stamps `creationTimestamp` with the current time.
    let created = std::time::Instant::now();
    server.apply_object(pod(NS, "waiting", "nginx:1.27", "Pending", 0));
    let _operator = start_operator(&server, dir.path(), &[]);
    let status = wait_status(&server, "the young Pending pod is analysed", |status| {
        status["podsAnalyzed"] == 1
    });
    // Timestamps have whole seconds: under one second since creation, the pod is certainly
    // younger than two by the plugin's reckoning.
    if created.elapsed() < std::time::Duration::from_secs(1) {
        assert!(
            status["findingsByCheck"].get("pending").is_none(),
            "{status}"
        );
    }
    // The pod never changes; the operator looks at it again when its two seconds are up.
    wait_status(
        &server,
        "the pod counts once it has been Pending too long",
        |status| status["findingsByCheck"]["pending"] == 1,
    );
}

#[test]
fn a_namespace_changing_status_class_gets_an_event_on_its_policy() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    server.apply_object(policy("default", json!({})));
    server.apply_object(pod(NS, "web", "nginx:1.27", "Running", 0));
    let _operator = start_operator(&server, dir.path(), &[]);
    wait_status(&server, "a healthy namespace", |status| {
        status["status"] == "Healthy"
    });
    // Latest tag (5) and a crash loop (6 × 5): score 65, Stable.
    server.apply_object(pod(NS, "web", "nginx:latest", "Running", 9));
    wait_status(&server, "the namespace becomes Stable", |status| {
        status["status"] == "Stable" && status["healthScore"] == 65
    });
    let event = server.wait_for(DEADLINE, "an event on the policy", |store| {
        store
            .objects("events.events.k8s.io")
            .into_iter()
            .find(|event| event["regarding"]["name"] == "default")
    });
    assert_eq!(event["reason"], "StatusChanged");
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["regarding"]["kind"], "DevOpsPolicy");
    let note = event["note"].as_str().unwrap_or_default();
    assert!(note.contains("from Healthy to Stable"), "{note}");
}

#[test]
fn a_custom_plugin_named_by_a_policy_runs_only_with_its_pinned_digest() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    let wasm = support::plugin_wasm("no-privileged");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin dir");
    let bytes = std::fs::read(&wasm).expect("plugin bytes");
    std::fs::write(plugins.join("no-privileged.wasm"), &bytes).expect("copy plugin");
    let digest = support::sha256_hex(&bytes);
    let custom = |sha256: &str| {
        json!({"plugins": [{
            "name": "no-privileged",
            "checks": ["privileged-container"],
            "source": {"file": "no-privileged.wasm", "sha256": sha256},
        }]})
    };
    server.apply_object(policy("default", custom(&digest)));
    let mut privileged = pod(NS, "root", "nginx:1.27", "Running", 0);
    privileged["spec"]["containers"][0]["securityContext"] = json!({"privileged": true});
    server.apply_object(privileged);
    let plugin_dir = plugins.to_string_lossy().into_owned();
    let _operator = start_operator(&server, dir.path(), &["--plugin-dir", &plugin_dir]);
    let status = wait_status(&server, "the custom check reports", |status| {
        status["findingsByCheck"]["privileged-container"] == 1
    });
    assert_eq!(status["findingsBySeverity"]["critical"], 1);

    // Another digest: the module is refused, and the namespace falls back to the defaults.
    let mut edited = server
        .object("devopspolicies", Some(NS), "default")
        .expect("policy");
    edited["spec"] = custom(&"0".repeat(64));
    server.apply_object(edited);
    let status = wait_status(&server, "the wrong digest is refused", |status| {
        status["observedGeneration"] == 2
    });
    let ready = condition(&status, "Ready");
    assert_eq!(ready["reason"], "InvalidPolicy");
    assert!(
        ready["message"]
            .as_str()
            .unwrap_or_default()
            .contains("sha256"),
        "{ready}"
    );
    assert!(
        status["findingsByCheck"]
            .get("privileged-container")
            .is_none(),
        "{status}"
    );
}

fn policy_in(namespace: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "devops.stochastic.io/v1",
        "kind": "DevOpsPolicy",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": spec,
    })
}

fn status_in(
    server: &ApiServer,
    namespace: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    server.wait_for(DEADLINE, what, |store| {
        let status = store.object("devopspolicies", Some(namespace), "default")?["status"].clone();
        check(&status).then_some(status)
    })
}

/// Regression: the operator skipped every namespace that looked like a system namespace
/// (`*-system`, `kube-*`, ...) before looking for its policy, so a namespace named
/// `payments-system` escaped its own DevOpsPolicy.
#[test]
fn a_namespace_with_a_policy_is_analysed_whatever_it_is_called() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    server.apply_object(policy_in("payments-system", json!({})));
    server.apply_object(pod("payments-system", "web", "nginx:latest", "Running", 0));
    // Without a policy, a system namespace is still left alone.
    server.apply_object(pod("kube-system", "dns", "coredns:latest", "Running", 0));
    let operator = start_operator(&server, dir.path(), &[]);
    let status = status_in(
        &server,
        "payments-system",
        "the pod is analysed",
        |status| status["podsAnalyzed"] == 1,
    );
    assert_eq!(status["findingsByCheck"]["latest-tag"], 1, "{status}");
    let (_, metrics) = operator.get("/metrics");
    assert_eq!(
        support::daemon::parse_metric(&metrics, "kube_devops_pods_tracked"),
        Some(1.0),
        "kube-system has no policy and is not tracked: {metrics}"
    );
}

/// Regression: one instance of a custom plugin analysed pod after pod, so a plugin keeping
/// each pod it saw could write one pod's data into another's findings, and another
/// namespace's PolicyReport. The `stash` plugin lists every pod its instance has seen.
#[test]
fn a_custom_plugin_carries_nothing_from_one_pod_into_another_pods_report() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    let plugins = dir.path().join("plugins");
    let entry = support::policy_plugin(&plugins, "misbehave", json!({"mode": "stash"}));
    let plugin_dir = plugins.to_string_lossy().into_owned();
    let spec = json!({"plugins": [entry]});
    for namespace in ["tenant-a", "tenant-b"] {
        server.apply_object(policy_in(namespace, spec.clone()));
    }
    server.apply_object(pod("tenant-a", "secret-a", "nginx:1.27", "Running", 0));
    server.apply_object(pod("tenant-a", "web-a", "nginx:1.27", "Running", 0));
    server.apply_object(pod("tenant-b", "web-b", "nginx:1.27", "Running", 0));
    let _operator = start_operator(&server, dir.path(), &["--plugin-dir", &plugin_dir]);
    for (namespace, pods) in [("tenant-a", 2), ("tenant-b", 1)] {
        let report = server.wait_for(DEADLINE, "each pod is reported", |store| {
            let report = store.object("policyreports", Some(namespace), "kube-devops")?;
            (report["results"].as_array()?.len() == pods).then_some(report)
        });
        for result in report["results"].as_array().expect("results") {
            let pod = result["resources"][0]["name"].as_str().expect("pod");
            let message = result["message"].as_str().unwrap_or_default();
            assert_eq!(
                message,
                format!("seen: {namespace}/{pod}"),
                "{namespace}/{pod} must see only itself: {report}"
            );
        }
    }
}

/// Regression: a policy's custom module ran (its `metadata` and `configure`) before its sha256
/// was compared with the pin. The `marker` plugin panics with a marker as soon as it runs.
#[test]
fn a_pinned_module_swapped_on_disk_never_runs_and_the_status_says_why() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    let genuine = std::fs::read(support::plugin_wasm("no-privileged")).expect("plugin");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin dir");
    std::fs::write(
        plugins.join("no-privileged.wasm"),
        std::fs::read(support::plugin_wasm("marker")).expect("plugin"),
    )
    .expect("swap the file");
    server.apply_object(policy(
        "default",
        json!({"plugins": [{
            "name": "no-privileged",
            "source": {"file": "no-privileged.wasm", "sha256": support::sha256_hex(&genuine)},
        }]}),
    ));
    server.apply_object(pod(NS, "web", "nginx:latest", "Running", 0));
    let plugin_dir = plugins.to_string_lossy().into_owned();
    let operator = start_operator(&server, dir.path(), &["--plugin-dir", &plugin_dir]);
    let status = wait_status(&server, "the swapped module is refused", |status| {
        condition(status, "Ready")["reason"] == "InvalidPolicy"
    });
    let ready = condition(&status, "Ready");
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(message.contains("pinned to"), "{ready}");
    assert!(message.contains("was not run"), "{ready}");
    assert!(!message.contains("kube-devops-test-marker"), "{ready}");
    assert!(
        !operator.log().contains("kube-devops-test-marker"),
        "the swapped module ran: {}",
        operator.log()
    );
    // Analysed with the defaults meanwhile.
    assert_eq!(status["findingsByCheck"]["latest-tag"], 1, "{status}");
}

/// A policy naming the opt-in `pod-security` plugin gets its findings in the status; a policy
/// that does not name it keeps the seed's checks only, on the same pod.
#[test]
fn a_policy_naming_pod_security_adds_its_checks_to_the_status() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    let privileged = |namespace: &str| {
        let mut pod = pod(namespace, "web", "nginx:1.27", "Running", 0);
        pod["spec"]["containers"][0]["securityContext"] = json!({"privileged": true});
        pod
    };
    server.apply_object(policy_in(
        "strict",
        json!({"plugins": [{"name": "pod-security", "settings": {"level": "baseline"}}]}),
    ));
    server.apply_object(policy_in("plain", json!({})));
    server.apply_object(privileged("strict"));
    server.apply_object(privileged("plain"));
    let _operator = start_operator(&server, dir.path(), &[]);
    let strict = status_in(&server, "strict", "pod-security ran", |status| {
        status["findingsByCheck"]["privileged"] == 1
    });
    assert_eq!(strict["podsAnalyzed"], 1, "{strict}");
    let plain = status_in(&server, "plain", "the pod is analysed", |status| {
        status["podsAnalyzed"] == 1
    });
    assert!(
        plain["findingsByCheck"].get("privileged").is_none(),
        "the seed's checks only: {plain}"
    );
}

// --- enforce mode: workloads patched with their pods' fixes --------------------------------

const ENFORCER: &str = "kube-devops-enforcer";

/// A container without probes, as a template or a pod has it.
fn bare_container(name: &str) -> Value {
    json!({"name": name, "image": "nginx:1.27", "ports": [{"containerPort": 8080}]})
}

fn template(app: &str, containers: Vec<Value>) -> Value {
    json!({"metadata": {"labels": {"app": app}}, "spec": {"containers": containers}})
}

/// A Deployment, StatefulSet or DaemonSet of `template`, with uid `uid-{name}`.
fn workload(namespace: &str, kind: &str, name: &str, template: Value) -> Value {
    let mut object = json!({
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "uid": format!("uid-{name}")},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": template},
    });
    if kind == "StatefulSet" {
        object["spec"]["serviceName"] = json!(name);
    }
    object
}

/// The ReplicaSet `{deployment}-{hash}` of a Deployment, as its controller makes it.
fn replica_set(namespace: &str, deployment: &str, hash: &str, template: &Value) -> Value {
    let name = format!("{deployment}-{hash}");
    let mut template = template.clone();
    template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name, "namespace": namespace, "uid": format!("uid-{name}"),
            "labels": {"app": deployment, "pod-template-hash": hash},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment,
                "uid": format!("uid-{deployment}"), "controller": true}],
        },
        "spec": {"selector": {"matchLabels": {"app": deployment}}, "template": template},
    })
}

/// A running pod of `template` owned by `owner` (kind, name), labelled with its revision.
fn owned_pod(
    namespace: &str,
    name: &str,
    owner: (&str, &str),
    revision: (&str, &str),
    template: &Value,
) -> Value {
    let (kind, owner_name) = owner;
    let (label, hash) = revision;
    let mut labels = template["metadata"]["labels"].clone();
    labels[label] = json!(hash);
    let statuses: Vec<Value> = template["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| json!({"name": c["name"], "image": c["image"], "ready": true, "restartCount": 0, "state": {"running": {}}}))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name, "namespace": namespace, "uid": format!("uid-{namespace}-{name}"),
            "labels": labels,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": kind, "name": owner_name,
                "uid": format!("uid-{owner_name}"), "controller": true}],
        },
        "spec": {"nodeName": "node-1", "containers": template["spec"]["containers"]},
        "status": {"phase": "Running", "containerStatuses": statuses},
    })
}

/// A Deployment `name` with its ReplicaSet and `pods` pods of `template`.
fn apply_deployment(
    server: &ApiServer,
    namespace: &str,
    name: &str,
    template: &Value,
    pods: usize,
) {
    server.apply_object(workload(namespace, "Deployment", name, template.clone()));
    server.apply_object(replica_set(namespace, name, "5d8f", template));
    let rs = format!("{name}-5d8f");
    for index in 0..pods {
        server.apply_object(owned_pod(
            namespace,
            &format!("{rs}-{index}"),
            ("ReplicaSet", &rs),
            ("pod-template-hash", "5d8f"),
            template,
        ));
    }
}

/// `pod` after its kubelet reported restarts (a change of status, not of template).
fn restarted(mut pod: Value) -> Value {
    pod["status"]["containerStatuses"][0]["restartCount"] = json!(5);
    pod
}

/// A StatefulSet `name` with one pod `{name}-0` of `template` at revision `revision`.
fn apply_stateful_set(
    server: &ApiServer,
    namespace: &str,
    name: &str,
    template: &Value,
    revision: &str,
) {
    server.apply_object(workload(namespace, "StatefulSet", name, template.clone()));
    server.apply_object(owned_pod(
        namespace,
        &format!("{name}-0"),
        ("StatefulSet", name),
        ("controller-revision-hash", revision),
        template,
    ));
}

fn apps_path(namespace: &str, plural: &str, name: &str) -> String {
    format!("/apis/apps/v1/namespaces/{namespace}/{plural}/{name}")
}

/// Waits until the workload's first container has both probes, and returns the workload.
fn wait_probes(server: &ApiServer, namespace: &str, plural: &str, name: &str) -> Value {
    server.wait_for(
        DEADLINE,
        "the workload's template gains the probes",
        |store| {
            let object = store.object(plural, Some(namespace), name)?;
            let container = &object["spec"]["template"]["spec"]["containers"][0];
            (container["readinessProbe"].is_object() && container["livenessProbe"].is_object())
                .then_some(object)
        },
    )
}

/// What the status says enforce mode did to `workload`, once it says `result`.
fn wait_remediation(server: &ApiServer, namespace: &str, workload: &str, result: &str) -> Value {
    let status = status_in(
        server,
        namespace,
        "the status lists the remediation",
        |status| {
            status["remediations"].as_array().is_some_and(|all| {
                all.iter()
                    .any(|r| r["workload"] == workload && r["result"] == result)
            })
        },
    );
    status["remediations"]
        .as_array()
        .and_then(|all| all.iter().find(|r| r["workload"] == workload).cloned())
        .expect("the entry")
}

/// The Event on the workload with `reason`.
fn workload_event(server: &ApiServer, kind: &str, name: &str, reason: &str) -> Value {
    server.wait_for(DEADLINE, "an event on the workload", |store| {
        store
            .objects("events.events.k8s.io")
            .into_iter()
            .find(|event| {
                event["regarding"]["kind"] == kind
                    && event["regarding"]["name"] == name
                    && event["reason"] == reason
            })
    })
}

/// Waits until enforce mode handled everything offered before: a StatefulSet created now is
/// patched after it (the enforcer handles one workload at a time, in order).
fn enforce_barrier(server: &ApiServer, namespace: &str) {
    let template = template("barrier", vec![bare_container("app")]);
    apply_stateful_set(server, namespace, "barrier", &template, "b1");
    wait_probes(server, namespace, "statefulsets", "barrier");
    // Reported after it is counted: the metrics include it too.
    wait_remediation(server, namespace, "barrier", "applied");
}

#[test]
fn enforce_mode_patches_a_deployment_once_by_server_side_apply_through_its_replicaset() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    server.apply_object(policy(
        "default",
        json!({"enforcementMode": "enforce", "defaultProbe": {"tcpPort": 9090}}),
    ));
    let template = template("web", vec![bare_container("app")]);
    // Two pods of one template: one patch.
    apply_deployment(&server, NS, "web", &template, 2);
    let operator = start_operator(&server, dir.path(), &[]);

    let deployment = wait_probes(&server, NS, "deployments", "web");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["readinessProbe"]["tcpSocket"]["port"], 9090,
        "{deployment}"
    );
    assert_eq!(
        container["livenessProbe"]["tcpSocket"]["port"], 9090,
        "{deployment}"
    );
    // Only the added fields were applied: the rest of the template is as it was.
    assert_eq!(container["image"], "nginx:1.27");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    let annotations = &deployment["metadata"]["annotations"];
    assert_eq!(annotations["devops.stochastic.io/patched-by"], ENFORCER);
    assert!(
        annotations["devops.stochastic.io/patched-at"].is_string(),
        "{annotations}"
    );
    let hash = annotations["devops.stochastic.io/patched-template"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(hash.len(), 64, "{annotations}");
    let managers: Vec<&str> = deployment["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["manager"].as_str())
        .collect();
    assert_eq!(managers, [ENFORCER], "{deployment}");

    let patches = server.requests_with_method("PATCH", &apps_path(NS, "deployments", "web"));
    assert_eq!(patches.len(), 1, "{patches:?}");
    assert!(
        patches[0].contains(&format!("fieldManager={ENFORCER}")),
        "{patches:?}"
    );
    assert!(!patches[0].contains("force=true"), "{patches:?}");

    let event = workload_event(&server, "Deployment", "web", "Remediated");
    assert_eq!(event["type"], "Normal");
    let note = event["note"].as_str().unwrap_or_default();
    assert!(note.contains("containers[app].readinessProbe"), "{note}");
    assert!(note.contains("missing-liveness-probe"), "{note}");
    let entry = wait_remediation(&server, NS, "web", "applied");
    assert_eq!(entry["kind"], "Deployment");
    assert_eq!(
        entry["checks"],
        json!(["missing-liveness-probe", "missing-readiness-probe"])
    );
    assert!(
        entry["patch"].as_array().is_some_and(|ops| !ops.is_empty()),
        "{entry}"
    );

    // A pod's status changes (restarts), and a third pod of the same template appears:
    // nothing is read or written again.
    server.apply_object(restarted(owned_pod(
        NS,
        "web-5d8f-0",
        ("ReplicaSet", "web-5d8f"),
        ("pod-template-hash", "5d8f"),
        &template,
    )));
    server.apply_object(owned_pod(
        NS,
        "web-5d8f-2",
        ("ReplicaSet", "web-5d8f"),
        ("pod-template-hash", "5d8f"),
        &template,
    ));
    wait_status(&server, "both changes are analysed", |status| {
        status["podsAnalyzed"] == 3 && status["findingsByCheck"].get("high-restarts").is_some()
    });
    enforce_barrier(&server, NS);
    assert_eq!(
        server
            .requests_with_method("PATCH", &apps_path(NS, "deployments", "web"))
            .len(),
        1,
        "one patch per template"
    );
    assert_eq!(
        server
            .requests_with_method("GET", &apps_path(NS, "replicasets", "web-5d8f"))
            .len(),
        1,
        "pods of one template are handled once"
    );
    assert_eq!(
        operator.metric("kube_devops_remediations_total{result=\"applied\"}"),
        Some(2.0),
        "the Deployment and the barrier"
    );
}

#[test]
fn enforce_mode_patches_a_statefulset_again_after_its_template_changes_keeping_its_fields() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    server.apply_object(policy("default", json!({"enforcementMode": "enforce"})));
    let first = template("db", vec![bare_container("app")]);
    // The manifest is someone else's (`kubectl apply --server-side`).
    server
        .apply_as(
            "kubectl",
            workload(NS, "StatefulSet", "db", first.clone()),
            false,
        )
        .expect("kubectl applies");
    server.apply_object(owned_pod(
        NS,
        "db-0",
        ("StatefulSet", "db"),
        ("controller-revision-hash", "r1"),
        &first,
    ));
    let _operator = start_operator(&server, dir.path(), &[]);
    let patched = wait_probes(&server, NS, "statefulsets", "db");
    // No defaultProbe: the container's first port.
    let app = &patched["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        app["readinessProbe"]["tcpSocket"]["port"], 8080,
        "{patched}"
    );
    workload_event(&server, "StatefulSet", "db", "Remediated");
    wait_remediation(&server, NS, "db", "applied");

    // The owner adds a sidecar; the new revision's pod has it without probes.
    let second = template("db", vec![bare_container("app"), bare_container("sidecar")]);
    server
        .apply_as("kubectl", workload(NS, "StatefulSet", "db", second), false)
        .expect("kubectl applies again");
    let current = server.object("statefulsets", Some(NS), "db").expect("db");
    let pod_template = current["spec"]["template"].clone();
    server.apply_object(owned_pod(
        NS,
        "db-0",
        ("StatefulSet", "db"),
        ("controller-revision-hash", "r2"),
        &pod_template,
    ));
    let patched = server.wait_for(DEADLINE, "the sidecar gets probes", |store| {
        let object = store.object("statefulsets", Some(NS), "db")?;
        object["spec"]["template"]["spec"]["containers"][1]["readinessProbe"]
            .is_object()
            .then_some(object)
    });
    let containers = &patched["spec"]["template"]["spec"]["containers"];
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(
            containers[0][probe]["tcpSocket"]["port"], 8080,
            "the first patch's probes stay: {patched}"
        );
    }
    assert_eq!(
        server
            .requests_with_method("PATCH", &apps_path(NS, "statefulsets", "db"))
            .len(),
        2,
        "once per template"
    );
}

#[test]
fn a_field_another_manager_owns_is_a_reported_conflict_not_forced() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    server.apply_object(policy(
        "default",
        json!({
            "enforcementMode": "enforce",
            "plugins": [{"name": "pod-security", "settings": {"level": "restricted"}}],
        }),
    ));
    let mut container = bare_container("app");
    container["livenessProbe"] = json!({"tcpSocket": {"port": 8080}});
    container["readinessProbe"] = json!({"tcpSocket": {"port": 8080}});
    container["securityContext"] = json!({"allowPrivilegeEscalation": true});
    let template = template("api", vec![container]);
    // Argo CD owns the manifest, escalation included.
    server
        .apply_as(
            "argocd",
            workload(NS, "Deployment", "api", template.clone()),
            false,
        )
        .expect("argocd applies");
    let mut changed = workload(NS, "Deployment", "api", template.clone());
    changed["spec"]["template"]["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] =
        json!(false);
    let refused = server
        .apply_as("someone", changed, false)
        .expect_err("the fixture refuses a conflicting apply");
    assert_eq!(refused["reason"], "Conflict", "{refused}");
    server.apply_object(replica_set(NS, "api", "5d8f", &template));
    server.apply_object(owned_pod(
        NS,
        "api-5d8f-0",
        ("ReplicaSet", "api-5d8f"),
        ("pod-template-hash", "5d8f"),
        &template,
    ));
    let operator = start_operator(&server, dir.path(), &[]);

    let entry = wait_remediation(&server, NS, "api", "conflict");
    let message = entry["message"].as_str().unwrap_or_default();
    assert!(message.contains("argocd"), "{entry}");
    assert!(message.contains("allowPrivilegeEscalation"), "{entry}");
    let event = workload_event(&server, "Deployment", "api", "RemediationConflict");
    assert_eq!(event["type"], "Warning");
    let deployment = server.object("deployments", Some(NS), "api").expect("api");
    let context = &deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"];
    assert_eq!(
        context["allowPrivilegeEscalation"], true,
        "not forced: {deployment}"
    );
    assert!(
        context.get("capabilities").is_none(),
        "nothing else applied: {deployment}"
    );

    // Not retried: a change of the pod's status changes nothing.
    server.apply_object(restarted(owned_pod(
        NS,
        "api-5d8f-0",
        ("ReplicaSet", "api-5d8f"),
        ("pod-template-hash", "5d8f"),
        &template,
    )));
    wait_status(&server, "the change is analysed", |status| {
        status["findingsByCheck"].get("high-restarts").is_some()
    });
    enforce_barrier(&server, NS);
    let patches = server.requests_with_method("PATCH", &apps_path(NS, "deployments", "api"));
    assert_eq!(patches.len(), 1, "{patches:?}");
    assert!(!patches[0].contains("force=true"), "{patches:?}");
    assert_eq!(
        operator.metric("kube_devops_remediations_total{result=\"conflict\"}"),
        Some(1.0)
    );
}

#[test]
fn dry_run_lists_the_planned_patch_and_writes_nothing_until_turned_off() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    server.apply_object(policy(
        "default",
        json!({"enforcementMode": "enforce", "remediation": {"dryRun": true}}),
    ));
    let template = template("web", vec![bare_container("app")]);
    apply_deployment(&server, NS, "web", &template, 1);
    let _operator = start_operator(&server, dir.path(), &[]);

    let entry = wait_remediation(&server, NS, "web", "planned");
    let paths: Vec<&str> = entry["patch"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|op| op["path"].as_str())
        .collect();
    assert!(
        paths.contains(&"/spec/template/spec/containers/0/readinessProbe"),
        "{entry}"
    );
    assert!(
        entry["message"]
            .as_str()
            .unwrap_or_default()
            .contains("dryRun"),
        "{entry}"
    );
    assert!(
        server
            .requests_with_method("PATCH", "/apis/apps/")
            .is_empty()
    );
    let deployment = server.object("deployments", Some(NS), "web").expect("web");
    assert!(
        deployment["spec"]["template"]["spec"]["containers"][0]
            .get("readinessProbe")
            .is_none()
    );

    // Off: the policy change applies what was planned.
    let mut edited = server
        .object("devopspolicies", Some(NS), "default")
        .expect("policy");
    edited["spec"]["remediation"]["dryRun"] = json!(false);
    server.apply_object(edited);
    wait_probes(&server, NS, "deployments", "web");
    wait_remediation(&server, NS, "web", "applied");
}

#[test]
fn audit_namespaces_and_system_namespaces_without_a_policy_are_never_patched() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    server.apply_object(policy(
        "default",
        json!({"defaultProbe": {"tcpPort": 9090}}),
    ));
    server.apply_object(policy_in("enforced", json!({"enforcementMode": "enforce"})));
    let template = template("web", vec![bare_container("app")]);
    for namespace in [NS, "kube-system"] {
        apply_deployment(&server, namespace, "web", &template, 2);
        apply_stateful_set(&server, namespace, "db", &template, "r1");
    }
    let _operator = start_operator(&server, dir.path(), &[]);
    let status = wait_status(&server, "the audit namespace is analysed", |status| {
        status["podsAnalyzed"] == 3
    });
    assert_eq!(
        status["findingsByCheck"]["missing-readiness-probe"], 3,
        "{status}"
    );
    // Enforce mode works meanwhile, elsewhere.
    enforce_barrier(&server, "enforced");
    for namespace in [NS, "kube-system"] {
        let requests = server.requests_to(&format!("/apis/apps/v1/namespaces/{namespace}/"));
        assert!(requests.is_empty(), "{namespace}: {requests:?}");
    }
    assert!(status.get("remediations").is_none(), "{status}");
}

/// Removing what enforce mode added puts the template back as it was before the patch, which
/// the patch's annotation names: that template is not patched again, even when the policy
/// changes and every pod is looked at again.
#[test]
fn removing_the_added_fields_undoes_a_patch_for_good() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    server.apply_object(policy("default", json!({"enforcementMode": "enforce"})));
    let template = template("web", vec![bare_container("app")]);
    apply_deployment(&server, NS, "web", &template, 1);
    let _operator = start_operator(&server, dir.path(), &[]);
    let mut deployment = wait_probes(&server, NS, "deployments", "web");

    // `kubectl edit`: the probes go, the rest (annotations included) stays.
    let container = &mut deployment["spec"]["template"]["spec"]["containers"][0];
    for probe in ["readinessProbe", "livenessProbe"] {
        container.as_object_mut().expect("container").remove(probe);
    }
    server.apply_object(deployment);
    let mut edited = server
        .object("devopspolicies", Some(NS), "default")
        .expect("policy");
    edited["spec"]["maxRestartCount"] = json!(5);
    server.apply_object(edited);
    wait_status(
        &server,
        "the namespace is analysed under the edit",
        |status| status["observedGeneration"] == 2,
    );
    enforce_barrier(&server, NS);
    let deployment_path = apps_path(NS, "deployments", "web");
    assert_eq!(
        server.requests_with_method("GET", &deployment_path).len(),
        2,
        "read again after the policy change"
    );
    assert_eq!(
        server.requests_with_method("PATCH", &deployment_path).len(),
        1
    );
    let deployment = server.object("deployments", Some(NS), "web").expect("web");
    assert!(
        deployment["spec"]["template"]["spec"]["containers"][0]
            .get("readinessProbe")
            .is_none(),
        "{deployment}"
    );
}
