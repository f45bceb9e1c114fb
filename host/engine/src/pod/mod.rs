//! Pods as the analyzer sees them: the typed record plugins receive, and where it came from.
//!
//! Readers (manifest files, the cluster) hand over [`Source`]s: one object's JSON inside a shared
//! text, never copied. [`read`] turns a source into a [`PodInput`]; the full JSON is rebuilt only
//! if a plugin asks for it (`pod-json`).

mod convert;
mod model;

use std::ops::Range;
use std::sync::Arc;

use serde_json::Value;

pub use convert::DEFAULT_NAMESPACE;

use crate::contract::Pod;

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

/// The file (or stream) an object was read from, for messages.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A JSON file: lines are counted in the text itself.
    Json { path: Arc<str> },
    /// A YAML document, converted to JSON: lines refer to the YAML, so only its first is known.
    Yaml { path: Arc<str>, line: usize },
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

    /// The object's JSON.
    pub fn json(&self) -> &str {
        &self.text[self.range.clone()]
    }

    /// `path:line` of the object's first line, or of `line` within it (1-based, as serde_json
    /// counts), for messages.
    pub fn location(&self, line: Option<usize>) -> String {
        match &self.origin {
            Origin::Json { path } => {
                let start = line_of(&self.text, self.range.start);
                format!(
                    "{path}:{}",
                    start + line.map_or(0, |line| line.saturating_sub(1))
                )
            }
            Origin::Yaml { path, line } => format!("{path}:{line}"),
            Origin::Cluster => "cluster".to_owned(),
        }
    }
}

/// The 1-based line of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    1 + text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count()
}

/// A pod ready for the plugins.
#[derive(Debug, Clone)]
pub struct PodInput {
    pub record: Pod,
    pub source: Arc<PodSource>,
}

impl PodInput {
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
    /// The workload kind when the pod stands for a workload's template.
    template_of: Option<String>,
}

impl PodSource {
    /// The pod as Kubernetes JSON. A workload's pod is built from its template, named after the
    /// workload, as the pod the workload would create.
    pub fn pod_json(&self) -> String {
        if self.template_of.is_none() {
            return self.source.json().to_owned();
        }
        let Ok(workload) = serde_json::from_str::<Value>(self.source.json()) else {
            return "{}".to_owned();
        };
        let spec = &workload["spec"];
        let template = if spec["template"].is_object() {
            &spec["template"]
        } else {
            &spec["jobTemplate"]["spec"]["template"]
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

/// Reads one object. Parsing is one pass over its JSON; only a bad object is read again, to
/// name the field at fault.
pub fn read(source: Source) -> Result<Read, InputError> {
    let mut object: model::Object = match serde_json::from_str(source.json()) {
        Ok(object) => object,
        Err(error) => return Err(explain_parse_error(&source, error)),
    };
    if object.kind.is_none() {
        object.kind = source.implied_kind.as_deref().map(str::to_owned);
    }
    let kind = object.kind.clone();
    match convert::shape(object) {
        Ok(convert::Shape::Pod(record)) => {
            let template_of = kind.filter(|kind| kind != "Pod");
            let source = Arc::new(PodSource {
                source,
                template_of,
            });
            Ok(Read::Pod(PodInput {
                record: *record,
                source,
            }))
        }
        Ok(convert::Shape::Other) => Ok(Read::Skipped {
            kind: kind.unwrap_or_default(),
        }),
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
        let probe = pod.record.spec.containers[0]
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
