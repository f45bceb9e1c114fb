//! `analyze -o sarif`: SARIF 2.1.0, the format code scanning (GitHub, Azure DevOps, IDE viewers)
//! reads, so findings show on the pull request at the object's line.
//!
//! One run; a rule per enabled check of the catalog; a result per finding. Findings read from a
//! manifest point at the file (relative to the working directory, under `%SRCROOT%`) and at the
//! line of the object, or of the container entry when the finding names one; every result also
//! names the object as a logical location (`namespace/Kind/name`), which is all a cluster
//! analysis has. The document is written as it is serialised: results are borrowed from the
//! report, never copied into a second tree.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use serde::ser::Serializer;

use crate::cli::Exit;
use kube_devops_engine::analysis::report::{Diagnostic, DiagnosticKind, FindingRow};
use kube_devops_engine::analysis::{Catalog, Report};
use kube_devops_engine::contract::Severity;
use kube_devops_engine::wasm::PluginOrigin;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The base the relative artifact URIs resolve against: the directory `analyze` ran in.
const SRCROOT: &str = "%SRCROOT%";
/// What the manifest reader calls standard input: not a file a viewer could open.
const STDIN: &str = "<stdin>";
/// Where each built-in check is documented; anchors are found in the document itself.
const CHECKS_DOC: &str = include_str!("../../../docs/checks.md");
const CHECKS_DOC_PATH: &str = "blob/main/docs/checks.md";

pub fn print(report: &Report, catalog: &Catalog) -> Exit {
    let root = std::env::current_dir().ok();
    let mut stdout = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut stdout, &log(report, catalog, root.as_deref()))
        .map_err(io::Error::from)
        .and_then(|()| writeln!(stdout))
        .and_then(|()| stdout.flush());
    exit_of(written)
}

/// The exit after writing a report: a closed pipe (`| head`) is a normal end.
pub(super) fn exit_of(written: io::Result<()>) -> Exit {
    match written {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("error: cannot write output: {error}");
            Exit::Usage
        }
        _ => Exit::Success,
    }
}

/// The SARIF log of `report`; relative paths are resolved against `root` (the working directory).
pub fn log<'a>(report: &'a Report, catalog: &'a Catalog, root: Option<&'a Path>) -> Log<'a> {
    let anchors = doc_anchors();
    let repository = env!("CARGO_PKG_REPOSITORY").trim_end_matches('/');
    let mut rules = Vec::new();
    for plugin in &catalog.plugins {
        let builtin = matches!(plugin.plugin.origin, PluginOrigin::Builtin(_));
        for rule in plugin.checks.iter().filter(|rule| rule.enabled) {
            let help_uri = builtin
                .then(|| anchors.get(&*rule.id))
                .flatten()
                .map(|anchor| format!("{repository}/{CHECKS_DOC_PATH}#{anchor}"));
            let mut tags = vec!["kubernetes", plugin.name()];
            if plugin.name() == "pod-security" {
                tags.push("security");
            }
            rules.push(Rule {
                id: &rule.id,
                name: Some(pascal_case(&rule.id))
                    .filter(|name| !name.eq_ignore_ascii_case(&rule.id)),
                short_description: Text {
                    text: rule.description.clone(),
                },
                full_description: Text {
                    text: format!(
                        "{} (plugin `{}` {}; severity {}, weight {} per unit of magnitude).",
                        rule.description.trim_end_matches('.'),
                        plugin.name(),
                        plugin.plugin.metadata.version,
                        rule.severity,
                        rule.weight
                    ),
                },
                help_uri,
                default_configuration: Configuration {
                    level: level(rule.severity),
                },
                properties: RuleProperties {
                    tags,
                    security_severity: security_severity(rule.severity),
                    plugin: plugin.name(),
                    weight: rule.weight,
                },
            });
        }
    }
    let rule_index: HashMap<&str, usize> = rules
        .iter()
        .enumerate()
        .map(|(index, rule)| (rule.id, index))
        .collect();
    let input_errors = report
        .diagnostics
        .iter()
        .any(|diagnostic| diagnostic.kind == DiagnosticKind::Input);
    let root_uri = root.and_then(directory_uri);
    Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "kube-devops",
                    version: env!("CARGO_PKG_VERSION"),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    information_uri: repository,
                    rules,
                },
            },
            invocations: [Invocation {
                execution_successful: report.complete && !input_errors,
                tool_execution_notifications: Notifications(&report.diagnostics),
            }],
            original_uri_base_ids: root_uri.map(|uri| BaseIds {
                src_root: ArtifactLocation {
                    uri,
                    uri_base_id: None,
                },
            }),
            results: Results {
                findings: &report.findings,
                rule_index,
                root,
            },
            column_kind: "unicodeCodePoints",
        }],
    }
}

/// GitHub-style heading anchors of docs/checks.md, by the check ids its tables list under them.
fn doc_anchors() -> HashMap<&'static str, String> {
    let mut anchors = HashMap::new();
    let mut heading = None;
    for line in CHECKS_DOC.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            heading = Some(anchor(title));
        } else if let (Some(heading), Some(row)) = (&heading, line.strip_prefix("| `"))
            && let Some((id, _)) = row.split_once('`')
        {
            anchors.entry(id).or_insert_with(|| heading.clone());
        }
    }
    anchors
}

/// The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens.
fn anchor(title: &str) -> String {
    title
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

fn pascal_case(id: &str) -> String {
    id.split(['-', '_'])
        .flat_map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
        })
        .collect()
}

/// critical and high stop a merge (error), medium is a warning, low a note.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// GitHub's `security-severity` (a CVSS-like score) for the same four levels.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "7.5",
        Severity::Medium => "5.0",
        Severity::Low => "2.0",
    }
}

#[derive(Serialize)]
pub struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    invocations: [Invocation<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    original_uri_base_ids: Option<BaseIds>,
    results: Results<'a>,
    column_kind: &'static str,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    information_uri: &'static str,
    rules: Vec<Rule<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule<'a> {
    id: &'a str,
    /// Only when it differs from the id (SARIF1001), so not for a one-word id.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    short_description: Text,
    full_description: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    default_configuration: Configuration,
    properties: RuleProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct RuleProperties<'a> {
    tags: Vec<&'a str>,
    security_severity: &'static str,
    plugin: &'a str,
    weight: u32,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation<'a> {
    execution_successful: bool,
    #[serde(skip_serializing_if = "Notifications::is_empty")]
    tool_execution_notifications: Notifications<'a>,
}

#[derive(Serialize)]
struct BaseIds {
    #[serde(rename = "%SRCROOT%")]
    src_root: ArtifactLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

/// The report's diagnostics as notifications: unreadable inputs are errors, plugin failures and
/// input caveats warnings, skipped documents notes.
struct Notifications<'a>(&'a [Diagnostic]);

impl Notifications<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Notifications<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(notification))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    level: &'static str,
    message: Text,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
    properties: NotificationProperties,
}

#[derive(Serialize)]
struct NotificationProperties {
    kind: DiagnosticKind,
}

fn notification(diagnostic: &Diagnostic) -> Notification {
    let level = match diagnostic.kind {
        DiagnosticKind::Input => "error",
        DiagnosticKind::Plugin | DiagnosticKind::InputWarning => "warning",
        DiagnosticKind::Skipped => "note",
    };
    let text = match &diagnostic.location {
        Some(location) => format!("{location}: {}", diagnostic.message),
        None => diagnostic.message.clone(),
    };
    // `path:line`, as the reader names a document; a path alone otherwise.
    let locations = diagnostic
        .location
        .as_deref()
        .map(|location| match location.rsplit_once(':') {
            Some((file, line)) if line.parse::<usize>().is_ok_and(|line| line > 0) => {
                (file, line.parse().ok())
            }
            _ => (location, None),
        })
        .and_then(|(file, line)| physical(file, line, None))
        .map(|physical_location| Location {
            physical_location: Some(physical_location),
            logical_locations: Vec::new(),
        })
        .into_iter()
        .collect();
    Notification {
        level,
        message: Text { text },
        locations,
        properties: NotificationProperties {
            kind: diagnostic.kind,
        },
    }
}

/// The findings, serialised one by one.
struct Results<'a> {
    findings: &'a [FindingRow],
    rule_index: HashMap<&'a str, usize>,
    root: Option<&'a Path>,
}

impl Serialize for Results<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.findings.iter().map(|finding| self.result(finding)))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    level: &'static str,
    message: Text,
    locations: [Location; 1],
    partial_fingerprints: Fingerprints,
    properties: ResultProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_location: Option<PhysicalLocation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    name: String,
    fully_qualified_name: String,
    kind: &'static str,
}

#[derive(Serialize)]
struct Fingerprints {
    /// Stable across runs and line moves: the check, the object and the container.
    #[serde(rename = "kubeDevopsFinding/v1")]
    finding: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties<'a> {
    severity: Severity,
    plugin: &'a str,
    namespace: &'a str,
    kind: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<&'a str>,
    magnitude: u32,
}

impl Results<'_> {
    fn result<'f>(&self, finding: &'f FindingRow) -> SarifResult<'f> {
        let physical_location = finding.source.as_ref().and_then(|source| {
            let line = source.container_line.unwrap_or(source.line);
            physical(&source.file, Some(line), self.root)
        });
        let object = format!("{}/{}/{}", finding.namespace, finding.kind, finding.pod);
        let key = format!(
            "{}\u{0}{object}\u{0}{}",
            finding.check,
            finding.container.as_deref().unwrap_or("")
        );
        SarifResult {
            rule_id: &finding.check,
            rule_index: self.rule_index.get(&*finding.check).copied(),
            level: level(finding.severity),
            message: Text {
                text: finding.message.clone(),
            },
            locations: [Location {
                physical_location,
                logical_locations: vec![LogicalLocation {
                    name: finding.pod.to_string(),
                    fully_qualified_name: object,
                    kind: "resource",
                }],
            }],
            partial_fingerprints: Fingerprints {
                finding: format!("{:016x}", fnv1a(key.as_bytes())),
            },
            properties: ResultProperties {
                severity: finding.severity,
                plugin: &finding.plugin,
                namespace: &finding.namespace,
                kind: &finding.kind,
                name: &finding.pod,
                container: finding.container.as_deref(),
                magnitude: finding.magnitude,
            },
        }
    }
}

/// A location in `file` as the report names it: relative to `%SRCROOT%` when it is inside the
/// working directory, an absolute `file:` URI otherwise; none for standard input.
fn physical(file: &str, line: Option<usize>, root: Option<&Path>) -> Option<PhysicalLocation> {
    if file == STDIN || file.is_empty() {
        return None;
    }
    let path = Path::new(file);
    let relative = if path.is_absolute() {
        root.and_then(|root| path.strip_prefix(root).ok())
            .map(normalise)
    } else {
        Some(normalise(path))
    };
    let artifact_location = match relative {
        Some(relative) if !relative.starts_with("..") => ArtifactLocation {
            uri: relative_uri(&relative),
            uri_base_id: Some(SRCROOT),
        },
        _ => ArtifactLocation {
            uri: absolute_uri(&normalise(
                &root.map_or_else(|| path.to_owned(), |root| root.join(path)),
            ))?,
            uri_base_id: None,
        },
    };
    Some(PhysicalLocation {
        artifact_location,
        region: line
            .filter(|line| *line > 0)
            .map(|start_line| Region { start_line }),
    })
}

/// `./a/../b/c.yaml` as `b/c.yaml`; a `..` that climbs above the start is kept.
fn normalise(path: &Path) -> PathBuf {
    let mut parts: Vec<Component<'_>> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if matches!(parts.last(), Some(Component::Normal(_))) => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.iter().collect()
}

/// The path's segments, percent-encoded, joined by `/` whatever the platform's separator.
fn relative_uri(path: &Path) -> String {
    let segments: Vec<String> = path
        .components()
        .filter_map(|component| match component {
            Component::Normal(part) => Some(encode(&part.to_string_lossy())),
            Component::ParentDir => Some("..".to_owned()),
            _ => None,
        })
        .collect();
    segments.join("/")
}

fn absolute_uri(path: &Path) -> Option<String> {
    path.is_absolute()
        .then(|| format!("file:///{}", relative_uri(path)))
}

/// The directory as a `file:` URI ending in `/`, as `originalUriBaseIds` requires.
fn directory_uri(root: &Path) -> Option<String> {
    let uri = absolute_uri(root)?;
    Some(if uri.ends_with('/') { uri } else { uri + "/" })
}

/// Percent-encodes one path segment (RFC 3986: unreserved characters and a few sub-delimiters
/// stay as they are).
fn encode(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'+'
            | b'='
            | b'@'
            | b',' => encoded.push(char::from(byte)),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// FNV-1a: a hash that stays the same across Rust versions and machines, as fingerprints must.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_github() {
        assert_eq!(
            anchor("The seed's plugins (on by default)"),
            "the-seeds-plugins-on-by-default"
        );
        let anchors = doc_anchors();
        assert_eq!(anchors["latest-tag"], "the-seeds-plugins-on-by-default");
        assert_eq!(anchors["run-as-non-root"], "pod-security");
        assert_eq!(anchors["cpu-requests-missing"], "best-practices");
    }

    #[test]
    fn paths_become_relative_uris() {
        let root = Path::new("/work/repo");
        let uri = |file: &str| {
            physical(file, Some(3), Some(root)).map(|location| {
                (
                    location.artifact_location.uri,
                    location.artifact_location.uri_base_id,
                )
            })
        };
        assert_eq!(
            uri("./k8s/../k8s/a b.yaml"),
            Some(("k8s/a%20b.yaml".to_owned(), Some(SRCROOT)))
        );
        assert_eq!(
            uri("/work/repo/k8s/x.yaml"),
            Some(("k8s/x.yaml".to_owned(), Some(SRCROOT)))
        );
        assert_eq!(
            uri("/elsewhere/x.yaml"),
            Some(("file:///elsewhere/x.yaml".to_owned(), None))
        );
        assert_eq!(
            uri("../up.yaml"),
            Some(("file:///work/up.yaml".to_owned(), None))
        );
        assert_eq!(uri(STDIN), None);
    }
}
