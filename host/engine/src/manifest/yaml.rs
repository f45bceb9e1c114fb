//! YAML inputs, streamed by document: documents are separated by `---` lines and each is parsed
//! on its own as soon as it ends, so a broken one does not hide the ones after it and only one
//! document is in memory at a time.

use std::io::{self, BufRead};
use std::sync::Arc;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use super::{Item, error_at};
use crate::pod::{Origin, Source};

/// Splits the YAML read from `reader`, whose first byte is on line `line`.
pub(super) fn split(
    reader: &mut dyn BufRead,
    path: &Arc<str>,
    line: usize,
    emit: &mut dyn FnMut(Item),
) -> io::Result<()> {
    let mut document = String::new();
    let mut first_line = line;
    let mut list = Items::default();
    let mut raw = Vec::new();
    for number in line.. {
        raw.clear();
        if reader.read_until(b'\n', &mut raw)? == 0 {
            break;
        }
        // NUL is no YAML character: a binary file (or `/dev/zero`) stops here, not at the
        // byte limit.
        let text = match std::str::from_utf8(&raw) {
            Ok(text) if !text.contains('\0') => text,
            _ => {
                // The document it is in is cut short: it is not analysed.
                let reason = "not UTF-8 text; the rest of this input is skipped".to_owned();
                emit(Item::Error(error_at(path, number, reason)));
                return Ok(());
            }
        };
        let body = text.trim_end_matches(['\n', '\r']);
        let marker = ["---", "..."].into_iter().find(|marker| {
            body.strip_prefix(marker)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        });
        if let Some(marker) = marker {
            list.end(path, emit);
            documents(path, first_line, &document, list.streamed.take(), emit);
            document.clear();
            first_line = number;
            // Content on the marker line (`--- {kind: Pod}`) belongs to the new document;
            // blanking the marker keeps its columns.
            document.push_str(&" ".repeat(marker.len()));
            document.push_str(&body[marker.len()..]);
            document.push('\n');
            continue;
        }
        if list.take(path, number, body, &mut document, emit) {
            continue;
        }
        document.push_str(body);
        document.push('\n');
    }
    list.end(path, emit);
    documents(path, first_line, &document, list.streamed.take(), emit);
    Ok(())
}

/// A list's `items:` read item by item, as kubectl prints it (`items:` at the top level, then
/// `- ` entries), so that `kubectl get pods -A -o yaml` of any size is never parsed whole.
#[derive(Default)]
struct Items {
    /// In the items of the current document: the `- ` column, once the first entry is seen.
    active: Option<Option<usize>>,
    /// The entry being read, and its first line.
    entry: String,
    entry_line: usize,
    /// The line of `items:` when this document's items were handed over one by one.
    streamed: Option<usize>,
    /// Lines after `items:` before its first entry (blank or comments).
    pending: Vec<String>,
    /// The kind the items are read as, from a `kind: ...List` before `items:`.
    implied: Option<Arc<str>>,
}

impl Items {
    /// Takes line `number` if it belongs to the items; false if the document should keep it.
    fn take(
        &mut self,
        path: &Arc<str>,
        number: usize,
        body: &str,
        document: &mut String,
        emit: &mut dyn FnMut(Item),
    ) -> bool {
        let trimmed = body.trim_start();
        let indent = body.len() - trimmed.len();
        let blank = trimmed.is_empty() || trimmed.starts_with('#');
        let dash = trimmed == "-" || trimmed.starts_with("- ");
        match self.active {
            None => {
                let items_key = body.strip_prefix("items:").is_some_and(|rest| {
                    let rest = rest.trim();
                    rest.is_empty() || rest.starts_with('#')
                });
                if !items_key {
                    return false;
                }
                self.active = Some(None);
                self.streamed = Some(number);
                self.implied = implied_from(document);
                true
            }
            Some(None) if blank => {
                self.pending.push(body.to_owned());
                true
            }
            Some(None) if dash => {
                self.active = Some(Some(indent));
                self.pending.clear();
                self.start(number, body, indent);
                true
            }
            // Not a sequence after all (`items:` holding a mapping): give the lines back.
            Some(None) => {
                self.active = None;
                self.streamed = None;
                document.push_str("items:\n");
                for line in self.pending.drain(..) {
                    document.push_str(&line);
                    document.push('\n');
                }
                false
            }
            Some(Some(_)) if blank => {
                self.entry.push_str(body);
                self.entry.push('\n');
                true
            }
            Some(Some(column)) if indent == column && dash => {
                self.finish(path, emit);
                self.start(number, body, indent);
                true
            }
            Some(Some(column)) if indent > column => {
                self.entry.push_str(body);
                self.entry.push('\n');
                true
            }
            // Back at the top level: the items have ended.
            Some(Some(_)) => {
                self.finish(path, emit);
                self.active = None;
                false
            }
        }
    }

    /// An entry starts: its dash becomes a space, leaving an indented mapping (or scalar).
    fn start(&mut self, number: usize, body: &str, indent: usize) {
        self.entry.clear();
        self.entry.push_str(&body[..indent]);
        self.entry.push(' ');
        self.entry.push_str(&body[indent + 1..]);
        self.entry.push('\n');
        self.entry_line = number;
    }

    fn finish(&mut self, path: &Arc<str>, emit: &mut dyn FnMut(Item)) {
        if self.entry.is_empty() {
            return;
        }
        let entry = std::mem::take(&mut self.entry);
        if let Some(value) = parsed(path, self.entry_line, &entry, emit) {
            let source = object(path, &value, self.entry_line, &entry);
            emit(Item::Object(source.with_implied_kind(self.implied.clone())));
        }
    }

    /// The document ends: so do its items (`items:` with nothing after it is an empty list).
    fn end(&mut self, path: &Arc<str>, emit: &mut dyn FnMut(Item)) {
        if matches!(self.active, Some(Some(_))) {
            self.finish(path, emit);
        }
        self.pending.clear();
        self.active = None;
    }
}

/// The kind a list's items are read as, from a `kind: ...List` line before `items:`.
fn implied_from(document: &str) -> Option<Arc<str>> {
    document
        .lines()
        .find_map(|line| line.strip_prefix("kind:"))
        .map(|kind| kind.trim().trim_matches(['"', '\'']))
        .and_then(super::implied_kind)
}

/// Parses one document, starting on `first_line`, and hands over the objects in it. When its
/// items were handed over already (`streamed`, the line of `items:`), what is left is the list's
/// own fields: only its kind is checked.
fn documents(
    path: &Arc<str>,
    first_line: usize,
    document: &str,
    streamed: Option<usize>,
    emit: &mut dyn FnMut(Item),
) {
    if document.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#')
    }) {
        return;
    }
    let Some(value) = parsed(path, first_line, document, emit) else {
        return;
    };
    if let Some(line) = streamed {
        if let Some(kind) = value["kind"]
            .as_str()
            .filter(|kind| !kind.ends_with("List"))
        {
            let reason = format!(
                "an object of kind `{kind}` has a top-level `items` list; its items were read as objects of their own"
            );
            emit(Item::Warning(error_at(path, line, reason)));
        }
        return;
    }
    let list_kind = value["kind"]
        .as_str()
        .filter(|kind| kind.ends_with("List"))
        .map(str::to_owned);
    let items = match &value {
        Value::Null => return,
        Value::Object(map) if list_kind.is_some() => match map.get("items") {
            Some(Value::Array(items)) => Some(items),
            _ => None,
        },
        Value::Array(items) => Some(items),
        _ => None,
    };
    let Some(items) = items else {
        // The object starts where its content does: past leading comments and the marker.
        let content = document
            .lines()
            .position(|line| {
                let line = line.trim();
                !line.is_empty() && !line.starts_with('#')
            })
            .unwrap_or(0);
        let yaml: Vec<&str> = document.lines().skip(content).collect();
        emit(Item::Object(object(
            path,
            &value,
            first_line + content,
            &yaml.join("\n"),
        )));
        return;
    };
    // A list in flow style, or a top-level sequence: parsed whole, items placed by their spans.
    let implied = list_kind.as_deref().and_then(super::implied_kind);
    let lines = item_lines(document, value.is_array(), items.len());
    let document_lines: Vec<&str> = document.lines().collect();
    for (index, item) in items.iter().enumerate() {
        // Each item's own lines, for naming its containers' lines; the document's when the
        // items could not be placed.
        let (start, end) = match &lines {
            Some(lines) => (
                lines[index],
                lines
                    .get(index + 1)
                    .copied()
                    .unwrap_or(document_lines.len() + 1),
            ),
            None => (1, document_lines.len() + 1),
        };
        let yaml = document_lines[start - 1..end - 1].join("\n");
        let source = object(path, item, first_line + start - 1, &yaml);
        emit(Item::Object(source.with_implied_kind(implied.clone())));
    }
}

/// One object's source: its JSON, and its YAML lines from `line` on.
fn object(path: &Arc<str>, value: &Value, line: usize, yaml: &str) -> Source {
    let text = Arc::new(value.to_string());
    let range = 0..text.len();
    let origin = Origin::Yaml {
        path: path.clone(),
        line,
        yaml: Arc::from(yaml),
    };
    Source::new(origin, text, range)
}

/// Parses `text`, which starts on `first_line`; a duplicate key is a warning, an error is
/// handed over and gives `None`.
fn parsed(
    path: &Arc<str>,
    first_line: usize,
    text: &str,
    emit: &mut dyn FnMut(Item),
) -> Option<Value> {
    match parse(text) {
        Ok((value, duplicate)) => {
            if let Some((line, key)) = duplicate {
                let key = key.map_or_else(String::new, |key| format!(" `{key}`"));
                emit(Item::Warning(error_at(
                    path,
                    first_line + line.unwrap_or(1) - 1,
                    format!(
                        "duplicate mapping key{key}: the last value is used, as kubectl and the API server do"
                    ),
                )));
            }
            Some(value)
        }
        Err(error) => {
            let (line, reason) = super::yaml_error(&error);
            emit(Item::Error(error_at(
                path,
                first_line + line.unwrap_or(1) - 1,
                reason,
            )));
            None
        }
    }
}

/// The line (within the document) where each of a list's `count` items starts; `array` when
/// the document is a sequence rather than a `kind: ...List` mapping.
fn item_lines(document: &str, array: bool, count: usize) -> Option<Vec<usize>> {
    type Items = Vec<serde_saphyr::Spanned<IgnoredAny>>;
    #[derive(Deserialize)]
    struct List {
        items: Items,
    }
    let items = if array {
        serde_saphyr::from_str_with_options::<Items>(document, lenient()).ok()?
    } else {
        serde_saphyr::from_str_with_options::<List>(document, lenient())
            .ok()?
            .items
    };
    let lines: Vec<usize> = items
        .iter()
        .map(|item| usize::try_from(item.referenced.line()).unwrap_or(0))
        .collect();
    let document_lines = document.lines().count();
    let placed = lines.len() == count
        && lines.windows(2).all(|pair| pair[0] <= pair[1])
        && lines
            .iter()
            .all(|&line| (1..=document_lines).contains(&line));
    placed.then_some(lines)
}

fn lenient() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    options
}

/// A duplicate key: its line within the document, and the key when it is a scalar.
type Duplicate = (Option<usize>, Option<String>);

/// Parses one YAML document as kubectl does: a duplicate mapping key is no error, its last value
/// wins. The first duplicate is returned, for a warning.
fn parse(text: &str) -> Result<(Value, Option<Duplicate>), serde_saphyr::Error> {
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
    let value = serde_saphyr::from_str_with_options(text, lenient())?;
    Ok((value, Some(duplicate)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(text: &str) -> Vec<Item> {
        let mut items = Vec::new();
        split(
            &mut text.as_bytes(),
            &Arc::from("in.yaml"),
            1,
            &mut |item| items.push(item),
        )
        .expect("read");
        items
    }

    #[test]
    fn list_items_keep_their_own_lines_and_text() {
        let found = objects(
            "apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata: {name: a}\n- kind: Pod\n  metadata: {name: b}\n",
        );
        let lines: Vec<String> = found
            .iter()
            .map(|item| match item {
                Item::Object(source) => source.location(None),
                _ => panic!("objects only"),
            })
            .collect();
        assert_eq!(lines, ["in.yaml:4", "in.yaml:6"]);
    }

    #[test]
    fn kubectl_yaml_lists_are_read_item_by_item_with_errors_kept_to_their_item() {
        let found = objects(
            "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: a\n\n  # a comment\n- kind: Pod\n  metadata: {name: [broken\n-   kind: Pod\n    metadata:\n      name: c\nkind: List\nmetadata:\n  resourceVersion: \"\"\n---\nkind: PodList\nitems:\n  - metadata: {name: d}\n",
        );
        let described: Vec<String> = found
            .iter()
            .map(|item| match item {
                Item::Object(source) => format!(
                    "{} {} {:?}",
                    source.location(None),
                    source.json(),
                    source.implied_kind()
                ),
                Item::Error(error) => format!("error {}", error.location),
                Item::Warning(warning) => format!("warning {warning}"),
            })
            .collect();
        assert_eq!(
            described,
            [
                "in.yaml:3 {\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}} None",
                "error in.yaml:10",
                "in.yaml:11 {\"kind\":\"Pod\",\"metadata\":{\"name\":\"c\"}} None",
                "in.yaml:20 {\"metadata\":{\"name\":\"d\"}} Some(\"Pod\")",
            ]
        );
    }

    #[test]
    fn items_holding_a_mapping_stay_in_their_document() {
        let found = objects("kind: Widget\nitems:\n  a: 1\n");
        assert_eq!(found.len(), 1);
        assert!(
            matches!(&found[0], Item::Object(source) if source.json().contains("\"a\":1")),
            "{:?}",
            found
                .iter()
                .map(|item| matches!(item, Item::Object(_)))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_nul_byte_stops_the_input_with_what_came_before_kept() {
        let found = objects("kind: Pod\nmetadata: {name: a}\n---\nkind: Pod\n\0\0\0");
        assert_eq!(found.len(), 2);
        assert!(matches!(&found[0], Item::Object(_)));
        assert!(
            matches!(&found[1], Item::Error(error) if error.location == "in.yaml:5"),
            "{:?}",
            found.get(1).map(|item| matches!(item, Item::Error(_)))
        );
    }
}
