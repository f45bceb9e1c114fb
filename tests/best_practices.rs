//! The built-in `best-practices` plugin through the real Wasm path (the embedded component,
//! wasmtime, the WIT contract, the config file): workloads read from manifests, the opt-in, and
//! per-check exemptions.

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

/// A pod spec that passes every check.
fn compliant() -> Value {
    json!({
        "priorityClassName": "business-critical",
        "automountServiceAccountToken": false,
        "topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app": "web"}}
        }],
        "containers": [{
            "name": "app", "image": "registry.local/web:2.3.1", "imagePullPolicy": "IfNotPresent",
            "resources": {
                "requests": {"cpu": "250m", "memory": "256Mi"},
                "limits": {"cpu": "1", "memory": "512Mi"}
            },
            "securityContext": {"readOnlyRootFilesystem": true},
            "env": [{"name": "DB_PASSWORD",
                     "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]
        }]
    })
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
        &workload("Deployment", "web", json!({}), compliant()),
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
