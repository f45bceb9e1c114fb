//! `analyze -o junit`: JUnit XML, which CI systems (GitLab, Jenkins, Azure Pipelines, GitHub
//! test-report actions) show as test results.
//!
//! A test suite per namespace; in it a test case per object and enabled check (`classname`
//! `namespace/Kind/name`, `name` the check id). A check's findings on the object fail its test
//! case when they reach `--fail-on` (every finding does without a gate), all of them in one
//! `<failure>`; findings below the gate leave it passing and are listed in `<system-out>`. A
//! plugin that failed on the object makes its checks' test cases errors; a status check on a
//! workload's pod template (which has no status) is skipped.
//!
//! Every analysed object is listed, findings or not ([`Report::objects`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::cli::Exit;
use kube_devops_engine::analysis::report::{DiagnosticKind, FindingRow};
use kube_devops_engine::analysis::{Catalog, Report};
use kube_devops_engine::contract::{CheckKind, Severity};

pub fn print(report: &Report, catalog: &Catalog, fail_on: Option<Severity>) -> Exit {
    let mut stdout = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let written = write(&mut stdout, report, catalog, fail_on).and_then(|()| stdout.flush());
    super::sarif::exit_of(written)
}

/// One enabled check of the catalog.
struct Check<'a> {
    id: &'a str,
    plugin: &'a str,
    kind: CheckKind,
}

/// An object of the report, and what happened to it check by check.
#[derive(Default)]
struct Object<'a> {
    findings: BTreeMap<&'a str, Vec<&'a FindingRow>>,
    /// Plugins that failed on the object, with their messages.
    failed: BTreeMap<&'a str, Vec<&'a str>>,
    /// Whether it has a status, when the report lists it.
    has_status: Option<bool>,
}

/// Counts of one suite or of the whole document.
#[derive(Default, Clone, Copy)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

impl Counts {
    fn add(&mut self, other: Self) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
    }
}

/// What a test case comes to.
enum Verdict<'a> {
    Passed { below_gate: Vec<&'a FindingRow> },
    Failed(Vec<&'a FindingRow>, Vec<&'a FindingRow>),
    Error(&'a [&'a str]),
    Skipped,
}

pub fn write(
    out: &mut impl Write,
    report: &Report,
    catalog: &Catalog,
    fail_on: Option<Severity>,
) -> io::Result<()> {
    let checks: Vec<Check<'_>> = catalog
        .plugins
        .iter()
        .flat_map(|plugin| {
            plugin
                .checks
                .iter()
                .filter(|rule| rule.enabled)
                .map(|rule| Check {
                    id: &rule.id,
                    plugin: plugin.name(),
                    kind: rule.kind,
                })
        })
        .collect();
    // namespace → (kind, name) → object; sorted, so the document does not depend on the
    // findings' order.
    let mut namespaces: BTreeMap<&str, BTreeMap<(&str, &str), Object<'_>>> = report
        .namespaces
        .iter()
        .map(|namespace| (namespace.namespace.as_str(), BTreeMap::new()))
        .collect();
    // Every analysed object, findings or not.
    for object in &report.objects {
        namespaces
            .entry(&object.namespace)
            .or_default()
            .entry((&object.kind, &object.name))
            .or_default()
            .has_status = Some(object.has_status);
    }
    for finding in &report.findings {
        namespaces
            .entry(&finding.namespace)
            .or_default()
            .entry((&finding.kind, &finding.pod))
            .or_default()
            .findings
            .entry(&finding.check)
            .or_default()
            .push(finding);
    }
    for diagnostic in &report.diagnostics {
        let (DiagnosticKind::Plugin, Some(plugin), Some(key)) = (
            diagnostic.kind,
            diagnostic.plugin.as_deref(),
            diagnostic.pod.as_deref(),
        ) else {
            continue;
        };
        if !diagnostic.message.contains(" failed on pod ") {
            continue;
        }
        let Some((namespace, name)) = key.split_once('/') else {
            continue;
        };
        let objects = namespaces.entry(namespace).or_default();
        // The diagnostic names no kind: the object of that name, a pod if there is none.
        let kind = objects
            .keys()
            .find(|(_, other)| *other == name)
            .map_or("Pod", |(kind, _)| kind);
        objects
            .entry((kind, name))
            .or_default()
            .failed
            .entry(plugin)
            .or_default()
            .push(&diagnostic.message);
    }

    // The root element carries the totals: counted first, then each suite is written as it is
    // built, so a large run is held one namespace at a time.
    let mut total = Counts::default();
    for objects in namespaces.values() {
        total.add(suite_counts(objects, &checks, fail_on));
    }
    write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"kube-devops\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"0\">\n",
        total.tests, total.failures, total.errors, total.skipped
    )?;
    for (namespace, objects) in &namespaces {
        let counts = suite_counts(objects, &checks, fail_on);
        let mut suite = String::new();
        let _ = write!(
            suite,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"0\">\n    <properties>\n",
            attribute(namespace),
            counts.tests,
            counts.failures,
            counts.errors,
            counts.skipped
        );
        if let Some(summary) = report
            .namespaces
            .iter()
            .find(|summary| summary.namespace == *namespace)
        {
            let properties = [
                ("pods-analyzed", summary.pods_analyzed.to_string()),
                ("pods-listed", objects.len().to_string()),
                ("health-score", summary.health_score.to_string()),
                ("status", summary.status.to_owned()),
            ];
            for (name, value) in properties {
                let _ = writeln!(
                    suite,
                    "      <property name=\"{name}\" value=\"{}\"/>",
                    attribute(&value)
                );
            }
        }
        let _ = writeln!(
            suite,
            "      <property name=\"fail-on\" value=\"{}\"/>\n    </properties>",
            fail_on.map_or("any finding", Severity::as_str)
        );
        for ((kind, name), object) in objects {
            let classname = format!("{namespace}/{kind}/{name}");
            for check in &checks {
                let verdict = verdict(check, kind, object, fail_on);
                test_case(&mut suite, &classname, check, &verdict, fail_on);
            }
        }
        suite.push_str("  </testsuite>\n");
        out.write_all(suite.as_bytes())?;
    }
    out.write_all(b"</testsuites>\n")
}

fn suite_counts(
    objects: &BTreeMap<(&str, &str), Object<'_>>,
    checks: &[Check<'_>],
    fail_on: Option<Severity>,
) -> Counts {
    let mut counts = Counts::default();
    for ((kind, _), object) in objects {
        for check in checks {
            counts.tests += 1;
            match verdict(check, kind, object, fail_on) {
                Verdict::Failed(..) => counts.failures += 1,
                Verdict::Error(_) => counts.errors += 1,
                Verdict::Skipped => counts.skipped += 1,
                Verdict::Passed { .. } => {}
            }
        }
    }
    counts
}

fn verdict<'a>(
    check: &Check<'_>,
    kind: &str,
    object: &'a Object<'a>,
    fail_on: Option<Severity>,
) -> Verdict<'a> {
    if let Some(messages) = object.failed.get(check.plugin) {
        return Verdict::Error(messages);
    }
    let findings = object.findings.get(check.id).map_or(&[][..], Vec::as_slice);
    let has_status = object.has_status.unwrap_or(kind == "Pod");
    if findings.is_empty() && check.kind == CheckKind::Status && !has_status {
        // A workload's pod template (or a pod written without one) has no status: the check
        // was not run.
        return Verdict::Skipped;
    }
    let (failing, below): (Vec<&FindingRow>, Vec<&FindingRow>) = findings
        .iter()
        .partition(|finding| fail_on.is_none_or(|gate| finding.severity.rank() >= gate.rank()));
    if failing.is_empty() {
        Verdict::Passed { below_gate: below }
    } else {
        Verdict::Failed(failing, below)
    }
}

fn test_case(
    out: &mut String,
    classname: &str,
    check: &Check<'_>,
    verdict: &Verdict<'_>,
    fail_on: Option<Severity>,
) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
        attribute(classname),
        attribute(check.id)
    );
    match verdict {
        Verdict::Passed { below_gate } if below_gate.is_empty() => out.push_str("/>\n"),
        Verdict::Passed { below_gate } => {
            out.push_str(">\n");
            let gate = fail_on.map_or("", Severity::as_str);
            system_out(
                out,
                &format!("below --fail-on {gate}:\n{}", listing(below_gate)),
            );
            out.push_str("    </testcase>\n");
        }
        Verdict::Failed(failing, below) => {
            let worst = failing
                .iter()
                .map(|finding| finding.severity)
                .max_by_key(|severity| severity.rank())
                .unwrap_or(Severity::Low);
            let message = match failing.as_slice() {
                [one] => one.message.clone(),
                [first, rest @ ..] => format!("{} (and {} more)", first.message, rest.len()),
                [] => String::new(),
            };
            let _ = write!(
                out,
                ">\n      <failure message=\"{}\" type=\"{worst}\">{}</failure>\n",
                attribute(&message),
                text(&listing(failing))
            );
            if !below.is_empty() {
                let gate = fail_on.map_or("", Severity::as_str);
                system_out(out, &format!("below --fail-on {gate}:\n{}", listing(below)));
            }
            out.push_str("    </testcase>\n");
        }
        Verdict::Error(messages) => {
            let _ = write!(
                out,
                ">\n      <error message=\"{}\" type=\"plugin-failure\">{}</error>\n    </testcase>\n",
                attribute(messages.first().copied().unwrap_or_default()),
                text(&messages.join("\n"))
            );
        }
        Verdict::Skipped => out.push_str(
            ">\n      <skipped message=\"a status check; a pod template has no status\"/>\n    </testcase>\n",
        ),
    }
}

fn system_out(out: &mut String, body: &str) {
    let _ = writeln!(out, "      <system-out>{}</system-out>", text(body));
}

/// One line per finding: severity, container, message.
fn listing(findings: &[&FindingRow]) -> String {
    let mut lines = String::new();
    for finding in findings {
        let _ = write!(lines, "[{}] ", finding.severity);
        if let Some(container) = &finding.container {
            let _ = write!(lines, "container {container}: ");
        }
        lines.push_str(&finding.message);
        if let Some(source) = &finding.source {
            let line = source.container_line.unwrap_or(source.line);
            let _ = write!(lines, " ({}:{line})", source.file);
        }
        lines.push('\n');
    }
    lines
}

/// Character data, escaped, without the characters XML 1.0 forbids.
fn text(value: &str) -> String {
    escape(value, false)
}

/// An attribute value, escaped; line breaks and tabs as references, so parsers keep them.
fn attribute(value: &str) -> String {
    escape(value, true)
}

fn escape(value: &str, attribute: bool) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' if attribute => escaped.push_str("&quot;"),
            '\n' if attribute => escaped.push_str("&#10;"),
            '\r' => escaped.push_str("&#13;"),
            '\t' if attribute => escaped.push_str("&#9;"),
            '\t' | '\n' => escaped.push(c),
            // XML 1.0 allows no other control character, not even as a reference, nor
            // U+FFFE and U+FFFF.
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => escaped.push('\u{FFFD}'),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_replaces_forbidden_characters() {
        assert_eq!(
            attribute("a<&\"]]>\n\u{1}\u{FFFF}"),
            "a&lt;&amp;&quot;]]&gt;&#10;\u{FFFD}\u{FFFD}"
        );
        assert_eq!(text("x\ty\n\u{0}]]>"), "x\ty\n\u{FFFD}]]&gt;");
    }
}
