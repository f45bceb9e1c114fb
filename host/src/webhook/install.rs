//! `kube-devops webhook install-config`: the ValidatingWebhookConfiguration (and, with
//! `--mutating`, the MutatingWebhookConfiguration) that sends pods and pod-template workloads
//! to the webhook, with the CA bundle that makes its certificate trusted.

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhook, MutatingWebhookConfiguration, RuleWithOperations, ServiceReference,
    ValidatingWebhook, ValidatingWebhookConfiguration, WebhookClientConfig,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};

/// How the API server reaches the webhook and what happens when it cannot.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// An HTTPS URL to reach the webhook by, instead of the Service: a webhook running outside
    /// the cluster.
    pub url: Option<String>,
    pub service: String,
    pub namespace: String,
    pub port: i32,
    /// PEM of the CA that signed the serving certificate.
    pub ca_pem: String,
    /// `Ignore` (admit when the webhook is down) or `Fail`.
    pub failure_policy: String,
    pub timeout_seconds: i32,
    /// Namespaces the API server never sends (besides the webhook's own): the system
    /// namespaces given by name. Namespaces a pattern matches still reach the webhook, which
    /// enforces their policy if they have one.
    pub skipped_namespaces: Vec<String>,
}

/// The ValidatingWebhookConfiguration: denials at `/validate`.
pub fn configuration(options: &InstallOptions) -> ValidatingWebhookConfiguration {
    let webhook = ValidatingWebhook {
        name: "workloads.devops.stochastic.io".to_owned(),
        admission_review_versions: vec!["v1".to_owned()],
        client_config: client_config(options, "/validate"),
        failure_policy: Some(options.failure_policy.clone()),
        match_policy: Some("Equivalent".to_owned()),
        namespace_selector: Some(namespace_selector(options)),
        rules: Some(rules()),
        side_effects: "None".to_owned(),
        timeout_seconds: Some(options.timeout_seconds),
        ..ValidatingWebhook::default()
    };
    ValidatingWebhookConfiguration {
        metadata: metadata(),
        webhooks: Some(vec![webhook]),
    }
}

/// The MutatingWebhookConfiguration: fixes at `/mutate`, for the same objects. The API server
/// runs mutating webhooks before validating ones, so a fixed object is then validated as
/// fixed.
pub fn mutating_configuration(options: &InstallOptions) -> MutatingWebhookConfiguration {
    let webhook = MutatingWebhook {
        name: "fixes.devops.stochastic.io".to_owned(),
        admission_review_versions: vec!["v1".to_owned()],
        client_config: client_config(options, "/mutate"),
        failure_policy: Some(options.failure_policy.clone()),
        match_policy: Some("Equivalent".to_owned()),
        namespace_selector: Some(namespace_selector(options)),
        // Fixes only add what is missing: a second pass after another webhook's change
        // finds what that change left missing.
        reinvocation_policy: Some("IfNeeded".to_owned()),
        rules: Some(rules()),
        side_effects: "None".to_owned(),
        timeout_seconds: Some(options.timeout_seconds),
        ..MutatingWebhook::default()
    };
    MutatingWebhookConfiguration {
        metadata: metadata(),
        webhooks: Some(vec![webhook]),
    }
}

fn client_config(options: &InstallOptions, path: &str) -> WebhookClientConfig {
    WebhookClientConfig {
        ca_bundle: Some(ByteString(options.ca_pem.clone().into_bytes())),
        service: options.url.is_none().then(|| ServiceReference {
            name: options.service.clone(),
            namespace: options.namespace.clone(),
            path: Some(path.to_owned()),
            port: Some(options.port),
        }),
        url: options.url.clone(),
    }
}

fn namespace_selector(options: &InstallOptions) -> LabelSelector {
    let mut skipped = options.skipped_namespaces.clone();
    if !skipped.contains(&options.namespace) {
        skipped.push(options.namespace.clone());
    }
    LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "kubernetes.io/metadata.name".to_owned(),
            operator: "NotIn".to_owned(),
            values: Some(skipped),
        }]),
        match_labels: None,
    }
}

fn rules() -> Vec<RuleWithOperations> {
    let rule = |group: &str, resources: &[&str]| RuleWithOperations {
        api_groups: Some(vec![group.to_owned()]),
        api_versions: Some(vec!["v1".to_owned()]),
        operations: Some(vec!["CREATE".to_owned(), "UPDATE".to_owned()]),
        resources: Some(resources.iter().map(|r| (*r).to_owned()).collect()),
        scope: Some("Namespaced".to_owned()),
    };
    vec![
        rule("", &["pods"]),
        rule(
            "apps",
            &["deployments", "statefulsets", "daemonsets", "replicasets"],
        ),
        rule("batch", &["jobs", "cronjobs"]),
    ]
}

fn metadata() -> ObjectMeta {
    ObjectMeta {
        name: Some("kube-devops".to_owned()),
        labels: Some(
            [(
                "app.kubernetes.io/name".to_owned(),
                "kube-devops".to_owned(),
            )]
            .into(),
        ),
        ..ObjectMeta::default()
    }
}

/// The configuration as YAML, as `install-config` prints it (`mutating`: the
/// MutatingWebhookConfiguration).
pub fn yaml(options: &InstallOptions, mutating: bool) -> String {
    // Serialising a value we built ourselves cannot fail.
    if mutating {
        serde_saphyr::to_string(&mutating_configuration(options)).unwrap_or_default()
    } else {
        serde_saphyr::to_string(&configuration(options)).unwrap_or_default()
    }
}
