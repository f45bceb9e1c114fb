//! Pods as the analyzer sees them: the typed record plugins receive, and where it came from.
//!
//! Readers (manifest files, the cluster) hand over [`Source`]s: one object's JSON inside a shared
//! text, never copied. [`read`] turns a source into a [`PodInput`]; the full JSON is rebuilt only
//! if a plugin asks for it (`pod-json`).

mod convert;
mod kinds;
mod lax;
mod model;

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

pub use convert::DEFAULT_NAMESPACE;
pub use kinds::{TemplateKindConfig, TemplateKindError, TemplateKinds};

use crate::contract::Pod;
use crate::contract::v0_1::kube_devops::analyzer::types::Pod as LegacyPod;

/// Where an object's JSON is: a range of a text shared with its neighbours.
#[derive(Debug, Clone)]
pub struct Source {
    origin: Origin,
    // `Arc<String>` rather than `Arc<str>`: a file's text becomes shared without being copied.
    text: Arc<String>,
    range: Range<usize>,
    /// The kind of an object that states none: items of a typed list (`PodList`) may omit it,
    /// and the API server's list answers always do.
    implied_kind: Option<Arc<str>>,
}

/// The file (or stream) an object was read from, for messages and provenance.
#[derive(Debug, Clone)]
pub enum Origin {
    /// JSON from a file or stdin, starting on `line`: lines within the object count from it.
    Json { path: Arc<str>, line: usize },
    /// A YAML object starting on `line`, converted to JSON: lines in the JSON mean nothing to
    /// the file, so `yaml` keeps the object's own lines, to find its containers in.
    Yaml {
        path: Arc<str>,
        line: usize,
        yaml: Arc<str>,
    },
    /// The API server's answer to a list request.
    Cluster,
}

impl Source {
    /// An object at `range` of `text`.
    pub fn new(origin: Origin, text: Arc<String>, range: Range<usize>) -> Self {
        debug_assert!(text.get(range.clone()).is_some());
        Source {
            origin,
            text,
            range,
            implied_kind: None,
        }
    }

    /// The same object, read as `kind` when it names no kind itself.
    pub fn with_implied_kind(mut self, kind: Option<Arc<str>>) -> Self {
        self.implied_kind = kind;
        self
    }

    /// The kind an object that names none is read as.
    pub fn implied_kind(&self) -> Option<&str> {
        self.implied_kind.as_deref()
    }

    /// The object's JSON.
    pub fn json(&self) -> &str {
        &self.text[self.range.clone()]
    }

    /// The file and line the object starts on; `None` for cluster input.
    pub fn file(&self) -> Option<(&Arc<str>, usize)> {
        match &self.origin {
            Origin::Json { path, line } | Origin::Yaml { path, line, .. } => Some((path, *line)),
            Origin::Cluster => None,
        }
    }

    /// `path:line` of the object's first line, or of `line` within it (1-based, as serde_json
    /// counts), for messages.
    pub fn location(&self, line: Option<usize>) -> String {
        match &self.origin {
            Origin::Json { path, line: start } => {
                format!(
                    "{path}:{}",
                    start + line.map_or(0, |line| line.saturating_sub(1))
                )
            }
            Origin::Yaml { path, line, .. } => format!("{path}:{line}"),
            Origin::Cluster => "cluster".to_owned(),
        }
    }

    /// The file lines of the `name:` entries (YAML, any quoting) or `"name": "..."` pairs
    /// (JSON) after the object's first `containers` key, with the names: where its containers
    /// are declared, as far as the text shows it. One pass over the object's text.
    pub fn container_lines(&self) -> Vec<(String, usize)> {
        let (text, start) = match &self.origin {
            Origin::Json { line, .. } => (self.json(), *line),
            Origin::Yaml { line, yaml, .. } => (&**yaml, *line),
            Origin::Cluster => return Vec::new(),
        };
        // memchr's vectorised searches: this runs on every pod a finding names a container of.
        let bytes = text.as_bytes();
        let Some(from) = memchr::memmem::find(bytes, b"ontainers") else {
            return Vec::new();
        };
        let (mut line, mut counted) = (start, 0);
        let mut found = Vec::new();
        for at in memchr::memmem::find_iter(&bytes[from..], b"name") {
            let at = from + at;
            // A key: `name` quoted or bare, then `:`, and not the tail of another key.
            let before = text[..at].trim_end_matches('"');
            if before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let rest = text[at + 4..].trim_start_matches('"').trim_start();
            let Some(value) = rest.strip_prefix(':') else {
                continue;
            };
            let value = value.trim_start_matches([' ', '\t']);
            let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'');
            let value = match quote {
                Some(quote) => value[1..].split(quote).next().unwrap_or_default(),
                None => value
                    .split([',', '}', '\n', '\r', ' ', '#'])
                    .next()
                    .unwrap_or_default(),
            };
            if value.is_empty() {
                continue;
            }
            line += memchr::memchr_iter(b'\n', &bytes[counted..at]).count();
            counted = at;
            found.push((value.to_owned(), line));
        }
        found
    }
}

/// A pod ready for the plugins.
#[derive(Debug, Clone)]
pub struct PodInput {
    /// Shared with the instance of each plugin call, whose `pod` accessors read it.
    pub record: Arc<Pod>,
    pub source: Arc<PodSource>,
    /// The 0.1.0 record, made for the first 0.1.0 component that analyses this pod.
    legacy: OnceLock<LegacyPod>,
}

impl PodInput {
    fn new(record: Pod, source: Arc<PodSource>) -> Self {
        PodInput {
            record: Arc::new(record),
            source,
            legacy: OnceLock::new(),
        }
    }

    /// The record, to change before analysis (the webhook fills in the request's namespace).
    pub fn record_mut(&mut self) -> &mut Pod {
        self.legacy = OnceLock::new();
        Arc::make_mut(&mut self.record)
    }

    /// The pod as a contract 0.1.0 component receives it.
    pub fn legacy(&self) -> &LegacyPod {
        self.legacy
            .get_or_init(|| crate::contract::v0_1::legacy_pod(&self.record))
    }

    /// `namespace/name`, as messages name pods.
    pub fn key(&self) -> String {
        format!(
            "{}/{}",
            self.record.metadata.namespace, self.record.metadata.name
        )
    }
}

/// What a plugin's `pod-json` call reads: the object the pod was read from.
#[derive(Debug)]
pub struct PodSource {
    pub source: Source,
    /// The object's kind: `Pod`, or the workload whose template the pod stands for.
    pub kind: Arc<str>,
    /// The object's `apiVersion`, when it says (a Pod's is `v1` whether or not it says).
    pub api_version: Option<Arc<str>>,
    /// Where a workload's pod template is; `None` for a Pod.
    template: Option<TemplateAt>,
}

/// Where a workload's pod template is in its JSON.
#[derive(Debug, Clone)]
enum TemplateAt {
    /// `spec.template`, or a CronJob's `spec.jobTemplate.spec.template`.
    Spec,
    /// An opt-in kind's template path.
    Path(Vec<String>),
}

impl PodSource {
    /// Where the pod is in the object, as a JSON Pointer: empty for a Pod, `/spec/template`
    /// for a Deployment, `/spec/jobTemplate/spec/template` for a CronJob. Fixes, which speak
    /// of the pod, are placed under it.
    pub fn pod_pointer(&self) -> String {
        match &self.template {
            None => String::new(),
            Some(TemplateAt::Spec) if &*self.kind == "CronJob" => {
                "/spec/jobTemplate/spec/template".to_owned()
            }
            Some(TemplateAt::Spec) => "/spec/template".to_owned(),
            Some(TemplateAt::Path(path)) => path
                .iter()
                .map(|token| format!("/{}", crate::remedy::escape(token)))
                .collect(),
        }
    }

    /// The pod as Kubernetes JSON. A workload's pod is built from its template, named after the
    /// workload, as the pod the workload would create.
    pub fn pod_json(&self) -> String {
        let Some(at) = &self.template else {
            return self.source.json().to_owned();
        };
        let Ok(workload) = serde_json::from_str::<Value>(self.source.json()) else {
            return "{}".to_owned();
        };
        let spec = &workload["spec"];
        let template = match at {
            TemplateAt::Spec if spec["template"].is_object() => &spec["template"],
            TemplateAt::Spec => &spec["jobTemplate"]["spec"]["template"],
            TemplateAt::Path(path) => path.iter().fold(&workload, |value, key| &value[key]),
        };
        let mut metadata = template["metadata"].clone();
        if !metadata.is_object() {
            metadata = Value::Object(Default::default());
        }
        metadata["name"] = workload["metadata"]["name"].clone();
        metadata["namespace"] = workload["metadata"]["namespace"].clone();
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": template["spec"],
        })
        .to_string()
    }
}

/// What [`read`] found in a source.
// Pods are the common case: boxing them would cost an allocation per pod for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Read {
    Pod(PodInput),
    /// A kind that describes no pod; skipped.
    Skipped {
        kind: String,
    },
}

/// Why a source could not be read as a pod; the message names the place and the field.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {reason}")]
pub struct InputError {
    pub location: String,
    pub reason: String,
}

/// Reads one object of the seed's kinds. Parsing is one pass over its JSON; only a bad object
/// is read again, to name the field at fault.
pub fn read(source: Source) -> Result<Read, InputError> {
    read_with(source, &TemplateKinds::default())
}

/// [`read`], also reading the opt-in kinds of `kinds` as pod templates.
pub fn read_with(source: Source, kinds: &TemplateKinds) -> Result<Read, InputError> {
    let mut object: model::Object = match serde_json::from_str(source.json()) {
        Ok(object) => object,
        Err(error) => return Err(explain_parse_error(&source, error)),
    };
    if object.kind.is_none() {
        object.kind = source.implied_kind.as_deref().map(str::to_owned);
    }
    let kind = object.kind.clone().unwrap_or_default();
    let api_version = object.api_version.clone();
    let opt_in = if convert::is_seed_kind(&kind) || kinds.is_empty() {
        None
    } else {
        kinds.find(&kind, api_version.as_deref())
    };
    let mut template = (kind != "Pod").then_some(TemplateAt::Spec);
    if let Some(opt_in) = opt_in
        && !opt_in.at_spec_template()
    {
        // Off the typed path: the template is found by its path in the object's JSON.
        let found = serde_json::from_str::<Value>(source.json())
            .ok()
            .and_then(|value| {
                opt_in
                    .path
                    .iter()
                    .try_fold(value, |mut value, key| value.get_mut(key).map(Value::take))
            })
            .filter(Value::is_object);
        let Some(found) = found else {
            return Err(InputError {
                location: source.location(None),
                reason: convert::describe(&object, &format!("has no {}", opt_in.path_text())),
            });
        };
        let found: model::Template = serde_json::from_value(found).map_err(|error| InputError {
            location: source.location(None),
            reason: convert::describe(&object, &format!("{}: {error}", opt_in.path_text())),
        })?;
        object.spec.get_or_insert_default().template = Some(Box::new(found));
        template = Some(TemplateAt::Path(opt_in.path.clone()));
    }
    match convert::shape(object, opt_in.is_some()) {
        Ok(convert::Shape::Pod(record)) => {
            let api_version = match api_version {
                None if kind == "Pod" => Some(Arc::from("v1")),
                other => other.map(Arc::from),
            };
            let source = Arc::new(PodSource {
                source,
                kind: Arc::from(kind),
                api_version,
                template,
            });
            Ok(Read::Pod(PodInput::new(*record, source)))
        }
        Ok(convert::Shape::Other) => Ok(Read::Skipped { kind }),
        Err(error) => Err(InputError {
            location: source.location(None),
            reason: error.to_string(),
        }),
    }
}

fn explain_parse_error(source: &Source, error: serde_json::Error) -> InputError {
    let mut deserializer = serde_json::Deserializer::from_str(source.json());
    let path = match serde_path_to_error::deserialize::<_, model::Object>(&mut deserializer) {
        Err(detailed) => detailed.path().to_string(),
        Ok(_) => String::new(),
    };
    let reason = error.to_string();
    let reason = crate::manifest::without_position(&reason);
    let identity = identify(source.json());
    InputError {
        location: source.location(Some(error.line()).filter(|&line| line > 0)),
        reason: match path.as_str() {
            "" | "." => format!("{identity}{reason}"),
            path => format!("{identity}{path}: {reason}"),
        },
    }
}

/// `Kind namespace/name: ` of an object that failed to parse, as far as it can be read.
fn identify(json: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Head {
        kind: Option<String>,
        metadata: Option<HeadMeta>,
    }
    #[derive(serde::Deserialize)]
    struct HeadMeta {
        name: Option<String>,
        namespace: Option<String>,
    }
    let Ok(head) = serde_json::from_str::<Head>(json) else {
        return String::new();
    };
    let kind = head.kind.unwrap_or_else(|| "object".to_owned());
    match head.metadata.and_then(|meta| {
        Some((
            meta.namespace
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
            meta.name?,
        ))
    }) {
        Some((namespace, name)) => format!("{kind} {namespace}/{name}: "),
        None => format!("{kind}: "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(json: &str) -> Source {
        let text = Arc::new(json.to_owned());
        Source::new(
            Origin::Json {
                path: Arc::from("pods.json"),
                line: 1,
            },
            text.clone(),
            0..text.len(),
        )
    }

    fn pod(json: &str) -> PodInput {
        match read(source(json)) {
            Ok(Read::Pod(pod)) => pod,
            Ok(Read::Skipped { kind }) => panic!("skipped {kind}"),
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn pod_without_namespace_is_in_default() {
        let pod = pod(
            r#"{"kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"nginx"}]}}"#,
        );
        assert_eq!(pod.key(), "default/web");
        assert!(pod.record.status.is_none());
    }

    #[test]
    fn probe_defaults_are_the_api_servers() {
        let pod = pod(
            r#"{"kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"nginx",
            "livenessProbe":{"tcpSocket":{"port":8080}}}]}}"#,
        );
        let probe = pod.record.containers[0]
            .liveness_probe
            .clone()
            .expect("probe");
        assert!(
            matches!(probe.handler, crate::contract::ProbeHandler::TcpSocket(ref port) if port == "8080")
        );
        assert_eq!(
            (
                probe.period_seconds,
                probe.timeout_seconds,
                probe.failure_threshold
            ),
            (10, 1, 3)
        );
    }

    #[test]
    fn cronjob_reads_its_job_template_and_rebuilds_a_pod() {
        let pod = pod(
            r#"{"kind":"CronJob","metadata":{"name":"nightly","namespace":"batch","annotations":{"a":"1"}},
            "spec":{"jobTemplate":{"spec":{"template":{"metadata":{"labels":{"app":"n"}},
            "spec":{"containers":[{"name":"job","image":"busybox"}]}}}}}}"#,
        );
        assert_eq!(pod.key(), "batch/nightly");
        assert_eq!(pod.record.metadata.owner_kinds, ["CronJob"]);
        assert_eq!(pod.record.metadata.annotations[0].key, "a");
        let rebuilt: Value = serde_json::from_str(&pod.source.pod_json()).expect("json");
        assert_eq!(rebuilt["kind"], "Pod");
        assert_eq!(rebuilt["metadata"]["name"], "nightly");
        assert_eq!(rebuilt["metadata"]["labels"]["app"], "n");
        assert_eq!(rebuilt["spec"]["containers"][0]["image"], "busybox");
    }

    #[test]
    fn null_fields_read_as_absent() {
        let pod = pod(
            r#"{"kind":"Pod","metadata":{"name":"web","labels":null,"creationTimestamp":null},
            "spec":{"containers":[{"name":"app","image":"nginx","ports":null,"resources":{}}]},"status":{"containerStatuses":null}}"#,
        );
        assert!(pod.record.metadata.labels.is_empty());
        assert!(
            pod.record
                .status
                .as_ref()
                .expect("status")
                .container_statuses
                .is_empty()
        );
    }

    #[test]
    fn other_kinds_are_skipped() {
        assert!(
            matches!(read(source(r#"{"kind":"Service","metadata":{"name":"s"}}"#)), Ok(Read::Skipped { kind }) if kind == "Service")
        );
    }

    #[test]
    fn type_error_names_object_field_and_line() {
        let json = "{\"kind\":\"Pod\",\n\"metadata\":{\"name\":\"web\"},\n\"spec\":{\"containers\":[{\"name\":\"app\",\n\"ports\":[{\"containerPort\":\"http\"}]}]}}";
        let Err(error) = read(source(json)) else {
            panic!("expected an error")
        };
        assert_eq!(error.location, "pods.json:4");
        assert!(
            error.reason.starts_with(
                "Pod default/web: spec.containers[0].ports[0].containerPort: invalid type"
            ),
            "{}",
            error.reason
        );
    }

    #[test]
    fn workload_without_template_is_an_error() {
        let Err(error) = read(source(
            r#"{"kind":"Deployment","metadata":{"name":"d"},"spec":{}}"#,
        )) else {
            panic!()
        };
        assert_eq!(error.reason, "Deployment default/d has no spec.template");
    }
}
