//! The HTTPS endpoints: `POST /validate` and `POST /mutate` (AdmissionReview), `/healthz`,
//! `/readyz`, `/metrics`. Handlers are thin: read the body, parse, review ([`decide`],
//! [`mutation`]), answer; every error maps to a 400 or to the failure policy in one place.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};
use serde_json::json;
use tokio::sync::oneshot;

use super::cache::{Admission, PolicyCache};
use super::review::{Decision, Request};
use kube_devops_engine::analysis::report::PodResult;
use kube_devops_engine::analysis::worker::CallObserver;
use kube_devops_engine::pod::{self, Origin, Read, Source};
use kube_devops_engine::remedy::{Operation, plan};
use kube_devops_policy::crd::OwnedPods;

/// Largest AdmissionReview accepted (the API server's own objects are at most ~1.5 MiB).
pub const MAX_BODY: usize = 4 << 20;

/// What to do when the review itself fails (a plugin trap or time-out, the deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailurePolicy {
    /// Allow, with a warning (the default: a broken check must not stop deployments).
    Ignore,
    /// Deny.
    Fail,
}

pub struct AppState {
    pub cache: Arc<PolicyCache>,
    pub analyzer: super::Analyzer,
    pub metrics: Arc<Metrics>,
    pub failure_policy: FailurePolicy,
    /// Per request, well below the API server's webhook timeout.
    pub deadline: Duration,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/mutate", post(mutate))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// The review in a body, or the 400 answering it.
async fn read_review(state: &AppState, body: Body) -> Result<Request, Response> {
    let bytes = to_bytes(body, MAX_BODY).await.map_err(|_| {
        bad_request(
            state,
            &format!(
                "the body is over the {} MiB limit or unreadable",
                MAX_BODY >> 20
            ),
        )
    })?;
    let request = Request::parse(&bytes).map_err(|error| bad_request(state, &error.to_string()))?;
    if request.reviewed() && request.object.is_none() {
        return Err(bad_request(
            state,
            "the AdmissionReview request has no object",
        ));
    }
    Ok(request)
}

async fn validate(State(state): State<Arc<AppState>>, body: Body) -> Response {
    let started = Instant::now();
    let request = match read_review(&state, body).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let (decision, reason) = decide(&state, &request, started).await;
    let outcome = if decision.allowed {
        "allowed"
    } else {
        "denied"
    };
    state.metrics.requests.with_label_values(&[outcome]).inc();
    state
        .metrics
        .warnings
        .with_label_values(&["warning"])
        .inc_by(decision.warnings.len() as u64);
    state
        .metrics
        .latency
        .with_label_values(&[outcome])
        .observe(started.elapsed().as_secs_f64());
    tracing::info!(
        uid = %request.uid,
        namespace = %request.namespace,
        kind = %request.kind.1,
        name = %request.name,
        operation = %request.operation,
        dry_run = request.dry_run,
        allowed = decision.allowed,
        warnings = decision.warnings.len(),
        reason,
        "admission review"
    );
    axum::Json(decision.response(&request.uid)).into_response()
}

async fn mutate(State(state): State<Arc<AppState>>, body: Body) -> Response {
    let started = Instant::now();
    let request = match read_review(&state, body).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let (decision, patch, reason) = mutation(&state, &request, started).await;
    let outcome = match (&patch, decision.allowed) {
        (_, false) => "denied",
        (Some(_), true) => "patched",
        (None, true) => "allowed",
    };
    state.metrics.mutations.with_label_values(&[outcome]).inc();
    state
        .metrics
        .latency
        .with_label_values(&[outcome])
        .observe(started.elapsed().as_secs_f64());
    tracing::info!(
        uid = %request.uid,
        namespace = %request.namespace,
        kind = %request.kind.1,
        name = %request.name,
        operations = patch.as_ref().map_or(0, Vec::len),
        outcome,
        reason,
        "mutation review"
    );
    let mut response = decision.response(&request.uid);
    if let Some(patch) = patch {
        use base64::Engine;
        let text = serde_json::to_vec(&patch).unwrap_or_default();
        response["response"]["patchType"] = json!("JSONPatch");
        response["response"]["patch"] =
            json!(base64::engine::general_purpose::STANDARD.encode(text));
    }
    axum::Json(response).into_response()
}

/// The fixes for a request received at `received`: the JSON Patch of the object's findings'
/// fixes (none when nothing is fixable), warnings naming fixes left out, and why, for the log.
/// The mutating webhook never denies for findings (the validating one does, after it);
/// a review that fails follows the failure policy, as validation does.
pub async fn mutation(
    state: &AppState,
    request: &Request,
    received: Instant,
) -> (Decision, Option<Vec<Operation>>, &'static str) {
    let reviewed = match review(state, request, received, true).await {
        Ok(reviewed) => reviewed,
        Err((decision, reason)) => return (decision, None, reason),
    };
    let Reviewed {
        result,
        pod_pointer,
        object,
        ..
    } = reviewed;
    if !result.diagnostics.is_empty() && state.failure_policy == FailurePolicy::Fail {
        let problems: Vec<String> = result.diagnostics.into_iter().map(|d| d.message).collect();
        return (
            failure(state, &problems.join("; ")).0,
            None,
            "plugin failure (fail-closed)",
        );
    }
    let fixes = result.findings.iter().filter_map(|finding| {
        let fix = finding.fix.as_ref()?;
        Some((&*finding.check, finding.container.as_deref(), fix))
    });
    let plan = plan(&object, &pod_pointer, fixes);
    let mut decision = Decision::allow();
    decision.warnings = plan
        .dropped
        .iter()
        .map(|dropped| {
            format!(
                "kube-devops: the fix of {} is not applied: {}",
                dropped.check, dropped.reason
            )
        })
        .chain(
            result
                .diagnostics
                .iter()
                .map(|diagnostic| format!("kube-devops: {}", diagnostic.message)),
        )
        .collect();
    if plan.is_empty() {
        return (decision, None, "nothing to fix");
    }
    (decision, Some(plan.operations), "fixes applied")
}

/// An object analysed for admission.
struct Reviewed {
    admission: Arc<Admission>,
    result: PodResult,
    /// Where the pod is in the object, for fixes.
    pod_pointer: String,
    /// The object as the request sent it, for fixes.
    object: serde_json::Value,
}

/// The decision for a request received at `received`, and why, for the log.
///
/// A namespace's policy applies whatever the namespace is called: only namespaces without a
/// policy are let through unreviewed (the system ones are also left out of the
/// `namespaceSelector`, see `install`).
pub async fn decide(
    state: &AppState,
    request: &Request,
    received: Instant,
) -> (Decision, &'static str) {
    let Reviewed {
        admission, result, ..
    } = match review(state, request, received, false).await {
        Ok(reviewed) => reviewed,
        Err(answered) => return answered,
    };
    verdict(state, request, &admission, result)
}

/// Runs the plugins on the request's object (asking for fixes when `fixes`), or answers at once
/// (not reviewed, no policy, exempt, unreadable, shed, late).
async fn review(
    state: &AppState,
    request: &Request,
    received: Instant,
    fixes: bool,
) -> Result<Reviewed, (Decision, &'static str)> {
    if !request.reviewed() {
        return Err((Decision::allow(), "not a reviewed kind or operation"));
    }
    let Some(admission) = state.cache.get(&request.namespace) else {
        return Err((Decision::allow(), "no policy in the namespace"));
    };
    let Some(object) = &request.object else {
        return Err((Decision::allow(), "no object"));
    };
    let text = Arc::new(object.clone());
    let range = 0..text.len();
    let source = Source::new(Origin::Cluster, text, range)
        .with_implied_kind(Some(Arc::from(request.kind.1.as_str())));
    let mut input = match pod::read(source) {
        Ok(Read::Pod(input)) => input,
        Ok(Read::Skipped { .. }) => return Err((Decision::allow(), "no pod template")),
        Err(error) => {
            return Err(failure(
                state,
                &format!("cannot read the object: {}", error.reason),
            ));
        }
    };
    let pod_pointer = input.source.pod_pointer();
    let record = input.record_mut();
    // The namespace may be missing from the object at CREATE; the request names it.
    if record.metadata.namespace.is_empty() || record.metadata.namespace == pod::DEFAULT_NAMESPACE {
        record.metadata.namespace.clone_from(&request.namespace);
    }
    // At admission nothing runs yet: status checks have nothing to see.
    record.status = None;
    let deadline = received + state.deadline;
    let (reply, result) = oneshot::channel::<PodResult>();
    let fix_defaults = fixes.then(|| admission.fixes.clone());
    if let Err(shed) = state.analyzer.submit(
        input,
        admission.catalog.clone(),
        fix_defaults,
        reply,
        deadline,
    ) {
        // Answered now, by the failure policy: waiting could only end in a missed deadline.
        state.metrics.shed.with_label_values(&[shed.label()]).inc();
        tracing::warn!(
            uid = %request.uid,
            namespace = %request.namespace,
            reason = shed.label(),
            waiting = state.analyzer.waiting(),
            "review shed under load"
        );
        let problem = match shed {
            super::Shed::Stopped => "the analysis threads have stopped".to_owned(),
            _ => format!(
                "the webhook is overloaded and could not start the review within {} ms",
                state.deadline.as_millis()
            ),
        };
        return Err(failure(state, &problem));
    }
    let result = match tokio::time::timeout_at(deadline.into(), result).await {
        Ok(Ok(result)) => result,
        // The pool dropped it unrun: its deadline passed while it waited.
        Ok(Err(_)) | Err(_) => {
            return Err(failure(
                state,
                &format!(
                    "the analysis did not finish within {} ms",
                    state.deadline.as_millis()
                ),
            ));
        }
    };
    if result.exempt {
        return Err((Decision::allow(), "exempt"));
    }
    let object = if fixes {
        match serde_json::from_str(object) {
            Ok(object) => object,
            Err(error) => {
                return Err(failure(state, &format!("cannot read the object: {error}")));
            }
        }
    } else {
        serde_json::Value::Null
    };
    Ok(Reviewed {
        admission,
        result,
        pod_pointer,
        object,
    })
}

/// Allow, warn or deny, from an analysed object's findings and the failure policy.
fn verdict(
    state: &AppState,
    request: &Request,
    admission: &Admission,
    result: PodResult,
) -> (Decision, &'static str) {
    // A workload controller's pods (and ReplicaSets, Jobs) were reviewed as their workload.
    let owned_warn = admission.owned_pods == OwnedPods::Warn && request.from_workload_controller();
    let mut decision = Decision::from_findings(
        &result.findings,
        admission.threshold,
        admission.deny && !owned_warn,
    );
    if owned_warn && admission.deny && !decision.warnings.is_empty() {
        decision.warnings.push(format!(
            "kube-devops: allowed with warnings: created by {} for its workload, which is \
             reviewed when applied (ownedPods: warn)",
            request.user
        ));
    }
    if result.diagnostics.is_empty() {
        let reason = if decision.allowed {
            "no blocking finding"
        } else {
            "findings at or above the threshold"
        };
        return (decision, reason);
    }
    let problems: Vec<String> = result
        .diagnostics
        .into_iter()
        .map(|diagnostic| diagnostic.message)
        .collect();
    match state.failure_policy {
        FailurePolicy::Ignore => {
            decision.warnings.extend(
                problems
                    .iter()
                    .map(|problem| format!("kube-devops: {problem}")),
            );
            (decision, "plugin failure (fail-open)")
        }
        FailurePolicy::Fail => {
            let mut message = decision
                .message
                .unwrap_or_else(|| "denied by kube-devops:".to_owned());
            message.push_str("\nthe review failed (fail-closed):");
            for problem in &problems {
                message.push_str("\n- ");
                message.push_str(problem);
            }
            decision.allowed = false;
            decision.message = Some(message);
            (decision, "plugin failure (fail-closed)")
        }
    }
}

/// The review could not be made: allow with a warning, or deny, per the failure policy.
fn failure(state: &AppState, problem: &str) -> (Decision, &'static str) {
    state.metrics.errors.with_label_values(&["review"]).inc();
    match state.failure_policy {
        FailurePolicy::Ignore => (
            Decision {
                allowed: true,
                message: None,
                warnings: vec![format!(
                    "kube-devops could not review this object and allowed it: {problem}"
                )],
            },
            "review failed (fail-open)",
        ),
        FailurePolicy::Fail => (
            Decision {
                allowed: false,
                message: Some(format!(
                    "kube-devops could not review this object (fail-closed): {problem}"
                )),
                warnings: Vec::new(),
            },
            "review failed (fail-closed)",
        ),
    }
}

fn bad_request(state: &AppState, message: &str) -> Response {
    state
        .metrics
        .errors
        .with_label_values(&["bad_request"])
        .inc();
    tracing::warn!(reason = message, "bad admission request");
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "status": "Failure",
        "reason": "BadRequest", "code": 400, "message": message,
    });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    if state.cache.ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "loading policies")
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let waiting = i64::try_from(state.analyzer.waiting()).unwrap_or(i64::MAX);
    state.metrics.queue_waiting.set(waiting);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// The webhook's Prometheus metrics, all named `kube_devops_webhook_…`.
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    /// Mutation reviews answered, by outcome (`patched`, `allowed`, `denied`).
    pub mutations: IntCounterVec,
    pub warnings: IntCounterVec,
    pub errors: IntCounterVec,
    pub latency: HistogramVec,
    /// Reviews answered by the failure policy without being run, by reason.
    pub shed: IntCounterVec,
    /// Reviews that may wait for an analysis thread, and those waiting at the scrape.
    pub queue_capacity: IntGauge,
    pub queue_waiting: IntGauge,
    plugin_calls: HistogramVec,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, label: &str| {
            let metric = IntCounterVec::new(
                Opts::new(format!("kube_devops_webhook_{name}"), help),
                &[label],
            )
            .expect("valid metric");
            registry
                .register(Box::new(metric.clone()))
                .expect("unique metric");
            metric
        };
        let requests = counter(
            "requests_total",
            "Admission reviews answered, by decision",
            "decision",
        );
        let mutations = counter(
            "mutations_total",
            "Mutation reviews answered, by outcome (patched, allowed, denied)",
            "outcome",
        );
        let warnings = counter("warnings_total", "Warnings returned to clients", "kind");
        let errors = counter(
            "errors_total",
            "Bad requests, review failures and plugin failures",
            "kind",
        );
        let shed = counter(
            "shed_total",
            "Reviews answered by the failure policy without running, by reason (queue_full, would_miss_deadline, deadline_passed)",
            "reason",
        );
        let gauge = |name: &str, help: &str| {
            let metric =
                IntGauge::new(format!("kube_devops_webhook_{name}"), help).expect("valid metric");
            registry
                .register(Box::new(metric.clone()))
                .expect("unique metric");
            metric
        };
        let queue_capacity = gauge(
            "queue_capacity",
            "Reviews that may wait for an analysis thread (--queue-per-core per core)",
        );
        let queue_waiting = gauge("queue_waiting", "Reviews waiting for an analysis thread");
        let buckets = vec![
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ];
        let histogram = |name: &str, help: &str, label: &str| {
            let metric = HistogramVec::new(
                HistogramOpts::new(format!("kube_devops_webhook_{name}"), help)
                    .buckets(buckets.clone()),
                &[label],
            )
            .expect("valid metric");
            registry
                .register(Box::new(metric.clone()))
                .expect("unique metric");
            metric
        };
        let latency = histogram(
            "request_duration_seconds",
            "Time to answer a review, by decision",
            "decision",
        );
        let plugin_calls = histogram(
            "plugin_call_duration_seconds",
            "Duration of one plugin call, by plugin",
            "plugin",
        );
        Arc::new(Metrics {
            registry,
            requests,
            mutations,
            warnings,
            errors,
            latency,
            shed,
            queue_capacity,
            queue_waiting,
            plugin_calls,
        })
    }

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
            self.errors.with_label_values(&["plugin_call"]).inc();
        }
    }
}
