//! The controller loop: one task owns the state and reacts to watch events, analysis results
//! and policy catalogs, in order.
//!
//! - Policies are watched first; each namespace's policy becomes a plugin catalog (the first
//!   policy by name is in effect; a namespace without one uses the defaults).
//! - Pods are then watched. Every change is queued (coalesced per pod), analysed in batches on
//!   the analysis threads, and applied to the state if no newer change overtook it. After a
//!   re-list (watch expired, API server restarted) pods the list no longer has are forgotten, and
//!   pods whose version did not change are not analysed again.
//! - A policy change rebuilds that namespace's catalog and re-analyses that namespace only, from
//!   one list of its pods (the operator does not keep pod objects).
//! - A Pending pod that does not count yet under its policy's `forbidPendingDuration` is looked
//!   at again (one GET) when the duration is up, since it may not change by itself.
//! - Changed namespaces are flushed to the writer shortly after they change (a short debounce
//!   batches bursts), once the initial sync is done, and only while leading.
//! - In namespaces whose policy in effect says `enforcementMode: enforce`, pods are analysed
//!   with fixes, and each template revision's fixes are offered once (until the policy
//!   changes) to [`super::remediate`]; what it did comes back for the policy's status.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::{BoxStream, SelectAll};
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource};
use tokio::sync::{mpsc, watch};

use super::fixes::{Candidate, CandidateKey};
use super::metrics::Metrics;
use super::pods::{AnalysisPool, Done, Job, PodKey, WatchedPod};
use super::queue::WorkQueue;
use super::remediate::{Outcome, Request};
use super::state::Governance;
use super::status::{MAX_REMEDIATIONS, policy_report, policy_status, same_state};
use super::writer::{ClassChange, NamespaceWrite, StatusWrite};
use kube_devops_engine::analysis::{Catalog, SystemNamespaces};
use kube_devops_engine::contract::FixDefaults;
use kube_devops_engine::wasm::Runtime;
use kube_devops_policy::DevOpsPolicy;
use kube_devops_policy::build::{Build, Builder};
use kube_devops_policy::crd::{EnforcementMode, Remediation};
use kube_devops_policy::registry::{Built, Effect, Policies};

/// Pods per analysis batch.
const BATCH: usize = 128;
/// Pods that may wait for analysis before the pod watch is paused. Each holds its JSON (about
/// 11 KB for a real pod), so this bounds what the initial sync of a big cluster holds at once:
/// the watcher fetches its next page only when asked.
const MAX_WAITING: usize = BATCH * 16;
/// How long changes gather before a namespace is written.
const FLUSH_DELAY: Duration = Duration::from_millis(100);
/// Longest a namespace's write waits for its pods' analysis to settle (after a policy change,
/// say), so a status does not show a new generation with old findings; a namespace that never
/// settles is still written this often.
const MAX_HOLD: Duration = Duration::from_secs(5);
/// Candidates remembered as offered; past this many (a cluster churning through templates for
/// a long time) the memory is cleared, at the cost of reading some workloads once more.
const MAX_OFFERED: usize = 65_536;

/// What the controller watches and where custom plugins live.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only these namespaces; all when empty.
    pub namespaces: Vec<String>,
    /// Also system namespaces without a policy when watching all.
    pub include_system: bool,
    /// Which namespaces are system namespaces: left alone while they have no policy.
    pub system: SystemNamespaces,
    /// Directory of custom plugin modules named by policies.
    pub plugin_dir: Option<PathBuf>,
    /// Analysis threads.
    pub threads: usize,
}

/// A namespace in enforce mode: what its fixes fill in, and whether they are only listed.
struct Enforced {
    defaults: Arc<FixDefaults>,
    dry_run: bool,
}

/// What reaches the loop besides watch events.
enum Message {
    CatalogBuilt(Build),
    Relisted {
        namespace: String,
        pods: Vec<WatchedPod>,
    },
}

pub struct Controller {
    client: Client,
    scope: Scope,
    /// Loads policies' catalogs off the async runtime.
    builder: Builder,
    metrics: Arc<Metrics>,
    default_catalog: Arc<Catalog>,
    state: Governance,
    policies: Policies,
    queue: WorkQueue,
    batches_in_flight: usize,
    pool: AnalysisPool,
    messages: mpsc::UnboundedSender<Message>,
    /// Keys seen since each pod watcher's `Init`, by watcher.
    pod_init: HashMap<usize, HashSet<PodKey>>,
    policies_synced: bool,
    pods_listed: bool,
    synced: bool,
    dirty: BTreeSet<String>,
    flush_at: Option<Instant>,
    /// Namespaces whose pods are being listed again after a policy change.
    reevaluating: HashSet<String>,
    /// Dirty namespaces whose write waits for their analysis to settle, since when.
    held_since: HashMap<String, Instant>,
    /// Pending pods to look at again, by when (Unix seconds).
    rechecks: BTreeSet<(i64, PodKey)>,
    writes: mpsc::UnboundedSender<NamespaceWrite>,
    leader: watch::Receiver<bool>,
    /// Namespaces whose policy in effect enforces.
    enforced: HashMap<String, Enforced>,
    /// Candidates handed to the remediation task, so each is handed over once.
    offered: HashSet<CandidateKey>,
    /// What enforce mode did per namespace, newest first; absent until something happens, and
    /// the policy's status keeps what it lists meanwhile (across restarts).
    remediation_log: HashMap<String, Vec<Remediation>>,
    remediations: mpsc::UnboundedSender<Request>,
}

/// What the controller is connected to.
pub struct Wiring {
    pub runtime: Arc<Runtime>,
    /// The analysis threads, and where their results arrive.
    pub pool: AnalysisPool,
    pub analysed: mpsc::UnboundedReceiver<Vec<Done>>,
    /// The catalog of namespaces without a policy.
    pub default_catalog: Arc<Catalog>,
    pub metrics: Arc<Metrics>,
    /// To the writer.
    pub writes: mpsc::UnboundedSender<NamespaceWrite>,
    /// Whether this replica leads.
    pub leader: watch::Receiver<bool>,
    /// Turns true on shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// To the remediation task, and what it did.
    pub remediations: mpsc::UnboundedSender<Request>,
    pub remediated: mpsc::UnboundedReceiver<Outcome>,
}

impl Controller {
    /// Runs until `wiring.shutdown` turns true.
    pub async fn run(client: Client, scope: Scope, wiring: Wiring) {
        let Wiring {
            runtime,
            pool,
            mut analysed,
            default_catalog,
            metrics,
            writes,
            leader,
            mut shutdown,
            remediations,
            mut remediated,
        } = wiring;
        let (messages, mut inbox) = mpsc::unbounded_channel();
        let builder = Builder {
            runtime,
            plugin_dir: scope.plugin_dir.clone(),
        };
        let mut controller = Controller {
            client: client.clone(),
            scope,
            builder,
            metrics,
            default_catalog,
            state: Governance::default(),
            policies: Policies::default(),
            queue: WorkQueue::default(),
            batches_in_flight: 0,
            pool,
            messages,
            pod_init: HashMap::new(),
            policies_synced: false,
            pods_listed: false,
            synced: false,
            dirty: BTreeSet::new(),
            flush_at: None,
            reevaluating: HashSet::new(),
            held_since: HashMap::new(),
            rechecks: BTreeSet::new(),
            writes,
            leader: leader.clone(),
            enforced: HashMap::new(),
            offered: HashSet::new(),
            remediation_log: HashMap::new(),
            remediations,
        };
        let mut policy_events = controller.policy_stream();
        let mut pod_events: Option<SelectAll<BoxStream<'static, (usize, PodEvent)>>> = None;
        let mut leader = leader;
        loop {
            if pod_events.is_none() && controller.policies_synced && !controller.policies.building()
            {
                tracing::info!("policies loaded; watching pods");
                pod_events = Some(controller.pod_streams());
            }
            let flush_at = controller.flush_at;
            let recheck_at = controller.next_recheck();
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break,
                Some(event) = policy_events.next() => controller.on_policy_event(event),
                Some((index, event)) = next_pod_event(&mut pod_events), if controller.queue.waiting() < MAX_WAITING => controller.on_pod_event(index, event),
                Some(done) = analysed.recv() => controller.on_analysed(done),
                Some(message) = inbox.recv() => controller.on_message(message),
                Some(outcome) = remediated.recv() => controller.on_remediated(outcome),
                changed = leader.changed() => {
                    if changed.is_err() { break; }
                    if *leader.borrow() {
                        controller.metrics.leader.set(1);
                        controller.mark_all_dirty();
                    } else {
                        controller.metrics.leader.set(0);
                    }
                }
                () = sleep_until(flush_at) => controller.flush(),
                () = sleep_until(recheck_at) => controller.recheck_due(),
            }
            controller.dispatch();
        }
    }

    fn policy_stream(&self) -> BoxStream<'static, Result<Event<DevOpsPolicy>, watcher::Error>> {
        let config = watcher::Config::default();
        if self.scope.namespaces.is_empty() {
            watcher::watcher(Api::<DevOpsPolicy>::all(self.client.clone()), config)
                .default_backoff()
                .boxed()
        } else {
            futures::stream::select_all(self.scope.namespaces.iter().map(|namespace| {
                watcher::watcher(
                    Api::<DevOpsPolicy>::namespaced(self.client.clone(), namespace),
                    config.clone(),
                )
                .default_backoff()
                .boxed()
            }))
            .boxed()
        }
    }

    fn pod_streams(&self) -> SelectAll<BoxStream<'static, (usize, PodEvent)>> {
        let config = watcher::Config::default();
        let apis: Vec<Api<WatchedPod>> = if self.scope.namespaces.is_empty() {
            vec![Api::all(self.client.clone())]
        } else {
            self.scope
                .namespaces
                .iter()
                .map(|namespace| Api::namespaced(self.client.clone(), namespace))
                .collect()
        };
        futures::stream::select_all(apis.into_iter().enumerate().map(|(index, api)| {
            watcher::watcher(api, config.clone())
                .default_backoff()
                .map(move |event| (index, event))
                .boxed()
        }))
    }

    /// Whether the namespace's pods are analysed: always where a policy is (whatever the
    /// namespace is called), and elsewhere unless it is a system namespace.
    fn tracks(&self, namespace: &str) -> bool {
        !self.scope.namespaces.is_empty()
            || self.scope.include_system
            || self.policies.has_policy(namespace)
            || !self.scope.system.contains(namespace)
    }

    // --- policies -------------------------------------------------------------------------

    fn on_policy_event(&mut self, event: Result<Event<DevOpsPolicy>, watcher::Error>) {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                self.watch_error("policy", &error);
                return;
            }
        };
        self.metrics.reconciles.with_label_values(&["policy"]).inc();
        let handled = self.policies.handle(event);
        for namespace in &handled.touched {
            if !self.tracks(namespace) {
                // A system namespace whose last policy went: left alone again.
                self.forget_namespace(namespace);
            }
        }
        for namespace in &handled.rebuild {
            self.rebuild(namespace);
        }
        for namespace in &handled.touched {
            self.mark_dirty(namespace);
        }
        if handled.listed {
            self.policies_synced = true;
        }
    }

    /// Builds the namespace's catalog from its policy in effect, off the async runtime (loading
    /// runs plugins), then re-analyses the namespace.
    fn rebuild(&mut self, namespace: &str) {
        let (token, active) = self.policies.start_build(namespace);
        let messages = self.messages.clone();
        let started = self
            .builder
            .spawn(namespace.to_owned(), token, active, move |build| {
                let _ = messages.send(Message::CatalogBuilt(build));
            });
        if let Err(error) = started {
            tracing::error!(error = %error, "cannot start a thread to load a policy");
        }
    }

    fn on_catalog_built(&mut self, build: Build) {
        let namespace = build.namespace.clone();
        match self.policies.finish_build(build, &self.default_catalog) {
            Built::Stale => return,
            Built::Defaults => {}
            Built::Active { policy } => {
                tracing::info!(namespace = %namespace, policy = %policy, "policy in effect");
            }
            Built::Invalid { policy, error } => {
                tracing::warn!(namespace = %namespace, policy = %policy, error = %error, "policy cannot be loaded; the namespace is analysed with the defaults");
                self.metrics
                    .reconcile_errors
                    .with_label_values(&["policy"])
                    .inc();
            }
        }
        self.enforce(&namespace);
        self.mark_dirty(&namespace);
        if self.pods_listed || !self.pod_init.is_empty() {
            self.reevaluating.insert(namespace.clone());
            self.relist(namespace);
        }
    }

    /// Takes the namespace's enforcement from its policy in effect, just rebuilt: `enforce`
    /// only from a policy that loaded (an invalid one analyses with the defaults). Whatever it
    /// was, candidates of the old policy are offered again under the new one.
    fn enforce(&mut self, namespace: &str) {
        let spec = self
            .policies
            .in_namespace(namespace)
            .find(|(name, _)| self.policies.effect(namespace, name) == Some(Effect::Active))
            .map(|(_, policy)| &policy.spec)
            .filter(|spec| spec.enforcement_mode == EnforcementMode::Enforce);
        match spec {
            Some(spec) => {
                let enforced = Enforced {
                    defaults: spec.remediation().defaults(),
                    dry_run: spec.dry_run(),
                };
                self.enforced.insert(namespace.to_owned(), enforced);
            }
            None => {
                self.enforced.remove(namespace);
                // Not (or no longer) in enforce mode: the status lists nothing it did, even
                // what an earlier run wrote there.
                if self.policies.has_policy(namespace) {
                    self.remediation_log
                        .insert(namespace.to_owned(), Vec::new());
                } else {
                    self.remediation_log.remove(namespace);
                }
            }
        }
        self.offered.retain(|key| key.namespace != namespace);
        let _ = self
            .remediations
            .send(Request::Forget(namespace.to_owned()));
    }

    /// Hands a pod's fixes to the remediation task, unless the same were handed over already.
    fn offer(&mut self, candidate: Box<Candidate>) {
        let Some(enforced) = self.enforced.get(&candidate.namespace) else {
            return;
        };
        if self.offered.len() >= MAX_OFFERED {
            self.offered.clear();
        }
        if !self.offered.insert(candidate.key()) {
            return;
        }
        let dry_run = enforced.dry_run;
        let _ = self
            .remediations
            .send(Request::Remediate { candidate, dry_run });
    }

    /// Records what enforce mode did to a workload for its namespace's policy status: the
    /// newest entry per workload, first.
    fn on_remediated(&mut self, outcome: Outcome) {
        let Outcome { namespace, record } = outcome;
        if !self.enforced.contains_key(&namespace) {
            return;
        }
        let previous = || {
            self.policies
                .in_namespace(&namespace)
                .find(|(name, _)| self.policies.effect(&namespace, name) == Some(Effect::Active))
                .and_then(|(_, policy)| policy.status.as_ref())
                .map(|status| status.remediations.clone())
                .unwrap_or_default()
        };
        let log = self
            .remediation_log
            .entry(namespace.clone())
            .or_insert_with(previous);
        log.retain(|old| old.kind != record.kind || old.workload != record.workload);
        log.insert(0, record);
        log.truncate(MAX_REMEDIATIONS);
        self.mark_dirty(&namespace);
    }

    /// Lists the namespace's pods once, to analyse them again under a new policy.
    fn relist(&self, namespace: String) {
        let api: Api<WatchedPod> = Api::namespaced(self.client.clone(), &namespace);
        let messages = self.messages.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                match list_all(&api).await {
                    Ok(pods) => {
                        let _ = messages.send(Message::Relisted { namespace, pods });
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(namespace = %namespace, error = %error, "cannot list the namespace's pods to apply its policy; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                }
            }
        });
    }

    // --- pods ----------------------------------------------------------------------------

    fn on_pod_event(&mut self, index: usize, event: PodEvent) {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                self.watch_error("pod", &error);
                return;
            }
        };
        match event {
            Event::Init => {
                self.pod_init.insert(index, HashSet::new());
            }
            Event::InitApply(pod) => {
                if let Some(seen) = self.pod_init.get_mut(&index) {
                    seen.insert(pod.key());
                }
                self.pod_changed(pod);
            }
            Event::InitDone => {
                let seen = self.pod_init.remove(&index).unwrap_or_default();
                let in_scope = |key: &PodKey| {
                    self.scope.namespaces.is_empty()
                        || self.scope.namespaces.get(index) == Some(&key.namespace)
                };
                let gone: Vec<PodKey> = self
                    .known_pods()
                    .into_iter()
                    .filter(|key| in_scope(key) && !seen.contains(key))
                    .collect();
                for key in gone {
                    self.pod_deleted(&key);
                }
                if self.pod_init.is_empty() {
                    self.pods_listed = true;
                }
            }
            Event::Apply(pod) => self.pod_changed(pod),
            Event::Delete(pod) => self.pod_deleted(&pod.key()),
        }
    }

    fn known_pods(&self) -> Vec<PodKey> {
        let mut keys: Vec<PodKey> = self
            .state
            .pod_keys()
            .into_iter()
            .map(|(namespace, name)| PodKey { namespace, name })
            .collect();
        keys.extend(self.queue.keys().cloned());
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The newest version of the pod the controller has seen.
    fn newest_version(&self, key: &PodKey) -> Option<&str> {
        match self.queue.newest_version(key) {
            Some(version) => Some(version),
            None => self
                .state
                .pod(&key.namespace, &key.name)
                .map(|record| &*record.resource_version),
        }
    }

    fn pod_changed(&mut self, pod: WatchedPod) {
        if !self.tracks(pod.namespace()) {
            return;
        }
        let key = pod.key();
        if self.newest_version(&key) == Some(pod.resource_version()) {
            return;
        }
        self.queue.push(pod);
    }

    fn pod_deleted(&mut self, key: &PodKey) {
        self.metrics.reconciles.with_label_values(&["pod"]).inc();
        self.queue.forget(key);
        if self.state.remove(&key.namespace, &key.name) {
            self.mark_dirty(&key.namespace);
            self.metrics
                .record_state(&self.state, std::iter::once(key.namespace.as_str()));
        }
    }

    /// Drops every pod of a namespace the operator no longer analyses.
    fn forget_namespace(&mut self, namespace: &str) {
        let keys: Vec<PodKey> = self
            .known_pods()
            .into_iter()
            .filter(|key| key.namespace == namespace)
            .collect();
        for key in keys {
            self.pod_deleted(&key);
        }
    }

    fn on_relisted(&mut self, namespace: &str, pods: Vec<WatchedPod>) {
        self.reevaluating.remove(namespace);
        if !self.tracks(namespace) {
            return;
        }
        // A system namespace that just got a policy: the watch's events for its pods were
        // passed over, so the list is what there is to analyse.
        let was_untracked = self.scope.system.contains(namespace);
        let mut requeued = 0;
        for pod in pods {
            let key = pod.key();
            // Only the version last seen: an older one would undo a newer change, and a pod
            // the watch has not reported yet will be analysed when it is.
            let newest = self.newest_version(&key);
            if newest == Some(pod.resource_version()) || (newest.is_none() && was_untracked) {
                self.queue.push(pod);
                requeued += 1;
            }
        }
        tracing::debug!(namespace, pods = requeued, "re-analysing the namespace");
    }

    /// Schedules a look at a Pending pod for when its namespace's `forbidPendingDuration` is up.
    fn schedule_recheck(&mut self, key: &PodKey, created: i64) {
        let Some(limit) = self
            .policies
            .forbid_pending_duration(&key.namespace)
            .and_then(|seconds| i64::try_from(seconds).ok())
            .filter(|&seconds| seconds > 0)
        else {
            return;
        };
        let due = created.saturating_add(limit).saturating_add(1);
        if due > Timestamp::now().as_second() {
            self.rechecks.insert((due, key.clone()));
        }
    }

    fn next_recheck(&self) -> Option<Instant> {
        let (due, _) = self.rechecks.first()?;
        let wait = due.saturating_sub(Timestamp::now().as_second()).max(0);
        Some(Instant::now() + Duration::from_secs(u64::try_from(wait).unwrap_or(0)))
    }

    /// Reads the pods whose recheck is due, one GET each; they come back as a re-list does.
    fn recheck_due(&mut self) {
        let now = Timestamp::now().as_second();
        while let Some((due, _)) = self.rechecks.first() {
            if *due > now {
                break;
            }
            let Some((_, key)) = self.rechecks.pop_first() else {
                break;
            };
            let api: Api<WatchedPod> = Api::namespaced(self.client.clone(), &key.namespace);
            let messages = self.messages.clone();
            tokio::spawn(async move {
                match api.get_opt(&key.name).await {
                    Ok(Some(pod)) => {
                        let _ = messages.send(Message::Relisted {
                            namespace: key.namespace,
                            pods: vec![pod],
                        });
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(pod = %format!("{}/{}", key.namespace, key.name), error = %error, "cannot read a Pending pod to check its age");
                    }
                }
            });
        }
    }

    /// Hands queued pods to the analysis threads, keeping a few batches per thread in flight.
    fn dispatch(&mut self) {
        let limit = self.scope.threads.max(1) * 2;
        while self.batches_in_flight < limit && !self.queue.is_idle() {
            let batch: Vec<Job> = self
                .queue
                .take(BATCH)
                .into_iter()
                .map(|(seq, pod)| {
                    let catalog = self
                        .policies
                        .catalog(pod.namespace())
                        .unwrap_or(&self.default_catalog)
                        .clone();
                    let fixes = self
                        .enforced
                        .get(pod.namespace())
                        .map(|enforced| enforced.defaults.clone());
                    Job {
                        seq,
                        pod,
                        catalog,
                        fixes,
                    }
                })
                .collect();
            if batch.is_empty() {
                break;
            }
            if !self.pool.submit(batch) {
                tracing::error!("the analysis threads have stopped");
                return;
            }
            self.batches_in_flight += 1;
        }
        self.check_synced();
    }

    fn on_analysed(&mut self, results: Vec<Done>) {
        self.batches_in_flight = self.batches_in_flight.saturating_sub(1);
        let mut changed: BTreeSet<String> = BTreeSet::new();
        let count = results.len();
        for done in results {
            self.metrics
                .reconcile_duration
                .with_label_values(&["pod"])
                .observe(done.took.as_secs_f64());
            if !self.queue.settle(&done.key, done.seq) {
                continue;
            }
            for diagnostic in &done.diagnostics {
                tracing::warn!(pod = %format!("{}/{}", done.key.namespace, done.key.name), "{diagnostic}");
            }
            if let Some(since) = done.pending_since {
                self.schedule_recheck(&done.key, since);
            }
            if let Some(candidate) = done.candidate {
                self.offer(candidate);
            }
            match done.outcome {
                Ok(record) => {
                    self.state
                        .upsert(&done.key.namespace, &done.key.name, record);
                }
                Err(reason) => {
                    tracing::warn!(pod = %format!("{}/{}", done.key.namespace, done.key.name), "cannot read the pod: {reason}");
                    self.metrics
                        .reconcile_errors
                        .with_label_values(&["pod"])
                        .inc();
                    self.state.remove(&done.key.namespace, &done.key.name);
                }
            }
            changed.insert(done.key.namespace);
        }
        self.metrics
            .reconciles
            .with_label_values(&["pod"])
            .inc_by(count as u64);
        self.metrics
            .record_state(&self.state, changed.iter().map(String::as_str));
        for namespace in &changed {
            self.mark_dirty(namespace);
        }
    }

    fn on_message(&mut self, message: Message) {
        match message {
            Message::CatalogBuilt(build) => self.on_catalog_built(build),
            Message::Relisted { namespace, pods } => self.on_relisted(&namespace, pods),
        }
    }

    /// The initial sync is done once every pod listed has been analysed.
    fn check_synced(&mut self) {
        if self.synced
            || !self.pods_listed
            || !self.queue.is_idle()
            || self.batches_in_flight > 0
            || self.policies.building()
        {
            return;
        }
        self.synced = true;
        self.metrics
            .ready
            .store(true, std::sync::atomic::Ordering::SeqCst);
        tracing::info!(
            pods = self.state.cluster().tally.pods + self.state.cluster().exempted_pods,
            score = self.state.cluster().score(),
            "initial sync done"
        );
        self.mark_all_dirty();
    }

    fn watch_error(&self, kind: &str, error: &watcher::Error) {
        tracing::warn!(error = %error, "{kind} watch failed; retrying");
        self.metrics
            .reconcile_errors
            .with_label_values(&[if kind == "pod" {
                "pod_watch"
            } else {
                "policy_watch"
            }])
            .inc();
    }

    // --- writing -------------------------------------------------------------------------

    fn mark_dirty(&mut self, namespace: &str) {
        self.dirty.insert(namespace.to_owned());
        if self.flush_at.is_none() {
            self.flush_at = Some(Instant::now() + FLUSH_DELAY);
        }
    }

    fn mark_all_dirty(&mut self) {
        let namespaces: Vec<String> = self
            .state
            .namespaces()
            .map(|(namespace, _)| namespace.to_owned())
            .chain(self.policies.namespaces().cloned())
            .collect();
        for namespace in namespaces {
            self.mark_dirty(&namespace);
        }
    }

    fn flush(&mut self) {
        self.flush_at = None;
        if !self.synced {
            // Written once the initial sync is done (check_synced marks everything).
            return;
        }
        let dirty = std::mem::take(&mut self.dirty);
        if !*self.leader.borrow() {
            return;
        }
        let now = Timestamp::now();
        let mut held = Vec::new();
        for namespace in dirty {
            let busy = self.reevaluating.contains(&namespace) || self.queue.busy(&namespace);
            let since = *self
                .held_since
                .entry(namespace.clone())
                .or_insert_with(Instant::now);
            if busy && since.elapsed() < MAX_HOLD {
                held.push(namespace);
                continue;
            }
            self.held_since.remove(&namespace);
            let write = self.namespace_write(&namespace, now);
            if self.writes.send(write).is_err() {
                return;
            }
        }
        if !held.is_empty() {
            self.dirty.extend(held);
            self.flush_at = Some(Instant::now() + FLUSH_DELAY);
        }
    }

    fn namespace_write(&self, namespace: &str, now: Timestamp) -> NamespaceWrite {
        let scope = self.state.namespace(namespace);
        let mut statuses = Vec::new();
        for (name, policy) in self.policies.in_namespace(namespace) {
            // None while its catalog is still loading: say nothing yet.
            let Some(effect) = self.policies.effect(namespace, name) else {
                continue;
            };
            let remediations = match (&effect, self.remediation_log.get(namespace)) {
                (Effect::Active, Some(log)) => log.as_slice(),
                (Effect::Active, None) => policy
                    .status
                    .as_ref()
                    .map_or(&[][..], |status| status.remediations.as_slice()),
                _ => &[],
            };
            let status = policy_status(policy, scope, &effect, remediations, now);
            let previous = policy.status.as_ref();
            if previous.is_some_and(|previous| same_state(previous, &status)) {
                continue;
            }
            let class_change = previous
                .filter(|previous| !previous.status.is_empty() && previous.status != status.status)
                .map(|previous| ClassChange {
                    from: previous.status.clone(),
                    to: status.status.clone(),
                    score: status.health_score,
                    reference: policy.object_ref(&()),
                });
            statuses.push(StatusWrite {
                policy: name.clone(),
                status,
                class_change,
            });
        }
        NamespaceWrite {
            namespace: namespace.to_owned(),
            statuses,
            report: policy_report(namespace, scope),
        }
    }
}

type PodEvent = Result<Event<WatchedPod>, watcher::Error>;

async fn next_pod_event(
    streams: &mut Option<SelectAll<BoxStream<'static, (usize, PodEvent)>>>,
) -> Option<(usize, PodEvent)> {
    match streams {
        Some(streams) => streams.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Every pod of the API's scope, page by page.
async fn list_all(api: &Api<WatchedPod>) -> Result<Vec<WatchedPod>, kube::Error> {
    let mut pods = Vec::new();
    let mut params = ListParams::default().limit(crate::cluster::PAGE_SIZE);
    loop {
        let page = api.list(&params).await?;
        pods.extend(page.items);
        match page.metadata.continue_.filter(|token| !token.is_empty()) {
            Some(token) => params.continue_token = Some(token),
            None => return Ok(pods),
        }
    }
}
