//! Enforce mode's writes: the workloads of pods in violation patched with their findings'
//! fixes, as the seed did, by server-side apply under field manager [`FIELD_MANAGER`].
//!
//! The controller hands over [`Candidate`]s (one per template revision and set of fixes) from
//! namespaces whose policy in effect says `enforcementMode: enforce`; this task resolves each
//! pod's workload (Pod → ReplicaSet → Deployment, Pod → StatefulSet, Pod → DaemonSet), reads
//! it, merges the fixes on its template ([`kube_devops_engine::remedy::plan`]) and applies only
//! the fields they add, without `force`: a field another manager owns with another value is a
//! conflict, reported (status, Warning Event) and not fought over. One request at a time, and
//! only while leading. What became of each workload goes back to the controller as an
//! [`Outcome`] for the policy's status.

use std::collections::VecDeque;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use super::apply_config::{added, describe, digest, merge, owned, patched};
use super::fixes::{Candidate, OwnerKind, place};
use super::metrics::Metrics;
use kube_devops_engine::remedy::{Dropped, plan};
use kube_devops_policy::crd::{Remediation, RemediationResult};

/// The field manager of every workload patch; distinct from the status writer's, so the
/// fields enforce mode added are told apart in `managedFields`.
pub const FIELD_MANAGER: &str = "kube-devops-enforcer";
/// Annotations on a patched workload: who, when, and the template the patch was made on.
pub const PATCHED_BY: &str = "devops.stochastic.io/patched-by";
pub const PATCHED_AT: &str = "devops.stochastic.io/patched-at";
pub const PATCHED_TEMPLATE: &str = "devops.stochastic.io/patched-template";

/// Longest message kept in a status entry or an Event note (events.k8s.io allows 1 kB).
const MAX_MESSAGE: usize = 1000;

/// What the controller asks of the task.
pub enum Request {
    Remediate {
        candidate: Box<Candidate>,
        dry_run: bool,
    },
    /// The namespace's policy changed: candidates of it still waiting are dropped.
    Forget(String),
}

/// What became of one workload, for its namespace's policy status.
#[derive(Debug)]
pub struct Outcome {
    pub namespace: String,
    pub record: Remediation,
}

/// Why a workload could not be patched.
#[derive(Debug, thiserror::Error)]
enum RemediateError {
    #[error("cannot read {kind} {namespace}/{name}")]
    Read {
        kind: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("{kind} {name} has no pod template")]
    NoTemplate { kind: &'static str, name: String },
    #[error("the fixes would remove `{path}`, which enforce mode does not do")]
    Removes { path: String },
}

/// A workload enforce mode patches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

impl WorkloadKind {
    fn name(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }

    fn resource(self) -> ApiResource {
        match self {
            WorkloadKind::Deployment => ApiResource::erase::<Deployment>(&()),
            WorkloadKind::StatefulSet => ApiResource::erase::<StatefulSet>(&()),
            WorkloadKind::DaemonSet => ApiResource::erase::<DaemonSet>(&()),
        }
    }
}

/// Handles requests while leading, until the channel closes. Candidates that arrive while
/// another replica leads wait for this one's term.
pub async fn run(
    client: Client,
    identity: String,
    metrics: Arc<Metrics>,
    mut requests: mpsc::UnboundedReceiver<Request>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    mut leader: watch::Receiver<bool>,
) {
    let reporter = Reporter {
        controller: "kube-devops".to_owned(),
        instance: Some(identity),
    };
    let enforcer = Enforcer {
        recorder: Recorder::new(client.clone(), reporter),
        client,
        metrics,
    };
    let mut waiting: VecDeque<(Box<Candidate>, bool)> = VecDeque::new();
    loop {
        tokio::select! {
            request = requests.recv() => match request {
                Some(request) => take(&mut waiting, request),
                None => return,
            },
            changed = leader.changed() => if changed.is_err() { return },
        }
        while let Ok(request) = requests.try_recv() {
            take(&mut waiting, request);
        }
        while *leader.borrow() {
            let Some((candidate, dry_run)) = waiting.pop_front() else {
                break;
            };
            if let Some(record) = enforcer.remediate(&candidate, dry_run).await {
                let outcome = Outcome {
                    namespace: candidate.namespace.clone(),
                    record,
                };
                if outcomes.send(outcome).is_err() {
                    return;
                }
            }
            // A policy change that arrived meanwhile drops what it made stale.
            while let Ok(request) = requests.try_recv() {
                take(&mut waiting, request);
            }
        }
    }
}

fn take(waiting: &mut VecDeque<(Box<Candidate>, bool)>, request: Request) {
    match request {
        Request::Remediate { candidate, dry_run } => waiting.push_back((candidate, dry_run)),
        Request::Forget(namespace) => waiting.retain(|(c, _)| c.namespace != namespace),
    }
}

struct Enforcer {
    client: Client,
    recorder: Recorder,
    metrics: Arc<Metrics>,
}

/// A workload as read, with what the patch needs of it.
struct Workload {
    kind: WorkloadKind,
    name: String,
    object: Value,
}

impl Enforcer {
    /// Patches (or with `dry_run` plans) the workload of `candidate`; `None` when there is
    /// nothing to report (no workload to patch, nothing left to fix).
    async fn remediate(&self, candidate: &Candidate, dry_run: bool) -> Option<Remediation> {
        let pod = format!("{}/{}", candidate.namespace, candidate.pod);
        let workload = match self.workload(candidate).await {
            Ok(Some(workload)) => workload,
            Ok(None) => return None,
            Err(error) => {
                tracing::warn!(pod = %pod, error = %kube_devops_engine::error::chain(&error), "cannot read the pod's workload to patch it");
                self.count(RemediationResult::Failed);
                return Some(record(
                    candidate.owner_kind_name(),
                    &candidate.owner.name,
                    RemediationResult::Failed,
                    kube_devops_engine::error::chain(&error),
                    Vec::new(),
                    None,
                ));
            }
        };
        match self.patch(candidate, &workload, dry_run).await {
            Ok(record) => record,
            Err(error) => {
                let message = kube_devops_engine::error::chain(&error);
                tracing::warn!(pod = %pod, workload = %workload.name, kind = workload.kind.name(), error = %message, "cannot patch the workload");
                self.count(RemediationResult::Failed);
                Some(record(
                    workload.kind.name(),
                    &workload.name,
                    RemediationResult::Failed,
                    message,
                    Vec::new(),
                    None,
                ))
            }
        }
    }

    /// The workload `candidate`'s pod comes from, read; `None` if it has none enforce mode
    /// patches (a bare ReplicaSet) or it is gone.
    async fn workload(&self, candidate: &Candidate) -> Result<Option<Workload>, RemediateError> {
        let namespace = &candidate.namespace;
        let (kind, name) = match candidate.owner.kind {
            OwnerKind::StatefulSet => (WorkloadKind::StatefulSet, candidate.owner.name.clone()),
            OwnerKind::DaemonSet => (WorkloadKind::DaemonSet, candidate.owner.name.clone()),
            OwnerKind::ReplicaSet => {
                let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), namespace);
                let replica_set = api.get_opt(&candidate.owner.name).await.map_err(|source| {
                    RemediateError::Read {
                        kind: "ReplicaSet",
                        namespace: namespace.clone(),
                        name: candidate.owner.name.clone(),
                        source: Box::new(source),
                    }
                })?;
                // Gone, or replaced by another of the same name: the pod's findings are stale.
                let Some(replica_set) = replica_set
                    .filter(|rs| rs.metadata.uid.as_deref() == Some(&candidate.owner.uid))
                else {
                    return Ok(None);
                };
                let deployment = replica_set
                    .metadata
                    .owner_references
                    .unwrap_or_default()
                    .into_iter()
                    .find(|owner| {
                        owner.controller == Some(true)
                            && owner.kind == "Deployment"
                            && owner.api_version.starts_with("apps/")
                    });
                let Some(deployment) = deployment else {
                    tracing::debug!(replica_set = %candidate.owner.name, "a ReplicaSet without a Deployment is not patched");
                    return Ok(None);
                };
                (WorkloadKind::Deployment, deployment.name)
            }
        };
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &kind.resource());
        let object = api
            .get_opt(&name)
            .await
            .map_err(|source| RemediateError::Read {
                kind: kind.name(),
                namespace: namespace.clone(),
                name: name.clone(),
                source: Box::new(source),
            })?;
        Ok(object.map(|object| Workload {
            kind,
            name,
            object: serde_json::to_value(object).unwrap_or_default(),
        }))
    }

    async fn patch(
        &self,
        candidate: &Candidate,
        workload: &Workload,
        dry_run: bool,
    ) -> Result<Option<Remediation>, RemediateError> {
        let Workload { kind, name, object } = workload;
        let template =
            object
                .pointer("/spec/template")
                .ok_or_else(|| RemediateError::NoTemplate {
                    kind: kind.name(),
                    name: name.clone(),
                })?;
        let template_digest = digest(template);
        if object["metadata"]["annotations"][PATCHED_TEMPLATE] == template_digest.as_str() {
            // This very template was patched before, and something put it back since (a
            // GitOps sync): patching it again would fight that tool at every sync.
            tracing::info!(namespace = %candidate.namespace, workload = %name, kind = kind.name(), "the workload's template is the one enforce mode patched before, reverted since; not patching it again");
            return Ok(None);
        }
        let (placed, mut dropped) = place(candidate, template);
        let fixes = placed
            .iter()
            .map(|fix| (&*fix.check, fix.container.as_deref(), &fix.fix));
        let plan = plan(object, "/spec/template", fixes);
        dropped.extend(plan.dropped.iter().cloned());
        if plan.is_empty() {
            tracing::debug!(namespace = %candidate.namespace, workload = %name, kind = kind.name(), dropped = ?dropped, "nothing to patch");
            return Ok(None);
        }
        let mut checks: Vec<String> = plan.fixed.iter().map(|(check, _)| check.clone()).collect();
        checks.sort_unstable();
        checks.dedup();
        let fields = describe(object, &plan.operations);
        let operations: Vec<Value> = plan
            .operations
            .iter()
            .filter_map(|operation| serde_json::to_value(operation).ok())
            .collect();
        let what = format!(
            "{} to fix {}{}",
            fields.join(", "),
            checks.join(", "),
            not_applied(&dropped)
        );
        if dry_run {
            self.count(RemediationResult::Planned);
            tracing::info!(namespace = %candidate.namespace, workload = %name, kind = kind.name(), "would add {what} (remediation.dryRun)");
            return Ok(Some(record(
                kind.name(),
                name,
                RemediationResult::Planned,
                format!("would add {what} (remediation.dryRun: nothing written)"),
                checks,
                Some(operations),
            )));
        }
        let configuration = self.configuration(workload, &plan.operations, &template_digest)?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &candidate.namespace, &kind.resource());
        // Without force: a field another manager owns with another value is theirs.
        let params = PatchParams::apply(FIELD_MANAGER);
        let reference = reference(workload);
        match api
            .patch(name, &params, &Patch::Apply(&configuration))
            .await
        {
            Ok(_) => {
                self.count(RemediationResult::Applied);
                tracing::info!(namespace = %candidate.namespace, workload = %name, kind = kind.name(), "patched: added {what}");
                self.announce(
                    &reference,
                    EventType::Normal,
                    "Remediated",
                    format!("kube-devops enforce mode added {what}"),
                )
                .await;
                Ok(Some(record(
                    kind.name(),
                    name,
                    RemediationResult::Applied,
                    format!("added {what}"),
                    checks,
                    Some(operations),
                )))
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                self.count(RemediationResult::Conflict);
                let message = format!(
                    "not patched: another field manager owns a field the patch would change ({}); the patch would add {what}",
                    status.message
                );
                tracing::warn!(namespace = %candidate.namespace, workload = %name, kind = kind.name(), "{message}");
                self.announce(
                    &reference,
                    EventType::Warning,
                    "RemediationConflict",
                    message.clone(),
                )
                .await;
                Ok(Some(record(
                    kind.name(),
                    name,
                    RemediationResult::Conflict,
                    message,
                    checks,
                    Some(operations),
                )))
            }
            Err(error) => {
                self.count(RemediationResult::Failed);
                let message = format!("cannot apply the patch: {error}");
                tracing::warn!(namespace = %candidate.namespace, workload = %name, kind = kind.name(), error = %error, "cannot patch the workload; tried again when its template or the policy changes");
                Ok(Some(record(
                    kind.name(),
                    name,
                    RemediationResult::Failed,
                    message,
                    checks,
                    Some(operations),
                )))
            }
        }
    }

    /// The apply configuration: the fields the enforcer owns already, as they are, and the
    /// ones the plan adds, with the annotations saying where they came from.
    fn configuration(
        &self,
        workload: &Workload,
        operations: &[kube_devops_engine::remedy::Operation],
        template_digest: &str,
    ) -> Result<Value, RemediateError> {
        let Workload { kind, name, object } = workload;
        let after = patched(object, operations).unwrap_or_else(|| object.clone());
        let before_template = &object["spec"]["template"];
        let added = added(before_template, &after["spec"]["template"])
            .map_err(|path| RemediateError::Removes {
                path: format!(".spec.template{path}"),
            })?
            .unwrap_or_else(|| json!({}));
        // An apply is the whole of what its manager wants: what an earlier patch added must
        // be in it again, or the server would remove it.
        let mut configuration = object["metadata"]["managedFields"]
            .as_array()
            .and_then(|entries| {
                entries.iter().find(|entry| {
                    entry["manager"] == FIELD_MANAGER && entry["operation"] == "Apply"
                })
            })
            .map_or_else(|| json!({}), |entry| owned(object, &entry["fieldsV1"]));
        merge(
            &mut configuration,
            &json!({
                "apiVersion": "apps/v1",
                "kind": kind.name(),
                "metadata": {
                    "name": name,
                    "namespace": object["metadata"]["namespace"],
                    "annotations": {
                        PATCHED_BY: FIELD_MANAGER,
                        PATCHED_AT: Timestamp::now().to_string(),
                        PATCHED_TEMPLATE: template_digest,
                    },
                },
                "spec": {"template": added},
            }),
        );
        Ok(configuration)
    }

    fn count(&self, result: RemediationResult) {
        self.metrics
            .remediations
            .with_label_values(&[result_name(result)])
            .inc();
    }

    /// Events are best effort: a failure is logged, never retried.
    async fn announce(
        &self,
        reference: &ObjectReference,
        type_: EventType,
        reason: &str,
        note: String,
    ) {
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(truncate(note)),
            action: "Patch".to_owned(),
            secondary: None,
        };
        match self.recorder.publish(&event, reference).await {
            Ok(()) => self.metrics.writes.with_label_values(&["event"]).inc(),
            Err(error) => tracing::warn!(error = %error, "cannot publish an event"),
        }
    }
}

impl Candidate {
    /// The kind named in a report before the workload is known.
    fn owner_kind_name(&self) -> &'static str {
        match self.owner.kind {
            OwnerKind::ReplicaSet => "ReplicaSet",
            OwnerKind::StatefulSet => "StatefulSet",
            OwnerKind::DaemonSet => "DaemonSet",
        }
    }
}

fn reference(workload: &Workload) -> ObjectReference {
    let metadata = &workload.object["metadata"];
    ObjectReference {
        api_version: Some("apps/v1".to_owned()),
        kind: Some(workload.kind.name().to_owned()),
        name: Some(workload.name.clone()),
        namespace: metadata["namespace"].as_str().map(str::to_owned),
        uid: metadata["uid"].as_str().map(str::to_owned),
        ..ObjectReference::default()
    }
}

/// The fixes left out, for a message: `; not applied: check (container): reason`.
fn not_applied(dropped: &[Dropped]) -> String {
    if dropped.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = dropped
        .iter()
        .map(|dropped| match &dropped.container {
            Some(container) => format!("{} ({container}): {}", dropped.check, dropped.reason),
            None => format!("{}: {}", dropped.check, dropped.reason),
        })
        .collect();
    format!("; not applied: {}", parts.join("; "))
}

pub fn result_name(result: RemediationResult) -> &'static str {
    match result {
        RemediationResult::Applied => "applied",
        RemediationResult::Planned => "planned",
        RemediationResult::Conflict => "conflict",
        RemediationResult::Failed => "failed",
    }
}

fn record(
    kind: &str,
    workload: &str,
    result: RemediationResult,
    message: String,
    checks: Vec<String>,
    patch: Option<Vec<Value>>,
) -> Remediation {
    Remediation {
        kind: kind.to_owned(),
        workload: workload.to_owned(),
        result,
        message: truncate(message),
        checks,
        patch,
        time: Timestamp::now().to_string(),
    }
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE - 3;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}
