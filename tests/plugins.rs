//! The built-in plugins through the real Wasm path (embedded components, wasmtime, the WIT
//! contract), against the semantics the default checks must hold exactly.

use kube_devops_engine::analysis::{Catalog, Config, Filter, PluginPaths, Report, analyze_report};
use kube_devops_engine::manifest::{self, Manifests};
use serde_json::Value;

/// Analyses manifest text with the built-in plugins and `config` (YAML, may be empty).
fn analyze_with(config: &str, manifests_text: &str, filter: &Filter) -> Report {
    let config = Config::parse(config).expect("valid config");
    let catalog = Catalog::load(
        &kube_devops_builtins::runtime(None).expect("runtime"),
        &config,
        &PluginPaths::default(),
    )
    .expect("built-in plugins load");
    let mut manifests = Manifests::default();
    manifest::split(
        "test.yaml".into(),
        manifests_text.to_owned(),
        &mut manifests,
    );
    assert!(manifests.errors.is_empty(), "{:?}", manifests.errors);
    let report = analyze_report(&catalog, &manifests.sources, filter);
    assert!(
        report.diagnostics.iter().all(|d| !matches!(
            d.kind,
            kube_devops_engine::analysis::report::DiagnosticKind::Plugin
                | kube_devops_engine::analysis::report::DiagnosticKind::Input
        )),
        "{:?}",
        report.diagnostics
    );
    report
}

fn analyze(manifests_text: &str) -> Report {
    analyze_with("", manifests_text, &Filter::default())
}

/// A pod manifest from JSON parts, for table tests.
fn pod(name: &str, spec: Value, status: Option<Value>) -> String {
    let mut pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec});
    if let Some(status) = status {
        pod["status"] = status;
    }
    pod.to_string()
}

/// A container with both probes, so only the check under test can fire.
fn container(name: &str, image: &str) -> Value {
    serde_json::json!({
        "name": name, "image": image,
        "livenessProbe": {"exec": {"command": ["true"]}},
        "readinessProbe": {"exec": {"command": ["true"]}}
    })
}

fn findings_of<'a>(
    report: &'a Report,
    check: &str,
) -> Vec<&'a kube_devops_engine::analysis::report::FindingRow> {
    report
        .findings
        .iter()
        .filter(|finding| &*finding.check == check)
        .collect()
}

#[test]
fn latest_tag_follows_the_image_reference_rules() {
    let cases = [
        ("nginx", true),
        ("nginx:latest", true),
        ("nginx:1.27", false),
        ("registry.local:5000/app", true),
        ("registry.local:5000/app:v1", false),
        ("registry.local:5000/team/app:latest", true),
        ("app:latest-2024", false),
        ("app:LATEST", false),
        ("nginx@sha256:0123456789abcdef", false),
        ("nginx:latest@sha256:0123456789abcdef", false),
        ("docker.io/library/nginx", true),
    ];
    for (image, expected) in cases {
        let report = analyze(&pod(
            "p",
            serde_json::json!({"containers": [container("app", image)]}),
            None,
        ));
        let findings = findings_of(&report, "latest-tag");
        assert_eq!(
            findings.len(),
            usize::from(expected),
            "image {image}: {findings:?}"
        );
        if expected {
            assert_eq!(findings[0].container.as_deref(), Some("app"));
            assert_eq!(findings[0].magnitude, 1);
            assert_eq!(&*findings[0].plugin, "latest-tag");
        }
    }
}

#[test]
fn latest_tag_counts_init_containers_but_not_ephemeral_ones() {
    let spec = serde_json::json!({
        "initContainers": [{"name": "setup", "image": "busybox"}],
        "containers": [container("app", "app:1")],
        "ephemeralContainers": [{"name": "debug", "image": "busybox:latest"}]
    });
    let report = analyze(&pod("p", spec, None));
    let findings = findings_of(&report, "latest-tag");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].container.as_deref(), Some("setup"));
    assert_eq!(report.summary.latest_tag, 1);
}

#[test]
fn probes_are_checked_on_regular_containers_only() {
    let spec = serde_json::json!({
        "initContainers": [{"name": "setup", "image": "busybox:1"}],
        "containers": [
            {"name": "none", "image": "a:1"},
            {"name": "live-only", "image": "b:1", "livenessProbe": {"tcpSocket": {"port": 80}}},
            {"name": "ready-only", "image": "c:1", "readinessProbe": {"httpGet": {"path": "/", "port": 80}}},
            container("both", "d:1")
        ]
    });
    let report = analyze(&pod("p", spec, None));
    let containers = |check| {
        let mut names: Vec<_> = findings_of(&report, check)
            .iter()
            .map(|f| f.container.clone().expect("container"))
            .collect();
        names.sort();
        names
    };
    assert_eq!(containers("missing-liveness-probe"), ["none", "ready-only"]);
    assert_eq!(containers("missing-readiness-probe"), ["live-only", "none"]);
    assert_eq!(
        (
            report.summary.missing_liveness,
            report.summary.missing_readiness
        ),
        (2, 2)
    );
}

/// Pods that run to completion need no readiness probe (checkov and Polaris exempt them):
/// `skipJobs` passes over Jobs, CronJobs and their pods. Off by default, as in the seed.
#[test]
fn probes_can_skip_jobs_and_cronjobs() {
    let bare = serde_json::json!({"containers": [{"name": "app", "image": "a:1"}]});
    let template = serde_json::json!({"spec": bare});
    let manifests = [
        serde_json::json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"}, "spec": {"template": template}}),
        serde_json::json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"}, "spec": {"jobTemplate": {"spec": {"template": template}}}}),
        serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "once-x2x9q", "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "once", "uid": "u", "controller": true}]}, "spec": bare}),
        serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": template}}),
    ]
    .map(|manifest| manifest.to_string())
    .join("\n");
    let pods_with = |report: &Report| {
        let mut pods: Vec<String> = findings_of(report, "missing-readiness-probe")
            .iter()
            .map(|finding| finding.pod.to_string())
            .collect();
        pods.sort();
        pods
    };
    assert_eq!(
        pods_with(&analyze(&manifests)),
        ["nightly", "once", "once-x2x9q", "web"]
    );
    let skipping = analyze_with(
        "plugins:\n  probes:\n    settings: {skipJobs: true}\n",
        &manifests,
        &Filter::default(),
    );
    assert_eq!(pods_with(&skipping), ["web"]);
}

#[test]
fn restarts_above_three_weigh_up_to_five() {
    let status = |counts: &[i32]| {
        let statuses: Vec<Value> = counts
            .iter()
            .enumerate()
            .map(|(i, count)| serde_json::json!({"name": format!("c{i}"), "restartCount": count, "state": {"running": {}}}))
            .collect();
        serde_json::json!({"phase": "Running", "containerStatuses": statuses, "initContainerStatuses": [{"name": "init", "restartCount": 40}]})
    };
    let spec = serde_json::json!({"containers": [container("c0", "a:1")]});
    for (counts, magnitudes) in [
        (vec![3], vec![]),
        (vec![4], vec![4]),
        (vec![5, 9, 100], vec![5, 5, 5]),
        (vec![0, 4], vec![4]),
    ] {
        let report = analyze(&pod("p", spec.clone(), Some(status(&counts))));
        let found: Vec<u32> = findings_of(&report, "high-restarts")
            .iter()
            .map(|f| f.magnitude)
            .collect();
        assert_eq!(found, magnitudes, "restart counts {counts:?}");
        assert_eq!(
            report.summary.restart_severity,
            magnitudes.iter().map(|&m| u64::from(m)).sum::<u64>()
        );
    }
}

#[test]
fn restart_threshold_is_a_plugin_setting() {
    let status = serde_json::json!({"phase": "Running", "containerStatuses": [{"name": "app", "restartCount": 9}]});
    let manifest = pod(
        "p",
        serde_json::json!({"containers": [container("app", "a:1")]}),
        Some(status),
    );
    let config = "plugins:\n  restarts:\n    settings: {threshold: 9}\n";
    assert!(
        findings_of(
            &analyze_with(config, &manifest, &Filter::default()),
            "high-restarts"
        )
        .is_empty()
    );
    let config = "plugins:\n  restarts:\n    settings: {threshold: 8}\n";
    assert_eq!(
        findings_of(
            &analyze_with(config, &manifest, &Filter::default()),
            "high-restarts"
        )
        .len(),
        1
    );
}

#[test]
fn pending_is_one_per_pending_pod_and_never_for_templates() {
    let spec = serde_json::json!({"containers": [container("app", "a:1")]});
    let manifests = [
        pod("waiting", spec.clone(), Some(serde_json::json!({"phase": "Pending"}))),
        pod("running", spec.clone(), Some(serde_json::json!({"phase": "Running"}))),
        pod("no-status", spec.clone(), None),
        serde_json::json!({"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": spec}}}).to_string(),
    ]
    .join("\n");
    let report = analyze(&manifests);
    let pending = findings_of(&report, "pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(&*pending[0].pod, "waiting");
    assert_eq!(pending[0].container, None);
    assert_eq!(report.summary.pods_analyzed, 4);
}

#[test]
fn pending_counts_after_min_pending_seconds_measured_from_creation() {
    let spec = serde_json::json!({"containers": [container("app", "a:1")]});
    let created = |name: &str, timestamp: &str| {
        let mut object: Value = serde_json::from_str(&pod(
            name,
            spec.clone(),
            Some(serde_json::json!({"phase": "Pending"})),
        ))
        .expect("json");
        object["metadata"]["creationTimestamp"] = Value::from(timestamp);
        object.to_string()
    };
    // Far in the past, and far in the future (so "now" is always before it).
    let manifests = [
        created("stuck", "2020-01-01T00:00:00Z"),
        created("fresh", "2999-01-01T00:00:00Z"),
    ]
    .join("\n");
    let config = "plugins:\n  pending:\n    settings: {minPendingSeconds: 300}\n";
    let report = analyze_with(config, &manifests, &Filter::default());
    let pending = findings_of(&report, "pending");
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(&*pending[0].pod, "stuck");
    assert!(pending[0].message.contains(" s"), "{}", pending[0].message);
    // Without the setting, every Pending pod counts.
    assert_eq!(findings_of(&analyze(&manifests), "pending").len(), 2);
}

#[test]
fn score_is_integer_division_of_weighted_findings_per_pod() {
    // Pod a: latest (5) + no liveness (3) + no readiness (2) = 10.
    // Pod b: 9 restarts → 6 × 5 = 30, Pending → 4. Pod c: clean. raw = 44, 44 / 3 = 14 → 86.
    let a = pod(
        "a",
        serde_json::json!({"containers": [{"name": "app", "image": "nginx"}]}),
        None,
    );
    let b = pod(
        "b",
        serde_json::json!({"containers": [container("app", "api:1")]}),
        Some(
            serde_json::json!({"phase": "Pending", "containerStatuses": [{"name": "app", "restartCount": 9}]}),
        ),
    );
    let c = pod(
        "c",
        serde_json::json!({"containers": [container("app", "api:1")]}),
        None,
    );
    let report = analyze(&format!("{a}\n{b}\n{c}"));
    assert_eq!(report.summary.pods_analyzed, 3);
    assert_eq!(report.summary.health_score, 86);
    assert_eq!(report.summary.status, "Healthy");
    assert_eq!(report.summary.checks["latest-tag"], 1);
    assert_eq!(report.summary.checks["high-restarts"], 5);
}

#[test]
fn config_weights_severities_and_disabled_checks_apply() {
    let manifest = pod(
        "a",
        serde_json::json!({"containers": [{"name": "app", "image": "nginx"}]}),
        None,
    );
    let config = "checks:\n  latest-tag: {weight: 50, severity: critical}\n  missing-readiness-probe: {enabled: false}\n";
    let report = analyze_with(config, &manifest, &Filter::default());
    // 50 + 3 = 53 → 47, Degraded.
    assert_eq!(report.summary.health_score, 47);
    assert_eq!(report.summary.status, "Degraded");
    assert_eq!(
        findings_of(&report, "latest-tag")[0].severity.as_str(),
        "critical"
    );
    assert!(findings_of(&report, "missing-readiness-probe").is_empty());
    assert!(
        !report
            .summary
            .checks
            .contains_key("missing-readiness-probe")
    );
}

#[test]
fn workloads_count_as_one_pod_named_after_them_in_default_namespace() {
    let template =
        serde_json::json!({"spec": {"containers": [{"name": "app", "image": "app:latest"}]}});
    let kinds = [
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "ReplicationController",
        "Job",
    ];
    let mut documents: Vec<String> = kinds
        .iter()
        .map(|kind| serde_json::json!({"kind": kind, "metadata": {"name": kind.to_lowercase()}, "spec": {"template": template, "replicas": 5}}).to_string())
        .collect();
    documents.push(
        serde_json::json!({"kind": "CronJob", "metadata": {"name": "cron", "namespace": "batch"}, "spec": {"jobTemplate": {"spec": {"template": template}}}})
            .to_string(),
    );
    let report = analyze(&documents.join("\n"));
    assert_eq!(report.summary.pods_analyzed, 7);
    assert_eq!(report.summary.latest_tag, 7);
    let mut pods: Vec<String> = findings_of(&report, "latest-tag")
        .iter()
        .map(|f| format!("{}/{}", f.namespace, f.pod))
        .collect();
    pods.sort();
    assert_eq!(
        pods,
        [
            "batch/cron",
            "default/daemonset",
            "default/deployment",
            "default/job",
            "default/replicaset",
            "default/replicationcontroller",
            "default/statefulset"
        ]
    );
}

#[test]
fn system_namespaces_are_excluded_unless_asked_for() {
    let manifests: Vec<String> = ["kube-system", "kube-public", "gatekeeper-system", "cert-manager", "istio-system", "monitoring", "observability", "argocd", "shop"]
        .iter()
        .map(|namespace| {
            serde_json::json!({"kind": "Pod", "metadata": {"name": "p", "namespace": namespace}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}})
                .to_string()
        })
        .collect();
    let text = manifests.join("\n");
    let report = analyze(&text);
    assert_eq!(report.summary.pods_analyzed, 1);
    assert_eq!(report.namespaces.len(), 1);
    assert_eq!(report.namespaces[0].namespace, "shop");
    let everything = analyze_with(
        "",
        &text,
        &Filter {
            include_system: true,
            ..Filter::default()
        },
    );
    assert_eq!(everything.summary.pods_analyzed, 9);
    let one = analyze_with(
        "",
        &text,
        &Filter {
            namespace: Some("kube-system".into()),
            ..Filter::default()
        },
    );
    assert_eq!(one.summary.pods_analyzed, 1);
    assert_eq!(one.namespaces[0].namespace, "kube-system");
}

#[test]
fn namespace_scores_are_scored_separately() {
    let manifests = [
        serde_json::json!({"kind": "Pod", "metadata": {"name": "bad", "namespace": "a"}, "spec": {"containers": [{"name": "x", "image": "nginx"}]}}),
        serde_json::json!({"kind": "Pod", "metadata": {"name": "good", "namespace": "b"}, "spec": {"containers": [container("x", "nginx:1")]}}),
    ]
    .map(|pod| pod.to_string())
    .join("\n");
    let report = analyze(&manifests);
    let scores: Vec<(String, u8)> = report
        .namespaces
        .iter()
        .map(|n| (n.namespace.clone(), n.health_score))
        .collect();
    assert_eq!(scores, [("a".to_owned(), 90), ("b".to_owned(), 100)]);
    // Cluster: 10 / 2 = 5.
    assert_eq!(report.summary.health_score, 95);
}

#[test]
fn many_pods_give_the_same_report_as_one_by_one() {
    // Runs on several threads; results must not depend on which thread took which pod.
    let documents: Vec<String> = (0..500)
        .map(|i| {
            let image = if i % 3 == 0 { "nginx" } else { "nginx:1" };
            let status = serde_json::json!({"phase": if i % 7 == 0 { "Pending" } else { "Running" }, "containerStatuses": [{"name": "app", "restartCount": i % 9}]});
            pod(&format!("p{i:03}"), serde_json::json!({"containers": [container("app", image)]}), Some(status))
        })
        .collect();
    let together = analyze(&documents.join("\n"));
    let mut total = 0;
    let mut raw = 0;
    for document in &documents {
        let single = analyze(document);
        total += single.summary.pods_analyzed;
        raw += single
            .findings
            .iter()
            .map(|f| u64::from(f.weight) * u64::from(f.magnitude))
            .sum::<u64>();
    }
    assert_eq!(together.summary.pods_analyzed, total);
    assert_eq!(
        together.summary.health_score,
        kube_devops_engine::analysis::score::score(raw, total)
    );
    let order: Vec<&str> = together
        .findings
        .iter()
        .filter(|f| &*f.check == "pending")
        .map(|f| &*f.pod)
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "ties are ordered by pod name");
}

#[test]
fn exemption_annotations_skip_pods_and_checks_on_pods_and_workloads() {
    let floating = |name: &str, annotations: Value| {
        serde_json::json!({"kind": "Pod", "metadata": {"name": name, "annotations": annotations},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]}})
        .to_string()
    };
    let workload = serde_json::json!({"kind": "Deployment",
        "metadata": {"name": "legacy", "annotations": {"devops.stochastic.io/exempt-checks": "latest-tag"}},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx"}]}}}})
    .to_string();
    let manifests = [
        floating("plain", serde_json::json!({})),
        floating("exempt", serde_json::json!({"devops.stochastic.io/exempt": "true"})),
        floating("partly", serde_json::json!({"devops.stochastic.io/exempt-checks": "missing-liveness-probe, missing-readiness-probe"})),
        workload,
    ]
    .join("\n");

    let report = analyze(&manifests);

    assert_eq!(
        report.summary.pods_analyzed, 3,
        "the fully exempt pod is not analysed"
    );
    assert_eq!(report.summary.exempted_pods, 1);
    // partly: two probe findings dropped; legacy: its latest-tag finding dropped.
    assert_eq!(report.summary.exempted_findings, 3);
    let mut latest: Vec<&str> = findings_of(&report, "latest-tag")
        .iter()
        .map(|f| &*f.pod)
        .collect();
    latest.sort();
    assert_eq!(latest, ["partly", "plain"]);
    let mut liveness: Vec<&str> = findings_of(&report, "missing-liveness-probe")
        .iter()
        .map(|f| &*f.pod)
        .collect();
    liveness.sort();
    assert_eq!(liveness, ["legacy", "plain"]);
}

/// The policy library's plugins are built in but off: without a config the analysis runs the
/// seed's plugins only; `enabled: true` adds one.
#[test]
fn opt_in_builtins_run_only_when_enabled() {
    let runtime = kube_devops_builtins::runtime(None).expect("runtime");
    let names = |catalog: &Catalog| -> Vec<String> {
        catalog
            .plugins
            .iter()
            .map(|plugin| plugin.name().to_owned())
            .collect()
    };
    let defaults = Catalog::defaults(&runtime).expect("defaults");
    assert_eq!(
        names(&defaults),
        ["latest-tag", "pending", "probes", "restarts"],
        "the seed's plugins, and only them"
    );
    let config = Config::parse("plugins:\n  pod-security: {enabled: true}\n").expect("config");
    let enabled = Catalog::load(&runtime, &config, &PluginPaths::default()).expect("catalog");
    assert!(
        names(&enabled).contains(&"pod-security".to_owned()),
        "{:?}",
        names(&enabled)
    );
}

/// Exemption annotations work per check for the library's plugins as for the seed's: a pod
/// exempt from `privileged` keeps its other pod-security findings.
#[test]
fn pod_security_checks_are_exempted_one_by_one() {
    let config = "plugins:\n  pod-security: {enabled: true, settings: {level: baseline}}\n";
    let mut privileged = container("app", "nginx:1.27");
    privileged["securityContext"] = serde_json::json!({"privileged": true});
    let spec = serde_json::json!({"hostNetwork": true, "containers": [privileged]});
    let plain = analyze_with(config, &pod("web", spec.clone(), None), &Filter::default());
    assert_eq!(findings_of(&plain, "privileged").len(), 1);
    assert_eq!(findings_of(&plain, "host-namespaces").len(), 1);

    let mut exempt: Value = serde_json::from_str(&pod("web", spec, None)).expect("json");
    exempt["metadata"]["annotations"] =
        serde_json::json!({"devops.stochastic.io/exempt-checks": "privileged"});
    let report = analyze_with(config, &exempt.to_string(), &Filter::default());
    assert!(findings_of(&report, "privileged").is_empty());
    assert_eq!(findings_of(&report, "host-namespaces").len(), 1);
    assert_eq!(report.summary.exempted_findings, 1);
}
