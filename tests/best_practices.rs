//! The built-in `best-practices` plugin through the real Wasm path (the embedded component,
//! wasmtime, the WIT contract, the config file): each check on passing and failing pods, init
//! containers and owner kinds, workloads read from manifests, the opt-in, settings, and per-check
//! exemptions. The plugin reads the records the host builds from the JSON, so these tests also
//! pin how odd values reach it.

use std::collections::BTreeMap;

use kube_devops_engine::analysis::report::{DiagnosticKind, FindingRow};
use kube_devops_engine::analysis::{Catalog, Config, Filter, PluginPaths, Report, analyze_report};
use kube_devops_engine::contract::Severity;
use kube_devops_engine::manifest::{self, Manifests};
use serde_json::{Value, json};

const PLUGIN: &str = "best-practices";

/// Every check of the plugin, sorted.
const CHECKS: [&str; 10] = [
    "automount-service-account-token",
    "cpu-limits-missing",
    "cpu-requests-missing",
    "memory-limits-missing",
    "memory-requests-missing",
    "missing-topology-spread",
    "priority-class-not-set",
    "pull-policy-not-always",
    "read-only-root-filesystem",
    "sensitive-env-literal",
];

/// The config enabling `best-practices` alone.
const ONLY_BEST_PRACTICES: &str = "plugins:\n  best-practices: {enabled: true}\n  \
     latest-tag: {enabled: false}\n  probes: {enabled: false}\n  \
     restarts: {enabled: false}\n  pending: {enabled: false}\n";

fn catalog(config: &str) -> Catalog {
    let config = Config::parse(config).expect("valid config");
    Catalog::load(
        &kube_devops_builtins::runtime(None).expect("runtime"),
        &config,
        &PluginPaths::default(),
    )
    .expect("built-in plugins load")
}

fn plugin_names(catalog: &Catalog) -> Vec<String> {
    catalog
        .plugins
        .iter()
        .map(|plugin| plugin.name().to_owned())
        .collect()
}

/// Analyses manifest text with `config`.
fn analyze(config: &str, manifests_text: &str) -> Report {
    let catalog = catalog(config);
    let mut manifests = Manifests::default();
    manifest::split(
        "test.yaml".into(),
        manifests_text.to_owned(),
        &mut manifests,
    );
    assert!(manifests.errors.is_empty(), "{:?}", manifests.errors);
    let report = analyze_report(&catalog, &manifests.sources, &Filter::default());
    assert!(
        report
            .diagnostics
            .iter()
            .all(|d| !matches!(d.kind, DiagnosticKind::Plugin | DiagnosticKind::Input)),
        "{:?}",
        report.diagnostics
    );
    report
}

/// The findings of the workload named `name`, by check id.
fn by_check<'a>(report: &'a Report, name: &str) -> BTreeMap<String, Vec<&'a FindingRow>> {
    let mut checks: BTreeMap<String, Vec<&FindingRow>> = BTreeMap::new();
    for finding in report.findings.iter().filter(|f| &*f.pod == name) {
        assert_eq!(&*finding.plugin, PLUGIN);
        checks
            .entry(finding.check.to_string())
            .or_default()
            .push(finding);
    }
    checks
}

/// A workload of `kind` whose pod template has `spec`, with `annotations` on the workload.
fn workload(kind: &str, name: &str, annotations: Value, spec: Value) -> String {
    json!({
        "apiVersion": "apps/v1", "kind": kind,
        "metadata": {"name": name, "namespace": "shop", "annotations": annotations},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec}
        }
    })
    .to_string()
}

/// A pod spec that breaks every check once.
fn everything_wrong() -> Value {
    json!({
        "containers": [{
            "name": "app", "image": "nginx", "imagePullPolicy": "IfNotPresent",
            "env": [{"name": "API_TOKEN", "value": "s3cr3t"}, {"name": "LOG_LEVEL", "value": "info"}]
        }],
        "initContainers": [{
            "name": "migrate", "image": "migrate:1.2",
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            "securityContext": {"readOnlyRootFilesystem": true}
        }]
    })
}

/// A Pod named `name`, owned by controllers of `owners` (its `metadata.ownerReferences`), with
/// `spec`.
fn pod(name: &str, owners: &[&str], spec: Value) -> String {
    let owner_references: Vec<Value> = owners
        .iter()
        .map(|kind| json!({"apiVersion": "apps/v1", "kind": kind, "name": "owner", "uid": "1"}))
        .collect();
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "ownerReferences": owner_references},
        "spec": spec
    })
    .to_string()
}

/// Analyses a Pod of each of `specs` (named `0`, `1`, ... in order), owned by a Deployment,
/// with only `best-practices` enabled.
fn analyze_specs(specs: &[Value]) -> Report {
    let manifests: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(index, spec)| pod(&index.to_string(), &["Deployment"], spec.clone()))
        .collect();
    let report = analyze(ONLY_BEST_PRACTICES, &manifests.join("\n"));
    assert_eq!(report.summary.pods_analyzed, specs.len() as u64);
    report
}

/// `(container, message)` of each finding of `check` on the object `name`, in the order the
/// plugin gave them (the report's sort is stable, and one check's findings tie).
fn found(report: &Report, name: &str, check: &str) -> Vec<(Option<String>, String)> {
    by_check(report, name)
        .remove(check)
        .unwrap_or_default()
        .into_iter()
        .map(|finding| (finding.container.clone(), finding.message.clone()))
        .collect()
}

/// The containers `check` names on the object `name`, in order.
fn flagged(report: &Report, name: &str, check: &str) -> Vec<String> {
    found(report, name, check)
        .into_iter()
        .map(|(container, _)| container.expect("a container finding"))
        .collect()
}

/// A container compliant with every check.
fn good(name: &str) -> Value {
    json!({
        "name": name, "image": "registry.local/app:1.4.2", "imagePullPolicy": "IfNotPresent",
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"}
        },
        "securityContext": {"readOnlyRootFilesystem": true},
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
        ]
    })
}

/// A pod spec compliant with every check, with these containers.
fn spec_with(containers: Value, init_containers: Value) -> Value {
    json!({
        "priorityClassName": "business-critical",
        "automountServiceAccountToken": false,
        "topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app": "p"}}
        }],
        "containers": containers,
        "initContainers": init_containers
    })
}

/// A compliant pod spec whose one container `app` is changed by `edit`.
fn spec_editing(edit: impl FnOnce(&mut Value)) -> Value {
    let mut app = good("app");
    edit(&mut app);
    spec_with(json!([app]), json!([]))
}

#[test]
fn a_deployment_with_everything_wrong_fails_each_check_once() {
    let manifests = [
        workload("Deployment", "web", json!({}), everything_wrong()),
        workload("DaemonSet", "agent", json!({}), everything_wrong()),
    ]
    .join("\n");
    let report = analyze(ONLY_BEST_PRACTICES, &manifests);
    assert_eq!(report.summary.pods_analyzed, 2);

    let web = by_check(&report, "web");
    assert_eq!(web.keys().map(String::as_str).collect::<Vec<_>>(), CHECKS);
    for (check, findings) in &web {
        assert_eq!(findings.len(), 1, "{check}: {findings:?}");
        assert_eq!(&*findings[0].kind, "Deployment");
    }
    let container = |check: &str| web[check][0].container.as_deref();
    assert_eq!(container("cpu-requests-missing"), Some("app"));
    assert_eq!(container("read-only-root-filesystem"), Some("app"));
    assert_eq!(container("priority-class-not-set"), None);
    assert_eq!(container("missing-topology-spread"), None);
    let sensitive = web["sensitive-env-literal"][0];
    assert_eq!(sensitive.severity, Severity::High);
    assert!(
        sensitive.message.contains("API_TOKEN"),
        "{}",
        sensitive.message
    );
    assert!(
        !sensitive.message.contains("s3cr3t"),
        "{}",
        sensitive.message
    );
    assert_eq!(web["priority-class-not-set"][0].severity, Severity::Low);
    assert_eq!(web["cpu-limits-missing"][0].severity, Severity::Medium);
    assert_eq!(
        web["memory-requests-missing"][0].message,
        "container \"app\" has no resources.requests.memory; set a memory request"
    );
    assert!(
        web["missing-topology-spread"][0]
            .message
            .starts_with("pod of a Deployment has no spec.topologySpreadConstraints"),
        "{}",
        web["missing-topology-spread"][0].message
    );

    // A DaemonSet runs one pod per node: nothing to spread.
    let agent = by_check(&report, "agent");
    let expected: Vec<&str> = CHECKS
        .into_iter()
        .filter(|check| *check != "missing-topology-spread")
        .collect();
    assert_eq!(
        agent.keys().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
}

#[test]
fn a_compliant_deployment_has_no_findings() {
    let report = analyze(
        ONLY_BEST_PRACTICES,
        &workload(
            "Deployment",
            "web",
            json!({}),
            spec_with(json!([good("app")]), json!([])),
        ),
    );
    assert_eq!(report.summary.pods_analyzed, 1);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

#[test]
fn the_plugin_runs_only_when_enabled() {
    let deployment = workload("Deployment", "web", json!({}), everything_wrong());
    for config in [
        "",
        "plugins:\n  best-practices: {settings: {sensitiveNamePatterns: [dsn]}}\n",
        "plugins:\n  best-practices: {enabled: false}\n",
    ] {
        let names = plugin_names(&catalog(config));
        assert!(!names.contains(&PLUGIN.to_owned()), "{config:?}: {names:?}");
        let report = analyze(config, &deployment);
        assert!(
            report.findings.iter().all(|f| &*f.plugin != PLUGIN),
            "{config:?}"
        );
    }
    let names = plugin_names(&catalog(
        "plugins:\n  best-practices: {enabled: true, settings: {sensitiveNamePatterns: [dsn]}}\n",
    ));
    assert!(names.contains(&PLUGIN.to_owned()), "{names:?}");
}

#[test]
fn unknown_and_empty_settings_refuse_the_plugin() {
    let runtime = kube_devops_builtins::runtime(None).expect("runtime");
    for settings in [
        "{sensitiveNamePattern: [dsn]}",
        "{sensitiveNamePatterns: ['']}",
    ] {
        let config = Config::parse(&format!(
            "plugins:\n  best-practices: {{enabled: true, settings: {settings}}}\n"
        ))
        .expect("valid config");
        assert!(
            Catalog::load(&runtime, &config, &PluginPaths::default()).is_err(),
            "{settings}"
        );
    }
}

#[test]
fn checks_are_exempted_one_by_one() {
    let annotations = json!({"devops.stochastic.io/exempt-checks": "priority-class-not-set"});
    let report = analyze(
        ONLY_BEST_PRACTICES,
        &workload("Deployment", "web", annotations, everything_wrong()),
    );
    let web = by_check(&report, "web");
    let expected: Vec<&str> = CHECKS
        .into_iter()
        .filter(|check| *check != "priority-class-not-set")
        .collect();
    assert_eq!(web.keys().map(String::as_str).collect::<Vec<_>>(), expected);
    assert_eq!(report.summary.exempted_findings, 1);
}

#[test]
fn a_compliant_pod_has_no_findings_whatever_its_owner() {
    let spec = spec_with(json!([good("app"), good("sidecar")]), json!([good("init")]));
    let owners: [&[&str]; 5] = [
        &["Deployment"],
        &["StatefulSet"],
        &["ReplicaSet"],
        &["DaemonSet"],
        &[],
    ];
    let manifests: Vec<String> = owners
        .iter()
        .enumerate()
        .map(|(index, owners)| pod(&index.to_string(), owners, spec.clone()))
        .collect();
    let report = analyze(ONLY_BEST_PRACTICES, &manifests.join("\n"));
    assert_eq!(report.summary.pods_analyzed, owners.len() as u64);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

#[test]
fn a_pod_with_everything_wrong_fails_every_check_once() {
    let spec = json!({"containers": [{
        "name": "app", "image": "nginx", "imagePullPolicy": "IfNotPresent",
        "env": [{"name": "API_TOKEN", "value": "abc"}]
    }]});
    let report = analyze_specs(&[spec]);
    let checks = by_check(&report, "0");
    assert_eq!(
        checks.keys().map(String::as_str).collect::<Vec<_>>(),
        CHECKS
    );
    for (check, findings) in &checks {
        assert_eq!(findings.len(), 1, "{check}: {findings:?}");
    }
}

#[test]
fn resource_requests_and_limits_each_name_the_missing_field() {
    let report = analyze_specs(&[spec_editing(|app| {
        app.as_object_mut().expect("object").remove("resources");
    })]);
    let cases = [
        (
            "cpu-requests-missing",
            "container \"app\" has no resources.requests.cpu; set a CPU request",
        ),
        (
            "memory-requests-missing",
            "container \"app\" has no resources.requests.memory; set a memory request",
        ),
        (
            "cpu-limits-missing",
            "container \"app\" has no resources.limits.cpu; set a CPU limit",
        ),
        (
            "memory-limits-missing",
            "container \"app\" has no resources.limits.memory; set a memory limit",
        ),
    ];
    for (check, message) in cases {
        assert_eq!(
            found(&report, "0", check),
            [(Some("app".to_owned()), message.to_owned())]
        );
    }
}

#[test]
fn each_resource_is_checked_on_its_own() {
    let only = |requests: Value, limits: Value| {
        spec_editing(|app| app["resources"] = json!({"requests": requests, "limits": limits}))
    };
    let report = analyze_specs(&[
        only(json!({"cpu": "1", "memory": "1Gi"}), json!({})),
        only(json!({}), json!({"cpu": 2, "memory": "1Gi"})),
        // An empty quantity sets nothing.
        only(json!({"cpu": ""}), json!({"cpu": "1", "memory": ""})),
    ]);
    let (requests_only, limits_only, empty) = ("0", "1", "2");
    assert!(found(&report, requests_only, "cpu-requests-missing").is_empty());
    assert!(found(&report, requests_only, "memory-requests-missing").is_empty());
    assert_eq!(found(&report, requests_only, "cpu-limits-missing").len(), 1);
    assert_eq!(
        found(&report, requests_only, "memory-limits-missing").len(),
        1
    );

    assert_eq!(found(&report, limits_only, "cpu-requests-missing").len(), 1);
    assert_eq!(
        found(&report, limits_only, "memory-requests-missing").len(),
        1
    );
    assert!(
        found(&report, limits_only, "cpu-limits-missing").is_empty(),
        "a number is a quantity"
    );
    assert!(found(&report, limits_only, "memory-limits-missing").is_empty());

    assert_eq!(flagged(&report, empty, "cpu-requests-missing"), ["app"]);
    assert_eq!(flagged(&report, empty, "memory-requests-missing"), ["app"]);
    assert!(flagged(&report, empty, "cpu-limits-missing").is_empty());
    assert_eq!(flagged(&report, empty, "memory-limits-missing"), ["app"]);
}

#[test]
fn resource_checks_skip_init_containers_as_polaris_does() {
    let mut init = good("init");
    init.as_object_mut().expect("object").remove("resources");
    let mut second = good("second");
    second["resources"] = json!({});
    let report = analyze_specs(&[spec_with(json!([good("app"), second]), json!([init]))]);
    for check in [
        "cpu-requests-missing",
        "memory-requests-missing",
        "cpu-limits-missing",
        "memory-limits-missing",
    ] {
        assert_eq!(flagged(&report, "0", check), ["second"], "{check}");
    }
}

#[test]
fn read_only_root_filesystem_must_be_true_on_every_container() {
    let mut unset = good("unset");
    unset
        .as_object_mut()
        .expect("object")
        .remove("securityContext");
    let mut writable = good("writable");
    writable["securityContext"]["readOnlyRootFilesystem"] = json!(false);
    let mut init = good("init");
    init["securityContext"] = json!({"runAsNonRoot": true});
    let report = analyze_specs(&[spec_with(
        json!([good("app"), unset, writable]),
        json!([init]),
    )]);
    let findings = found(&report, "0", "read-only-root-filesystem");
    let names: Vec<&str> = findings
        .iter()
        .map(|(container, _)| container.as_deref().expect("container"))
        .collect();
    assert_eq!(names, ["unset", "writable", "init"]);
    assert!(
        findings[0]
            .1
            .contains("does not set securityContext.readOnlyRootFilesystem")
    );
    assert!(
        findings[1]
            .1
            .contains("sets securityContext.readOnlyRootFilesystem: false")
    );
}

#[test]
fn pull_policy_matters_only_for_mutable_images_with_an_explicit_policy() {
    let cases = [
        // (image, imagePullPolicy, flagged)
        ("nginx", Some("IfNotPresent"), true),
        ("nginx:latest", Some("IfNotPresent"), true),
        ("nginx:latest", Some("Never"), true),
        ("registry.local:5000/team/app", Some("IfNotPresent"), true),
        // The API server defaults an unset policy to Always for these images.
        ("nginx", None, false),
        ("nginx:latest", Some(""), false),
        ("nginx:latest", Some("Always"), false),
        // Immutable references: any policy is fine.
        ("nginx:1.27", Some("IfNotPresent"), false),
        ("nginx:1.27", None, false),
        ("nginx:latest-2024", Some("Never"), false),
        ("nginx@sha256:0123abcd", Some("IfNotPresent"), false),
        ("nginx:latest@sha256:0123abcd", Some("Never"), false),
        ("registry.local:5000/app:2", Some("IfNotPresent"), false),
    ];
    let specs: Vec<Value> = cases
        .iter()
        .map(|(image, policy, _)| {
            spec_editing(|app| {
                app["image"] = json!(image);
                match policy {
                    Some(policy) => app["imagePullPolicy"] = json!(policy),
                    None => {
                        app.as_object_mut()
                            .expect("object")
                            .remove("imagePullPolicy");
                    }
                }
            })
        })
        .collect();
    let report = analyze_specs(&specs);
    for (index, (image, policy, expected)) in cases.into_iter().enumerate() {
        let findings = found(&report, &index.to_string(), "pull-policy-not-always");
        assert_eq!(findings.len(), usize::from(expected), "{image} {policy:?}");
    }
    assert_eq!(
        found(&report, "0", "pull-policy-not-always"),
        [(
            Some("app".to_owned()),
            "container \"app\" pulls the mutable image \"nginx\" with imagePullPolicy: \
             IfNotPresent, so nodes may run a stale copy; set imagePullPolicy: Always (or drop \
             it), or pin a version tag or a digest"
                .to_owned()
        )]
    );
}

#[test]
fn pull_policy_counts_init_containers() {
    let mut init = good("init");
    init["image"] = json!("busybox:latest");
    let report = analyze_specs(&[spec_with(json!([good("app")]), json!([init]))]);
    assert_eq!(flagged(&report, "0", "pull-policy-not-always"), ["init"]);
}

#[test]
fn priority_class_must_be_named() {
    let spec = spec_with(json!([good("app")]), json!([]));
    // `null` and a number read as unset: the host reads this 0.2.0 field leniently.
    let unnamed = [json!(""), Value::Null, json!(7)];
    let mut specs = vec![spec.clone()];
    specs.extend(unnamed.iter().map(|value| {
        let mut spec = spec.clone();
        spec["priorityClassName"] = value.clone();
        spec
    }));
    let report = analyze_specs(&specs);
    assert!(found(&report, "0", "priority-class-not-set").is_empty());
    for (index, value) in unnamed.iter().enumerate() {
        assert_eq!(
            found(&report, &(index + 1).to_string(), "priority-class-not-set"),
            [(
                None,
                "spec.priorityClassName is not set; set a PriorityClass so the scheduler knows \
                 which pods to preempt first"
                    .to_owned()
            )],
            "{value}"
        );
    }
}

#[test]
fn automount_must_be_switched_off_on_the_pod() {
    let compliant = spec_with(json!([good("app")]), json!([]));
    let mut explicit = compliant.clone();
    explicit["automountServiceAccountToken"] = json!(true);
    let mut unset = compliant.clone();
    unset
        .as_object_mut()
        .expect("object")
        .remove("automountServiceAccountToken");
    // A string is not a boolean: the host reads this 0.2.0 field leniently, as unset.
    let mut odd = compliant.clone();
    odd["automountServiceAccountToken"] = json!("no");
    let report = analyze_specs(&[compliant, explicit, unset, odd]);
    let check = "automount-service-account-token";
    assert!(found(&report, "0", check).is_empty());

    let findings = found(&report, "1", check);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].0, None);
    assert!(
        findings[0]
            .1
            .starts_with("spec.automountServiceAccountToken is true")
    );
    for name in ["2", "3"] {
        let findings = found(&report, name, check);
        assert_eq!(findings.len(), 1, "{name}");
        assert!(findings[0].1.contains("is not set"), "{}", findings[0].1);
        assert!(
            findings[0]
                .1
                .contains("set automountServiceAccountToken: false")
        );
    }
}

#[test]
fn sensitive_env_literals_are_flagged_once_per_container() {
    let many = spec_editing(|app| {
        app["env"] = json!([
            {"name": "DB_PASSWORD", "value": "hunter2"},
            {"name": "LOG_LEVEL", "value": "debug"},
            // The host passes a number as its JSON text (YAML `value: 12345`).
            {"name": "API_TOKEN", "value": 12345},
            {"name": "EMPTY_SECRET", "value": ""},
            // Not a literal: the host reads an object as no value.
            {"name": "OBJECT_SECRET", "value": {"x": 1}},
            {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            {"name": "TLS_KEY", "value": "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----"}
        ])
    });
    let one = spec_editing(|app| app["env"] = json!([{"name": "SECRET", "value": "x"}]));
    let report = analyze_specs(&[many, one]);
    let findings = found(&report, "0", "sensitive-env-literal");
    assert_eq!(
        findings,
        [(
            Some("app".to_owned()),
            "container \"app\" sets the sensitive environment variables DB_PASSWORD, API_TOKEN, \
             TLS_KEY from a literal value; read them from a Secret with valueFrom.secretKeyRef"
                .to_owned()
        )]
    );
    assert!(!findings[0].1.contains("hunter2"), "values are never shown");

    assert_eq!(
        found(&report, "1", "sensitive-env-literal")[0].1,
        "container \"app\" sets the sensitive environment variable SECRET from a literal value; \
         read it from a Secret with valueFrom.secretKeyRef"
    );
}

#[test]
fn sensitive_env_literals_count_init_containers() {
    let mut init = good("init");
    init["env"] = json!([{"name": "REGISTRY_PASSWORD", "value": "x"}]);
    let report = analyze_specs(&[spec_with(json!([good("app")]), json!([init]))]);
    assert_eq!(flagged(&report, "0", "sensitive-env-literal"), ["init"]);
}

#[test]
fn sensitive_name_patterns_add_to_the_built_in_list() {
    let config = ONLY_BEST_PRACTICES.replace(
        "best-practices: {enabled: true}",
        "best-practices: {enabled: true, settings: {sensitiveNamePatterns: [DSN, conn-string]}}",
    );
    let spec = spec_editing(|app| {
        app["env"] = json!([
            {"name": "SENTRY_DSN", "value": "https://x@sentry"},
            {"name": "DB_CONN_STRING", "value": "postgres://"},
            {"name": "PASSWORD", "value": "x"},
            {"name": "LOG_LEVEL", "value": "info"}
        ])
    });
    let report = analyze(&config, &pod("p", &["Deployment"], spec));
    let findings = found(&report, "p", "sensitive-env-literal");
    assert_eq!(findings.len(), 1);
    assert!(
        findings[0]
            .1
            .contains("variables SENTRY_DSN, DB_CONN_STRING, PASSWORD from"),
        "{}",
        findings[0].1
    );
}

#[test]
fn topology_spread_applies_to_replicated_controllers_only() {
    let mut unspread = spec_with(json!([good("app")]), json!([]));
    unspread
        .as_object_mut()
        .expect("object")
        .remove("topologySpreadConstraints");
    let owners: [(&[&str], bool); 9] = [
        (&["Deployment"], true),
        (&["StatefulSet"], true),
        (&["ReplicaSet"], true),
        (&["ReplicationController"], true),
        (&["DaemonSet"], false),
        (&["Job"], false),
        (&["CronJob"], false),
        (&["Node"], false),
        (&[], false),
    ];
    let mut manifests: Vec<String> = owners
        .iter()
        .enumerate()
        .map(|(index, (owners, _))| pod(&index.to_string(), owners, unspread.clone()))
        .collect();
    let with = |name: &str, constraints: Value| {
        let mut spec = unspread.clone();
        spec["topologySpreadConstraints"] = constraints;
        pod(name, &["Deployment"], spec)
    };
    manifests.push(with("empty", json!([])));
    // A string is not a list: the host reads this 0.2.0 field leniently, as none.
    manifests.push(with("odd", json!("zone")));
    manifests.push(with(
        "spread",
        json!([{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname"}]),
    ));
    let report = analyze(ONLY_BEST_PRACTICES, &manifests.join("\n"));
    let check = "missing-topology-spread";
    for (index, (owners, expected)) in owners.into_iter().enumerate() {
        let findings = found(&report, &index.to_string(), check);
        assert_eq!(findings.len(), usize::from(expected), "{owners:?}");
        if let Some((container, message)) = findings.first() {
            assert_eq!(container, &None);
            assert!(
                message.starts_with(&format!(
                    "pod of a {} has no spec.topologySpreadConstraints",
                    owners[0]
                )),
                "{message}"
            );
        }
    }
    assert_eq!(
        found(&report, "empty", check).len(),
        1,
        "an empty list spreads nothing"
    );
    assert_eq!(found(&report, "odd", check).len(), 1);
    assert!(found(&report, "spread", check).is_empty());
}

/// Fields the host read before contract 0.2.0 stay strict: a wrong JSON type in one makes the
/// whole pod an input error naming the field, so the plugin never sees it (nor did it in 0.1.0).
/// The plugin's own lenient reading of these, in 0.1.0, was never reached.
#[test]
fn a_wrong_type_in_a_field_read_strictly_is_an_input_error() {
    // (pod name, the field of its container `app` as a JSON pointer, the value it is given)
    let edits = [
        ("resources", "/resources", json!("nonsense")),
        ("object-quantity", "/resources/limits/memory", json!({})),
        ("null-quantity", "/resources/requests/cpu", Value::Null),
        ("pull-policy", "/imagePullPolicy", json!(["Always"])),
        (
            "read-only",
            "/securityContext/readOnlyRootFilesystem",
            json!("true"),
        ),
    ];
    let manifests: Vec<String> = edits
        .iter()
        .map(|(name, field, value)| {
            let spec = spec_editing(|app| {
                *app.pointer_mut(field).expect("a field of good()") = value.clone();
            });
            pod(name, &["Deployment"], spec)
        })
        .collect();
    let mut sources = Manifests::default();
    manifest::split("test.json".into(), manifests.join("\n"), &mut sources);
    let report = analyze_report(
        &catalog(ONLY_BEST_PRACTICES),
        &sources.sources,
        &Filter::default(),
    );
    assert_eq!(report.summary.pods_analyzed, 0);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    let messages: Vec<&str> = report
        .diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::Input)
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(messages.len(), edits.len(), "{messages:?}");
    for ((name, field, _), message) in edits.iter().zip(messages) {
        let field = field[1..].replace('/', ".");
        assert!(
            message.starts_with(&format!("Pod shop/{name}: spec.containers[0].{field}: ")),
            "{message}"
        );
    }
}
