//! Pods as the operator receives them, and the threads that analyse them.
//!
//! The watch hands over [`WatchedPod`]s: the metadata kube-rs's watcher needs, and the object's
//! JSON text, read by the same [`kube_devops_engine::pod::read`] as manifest files and CLI pages. The text is
//! dropped once analysed; only the findings are kept ([`super::state::PodRecord`]).
//!
//! Analysis runs on threads of its own ([`AnalysisPool`]), never on the async runtime's: plugin
//! calls are CPU work, and WASI's blocking output must not block a runtime thread.
//!
//! In `enforce` namespaces the plugins are also asked for fixes, and a pod whose findings carry
//! some leaves a [`Candidate`] for [`super::remediate`]; elsewhere nothing pays for fixes.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use tokio::sync::mpsc::UnboundedSender;

use super::fixes::{Candidate, capture};
use super::state::PodRecord;
use kube_devops_engine::analysis::Catalog;
use kube_devops_engine::analysis::worker::{CallObserver, Worker};
use kube_devops_engine::contract::FixDefaults;
use kube_devops_engine::pod::{self, Origin, Read, Source};
use kube_devops_engine::pool::{Pool, PoolOptions};

/// A pod from the API server: its metadata, and its JSON until analysed.
#[derive(Debug, Clone)]
pub struct WatchedPod {
    metadata: ObjectMeta,
    json: Arc<String>,
}

impl WatchedPod {
    pub fn namespace(&self) -> &str {
        self.metadata.namespace.as_deref().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    pub fn resource_version(&self) -> &str {
        self.metadata
            .resource_version
            .as_deref()
            .unwrap_or_default()
    }

    pub fn key(&self) -> PodKey {
        PodKey {
            namespace: self.namespace().to_owned(),
            name: self.name().to_owned(),
        }
    }
}

impl<'de> Deserialize<'de> for WatchedPod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Metadata {
            #[serde(default)]
            metadata: ObjectMeta,
        }
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let Metadata { metadata } =
            serde_json::from_str(raw.get()).map_err(serde::de::Error::custom)?;
        Ok(WatchedPod {
            metadata,
            json: Arc::new(raw.get().to_owned()),
        })
    }
}

impl Resource for WatchedPod {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> std::borrow::Cow<'_, str> {
        "Pod".into()
    }
    fn group(_: &()) -> std::borrow::Cow<'_, str> {
        "".into()
    }
    fn version(_: &()) -> std::borrow::Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> std::borrow::Cow<'_, str> {
        "pods".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// A pod's identity in the operator's state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodKey {
    pub namespace: String,
    pub name: String,
}

/// One pod to analyse with its namespace's catalog. `seq` orders the operator's requests, so
/// a result overtaken by a newer change is recognised and dropped.
pub struct Job {
    pub seq: u64,
    pub pod: WatchedPod,
    pub catalog: Arc<Catalog>,
    /// Set in `enforce` namespaces: ask the plugins for fixes, with these defaults.
    pub fixes: Option<Arc<FixDefaults>>,
}

/// What the analysis of one job produced.
pub struct Done {
    pub seq: u64,
    pub key: PodKey,
    /// The pod's record, or why it could not be read.
    pub outcome: Result<PodRecord, String>,
    /// Plugin failures, already worded for the log.
    pub diagnostics: Vec<String>,
    /// How long reading and analysing the pod took.
    pub took: std::time::Duration,
    /// When the pod was created, if it is Pending: a Pending pod may start to count later
    /// without changing (`forbidPendingDuration`).
    pub pending_since: Option<i64>,
    /// What enforce mode may patch for it (fixes were asked for, and some came back).
    pub candidate: Option<Box<Candidate>>,
}

/// The engine's bounded pool, analysing batches of jobs and sending each batch's results back.
pub struct AnalysisPool {
    pool: Pool<Vec<Job>>,
}

impl AnalysisPool {
    /// `threads` threads; the controller keeps at most two batches per thread in flight, so a
    /// queue of two per thread never refuses one.
    pub fn start(
        threads: usize,
        observer: Arc<dyn CallObserver + Send>,
        results: UnboundedSender<Vec<Done>>,
    ) -> std::io::Result<Self> {
        let options = PoolOptions {
            name: "analysis".to_owned(),
            threads,
            queue_per_thread: 2,
        };
        let run = move |batch: Vec<Job>| {
            // The receiver is gone only when the controller stopped.
            let _ = results.send(analyze_batch(batch, &*observer));
        };
        // Operator batches have no deadline: nothing expires.
        let pool = Pool::start(options, run, drop)?;
        Ok(AnalysisPool { pool })
    }

    /// Queues a batch; false once the pool has stopped (or, against the controller's own
    /// bound, is full).
    pub fn submit(&self, batch: Vec<Job>) -> bool {
        match self.pool.submit(batch, None) {
            Ok(()) => true,
            Err(rejected) => {
                tracing::error!(
                    reason = rejected.reason(),
                    "the analysis pool refused a batch"
                );
                false
            }
        }
    }
}

/// Analyses a batch, one worker (one set of plugin instances) per catalog in it, and per
/// fix defaults where fixes are asked for.
pub fn analyze_batch(batch: Vec<Job>, observer: &dyn CallObserver) -> Vec<Done> {
    // Declared first, dropped last: the workers borrow the catalogs.
    let catalogs: Vec<Arc<Catalog>> = batch.iter().map(|job| job.catalog.clone()).collect();
    let mut workers: HashMap<(*const Catalog, *const FixDefaults), Worker<'_>> = HashMap::new();
    let mut done = Vec::with_capacity(batch.len());
    for (job, catalog) in batch.into_iter().zip(&catalogs) {
        let fixes = job.fixes.clone();
        let key = (
            Arc::as_ptr(catalog),
            fixes.as_ref().map_or(std::ptr::null(), Arc::as_ptr),
        );
        let worker = workers.entry(key).or_insert_with(|| {
            let worker = Worker::observed(catalog, observer);
            match fixes {
                Some(defaults) => worker.remediating(defaults),
                None => worker,
            }
        });
        done.push(analyze_one(worker, job));
    }
    done
}

fn analyze_one(worker: &mut Worker<'_>, job: Job) -> Done {
    let started = std::time::Instant::now();
    let key = job.pod.key();
    let resource_version: Box<str> = job.pod.resource_version().into();
    let created = job
        .pod
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|time| time.0.as_second());
    let text = job.pod.json;
    // Kept for enforce mode, which compares the pod with its workload's template.
    let fixing = job.fixes.is_some().then(|| text.clone());
    let range = 0..text.len();
    let source =
        Source::new(Origin::Cluster, text, range).with_implied_kind(Some(Arc::from("Pod")));
    let outcome = match pod::read(source) {
        Ok(Read::Pod(input)) => {
            let pending = input
                .record
                .status
                .as_ref()
                .is_some_and(|status| status.phase.as_deref() == Some("Pending"));
            let mut result = worker.analyze(&input);
            let candidate = fixing
                .and_then(|json| capture(&job.pod.metadata, &json, &result.findings))
                .map(Box::new);
            // The state keeps findings, not their fixes: the candidate has those.
            for finding in &mut result.findings {
                finding.fix = None;
            }
            let diagnostics = result
                .diagnostics
                .into_iter()
                .map(|diagnostic| diagnostic.message)
                .collect();
            return Done {
                seq: job.seq,
                key,
                outcome: Ok(PodRecord {
                    resource_version,
                    exempt: result.exempt,
                    exempted_findings: u32::try_from(result.exempted_findings).unwrap_or(u32::MAX),
                    findings: result.findings.into(),
                }),
                diagnostics,
                took: started.elapsed(),
                pending_since: created.filter(|_| pending),
                candidate,
            };
        }
        Ok(Read::Skipped { kind }) => Err(format!("not a pod (kind {kind})")),
        Err(error) => Err(error.reason),
    };
    Done {
        seq: job.seq,
        key,
        outcome,
        diagnostics: Vec::new(),
        took: started.elapsed(),
        pending_since: None,
        candidate: None,
    }
}
