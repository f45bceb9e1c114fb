//! Enforce mode's view of one pod: the fixes its findings carry, the workload it comes from
//! ([`capture`], on the analysis thread, while the pod's JSON is at hand), and those fixes
//! moved from the pod onto the workload's template ([`place`]).
//!
//! A plugin's fix speaks of the pod: `/spec/containers/1/readinessProbe`. The template may
//! order its containers differently (a sidecar injected at admission) or have changed since
//! the pod was made (a rollout under way), so a fix is placed by container name, and only where
//! the template still holds what the pod holds; anything else is left out with the reason.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use kube_devops_engine::analysis::report::FindingRow;
use kube_devops_engine::remedy::{Dropped, Fix, Operation};

/// The pod lists whose items are containers, found by name in the template.
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// The controller a pod names in its `ownerReferences`, when enforce mode can patch through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwnerKind {
    /// Of a Deployment, read from the ReplicaSet.
    ReplicaSet,
    StatefulSet,
    DaemonSet,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    pub kind: OwnerKind,
    pub name: String,
    pub uid: String,
}

/// One finding's fix with what the pod held where it lands.
#[derive(Debug, Clone)]
pub struct PodFix {
    pub check: String,
    pub container: Option<String>,
    pub fix: Fix,
    /// Per operation, the pod's value at its path (the list, for an append `/-`).
    pub seen: Vec<Option<Value>>,
}

/// What enforce mode may do for one analysed pod.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub namespace: String,
    pub pod: String,
    pub owner: Owner,
    /// The template revision the pod was made from (`pod-template-hash`,
    /// `controller-revision-hash`), empty if unlabelled.
    pub revision: String,
    /// Container names by index, per list of [`CONTAINER_LISTS`].
    pub containers: [Vec<String>; 3],
    pub fixes: Vec<PodFix>,
}

/// Identifies the candidates that would do the same: pods of one template revision with the
/// same fixes. Enforce mode handles each once (until its namespace's policy changes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CandidateKey {
    pub namespace: String,
    pub owner_uid: String,
    pub revision: String,
    fixes: u64,
}

impl Candidate {
    pub fn key(&self) -> CandidateKey {
        let mut hasher = DefaultHasher::new();
        for fix in &self.fixes {
            fix.check.hash(&mut hasher);
            fix.container.hash(&mut hasher);
            serde_json::to_string(&*fix.fix)
                .unwrap_or_default()
                .hash(&mut hasher);
        }
        CandidateKey {
            namespace: self.namespace.clone(),
            owner_uid: self.owner.uid.clone(),
            revision: self.revision.clone(),
            fixes: hasher.finish(),
        }
    }
}

/// The candidate of a pod whose findings carry fixes and whose controller is a ReplicaSet,
/// StatefulSet or DaemonSet; `None` for anything else (a bare pod, a Job's pod, no fix).
pub fn capture(metadata: &ObjectMeta, json: &str, findings: &[FindingRow]) -> Option<Candidate> {
    if findings.iter().all(|finding| finding.fix.is_none()) {
        return None;
    }
    let reference = metadata
        .owner_references
        .as_deref()?
        .iter()
        .find(|reference| reference.controller == Some(true))?;
    if !reference.api_version.starts_with("apps/") {
        return None;
    }
    let (kind, label) = match reference.kind.as_str() {
        "ReplicaSet" => (OwnerKind::ReplicaSet, "pod-template-hash"),
        "StatefulSet" => (OwnerKind::StatefulSet, "controller-revision-hash"),
        "DaemonSet" => (OwnerKind::DaemonSet, "controller-revision-hash"),
        _ => return None,
    };
    let pod: Value = serde_json::from_str(json).ok()?;
    let containers = CONTAINER_LISTS.map(|list| {
        pod["spec"][list]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|item| item["name"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    });
    let fixes = findings
        .iter()
        .filter_map(|finding| {
            let fix = finding.fix.clone()?;
            let seen = fix
                .iter()
                .map(|operation| pod.pointer(lands_in(operation.path())).cloned())
                .collect();
            Some(PodFix {
                check: finding.check.to_string(),
                container: finding.container.clone(),
                fix,
                seen,
            })
        })
        .collect();
    Some(Candidate {
        namespace: metadata.namespace.clone().unwrap_or_default(),
        pod: metadata.name.clone().unwrap_or_default(),
        owner: Owner {
            kind,
            name: reference.name.clone(),
            uid: reference.uid.clone(),
        },
        revision: metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(label))
            .cloned()
            .unwrap_or_default(),
        containers,
        fixes,
    })
}

/// Where an operation's value is compared: its path, or for an append the list.
fn lands_in(path: &str) -> &str {
    path.strip_suffix("/-").unwrap_or(path)
}

/// A candidate's fixes moved onto `template` (the workload's `spec.template`), relative to the
/// pod as [`kube_devops_engine::remedy::plan`] takes them, and those left out with why.
pub fn place(candidate: &Candidate, template: &Value) -> (Vec<PodFix>, Vec<Dropped>) {
    let mut placed = Vec::new();
    let mut dropped = Vec::new();
    for fix in &candidate.fixes {
        match place_one(candidate, fix, template) {
            Ok(operations) => placed.push(PodFix {
                fix: Fix::from(operations),
                ..fix.clone()
            }),
            Err(reason) => dropped.push(Dropped {
                check: fix.check.clone(),
                container: fix.container.clone(),
                reason,
            }),
        }
    }
    (placed, dropped)
}

fn place_one(
    candidate: &Candidate,
    fix: &PodFix,
    template: &Value,
) -> Result<Vec<Operation>, String> {
    fix.fix
        .iter()
        .zip(&fix.seen)
        .map(|(operation, seen)| {
            if let Operation::Remove { path } = operation {
                return Err(format!(
                    "it removes `{path}`; enforce mode only adds and sets fields"
                ));
            }
            let path = on_template(candidate, operation.path(), template)?;
            if template.pointer(lands_in(&path)) != seen.as_ref() {
                return Err(format!(
                    "the workload's template differs from the pod at `{}`: the pod predates a change of the template, or was changed at admission",
                    lands_in(operation.path())
                ));
            }
            Ok(operation.at(path))
        })
        .collect()
}

/// A pod path with its container index replaced by that container's index in the template.
fn on_template(candidate: &Candidate, path: &str, template: &Value) -> Result<String, String> {
    let mut tokens = path.splitn(5, '/').skip(1);
    let (Some("spec"), Some(list), Some(index)) = (tokens.next(), tokens.next(), tokens.next())
    else {
        return Ok(path.to_owned());
    };
    let Some(which) = CONTAINER_LISTS.iter().position(|known| *known == list) else {
        return Ok(path.to_owned());
    };
    let Ok(index) = index.parse::<usize>() else {
        // An append of a new container (`/spec/initContainers/-`) needs no index.
        return Ok(path.to_owned());
    };
    let name = candidate.containers[which]
        .get(index)
        .ok_or_else(|| format!("the pod has no `{list}` item {index}"))?;
    let position = template["spec"][list]
        .as_array()
        .and_then(|items| items.iter().position(|item| item["name"] == name.as_str()))
        .ok_or_else(|| {
            format!(
                "container `{name}` is not in the workload's template (added to the pod at admission?)"
            )
        })?;
    let rest = tokens
        .next()
        .map(|rest| format!("/{rest}"))
        .unwrap_or_default();
    Ok(format!("/spec/{list}/{position}{rest}"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use serde_json::json;

    use super::*;
    use kube_devops_engine::contract::Severity;

    fn finding(check: &str, container: &str, fix: Vec<Operation>) -> FindingRow {
        FindingRow {
            plugin: Arc::from("probes"),
            check: Arc::from(check),
            severity: Severity::Medium,
            api_version: None,
            kind: Arc::from("Pod"),
            namespace: Arc::from("shop"),
            pod: Arc::from("web-1"),
            container: Some(container.to_owned()),
            message: String::new(),
            magnitude: 1,
            source: None,
            fix: Some(Fix::from(fix)),
            weight: 1,
        }
    }

    fn add(path: &str, value: Value) -> Operation {
        Operation::Add {
            path: path.to_owned(),
            value,
        }
    }

    fn metadata(kind: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some("web-1".into()),
            namespace: Some("shop".into()),
            labels: Some([("pod-template-hash".to_owned(), "5d8f".to_owned())].into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: kind.into(),
                name: "web-5d8f".into(),
                uid: "rs-uid".into(),
                controller: Some(true),
                ..OwnerReference::default()
            }]),
            ..ObjectMeta::default()
        }
    }

    /// The pod got a sidecar first at admission; the template has only `app`.
    fn pod() -> String {
        json!({"spec": {"containers": [
            {"name": "mesh", "image": "envoy"},
            {"name": "app", "image": "nginx"}
        ]}})
        .to_string()
    }

    #[test]
    fn fixes_follow_their_container_by_name_and_skip_injected_ones() {
        let findings = [
            finding(
                "missing-readiness-probe",
                "app",
                vec![add(
                    "/spec/containers/1/readinessProbe",
                    json!({"tcpSocket": {"port": 80}}),
                )],
            ),
            finding(
                "missing-readiness-probe",
                "mesh",
                vec![add(
                    "/spec/containers/0/readinessProbe",
                    json!({"tcpSocket": {"port": 15021}}),
                )],
            ),
        ];
        let candidate = capture(&metadata("ReplicaSet"), &pod(), &findings).expect("candidate");
        assert_eq!(candidate.owner.kind, OwnerKind::ReplicaSet);
        assert_eq!(candidate.revision, "5d8f");
        let template = json!({"spec": {"containers": [{"name": "app", "image": "nginx"}]}});
        let (placed, dropped) = place(&candidate, &template);
        assert_eq!(placed.len(), 1);
        assert_eq!(placed[0].fix[0].path(), "/spec/containers/0/readinessProbe");
        assert_eq!(dropped.len(), 1);
        assert!(
            dropped[0]
                .reason
                .contains("`mesh` is not in the workload's template"),
            "{dropped:?}"
        );
    }

    #[test]
    fn a_pod_from_an_older_template_is_not_fixed_over_the_new_one() {
        let findings = [finding(
            "missing-readiness-probe",
            "app",
            vec![add(
                "/spec/containers/1/readinessProbe",
                json!({"tcpSocket": {"port": 80}}),
            )],
        )];
        let candidate = capture(&metadata("ReplicaSet"), &pod(), &findings).expect("candidate");
        // Someone added an HTTP probe since: the TCP one must not replace it.
        let template = json!({"spec": {"containers": [
            {"name": "app", "image": "nginx", "readinessProbe": {"httpGet": {"port": 80}}}
        ]}});
        let (placed, dropped) = place(&candidate, &template);
        assert!(placed.is_empty());
        assert!(dropped[0].reason.contains("predates"), "{dropped:?}");
    }

    #[test]
    fn only_pods_of_workload_controllers_with_fixes_are_candidates() {
        let fixed = [finding(
            "x",
            "app",
            vec![add("/spec/containers/1/a", json!(1))],
        )];
        assert!(capture(&metadata("Job"), &pod(), &fixed).is_none());
        let mut bare = metadata("ReplicaSet");
        bare.owner_references = None;
        assert!(capture(&bare, &pod(), &fixed).is_none());
        let mut unfixable = fixed[0].clone();
        unfixable.fix = None;
        assert!(capture(&metadata("ReplicaSet"), &pod(), &[unfixable]).is_none());
        let a = capture(&metadata("StatefulSet"), &pod(), &fixed).expect("candidate");
        let b = capture(&metadata("StatefulSet"), &pod(), &fixed).expect("candidate");
        assert_eq!(
            a.key(),
            b.key(),
            "pods of one revision with the same fixes are one"
        );
    }
}
