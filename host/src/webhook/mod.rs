//! Admission webhook mode (`kube-devops webhook serve`): a validating webhook over HTTPS that
//! holds pods and pod-template workloads to their namespace's DevOpsPolicy, with the same plugins
//! as the CLI and the operator.
//!
//! - [`review`] reads AdmissionReviews and turns findings into a decision (pure);
//! - [`cache`] keeps the policies current by a watch; [`server`] answers requests;
//! - [`certs`] and [`install`] generate the certificates and the ValidatingWebhookConfiguration.

pub mod cache;
pub mod certs;
pub mod install;
pub mod review;
pub mod server;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum_server::tls_rustls::RustlsConfig;
use kube::Client;
use tokio::sync::{oneshot, watch};

use kube_devops_engine::analysis::report::PodResult;
use kube_devops_engine::analysis::worker::Worker;
use kube_devops_engine::analysis::{Catalog, SetupError};
use kube_devops_engine::contract::FixDefaults;
use kube_devops_engine::pod::PodInput;
use kube_devops_engine::pool::{Pool, PoolOptions, Rejected};

pub use server::FailurePolicy;

/// How the webhook serves.
#[derive(Debug, Clone)]
pub struct Options {
    pub addr: SocketAddr,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub failure_policy: FailurePolicy,
    pub deadline: Duration,
    pub plugin_dir: Option<PathBuf>,
    /// Where compiled custom plugins are kept between runs; none: compile each time.
    pub cache_dir: Option<PathBuf>,
    /// Policies from this file instead of the cluster's.
    pub policies: Option<PathBuf>,
    /// Reviews that may wait per analysis thread.
    pub queue_per_core: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("cannot read the serving certificate {cert} and key {key}")]
    Certificate {
        cert: PathBuf,
        key: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot serve on {address}")]
    Serve {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot load the built-in plugins")]
    Plugins(#[from] SetupError),
    #[error("cannot wait for termination signals")]
    Signals(#[source] std::io::Error),
    #[error("cannot use the policy file")]
    PolicyFile(#[from] cache::PolicyFileError),
    #[error("no policies: pass --policies FILE or run with a cluster")]
    NoPolicySource,
    #[error("cannot start the analysis threads")]
    Threads(#[source] std::io::Error),
}

/// How often the certificate files are looked at for a rotation.
const CERT_POLL: Duration = Duration::from_secs(1);

/// Serves until SIGTERM or SIGINT, with the policies of `client`'s cluster (watched) or of
/// `options.policies`.
pub async fn run(client: Option<Client>, options: Options) -> Result<(), WebhookError> {
    let mut termination = crate::service::Termination::catch().map_err(WebhookError::Signals)?;
    // kube's client and this server both use rustls with ring; the process picks it once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = RustlsConfig::from_pem_file(&options.cert, &options.key)
        .await
        .map_err(|source| WebhookError::Certificate {
            cert: options.cert.clone(),
            key: options.key.clone(),
            source,
        })?;
    let runtime =
        kube_devops_builtins::runtime(options.cache_dir.clone()).map_err(SetupError::from)?;
    let defaults = Arc::new(Catalog::defaults(&runtime)?);
    let metrics = server::Metrics::new();
    let (shutdown_tx, shutdown) = watch::channel(false);
    let cache = match (&options.policies, client) {
        (Some(path), _) => {
            // Loading runs plugins: on a thread of its own, not the async runtime's.
            let (path, runtime, plugin_dir) =
                (path.clone(), runtime.clone(), options.plugin_dir.clone());
            let loaded = std::thread::scope(|scope| {
                scope
                    .spawn(|| cache::from_file(&path, &runtime, plugin_dir.as_deref()))
                    .join()
            });
            let cache = loaded.map_err(|_| WebhookError::NoPolicySource)??;
            tracing::info!(file = %path.display(), "policies loaded; ready");
            Arc::new(cache)
        }
        (None, Some(client)) => {
            let cache = Arc::new(cache::PolicyCache::default());
            tokio::spawn(cache::run(
                client,
                runtime,
                defaults,
                options.plugin_dir.clone(),
                cache.clone(),
                shutdown.clone(),
            ));
            cache
        }
        (None, None) => return Err(WebhookError::NoPolicySource),
    };
    tokio::spawn(reload_certificates(
        tls.clone(),
        options.cert.clone(),
        options.key.clone(),
        shutdown.clone(),
    ));
    let analyzer = Analyzer::start(
        std::thread::available_parallelism().map_or(1, usize::from),
        options.queue_per_core,
        metrics.clone(),
    )
    .map_err(WebhookError::Threads)?;
    let state = Arc::new(server::AppState {
        cache,
        analyzer,
        metrics,
        failure_policy: options.failure_policy,
        deadline: options.deadline,
    });
    let handle = axum_server::Handle::new();
    let server = axum_server::bind_rustls(options.addr, tls)
        .handle(handle.clone())
        .serve(server::router(state).into_make_service());
    let address = options.addr;
    let serving = tokio::spawn(server);
    if let Some(bound) = handle.listening().await {
        tracing::info!(addr = %bound, "serving admission reviews on https://{bound}/validate");
    }
    tokio::select! {
        () = termination.received() => {}
        finished = serving => {
            return match finished {
                Ok(Err(source)) => Err(WebhookError::Serve { address, source }),
                _ => Ok(()),
            };
        }
    }
    tracing::info!("shutting down");
    shutdown_tx.send_replace(true);
    handle.graceful_shutdown(Some(Duration::from_secs(10)));
    Ok(())
}

/// Reloads the certificate when its files change (cert-manager renews them in place). The new
/// one applies to new connections; requests in flight are not dropped.
async fn reload_certificates(
    tls: RustlsConfig,
    cert: PathBuf,
    key: PathBuf,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut seen = (modified(&cert), modified(&key));
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(CERT_POLL) => {}
        }
        let now = (modified(&cert), modified(&key));
        if now == seen {
            continue;
        }
        match tls.reload_from_pem_file(&cert, &key).await {
            Ok(()) => {
                tracing::info!(cert = %cert.display(), "serving certificate reloaded");
                seen = now;
            }
            // A half-written pair: try again at the next look.
            Err(error) => {
                tracing::warn!(error = %error, "cannot reload the serving certificate yet")
            }
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
}

/// One review for the analysis threads.
struct Job {
    pod: PodInput,
    catalog: Arc<Catalog>,
    /// Set for the mutating webhook: the plugins are asked for fixes, filled in with these.
    fixes: Option<Arc<FixDefaults>>,
    reply: oneshot::Sender<PodResult>,
}

/// The engine's bounded pool running reviews through the plugins, off the async runtime.
pub struct Analyzer {
    pool: Pool<Job>,
}

/// Why a review was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// Every queue slot is taken.
    QueueFull,
    /// The reviews ahead would not let it start before its deadline.
    WouldMissDeadline,
    /// The analysis threads have stopped.
    Stopped,
}

impl Shed {
    pub fn label(self) -> &'static str {
        match self {
            Shed::QueueFull => "queue_full",
            Shed::WouldMissDeadline => "would_miss_deadline",
            Shed::Stopped => "stopped",
        }
    }
}

impl Analyzer {
    /// `threads` analysis threads with `queue_per_thread` reviews waiting each at most.
    pub fn start(
        threads: usize,
        queue_per_thread: usize,
        metrics: Arc<server::Metrics>,
    ) -> std::io::Result<Self> {
        let options = PoolOptions {
            name: "review".to_owned(),
            threads,
            queue_per_thread,
        };
        let observer = metrics.clone();
        let observer_metrics = metrics.clone();
        let run = move |job: Job| {
            let mut worker = Worker::observed(&job.catalog, &*observer);
            if let Some(defaults) = job.fixes {
                worker = worker.remediating(defaults);
            }
            let result = worker.analyze(&job.pod);
            // The requester may have given up (deadline): nothing to do then.
            let _ = job.reply.send(result);
        };
        // Dropping the job drops its reply: the handler, already past its deadline, answers
        // by the failure policy.
        let expired = move |job: Job| {
            metrics.shed.with_label_values(&["deadline_passed"]).inc();
            drop(job);
        };
        let pool = Pool::start(options, run, expired)?;
        let capacity = i64::try_from(pool.capacity()).unwrap_or(i64::MAX);
        observer_metrics.queue_capacity.set(capacity);
        Ok(Analyzer { pool })
    }

    /// Queues a review that must start before `deadline`, or says at once why not.
    pub fn submit(
        &self,
        pod: PodInput,
        catalog: Arc<Catalog>,
        fixes: Option<Arc<FixDefaults>>,
        reply: oneshot::Sender<PodResult>,
        deadline: Instant,
    ) -> Result<(), Shed> {
        let job = Job {
            pod,
            catalog,
            fixes,
            reply,
        };
        self.pool
            .submit(job, Some(deadline))
            .map_err(|rejected| match rejected {
                Rejected::Full(_) => Shed::QueueFull,
                Rejected::WouldMiss(_) => Shed::WouldMissDeadline,
                Rejected::Stopped(_) => Shed::Stopped,
            })
    }

    /// Reviews waiting for a thread.
    pub fn waiting(&self) -> usize {
        self.pool.waiting()
    }
}
