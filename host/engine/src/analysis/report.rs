//! The result of an analysis, as `-o json|yaml` prints it and the text renderer reads it, and the
//! [`Aggregator`] that builds it from per-pod results in input order.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::catalog::Catalog;
use super::score::{Tally, status};
use crate::contract::Severity;
use crate::pod::InputError;

/// Check ids behind the fixed lines of the summary.
pub const LATEST_TAG: &str = "latest-tag";
pub const MISSING_LIVENESS: &str = "missing-liveness-probe";
pub const MISSING_READINESS: &str = "missing-readiness-probe";
pub const HIGH_RESTARTS: &str = "high-restarts";
pub const PENDING: &str = "pending";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub summary: Summary,
    /// Every pod got every plugin's findings. False when a plugin failed on some pod: the
    /// score then rests on less than it should, and a gate must not pass on it.
    pub complete: bool,
    /// Plugin by plugin, how many pods lack its findings; empty when complete.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub incomplete: Vec<Incomplete>,
    pub namespaces: Vec<NamespaceSummary>,
    /// Worst first.
    pub findings: Vec<FindingRow>,
    pub diagnostics: Vec<Diagnostic>,
    /// Every object analysed (exempt ones aside), in input order, when the aggregator was
    /// [`Aggregator::listing_objects`]: what a report of one entry per object and check (JUnit)
    /// lists, findings or not. Not printed.
    #[serde(skip)]
    pub objects: Vec<AnalysedObject>,
}

/// An object the analysis covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysedObject {
    pub namespace: Arc<str>,
    pub kind: Arc<str>,
    pub name: Arc<str>,
    /// It has a status, so its status checks ran (a workload's pod template has none).
    pub has_status: bool,
}

/// Pods one plugin's findings are missing from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Incomplete {
    pub plugin: String,
    pub pods: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub pods_analyzed: u64,
    pub latest_tag: u64,
    pub missing_liveness: u64,
    pub missing_readiness: u64,
    pub restart_severity: u64,
    pub pending: u64,
    pub health_score: u8,
    pub status: &'static str,
    /// Pods not analysed: annotated `devops.stochastic.io/exempt: "true"`.
    pub exempted_pods: u64,
    /// Findings dropped by `devops.stochastic.io/exempt-checks`.
    pub exempted_findings: u64,
    /// Σ magnitude per enabled check id, 0 included.
    pub checks: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSummary {
    pub namespace: String,
    pub pods_analyzed: u64,
    pub health_score: u8,
    pub status: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingRow {
    // Names are shared (`Arc`): a run can hold hundreds of thousands of findings.
    pub plugin: Arc<str>,
    pub check: Arc<str>,
    pub severity: Severity,
    /// The object's `apiVersion`, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<Arc<str>>,
    /// The object's kind: `Pod`, or the workload whose pod template was analysed.
    pub kind: Arc<str>,
    pub namespace: Arc<str>,
    /// The object's name (the pod's, or the workload's).
    pub pod: Arc<str>,
    pub container: Option<String>,
    pub message: String,
    pub magnitude: u32,
    /// Where the object is declared in the input files; absent for cluster input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Provenance>,
    /// The plugin's fix, relative to the pod: only when fixes were asked for (`fix`, the
    /// mutating webhook, enforce mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<crate::remedy::Fix>,
    /// Score points per unit of magnitude; orders findings, not printed.
    #[serde(skip)]
    pub weight: u32,
}

/// The file and line an object starts on, and its container's line when a finding names one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    pub file: Arc<str>,
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_line: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DiagnosticKind {
    /// A plugin failed or returned something malformed.
    Plugin,
    /// An input document could not be read.
    Input,
    /// An input was passed over or read with a caveat (a link cycle, a FIFO, a duplicate key):
    /// said, but nothing was lost.
    InputWarning,
    /// Input documents of a kind that describes no pod.
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    pub kind: DiagnosticKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub message: String,
}

/// The findings and diagnostics of one pod.
#[derive(Debug, Default)]
pub struct PodResult {
    pub namespace: String,
    pub findings: Vec<FindingRow>,
    pub diagnostics: Vec<Diagnostic>,
    /// The pod is exempt from every check and was not analysed.
    pub exempt: bool,
    /// Findings dropped because the pod is exempt from their check.
    pub exempted_findings: u64,
    /// Plugins whose findings this pod lacks: they failed on it, or had been switched off.
    pub unanalysed_by: Vec<Arc<str>>,
    /// The object analysed: always set by [`super::worker::Worker::analyze`] (an `Option` so
    /// that a result has a default).
    pub object: Option<AnalysedObject>,
}

/// Accumulates results, in input order, into a [`Report`].
#[derive(Debug, Default)]
pub struct Aggregator {
    cluster: Tally,
    namespaces: BTreeMap<String, Tally>,
    findings: Vec<FindingRow>,
    diagnostics: Vec<Diagnostic>,
    skipped: BTreeMap<String, u64>,
    input_errors: usize,
    exempted_pods: u64,
    exempted_findings: u64,
    /// Pods lacking a plugin's findings, by plugin.
    unanalysed: BTreeMap<Arc<str>, u64>,
    /// Only kept when asked for ([`Aggregator::listing_objects`]): 100 000 pods need not hold
    /// a list no output of theirs reads.
    list_objects: bool,
    objects: Vec<AnalysedObject>,
}

impl Aggregator {
    /// An aggregator whose report lists every analysed object ([`Report::objects`]), as JUnit
    /// needs.
    pub fn listing_objects() -> Self {
        Aggregator {
            list_objects: true,
            ..Aggregator::default()
        }
    }

    pub(crate) fn add_pod(&mut self, result: PodResult) {
        self.exempted_findings += result.exempted_findings;
        if result.exempt {
            self.exempted_pods += 1;
            return;
        }
        let namespace = match self.namespaces.get_mut(&result.namespace) {
            Some(tally) => tally,
            None => self.namespaces.entry(result.namespace.clone()).or_default(),
        };
        namespace.pods += 1;
        self.cluster.pods += 1;
        if self.list_objects {
            self.objects.extend(result.object);
        }
        for plugin in result.unanalysed_by {
            *self.unanalysed.entry(plugin).or_default() += 1;
        }
        for finding in &result.findings {
            namespace.add_finding(&finding.check, finding.weight, finding.magnitude);
            self.cluster
                .add_finding(&finding.check, finding.weight, finding.magnitude);
        }
        self.findings.extend(result.findings);
        self.diagnostics.extend(result.diagnostics);
    }

    pub fn add_input_error(&mut self, error: InputError) {
        self.input_errors += 1;
        self.diagnostics.push(Diagnostic {
            kind: DiagnosticKind::Input,
            plugin: None,
            pod: None,
            location: Some(error.location),
            message: error.reason,
        });
    }

    pub fn add_input_warning(&mut self, warning: InputError) {
        self.diagnostics.push(Diagnostic {
            kind: DiagnosticKind::InputWarning,
            plugin: None,
            pod: None,
            location: Some(warning.location),
            message: warning.reason,
        });
    }

    pub(crate) fn add_skipped(&mut self, kind: String) {
        *self.skipped.entry(kind).or_default() += 1;
    }

    /// Input documents that could not be read so far.
    pub fn input_errors(&self) -> usize {
        self.input_errors
    }

    pub fn finish(mut self, catalog: &Catalog) -> Report {
        for (kind, count) in std::mem::take(&mut self.skipped) {
            let message = if kind.is_empty() {
                format!("skipped {count} document(s) without a kind: not Kubernetes objects")
            } else {
                format!(
                    "skipped {count} {kind} object(s): not a pod or a workload with a pod template"
                )
            };
            self.diagnostics.push(Diagnostic {
                kind: DiagnosticKind::Skipped,
                plugin: None,
                pod: None,
                location: None,
                message,
            });
        }
        let mut checks: BTreeMap<String, u64> = catalog
            .plugins
            .iter()
            .flat_map(|plugin| plugin.checks.iter().filter(|rule| rule.enabled))
            .map(|rule| (rule.id.to_string(), 0))
            .collect();
        checks.extend(
            self.cluster
                .checks
                .iter()
                .map(|(check, total)| (check.clone(), *total)),
        );
        let score = self.cluster.score();
        let summary = Summary {
            pods_analyzed: self.cluster.pods,
            latest_tag: self.cluster.check(LATEST_TAG),
            missing_liveness: self.cluster.check(MISSING_LIVENESS),
            missing_readiness: self.cluster.check(MISSING_READINESS),
            restart_severity: self.cluster.check(HIGH_RESTARTS),
            pending: self.cluster.check(PENDING),
            health_score: score,
            status: status(score),
            exempted_pods: self.exempted_pods,
            exempted_findings: self.exempted_findings,
            checks,
        };
        let namespaces = self
            .namespaces
            .into_iter()
            .map(|(namespace, tally)| NamespaceSummary {
                namespace,
                pods_analyzed: tally.pods,
                health_score: tally.score(),
                status: status(tally.score()),
            })
            .collect();
        let mut findings = self.findings;
        // Worst first: severity, then score impact. The sort is stable, so ties keep input
        // order, which the aggregator receives deterministically.
        findings.sort_by(|a, b| {
            let impact = |f: &FindingRow| u64::from(f.weight) * u64::from(f.magnitude);
            b.severity
                .rank()
                .cmp(&a.severity.rank())
                .then(impact(b).cmp(&impact(a)))
        });
        let incomplete: Vec<Incomplete> = self
            .unanalysed
            .into_iter()
            .map(|(plugin, pods)| Incomplete {
                plugin: plugin.to_string(),
                pods,
            })
            .collect();
        Report {
            summary,
            complete: incomplete.is_empty(),
            incomplete,
            namespaces,
            findings,
            diagnostics: self.diagnostics,
            objects: self.objects,
        }
    }
}
