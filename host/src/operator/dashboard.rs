//! The live dashboard (`operator --dashboard`): the HTML page of `analyze -o html`
//! ([`crate::report::html`]) built from the operator's state, served read-only at `/` on the
//! metrics address, with its data at `/dashboard.json` that the page polls every 2 s.
//!
//! The controller owns the state; it hands each change to the [`Feed`] (through
//! [`super::metrics::Metrics::record_state`]), which keeps per namespace its figures and worst
//! findings, recomputed only for the namespaces that changed. Requests read the feed, never
//! the controller's state, so a page view cannot hold up the controller beyond a short lock.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use k8s_openapi::jiff::Timestamp;
use tokio::sync::watch;

use super::state::{Counts, Governance, Namespace};
use crate::report::html::{self, Count, Delivery, Finding, Page, Sample};
use kube_devops_engine::analysis::report::{
    HIGH_RESTARTS, LATEST_TAG, MISSING_LIVENESS, MISSING_READINESS, NamespaceSummary, PENDING,
    Summary,
};

/// Findings the page lists: the worst across the cluster.
pub const MAX_FINDINGS: usize = 100;
/// How often the cluster score is sampled, and how many samples are kept (an hour's worth).
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);
pub const MAX_SAMPLES: usize = 360;

/// What the dashboard shows, kept current by the controller.
#[derive(Debug, Default)]
pub struct Feed {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    namespaces: BTreeMap<String, Arc<Entry>>,
    cluster: Counts,
    by_check: BTreeMap<String, u64>,
    history: VecDeque<Sample>,
    generation: u64,
}

/// One namespace: its figures and its worst findings, each with its rank (severity, impact).
#[derive(Debug)]
struct Entry {
    summary: NamespaceSummary,
    worst: Vec<(u8, u64, Finding)>,
}

impl Entry {
    fn of(name: &str, scope: &Namespace) -> Entry {
        Entry {
            summary: NamespaceSummary {
                namespace: name.to_owned(),
                pods_analyzed: scope.counts.tally.pods,
                health_score: scope.counts.score(),
                status: scope.counts.status(),
            },
            worst: scope
                .worst(MAX_FINDINGS)
                .into_iter()
                .map(|row| {
                    (
                        row.severity.rank(),
                        u64::from(row.weight) * u64::from(row.magnitude),
                        Finding::from(row),
                    )
                })
                .collect(),
        }
    }
}

impl Feed {
    pub fn new() -> Arc<Feed> {
        Arc::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The data stays consistent whatever a panicking holder did: each update is one swap.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes in the state after a change to `changed` namespaces.
    pub fn record(&self, state: &Governance, changed: &[&str]) {
        // The work is done before taking the lock, which is then held for a few swaps.
        let entries: Vec<(&str, Option<Arc<Entry>>)> = changed
            .iter()
            .map(|&name| {
                let entry = state
                    .namespace(name)
                    .filter(|scope| !scope.pods.is_empty())
                    .map(|scope| Arc::new(Entry::of(name, scope)));
                (name, entry)
            })
            .collect();
        let mut by_check: BTreeMap<String, u64> = BTreeMap::new();
        for ((check, _), count) in state.by_check_severity() {
            *by_check.entry(check.to_string()).or_default() += count;
        }
        let cluster = state.cluster().clone();
        let mut inner = self.lock();
        for (name, entry) in entries {
            match entry {
                Some(entry) => {
                    inner.namespaces.insert(name.to_owned(), entry);
                }
                None => {
                    inner.namespaces.remove(name);
                }
            }
        }
        inner.cluster = cluster;
        inner.by_check = by_check;
        inner.generation += 1;
    }

    /// Adds a sample of the cluster score, dropping the oldest past [`MAX_SAMPLES`].
    pub fn sample(&self, at: i64) {
        let mut inner = self.lock();
        let score = inner.cluster.score();
        if inner.history.len() == MAX_SAMPLES {
            inner.history.pop_front();
        }
        inner.history.push_back(Sample { at, score });
        inner.generation += 1;
    }

    /// The page as of now.
    pub fn page(&self) -> Page {
        let (namespaces, cluster, by_check, history, generation) = {
            let inner = self.lock();
            (
                inner.namespaces.values().cloned().collect::<Vec<_>>(),
                inner.cluster.clone(),
                inner.by_check.clone(),
                inner.history.iter().copied().collect::<Vec<_>>(),
                inner.generation,
            )
        };
        let mut worst: Vec<&(u8, u64, Finding)> =
            namespaces.iter().flat_map(|entry| &entry.worst).collect();
        worst.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(b.1.cmp(&a.1))
                .then_with(|| a.2.namespace.cmp(&b.2.namespace))
                .then_with(|| a.2.name.cmp(&b.2.name))
                .then_with(|| a.2.container.cmp(&b.2.container))
                .then_with(|| a.2.check.cmp(&b.2.check))
        });
        worst.truncate(MAX_FINDINGS);
        let tally = &cluster.tally;
        Page {
            title: "kube-devops dashboard".to_owned(),
            generated: Some(Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
            generation,
            summary: Summary {
                pods_analyzed: tally.pods,
                latest_tag: tally.check(LATEST_TAG),
                missing_liveness: tally.check(MISSING_LIVENESS),
                missing_readiness: tally.check(MISSING_READINESS),
                restart_severity: tally.check(HIGH_RESTARTS),
                pending: tally.check(PENDING),
                health_score: cluster.score(),
                status: cluster.status(),
                exempted_pods: cluster.exempted_pods,
                exempted_findings: cluster.exempted_findings,
                checks: tally.checks.clone(),
            },
            complete: None,
            incomplete: Vec::new(),
            namespaces: namespaces
                .iter()
                .map(|entry| NamespaceSummary {
                    namespace: entry.summary.namespace.clone(),
                    ..entry.summary
                })
                .collect(),
            by_severity: html::severity_counts(cluster.by_severity),
            by_check: by_check
                .into_iter()
                .map(|(name, findings)| Count { name, findings })
                .collect(),
            findings_total: cluster.by_severity.iter().sum(),
            findings: worst.into_iter().map(|(_, _, f)| f.clone()).collect(),
            history,
        }
    }
}

/// Samples the cluster score every [`SAMPLE_EVERY`] until `stop` turns true.
pub async fn sample(feed: Arc<Feed>, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(SAMPLE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            _ = every.tick() => feed.sample(Timestamp::now().as_second()),
        }
    }
}

/// `/`, `/dashboard.json`, `/dashboard.js` and `/dashboard.css`, all read-only.
pub fn router(feed: Arc<Feed>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/dashboard.json", get(json))
        .route("/dashboard.js", get(script))
        .route("/dashboard.css", get(style))
        .with_state(feed)
}

/// The headers of every dashboard response: nothing but the same origin may load, frame or
/// cache it.
fn headers(content_type: &'static str) -> [(HeaderName, HeaderValue); 6] {
    [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(html::LIVE_CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ]
}

async fn page(State(feed): State<Arc<Feed>>) -> impl IntoResponse {
    (
        headers("text/html; charset=utf-8"),
        feed.page().render(Delivery::Live),
    )
}

async fn json(State(feed): State<Arc<Feed>>) -> impl IntoResponse {
    let body = serde_json::to_string(&feed.page()).unwrap_or_else(|_| "{}".to_owned());
    (headers("application/json"), body)
}

async fn script() -> impl IntoResponse {
    (headers("text/javascript; charset=utf-8"), html::JS)
}

async fn style() -> impl IntoResponse {
    (headers("text/css; charset=utf-8"), html::CSS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::state::PodRecord;
    use kube_devops_engine::analysis::report::FindingRow;
    use kube_devops_engine::contract::Severity;

    fn record(namespace: &str, pod: &str, check: &str, severity: Severity) -> PodRecord {
        PodRecord {
            resource_version: "1".into(),
            exempt: false,
            exempted_findings: 0,
            findings: vec![FindingRow {
                plugin: Arc::from("p"),
                check: Arc::from(check),
                severity,
                api_version: None,
                kind: Arc::from("Pod"),
                namespace: Arc::from(namespace),
                pod: Arc::from(pod),
                container: Some("app".to_owned()),
                message: "<script>alert(1)</script>".to_owned(),
                magnitude: 1,
                source: None,
                fix: None,
                weight: 5,
            }]
            .into(),
        }
    }

    #[test]
    fn the_page_follows_the_state_and_forgets_emptied_namespaces() {
        let feed = Feed::new();
        let mut state = Governance::default();
        state.upsert("a", "web", record("a", "web", "latest-tag", Severity::High));
        state.upsert("b", "db", record("b", "db", "pending", Severity::Critical));
        feed.record(&state, &["a", "b"]);
        let page = feed.page();
        assert_eq!(page.summary.pods_analyzed, 2);
        assert_eq!(page.summary.latest_tag, 1);
        assert_eq!(page.findings_total, 2);
        assert_eq!(&*page.findings[0].name, "db", "critical first");
        assert_eq!(page.namespaces.len(), 2);
        let before = page.generation;

        state.remove("b", "db");
        feed.record(&state, &["b"]);
        let page = feed.page();
        assert!(page.generation > before);
        assert_eq!(page.namespaces.len(), 1);
        assert_eq!(page.findings.len(), 1);
        assert_eq!(
            page.by_check,
            [Count {
                name: "latest-tag".to_owned(),
                findings: 1
            }]
        );
        let rendered = page.render(Delivery::Live);
        assert!(!rendered.contains("<script>alert"));
        assert!(rendered.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn the_history_keeps_the_last_hour() {
        let feed = Feed::new();
        for at in 0..(MAX_SAMPLES as i64 + 5) {
            feed.sample(at);
        }
        let history = feed.page().history;
        assert_eq!(history.len(), MAX_SAMPLES);
        assert_eq!(history[0].at, 5);
    }
}
