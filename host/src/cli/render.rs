//! The text report: the governance summary block, custom checks, namespace scores, findings
//! worst first, and diagnostics.

use std::fmt;

use kube_devops_engine::analysis::report::{
    DiagnosticKind, HIGH_RESTARTS, LATEST_TAG, MISSING_LIVENESS, MISSING_READINESS, PENDING, Report,
};

/// Displays a [`Report`] as text.
pub struct Text<'a>(pub &'a Report);

/// Checks the summary block shows on lines of their own.
const SUMMARY_CHECKS: [&str; 5] = [
    LATEST_TAG,
    MISSING_LIVENESS,
    MISSING_READINESS,
    HIGH_RESTARTS,
    PENDING,
];

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.0;
        let summary = &report.summary;
        writeln!(f, "===== DevOps Governance Summary =====")?;
        line(f, "Workload Pods Analyzed", summary.pods_analyzed)?;
        line(f, "Images using :latest", summary.latest_tag)?;
        line(f, "Missing liveness probes", summary.missing_liveness)?;
        line(f, "Missing readiness probes", summary.missing_readiness)?;
        line(f, "Restart severity score", summary.restart_severity)?;
        line(f, "Pending pods", summary.pending)?;
        writeln!(f, "--------------------------------------")?;
        line(f, "Cluster Health Score", summary.health_score)?;
        line(f, "Cluster Status", summary.status)?;
        writeln!(f, "======================================")?;
        if summary.exempted_pods + summary.exempted_findings > 0 {
            writeln!(
                f,
                "Exempted by annotation: {} pod(s) not analysed, {} finding(s) dropped",
                summary.exempted_pods, summary.exempted_findings
            )?;
        }
        for gap in &report.incomplete {
            writeln!(
                f,
                "INCOMPLETE: {} pod(s) not fully analysed: plugin `{}` failed on them",
                gap.pods, gap.plugin
            )?;
        }

        let others: Vec<_> = summary
            .checks
            .iter()
            .filter(|(check, _)| !SUMMARY_CHECKS.contains(&check.as_str()))
            .collect();
        if !others.is_empty() {
            writeln!(f, "\nOther checks")?;
            for (check, total) in others {
                line(f, check, total)?;
            }
        }

        if !report.namespaces.is_empty() {
            writeln!(f, "\nNamespaces")?;
            writeln!(
                f,
                "  {:<32} {:>6} {:>6}  STATUS",
                "NAMESPACE", "PODS", "SCORE"
            )?;
            for namespace in &report.namespaces {
                writeln!(
                    f,
                    "  {:<32} {:>6} {:>6}  {}",
                    namespace.namespace,
                    namespace.pods_analyzed,
                    namespace.health_score,
                    namespace.status
                )?;
            }
        }

        if report.findings.is_empty() {
            writeln!(f, "\nNo findings.")?;
        } else {
            writeln!(f, "\nFindings (worst first)")?;
            for finding in &report.findings {
                let container = finding
                    .container
                    .as_deref()
                    .map(|c| format!(" [{c}]"))
                    .unwrap_or_default();
                // `path:line` first when known, as compilers and ripgrep print it: editors jump there.
                let location = finding
                    .source
                    .as_ref()
                    .map(|source| {
                        format!(
                            "{}:{}: ",
                            source.file,
                            source.container_line.unwrap_or(source.line)
                        )
                    })
                    .unwrap_or_default();
                writeln!(
                    f,
                    "  {:<8} {location}{} {}/{}{container} {}: {}",
                    finding.severity,
                    finding.namespace,
                    finding.kind,
                    finding.pod,
                    finding.check,
                    finding.message
                )?;
            }
        }

        let notes: Vec<_> = report
            .diagnostics
            .iter()
            // Input errors and warnings went to stderr, with their locations.
            .filter(|d| !matches!(d.kind, DiagnosticKind::Input | DiagnosticKind::InputWarning))
            .collect();
        if !notes.is_empty() {
            writeln!(f, "\nDiagnostics")?;
            for diagnostic in notes {
                writeln!(f, "  {}", diagnostic.message)?;
            }
        }
        Ok(())
    }
}

fn line(f: &mut fmt::Formatter<'_>, label: &str, value: impl fmt::Display) -> fmt::Result {
    writeln!(f, "{label:<27}: {value}")
}
