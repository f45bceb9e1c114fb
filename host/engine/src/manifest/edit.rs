//! JSON Patch operations applied to YAML and JSON manifest text in place: only the bytes an
//! operation touches change, so comments, key order, quoting, indentation, blank lines and the
//! other documents of a file stay as their author wrote them (`kube-devops fix`).
//!
//! [`documents`] parses the text into a tree of byte spans per document; [`apply`] turns each
//! operation into a text change computed from that tree, in the style around it:
//!
//! - A new block entry goes on its own line after the collection's last one, at its column.
//!   Nested objects indent by the document's step (the smallest indent of a mapping under a
//!   key, 2 without one), sequences under a key follow the document's habit (`key:\n  - a` or
//!   `key:\n- a`), an item's mapping is `- key: v` with the other keys under the first.
//! - Inside flow collections new entries are flow text: JSON syntax when the document is JSON
//!   (its root is a flow collection), so a JSON file stays JSON; on lines of their own when the
//!   collection has one entry a line (pretty-printed JSON).
//! - A scalar replaces a value in place, on its line, keeping a comment after it. A non-empty
//!   collection replacing a block collection is block text at that collection's column; one
//!   replacing a flow collection is flow text; one replacing a scalar in block context is block
//!   text under the key (or after the dash).
//! - Strings are plain when YAML 1.2 and YAML 1.1 both read them back as the same string,
//!   double-quoted with JSON escapes otherwise; `{}` and `[]` are written empty in flow style.
//! - Removing a block entry takes its lines (key through value, not the comments around);
//!   removing every entry of a block collection leaves `{}` or `[]`; a flow entry goes with
//!   one comma.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use granit_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Span, StructureStyle, Tag};
use serde_json::{Map, Value};

/// One parsed document of a manifest file.
#[derive(Debug)]
pub struct Document {
    root: Node,
    value: Value,
    line: usize,
    /// Anchors an alias refers to: editing at or inside one would change the alias too.
    referenced: HashSet<usize>,
    /// Anchor id → name, for the reasons a user reads.
    anchor_names: HashMap<usize, String>,
    /// Has an explicit key (`? key`): the parser's spans around those are not reliable
    /// enough to edit by, and manifests do not use them.
    explicit_keys: bool,
    layout: Layout,
    /// Fingerprint of the text the tree was read from, so [`apply`] refuses any other text.
    source: u64,
}

impl Document {
    fn anchor_name(&self, id: usize) -> &str {
        self.anchor_names.get(&id).map_or("?", String::as_str)
    }

    /// The document as JSON, the way serde-saphyr deserializes it into `serde_json::Value`
    /// (its default options: YAML 1.2 core schema numbers and nulls, YAML 1.1 booleans such as
    /// `yes`/`on` too; quoted scalars and `!!str` are strings; aliases resolved; `<<` merge keys
    /// applied; a duplicate key keeps its last value).
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// First line (1-based) of the document's content in the file (its `---` line when content
    /// follows the marker on it).
    pub fn line(&self) -> usize {
        self.line
    }
}

/// One RFC 6902 operation (`add`, `replace`, `remove`); its `path` is a JSON Pointer (RFC 6901,
/// with `~0` `~1` escapes) into the document's value. The remediation plan's type, so its
/// operations are applied as they are.
pub use crate::remedy::Operation;

/// An operation that could not be applied in place, and why (a user reads `reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The document's index in `documents(text)`.
    pub document: usize,
    /// The operation's path.
    pub path: String,
    /// Why it was not applied, in words.
    pub reason: String,
}

/// Why a manifest text could not be read into documents.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The text is not well-formed YAML; the position is 1-based.
    #[error("line {line}, column {column}: {message}")]
    Parse {
        line: usize,
        column: usize,
        message: String,
        #[source]
        source: Box<ScanError>,
    },
    /// Well-formed YAML without a JSON value: a tag that does not fit its scalar, a non-finite
    /// float, a collection as a key, an alias into its own node, too many alias expansions.
    /// The position (1-based) is the node's.
    #[error("line {line}, column {column}: {message}")]
    Value {
        line: usize,
        column: usize,
        message: String,
    },
}

/// Every non-empty document of `text`, in order. Documents whose value is null (a lone `---`,
/// only comments) are skipped, as serde-saphyr's `from_multiple` skips them: indices given to
/// [`apply`] are positions in this list.
pub fn documents(text: &str) -> Result<Vec<Document>, EditError> {
    let options = granit_parser::options! { emit_anchor_events: true };
    let mut parser = Parser::new_from_str_with_options(text, options);
    let mut builder = Builder {
        text,
        source: fingerprint(text),
        stack: Vec::new(),
        root: None,
        prev_end: 0,
        pending: None,
        anchor_names: HashMap::new(),
        explicit_keys: false,
        anchored_text: HashMap::new(),
        referenced: HashSet::new(),
    };
    let mut documents = Vec::new();
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|source| {
            let mark = *source.marker();
            let info = source.info();
            let message = if info.is_empty() {
                format!("{:?}", source.kind())
            } else {
                info
            };
            EditError::Parse {
                line: mark.line(),
                column: mark.col() + 1,
                message,
                source: Box::new(source),
            }
        })?;
        if let Some(document) = builder.event(event, span)? {
            documents.push(document);
        }
    }
    Ok(documents)
}

/// Applies `edits` (an index into `documents(text)`, and that document's operations; one entry
/// per document) to `text`. Every operation is relative to the original document (the caller guarantees the
/// parent of every path exists and that no path is a prefix of another in one document).
/// Returns the new text and the operations it skipped; the others are still applied.
pub fn apply(
    text: &str,
    documents: &[Document],
    edits: &[(usize, Vec<Operation>)],
) -> (String, Vec<Skipped>) {
    let source = fingerprint(text);
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut ops: Vec<(usize, &str)> = Vec::new();
    let mut skipped = Vec::new();
    let mut changes = Vec::new();
    for (index, operations) in edits {
        let document = documents.get(*index).filter(|d| d.source == source);
        let Some(document) = document else {
            let reason = if *index < documents.len() {
                "the document was read from another text"
            } else {
                "there is no such document in the file"
            };
            skipped.extend(operations.iter().map(|op| Skipped {
                document: *index,
                path: op.path().to_owned(),
                reason: reason.to_owned(),
            }));
            continue;
        };
        let mut editor = Editor {
            text,
            doc: document,
            newline,
            plans: Vec::new(),
            changes: &mut changes,
        };
        for op in operations {
            let id = ops.len();
            ops.push((*index, op.path()));
            if let Err(reason) = editor.plan(op, id) {
                skipped.push(Skipped {
                    document: *index,
                    path: op.path().to_owned(),
                    reason,
                });
            }
        }
        for (reason, failed) in editor.finish() {
            skipped.extend(failed.into_iter().filter_map(|id| {
                let (document, path) = ops.get(id)?;
                Some(Skipped {
                    document: *document,
                    path: (*path).to_owned(),
                    reason: reason.clone(),
                })
            }));
        }
    }
    // Built front to back from the original text, so every span stays valid. At one offset,
    // insertions go before a replaced range, deeper containers' insertions first (a new key
    // of `spec` goes after a new key of the container that ends where `spec` ends).
    changes.sort_by_key(|c: &Change| (c.start, c.end > c.start, std::cmp::Reverse(c.depth), c.seq));
    let mut out = String::with_capacity(text.len() + 256);
    let mut cursor = 0;
    let mut failed = BTreeSet::new();
    for change in &changes {
        let valid = cursor <= change.start
            && change.start <= change.end
            && text.is_char_boundary(change.start)
            && text.is_char_boundary(change.end);
        match (valid, text.get(cursor..change.start)) {
            (true, Some(kept)) => {
                out.push_str(kept);
                out.push_str(&change.text);
                cursor = change.end;
            }
            _ => failed.extend(change.ops.iter().copied()),
        }
    }
    out.push_str(text.get(cursor..).unwrap_or_default());
    skipped.extend(failed.into_iter().filter_map(|id| {
        let (document, path) = ops.get(id)?;
        Some(Skipped {
            document: *document,
            path: (*path).to_owned(),
            reason: "it overlaps another change in the same place".to_owned(),
        })
    }));
    (out, skipped)
}

// ---------------------------------------------------------------------------------------------
// The span tree.

/// A node and where it is in the text.
#[derive(Debug)]
struct Node {
    /// First byte, anchor and tag included.
    start: usize,
    /// First byte of the content: the scalar, `{` or `[`, the first key or dash of a block
    /// collection, a block scalar's `|` or `>`.
    body: usize,
    /// Past the content: past `}` or `]`, past a block collection's last entry, the end of a
    /// block scalar's last non-blank line.
    end: usize,
    /// Line (1-based) of `start`.
    line: usize,
    /// Column (characters, 0-based) of `body`: a block collection's key or dash column.
    col: usize,
    /// Anchor id, 0 without one.
    anchor: usize,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Scalar {
        text: String,
        style: ScalarStyle,
        tag: TagKind,
        /// A `|+`/`>+` block scalar owns its trailing blank lines: where its span ends.
        keep_end: Option<usize>,
    },
    Alias(usize),
    Mapping {
        style: Style,
        entries: Vec<Entry>,
    },
    Sequence {
        style: Style,
        items: Vec<Node>,
    },
}

#[derive(Debug)]
struct Entry {
    key: Node,
    /// The key as a JSON object key; `None` for a collection key.
    name: Option<String>,
    /// `<<` (plain, or tagged `!!merge`).
    merge: bool,
    value: Node,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Block,
    /// `{...}` or `[...]`.
    Flow,
    /// A single-pair mapping inside a flow sequence (`[a: b]`), without braces.
    Pair,
}

/// What an explicit tag makes of a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagKind {
    /// No tag, or an application tag: resolved like an untagged scalar.
    None,
    Null,
    Bool,
    Int,
    Float,
    /// `!!str`, `!`, and the other `tag:yaml.org,2002:` scalar types (binary, timestamp).
    Str,
    Merge,
    Collection,
}

impl TagKind {
    fn of(tag: Option<&Tag>) -> TagKind {
        const YAML: &str = "tag:yaml.org,2002:";
        let Some(tag) = tag else {
            return TagKind::None;
        };
        match tag.core_suffix() {
            Some("null") => return TagKind::Null,
            Some("bool") => return TagKind::Bool,
            Some("int") => return TagKind::Int,
            Some("float") => return TagKind::Float,
            Some("str") => return TagKind::Str,
            Some("map" | "seq") => return TagKind::Collection,
            _ => {}
        }
        if let Some(suffix) = tag.suffix_in_namespace(YAML) {
            return if suffix == "merge" {
                TagKind::Merge
            } else {
                TagKind::Str
            };
        }
        // Local tags named like types act as those types in serde-saphyr (`!int 5`).
        match tag.suffix_in_namespace("!").as_deref() {
            Some("" | "!" | "str" | "binary" | "timestamp") => TagKind::Str,
            Some("null") => TagKind::Null,
            Some("bool") => TagKind::Bool,
            Some("int") => TagKind::Int,
            Some("float") => TagKind::Float,
            Some("map" | "seq") => TagKind::Collection,
            _ => TagKind::None,
        }
    }
}

impl Node {
    fn style(&self) -> Option<Style> {
        match &self.kind {
            Kind::Mapping { style, .. } | Kind::Sequence { style, .. } => Some(*style),
            _ => None,
        }
    }

    fn is_block_collection(&self) -> bool {
        self.style() == Some(Style::Block)
    }

    fn is_flow_collection(&self) -> bool {
        matches!(self.style(), Some(Style::Flow | Style::Pair))
    }

    fn len(&self) -> usize {
        match &self.kind {
            Kind::Mapping { entries, .. } => entries.len(),
            Kind::Sequence { items, .. } => items.len(),
            _ => 0,
        }
    }

    /// Where the line after the node starts: where a following block entry goes.
    fn tail(&self, text: &str) -> usize {
        match &self.kind {
            Kind::Mapping {
                style: Style::Block,
                entries,
            } => entries
                .last()
                .map_or_else(|| line_after(text, self.end), |e| e.value.tail(text)),
            Kind::Sequence {
                style: Style::Block,
                items,
            } => items
                .last()
                .map_or_else(|| line_after(text, self.end), |i| i.tail(text)),
            Kind::Scalar {
                keep_end: Some(end),
                ..
            } => {
                let start = line_start(text, *end);
                if is_blank(text.get(start..*end).unwrap_or_default()) {
                    start
                } else {
                    line_after(text, *end)
                }
            }
            _ => line_after(text, self.end),
        }
    }

    /// An anchor at or inside this node that an alias refers to.
    fn shared(&self, referenced: &HashSet<usize>) -> Option<usize> {
        if self.anchor != 0 && referenced.contains(&self.anchor) {
            return Some(self.anchor);
        }
        match &self.kind {
            Kind::Mapping { entries, .. } => entries.iter().find_map(|e| {
                e.key
                    .shared(referenced)
                    .or_else(|| e.value.shared(referenced))
            }),
            Kind::Sequence { items, .. } => items.iter().find_map(|i| i.shared(referenced)),
            _ => None,
        }
    }
}

/// A collection being read.
struct Frame {
    node: Node,
    key: Option<Node>,
}

/// Builds one document's tree from parser events.
struct Builder<'t> {
    text: &'t str,
    source: u64,
    stack: Vec<Frame>,
    root: Option<Node>,
    /// End of the last structural event: where a block scalar's header is searched from.
    prev_end: usize,
    /// The last scalar or alias, attached at the next event: an anchor (`&name`) is reported
    /// right after its node, and starts it.
    pending: Option<Node>,
    anchor_names: HashMap<usize, String>,
    explicit_keys: bool,
    /// Anchor id → an anchored scalar's text, for aliases used as keys.
    anchored_text: HashMap<usize, String>,
    referenced: HashSet<usize>,
}

fn offset(marker: &Marker) -> usize {
    marker.byte_offset().unwrap_or_default()
}

impl Builder<'_> {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<Option<Document>, EditError> {
        let (s, e) = (offset(&span.start), offset(&span.end));
        if let Event::Anchor(id, name) = event {
            let node = match self.pending.as_mut() {
                Some(node) => Some(node),
                None => self.stack.last_mut().map(|frame| &mut frame.node),
            };
            if let Some(node) = node
                && node.anchor == id
                && s < node.start
            {
                node.start = s;
                node.line = span.start.line();
            }
            self.anchor_names.insert(id, name.into_owned());
            return Ok(None);
        }
        if let Some(node) = self.pending.take() {
            self.attach(node)?;
        }
        // A tag written before the content (`!!map` on the key's line) starts the node.
        let (start, line) = match span.tag_start() {
            Some(tag) if offset(&tag) < s => (offset(&tag), tag.line()),
            _ => (s, span.start.line()),
        };
        let col = span.start.col();
        let node = |body, end, anchor, kind| Node {
            start,
            body,
            end,
            line,
            col,
            anchor,
            kind,
        };
        match event {
            Event::DocumentStart(..) => {
                self.stack.clear();
                self.root = None;
                self.anchor_names.clear();
                self.explicit_keys = false;
                self.anchored_text.clear();
                self.referenced.clear();
            }
            Event::DocumentEnd => {
                self.prev_end = e;
                return self.finish();
            }
            Event::Scalar(value, style, anchor, tag) => {
                let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
                let (body, end, keep_end) = if block {
                    let body = block_indicator(self.text, self.prev_end, s);
                    let keep = body < s && header(self.text, body).contains('+');
                    (body, block_end(self.text, body, s, e), keep.then_some(e))
                } else if s == e {
                    // An empty node can be reported at the next token, lines on (past a
                    // comment, after `?`): it is where the token before it ends.
                    let at = gap_start(self.text, s).max(self.prev_end).min(s);
                    (at, at, None)
                } else {
                    (s, e, None)
                };
                if anchor != 0 {
                    self.anchored_text.insert(anchor, value.to_string());
                }
                let kind = Kind::Scalar {
                    text: value.into_owned(),
                    style,
                    tag: TagKind::of(tag.as_deref()),
                    keep_end,
                };
                let mut scalar = node(body, end, anchor, kind);
                scalar.start = scalar.start.min(body);
                self.pending = Some(scalar);
                self.prev_end = if s == e { end } else { e };
                return Ok(None);
            }
            Event::Alias(id) => {
                self.referenced.insert(id);
                self.pending = Some(node(s, e, 0, Kind::Alias(id)));
            }
            Event::MappingStart(style, anchor, _) => {
                let style = self.style(style, s, b'{');
                let kind = Kind::Mapping {
                    style,
                    entries: Vec::new(),
                };
                let frame = node(s, s, anchor, kind);
                self.stack.push(Frame {
                    node: frame,
                    key: None,
                });
            }
            Event::SequenceStart(style, anchor, _) => {
                let style = self.style(style, s, b'[');
                let kind = Kind::Sequence {
                    style,
                    items: Vec::new(),
                };
                let frame = node(s, s, anchor, kind);
                self.stack.push(Frame {
                    node: frame,
                    key: None,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let Some(Frame { mut node, key }) = self.stack.pop() else {
                    return Err(structure(&span, "a collection ends that did not start"));
                };
                if key.is_some() {
                    return Err(structure(&span, "a mapping key without a value"));
                }
                match &node.kind {
                    Kind::Mapping {
                        style: Style::Block,
                        entries,
                    } => node.end = entries.last().map_or(node.body, |e| e.value.end),
                    Kind::Sequence {
                        style: Style::Block,
                        items,
                    } => {
                        // The parser puts a block sequence's start at its first dash, or past
                        // it when the first item is empty: take the dash itself.
                        if let Some(first) = items.first()
                            && let Some(dash) = dash_before(self.text, first.start)
                        {
                            node.body = dash;
                            node.start = node.start.min(dash);
                            node.col = column(self.text, dash);
                        }
                        node.end = items.last().map_or(node.body, |i| i.end);
                    }
                    _ => node.end = e,
                }
                self.attach(node)?;
            }
            _ => return Ok(None),
        }
        self.prev_end = e;
        Ok(None)
    }

    fn style(&self, style: StructureStyle, at: usize, open: u8) -> Style {
        match style {
            StructureStyle::Block => Style::Block,
            StructureStyle::Flow if self.text.as_bytes().get(at) == Some(&open) => Style::Flow,
            StructureStyle::Flow => Style::Pair,
        }
    }

    fn attach(&mut self, node: Node) -> Result<(), EditError> {
        let Some(frame) = self.stack.last_mut() else {
            if self.root.is_some() {
                return Err(value_error(&node, "a second root node in one document"));
            }
            self.root = Some(node);
            return Ok(());
        };
        match &mut frame.node.kind {
            Kind::Sequence { items, .. } => items.push(node),
            Kind::Mapping { entries, .. } => match frame.key.take() {
                None => frame.key = Some(node),
                Some(key) => {
                    let before = text_before(self.text, key.start);
                    self.explicit_keys |= before.trim_end().ends_with('?');
                    let mut node = node;
                    // An empty value (`key:`) is reported at the key's end: put it past the
                    // colon, where a value is written.
                    if node.start == node.end
                        && let Some(colon) = colon_after(self.text, key.end)
                        && node.end < colon
                    {
                        node.start = colon;
                        node.body = colon;
                        node.end = colon;
                    }
                    let (name, merge) = match &key.kind {
                        Kind::Scalar {
                            text, style, tag, ..
                        } => (
                            Some(text.clone()),
                            text == "<<"
                                && (*tag == TagKind::Merge
                                    || (*tag == TagKind::None && *style == ScalarStyle::Plain)),
                        ),
                        Kind::Alias(id) => (self.anchored_text.get(id).cloned(), false),
                        _ => (None, false),
                    };
                    entries.push(Entry {
                        key,
                        name,
                        merge,
                        value: node,
                    });
                }
            },
            _ => return Err(value_error(&node, "a node inside a scalar")),
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Option<Document>, EditError> {
        let Some(root) = self.root.take() else {
            return Ok(None);
        };
        let mut resolver = Resolver {
            anchors: HashMap::new(),
            expanded: 0,
        };
        let (value, _) = resolver.value(&root)?;
        if value.is_null() {
            return Ok(None);
        }
        let mut layout = Layout::default();
        let mut counts = Counts::default();
        counts.walk(&root);
        layout.step = counts.steps.iter().copied().min().unwrap_or(2);
        // The most common dash offset under a key; the indentation step when there is none.
        layout.seq_offset = counts
            .seq_offsets
            .iter()
            .max_by_key(|&(offset, n)| (*n, *offset))
            .map_or(layout.step, |(offset, _)| *offset);
        layout.json = root.is_flow_collection();
        Ok(Some(Document {
            line: root.line,
            root,
            value,
            referenced: std::mem::take(&mut self.referenced),
            anchor_names: std::mem::take(&mut self.anchor_names),
            explicit_keys: self.explicit_keys,
            layout,
            source: self.source,
        }))
    }
}

fn structure(span: &Span, message: &str) -> EditError {
    EditError::Value {
        line: span.start.line(),
        column: span.start.col() + 1,
        message: message.to_owned(),
    }
}

fn value_error(node: &Node, message: &str) -> EditError {
    EditError::Value {
        line: node.line,
        column: node.col + 1,
        message: message.to_owned(),
    }
}

fn fingerprint(text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

// ---------------------------------------------------------------------------------------------
// Values, as serde-saphyr resolves them.

/// Alias expansions allowed in one document (nodes copied): a guard against alias bombs.
const MAX_EXPANDED: usize = 1 << 20;

struct Resolver {
    /// Anchor id → its value and node count.
    anchors: HashMap<usize, (Value, usize)>,
    expanded: usize,
}

impl Resolver {
    /// The node's value and how many nodes it holds.
    fn value(&mut self, node: &Node) -> Result<(Value, usize), EditError> {
        let (value, size) = match &node.kind {
            Kind::Scalar {
                text, style, tag, ..
            } => (
                scalar_value(text, *style, *tag).map_err(|m| value_error(node, &m))?,
                1,
            ),
            Kind::Alias(id) => {
                let Some((value, size)) = self.anchors.get(id) else {
                    return Err(value_error(node, "an alias to a node that contains it"));
                };
                self.expanded += size;
                if self.expanded > MAX_EXPANDED {
                    return Err(value_error(node, "aliases expand to too many nodes"));
                }
                (value.clone(), *size)
            }
            Kind::Sequence { items, .. } => {
                let mut values = Vec::with_capacity(items.len());
                let mut size = 1;
                for item in items {
                    let (value, n) = self.value(item)?;
                    values.push(value);
                    size += n;
                }
                (Value::Array(values), size)
            }
            Kind::Mapping { entries, .. } => {
                let mut map = Map::new();
                let mut merged = Vec::new();
                let mut size = 1;
                for entry in entries {
                    if entry.key.anchor != 0 {
                        // An anchored key, for aliases to it later on.
                        self.value(&entry.key)?;
                    }
                    let (value, n) = self.value(&entry.value)?;
                    size += n;
                    if entry.merge {
                        match value {
                            Value::Null => {}
                            Value::Object(m) => merged.push(m),
                            Value::Array(items) if items.iter().all(Value::is_object) => {
                                merged.extend(items.into_iter().filter_map(|v| match v {
                                    Value::Object(m) => Some(m),
                                    _ => None,
                                }));
                            }
                            _ => {
                                let message = "a merge key (`<<`) whose value is not a mapping \
                                               or a sequence of mappings";
                                return Err(value_error(&entry.value, message));
                            }
                        }
                        continue;
                    }
                    let Some(name) = &entry.name else {
                        return Err(value_error(&entry.key, "a collection as a mapping key"));
                    };
                    map.insert(name.clone(), value);
                }
                // Written keys win over merged ones, and earlier merged mappings over later.
                for m in merged {
                    for (key, value) in m {
                        map.entry(key).or_insert(value);
                    }
                }
                (Value::Object(map), size)
            }
        };
        if node.anchor != 0 {
            self.anchors.insert(node.anchor, (value.clone(), size));
        }
        Ok((value, size))
    }
}

fn scalar_value(text: &str, style: ScalarStyle, tag: TagKind) -> Result<Value, String> {
    let invalid = |what: &str| format!("`{text}` is tagged {what} but is not one");
    let t = text.trim_matches([' ', '\t', '\r', '\n']);
    match tag {
        TagKind::Null => return Ok(Value::Null),
        TagKind::Bool => {
            return yaml11_bool(t)
                .map(Value::Bool)
                .ok_or_else(|| invalid("!!bool"));
        }
        TagKind::Int => return integer(t).ok_or_else(|| invalid("!!int")),
        TagKind::Float => return finite(float(t).ok_or_else(|| invalid("!!float"))?),
        TagKind::Str | TagKind::Merge => return Ok(Value::String(text.to_owned())),
        TagKind::Collection => return Err(format!("`{text}` is a scalar tagged as a collection")),
        TagKind::None if style != ScalarStyle::Plain => return Ok(Value::String(text.to_owned())),
        TagKind::None => {}
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Ok(Value::Null);
    }
    if let Some(b) = yaml11_bool(t) {
        return Ok(Value::Bool(b));
    }
    // Uppercase radix prefixes and signed NaN stay text, as serde-saphyr keeps them.
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if matches!(unsigned.as_bytes(), [b'0', b'X' | b'O' | b'B', ..])
        || (unsigned != t && matches!(unsigned, ".nan" | ".NaN" | ".NAN"))
    {
        return Ok(Value::String(text.to_owned()));
    }
    if let Some(number) = integer(t) {
        return Ok(number);
    }
    match float(t) {
        Some(f) => finite(f),
        None => Ok(Value::String(text.to_owned())),
    }
}

fn yaml11_bool(t: &str) -> Option<bool> {
    let is = |words: [&str; 4]| words.iter().any(|w| t.eq_ignore_ascii_case(w));
    if is(["true", "yes", "y", "on"]) {
        Some(true)
    } else if is(["false", "no", "n", "off"]) {
        Some(false)
    } else {
        None
    }
}

/// A YAML 1.2 integer: decimal without leading zeros, `0x`/`0o`/`0b`, `_` between digits;
/// negative ones as i64, others as u64 (larger ones are floats).
fn integer(t: &str) -> Option<Value> {
    let (negative, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let prefixed = |p: &str| {
        rest.strip_prefix(p)
            .or_else(|| rest.strip_prefix(&p.to_ascii_uppercase()))
    };
    let (radix, digits) = if let Some(d) = prefixed("0x") {
        (16, d)
    } else if let Some(d) = prefixed("0o") {
        (8, d)
    } else if let Some(d) = prefixed("0b") {
        (2, d)
    } else {
        if rest.starts_with('0') && rest != "0" {
            return None;
        }
        (10, rest)
    };
    let bytes = digits.as_bytes();
    let mut magnitude: u128 = 0;
    let mut seen = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'_' {
            // Only between digits.
            let before = i.checked_sub(1).and_then(|j| bytes.get(j));
            let after = bytes.get(i + 1);
            if matches!(before, None | Some(b'_')) || matches!(after, None | Some(b'_')) {
                return None;
            }
            continue;
        }
        let digit = char::from(b).to_digit(radix)?;
        magnitude = magnitude
            .checked_mul(u128::from(radix))?
            .checked_add(u128::from(digit))?;
        seen = true;
    }
    if !seen {
        return None;
    }
    if negative {
        let value = i128::try_from(magnitude).ok()?.checked_neg()?;
        i64::try_from(value).ok().map(Value::from)
    } else {
        u64::try_from(magnitude).ok().map(Value::from)
    }
}

/// A float: `.inf`/`.nan` spellings, or a numeral Rust reads (alphabetic `inf`/`nan` are text).
fn float(t: &str) -> Option<f64> {
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    match unsigned {
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        ".inf" | ".Inf" | ".INF" if t.starts_with('-') => return Some(f64::NEG_INFINITY),
        ".inf" | ".Inf" | ".INF" => return Some(f64::INFINITY),
        _ => {}
    }
    let value: f64 = t.parse().ok()?;
    (value.is_finite() || unsigned.as_bytes().first().is_some_and(u8::is_ascii_digit))
        .then_some(value)
}

/// JSON has no NaN or infinity; serde-saphyr refuses them too.
fn finite(value: f64) -> Result<Value, String> {
    serde_json::Number::from_f64(value)
        .map(Value::Number)
        .ok_or_else(|| "a non-finite float (.inf, .nan), which JSON cannot hold".to_owned())
}

// ---------------------------------------------------------------------------------------------
// Layout: how the document indents, which new block text follows.

#[derive(Debug, Default)]
struct Layout {
    /// Columns between a key and the keys of its mapping value.
    step: usize,
    /// Columns between a key and the dashes of its sequence value (0: `key:\n- item`).
    seq_offset: usize,
    /// The document is JSON (its root is a flow collection): new flow text is JSON.
    json: bool,
}

#[derive(Default)]
struct Counts {
    steps: Vec<usize>,
    seq_offsets: HashMap<usize, usize>,
}

impl Counts {
    fn walk(&mut self, node: &Node) {
        match &node.kind {
            Kind::Mapping { style, entries } => {
                for entry in entries {
                    let value = &entry.value;
                    if *style == Style::Block && value.line > entry.key.line {
                        match &value.kind {
                            Kind::Mapping {
                                style: Style::Block,
                                ..
                            } if value.col > node.col => self.steps.push(value.col - node.col),
                            Kind::Sequence {
                                style: Style::Block,
                                ..
                            } if value.col >= node.col => {
                                *self.seq_offsets.entry(value.col - node.col).or_default() += 1;
                            }
                            _ => {}
                        }
                    }
                    self.walk(value);
                }
            }
            Kind::Sequence { items, .. } => items.iter().for_each(|item| self.walk(item)),
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The editor: operations to text changes.

/// One text change: `start..end` of the original text becomes `text`.
struct Change {
    start: usize,
    end: usize,
    text: String,
    /// The operations it carries out, skipped together if it cannot be applied.
    ops: Vec<usize>,
    /// Nesting of the container it inserts into: deeper first at one offset.
    depth: usize,
    seq: usize,
}

/// Where a node sits.
#[derive(Clone, Copy)]
enum Slot<'d> {
    Root,
    /// The value of `key` in mapping `map`.
    Entry {
        map: &'d Node,
        key: &'d Node,
    },
    /// An item of sequence `seq`.
    Item {
        seq: &'d Node,
    },
}

/// The entries removed from and added to one collection: computed together, because
/// neighbouring removals share separators and an emptied block collection becomes `{}`/`[]`.
struct Plan<'d> {
    node: &'d Node,
    slot: Slot<'d>,
    depth: usize,
    removed: Vec<(usize, usize)>,
    /// Before which original index (the length appends), the key, the value, the operation.
    added: Vec<(usize, Option<String>, Value, usize)>,
}

struct Editor<'a, 'd> {
    text: &'a str,
    doc: &'d Document,
    newline: &'static str,
    plans: Vec<Plan<'d>>,
    changes: &'a mut Vec<Change>,
}

type Failed = (String, Vec<usize>);

impl<'d> Editor<'_, 'd> {
    fn push(&mut self, start: usize, end: usize, text: String, ops: Vec<usize>, depth: usize) {
        let seq = self.changes.len();
        self.changes.push(Change {
            start,
            end,
            text,
            ops,
            depth,
            seq,
        });
    }

    fn plan(&mut self, op: &Operation, id: usize) -> Result<(), String> {
        if self.doc.explicit_keys {
            return Err(
                "the document has explicit keys (`? key`), which are not edited in \
                        place"
                    .to_owned(),
            );
        }
        let tokens = pointer(op.path())?;
        let Some((last, parents)) = tokens.split_last() else {
            return Err(
                "the path is the whole document; only parts of a document are edited".to_owned(),
            );
        };
        let (parent, slot) = self.walk(parents)?;
        let found = child(parent, last);
        let shared = |node: &Node| match node.shared(&self.doc.referenced) {
            Some(id) => {
                let name = self.doc.anchor_name(id);
                Err(format!(
                    "`{}` is or holds the anchored node &{name}, which an alias (*{name}) \
                     refers to; changing it would change the alias too",
                    op.path()
                ))
            }
            None => Ok(()),
        };
        match op {
            Operation::Remove { .. } => {
                let (index, node, _) = found.ok_or_else(|| missing(op.path()))?;
                shared(node)?;
                self.plan_for(parent, slot, parents.len())
                    .removed
                    .push((index, id));
            }
            Operation::Replace { value, .. } => {
                let (_, node, at) = found.ok_or_else(|| missing(op.path()))?;
                shared(node)?;
                let (start, end, text) = self.replace(node, at, value)?;
                self.push(start, end, text, vec![id], 0);
            }
            Operation::Add { value, .. } => match (&parent.kind, found) {
                (Kind::Mapping { .. }, Some((_, node, at))) => {
                    shared(node)?;
                    let (start, end, text) = self.replace(node, at, value)?;
                    self.push(start, end, text, vec![id], 0);
                }
                (Kind::Mapping { .. }, None) => {
                    let plan = self.plan_for(parent, slot, parents.len());
                    let end = plan.node.len();
                    plan.added
                        .push((end, Some(last.clone()), value.clone(), id));
                }
                (Kind::Sequence { items, .. }, _) => {
                    let before = if last == "-" {
                        items.len()
                    } else {
                        index(last).filter(|&i| i <= items.len()).ok_or_else(|| {
                            format!(
                                "`{last}` is not an index of the sequence, which has {} items",
                                items.len()
                            )
                        })?
                    };
                    let plan = self.plan_for(parent, slot, parents.len());
                    plan.added.push((before, None, value.clone(), id));
                }
                _ => return Err(format!("`{}`'s parent is not a collection", op.path())),
            },
        }
        Ok(())
    }

    /// The parent of a path, checked on the way: no alias, no shared anchor, no merge key.
    fn walk(&self, tokens: &[String]) -> Result<(&'d Node, Slot<'d>), String> {
        let mut node = &self.doc.root;
        let mut slot = Slot::Root;
        for depth in 0..=tokens.len() {
            let at = || match depth {
                0 => "the document".to_owned(),
                _ => format!("`{}`", render_pointer(&tokens[..depth])),
            };
            match &node.kind {
                Kind::Alias(_) => {
                    let alias = self.text.get(node.body..node.end).unwrap_or("*");
                    return Err(format!(
                        "{} is an alias ({alias}) of a node shared with another place; \
                         editing through it would change that place too",
                        at()
                    ));
                }
                Kind::Scalar { .. } => {
                    return Err(format!("{} is a scalar, not a mapping or sequence", at()));
                }
                Kind::Mapping {
                    style: Style::Pair, ..
                } => {
                    return Err(format!(
                        "{} is a one-pair mapping inside a flow sequence (`[a: b]`), which \
                         is not edited in place",
                        at()
                    ));
                }
                Kind::Mapping { entries, .. } if entries.iter().any(|e| e.merge) => {
                    return Err(format!(
                        "{} has merge keys (`<<`): its entries come from elsewhere too",
                        at()
                    ));
                }
                _ => {}
            }
            if node.anchor != 0 && self.doc.referenced.contains(&node.anchor) {
                let name = self.doc.anchor_name(node.anchor);
                return Err(format!(
                    "{} is anchored (&{name}) and an alias (*{name}) refers to it; editing \
                     it would change the alias too",
                    at()
                ));
            }
            let Some(token) = tokens.get(depth) else {
                break;
            };
            let (_, next, next_slot) = child(node, token)
                .ok_or_else(|| format!("`{}` is not in the document", at_token(tokens, depth)))?;
            node = next;
            slot = next_slot;
        }
        Ok((node, slot))
    }

    fn plan_for(&mut self, node: &'d Node, slot: Slot<'d>, depth: usize) -> &mut Plan<'d> {
        let at = match self.plans.iter().position(|p| std::ptr::eq(p.node, node)) {
            Some(at) => at,
            None => {
                self.plans.push(Plan {
                    node,
                    slot,
                    depth,
                    removed: Vec::new(),
                    added: Vec::new(),
                });
                self.plans.len() - 1
            }
        };
        &mut self.plans[at]
    }

    /// Turns the collection plans into changes; the operations that could not be placed.
    fn finish(&mut self) -> Vec<Failed> {
        let mut failed = Vec::new();
        for mut plan in std::mem::take(&mut self.plans) {
            plan.removed.sort_unstable();
            plan.added.sort_by_key(|a| a.0);
            let result = if plan.node.is_block_collection() {
                self.block_plan(&plan)
            } else {
                self.flow_plan(&plan)
            };
            if let Err(reason) = result {
                let ops = plan.removed.iter().map(|r| r.1);
                failed.push((reason, ops.chain(plan.added.iter().map(|a| a.3)).collect()));
            }
        }
        failed
    }

    /// Where entry or item `i` of a collection starts: its key, or its dash in a block
    /// sequence.
    fn entry_start(&self, node: &Node, i: usize) -> Result<usize, String> {
        let unplaced = || "the entry's place in the text was not found".to_owned();
        match &node.kind {
            Kind::Mapping { entries, .. } => {
                entries.get(i).map(|e| e.key.start).ok_or_else(unplaced)
            }
            Kind::Sequence { style, items } => {
                let item = items.get(i).ok_or_else(unplaced)?;
                if *style == Style::Block {
                    dash_before(self.text, item.start).ok_or_else(unplaced)
                } else {
                    Ok(item.start)
                }
            }
            _ => Err(unplaced()),
        }
    }

    /// The value of entry or item `i`.
    fn entry_value(node: &'d Node, i: usize) -> Option<&'d Node> {
        match &node.kind {
            Kind::Mapping { entries, .. } => entries.get(i).map(|e| &e.value),
            Kind::Sequence { items, .. } => items.get(i),
            _ => None,
        }
    }

    /// Where entry or item `i`'s content ends.
    fn entry_end(node: &'d Node, i: usize) -> usize {
        Self::entry_value(node, i).map_or(node.end, |value| value.end)
    }

    fn block_plan(&mut self, plan: &Plan<'d>) -> Result<(), String> {
        let node = plan.node;
        let text = self.text;
        let n = node.len();
        let removed_ops: Vec<usize> = plan.removed.iter().map(|r| r.1).collect();
        if removed_count(&plan.removed) >= n && plan.added.is_empty() {
            // Emptied: the collection becomes `{}` or `[]`.
            let empty = match node.kind {
                Kind::Mapping { .. } => Value::Object(Map::new()),
                _ => Value::Array(Vec::new()),
            };
            let (start, end, new) = self.replace(node, plan.slot, &empty)?;
            self.push(start, end, new, removed_ops, 0);
            return Ok(());
        }
        for (first, last, ops) in runs(&plan.removed) {
            let start = self.entry_start(node, first)?;
            let line = line_start(text, start);
            if is_blank(text.get(line..start).unwrap_or("-")) {
                // Whole lines: from the entry's first line through its value's last.
                let tail = Self::entry_value(node, last).map_or(node.end, |v| v.tail(text));
                let mut from = line;
                if tail == text.len() && !text.ends_with('\n') && from > 0 {
                    // The last line has no newline: take the one before it instead.
                    from -= 1;
                    if text.as_bytes().get(from.wrapping_sub(1)) == Some(&b'\r') {
                        from -= 1;
                    }
                }
                self.push(from, tail, String::new(), ops, 0);
            } else if last + 1 < n {
                // The first entry after `- `: the next one moves up to its place.
                let next = self.entry_start(node, last + 1)?;
                self.push(start, next, String::new(), ops, 0);
            } else {
                let end = Self::entry_end(node, last);
                self.push(start, end, String::new(), ops, 0);
            }
        }
        let col = node.col;
        let pad = " ".repeat(col);
        let nl = self.newline;
        let mut appended = String::new();
        let mut appended_ops = Vec::new();
        for (before, key, value, op) in &plan.added {
            let entry = match key {
                Some(key) => format!("{}{}", self.key(key), self.after_key(value, col)),
                None => format!("- {}", self.block(value, col + 2)),
            };
            if *before < n {
                let at = self.entry_start(node, *before)?;
                self.push(at, at, format!("{entry}{nl}{pad}"), vec![*op], plan.depth);
            } else {
                appended.push_str(&format!("{pad}{entry}{nl}"));
                appended_ops.push(*op);
            }
        }
        if !appended_ops.is_empty() {
            let at = node.tail(text);
            if at == text.len() && !text.is_empty() && !text.ends_with('\n') {
                // No newline at the end of the file: the new lines go before one, none after.
                appended.truncate(appended.len() - nl.len());
                appended.insert_str(0, nl);
            }
            self.push(at, at, appended, appended_ops, plan.depth);
        }
        Ok(())
    }

    fn flow_plan(&mut self, plan: &Plan<'d>) -> Result<(), String> {
        let node = plan.node;
        let text = self.text;
        let n = node.len();
        let close = node.end.saturating_sub(1);
        let open = node.body + 1;
        if node.style() != Some(Style::Flow)
            || !matches!(text.as_bytes().get(close), Some(b'}' | b']'))
        {
            return Err("the collection's brackets were not found".to_owned());
        }
        // One entry a line (pretty-printed JSON): new entries get lines of their own too.
        let sep = match n.checked_sub(1).map(|i| self.entry_start(node, i)) {
            // (A newline looked for inside the collection only: a minified file is one line.)
            Some(Ok(last))
                if text.get(node.body..last).is_some_and(|t| t.contains('\n'))
                    && is_blank(prefix(text, last)) =>
            {
                format!(",{}{}", self.newline, prefix(text, last))
            }
            _ => ", ".to_owned(),
        };
        let render = |editor: &Self, key: &Option<String>, value: &Value| match key {
            Some(key) => format!("{}: {}", editor.flow_scalar(key), editor.flow(value)),
            None => editor.flow(value),
        };
        if removed_count(&plan.removed) >= n {
            // Empty, or emptied: everything between the brackets is rewritten.
            let new: Vec<String> = plan
                .added
                .iter()
                .map(|(_, k, v, _)| render(self, k, v))
                .collect();
            let mut ops: Vec<usize> = plan.removed.iter().map(|r| r.1).collect();
            ops.extend(plan.added.iter().map(|a| a.3));
            self.push(open, close, new.join(", "), ops, plan.depth);
            return Ok(());
        }
        for (first, last, ops) in runs(&plan.removed) {
            if last + 1 < n {
                let (start, next) = (
                    self.entry_start(node, first)?,
                    self.entry_start(node, last + 1)?,
                );
                self.push(start, next, String::new(), ops, 0);
            } else {
                // The last entries: from the end of the entry before them, with its comma.
                let from = Self::entry_end(node, first.saturating_sub(1));
                let to = Self::entry_end(node, last);
                self.push(from, to, String::new(), ops, 0);
            }
        }
        let mut appended = String::new();
        let mut appended_ops = Vec::new();
        for (before, key, value, op) in &plan.added {
            let entry = render(self, key, value);
            if *before < n {
                let at = self.entry_start(node, *before)?;
                self.push(at, at, format!("{entry}{sep}"), vec![*op], plan.depth);
            } else {
                appended.push_str(&sep);
                appended.push_str(&entry);
                appended_ops.push(*op);
            }
        }
        if !appended_ops.is_empty() {
            let at = Self::entry_end(node, n - 1);
            self.push(at, at, appended, appended_ops, plan.depth);
        }
        Ok(())
    }

    /// The change that makes node `t`, at `slot`, hold `value`: a range and its new text.
    fn replace(
        &self,
        t: &Node,
        slot: Slot<'_>,
        value: &Value,
    ) -> Result<(usize, usize, String), String> {
        let text = self.text;
        let nl = self.newline;
        let parent = match slot {
            Slot::Root => None,
            Slot::Entry { map, .. } => Some(map),
            Slot::Item { seq } => Some(seq),
        };
        let Some(parent) = parent.filter(|p| p.is_block_collection()) else {
            return Ok((t.start, t.end, self.flow(value)));
        };
        let filled = match value {
            Value::Object(m) => !m.is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => false,
        };
        // Block text for a collection, unless it replaces a flow collection (kept flow).
        let block = filled && !t.is_flow_collection();
        let lead = if text
            .get(..t.start)
            .unwrap_or_default()
            .ends_with(|c: char| !c.is_whitespace())
        {
            " "
        } else {
            ""
        };
        match slot {
            Slot::Entry { key, .. } => {
                // A block collection's column is kept, but a mapping goes deeper than its key
                // even where the sequence it replaces was not (`key:\n- item`).
                let keep_col = t.is_block_collection() && (value.is_array() || t.col > parent.col);
                if block && keep_col && is_blank(prefix(text, t.start)) {
                    let col = column(text, t.start);
                    return Ok((t.start, t.end, self.block(value, col)));
                }
                if block || t.is_block_collection() {
                    // From right after the key's colon: `key:` then new lines, or `key: text`.
                    let colon = colon_after(text, key.end)
                        .ok_or_else(|| "the key's `:` was not found".to_owned())?;
                    if block {
                        let col = if keep_col {
                            t.col
                        } else if value.is_array() {
                            parent.col + self.doc.layout.seq_offset
                        } else {
                            parent.col + self.doc.layout.step
                        };
                        let new = format!("{nl}{}{}", " ".repeat(col), self.block(value, col));
                        return Ok((colon, t.end, new));
                    }
                    return Ok((colon, t.end, format!(" {}", self.inline(value))));
                }
                Ok((t.start, t.end, format!("{lead}{}", self.inline(value))))
            }
            _ if block => {
                let col = column(text, t.start) + lead.len();
                Ok((t.start, t.end, format!("{lead}{}", self.block(value, col))))
            }
            _ => Ok((t.start, t.end, format!("{lead}{}", self.inline(value)))),
        }
    }

    // --- Rendering ----------------------------------------------------------------------------

    /// `value` in block style, its first line placed by the caller at column `col`, the
    /// others indented to it.
    fn block(&self, value: &Value, col: usize) -> String {
        let mut out = String::new();
        let next = format!("{}{}", self.newline, " ".repeat(col));
        match value {
            Value::Object(m) if !m.is_empty() => {
                for (i, (key, value)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&next);
                    }
                    out.push_str(&self.key(key));
                    out.push_str(&self.after_key(value, col));
                }
            }
            Value::Array(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&next);
                    }
                    out.push_str("- ");
                    out.push_str(&self.block(item, col + 2));
                }
            }
            _ => out.push_str(&self.inline(value)),
        }
        out
    }

    /// What follows a block key at column `col`: `: scalar`, or `:` and nested lines.
    fn after_key(&self, value: &Value, col: usize) -> String {
        let offset = match value {
            Value::Object(m) if !m.is_empty() => self.doc.layout.step,
            Value::Array(a) if !a.is_empty() => self.doc.layout.seq_offset,
            _ => return format!(": {}", self.inline(value)),
        };
        let col = col + offset;
        format!(
            ":{}{}{}",
            self.newline,
            " ".repeat(col),
            self.block(value, col)
        )
    }

    fn key(&self, key: &str) -> String {
        scalar_text(key, false)
    }

    /// A value on one line in block context: scalars plain when safe, collections in flow.
    fn inline(&self, value: &Value) -> String {
        match value {
            Value::String(s) => scalar_text(s, false),
            Value::Object(_) | Value::Array(_) => self.flow(value),
            other => other.to_string(),
        }
    }

    /// A value in flow style: JSON in a JSON document.
    fn flow(&self, value: &Value) -> String {
        match value {
            Value::Object(m) => {
                let entries: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{}: {}", self.flow_scalar(k), self.flow(v)))
                    .collect();
                format!("{{{}}}", entries.join(", "))
            }
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(|v| self.flow(v)).collect();
                format!("[{}]", items.join(", "))
            }
            Value::String(s) => self.flow_scalar(s),
            other => other.to_string(),
        }
    }

    fn flow_scalar(&self, s: &str) -> String {
        if self.doc.layout.json {
            quote(s)
        } else {
            scalar_text(s, true)
        }
    }
}

/// Entry `token` of a collection: its index, node and slot.
fn child<'d>(node: &'d Node, token: &str) -> Option<(usize, &'d Node, Slot<'d>)> {
    match &node.kind {
        // The last of duplicate keys: the one the value holds.
        Kind::Mapping { entries, .. } => entries
            .iter()
            .enumerate()
            .rev()
            .find(|(_, e)| e.name.as_deref() == Some(token))
            .map(|(i, e)| {
                let slot = Slot::Entry {
                    map: node,
                    key: &e.key,
                };
                (i, &e.value, slot)
            }),
        Kind::Sequence { items, .. } => {
            let i = index(token)?;
            items.get(i).map(|item| (i, item, Slot::Item { seq: node }))
        }
        _ => None,
    }
}

fn missing(path: &str) -> String {
    format!("`{path}` is not in the document")
}

/// Consecutive removed indices, with their operations: neighbours are removed in one change.
fn runs(removed: &[(usize, usize)]) -> Vec<(usize, usize, Vec<usize>)> {
    let mut runs: Vec<(usize, usize, Vec<usize>)> = Vec::new();
    for &(index, op) in removed {
        match runs.last_mut() {
            Some((_, last, ops)) if *last == index || *last + 1 == index => {
                *last = index;
                ops.push(op);
            }
            _ => runs.push((index, index, vec![op])),
        }
    }
    runs
}

/// Distinct indices removed (an index removed twice counts once).
fn removed_count(removed: &[(usize, usize)]) -> usize {
    runs(removed)
        .iter()
        .map(|(first, last, _)| last - first + 1)
        .sum()
}

// ---------------------------------------------------------------------------------------------
// JSON pointers.

fn pointer(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!(
            "`{path}` is not a JSON pointer, which starts with `/`"
        ));
    };
    rest.split('/')
        .map(|token| {
            let mut out = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                match (c, c == '~') {
                    (_, false) => out.push(c),
                    (_, true) => match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => return Err(format!("`{path}` has a `~` that is not `~0` or `~1`")),
                    },
                }
            }
            Ok(out)
        })
        .collect()
}

fn render_pointer(tokens: &[String]) -> String {
    tokens
        .iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect()
}

fn at_token(tokens: &[String], depth: usize) -> String {
    render_pointer(&tokens[..(depth + 1).min(tokens.len())])
}

/// A sequence index: digits without a leading zero.
fn index(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Scalars.

/// A string as a YAML scalar: plain when YAML 1.2 core and YAML 1.1 both read it back as
/// this string, double-quoted (JSON escapes) otherwise.
fn scalar_text(s: &str, flow: bool) -> String {
    if plain_is_safe(s, flow) {
        s.to_owned()
    } else {
        quote(s)
    }
}

fn plain_is_safe(s: &str, flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    // A digit could start a number, date or sexagesimal in YAML 1.2 or 1.1 (`100m` cannot);
    // signs and dots could too (`-1`, `.5`, `.inf`); the rest are indicators.
    let number_like = first.is_ascii_digit()
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() || "._:+- xXoOtTzZ".contains(c));
    let risky_start = number_like || "+-.~?:,[]{}#&*!|>'\"%@`<= \t".contains(first);
    let risky_word = ["null", "true", "false", "yes", "no", "on", "off", "y", "n"]
        .iter()
        .any(|w| s.eq_ignore_ascii_case(w));
    let plain_chars = s
        .chars()
        .all(|c| c.is_alphanumeric() || " -_./:=+@$%()^~,;".contains(c));
    let flow_risk = flow && s.contains([',', '[', ']', '{', '}', ':']);
    !(risky_start
        || risky_word
        || !plain_chars
        || flow_risk
        || s.ends_with([' ', ':'])
        || s.contains(": "))
}

/// A double-quoted scalar that is also a JSON string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Not printable in YAML: escaped.
            c if c < ' '
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || matches!(c, '\u{feff}' | '\u{fffe}' | '\u{ffff}') =>
            {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------------------------
// Text scanning. Positions are byte offsets; every one returned is at an ASCII byte or a
// line's start, so a char boundary.

fn line_start(text: &str, pos: usize) -> usize {
    let bytes = text.as_bytes();
    bytes[..pos.min(bytes.len())]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1)
}

/// Past the newline ending the line `pos` is on (the text's end on the last line).
fn line_after(text: &str, pos: usize) -> usize {
    let bytes = text.as_bytes();
    let from = pos.min(bytes.len());
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| from + i + 1)
}

/// Where the line `pos` is on ends, before its `\n` or `\r\n`.
fn line_end(text: &str, pos: usize) -> usize {
    let end = line_after(text, pos);
    let bytes = text.as_bytes();
    let mut end = if end > pos.min(bytes.len()) && bytes.get(end - 1) == Some(&b'\n') {
        end - 1
    } else {
        end
    };
    if end > pos && bytes.get(end - 1) == Some(&b'\r') {
        end -= 1;
    }
    end
}

/// The text of `pos`'s line before it.
fn prefix(text: &str, pos: usize) -> &str {
    text.get(line_start(text, pos)..pos).unwrap_or("-")
}

fn text_before(text: &str, pos: usize) -> &str {
    text.get(..pos).unwrap_or_default()
}

fn is_blank(s: &str) -> bool {
    s.bytes().all(|b| b == b' ' || b == b'\t')
}

fn column(text: &str, pos: usize) -> usize {
    prefix(text, pos).chars().count()
}

/// Past the `:` after a key ending at `from` (spaces, line breaks and comments between).
fn colon_after(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut p = from;
    loop {
        match bytes.get(p)? {
            b' ' | b'\t' | b'\r' | b'\n' => p += 1,
            b'#' => p = line_after(text, p),
            b':' => return Some(p + 1),
            _ => return None,
        }
    }
}

/// The dash of the block sequence item starting at `pos` (spaces, line breaks and comments
/// between).
fn dash_before(text: &str, pos: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut p = pos.min(bytes.len());
    loop {
        while p > 0 && matches!(bytes[p - 1], b' ' | b'\t' | b'\r' | b'\n') {
            p -= 1;
        }
        match p.checked_sub(1).map(|i| bytes[i]) {
            Some(b'-') => return Some(p - 1),
            None => return None,
            Some(_) => {
                // The end of a comment: go back to its `#`.
                let start = line_start(text, p);
                let line = &bytes[start..p];
                let hash = (0..line.len()).find(|&i| {
                    line[i] == b'#' && (i == 0 || matches!(line[i - 1], b' ' | b'\t'))
                })?;
                p = start + hash;
            }
        }
    }
}

/// Where the spaces, line breaks and comments before `pos` start.
fn gap_start(text: &str, pos: usize) -> usize {
    let bytes = text.as_bytes();
    let mut p = pos.min(bytes.len());
    loop {
        while p > 0 && matches!(bytes[p - 1], b' ' | b'\t' | b'\r' | b'\n') {
            p -= 1;
        }
        let start = line_start(text, p);
        let line = &bytes[start..p];
        match (0..line.len()).find(|&i| line[i] == b'#' && (i == 0 || line[i - 1] == b' ')) {
            Some(hash) => p = start + hash,
            None => return p,
        }
    }
}

/// A block scalar's `|` or `>`, searched from the end of the previous token up to its
/// content (past `:`, `-`, anchors, tags and comments); the content itself if not found.
fn block_indicator(text: &str, from: usize, content: usize) -> usize {
    let bytes = text.as_bytes();
    let mut p = from;
    while p < content {
        match bytes.get(p) {
            Some(b'|' | b'>') => return p,
            Some(b'#') if p == 0 || matches!(bytes[p - 1], b' ' | b'\t' | b'\n' | b'\r') => {
                p = line_after(text, p);
            }
            Some(b'&' | b'!') => {
                while p < content && !matches!(bytes.get(p), Some(b' ' | b'\t' | b'\r' | b'\n')) {
                    p += 1;
                }
            }
            Some(_) => p += 1,
            None => break,
        }
    }
    content
}

/// A block scalar header (`|-2`): its indicators, before any comment.
fn header(text: &str, indicator: usize) -> &str {
    let end = line_end(text, indicator);
    let line = text.get(indicator..end).unwrap_or_default();
    line.split(" #").next().unwrap_or_default()
}

/// The end of a block scalar's last non-blank line: the parser's span runs on over
/// trailing blank lines and the next line's indentation.
fn block_end(text: &str, indicator: usize, start: usize, end: usize) -> usize {
    let content = text.get(start..end).unwrap_or_default();
    match content.rfind(|c: char| !c.is_whitespace()) {
        Some(i) => line_end(text, start + i),
        None => line_end(text, indicator),
    }
}

#[cfg(test)]
mod tests;
