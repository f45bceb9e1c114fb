//! AdmissionReview `admission.k8s.io/v1`: reading a request, and the pure decision from its
//! findings (allow, deny with a message kubectl prints, warnings) to the response body.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use kube_devops_engine::analysis::report::FindingRow;
use kube_devops_engine::contract::Severity;

/// Kinds reviewed: pods, and workloads whose pod template becomes a pod.
const REVIEWED: [(&str, &str); 7] = [
    ("", "Pod"),
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
];

/// Why a body is not a usable AdmissionReview (answered 400).
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("the body is not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error(
        "expected an AdmissionReview of apiVersion admission.k8s.io/v1, got {kind} {api_version}"
    )]
    WrongKind { kind: String, api_version: String },
    #[error("the AdmissionReview has no request.uid")]
    NoUid,
}

/// What the webhook needs of a request.
#[derive(Debug)]
pub struct Request {
    pub uid: String,
    pub namespace: String,
    pub operation: String,
    /// `group/kind` of the object.
    pub kind: (String, String),
    pub name: String,
    /// The object's JSON text, when there is one.
    pub object: Option<String>,
    pub dry_run: bool,
    /// `userInfo.username`: who sent the request.
    pub user: String,
    /// The object has an ownerReference with `controller: true`.
    pub controlled: bool,
}

/// The identities of the built-in controllers that create reviewed objects for a workload:
/// kube-controller-manager's per-controller service accounts, and its own identity when it runs
/// without them (`--use-service-account-credentials=false`).
const WORKLOAD_CONTROLLERS: [&str; 8] = [
    "system:serviceaccount:kube-system:replicaset-controller",
    "system:serviceaccount:kube-system:replication-controller",
    "system:serviceaccount:kube-system:statefulset-controller",
    "system:serviceaccount:kube-system:daemon-set-controller",
    "system:serviceaccount:kube-system:job-controller",
    "system:serviceaccount:kube-system:cronjob-controller",
    "system:serviceaccount:kube-system:deployment-controller",
    "system:kube-controller-manager",
];

impl Request {
    /// Reads a review in one pass; the object's JSON is kept as text, not parsed here.
    pub fn parse(body: &[u8]) -> Result<Self, ReviewError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Review<'a> {
            #[serde(default)]
            api_version: String,
            #[serde(default)]
            kind: String,
            #[serde(default, borrow)]
            request: Option<Inner<'a>>,
        }
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "camelCase", default)]
        struct Inner<'a> {
            uid: String,
            namespace: String,
            operation: String,
            name: String,
            kind: GroupKind,
            #[serde(borrow)]
            object: Option<&'a RawValue>,
            dry_run: Option<bool>,
            user_info: UserInfo,
        }
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct UserInfo {
            username: String,
        }
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct GroupKind {
            group: String,
            kind: String,
        }
        let review: Review<'_> = serde_json::from_slice(body).map_err(ReviewError::NotJson)?;
        if review.kind != "AdmissionReview" || review.api_version != "admission.k8s.io/v1" {
            return Err(ReviewError::WrongKind {
                kind: review.kind,
                api_version: review.api_version,
            });
        }
        let request = review.request.unwrap_or_default();
        if request.uid.is_empty() {
            return Err(ReviewError::NoUid);
        }
        let object = request
            .object
            .map(RawValue::get)
            .filter(|text| text.trim_start().starts_with('{'))
            .map(str::to_owned);
        let controlled = object.as_deref().is_some_and(has_controller_reference);
        Ok(Request {
            uid: request.uid,
            namespace: request.namespace,
            operation: request.operation,
            kind: (request.kind.group, request.kind.kind),
            name: request.name,
            object,
            dry_run: request.dry_run.unwrap_or(false),
            user: request.user_info.username,
            controlled,
        })
    }

    /// Whether a built-in workload controller made this object for its workload: it carries a
    /// controller ownerReference *and* the request comes from one of the controllers. An
    /// ownerReference alone proves nothing: anyone may copy one into their pod.
    pub fn from_workload_controller(&self) -> bool {
        self.controlled && WORKLOAD_CONTROLLERS.contains(&self.user.as_str())
    }

    /// Whether this webhook reviews the request: CREATE or UPDATE of a reviewed kind.
    pub fn reviewed(&self) -> bool {
        matches!(self.operation.as_str(), "CREATE" | "UPDATE")
            && REVIEWED
                .iter()
                .any(|(group, kind)| self.kind.0 == *group && self.kind.1 == *kind)
    }
}

/// Whether the object JSON has an ownerReference with `controller: true`.
fn has_controller_reference(object: &str) -> bool {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Object {
        metadata: Metadata,
    }
    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct Metadata {
        owner_references: Vec<OwnerReference>,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct OwnerReference {
        controller: Option<bool>,
    }
    serde_json::from_str::<Object>(object).is_ok_and(|object| {
        object
            .metadata
            .owner_references
            .iter()
            .any(|reference| reference.controller == Some(true))
    })
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Why it was denied, as kubectl prints it.
    pub message: Option<String>,
    pub warnings: Vec<String>,
}

impl Decision {
    pub fn allow() -> Self {
        Decision {
            allowed: true,
            message: None,
            warnings: Vec::new(),
        }
    }

    /// The decision for `findings` when findings of `threshold` or worse deny (`enforce`), or
    /// only warn (`deny == false`, audit mode).
    pub fn from_findings(findings: &[FindingRow], threshold: Severity, deny: bool) -> Self {
        let line = |finding: &FindingRow| {
            format!(
                "{}: {}: {}",
                finding.container.as_deref().unwrap_or("pod"),
                finding.check,
                finding.message
            )
        };
        let (blocking, below): (Vec<&FindingRow>, Vec<&FindingRow>) = findings
            .iter()
            .partition(|finding| deny && finding.severity.rank() >= threshold.rank());
        let warnings = below
            .iter()
            .map(|finding| format!("kube-devops: {} ({})", line(finding), finding.severity))
            .collect();
        if blocking.is_empty() {
            return Decision {
                allowed: true,
                message: None,
                warnings,
            };
        }
        let mut message = format!(
            "denied by kube-devops: {} violation(s) at or above {threshold}:",
            blocking.len()
        );
        for finding in &blocking {
            message.push_str("\n- ");
            message.push_str(&line(finding));
        }
        Decision {
            allowed: false,
            message: Some(message),
            warnings,
        }
    }

    /// The AdmissionReview response for request `uid`.
    pub fn response(&self, uid: &str) -> Value {
        let mut response = json!({"uid": uid, "allowed": self.allowed});
        if let Some(message) = &self.message {
            response["status"] = json!({"code": 403, "reason": "Forbidden", "message": message});
        }
        if !self.warnings.is_empty() {
            response["warnings"] = json!(self.warnings);
        }
        json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": response,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn finding(check: &str, severity: Severity) -> FindingRow {
        FindingRow {
            plugin: Arc::from("p"),
            check: Arc::from(check),
            severity,
            api_version: None,
            kind: Arc::from("Pod"),
            namespace: Arc::from("shop"),
            pod: Arc::from("web"),
            container: Some("app".to_owned()),
            message: "why".to_owned(),
            magnitude: 1,
            source: None,
            fix: None,
            weight: 1,
        }
    }

    #[test]
    fn findings_at_the_threshold_deny_and_the_rest_warn() {
        let findings = [
            finding("latest-tag", Severity::High),
            finding("missing-readiness-probe", Severity::Medium),
        ];
        let decision = Decision::from_findings(&findings, Severity::High, true);
        assert!(!decision.allowed);
        let message = decision.message.as_deref().unwrap_or_default();
        assert!(message.contains("\n- app: latest-tag: why"), "{message}");
        assert_eq!(
            decision.warnings,
            ["kube-devops: app: missing-readiness-probe: why (medium)"]
        );
        let audit = Decision::from_findings(&findings, Severity::High, false);
        assert!(audit.allowed);
        assert_eq!(audit.warnings.len(), 2);
        assert!(Decision::from_findings(&findings, Severity::Critical, true).allowed);
    }

    #[test]
    fn the_response_echoes_the_uid() {
        let decision =
            Decision::from_findings(&[finding("c", Severity::Critical)], Severity::High, true);
        let response = decision.response("abc-123");
        assert_eq!(response["response"]["uid"], "abc-123");
        assert_eq!(response["response"]["allowed"], false);
        assert_eq!(response["response"]["status"]["code"], 403);
        assert_eq!(response["kind"], "AdmissionReview");
    }

    #[test]
    fn bad_reviews_are_named() {
        assert!(matches!(Request::parse(b"{"), Err(ReviewError::NotJson(_))));
        let wrong = br#"{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1beta1", "request": {"uid": "1"}}"#;
        assert!(matches!(
            Request::parse(wrong),
            Err(ReviewError::WrongKind { .. })
        ));
        let no_uid =
            br#"{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {}}"#;
        assert!(matches!(Request::parse(no_uid), Err(ReviewError::NoUid)));
    }
}
