//! The operator's Prometheus metrics (all named `kube_devops_…`) and the HTTP server for them
//! and for the kubelet's probes: `/healthz` (the process runs), `/readyz` (the initial sync is
//! done), `/metrics` (text format).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus::{
    Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
};

use super::state::Governance;
use kube_devops_engine::analysis::worker::CallObserver;

/// Every metric the operator exports.
pub struct Metrics {
    registry: Registry,
    cluster_score: Gauge,
    namespace_score: GaugeVec,
    findings: GaugeVec,
    pods: IntGauge,
    pub reconciles: IntCounterVec,
    pub reconcile_errors: IntCounterVec,
    pub reconcile_duration: HistogramVec,
    pub writes: IntCounterVec,
    /// Workloads enforce mode patched or tried to, by result.
    pub remediations: IntCounterVec,
    plugin_calls: HistogramVec,
    plugin_failures: IntCounterVec,
    pub leader: IntGauge,
    /// Set once the initial sync is done.
    pub ready: AtomicBool,
    /// The dashboard's data, when `--dashboard` is on: kept current with the gauges.
    pub dashboard: std::sync::OnceLock<Arc<super::dashboard::Feed>>,
}

/// Metric definitions are constants; registering them can only fail on a programming error.
fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: M,
) -> M {
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique and valid");
    metric
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let registry = Registry::new();
        let opts = |name: &str, help: &str| Opts::new(format!("kube_devops_{name}"), help);
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            HistogramOpts::new(format!("kube_devops_{name}"), help).buckets(buckets)
        };
        let seconds = vec![
            0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
        ];
        let metrics = Metrics {
            cluster_score: registered(
                &registry,
                Gauge::with_opts(opts(
                    "cluster_health_score",
                    "Health score (0-100) of all analysed pods",
                ))
                .expect("valid"),
            ),
            namespace_score: registered(
                &registry,
                GaugeVec::new(
                    opts(
                        "namespace_health_score",
                        "Health score (0-100) per namespace",
                    ),
                    &["namespace"],
                )
                .expect("valid"),
            ),
            findings: registered(
                &registry,
                GaugeVec::new(
                    opts("findings", "Current findings by check and severity"),
                    &["check", "severity"],
                )
                .expect("valid"),
            ),
            pods: registered(
                &registry,
                IntGauge::with_opts(opts("pods_tracked", "Pods whose findings are tracked"))
                    .expect("valid"),
            ),
            reconciles: registered(
                &registry,
                IntCounterVec::new(
                    opts("reconciles_total", "Objects reconciled, by kind"),
                    &["kind"],
                )
                .expect("valid"),
            ),
            reconcile_errors: registered(
                &registry,
                IntCounterVec::new(
                    opts("reconcile_errors_total", "Failed reconciles, by kind"),
                    &["kind"],
                )
                .expect("valid"),
            ),
            reconcile_duration: registered(
                &registry,
                HistogramVec::new(
                    histogram(
                        "reconcile_duration_seconds",
                        "Time to analyse one pod (kind=pod), by kind",
                        seconds.clone(),
                    ),
                    &["kind"],
                )
                .expect("valid"),
            ),
            writes: registered(
                &registry,
                IntCounterVec::new(
                    opts(
                        "writes_total",
                        "Objects written to the API server, by kind (status, report, event)",
                    ),
                    &["kind"],
                )
                .expect("valid"),
            ),
            remediations: registered(
                &registry,
                IntCounterVec::new(
                    opts(
                        "remediations_total",
                        "Workload patches of enforce mode, by result (applied, planned, conflict, failed)",
                    ),
                    &["result"],
                )
                .expect("valid"),
            ),
            plugin_calls: registered(
                &registry,
                HistogramVec::new(
                    histogram(
                        "plugin_call_duration_seconds",
                        "Duration of one plugin call, by plugin",
                        seconds,
                    ),
                    &["plugin"],
                )
                .expect("valid"),
            ),
            plugin_failures: registered(
                &registry,
                IntCounterVec::new(
                    opts(
                        "plugin_failures_total",
                        "Plugin calls that trapped or timed out, by plugin",
                    ),
                    &["plugin"],
                )
                .expect("valid"),
            ),
            leader: registered(
                &registry,
                IntGauge::with_opts(opts(
                    "leader",
                    "1 when this replica holds the leader lease and writes",
                ))
                .expect("valid"),
            ),
            ready: AtomicBool::new(false),
            dashboard: std::sync::OnceLock::new(),
            registry,
        };
        Arc::new(metrics)
    }

    /// Sets the score and finding gauges from the state; `namespaces` are those that changed.
    pub fn record_state<'a>(&self, state: &Governance, namespaces: impl Iterator<Item = &'a str>) {
        let namespaces: Vec<&str> = namespaces.collect();
        if let Some(feed) = self.dashboard.get() {
            feed.record(state, &namespaces);
        }
        self.cluster_score.set(f64::from(state.cluster().score()));
        self.pods.set(
            i64::try_from(state.cluster().tally.pods + state.cluster().exempted_pods)
                .unwrap_or(i64::MAX),
        );
        for namespace in namespaces {
            match state.namespace(namespace) {
                Some(scope) if !scope.pods.is_empty() => self
                    .namespace_score
                    .with_label_values(&[namespace])
                    .set(f64::from(scope.counts.score())),
                _ => {
                    let _ = self.namespace_score.remove_label_values(&[namespace]);
                }
            }
        }
        self.findings.reset();
        for ((check, severity), count) in state.by_check_severity() {
            self.findings
                .with_label_values(&[&**check, severity])
                .set(*count as f64);
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        crate::service::metrics_text(&self.registry)
    }
}

impl CallObserver for Metrics {
    fn observe(&self, plugin: &str, elapsed: Duration, failed: bool) {
        self.plugin_calls
            .with_label_values(&[plugin])
            .observe(elapsed.as_secs_f64());
        if failed {
            self.plugin_failures.with_label_values(&[plugin]).inc();
        }
    }
}

/// Serves `/healthz`, `/readyz` and `/metrics` on `listener` until `shutdown` resolves, and the
/// dashboard's routes when it is on.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render))
        .with_state(metrics.clone());
    let app = match metrics.dashboard.get() {
        Some(feed) => app.merge(super::dashboard::router(feed.clone())),
        None => app,
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds the metrics address, so a bad `--metrics-addr` fails before anything starts.
pub async fn bind(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address).await
}

async fn readyz(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    if metrics.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "initial sync in progress")
    }
}

async fn render(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
}
