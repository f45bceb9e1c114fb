//! What the operator writes for a namespace, computed from its state: each policy's `.status`
//! and the namespace's `PolicyReport` (`wgpolicyk8s.io/v1alpha2`). Pure functions: the writer
//! compares and sends, the tests read them directly.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::state::{Counts, Namespace};
use kube_devops_engine::contract::Severity;
use kube_devops_policy::crd::{
    AdmissionMode, DevOpsPolicyStatus, EnforcementMode, Remediation, Violation,
};
use kube_devops_policy::registry::Effect;
use kube_devops_policy::{DevOpsPolicy, DevOpsPolicySpec};

/// Findings a policy's status lists.
pub const MAX_VIOLATIONS: usize = 20;
/// Workloads a policy's status lists under `remediations`.
pub const MAX_REMEDIATIONS: usize = 20;
/// Results a PolicyReport lists. With messages capped at 1 KiB a report stays under ~300 KiB,
/// far from the API server's 1.5 MiB object limit, however many pods the namespace has; its
/// summary counts every finding.
pub const MAX_REPORT_RESULTS: usize = 200;
/// The report's name in every namespace.
pub const REPORT_NAME: &str = "kube-devops";
/// The field manager of every server-side apply.
pub const FIELD_MANAGER: &str = "kube-devops";

/// The status `policy` should have, given its namespace's state and what enforce mode did
/// there. Condition transition times and `lastEvaluated` are kept from `policy`'s current
/// status when nothing changed, so an unchanged namespace yields an identical status and no
/// write.
pub fn policy_status(
    policy: &DevOpsPolicy,
    scope: Option<&Namespace>,
    effect: &Effect,
    remediations: &[Remediation],
    now: Timestamp,
) -> DevOpsPolicyStatus {
    let empty = Counts::default();
    let counts = scope.map_or(&empty, |scope| &scope.counts);
    let previous = policy.status.as_ref();
    let generation = policy.metadata.generation;
    let mut status = DevOpsPolicyStatus {
        health_score: counts.score(),
        status: counts.status().to_owned(),
        pods_analyzed: counts.tally.pods,
        exempted: counts.exempted_pods,
        exempted_findings: counts.exempted_findings,
        findings_by_check: counts.tally.checks.clone(),
        findings_by_severity: by_severity(counts),
        violations: scope.map_or_else(Vec::new, |scope| {
            scope
                .worst(MAX_VIOLATIONS)
                .into_iter()
                .map(|finding| Violation {
                    pod: finding.pod.to_string(),
                    container: finding.container.clone(),
                    check: finding.check.to_string(),
                    severity: finding.severity,
                    message: finding.message.clone(),
                })
                .collect()
        }),
        last_evaluated: None,
        observed_generation: generation,
        conditions: Vec::new(),
        remediations: remediations
            .iter()
            .take(MAX_REMEDIATIONS)
            .cloned()
            .collect(),
    };
    let conditions = [ready_condition(effect), enforcing_condition(&policy.spec)];
    status.conditions = conditions
        .into_iter()
        .map(|(kind, state, reason, message)| {
            let kept = previous
                .and_then(|previous| previous.conditions.iter().find(|c| c.type_ == kind))
                .filter(|old| old.status == state);
            Condition {
                type_: kind.to_owned(),
                status: state.to_owned(),
                reason: reason.to_owned(),
                message,
                observed_generation: generation,
                last_transition_time: kept
                    .map_or(Time(now), |old| old.last_transition_time.clone()),
            }
        })
        .collect();
    status.last_evaluated = match previous {
        Some(previous) if same_state(previous, &status) => previous.last_evaluated.clone(),
        _ => Some(now.to_string()),
    };
    status
}

/// Equal but for `lastEvaluated`.
pub fn same_state(a: &DevOpsPolicyStatus, b: &DevOpsPolicyStatus) -> bool {
    let strip = |status: &DevOpsPolicyStatus| DevOpsPolicyStatus {
        last_evaluated: None,
        ..status.clone()
    };
    strip(a) == strip(b)
}

fn by_severity(counts: &Counts) -> BTreeMap<String, u64> {
    Severity::ALL
        .into_iter()
        .map(|severity| (severity.as_str().to_owned(), counts.severity(severity)))
        .collect()
}

type ConditionParts = (&'static str, &'static str, &'static str, String);

fn ready_condition(effect: &Effect) -> ConditionParts {
    match effect {
        Effect::Active => (
            "Ready",
            "True",
            "Active",
            "the policy is in effect for its namespace".to_owned(),
        ),
        Effect::Invalid(error) => (
            "Ready",
            "False",
            "InvalidPolicy",
            format!("{error}; the namespace is analysed with the default checks"),
        ),
        Effect::Superseded(other) => (
            "Ready",
            "False",
            "Superseded",
            format!(
                "policy `{other}` is in effect for this namespace (the first by name); this one is ignored"
            ),
        ),
    }
}

/// `Enforcing`: True when admission denies (`admission: deny`, the default, in either mode, as
/// in the seed); the reason names the mode, since only `enforce` also patches workloads.
fn enforcing_condition(spec: &DevOpsPolicySpec) -> ConditionParts {
    let (reason, patching) = match spec.enforcement_mode {
        EnforcementMode::Audit => (
            "Audit",
            "workloads are not patched (enforcementMode: audit)",
        ),
        EnforcementMode::Enforce => (
            "Enforce",
            "the workloads of pods in violation are patched with their findings' fixes (enforcementMode: enforce)",
        ),
    };
    match spec.admission.unwrap_or_default() {
        AdmissionMode::Deny => (
            "Enforcing",
            "True",
            reason,
            format!(
                "the kube-devops admission webhook denies objects with a finding of severity {} or above; {patching}",
                spec.threshold()
            ),
        ),
        AdmissionMode::Warn => (
            "Enforcing",
            "False",
            "AdmissionWarn",
            format!("admission is warn: the admission webhook only warns; {patching}"),
        ),
    }
}

/// The namespace's PolicyReport, for server-side apply. Results are the worst findings, at most
/// [`MAX_REPORT_RESULTS`]; the summary counts all of them: `fail` for high and critical
/// findings, `warn` for the rest, `pass` for pods without findings, `skip` for exempt pods.
pub fn policy_report(namespace: &str, scope: Option<&Namespace>) -> Value {
    let empty = Counts::default();
    let counts = scope.map_or(&empty, |scope| &scope.counts);
    let fail = counts.severity(Severity::High) + counts.severity(Severity::Critical);
    let warn = counts.severity(Severity::Low) + counts.severity(Severity::Medium);
    let results: Vec<Value> = scope.map_or_else(Vec::new, |scope| {
        scope
            .worst(MAX_REPORT_RESULTS)
            .into_iter()
            .map(|finding| {
                let result = match finding.severity {
                    Severity::High | Severity::Critical => "fail",
                    Severity::Low | Severity::Medium => "warn",
                };
                let mut properties = json!({
                    "scoreImpact": (u64::from(finding.weight) * u64::from(finding.magnitude)).to_string(),
                });
                if let Some(container) = &finding.container {
                    properties["container"] = json!(container);
                }
                json!({
                    "source": "kube-devops",
                    "policy": &*finding.plugin,
                    "rule": &*finding.check,
                    "category": "Workload best practices",
                    "result": result,
                    "severity": finding.severity.as_str(),
                    "scored": true,
                    "message": finding.message,
                    "resources": [{
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "namespace": namespace,
                        "name": &*finding.pod,
                    }],
                    "properties": properties,
                })
            })
            .collect()
    });
    json!({
        "apiVersion": "wgpolicyk8s.io/v1alpha2",
        "kind": "PolicyReport",
        "metadata": {
            "name": REPORT_NAME,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "kube-devops"},
        },
        "summary": {
            "pass": scope.map_or(0, Namespace::clean_pods),
            "fail": fail,
            "warn": warn,
            "error": 0,
            "skip": counts.exempted_pods,
        },
        "results": results,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::operator::state::{Governance, PodRecord};
    use kube_devops_engine::analysis::report::FindingRow;

    fn state_with_latest_pods(pods: usize) -> Governance {
        let mut state = Governance::default();
        for index in 0..pods {
            let name = format!("web-{index}");
            let finding = FindingRow {
                plugin: Arc::from("latest-tag"),
                check: Arc::from("latest-tag"),
                severity: Severity::High,
                api_version: None,
                kind: Arc::from("Pod"),
                namespace: Arc::from("shop"),
                pod: Arc::from(name.as_str()),
                container: Some("app".to_owned()),
                message: "x".repeat(1024),
                magnitude: 1,
                source: None,
                fix: None,
                weight: 5,
            };
            state.upsert(
                "shop",
                &name,
                PodRecord {
                    resource_version: "1".into(),
                    exempt: false,
                    exempted_findings: 0,
                    findings: vec![finding].into(),
                },
            );
        }
        state
    }

    #[test]
    fn a_report_stays_small_however_many_pods_and_counts_them_all() {
        let state = state_with_latest_pods(20_000);
        let report = policy_report("shop", state.namespace("shop"));
        assert_eq!(report["summary"]["fail"], 20_000);
        assert_eq!(
            report["results"].as_array().map(Vec::len),
            Some(MAX_REPORT_RESULTS)
        );
        let size = report.to_string().len();
        assert!(size < 512 * 1024, "report is {size} bytes");
    }

    #[test]
    fn an_unchanged_namespace_gives_an_identical_status() {
        let state = state_with_latest_pods(3);
        let mut policy = DevOpsPolicy::new("default", DevOpsPolicySpec::default());
        policy.metadata.generation = Some(2);
        let first = policy_status(
            &policy,
            state.namespace("shop"),
            &Effect::Active,
            &[],
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(first.health_score, 95);
        assert_eq!(first.status, "Healthy");
        assert_eq!(first.observed_generation, Some(2));
        policy.status = Some(first.clone());
        let later = Timestamp::from_second(1_000_000).expect("valid time");
        let again = policy_status(
            &policy,
            state.namespace("shop"),
            &Effect::Active,
            &[],
            later,
        );
        assert_eq!(again, first);
        let invalid = policy_status(
            &policy,
            state.namespace("shop"),
            &Effect::Invalid("bad".to_owned()),
            &[],
            later,
        );
        assert!(!same_state(&invalid, &first));
        assert_eq!(
            invalid.last_evaluated.as_deref(),
            Some(later.to_string().as_str())
        );
    }
}
