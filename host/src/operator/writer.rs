//! Writes what the controller computed to the API server: policy statuses and PolicyReports by
//! server-side apply, and an Event when a namespace changes status class. Only the leader
//! writes; a failed write (409, 5xx, a dropped connection) is retried with backoff, and a newer
//! state for the same namespace replaces an older one still waiting, so nothing stale is
//! written after something fresh.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use super::metrics::Metrics;
use super::status::{FIELD_MANAGER, REPORT_NAME};
use kube_devops_policy::DevOpsPolicy;
use kube_devops_policy::crd::DevOpsPolicyStatus;

/// Everything to write for one namespace.
#[derive(Debug)]
pub struct NamespaceWrite {
    pub namespace: String,
    pub statuses: Vec<StatusWrite>,
    pub report: Value,
}

#[derive(Debug)]
pub struct StatusWrite {
    pub policy: String,
    pub status: DevOpsPolicyStatus,
    /// Set when the namespace's status class changes with this write.
    pub class_change: Option<ClassChange>,
}

#[derive(Debug)]
pub struct ClassChange {
    pub from: String,
    pub to: String,
    pub score: u8,
    pub reference: ObjectReference,
}

const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Applies namespace writes received on `writes` while `leader` is true, until the channel
/// closes.
pub async fn run(
    client: Client,
    identity: String,
    metrics: Arc<Metrics>,
    mut writes: mpsc::UnboundedReceiver<NamespaceWrite>,
    mut leader: watch::Receiver<bool>,
) {
    let mut writer = Writer::new(client, identity, metrics.clone());
    let mut pending: BTreeMap<String, NamespaceWrite> = BTreeMap::new();
    let mut retry = FIRST_RETRY;
    loop {
        let waiting = !pending.is_empty();
        tokio::select! {
            write = writes.recv() => match write {
                Some(write) => { pending.insert(write.namespace.clone(), write); }
                None => return,
            },
            changed = leader.changed() => {
                if changed.is_err() {
                    return;
                }
                // A new term starts from nothing: another replica may have written meanwhile.
                writer.written.clear();
            }
            () = tokio::time::sleep(retry), if waiting => {}
        }
        while let Ok(write) = writes.try_recv() {
            pending.insert(write.namespace.clone(), write);
        }
        if !*leader.borrow() {
            pending.clear();
            continue;
        }
        let mut failed = false;
        for namespace in pending.keys().cloned().collect::<Vec<_>>() {
            let Some(write) = pending.remove(&namespace) else {
                continue;
            };
            if let Err(error) = writer.write(&write).await {
                tracing::warn!(namespace = %namespace, error = %error, "cannot write governance state; will retry");
                metrics.reconcile_errors.with_label_values(&["write"]).inc();
                pending.entry(namespace).or_insert(write);
                failed = true;
            }
        }
        retry = if failed {
            (retry * 2).min(MAX_RETRY)
        } else {
            FIRST_RETRY
        };
    }
}

struct Writer {
    client: Client,
    recorder: Recorder,
    metrics: Arc<Metrics>,
    /// The PolicyReport CRD answered 404: reports are off.
    reports_missing: bool,
    /// Hash of what was last written per object, to skip identical writes.
    written: HashMap<(String, String), u64>,
}

impl Writer {
    fn new(client: Client, identity: String, metrics: Arc<Metrics>) -> Self {
        let reporter = Reporter {
            controller: "kube-devops".to_owned(),
            instance: Some(identity),
        };
        Writer {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            reports_missing: false,
            written: HashMap::new(),
        }
    }

    async fn write(&mut self, write: &NamespaceWrite) -> Result<(), kube::Error> {
        let namespace = &write.namespace;
        for status in &write.statuses {
            let key = (namespace.clone(), format!("status/{}", status.policy));
            let hash = hash_of(&status.status);
            if self.written.get(&key) == Some(&hash) {
                continue;
            }
            let api: Api<DevOpsPolicy> = Api::namespaced(self.client.clone(), namespace);
            let patch = json!({
                "apiVersion": "devops.stochastic.io/v1",
                "kind": "DevOpsPolicy",
                "status": status.status,
            });
            let params = PatchParams::apply(FIELD_MANAGER).force();
            match api
                .patch_status(&status.policy, &params, &Patch::Apply(&patch))
                .await
            {
                Ok(_) => {}
                // Deleted meanwhile: its deletion reaches the controller by the watch.
                Err(kube::Error::Api(error)) if error.code == 404 => continue,
                Err(error) => return Err(error),
            }
            self.metrics.writes.with_label_values(&["status"]).inc();
            self.written.insert(key, hash);
            if let Some(change) = &status.class_change {
                self.announce(change).await;
            }
        }
        self.write_report(namespace, &write.report).await
    }

    async fn write_report(&mut self, namespace: &str, report: &Value) -> Result<(), kube::Error> {
        if self.reports_missing {
            return Ok(());
        }
        let key = (namespace.to_owned(), "report".to_owned());
        let hash = hash_of(report);
        if self.written.get(&key) == Some(&hash) {
            return Ok(());
        }
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &report_resource());
        let params = PatchParams::apply(FIELD_MANAGER).force();
        match api.patch(REPORT_NAME, &params, &Patch::Apply(report)).await {
            Ok(_) => {
                self.metrics.writes.with_label_values(&["report"]).inc();
                self.written.insert(key, hash);
                Ok(())
            }
            Err(kube::Error::Api(error)) if error.code == 404 && self.crd_missing().await => {
                tracing::warn!(
                    "the PolicyReport CRD (wgpolicyk8s.io/v1alpha2) is not installed: PolicyReports are off; statuses and metrics still work"
                );
                self.reports_missing = true;
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// Whether the PolicyReport resource is unknown to the server (rather than, say, the
    /// namespace being gone). Asked through discovery, which every client may read, so the
    /// operator needs no `list` on PolicyReports.
    async fn crd_missing(&self) -> bool {
        let resource = report_resource();
        match self
            .client
            .list_api_group_resources(&resource.api_version)
            .await
        {
            Ok(list) => !list.resources.iter().any(|r| r.name == resource.plural),
            Err(kube::Error::Api(error)) => error.code == 404,
            Err(_) => false,
        }
    }

    /// Events are best effort: a failure is logged, never retried.
    async fn announce(&self, change: &ClassChange) {
        let worse = rank(&change.to) < rank(&change.from);
        let event = Event {
            type_: if worse {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: "StatusChanged".to_owned(),
            note: Some(format!(
                "namespace went from {} to {} (health score {})",
                change.from, change.to, change.score
            )),
            action: "Evaluate".to_owned(),
            secondary: None,
        };
        match self.recorder.publish(&event, &change.reference).await {
            Ok(()) => self.metrics.writes.with_label_values(&["event"]).inc(),
            Err(error) => tracing::warn!(error = %error, "cannot publish an event"),
        }
    }
}

/// Healthy > Stable > Degraded > Critical.
fn rank(class: &str) -> u8 {
    match class {
        "Healthy" => 3,
        "Stable" => 2,
        "Degraded" => 1,
        _ => 0,
    }
}

fn report_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("wgpolicyk8s.io", "v1alpha2", "PolicyReport"),
        "policyreports",
    )
}

fn hash_of(value: &impl serde::Serialize) -> u64 {
    let mut hasher = DefaultHasher::new();
    serde_json::to_string(value)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}
