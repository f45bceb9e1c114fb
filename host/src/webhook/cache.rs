//! The policies the webhook enforces, kept current by a watch: never an API call per request.
//! Each namespace's policy in effect becomes a plugin catalog (built off the async runtime,
//! since loading runs plugins) and is published for the request handlers to read.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tokio::sync::{mpsc, watch};

use kube_devops_engine::analysis::Catalog;
use kube_devops_engine::contract::{FixDefaults, Severity};
use kube_devops_engine::wasm::Runtime;
use kube_devops_policy::DevOpsPolicySpec;
use kube_devops_policy::build::{Build, Builder};
use kube_devops_policy::crd::{AdmissionMode, OwnedPods};
use kube_devops_policy::registry::{Built, Policies};
use kube_devops_policy::{DevOpsPolicy, load_catalog};

/// What admission applies in a namespace.
pub struct Admission {
    pub catalog: Arc<Catalog>,
    pub threshold: Severity,
    /// Findings at the threshold deny (`admission: deny`, the default, in either mode);
    /// otherwise they only warn.
    pub deny: bool,
    /// What the mutating webhook's fixes fill in.
    pub fixes: Arc<FixDefaults>,
    /// What objects a workload controller creates get: warnings, or the same denial.
    pub owned_pods: OwnedPods,
}

impl Admission {
    pub fn new(spec: &DevOpsPolicySpec, catalog: Arc<Catalog>) -> Self {
        Admission {
            catalog,
            threshold: spec.threshold(),
            deny: spec.admission.unwrap_or_default() == AdmissionMode::Deny,
            fixes: spec.remediation().defaults(),
            owned_pods: spec.owned_pods.unwrap_or_default(),
        }
    }
}

/// The published policies, by namespace; no entry: no policy, allow.
#[derive(Default)]
pub struct PolicyCache {
    namespaces: RwLock<HashMap<String, Arc<Admission>>>,
    ready: AtomicBool,
}

impl PolicyCache {
    pub fn get(&self, namespace: &str) -> Option<Arc<Admission>> {
        self.namespaces
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(namespace)
            .cloned()
    }

    /// Every policy listed at start-up is loaded.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    fn publish(&self, namespace: &str, admission: Option<Admission>) {
        let mut namespaces = self
            .namespaces
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match admission {
            Some(admission) => namespaces.insert(namespace.to_owned(), Arc::new(admission)),
            None => namespaces.remove(namespace),
        };
    }
}

/// Why a policy file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyFileError {
    #[error("{0}")]
    Read(String),
    #[error("{location}: not a DevOpsPolicy: {reason}")]
    Invalid { location: String, reason: String },
    #[error("{location}: policy `{policy}` cannot be loaded: {error}")]
    Load {
        location: String,
        policy: String,
        error: String,
    },
}

/// A cache of the DevOpsPolicies in a file (YAML or JSON, several documents), for running
/// without a cluster: locally, in CI, or to try a policy out.
pub fn from_file(
    path: &std::path::Path,
    runtime: &Arc<Runtime>,
    plugin_dir: Option<&std::path::Path>,
) -> Result<PolicyCache, PolicyFileError> {
    let manifests = kube_devops_engine::manifest::read_paths(&[path.to_owned()]);
    if let Some(error) = manifests.errors.first() {
        return Err(PolicyFileError::Read(error.to_string()));
    }
    let cache = PolicyCache::default();
    let mut seen: HashMap<String, String> = HashMap::new();
    for source in &manifests.sources {
        let location = source.location(None);
        let policy: DevOpsPolicy =
            serde_json::from_str(source.json()).map_err(|error| PolicyFileError::Invalid {
                location: location.clone(),
                reason: error.to_string(),
            })?;
        let namespace = policy.namespace().unwrap_or_else(|| "default".to_owned());
        let name = policy.name_any();
        // As in the cluster: the first policy by name is in effect.
        if seen.get(&namespace).is_some_and(|first| *first <= name) {
            continue;
        }
        let catalog = load_catalog(runtime, &policy.spec, plugin_dir).map_err(|error| {
            PolicyFileError::Load {
                location,
                policy: name.clone(),
                error: kube_devops_engine::error::chain(&error),
            }
        })?;
        seen.insert(namespace.clone(), name);
        cache.publish(
            &namespace,
            Some(Admission::new(&policy.spec, Arc::new(catalog))),
        );
    }
    cache.ready.store(true, Ordering::SeqCst);
    Ok(cache)
}

/// Keeps `cache` current until `shutdown` turns true.
pub async fn run(
    client: Client,
    runtime: Arc<Runtime>,
    defaults: Arc<Catalog>,
    plugin_dir: Option<PathBuf>,
    cache: Arc<PolicyCache>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut events = watcher::watcher(Api::<DevOpsPolicy>::all(client), watcher::Config::default())
        .default_backoff()
        .boxed();
    let (built_tx, mut built) = mpsc::unbounded_channel::<Build>();
    let builder = Builder {
        runtime,
        plugin_dir,
    };
    let mut policies = Policies::default();
    let mut listed = false;
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            Some(event) = events.next() => {
                let changed = match event {
                    Ok(event) => {
                        let handled = policies.handle(event);
                        listed |= handled.listed;
                        handled.rebuild
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "policy watch failed; retrying");
                        Vec::new()
                    }
                };
                for namespace in changed {
                    let (token, spec) = policies.start_build(&namespace);
                    let built_tx = built_tx.clone();
                    let started = builder.spawn(namespace, token, spec, move |build| {
                        let _ = built_tx.send(build);
                    });
                    if let Err(error) = started {
                        tracing::error!(error = %error, "cannot start a thread to load a policy");
                    }
                }
            }
            Some(build) = built.recv() => {
                let namespace = build.namespace.clone();
                match policies.finish_build(build, &defaults) {
                    Built::Stale => {}
                    Built::Invalid { policy, error } => {
                        tracing::warn!(namespace = %namespace, policy = %policy, error = %error, "policy cannot be loaded; admission uses the default checks");
                    }
                    Built::Active { policy } => tracing::info!(namespace = %namespace, policy = %policy, "policy in effect for admission"),
                    Built::Defaults => {}
                }
                let admission = policies
                    .in_effect(&namespace)
                    .map(|(spec, catalog)| Admission::new(spec, catalog.clone()));
                cache.publish(&namespace, admission);
            }
        }
        if listed && !policies.building() && !cache.ready() {
            cache.ready.store(true, Ordering::SeqCst);
            tracing::info!("policies loaded; ready");
        }
    }
}
