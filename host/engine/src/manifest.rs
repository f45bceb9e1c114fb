//! Manifest files to objects: paths, directories and stdin; YAML and JSON; multi-document files
//! and lists.
//!
//! Splitting is cheap and single-threaded: it finds where each object is and copies nothing for
//! JSON. Reading the objects themselves ([`crate::pod::read`]) is left to the analysis workers.
//! A broken document is reported with its file and line and the rest of the file still counts.

use std::borrow::Cow;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::pod::{InputError, Origin, Source};

/// The path that means standard input.
pub const STDIN: &str = "-";
/// Extensions read when a directory is given.
const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];
/// Directory nesting followed at most (symbolic links can make loops).
const MAX_DEPTH: usize = 32;

/// Objects found in the inputs, in input order, and the inputs that could not be read.
#[derive(Debug, Default)]
pub struct Manifests {
    pub sources: Vec<Source>,
    pub errors: Vec<InputError>,
}

/// Reads every path: a file, a directory (recursively, `.yaml`, `.yml` and `.json` files in name
/// order, skipping `node_modules` and hidden directories) or `-` for standard input.
pub fn read_paths(paths: &[PathBuf]) -> Manifests {
    let mut manifests = Manifests::default();
    for path in paths {
        if path.as_os_str() == STDIN {
            let mut text = String::new();
            match std::io::stdin().read_to_string(&mut text) {
                Ok(_) => split(Arc::from("<stdin>"), text, &mut manifests),
                Err(error) => {
                    manifests
                        .errors
                        .push(error_at("<stdin>", 0, format!("cannot read: {error}")))
                }
            }
        } else if path.is_dir() {
            let mut files = Vec::new();
            if let Err(error) = collect_files(path, 0, &mut files) {
                manifests.errors.push(error);
            }
            if files.is_empty() {
                let reason = "no .yaml, .yml or .json files in this directory".to_owned();
                manifests
                    .errors
                    .push(error_at(&path.display().to_string(), 0, reason));
            }
            for file in files {
                read_file(&file, &mut manifests);
            }
        } else {
            read_file(path, &mut manifests);
        }
    }
    manifests
}

fn collect_files(dir: &Path, depth: usize, files: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let location = || dir.display().to_string();
    if depth > MAX_DEPTH {
        return Err(error_at(
            &location(),
            0,
            format!("directories nested deeper than {MAX_DEPTH}"),
        ));
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|error| error_at(&location(), 0, format!("cannot read directory: {error}")))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            if !is_source_tree_noise(&path) {
                collect_files(&path, depth + 1, files)?;
            }
        } else if path
            .extension()
            .and_then(|ext| ext.to_str())
            .is_some_and(|ext| EXTENSIONS.contains(&ext))
        {
            files.push(path);
        }
    }
    Ok(())
}

/// Directories a manifest folder in a source tree holds but never means: installed JavaScript
/// packages (thousands of JSON files) and hidden ones (`.git`, `.github`, editors' state).
/// A path given by name is always read.
fn is_source_tree_noise(dir: &Path) -> bool {
    dir.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name == "node_modules" || name.starts_with('.'))
}

fn read_file(path: &Path, manifests: &mut Manifests) {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Err(error) => manifests
            .errors
            .push(error_at(&name, 0, format!("cannot read: {error}"))),
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => split(Arc::from(name), text, manifests),
            Err(error) => {
                let line = crate::pod::line_of(
                    &String::from_utf8_lossy(error.as_bytes()),
                    error.utf8_error().valid_up_to(),
                );
                manifests
                    .errors
                    .push(error_at(&name, line, "not UTF-8 text".to_owned()));
            }
        },
    }
}

/// Splits one input's text into objects. JSON when it starts with `{` or `[`, YAML otherwise.
pub fn split(path: Arc<str>, text: String, manifests: &mut Manifests) {
    if text.trim_start().starts_with(['{', '[']) {
        split_json(path, Arc::new(text), manifests);
    } else {
        split_yaml(&path, &text, manifests);
    }
}

/// JSON: one or more concatenated values; a List's items become objects of their own. One pass
/// over the text: each value is read as a [`Document`], which keeps only a list's item ranges.
fn split_json(path: Arc<str>, text: Arc<String>, manifests: &mut Manifests) {
    let origin = Origin::Json { path: path.clone() };
    let mut stream = serde_json::Deserializer::from_str(&text).into_iter::<Document>();
    let mut start = 0;
    while let Some(next) = stream.next() {
        let end = stream.byte_offset();
        match next {
            Ok(document) => {
                let implied_kind = document.list_kind.as_deref().and_then(implied_kind);
                match document.items {
                    Some(items) => {
                        for item in items {
                            let item_start = item.get().as_ptr() as usize - text.as_ptr() as usize;
                            let range = item_start..item_start + item.get().len();
                            let source = Source::new(origin.clone(), text.clone(), range);
                            manifests
                                .sources
                                .push(source.with_implied_kind(implied_kind.clone()));
                        }
                    }
                    None => {
                        let leading = text[start..end].len() - text[start..end].trim_start().len();
                        manifests.sources.push(Source::new(
                            origin.clone(),
                            text.clone(),
                            start + leading..end,
                        ));
                    }
                }
            }
            Err(error) => {
                // A JSON stream cannot be resynchronised after a syntax error: what came before
                // it counts, the rest of this input is lost and said so.
                let reason = format!(
                    "{}; the rest of this input is skipped",
                    without_position(&error.to_string())
                );
                manifests.errors.push(error_at(&path, error.line(), reason));
                break;
            }
        }
        start = end;
    }
}

/// One top-level JSON value, as far as splitting cares: the items of a List (`kind: List`,
/// `PodList`, ...) or of a top-level array; any other value is kept whole by its range.
#[derive(Default)]
struct Document<'a> {
    /// The kind, when it names a list.
    list_kind: Option<String>,
    items: Option<Vec<&'a RawValue>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Document<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Document<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a Kubernetes object or list")
            }

            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut kind: Option<Cow<'de, str>> = None;
                let mut items: Option<Vec<&'de RawValue>> = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "kind" => kind = map.next_value()?,
                        "items" => items = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(match kind.filter(|kind| kind.ends_with("List")) {
                    Some(kind) => Document {
                        list_kind: Some(kind.into_owned()),
                        items,
                    },
                    None => Document::default(),
                })
            }

            fn visit_seq<S: serde::de::SeqAccess<'de>>(
                self,
                mut seq: S,
            ) -> Result<Self::Value, S::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<&'de RawValue>()? {
                    items.push(item);
                }
                Ok(Document {
                    list_kind: None,
                    items: Some(items),
                })
            }

            // Scalars are kept whole; reading them as objects reports the error.
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Document::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Document::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Document::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Document::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Document::default())
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Document::default())
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `PodList` → `Pod`; the generic `List` implies nothing.
fn implied_kind(list_kind: &str) -> Option<Arc<str>> {
    list_kind
        .strip_suffix("List")
        .filter(|kind| !kind.is_empty())
        .map(Arc::from)
}

/// YAML: documents separated by `---` lines, each parsed on its own so that a broken one does not
/// hide the ones after it.
fn split_yaml(path: &Arc<str>, text: &str, manifests: &mut Manifests) {
    for (first_line, document) in yaml_documents(text) {
        if document.lines().all(|line| {
            let line = line.trim();
            line.is_empty() || line.starts_with('#')
        }) {
            continue;
        }
        let value: Value = match serde_saphyr::from_str(&document) {
            Ok(value) => value,
            Err(error) => {
                let (line, reason) = yaml_error(&error);
                manifests
                    .errors
                    .push(error_at(path, first_line + line.unwrap_or(1) - 1, reason));
                continue;
            }
        };
        let origin = Origin::Yaml {
            path: path.clone(),
            line: first_line,
        };
        let list_kind = value["kind"]
            .as_str()
            .filter(|kind| kind.ends_with("List"))
            .map(str::to_owned);
        match value {
            Value::Null => {}
            Value::Object(mut object)
                if list_kind.is_some() && object.get("items").is_some_and(Value::is_array) =>
            {
                let implied = list_kind.as_deref().and_then(implied_kind);
                if let Some(Value::Array(items)) = object.remove("items") {
                    for item in items {
                        push_value(&origin, &item, implied.clone(), manifests);
                    }
                }
            }
            Value::Array(items) => items
                .iter()
                .for_each(|item| push_value(&origin, item, None, manifests)),
            value => push_value(&origin, &value, None, manifests),
        }
    }
}

fn push_value(
    origin: &Origin,
    value: &Value,
    implied_kind: Option<Arc<str>>,
    manifests: &mut Manifests,
) {
    let text = Arc::new(value.to_string());
    let range = 0..text.len();
    manifests
        .sources
        .push(Source::new(origin.clone(), text, range).with_implied_kind(implied_kind));
}

/// The documents of a YAML stream with the line each starts on. A `---` line (with nothing or a
/// comment after it) starts a new document; `...` ends one.
fn yaml_documents(text: &str) -> Vec<(usize, String)> {
    let mut documents = Vec::new();
    let mut current = String::new();
    let mut first_line = 1;
    for (index, line) in text.lines().enumerate() {
        let marker = ["---", "..."].into_iter().find(|marker| {
            line.strip_prefix(marker)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        });
        match marker {
            Some(marker) => {
                documents.push((first_line, std::mem::take(&mut current)));
                first_line = index + 1;
                // Content on the marker line (`--- {kind: Pod}`) belongs to the new document;
                // blanking the marker keeps its columns.
                current.push_str(&" ".repeat(marker.len()));
                current.push_str(&line[marker.len()..]);
            }
            None => current.push_str(line),
        }
        current.push('\n');
    }
    documents.push((first_line, current));
    documents
}

/// The 1-based line (within the parsed text) and a one-line message of a YAML error.
pub(crate) fn yaml_error(error: &serde_saphyr::Error) -> (Option<usize>, String) {
    let line = error
        .location()
        .map(|location| location.line() as usize)
        .filter(|&line| line > 0);
    let message = error.without_snippet().to_string();
    let message = without_position(message.lines().next().unwrap_or("invalid YAML")).to_owned();
    (line, message)
}

/// A parser's message without its trailing ` at line L, column C`: the location we print says
/// it in file terms.
pub(crate) fn without_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

fn error_at(path: &str, line: usize, reason: String) -> InputError {
    let location = if line == 0 {
        path.to_owned()
    } else {
        format!("{path}:{line}")
    };
    InputError { location, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_text(text: &str) -> Manifests {
        let mut manifests = Manifests::default();
        split(Arc::from("in.yaml"), text.to_owned(), &mut manifests);
        manifests
    }

    #[test]
    fn yaml_error_in_the_middle_keeps_the_documents_around_it() {
        let text = "kind: Pod\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: [unclosed\n---\nkind: Pod\nmetadata: {name: c}\n";
        let manifests = split_text(text);
        assert_eq!(manifests.sources.len(), 2);
        assert_eq!(manifests.errors.len(), 1);
        assert!(
            manifests.errors[0].location.starts_with("in.yaml:"),
            "{:?}",
            manifests.errors
        );
        let line: usize = manifests.errors[0].location["in.yaml:".len()..]
            .parse()
            .expect("line");
        assert!((4..=6).contains(&line), "error line {line}");
        assert!(manifests.sources[1].json().contains("\"c\""));
        assert_eq!(manifests.sources[1].location(None), "in.yaml:6");
    }

    #[test]
    fn json_list_items_are_objects_and_keep_their_lines() {
        let text = "{\"kind\": \"PodList\", \"items\": [\n{\"kind\": \"Pod\"},\n{\"kind\": \"Pod\", \"x\": 1}\n]}";
        let manifests = split_text(text);
        assert!(manifests.errors.is_empty());
        assert_eq!(manifests.sources.len(), 2);
        assert_eq!(manifests.sources[1].json(), "{\"kind\": \"Pod\", \"x\": 1}");
        assert_eq!(manifests.sources[1].location(None), "in.yaml:3");
    }

    #[test]
    fn json_values_are_split_in_one_pass_whatever_the_key_order() {
        let text = "  {\"items\": [{\"a\": 1}, {\"b\": 2}], \"kind\": \"DeploymentList\"}\n[{\"c\": 3}]\n\n{\"kind\": \"Pod\", \"items\": [1]}\n\"scalar\"";
        let manifests = split_text(text);
        assert!(manifests.errors.is_empty(), "{:?}", manifests.errors);
        let objects: Vec<&str> = manifests.sources.iter().map(Source::json).collect();
        assert_eq!(
            objects,
            [
                "{\"a\": 1}",
                "{\"b\": 2}",
                "{\"c\": 3}",
                "{\"kind\": \"Pod\", \"items\": [1]}",
                "\"scalar\""
            ]
        );
        assert_eq!(manifests.sources[3].location(None), "in.yaml:4");
    }

    #[test]
    fn truncated_json_keeps_what_came_before() {
        let manifests = split_text("{\"kind\":\"Pod\"}\n{\"kind\":\"Pod\",\n\"metadata\":");
        assert_eq!(manifests.sources.len(), 1);
        assert_eq!(manifests.errors.len(), 1);
        assert_eq!(manifests.errors[0].location, "in.yaml:3");
    }

    #[test]
    fn yaml_list_and_comment_only_documents() {
        let manifests = split_text(
            "# just a comment\n---\napiVersion: v1\nkind: List\nitems:\n- kind: Pod\n- kind: Service\n---\n",
        );
        assert!(manifests.errors.is_empty(), "{:?}", manifests.errors);
        assert_eq!(manifests.sources.len(), 2);
    }

    #[test]
    fn content_on_the_marker_line_is_kept() {
        let manifests = split_text("--- {kind: Pod}\n");
        assert_eq!(manifests.sources.len(), 1);
        assert_eq!(manifests.sources[0].json(), r#"{"kind":"Pod"}"#);
    }
}
