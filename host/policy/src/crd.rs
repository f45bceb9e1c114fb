//! The `DevOpsPolicy` custom resource (`devops.stochastic.io/v1`): what a namespace's pods are
//! held to, and the governance state the operator writes back into its status.
//!
//! The CRD is derived from these types (`kube-devops crd generate`), so the schema the API
//! server validates and the structs the operator reads cannot drift apart.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use kube_devops_engine::analysis::config::LimitsConfig;
use kube_devops_engine::contract::Severity;
use kube_devops_engine::remedy::{DefaultProbe, DefaultResources, RemediationConfig};

/// Governance policy for the pods of one namespace.
///
/// The seed fields (`forbidLatestTag` … `maxRestartCount`, `forbidPendingDuration`) configure the
/// built-in plugins; `plugins` configures any plugin, built-in or custom, by name.
// kube's `printcolumn(...)` repeats its keys by design.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "devops.stochastic.io",
    version = "v1",
    kind = "DevOpsPolicy",
    namespaced,
    status = "DevOpsPolicyStatus",
    shortname = "dpol",
    category = "kube-devops",
    doc = "Governance policy for the pods of a namespace, analysed by kube-devops's WebAssembly plugins",
    printcolumn(name = "Score", type_ = "integer", json_path = ".status.healthScore"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.status"),
    printcolumn(name = "Pods", type_ = "integer", json_path = ".status.podsAnalyzed"),
    printcolumn(name = "Mode", type_ = "string", json_path = ".spec.enforcementMode"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct DevOpsPolicySpec {
    /// Flag containers whose image has no tag or the `latest` tag (check `latest-tag`).
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forbid_latest_tag: Option<bool>,
    /// Flag containers without a liveness probe (check `missing-liveness-probe`). Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_liveness_probe: Option<bool>,
    /// Flag containers without a readiness probe (check `missing-readiness-probe`).
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_readiness_probe: Option<bool>,
    /// Restarts a container may have before it counts (check `high-restarts`). Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_restart_count: Option<u32>,
    /// Seconds a pod may stay Pending before it counts (check `pending`). Default 0: every
    /// Pending pod counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forbid_pending_duration: Option<u64>,
    /// `audit` reports findings; `enforce` also patches the workloads of pods in violation
    /// with the fixes of their findings (the seed's meaning). In both, the admission webhook
    /// denies objects with a finding at `admissionThreshold` or above unless `admission` is
    /// `warn`. Default `audit`.
    #[serde(default)]
    pub enforcement_mode: EnforcementMode,
    /// The least severe finding that denies an object at admission; findings below it come
    /// back as warnings. Default `high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission_threshold: Option<Severity>,
    /// `deny` (the default) denies at `admissionThreshold`; `warn` only returns warnings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission: Option<AdmissionMode>,
    /// Severity per check id (`latest-tag: critical`), or by the seed's keys (`latestTag`,
    /// `missingLiveness`, `missingReadiness`, `highRestarts`, `pending`), overriding the plugin's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub severity_overrides: BTreeMap<String, Severity>,
    /// Any plugin, built-in or custom, configured by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<PluginPolicy>,
    /// Objects a built-in workload controller creates for a workload (a Pod of a ReplicaSet, a
    /// ReplicaSet of a Deployment, a Job of a CronJob): `warn` (the default) returns their
    /// violations as warnings, since the workload was reviewed when it was applied or predates
    /// the policy, and denying them would leave it unable to replace pods during a node drain;
    /// `deny` holds them to `admissionThreshold` like any object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_pods: Option<OwnedPods>,
    /// The probe fixes add to containers without one (the mutating webhook, `enforce` mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_probe: Option<DefaultProbe>,
    /// The requests and limits fixes add to containers without them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_resources: Option<DefaultResources>,
    /// How the operator patches workloads in `enforce` mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<RemediationSettings>,
}

impl DevOpsPolicySpec {
    /// What this policy's fixes fill in.
    pub fn remediation(&self) -> RemediationConfig {
        RemediationConfig {
            default_probe: self.default_probe.clone(),
            default_resources: self.default_resources.clone(),
        }
    }

    /// Whether `enforce` mode only lists the patches it would apply (`remediation.dryRun`).
    pub fn dry_run(&self) -> bool {
        self.remediation
            .as_ref()
            .is_some_and(|settings| settings.dry_run)
    }

    /// [`DevOpsPolicySpec::admission_threshold`], or its default.
    pub fn threshold(&self) -> Severity {
        self.admission_threshold.unwrap_or(Severity::High)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum EnforcementMode {
    #[default]
    Audit,
    Enforce,
}

/// What admission does with findings at the threshold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AdmissionMode {
    #[default]
    Deny,
    Warn,
}

/// `remediation:` of a policy: how the operator's `enforce` mode patches workloads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemediationSettings {
    /// List the patches in the status (`remediations`, result `planned`) and write nothing to
    /// the workloads. Default false.
    #[serde(default)]
    pub dry_run: bool,
}

/// How admission treats objects a built-in workload controller creates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OwnedPods {
    #[default]
    Warn,
    Deny,
}

/// One plugin's configuration in a policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginPolicy {
    /// The plugin's name, as its metadata gives it (`restarts`, `no-privileged`).
    pub name: String,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The checks to run; the plugin's other checks are off. Default: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<String>>,
    /// Passed to the plugin's `configure`, as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub settings: Option<serde_json::Value>,
    /// Severity per check id of this plugin.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub severities: BTreeMap<String, Severity>,
    /// Score weight per check id of this plugin.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub weights: BTreeMap<String, u32>,
    /// Where a custom plugin's module comes from. Absent for built-in plugins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<PluginSource>,
    /// Sandbox limits of this plugin's calls: `timeoutMs`, `memoryMiB`, `maxFindings`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsConfig>,
}

/// A custom plugin's module: a file in the operator's plugin directory, pinned by digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginSource {
    /// File name in the plugin directory (`--plugin-dir`), e.g. `no-privileged.wasm`.
    pub file: String,
    /// sha256 of the file, hex; a file with another digest is refused.
    pub sha256: String,
}

/// Governance state of the policy's namespace, written by the operator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevOpsPolicyStatus {
    /// 0-100: `100 − min(Σ weight × magnitude / pods, 100)`.
    #[serde(default)]
    pub health_score: u8,
    /// `Healthy` (80-100), `Stable` (60-79), `Degraded` (40-59) or `Critical` (0-39).
    #[serde(default)]
    pub status: String,
    /// Pods analysed (exempt pods are not).
    #[serde(default)]
    pub pods_analyzed: u64,
    /// Pods annotated `devops.stochastic.io/exempt: "true"`.
    #[serde(default)]
    pub exempted: u64,
    /// Findings dropped by `devops.stochastic.io/exempt-checks`.
    #[serde(default)]
    pub exempted_findings: u64,
    /// Σ magnitude per check id.
    #[serde(default)]
    pub findings_by_check: BTreeMap<String, u64>,
    /// Number of findings per severity.
    #[serde(default)]
    pub findings_by_severity: BTreeMap<String, u64>,
    /// The worst findings, worst first, at most 20.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
    /// When the namespace's state last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_evaluated: Option<String>,
    /// The policy generation this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`: the policy is in effect (False with the reason when it cannot be loaded).
    /// `Enforcing`: admission enforcement is active.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// What `enforce` mode last did to each workload, newest first, at most 20.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remediations: Vec<Remediation>,
}

/// One workload patched (or not) by `enforce` mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Remediation {
    /// `Deployment`, `StatefulSet` or `DaemonSet` (`ReplicaSet` when the Deployment could not
    /// be read through it).
    pub kind: String,
    /// The workload's name, in the policy's namespace.
    pub workload: String,
    pub result: RemediationResult,
    /// What was (or would be) added and for which checks, or why it was not.
    pub message: String,
    /// The checks whose fixes the patch holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// The patch as RFC 6902 operations on the workload: what `planned` would apply, what
    /// `applied` applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "json_patch")]
    pub patch: Option<Vec<serde_json::Value>>,
    /// When (RFC 3339).
    pub time: String,
}

/// What became of one workload's patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RemediationResult {
    /// Written by server-side apply (field manager `kube-devops-enforcer`).
    Applied,
    /// `remediation.dryRun`: computed, not written.
    Planned,
    /// Another field manager owns a field the patch would change; not forced.
    Conflict,
    /// The API server refused or failed the request; tried again when the workload's template
    /// or the policy changes.
    Failed,
}

/// One finding, as the status lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    pub pod: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub check: String,
    pub severity: Severity,
    pub message: String,
}

/// RFC 6902 operations: objects whose `value` may be any JSON.
fn json_patch(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
        },
    })
}

/// Plugin settings are the plugin's business: any object, kept as given.
fn any_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}
