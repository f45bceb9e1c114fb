//! The HTML page: one view model ([`Page`]), built from a [`Report`] (`analyze -o html`) or from
//! the operator's state (its dashboard), and one renderer for both. The page is server-rendered
//! and reads without JavaScript; a small script only filters the findings table and, live,
//! polls for changes. Every name, message and label comes from pods, files or plugins, so all
//! of it is escaped; nothing is fetched from the network (no font, no image, no CDN), which a
//! Content-Security-Policy of `default-src 'none'` makes the browser enforce.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::{Arc, LazyLock};

use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cli::Exit;
use kube_devops_engine::analysis::report::{
    FindingRow, HIGH_RESTARTS, Incomplete, LATEST_TAG, MISSING_LIVENESS, MISSING_READINESS,
    NamespaceSummary, PENDING, Summary,
};
use kube_devops_engine::analysis::{Catalog, Report};
use kube_devops_engine::contract::Severity;

/// The stylesheet, inline in the file and served at `/dashboard.css` live.
pub const CSS: &str = include_str!("html/page.css");
/// The filters and the live poll, inline in the file and served at `/dashboard.js` live.
pub const JS: &str = include_str!("html/page.js");

/// Findings rows a static page lists (worst first); the counts above the table cover all.
const MAX_ROWS: usize = 10_000;
/// Namespaces the bar chart draws (lowest scores first); the table lists all.
const MAX_BARS: usize = 60;

/// What the page shows, as the dashboard's JSON endpoint serves it too.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub title: String,
    /// When it was built (RFC 3339), for the dashboard; a report file leaves it out so the same
    /// input gives the same file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
    /// Changes whenever the content does: the live page re-reads itself when it moves.
    pub generation: u64,
    /// The figures of the text report's "DevOps Governance Summary".
    pub summary: Summary,
    /// Whether every pod got every plugin's findings; unknown (absent) on the dashboard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub incomplete: Vec<Incomplete>,
    pub namespaces: Vec<NamespaceSummary>,
    /// Findings per severity, most severe first, zeros included.
    pub by_severity: Vec<Count>,
    /// Findings per check, by check id.
    pub by_check: Vec<Count>,
    /// Every finding; `findings` may list fewer (the worst).
    pub findings_total: u64,
    /// Worst first.
    pub findings: Vec<Finding>,
    /// The cluster score over time, oldest first; empty for a report file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Sample>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub name: String,
    pub findings: u64,
}

/// One row of the findings table.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub severity: &'static str,
    pub namespace: Arc<str>,
    pub kind: Arc<str>,
    pub name: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub check: Arc<str>,
    pub message: String,
    /// `file:line` when the finding comes from a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl From<&FindingRow> for Finding {
    fn from(row: &FindingRow) -> Self {
        Finding {
            severity: row.severity.as_str(),
            namespace: row.namespace.clone(),
            kind: row.kind.clone(),
            name: row.pod.clone(),
            container: row.container.clone(),
            check: row.check.clone(),
            message: row.message.clone(),
            location: row.source.as_ref().map(|source| {
                format!(
                    "{}:{}",
                    source.file,
                    source.container_line.unwrap_or(source.line)
                )
            }),
        }
    }
}

/// One point of the cluster score's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Unix seconds.
    pub at: i64,
    pub score: u8,
}

/// Severity counts, most severe first, from per-severity counts in [`Severity::ALL`] order.
pub fn severity_counts(by_rank: [u64; 4]) -> Vec<Count> {
    Severity::ALL
        .iter()
        .rev()
        .map(|severity| Count {
            name: severity.as_str().to_owned(),
            findings: by_rank[usize::from(severity.rank())],
        })
        .collect()
}

impl Page {
    /// The page of an analysis run.
    pub fn from_report(report: &Report) -> Page {
        let mut by_rank = [0u64; 4];
        let mut by_check: BTreeMap<&str, u64> = BTreeMap::new();
        for finding in &report.findings {
            by_rank[usize::from(finding.severity.rank())] += 1;
            *by_check.entry(&finding.check).or_default() += 1;
        }
        let summary = &report.summary;
        Page {
            title: "kube-devops governance report".to_owned(),
            generated: None,
            generation: 0,
            summary: Summary {
                checks: summary.checks.clone(),
                ..*summary
            },
            complete: Some(report.complete),
            incomplete: report.incomplete.clone(),
            namespaces: report
                .namespaces
                .iter()
                .map(|namespace| NamespaceSummary {
                    namespace: namespace.namespace.clone(),
                    ..*namespace
                })
                .collect(),
            by_severity: severity_counts(by_rank),
            by_check: by_check
                .into_iter()
                .map(|(name, findings)| Count {
                    name: name.to_owned(),
                    findings,
                })
                .collect(),
            findings_total: report.findings.len() as u64,
            findings: report
                .findings
                .iter()
                .take(MAX_ROWS)
                .map(Finding::from)
                .collect(),
            history: Vec::new(),
        }
    }
}

/// How the page reaches the browser, which decides where its style and script live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// One file: style and script inline, allowed by hash in a CSP `<meta>`.
    File,
    /// Served by the operator: style and script from the same origin (`/dashboard.css`,
    /// `/dashboard.js`), allowed by the CSP header; the page polls for changes.
    Live,
}

/// `'sha256-…'` of an inline element's text, as CSP matches it.
fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The CSP of a report file: nothing from the network, only its own style and script.
pub static FILE_CSP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        csp_hash(JS),
        csp_hash(CSS)
    )
});

/// The CSP header of the dashboard: its own style, script and JSON, nothing else.
pub const LIVE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Text safe in HTML content and in quoted attribute values.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

fn esc(text: &str) -> Escaped<'_> {
    Escaped(text)
}

/// The CSS class of a status name (`Healthy` → `healthy`); anything unknown gets none.
fn status_class(status: &str) -> &'static str {
    match status {
        "Healthy" => "healthy",
        "Stable" => "stable",
        "Degraded" => "degraded",
        "Critical" => "critical",
        _ => "unknown",
    }
}

/// `text`, cut to `max` characters with an ellipsis: for labels in a fixed-width chart.
fn clipped(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

impl Page {
    /// The whole document.
    pub fn render(&self, delivery: Delivery) -> String {
        let mut out = String::with_capacity(16 * 1024 + self.findings.len() * 400);
        // Writing to a String cannot fail.
        let _ = self.write(&mut out, delivery);
        out
    }

    fn write(&self, out: &mut String, delivery: Delivery) -> fmt::Result {
        writeln!(out, "<!doctype html>\n<html lang=\"en\">\n<head>")?;
        writeln!(out, "<meta charset=\"utf-8\">")?;
        if delivery == Delivery::File {
            writeln!(
                out,
                "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
                esc(&FILE_CSP)
            )?;
        }
        writeln!(
            out,
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        )?;
        writeln!(out, "<meta name=\"referrer\" content=\"no-referrer\">")?;
        writeln!(out, "<title>{}</title>", esc(&self.title))?;
        match delivery {
            Delivery::File => writeln!(out, "<style>{CSS}</style>")?,
            Delivery::Live => writeln!(out, "<link rel=\"stylesheet\" href=\"dashboard.css\">")?,
        }
        writeln!(out, "</head>")?;
        writeln!(out, "<body data-live=\"{}\">", delivery == Delivery::Live)?;
        if delivery == Delivery::Live {
            writeln!(
                out,
                "<p id=\"live\" class=\"meta\" role=\"status\">Live: updates every 2 s</p>"
            )?;
        }
        writeln!(
            out,
            "<main id=\"page\" data-generation=\"{}\">",
            self.generation
        )?;
        writeln!(out, "<h1>{}</h1>", esc(&self.title))?;
        if let Some(generated) = &self.generated {
            writeln!(out, "<p class=\"meta\">As of {}</p>", esc(generated))?;
        }
        self.write_incomplete(out)?;
        writeln!(out, "<div class=\"grid\">")?;
        self.write_summary(out)?;
        self.write_score(out)?;
        writeln!(out, "</div>")?;
        self.write_namespaces(out)?;
        if !self.history.is_empty() {
            self.write_history(out)?;
        }
        writeln!(out, "<div class=\"grid\">")?;
        write_counts(
            out,
            "by-severity",
            "Findings by severity",
            "Severity",
            &self.by_severity,
        )?;
        write_counts(
            out,
            "by-check",
            "Findings by check",
            "Check",
            &self.by_check,
        )?;
        writeln!(out, "</div>")?;
        self.write_findings(out)?;
        writeln!(out, "</main>")?;
        match delivery {
            Delivery::File => writeln!(out, "<script>{JS}</script>")?,
            Delivery::Live => writeln!(out, "<script src=\"dashboard.js\"></script>")?,
        }
        writeln!(out, "</body>\n</html>")
    }

    fn write_incomplete(&self, out: &mut String) -> fmt::Result {
        for gap in &self.incomplete {
            writeln!(
                out,
                "<p class=\"warning\">INCOMPLETE: {} pod(s) not fully analysed: plugin <code>{}</code> failed on them</p>",
                gap.pods,
                esc(&gap.plugin)
            )?;
        }
        Ok(())
    }

    fn write_summary(&self, out: &mut String) -> fmt::Result {
        let summary = &self.summary;
        writeln!(
            out,
            "<section id=\"summary\"><h2>DevOps Governance Summary</h2>"
        )?;
        writeln!(out, "<table class=\"summary\"><tbody>")?;
        let rows: [(&str, &str, String); 8] = [
            (
                "pods-analyzed",
                "Workload Pods Analyzed",
                summary.pods_analyzed.to_string(),
            ),
            (
                "latest-tag",
                "Images using :latest",
                summary.latest_tag.to_string(),
            ),
            (
                "missing-liveness",
                "Missing liveness probes",
                summary.missing_liveness.to_string(),
            ),
            (
                "missing-readiness",
                "Missing readiness probes",
                summary.missing_readiness.to_string(),
            ),
            (
                "restart-severity",
                "Restart severity score",
                summary.restart_severity.to_string(),
            ),
            ("pending", "Pending pods", summary.pending.to_string()),
            (
                "health-score",
                "Cluster Health Score",
                summary.health_score.to_string(),
            ),
            ("status", "Cluster Status", summary.status.to_owned()),
        ];
        for (id, label, value) in rows {
            writeln!(
                out,
                "<tr data-figure=\"{id}\"><td>{label}</td><td class=\"num\">{}</td></tr>",
                esc(&value)
            )?;
        }
        if summary.exempted_pods + summary.exempted_findings > 0 {
            writeln!(
                out,
                "<tr data-figure=\"exempted\"><td>Exempted by annotation</td><td class=\"num\">{} pod(s), {} finding(s)</td></tr>",
                summary.exempted_pods, summary.exempted_findings
            )?;
        }
        let fixed = [
            LATEST_TAG,
            MISSING_LIVENESS,
            MISSING_READINESS,
            HIGH_RESTARTS,
            PENDING,
        ];
        for (check, total) in &summary.checks {
            if !fixed.contains(&check.as_str()) {
                writeln!(
                    out,
                    "<tr data-check-total=\"{0}\"><td>{0}</td><td class=\"num\">{total}</td></tr>",
                    esc(check)
                )?;
            }
        }
        writeln!(out, "</tbody></table></section>")
    }

    fn write_score(&self, out: &mut String) -> fmt::Result {
        let summary = &self.summary;
        writeln!(
            out,
            "<section id=\"cluster\"><h2>Cluster score</h2><p class=\"score status-{}\"><span class=\"value\" data-score>{}</span><span class=\"status\" data-status>{}</span></p>",
            status_class(summary.status),
            summary.health_score,
            esc(summary.status)
        )?;
        writeln!(
            out,
            "<p class=\"note\">{} pod(s) in {} namespace(s); {} finding(s). Score: 100 − Σ weight × magnitude per pod, capped; 80–100 Healthy, 60–79 Stable, 40–59 Degraded, 0–39 Critical.</p></section>",
            summary.pods_analyzed,
            self.namespaces.len(),
            self.findings_total
        )
    }

    fn write_namespaces(&self, out: &mut String) -> fmt::Result {
        writeln!(
            out,
            "<section id=\"namespaces\"><h2>Scores by namespace</h2>"
        )?;
        if self.namespaces.is_empty() {
            return writeln!(out, "<p>No pods analysed.</p></section>");
        }
        // The chart: lowest scores first, as those need looking at.
        let mut charted: Vec<&NamespaceSummary> = self.namespaces.iter().collect();
        charted.sort_by(|a, b| {
            a.health_score
                .cmp(&b.health_score)
                .then_with(|| a.namespace.cmp(&b.namespace))
        });
        charted.truncate(MAX_BARS);
        let (label_width, bar_width, row) = (220, 400, 22);
        let height = charted.len() * row + 24;
        writeln!(
            out,
            "<svg class=\"bars\" role=\"img\" aria-label=\"Health score per namespace\" viewBox=\"0 0 {w} {height}\" width=\"100%\" preserveAspectRatio=\"xMinYMin meet\">",
            w = label_width + bar_width + 140
        )?;
        for (index, namespace) in charted.iter().enumerate() {
            let y = index * row;
            let width = usize::from(namespace.health_score) * bar_width / 100;
            writeln!(
                out,
                "<g><title>{name}: {score} ({status})</title><text x=\"0\" y=\"{ty}\">{label}</text><rect class=\"bar-{class}\" x=\"{label_width}\" y=\"{y1}\" width=\"{width}\" height=\"{h}\"></rect><text x=\"{tx}\" y=\"{ty}\">{score} {status}</text></g>",
                name = esc(&namespace.namespace),
                label = esc(&clipped(&namespace.namespace, 30)),
                score = namespace.health_score,
                status = esc(namespace.status),
                class = status_class(namespace.status),
                ty = y + 15,
                y1 = y + 3,
                h = row - 6,
                tx = label_width + width + 6,
            )?;
        }
        let axis_y = charted.len() * row + 4;
        writeln!(
            out,
            "<line class=\"axis\" x1=\"{label_width}\" y1=\"{axis_y}\" x2=\"{x2}\" y2=\"{axis_y}\"></line><text x=\"{label_width}\" y=\"{ty}\">0</text><text x=\"{x100}\" y=\"{ty}\">100</text></svg>",
            x2 = label_width + bar_width,
            ty = axis_y + 16,
            x100 = label_width + bar_width - 20,
        )?;
        if charted.len() < self.namespaces.len() {
            writeln!(
                out,
                "<p class=\"note\">The chart shows the {} lowest of {} namespaces; the table lists all.</p>",
                charted.len(),
                self.namespaces.len()
            )?;
        }
        writeln!(
            out,
            "<table id=\"namespace-table\"><thead><tr><th>Namespace</th><th class=\"num\">Pods</th><th class=\"num\">Score</th><th>Status</th></tr></thead><tbody>"
        )?;
        for namespace in &self.namespaces {
            writeln!(
                out,
                "<tr data-namespace=\"{name}\"><td>{name}</td><td class=\"num\">{pods}</td><td class=\"num\">{score}</td><td class=\"status-{class}\">{status}</td></tr>",
                name = esc(&namespace.namespace),
                pods = namespace.pods_analyzed,
                score = namespace.health_score,
                class = status_class(namespace.status),
                status = esc(namespace.status),
            )?;
        }
        writeln!(out, "</tbody></table></section>")
    }

    fn write_history(&self, out: &mut String) -> fmt::Result {
        let (width, height, left) = (600i64, 120i64, 30i64);
        let last = self.history.last().map_or(0, |sample| sample.at);
        let span = 3600i64;
        let x = |at: i64| left + (span - (last - at).clamp(0, span)) * (width - left) / span;
        let y = |score: u8| 10 + (100 - i64::from(score)) * (height - 20) / 100;
        writeln!(
            out,
            "<section id=\"history\"><h2>Cluster score, last hour</h2><svg role=\"img\" aria-label=\"Cluster score over the last hour\" viewBox=\"0 0 {width} {height}\" width=\"100%\" preserveAspectRatio=\"xMinYMin meet\">"
        )?;
        writeln!(
            out,
            "<line class=\"axis\" x1=\"{left}\" y1=\"{y0}\" x2=\"{width}\" y2=\"{y0}\"></line><line class=\"axis\" x1=\"{left}\" y1=\"{y100}\" x2=\"{width}\" y2=\"{y100}\"></line><text x=\"0\" y=\"{t100}\">100</text><text x=\"0\" y=\"{t0}\">0</text>",
            y0 = y(0),
            y100 = y(100),
            t100 = y(100) + 4,
            t0 = y(0) + 4,
        )?;
        let points: Vec<String> = self
            .history
            .iter()
            .map(|sample| format!("{},{}", x(sample.at), y(sample.score)))
            .collect();
        writeln!(
            out,
            "<polyline class=\"line\" points=\"{}\"></polyline>",
            points.join(" ")
        )?;
        if let Some(sample) = self.history.last() {
            writeln!(
                out,
                "<circle class=\"point\" cx=\"{}\" cy=\"{}\" r=\"3\"><title>now: {}</title></circle>",
                x(sample.at),
                y(sample.score),
                sample.score
            )?;
        }
        let lowest = self.history.iter().map(|s| s.score).min().unwrap_or(0);
        let highest = self.history.iter().map(|s| s.score).max().unwrap_or(0);
        writeln!(
            out,
            "</svg><p class=\"note\">{} sample(s), one every 10 s; lowest {lowest}, highest {highest}.</p></section>",
            self.history.len()
        )
    }

    fn write_findings(&self, out: &mut String) -> fmt::Result {
        writeln!(out, "<section id=\"findings\"><h2>Findings</h2>")?;
        if self.findings.is_empty() {
            return writeln!(out, "<p>No findings.</p></section>");
        }
        if (self.findings.len() as u64) < self.findings_total {
            writeln!(
                out,
                "<p class=\"note\">The {} worst of {} findings are listed; the counts above cover all of them.</p>",
                self.findings.len(),
                self.findings_total
            )?;
        }
        // The choices: what the listed rows hold.
        let mut namespaces: Vec<&str> = self.findings.iter().map(|f| &*f.namespace).collect();
        let mut checks: Vec<&str> = self.findings.iter().map(|f| &*f.check).collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        checks.sort_unstable();
        checks.dedup();
        let severities: Vec<&str> = Severity::ALL
            .iter()
            .rev()
            .map(|s| s.as_str())
            .filter(|s| self.findings.iter().any(|f| f.severity == *s))
            .collect();
        writeln!(out, "<div id=\"filters\" class=\"filters\" hidden>")?;
        for (name, label, values) in [
            ("namespace", "Namespace", &namespaces),
            ("severity", "Severity", &severities),
            ("check", "Check", &checks),
        ] {
            write!(
                out,
                "<label>{label}<select name=\"{name}\"><option value=\"\">all</option>"
            )?;
            for value in values {
                // An explicit value: an option's text would be read with its spaces collapsed.
                write!(out, "<option value=\"{0}\">{0}</option>", esc(value))?;
            }
            writeln!(out, "</select></label>")?;
        }
        writeln!(out, "</div>")?;
        writeln!(
            out,
            "<noscript><p class=\"note\">Filtering needs JavaScript; every listed finding is shown.</p></noscript>"
        )?;
        writeln!(
            out,
            "<p id=\"shown\" class=\"note\">{} finding(s)</p>",
            self.findings.len()
        )?;
        // Findings from the cluster have no file: no empty column for them.
        let located = self.findings.iter().any(|f| f.location.is_some());
        writeln!(
            out,
            "<table id=\"findings-table\" class=\"findings\"><thead><tr><th>Severity</th><th>Namespace</th><th>Object</th><th>Container</th><th>Check</th><th>Message</th>{}</tr></thead><tbody>",
            if located { "<th>Where</th>" } else { "" }
        )?;
        for finding in &self.findings {
            writeln!(
                out,
                "<tr data-namespace=\"{namespace}\" data-severity=\"{severity}\" data-check=\"{check}\"><td class=\"sev sev-{severity}\">{severity}</td><td>{namespace}</td><td>{kind}/{name}</td><td>{container}</td><td>{check}</td><td class=\"message\">{message}</td>{location}</tr>",
                namespace = esc(&finding.namespace),
                severity = esc(finding.severity),
                check = esc(&finding.check),
                kind = esc(&finding.kind),
                name = esc(&finding.name),
                container = esc(finding.container.as_deref().unwrap_or("")),
                message = esc(&finding.message),
                location = match (&finding.location, located) {
                    (Some(location), _) => format!("<td class=\"where\">{}</td>", esc(location)),
                    (None, true) => "<td class=\"where\"></td>".to_owned(),
                    (None, false) => String::new(),
                },
            )?;
        }
        writeln!(out, "</tbody></table></section>")
    }
}

fn write_counts(
    out: &mut String,
    id: &str,
    title: &str,
    column: &str,
    counts: &[Count],
) -> fmt::Result {
    writeln!(
        out,
        "<section id=\"{id}\"><h2>{title}</h2><table><thead><tr><th>{column}</th><th class=\"num\">Findings</th></tr></thead><tbody>"
    )?;
    if counts.is_empty() {
        writeln!(out, "<tr><td colspan=\"2\">none</td></tr>")?;
    }
    for count in counts {
        writeln!(
            out,
            "<tr data-count=\"{name}\"><td>{name}</td><td class=\"num\">{}</td></tr>",
            count.findings,
            name = esc(&count.name)
        )?;
    }
    writeln!(out, "</tbody></table></section>")
}

/// `analyze -o html`: the report as one self-contained page on stdout.
pub fn print(report: &Report, _catalog: &Catalog) -> Exit {
    use std::io::Write as _;
    let page = Page::from_report(report).render(Delivery::File);
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(page.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("error: cannot write output: {error}");
            Exit::Usage
        }
        _ => Exit::Success,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x') & \"y\"</script>").to_string(),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(esc("plain").to_string(), "plain");
    }

    #[test]
    fn the_file_csp_allows_exactly_the_inline_style_and_script() {
        assert!(FILE_CSP.starts_with("default-src 'none';"));
        assert!(FILE_CSP.contains(&csp_hash(JS)));
        assert!(FILE_CSP.contains(&csp_hash(CSS)));
        assert!(!FILE_CSP.contains("unsafe-inline"));
    }

    #[test]
    fn long_labels_are_clipped_by_characters() {
        assert_eq!(clipped("abcdef", 4), "abc…");
        assert_eq!(clipped("äöü", 3), "äöü");
    }
}
