//! Manifest files to objects: paths, directories and stdin; YAML and JSON; multi-document files
//! and lists.
//!
//! Splitting is cheap and single-threaded: it finds where each object is and copies nothing for
//! JSON. Reading the objects themselves ([`crate::pod::read`]) is left to the analysis workers.
//! A broken document is reported with its file and line and the rest of the file still counts.

use std::borrow::Cow;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::files::{self, Input};
use crate::pod::{InputError, Origin, Source};

/// Bytes one input may hold by default (`--max-input-bytes`): an endless input (a link to
/// `/dev/zero`, `yes | kube-devops analyze -f -`) stops here instead of filling memory.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 4 << 30;

/// Objects found in the inputs, in input order, the inputs that could not be read, and what
/// was passed over with a warning.
#[derive(Debug, Default)]
pub struct Manifests {
    pub sources: Vec<Source>,
    pub errors: Vec<InputError>,
    pub warnings: Vec<InputError>,
}

/// How inputs are read.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Bytes one input may hold; past it the input is an error and the rest of it is not read.
    pub max_input_bytes: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
        }
    }
}

/// Reads every path: a file, a directory (recursively, `.yaml`, `.yml` and `.json` files in name
/// order, skipping `node_modules` and hidden directories; each file once, see [`files`]) or `-`
/// for standard input.
pub fn read_paths(paths: &[PathBuf]) -> Manifests {
    read_paths_with(paths, ReadOptions::default())
}

/// [`read_paths`] with a byte limit of one's own.
pub fn read_paths_with(paths: &[PathBuf], options: ReadOptions) -> Manifests {
    let resolved = files::resolve(paths);
    let mut manifests = Manifests {
        errors: resolved.errors,
        warnings: resolved.warnings,
        ..Manifests::default()
    };
    for input in &resolved.inputs {
        let name = input.name();
        let read = match input {
            Input::Stdin => read_bounded(std::io::stdin().lock(), options.max_input_bytes),
            Input::File(path) => std::fs::File::open(path)
                .map_err(|error| format!("cannot read: {error}"))
                .and_then(|file| read_bounded(file, options.max_input_bytes)),
        };
        match read {
            Ok(bytes) => split_bytes(&name, bytes, &mut manifests),
            Err(reason) => manifests.errors.push(error_at(&name, 0, reason)),
        }
    }
    manifests
}

/// All of `reader`, unless it holds more than `limit` bytes.
fn read_bounded(reader: impl Read, limit: u64) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|error| format!("cannot read: {error}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "more than {} bytes (the limit; --max-input-bytes raises it); not read",
            limit
        ));
    }
    Ok(bytes)
}

fn split_bytes(name: &str, bytes: Vec<u8>, manifests: &mut Manifests) {
    match String::from_utf8(bytes) {
        Ok(text) => split(Arc::from(name), text, manifests),
        Err(error) => {
            let line = crate::pod::line_of(
                &String::from_utf8_lossy(error.as_bytes()),
                error.utf8_error().valid_up_to(),
            );
            manifests
                .errors
                .push(error_at(name, line, "not UTF-8 text".to_owned()));
        }
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
        let value: Value = match parse_yaml_document(&document) {
            Ok((value, duplicate)) => {
                if let Some((line, key)) = duplicate {
                    let key = key.map_or_else(String::new, |key| format!(" `{key}`"));
                    manifests.warnings.push(error_at(
                        path,
                        first_line + line.unwrap_or(1) - 1,
                        format!(
                            "duplicate mapping key{key}: the last value is used, as kubectl and the API server do"
                        ),
                    ));
                }
                value
            }
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

/// A duplicate key: its line within the document, and the key when it is a scalar.
type Duplicate = (Option<usize>, Option<String>);

/// Parses one YAML document as kubectl does: a duplicate mapping key is no error, its last value
/// wins. The first duplicate is returned, for a warning.
fn parse_yaml_document(text: &str) -> Result<(Value, Option<Duplicate>), serde_saphyr::Error> {
    let error = match serde_saphyr::from_str::<Value>(text) {
        Ok(value) => return Ok((value, None)),
        Err(error) => error,
    };
    let serde_saphyr::Error::DuplicateMappingKey { key, location } = error.without_snippet() else {
        return Err(error);
    };
    let duplicate = (
        usize::try_from(location.line())
            .ok()
            .filter(|&line| line > 0),
        key.clone(),
    );
    let mut options = serde_saphyr::Options::default();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    let value = serde_saphyr::from_str_with_options(text, options)?;
    Ok((value, Some(duplicate)))
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
    // The parser's own wording for its safety limits is Rust debug output: say it in words.
    if let serde_saphyr::Error::Budget { .. } = error.without_snippet() {
        let message = "the document is larger or nests deeper than the YAML reader allows (a \
                       limit against hostile input); split it into smaller documents"
            .to_owned();
        return (line, message);
    }
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
