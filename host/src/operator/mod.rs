//! Operator mode (`kube-devops operator`): keeps every namespace's governance state current as
//! pods and policies change, with the same plugins as the CLI.
//!
//! - [`controller`] owns the state and reacts to watch events; [`queue`] orders the pods waiting
//!   for analysis; [`pods`] analyses them on threads of its own; [`state`] keeps per pod only its
//!   findings, and the counts behind the scores; `policy::registry` knows which policy is in
//!   effect where.
//! - [`status`] computes policy statuses and PolicyReports; [`writer`] applies them (leader
//!   only); [`leader`] runs the Lease election; [`metrics`] serves health and Prometheus, and
//!   [`dashboard`] the live page when asked for.
//! - `enforce` mode: [`fixes`] takes a pod's fixes and places them on its workload's template,
//!   [`apply_config`] turns them into a sparse server-side apply, [`remediate`] reads and
//!   patches the workloads (leader only).

pub mod apply_config;
pub mod controller;
pub mod dashboard;
pub mod fixes;
pub mod leader;
pub mod metrics;
pub mod pods;
pub mod queue;
pub mod remediate;
pub mod state;
pub mod status;
pub mod writer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};
use tokio::sync::{mpsc, watch};

use kube_devops_engine::analysis::{Catalog, SetupError, SystemNamespaces};

pub use controller::Scope;
pub use leader::LeaseConfig;

/// How the operator runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub scope: Scope,
    pub metrics_addr: SocketAddr,
    /// `None`: always the leader (one replica, or leader election off).
    pub lease: Option<LeaseConfig>,
    pub identity: String,
    /// Where compiled custom plugins are kept between runs; none: compile each time.
    pub cache_dir: Option<std::path::PathBuf>,
    /// Serve the live dashboard at `/` on the metrics address.
    pub dashboard: bool,
}

/// Why the operator could not start.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("cannot serve metrics on {address}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot load the built-in plugins")]
    Plugins(#[from] SetupError),
    #[error("cannot wait for termination signals")]
    Signals(#[source] std::io::Error),
    #[error("cannot start the analysis threads")]
    Threads(#[source] std::io::Error),
}

/// Runs the operator until SIGTERM or SIGINT; then releases the lease and returns.
pub async fn run(client: Client, options: Options) -> Result<(), OperatorError> {
    let mut termination = crate::service::Termination::catch().map_err(OperatorError::Signals)?;
    let listener = metrics::bind(options.metrics_addr)
        .await
        .map_err(|source| OperatorError::Bind {
            address: options.metrics_addr,
            source,
        })?;
    let address = listener.local_addr().unwrap_or(options.metrics_addr);
    let runtime =
        kube_devops_builtins::runtime(options.cache_dir.clone()).map_err(SetupError::from)?;
    let default_catalog = Arc::new(Catalog::defaults(&runtime)?);
    let metrics = metrics::Metrics::new();
    let (shutdown_tx, shutdown) = watch::channel(false);
    if options.dashboard {
        let feed = dashboard::Feed::new();
        let _ = metrics.dashboard.set(feed.clone());
        tokio::spawn(dashboard::sample(feed, shutdown.clone()));
    }

    let server = {
        let metrics = metrics.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|stop| *stop).await;
            };
            if let Err(error) = metrics::serve(listener, metrics, stopped).await {
                tracing::error!(error = %error, "the metrics server failed");
            }
        })
    };
    tracing::info!(addr = %address, "serving /healthz, /readyz and /metrics");
    if options.dashboard {
        tracing::info!(addr = %address, "serving the dashboard at / (data at /dashboard.json)");
    }

    let (leader_tx, leader) = watch::channel(false);
    let election = match options.lease.clone() {
        Some(lease) => {
            let api: Api<Lease> = Api::namespaced(client.clone(), &lease.namespace);
            Some(tokio::spawn(leader::run(
                api,
                lease,
                leader_tx,
                shutdown.clone(),
            )))
        }
        None => {
            leader_tx.send_replace(true);
            metrics.leader.set(1);
            // Keep the sender alive: a closed channel would read as an ended term.
            let mut stop = shutdown.clone();
            Some(tokio::spawn(async move {
                let _ = stop.wait_for(|stop| *stop).await;
                drop(leader_tx);
            }))
        }
    };

    let (writes_tx, writes) = mpsc::unbounded_channel();
    let writer = tokio::spawn(writer::run(
        client.clone(),
        options.identity.clone(),
        metrics.clone(),
        writes,
        leader.clone(),
    ));

    let (remediations, remediation_requests) = mpsc::unbounded_channel();
    let (outcomes, remediated) = mpsc::unbounded_channel();
    let enforcer = tokio::spawn(remediate::run(
        client.clone(),
        options.identity.clone(),
        metrics.clone(),
        remediation_requests,
        outcomes,
        leader.clone(),
    ));

    let (results, analysed) = mpsc::unbounded_channel();
    let pool = pods::AnalysisPool::start(options.scope.threads, metrics.clone(), results)
        .map_err(OperatorError::Threads)?;
    let controller = tokio::spawn(controller::Controller::run(
        client,
        options.scope,
        controller::Wiring {
            runtime,
            pool,
            analysed,
            default_catalog,
            metrics,
            writes: writes_tx,
            leader,
            shutdown: shutdown.clone(),
            remediations,
            remediated,
        },
    ));

    termination.received().await;
    tracing::info!("shutting down");
    shutdown_tx.send_replace(true);
    let _ = controller.await;
    if let Some(election) = election {
        // Releasing the lease is one or two requests; do not hang on a dead API server.
        let _ = tokio::time::timeout(Duration::from_secs(5), election).await;
    }
    writer.abort();
    enforcer.abort();
    let _ = server.await;
    Ok(())
}

/// This replica's name: the pod name in a cluster (`POD_NAME`, else `HOSTNAME`), else the
/// host name and process id.
pub fn default_identity() -> String {
    std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "kube-devops".to_owned())
        + &format!("-{}", std::process::id())
}

/// What to watch, with one analysis thread per core.
pub fn scope(
    namespaces: Vec<String>,
    include_system: bool,
    system: SystemNamespaces,
    plugin_dir: Option<PathBuf>,
) -> Scope {
    Scope {
        namespaces,
        include_system,
        system,
        plugin_dir,
        threads: std::thread::available_parallelism().map_or(1, usize::from),
    }
}
