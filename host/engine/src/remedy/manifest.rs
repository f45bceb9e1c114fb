//! `kube-devops fix` on one manifest file: every document analysed with fixes asked for, each
//! object's fixes merged into a [`Plan`](super::Plan), and the plans written into the text in
//! place ([`crate::manifest::edit`]), so everything the fixes do not touch keeps its bytes.

use std::sync::Arc;

use serde_json::Value;

use super::{Dropped, plan};
use crate::analysis::report::Diagnostic;
use crate::analysis::worker::Worker;
use crate::manifest::edit::{self, Skipped};
use crate::pod::{self, InputError, Origin, Read, Source, TemplateKinds};

/// What fixing one file did.
#[derive(Debug, Default)]
pub struct FileFix {
    /// The fixed text; equal to the input when nothing changed.
    pub text: String,
    /// Findings whose fixes are in `text`.
    pub fixed: usize,
    /// Findings of enabled checks that have no fix (detection only, or no default to use).
    pub unfixable: usize,
    /// Plugin failures and refused fixes, as analysis reports them.
    pub diagnostics: Vec<Diagnostic>,
    /// Fixes left out, each with the object it was for (`path:line Kind ns/name`).
    pub dropped: Vec<(String, Dropped)>,
    /// Operations that could not be written in place (an alias on the path, ...).
    pub skipped: Vec<(String, Skipped)>,
    /// Documents that could not be read; their text is left as it is.
    pub errors: Vec<InputError>,
}

/// Fixes `text`, the contents of `path`, with the plugins of `worker` (a remediating worker:
/// [`Worker::remediating`]).
pub fn fix_manifest(
    worker: &mut Worker<'_>,
    kinds: &TemplateKinds,
    path: &str,
    text: &str,
) -> FileFix {
    let mut fixed = FileFix::default();
    let documents = match edit::documents(text) {
        Ok(documents) => documents,
        Err(error) => {
            fixed.text = text.to_owned();
            fixed.errors.push(InputError {
                location: path.to_owned(),
                reason: format!("{error}; nothing in this file is fixed"),
            });
            return fixed;
        }
    };
    let path: Arc<str> = Arc::from(path);
    let mut edits = Vec::new();
    for (index, document) in documents.iter().enumerate() {
        let value = document.value();
        // A `List` (`kubectl get -o yaml`) is fixed item by item.
        let objects: Vec<(String, &Value)> = match value.get("items").and_then(Value::as_array) {
            Some(items) if value.get("kind").and_then(Value::as_str) == Some("List") => items
                .iter()
                .enumerate()
                .map(|(at, item)| (format!("/items/{at}"), item))
                .collect(),
            _ => vec![(String::new(), value)],
        };
        let mut operations = Vec::new();
        for (at, object) in &objects {
            let object: &Value = object;
            let origin = Origin::Json {
                path: path.clone(),
                line: document.line(),
            };
            let json = Arc::new(object.to_string());
            let range = 0..json.len();
            let input = match pod::read_with(Source::new(origin, json, range), kinds) {
                Ok(Read::Pod(input)) => input,
                Ok(Read::Skipped { .. }) => continue,
                Err(error) => {
                    fixed.errors.push(error);
                    continue;
                }
            };
            let result = worker.analyze(&input);
            fixed.unfixable += result.findings.iter().filter(|f| f.fix.is_none()).count();
            fixed.diagnostics.extend(result.diagnostics.iter().cloned());
            let fixes = result.findings.iter().filter_map(|finding| {
                let fix = finding.fix.as_ref()?;
                Some((&*finding.check, finding.container.as_deref(), fix))
            });
            let object_plan = plan(object, &input.source.pod_pointer(), fixes);
            let name = format!(
                "{path}:{} {} {}",
                document.line(),
                input.source.kind,
                input.key()
            );
            fixed.fixed += object_plan.fixed.len();
            fixed.dropped.extend(
                object_plan
                    .dropped
                    .into_iter()
                    .map(|dropped| (name.clone(), dropped)),
            );
            operations.extend(
                object_plan
                    .operations
                    .iter()
                    .map(|operation| operation.under(at)),
            );
        }
        if !operations.is_empty() {
            edits.push((index, operations));
        }
    }
    let (text, skipped) = edit::apply(text, &documents, &edits);
    fixed.text = text;
    fixed.skipped = skipped
        .into_iter()
        .map(|skipped| {
            let line = documents
                .get(skipped.document)
                .map_or(0, edit::Document::line);
            (format!("{path}:{line}"), skipped)
        })
        .collect();
    fixed
}
