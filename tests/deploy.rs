//! The Helm chart (`deploy/helm/kube-devops`) rendered by Helm's own template engine
//! (`scripts/render-chart`, Helm 4's Go SDK from PyPI), then checked as the API server and a
//! reviewer would: every object strictly typed, names and labels consistent, RBAC exactly the
//! least set, containers locked down, kube-devops's own analysis at 100, the plain manifests
//! current, and the generated certificate serving the real webhook.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use support::apiserver::ApiServer;
use support::daemon::Daemon;
use support::toolchain::Toolchain;

const RELEASE: &str = "kube-devops";
const NAMESPACE: &str = "kube-devops";

/// The toggles a user flips most, each rendered and checked on its own.
const TOGGLES: &[&[&str]] = &[
    &[],
    &["webhook.certManager.enabled=true"],
    &["webhook.mutating.enabled=true"],
    &[
        "serviceMonitor.enabled=true",
        "grafanaDashboard.enabled=true",
    ],
    &["plugins.configMap=team-plugins"],
    &["plugins.image.reference=registry.example/team/plugins:1.2.0"],
    &[
        "webhook.failurePolicy=Fail",
        "webhook.timeoutSeconds=3",
        "operator.antiAffinity=hard",
        "webhook.antiAffinity=hard",
    ],
    &["operator.replicas=1", "webhook.replicas=1"],
    &["dashboard.enabled=true"],
    &["operator.enabled=false"],
    &["webhook.enabled=false"],
];

/// One rendered object and the template it came from.
struct Object {
    source: String,
    value: Value,
}

impl Object {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or_default()
    }

    fn typed<T: DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.value.clone())
            .unwrap_or_else(|error| panic!("{} {}: {error}", self.kind(), self.name()))
    }
}

/// Runs `scripts/render-chart ARGS` and returns its stdout, failing with its stderr.
fn render_chart(args: &[&str]) -> Result<String, String> {
    let output = Command::new("python3")
        .arg(support::workspace().join("scripts/render-chart"))
        .args(args)
        .output()
        .expect("run python3 scripts/render-chart (CPython 3 is needed to render the chart)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn render(sets: &[&str]) -> Vec<Object> {
    let mut args = Vec::new();
    for set in sets {
        args.extend(["--set", set]);
    }
    let text = render_chart(&args).unwrap_or_else(|error| panic!("render {sets:?}: {error}"));
    parse_stream(&text)
}

/// A `helm template` stream: `---`, a `# Source:` line, one object.
fn parse_stream(text: &str) -> Vec<Object> {
    text.split("\n---\n")
        .map(|document| document.trim_start_matches("---\n"))
        .filter(|document| document.lines().any(|line| line.starts_with("kind:")))
        .map(|document| {
            let source = document
                .lines()
                .find_map(|line| line.strip_prefix("# Source: "))
                .unwrap_or("?")
                .to_owned();
            let value: Value = serde_saphyr::from_str(document)
                .unwrap_or_else(|error| panic!("{source} is not YAML: {error}\n{document}"));
            Object { source, value }
        })
        .collect()
}

/// Deserialises `value` into `T` and back, and lists every field that did not survive: a
/// misspelt or unknown field is dropped by the typed model, so it shows up here.
fn strictly<T: DeserializeOwned + Serialize>(value: &Value) -> Vec<String> {
    let typed: T = match serde_path_to_error::deserialize(value) {
        Ok(typed) => typed,
        Err(error) => return vec![format!("{}: {}", error.path(), error.inner())],
    };
    let back = serde_json::to_value(&typed).expect("serialise");
    let mut lost = Vec::new();
    lost_fields(value, &back, "", &mut lost);
    lost
}

fn lost_fields(original: &Value, back: &Value, path: &str, lost: &mut Vec<String>) {
    match (original, back) {
        (Value::Object(original), Value::Object(back)) => {
            for (key, value) in original {
                let here = format!("{path}.{key}");
                match back.get(key) {
                    Some(other) => lost_fields(value, other, &here, lost),
                    None => lost.push(format!("{here} is not a field of this type")),
                }
            }
        }
        (Value::Array(original), Value::Array(back)) => {
            for (index, (value, other)) in original.iter().zip(back).enumerate() {
                lost_fields(value, other, &format!("{path}[{index}]"), lost);
            }
        }
        (original, back) if original != back => {
            lost.push(format!("{path}: {original} became {back}"));
        }
        _ => {}
    }
}

/// Regression: `examples/manifests/running-pods.json` was no valid Pod for the API server (an
/// ownerReference without `apiVersion`/`uid`, a containerStatus without `imageID`). Every object
/// under `examples/` is held to the Kubernetes schema, as the chart's are.
#[test]
fn every_example_is_a_strictly_valid_kubernetes_object() {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::batch::v1::CronJob;
    use k8s_openapi::api::core::v1::Pod;
    let examples = support::workspace().join("examples");
    let mut objects: Vec<(String, Value)> = Vec::new();
    for dir in ["manifests", "webhook"] {
        let mut paths: Vec<_> = std::fs::read_dir(examples.join(dir))
            .expect("examples")
            .map(|entry| entry.expect("entry").path())
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).expect("example");
            let name = path.display().to_string();
            let documents: Vec<Value> = if name.ends_with(".json") {
                vec![serde_json::from_str(&text).expect("JSON")]
            } else {
                text.split("\n---")
                    .filter(|document| document.lines().any(|line| line.starts_with("kind:")))
                    .map(|document| serde_saphyr::from_str(document).expect("YAML"))
                    .collect()
            };
            for document in documents {
                match document["kind"].as_str() {
                    Some("List") => objects.extend(
                        document["items"]
                            .as_array()
                            .expect("items")
                            .iter()
                            .map(|item| (name.clone(), item.clone())),
                    ),
                    // What the API server would have admitted: the object under review.
                    Some("AdmissionReview") => {
                        objects.push((name.clone(), document["request"]["object"].clone()));
                    }
                    _ => objects.push((name.clone(), document)),
                }
            }
        }
    }
    let mut problems = Vec::new();
    for (file, object) in &objects {
        let lost = match object["kind"].as_str().unwrap_or_default() {
            "Pod" => strictly::<Pod>(object),
            "Deployment" => strictly::<Deployment>(object),
            "StatefulSet" => strictly::<StatefulSet>(object),
            "CronJob" => strictly::<CronJob>(object),
            "Service" => strictly::<Service>(object),
            "DevOpsPolicy" => strictly::<kube_devops_policy::DevOpsPolicy>(object),
            other => vec![format!("no strict check for kind {other}")],
        };
        problems.extend(lost.into_iter().map(|problem| format!("{file}: {problem}")));
    }
    assert!(objects.len() >= 8, "{objects:?}");
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The strict check for each kind the chart may render; kinds outside k8s-openapi (cert-manager,
/// prometheus-operator) against the fields their CRDs define.
fn check_strictly(object: &Object) -> Vec<String> {
    let value = &object.value;
    let api_version = value["apiVersion"].as_str().unwrap_or_default();
    match (api_version, object.kind()) {
        ("v1", "ServiceAccount") => strictly::<ServiceAccount>(value),
        ("v1", "Secret") => strictly::<Secret>(value),
        ("v1", "Service") => strictly::<Service>(value),
        ("v1", "ConfigMap") => strictly::<ConfigMap>(value),
        ("apps/v1", "Deployment") => strictly::<Deployment>(value),
        ("policy/v1", "PodDisruptionBudget") => strictly::<PodDisruptionBudget>(value),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => strictly::<ClusterRole>(value),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            strictly::<ClusterRoleBinding>(value)
        }
        ("rbac.authorization.k8s.io/v1", "Role") => strictly::<Role>(value),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => strictly::<RoleBinding>(value),
        ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration") => {
            strictly::<ValidatingWebhookConfiguration>(value)
        }
        ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration") => {
            strictly::<MutatingWebhookConfiguration>(value)
        }
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
            strictly::<CustomResourceDefinition>(value)
        }
        ("cert-manager.io/v1", "Issuer") => strictly::<third_party::Issuer>(value),
        ("cert-manager.io/v1", "Certificate") => strictly::<third_party::Certificate>(value),
        ("monitoring.coreos.com/v1", "ServiceMonitor") => {
            strictly::<third_party::ServiceMonitor>(value)
        }
        (api_version, kind) => vec![format!("no schema known for {api_version} {kind}")],
    }
}

/// The fields of the third-party CRDs the chart uses (cert-manager v1, prometheus-operator v1),
/// unknown fields refused.
mod third_party {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Issuer {
        pub api_version: String,
        pub kind: String,
        pub metadata: ObjectMeta,
        pub spec: IssuerSpec,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct IssuerSpec {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub self_signed: Option<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub ca: Option<Value>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Certificate {
        pub api_version: String,
        pub kind: String,
        pub metadata: ObjectMeta,
        pub spec: CertificateSpec,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct CertificateSpec {
        pub secret_name: String,
        pub duration: String,
        pub renew_before: String,
        pub common_name: String,
        pub dns_names: Vec<String>,
        pub private_key: PrivateKey,
        pub issuer_ref: IssuerRef,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct PrivateKey {
        pub algorithm: String,
        pub size: u32,
        pub rotation_policy: String,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct IssuerRef {
        pub name: String,
        pub kind: String,
        pub group: String,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct ServiceMonitor {
        pub api_version: String,
        pub kind: String,
        pub metadata: ObjectMeta,
        pub spec: ServiceMonitorSpec,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct ServiceMonitorSpec {
        pub selector: LabelSelector,
        pub endpoints: Vec<Endpoint>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Endpoint {
        pub port: String,
        pub path: String,
        pub interval: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub scheme: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub tls_config: Option<TlsConfig>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct TlsConfig {
        pub server_name: String,
        pub ca: SecretOrConfigMap,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct SecretOrConfigMap {
        pub secret: SecretKey,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct SecretKey {
        pub name: String,
        pub key: String,
    }
}

fn find<'a>(objects: &'a [Object], kind: &str, name: &str) -> &'a Object {
    objects
        .iter()
        .find(|o| o.kind() == kind && o.name() == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn pod_specs(objects: &[Object]) -> Vec<(String, PodSpec)> {
    objects
        .iter()
        .filter(|object| object.kind() == "Deployment")
        .map(|object| {
            let deployment: Deployment = object.typed();
            let spec = deployment.spec.template.spec;
            (object.name().to_owned(), spec.expect("a pod spec"))
        })
        .collect()
}

fn labels_of(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .map(|(key, value)| (key.clone(), value.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn matches(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty()
        && selector
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
}

#[test]
fn chart_lints_strictly_with_every_toggle() {
    if !support::toolchain::require(Toolchain::Python) {
        return;
    }
    for sets in TOGGLES {
        let mut args = vec!["--lint"];
        for set in *sets {
            args.extend(["--set", set]);
        }
        let report = render_chart(&args).unwrap_or_else(|error| panic!("lint {sets:?}: {error}"));
        let report: Value = serde_json::from_str(&report).expect("a JSON lint report");
        assert_eq!(report["errors"], Value::Array(vec![]), "{sets:?}: {report}");
        assert_eq!(report["total_charts_linted"], 1, "{report}");
    }
}

#[test]
fn every_rendered_object_is_a_strictly_valid_kubernetes_object() {
    if !support::toolchain::require(Toolchain::Python) {
        return;
    }
    for sets in TOGGLES {
        let objects = render(sets);
        assert!(
            objects.len() >= 5,
            "{sets:?}: only {} objects",
            objects.len()
        );
        let problems: Vec<String> = objects
            .iter()
            .flat_map(|object| {
                check_strictly(object)
                    .into_iter()
                    .map(move |problem| format!("{} ({}): {problem}", object.name(), object.source))
            })
            .collect();
        assert!(problems.is_empty(), "{sets:?}:\n{}", problems.join("\n"));
    }
}

#[test]
fn a_misspelt_field_is_caught_by_the_strict_check() {
    if !support::toolchain::require(Toolchain::Python) {
        return;
    }
    // The strict check itself must fail on what it exists to catch.
    let objects = render(&[]);
    let deployment = objects.iter().find(|o| o.kind() == "Deployment").unwrap();
    let mut value = deployment.value.clone();
    value["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = serde_json::json!({});
    let problems = strictly::<Deployment>(&value);
    assert!(
        problems.iter().any(|p| p.contains("readinesProbe")),
        "{problems:?}"
    );
}

#[test]
fn names_labels_and_references_are_consistent() {
    if !support::toolchain::require(Toolchain::Python) {
        return;
    }
    for sets in TOGGLES {
        let objects = render(sets);
        let cluster_scoped = [
            "ClusterRole",
            "ClusterRoleBinding",
            "ValidatingWebhookConfiguration",
            "MutatingWebhookConfiguration",
            "CustomResourceDefinition",
        ];
        let names: BTreeSet<(String, String)> = objects
            .iter()
            .map(|o| (o.kind().to_owned(), o.name().to_owned()))
            .collect();
        assert_eq!(names.len(), objects.len(), "{sets:?}: duplicate kind/name");
        for object in objects
            .iter()
            .filter(|o| o.kind() != "CustomResourceDefinition")
        {
            let what = format!("{sets:?} {} {}", object.kind(), object.name());
            assert!(object.name().starts_with(RELEASE), "{what}: name");
            let labels = labels_of(&object.value["metadata"]["labels"]);
            for (key, value) in [
                ("app.kubernetes.io/name", "kube-devops"),
                ("app.kubernetes.io/instance", RELEASE),
                ("app.kubernetes.io/managed-by", "Helm"),
                ("app.kubernetes.io/part-of", "kube-devops"),
            ] {
                assert_eq!(
                    labels.get(key).map(String::as_str),
                    Some(value),
                    "{what}: {key}"
                );
            }
            assert_eq!(
                labels.get("app.kubernetes.io/version").map(String::as_str),
                Some(env!("CARGO_PKG_VERSION")),
                "{what}: the chart's appVersion is the crate version"
            );
            let namespace = object.value["metadata"]["namespace"].as_str();
            if cluster_scoped.contains(&object.kind()) {
                assert_eq!(namespace, None, "{what}");
            } else {
                assert_eq!(namespace, Some(NAMESPACE), "{what}");
            }
        }

        // The pod labels of each Deployment, whose own selector must match them.
        let pod_labels: Vec<BTreeMap<String, String>> = objects
            .iter()
            .filter(|o| o.kind() == "Deployment")
            .map(|o| {
                let selector = labels_of(&o.value["spec"]["selector"]["matchLabels"]);
                let labels = labels_of(&o.value["spec"]["template"]["metadata"]["labels"]);
                assert!(matches(&selector, &labels), "{}: selector", o.name());
                labels
            })
            .collect();
        let selects_one = |selector: &BTreeMap<String, String>| {
            pod_labels
                .iter()
                .filter(|labels| matches(selector, labels))
                .count()
                == 1
        };
        for object in &objects {
            let what = format!("{sets:?} {} {}", object.kind(), object.name());
            match object.kind() {
                "Service" => {
                    assert!(
                        selects_one(&labels_of(&object.value["spec"]["selector"])),
                        "{what}"
                    );
                }
                "PodDisruptionBudget" | "ServiceMonitor" => {
                    let selector = labels_of(&object.value["spec"]["selector"]["matchLabels"]);
                    if object.kind() == "PodDisruptionBudget" {
                        assert!(selects_one(&selector), "{what}");
                    } else {
                        let service = objects.iter().find(|o| {
                            o.kind() == "Service"
                                && matches(&selector, &labels_of(&o.value["metadata"]["labels"]))
                        });
                        let service = service.unwrap_or_else(|| panic!("{what}: no Service"));
                        let port = &object.value["spec"]["endpoints"][0]["port"];
                        assert!(
                            service.value["spec"]["ports"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .any(|p| &p["name"] == port),
                            "{what}: port {port}"
                        );
                    }
                }
                "ClusterRoleBinding" | "RoleBinding" => {
                    let role = object.value["roleRef"]["name"].as_str().unwrap();
                    let role_kind = object.value["roleRef"]["kind"].as_str().unwrap();
                    assert!(
                        names.contains(&(role_kind.to_owned(), role.to_owned())),
                        "{what}"
                    );
                    for subject in object.value["subjects"].as_array().unwrap() {
                        let account = subject["name"].as_str().unwrap().to_owned();
                        assert!(
                            names.contains(&("ServiceAccount".to_owned(), account)),
                            "{what}"
                        );
                        assert_eq!(subject["namespace"], NAMESPACE, "{what}");
                    }
                }
                "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" => {
                    let service = &object.value["webhooks"][0]["clientConfig"]["service"];
                    let target = objects
                        .iter()
                        .find(|o| o.kind() == "Service" && o.name() == service["name"])
                        .unwrap_or_else(|| panic!("{what}: no Service {}", service["name"]));
                    assert_eq!(service["namespace"], NAMESPACE, "{what}");
                    assert_eq!(
                        target.value["spec"]["ports"][0]["port"], service["port"],
                        "{what}"
                    );
                }
                _ => {}
            }
        }
        // What pods mount and run as exists in the release.
        let secrets: BTreeSet<String> = objects
            .iter()
            .filter_map(|o| match o.kind() {
                "Secret" => Some(o.name().to_owned()),
                "Certificate" => o.value["spec"]["secretName"].as_str().map(str::to_owned),
                _ => None,
            })
            .collect();
        for (name, spec) in pod_specs(&objects) {
            let account = spec
                .service_account_name
                .clone()
                .expect("a service account");
            assert!(
                names.contains(&("ServiceAccount".to_owned(), account)),
                "{name}"
            );
            for volume in spec.volumes.iter().flatten() {
                if let Some(secret) = &volume.secret {
                    let secret = secret.secret_name.clone().unwrap();
                    assert!(
                        secrets.contains(&secret),
                        "{sets:?} {name}: Secret {secret}"
                    );
                }
            }
            for container in &spec.containers {
                for mount in container.volume_mounts.iter().flatten() {
                    assert!(
                        spec.volumes.iter().flatten().any(|v| v.name == mount.name),
                        "{name}: mount {}",
                        mount.name
                    );
                }
            }
        }
    }
}

/// One RBAC permission: where (`cluster` or a namespace), API group, resource, verb, and the
/// object name it is limited to (empty: any).
type Permission = (String, String, String, String, String);

fn permissions(scope: &str, rules: &[PolicyRule]) -> BTreeSet<Permission> {
    let mut all = BTreeSet::new();
    for rule in rules {
        let names = rule
            .resource_names
            .clone()
            .unwrap_or_else(|| vec![String::new()]);
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    for name in &names {
                        all.insert((
                            scope.to_owned(),
                            group.clone(),
                            resource.clone(),
                            verb.clone(),
                            name.clone(),
                        ));
                    }
                }
            }
        }
        assert!(rule.non_resource_urls.is_none(), "no non-resource URLs");
    }
    all
}

/// Every permission each ServiceAccount is granted, through any binding.
fn granted(objects: &[Object]) -> BTreeMap<String, BTreeSet<Permission>> {
    let mut by_account: BTreeMap<String, BTreeSet<Permission>> = BTreeMap::new();
    for binding in objects
        .iter()
        .filter(|o| matches!(o.kind(), "ClusterRoleBinding" | "RoleBinding"))
    {
        let role_ref = &binding.value["roleRef"];
        let role = objects
            .iter()
            .find(|o| o.kind() == role_ref["kind"] && o.name() == role_ref["name"])
            .expect("the bound role is rendered");
        let scope = match binding.kind() {
            "RoleBinding" => binding.value["metadata"]["namespace"].as_str().unwrap(),
            _ => "cluster",
        };
        let rules: Vec<PolicyRule> =
            serde_json::from_value(role.value["rules"].clone()).expect("rules");
        for subject in binding.value["subjects"].as_array().unwrap() {
            by_account
                .entry(subject["name"].as_str().unwrap().to_owned())
                .or_default()
                .extend(permissions(scope, &rules));
        }
    }
    by_account
}

fn expected(rules: &[(&str, &str, &str, &[&str], &str)]) -> BTreeSet<Permission> {
    rules
        .iter()
        .flat_map(|(scope, group, resource, verbs, name)| {
            verbs.iter().map(move |verb| {
                (
                    scope.to_string(),
                    group.to_string(),
                    resource.to_string(),
                    verb.to_string(),
                    name.to_string(),
                )
            })
        })
        .collect()
}

#[test]
fn rbac_is_exactly_the_least_privilege_set() {
    if !support::toolchain::require(Toolchain::Python) {
        return;
    }
    let objects = render(&[]);
    let granted = granted(&objects);
    let operator = expected(&[
        ("cluster", "", "pods", &["get", "list", "watch"], ""),
        (
            "cluster",
            "devops.stochastic.io",
            "devopspolicies",
            &["get", "list", "watch"],
            "",
        ),
        (
            "cluster",
            "devops.stochastic.io",
            "devopspolicies/status",
            &["patch"],
            "",
        ),
        (
            "cluster",
            "wgpolicyk8s.io",
            "policyreports",
            &["create", "patch"],
            "",
        ),
        (
            "cluster",
            "events.k8s.io",
            "events",
            &["create", "patch"],
            "",
        ),
        // Enforce mode: a pod's ReplicaSet is read to find its Deployment; workloads are
        // patched (server-side apply) with their fixes.
        ("cluster", "apps", "replicasets", &["get"], ""),
        ("cluster", "apps", "deployments", &["get", "patch"], ""),
        ("cluster", "apps", "statefulsets", &["get", "patch"], ""),
        ("cluster", "apps", "daemonsets", &["get", "patch"], ""),
        (NAMESPACE, "coordination.k8s.io", "leases", &["create"], ""),
        (
            NAMESPACE,
            "coordination.k8s.io",
            "leases",
            &["get", "update"],
            "kube-devops-operator",
        ),
    ]);
    let webhook = expected(&[(
        "cluster",
        "devops.stochastic.io",
        "devopspolicies",
        &["get", "list", "watch"],
        "",
    )]);
    assert_eq!(granted.get("kube-devops-operator"), Some(&operator));
    assert_eq!(granted.get("kube-devops-webhook"), Some(&webhook));
    assert_eq!(granted.len(), 2, "only the two ServiceAccounts are bound");

    // Without leader election there is no Lease permission at all.
    let single = render(&[
        "operator.replicas=1",
        "operator.leaderElection.enabled=false",
    ]);
    let granted = granted_for(&single, "kube-devops-operator");
    assert!(
        granted.iter().all(|p| p.1 != "coordination.k8s.io"),
        "{granted:?}"
    );
}

fn granted_for(objects: &[Object], account: &str) -> BTreeSet<Permission> {
    granted(objects).remove(account).unwrap_or_default()
}

fn check_container(what: &str, container: &Container) {
    let image = container.image.as_deref().unwrap_or_default();
    let tag = image
        .rsplit_once(':')
        .map(|(_, tag)| tag)
        .unwrap_or_default();
    assert!(
        !tag.is_empty() && tag != "latest" && !tag.contains('/'),
        "{what}: image {image} is not pinned by tag"
    );
    let security = container
        .security_context
        .as_ref()
        .expect("a security context");
    assert_eq!(security.run_as_non_root, Some(true), "{what}");
    assert!(security.run_as_user.is_some_and(|uid| uid > 0), "{what}");
    assert_eq!(security.read_only_root_filesystem, Some(true), "{what}");
    assert_eq!(security.allow_privilege_escalation, Some(false), "{what}");
    assert_eq!(security.privileged, Some(false), "{what}");
    let capabilities = security.capabilities.as_ref().expect("capabilities");
    assert_eq!(
        capabilities.drop.as_deref(),
        Some(&["ALL".to_owned()][..]),
        "{what}"
    );
    assert!(capabilities.add.is_none(), "{what}");
    let seccomp = security.seccomp_profile.as_ref().expect("seccomp");
    assert_eq!(seccomp.type_, "RuntimeDefault", "{what}");
    let resources = container.resources.as_ref().expect("resources");
    for set in [&resources.requests, &resources.limits] {
        let set = set.as_ref().expect("requests and limits");
        assert!(
            set.contains_key("cpu") && set.contains_key("memory"),
            "{what}"
        );
    }
    assert!(container.liveness_probe.is_some(), "{what}: liveness");
    assert!(container.readiness_probe.is_some(), "{what}: readiness");
}

#[test]
fn every_container_is_locked_down_and_highly_available() {
    if !support::toolchain::require(Toolchain::Python) {
        return;
    }
    for sets in TOGGLES {
        let objects = render(sets);
        for (name, spec) in pod_specs(&objects) {
            let what = format!("{sets:?} {name}");
            for container in spec
                .containers
                .iter()
                .chain(spec.init_containers.iter().flatten())
            {
                check_container(&format!("{what}/{}", container.name), container);
            }
            let pod = spec
                .security_context
                .as_ref()
                .expect("pod security context");
            assert_eq!(pod.run_as_non_root, Some(true), "{what}");
            assert!(
                spec.host_network.is_none() && spec.host_pid.is_none(),
                "{what}"
            );
        }
    }
    // By default: two replicas of each, spread across nodes, with a PDB that keeps one.
    let objects = render(&[]);
    for name in ["kube-devops-operator", "kube-devops-webhook"] {
        let deployment = find(&objects, "Deployment", name);
        assert_eq!(deployment.value["spec"]["replicas"], 2, "{name}");
        let anti = &deployment.value["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"];
        let term = &anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"];
        assert_eq!(term["topologyKey"], "kubernetes.io/hostname", "{name}");
        assert_eq!(
            term["labelSelector"]["matchLabels"],
            deployment.value["spec"]["selector"]["matchLabels"]
        );
        let pdb = find(&objects, "PodDisruptionBudget", name);
        assert_eq!(pdb.value["spec"]["minAvailable"], 1);
    }
    let operator = find(&objects, "Deployment", "kube-devops-operator");
    let args = operator.value["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(args.contains("--leader-election=true"), "{args}");

    // `hard` requires other nodes; one replica gets no PDB (it would block every drain).
    let hard = render(&["operator.antiAffinity=hard", "operator.replicas=1"]);
    let operator = find(&hard, "Deployment", "kube-devops-operator");
    let anti = &operator.value["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"];
    assert!(anti["requiredDuringSchedulingIgnoredDuringExecution"].is_array());
    assert!(
        !hard
            .iter()
            .any(|o| o.kind() == "PodDisruptionBudget" && o.name() == "kube-devops-operator")
    );
}

#[test]
fn kube_devops_scores_its_own_chart_100_with_no_findings() {
    if !support::toolchain::require(Toolchain::Python) {
        return;
    }
    let dir = support::temp_dir();
    let chart = support::write(dir.path(), "chart.yaml", &render_chart(&[]).unwrap());
    let no_privileged = support::plugin_wasm("no-privileged");
    // The release namespace starts with `kube-`, which analysis treats as a system namespace.
    let run = support::run(&[
        "analyze",
        "-f",
        &chart,
        "--include-system",
        "--plugin",
        &no_privileged,
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(
        report["summary"]["podsAnalyzed"], 2,
        "operator and webhook: {run:?}"
    );
    assert_eq!(report["summary"]["healthScore"], 100, "{run:?}");
    assert_eq!(report["findings"], Value::Array(vec![]), "{run:?}");
}

#[test]
fn bad_values_are_refused_at_render_time_naming_the_value() {
    if !support::toolchain::require(Toolchain::Python) {
        return;
    }
    let error = render_chart(&["--set", "image.tag=latest"]).expect_err("must not render");
    assert!(
        error.contains("image.tag: `latest` is not allowed"),
        "{error}"
    );
    // values.schema.json: enums and misspelt keys.
    let error = render_chart(&["--set", "operator.antiAffinity=sometimes"]).expect_err("refused");
    assert!(error.contains("/operator/antiAffinity"), "{error}");
    let error = render_chart(&["--set", "webhook.failurPolicy=Fail"]).expect_err("refused");
    assert!(error.contains("'failurPolicy' not allowed"), "{error}");
    let error = render_chart(&[
        "--set",
        "plugins.configMap=a",
        "--set",
        "plugins.image.reference=registry.example/b:1",
    ])
    .expect_err("refused");
    assert!(error.contains("not both"), "{error}");
}

/// The default rendering without the TLS material Helm generates afresh on every render.
fn without_generated_tls(objects: Vec<Object>) -> Vec<Value> {
    objects
        .into_iter()
        .map(|object| {
            let mut value = object.value;
            if value["kind"] == "Secret" && value["type"] == "kubernetes.io/tls" {
                value.as_object_mut().unwrap().remove("data");
            }
            if value["kind"] == "ValidatingWebhookConfiguration"
                || value["kind"] == "MutatingWebhookConfiguration"
            {
                for webhook in value["webhooks"].as_array_mut().unwrap() {
                    webhook["clientConfig"]
                        .as_object_mut()
                        .unwrap()
                        .remove("caBundle");
                }
            }
            value
        })
        .collect()
}

#[test]
fn plain_manifests_are_the_default_chart() {
    if !support::toolchain::require(Toolchain::Python) {
        return;
    }
    let path = support::workspace().join("deploy/manifests/kube-devops.yaml");
    let committed = std::fs::read_to_string(&path).expect("deploy/manifests/kube-devops.yaml");
    let committed: Vec<Value> = parse_stream(&committed)
        .into_iter()
        .map(|o| o.value)
        .collect();
    let rendered = without_generated_tls(render(&[]));
    assert_eq!(
        committed.len(),
        rendered.len(),
        "deploy/manifests/ is stale: run `scripts/render-chart --manifests > deploy/manifests/kube-devops.yaml`"
    );
    for (committed, rendered) in committed.iter().zip(&rendered) {
        assert_eq!(
            committed, rendered,
            "deploy/manifests/ is stale: run `scripts/render-chart --manifests > deploy/manifests/kube-devops.yaml`"
        );
    }
    // And the committed file is exactly what the script writes, comments included.
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, render_chart(&["--manifests"]).unwrap());
}

/// Both configurations: the validating one by default, the mutating one where the chart's
/// `webhook.mutating.enabled` and `install-config --mutating` ask for it (off by default).
#[test]
fn the_charts_webhook_configurations_are_the_ones_install_config_prints() {
    if !support::toolchain::require(Toolchain::Python) {
        return;
    }
    assert!(
        !render(&[])
            .iter()
            .any(|o| o.kind() == "MutatingWebhookConfiguration"),
        "the mutating webhook is off by default"
    );
    let objects = render(&["webhook.mutating.enabled=true"]);
    let dir = support::temp_dir();
    let run = support::run(&[
        "webhook",
        "cert-generate",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let ca = dir.path().join("ca.crt");
    for (kind, extra) in [
        ("ValidatingWebhookConfiguration", None),
        ("MutatingWebhookConfiguration", Some("--mutating")),
    ] {
        let chart = objects.iter().find(|o| o.kind() == kind).unwrap();
        let mut args = vec!["webhook", "install-config", "--ca", ca.to_str().unwrap()];
        args.extend(extra);
        let run = support::run(&args);
        assert_eq!(run.code, 0, "{run:?}");
        let printed: Value = serde_saphyr::from_str(&run.stdout).expect("YAML");
        assert_eq!(printed["kind"], kind);
        assert_eq!(printed["metadata"]["name"], chart.value["metadata"]["name"]);
        let strip = |value: &Value| {
            let mut webhooks = value["webhooks"].clone();
            for webhook in webhooks.as_array_mut().unwrap() {
                webhook["clientConfig"]
                    .as_object_mut()
                    .unwrap()
                    .remove("caBundle");
            }
            webhooks
        };
        assert_eq!(strip(&chart.value), strip(&printed), "{kind}");
    }
}

#[test]
fn toggles_render_what_they_promise() {
    if !support::toolchain::require(Toolchain::Python) {
        return;
    }
    // cert-manager: a Certificate for the Secret the webhook mounts, its CA injected.
    let objects = render(&["webhook.certManager.enabled=true"]);
    let certificate = objects
        .iter()
        .find(|o| o.kind() == "Certificate")
        .expect("Certificate");
    assert!(objects.iter().any(|o| o.kind() == "Issuer"));
    assert!(
        !objects.iter().any(|o| o.kind() == "Secret"),
        "cert-manager writes the Secret"
    );
    let configuration = objects
        .iter()
        .find(|o| o.kind() == "ValidatingWebhookConfiguration")
        .unwrap();
    assert_eq!(
        configuration.value["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        format!("{NAMESPACE}/{}", certificate.name())
    );
    assert!(configuration.value["webhooks"][0]["clientConfig"]["caBundle"].is_null());
    let dns: Vec<&str> = certificate.value["spec"]["dnsNames"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        dns.contains(&"kube-devops-webhook.kube-devops.svc"),
        "{dns:?}"
    );

    // Values reach the webhook configuration.
    let objects = render(&["webhook.failurePolicy=Fail", "webhook.timeoutSeconds=3"]);
    let configuration = objects
        .iter()
        .find(|o| o.kind() == "ValidatingWebhookConfiguration")
        .unwrap();
    assert_eq!(configuration.value["webhooks"][0]["failurePolicy"], "Fail");
    assert_eq!(configuration.value["webhooks"][0]["timeoutSeconds"], 3);

    // Monitoring: a ServiceMonitor per component and a dashboard with the promised panels.
    let objects = render(&[
        "serviceMonitor.enabled=true",
        "grafanaDashboard.enabled=true",
    ]);
    assert_eq!(
        objects
            .iter()
            .filter(|o| o.kind() == "ServiceMonitor")
            .count(),
        2
    );
    let dashboard = objects
        .iter()
        .find(|o| o.kind() == "ConfigMap")
        .expect("dashboard");
    assert_eq!(
        dashboard.value["metadata"]["labels"]["grafana_dashboard"],
        "1"
    );
    let json: Value = serde_json::from_str(
        dashboard.value["data"]["kube-devops.json"]
            .as_str()
            .unwrap(),
    )
    .expect("the dashboard is JSON");
    let exprs = json["panels"].to_string();
    for metric in [
        "kube_devops_namespace_health_score",
        "kube_devops_findings",
        "kube_devops_webhook_request_duration_seconds_bucket",
        "kube_devops_webhook_requests_total",
        "kube_devops_plugin_failures_total",
    ] {
        assert!(exprs.contains(metric), "dashboard lacks {metric}");
    }

    // Custom plugins: the same read-only mount and --plugin-dir in both components.
    for (set, source) in [
        ("plugins.configMap=team-plugins", "configMap"),
        (
            "plugins.image.reference=registry.example/team/plugins:1.2.0",
            "image",
        ),
    ] {
        let objects = render(&[set]);
        for (name, spec) in pod_specs(&objects) {
            let volume = serde_json::to_value(
                spec.volumes
                    .iter()
                    .flatten()
                    .find(|v| v.name == "plugins")
                    .expect("volume"),
            )
            .unwrap();
            assert!(volume.get(source).is_some(), "{name}: {volume}");
            let container = &spec.containers[0];
            assert!(
                container
                    .args
                    .iter()
                    .flatten()
                    .any(|a| a == "--plugin-dir=/plugins")
            );
            let mount = container
                .volume_mounts
                .iter()
                .flatten()
                .find(|m| m.name == "plugins")
                .expect("mount");
            assert_eq!(
                (mount.mount_path.as_str(), mount.read_only),
                ("/plugins", Some(true))
            );
        }
    }
}

/// The container's args, without the flags the test harness sets itself.
fn chart_args(objects: &[Object], deployment: &str) -> Vec<String> {
    let (_, spec) = pod_specs(objects)
        .into_iter()
        .find(|(name, _)| name == deployment)
        .expect("deployment");
    spec.containers[0]
        .args
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|arg| !arg.starts_with("--log-format") && !arg.starts_with("--metrics-addr"))
        .collect()
}

#[test]
fn the_dashboard_flag_is_passed_only_when_dashboard_enabled_is_set() {
    if !support::toolchain::require(Toolchain::Python) {
        return;
    }
    let dashboard = |sets: &[&str]| {
        chart_args(&render(sets), "kube-devops-operator")
            .iter()
            .filter(|arg| arg.as_str() == "--dashboard")
            .count()
    };
    assert_eq!(dashboard(&[]), 0, "off by default");
    assert_eq!(dashboard(&["dashboard.enabled=false"]), 0);
    assert_eq!(dashboard(&["dashboard.enabled=true"]), 1);
    // The webhook has no dashboard.
    let objects = render(&["dashboard.enabled=true"]);
    assert!(!chart_args(&objects, "kube-devops-webhook").contains(&"--dashboard".to_owned()));
}

#[test]
fn the_operator_runs_with_the_charts_arguments_and_takes_the_lease_its_role_names() {
    if !support::toolchain::require(Toolchain::Python) {
        return;
    }
    let objects = render(&[]);
    let args = chart_args(&objects, "kube-devops-operator");
    assert_eq!(args[0], "operator");
    let server = ApiServer::start();
    let dir = support::temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    let mut all: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    all.push("--identity=chart-test");
    // POD_NAMESPACE comes from the downward API in the chart.
    let operator = Daemon::start_with_env(&kubeconfig, &all, &[("POD_NAMESPACE", NAMESPACE)]);
    let lease_names = granted_for(&objects, "kube-devops-operator")
        .into_iter()
        .filter(|p| p.2 == "leases" && !p.4.is_empty())
        .map(|p| (p.0, p.4))
        .collect::<BTreeSet<_>>();
    server.wait_for(
        std::time::Duration::from_secs(30),
        "the operator to take the lease the Role allows",
        |store| {
            lease_names.iter().find_map(|(namespace, name)| {
                store
                    .object("leases", Some(namespace), name)
                    .filter(|lease| lease["spec"]["holderIdentity"] == "chart-test")
            })
        },
    );
    assert_eq!(operator.terminate(), 0);
}

#[test]
fn the_generated_certificate_serves_the_webhook_under_its_service_name() {
    if !support::toolchain::require(Toolchain::Python) {
        return;
    }
    let objects = render(&[]);
    let secret: Secret = objects
        .iter()
        .find(|o| o.kind() == "Secret")
        .unwrap()
        .typed();
    let data = secret.data.expect("generated TLS data");
    let pem = |key: &str| String::from_utf8(data[key].0.clone()).expect("PEM");
    let configuration: ValidatingWebhookConfiguration = objects
        .iter()
        .find(|o| o.kind() == "ValidatingWebhookConfiguration")
        .unwrap()
        .typed();
    let ca_bundle = configuration.webhooks.unwrap()[0]
        .client_config
        .ca_bundle
        .clone()
        .expect("caBundle");
    assert_eq!(
        ca_bundle.0,
        pem("ca.crt").into_bytes(),
        "the caBundle is the Secret's CA"
    );

    let dir = support::temp_dir();
    let cert = support::write(dir.path(), "tls.crt", &pem("tls.crt"));
    let key = support::write(dir.path(), "tls.key", &pem("tls.key"));
    let policies = support::workspace().join("examples/webhook/policy.yaml");
    let mut args: Vec<String> = chart_args(&objects, "kube-devops-webhook")
        .into_iter()
        .filter(|arg| {
            !arg.starts_with("--addr") && !arg.starts_with("--cert") && !arg.starts_with("--key")
        })
        .collect();
    args.extend([
        "--addr=127.0.0.1:0".to_owned(),
        format!("--cert={cert}"),
        format!("--key={key}"),
        format!("--policies={}", policies.display()),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let webhook = Daemon::spawn_command(&args);
    let client = support::tls::Client::trusting(&[&String::from_utf8(ca_bundle.0).unwrap()])
        .with_server_name("kube-devops-webhook.kube-devops.svc");
    let answer = client
        .get(&webhook.metrics_addr, "/healthz")
        .expect("TLS with the caBundle");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.server_cert, support::tls::der_of(&pem("tls.crt")));
}

#[test]
fn the_dockerfile_builds_in_stages_and_runs_as_a_numeric_non_root_user() {
    let text = std::fs::read_to_string(support::workspace().join("deploy/Dockerfile"))
        .expect("deploy/Dockerfile");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    let stages: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert!(stages.len() >= 2, "a multi-stage build: {stages:?}");
    for stage in &stages {
        let image = stage.split_whitespace().nth(1).unwrap();
        assert!(
            image.contains('@')
                || image
                    .rsplit_once(':')
                    .is_some_and(|(_, tag)| tag != "latest"),
            "base image {image} is not pinned"
        );
    }
    let last = lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    let user = lines[last..]
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the final stage sets USER");
    let uid = user.split(':').next().unwrap();
    assert!(
        uid.parse::<u32>().is_ok_and(|uid| uid > 0),
        "USER {user} is not a numeric non-root id"
    );
    // The chart runs the image as that same user.
    let objects = render(&[]);
    for (name, spec) in pod_specs(&objects) {
        let context = spec.containers[0].security_context.as_ref().unwrap();
        assert_eq!(
            context.run_as_user.map(|u| u.to_string()).as_deref(),
            Some(uid),
            "{name}"
        );
    }
}
