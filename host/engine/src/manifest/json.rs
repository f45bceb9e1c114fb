//! JSON inputs, streamed: one or more concatenated values, where a list (`kind: ...List` with
//! `items`, or a top-level array) hands over its items one by one as they are read, so a 1 GB
//! `kubectl get pods -o json` never sits in memory whole.
//!
//! This is a structural scanner, not a parser: it tracks brackets, strings and the keys of a
//! top-level object, which is all splitting needs, and leaves each object's syntax to
//! `serde_json` when a worker reads it (where an error then names the object and its line).
//! It counts lines as it goes, so every object knows the line it starts on.

use std::io::{self, BufRead};
use std::sync::Arc;

use super::{Item, error_at};
use crate::pod::{Origin, Source};

/// Bytes of a top-level key kept to recognise `kind` and `items`.
const MAX_KEY: usize = 16;
/// Bytes of a top-level `kind` value kept.
const MAX_KIND: usize = 256;

/// The bytes that matter inside a skipped value: strings and brackets.
static STRUCTURAL: [bool; 256] = {
    let mut table = [false; 256];
    table[b'"' as usize] = true;
    table[b'{' as usize] = true;
    table[b'}' as usize] = true;
    table[b'[' as usize] = true;
    table[b']' as usize] = true;
    table
};

/// Scans a skipped value from `chunk[at]` with `depth` brackets open in it: where it closes, or
/// `None` at the end of the chunk (`depth` and `string` carry over). Two tight byte loops, one
/// inside strings and one outside, as `serde_json` skips: strings here are too short for
/// `memchr` to pay.
fn skip(chunk: &[u8], mut at: usize, depth: &mut usize, string: &mut InString) -> Option<usize> {
    let end = chunk.len();
    if *string == InString::Escaped {
        if at >= end {
            return None;
        }
        at += 1;
        *string = InString::Yes;
    }
    loop {
        if *string == InString::Yes {
            loop {
                if at >= end {
                    return None;
                }
                match chunk[at] {
                    b'"' => break,
                    b'\\' => {
                        at += 1;
                        if at >= end {
                            *string = InString::Escaped;
                            return None;
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
            *string = InString::No;
            at += 1;
        }
        while at < end && !STRUCTURAL[usize::from(chunk[at])] {
            at += 1;
        }
        if at >= end {
            return None;
        }
        match chunk[at] {
            b'"' => *string = InString::Yes,
            b'{' | b'[' => *depth += 1,
            _ => {
                *depth -= 1;
                if *depth == 0 {
                    return Some(at);
                }
            }
        }
        at += 1;
    }
}

/// Newlines in `bytes` (a loop the compiler vectorises).
fn newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&byte| byte == b'\n').count()
}

/// Splits the JSON read from `reader`, whose first byte is on line `line`.
pub(super) fn split(
    reader: &mut dyn BufRead,
    path: &Arc<str>,
    line: usize,
    emit: &mut dyn FnMut(Item),
) -> io::Result<()> {
    let mut scanner = Scanner::new(path.clone(), line);
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let consumed = chunk.len();
        let stop = scanner.scan(chunk, emit);
        reader.consume(consumed);
        if stop {
            return Ok(());
        }
    }
    scanner.finish(emit);
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Key,
    Colon,
    Value,
    Comma,
}

/// What a capture holds and so where it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `{...}` or `[...]`: ends when the bracket opened at its level closes.
    Container,
    /// `"..."`: ends at its closing quote.
    String,
    /// A number, `true`, `null`, or garbage: ends before the next delimiter.
    Scalar,
}

/// The bytes of one value being read, which may span chunks.
struct Capture {
    bytes: Vec<u8>,
    /// Where it starts in the current chunk; `0` once a chunk boundary was crossed.
    from: usize,
    line: usize,
    /// Brackets open outside it.
    level: usize,
    shape: Shape,
    /// A list's item, rather than a whole top-level value.
    item: bool,
}

/// The state of a string being scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InString {
    No,
    Yes,
    Escaped,
}

/// What the scanner is collecting from a string at the top level of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collect {
    Nothing,
    Key,
    Kind,
}

struct Scanner {
    path: Arc<str>,
    /// The line of `chunk[counted]`: lines are counted only when one is needed, and in bulk.
    line: usize,
    counted: usize,
    /// Open brackets that are split further (a top-level value, a list's items array),
    /// innermost last: never more than two.
    stack: Vec<u8>,
    /// Inside a value that is only skipped to its end: the brackets open in it.
    skipping: Option<usize>,
    string: InString,
    collect: Collect,
    collected: Vec<u8>,
    capture: Option<Capture>,
    /// In a top-level object: what comes next at its top level, the last key, and `kind`.
    expect: Expect,
    key: Vec<u8>,
    kind: Option<String>,
    /// Where a list's items sit (brackets open around each) while inside the list.
    items_level: Option<usize>,
    /// The current top-level object's items were handed over one by one.
    listed: Option<usize>,
    implied: Option<Arc<str>>,
}

impl Scanner {
    fn new(path: Arc<str>, line: usize) -> Self {
        Scanner {
            path,
            line,
            counted: 0,
            stack: Vec::new(),
            skipping: None,
            string: InString::No,
            collect: Collect::Nothing,
            collected: Vec::new(),
            capture: None,
            expect: Expect::Key,
            key: Vec::new(),
            kind: None,
            items_level: None,
            listed: None,
            implied: None,
        }
    }

    /// The line of `chunk[at]`; `at` never goes back within a chunk.
    fn line_at(&mut self, chunk: &[u8], at: usize) -> usize {
        self.line += newlines(&chunk[self.counted.min(at)..at]);
        self.counted = at;
        self.line
    }

    /// Scans one chunk; true when the input cannot be read further.
    fn scan(&mut self, chunk: &[u8], emit: &mut dyn FnMut(Item)) -> bool {
        self.counted = 0;
        let mut at = 0;
        while at < chunk.len() {
            if let Some(depth) = &mut self.skipping {
                // The hot path: most of a list is the inside of its items.
                match skip(chunk, at, depth, &mut self.string) {
                    Some(end) => {
                        self.skipping = None;
                        self.closed(chunk, end, emit);
                        at = end + 1;
                        continue;
                    }
                    None => break,
                }
            }
            if self.string != InString::No {
                at = self.scan_string(chunk, at, emit);
                continue;
            }
            let byte = chunk[at];
            match byte {
                b' ' | b'\t' | b'\r' | b'\n' => self.end_scalar(chunk, at, emit),
                b'"' => {
                    self.end_scalar(chunk, at, emit);
                    self.value_starts(chunk, at, Shape::String);
                    self.string = InString::Yes;
                }
                b'{' | b'[' => {
                    self.end_scalar(chunk, at, emit);
                    self.value_starts(chunk, at, Shape::Container);
                    let level = self.stack.len();
                    if level == 0 || self.items_level == Some(level + 1) {
                        // A top-level value, or the array of a list's items: their insides
                        // are split further.
                        self.stack.push(byte);
                        if level == 0 && byte == b'{' {
                            self.expect = Expect::Key;
                        }
                    } else {
                        // Anything deeper is only skipped to its end (its syntax is left to
                        // the object's reader), without a stack: nesting costs nothing here.
                        self.skipping = Some(1);
                    }
                }
                b'}' | b']' => {
                    self.end_scalar(chunk, at, emit);
                    let open = if byte == b'}' { b'{' } else { b'[' };
                    if self.stack.pop() != Some(open) {
                        let reason = format!(
                            "unexpected `{}`; the rest of this input is skipped",
                            byte as char
                        );
                        let line = self.line_at(chunk, at);
                        emit(Item::Error(error_at(&self.path, line, reason)));
                        return true;
                    }
                    self.closed(chunk, at, emit);
                }
                b',' => {
                    self.end_scalar(chunk, at, emit);
                    if self.stack.len() == 1 && self.expect == Expect::Comma {
                        self.expect = Expect::Key;
                    }
                }
                b':' => {
                    self.end_scalar(chunk, at, emit);
                    if self.stack.len() == 1 && self.expect == Expect::Colon {
                        self.expect = Expect::Value;
                    }
                }
                _ => {
                    let running = self.capture.as_ref().is_some_and(|capture| {
                        capture.shape == Shape::Scalar && capture.level == self.stack.len()
                    });
                    let top_object = self.stack.len() == 1 && self.stack[0] == b'{';
                    if !running && (self.capture.is_none() || top_object) {
                        self.value_starts(chunk, at, Shape::Scalar);
                    }
                }
            }
            at += 1;
        }
        self.line_at(chunk, chunk.len());
        if let Some(capture) = &mut self.capture {
            capture.bytes.extend_from_slice(&chunk[capture.from..]);
            capture.from = 0;
        }
        false
    }

    /// Scans string content from `at`; returns where scanning goes on.
    fn scan_string(&mut self, chunk: &[u8], at: usize, emit: &mut dyn FnMut(Item)) -> usize {
        if self.string == InString::Escaped {
            self.string = InString::Yes;
            return at + 1;
        }
        let Some(offset) = memchr::memchr2(b'"', b'\\', &chunk[at..]) else {
            self.keep(&chunk[at..]);
            return chunk.len();
        };
        let end = at + offset;
        self.keep(&chunk[at..end]);
        match chunk[end] {
            b'\\' => self.string = InString::Escaped,
            _ => {
                self.string = InString::No;
                self.string_ends(chunk, end, emit);
            }
        }
        end + 1
    }

    /// Keeps string bytes of a top-level key or `kind`, as far as they matter.
    fn keep(&mut self, bytes: &[u8]) {
        let max = match self.collect {
            Collect::Nothing => return,
            Collect::Key => MAX_KEY,
            Collect::Kind => MAX_KIND,
        };
        let room = max.saturating_sub(self.collected.len());
        self.collected
            .extend_from_slice(&bytes[..bytes.len().min(room + 1)]);
    }

    /// A value begins at `chunk[at]`, before its bracket (if any) is pushed.
    fn value_starts(&mut self, chunk: &[u8], at: usize, shape: Shape) {
        let level = self.stack.len();
        if level == 0 {
            if chunk[at] == b'[' {
                // A top-level array: its elements are the objects.
                self.items_level = Some(1);
                self.implied = None;
            } else {
                self.kind = None;
                self.listed = None;
                self.start_capture(chunk, at, level, shape, false);
            }
            return;
        }
        if self.items_level == Some(level) {
            self.start_capture(chunk, at, level, shape, true);
            return;
        }
        if level == 1 && self.stack[0] == b'{' {
            match self.expect {
                Expect::Key if shape == Shape::String => {
                    self.collect = Collect::Key;
                    self.collected.clear();
                    self.expect = Expect::Colon;
                }
                Expect::Value => {
                    self.value_at_top(chunk[at], shape);
                    self.expect = Expect::Comma;
                }
                _ => {}
            }
        }
    }

    /// A value of a top-level object's key begins: `kind` is kept, and `items` streamed when
    /// the object is (or, kind not yet seen, may be) a list.
    fn value_at_top(&mut self, first: u8, shape: Shape) {
        match self.key.as_slice() {
            b"kind" if shape == Shape::String => {
                self.collect = Collect::Kind;
                self.collected.clear();
            }
            b"items"
                if first == b'['
                    && self
                        .kind
                        .as_deref()
                        .is_none_or(|kind| kind.ends_with("List")) =>
            {
                self.implied = self.kind.as_deref().and_then(super::implied_kind);
                self.listed = self.capture.take().map(|capture| capture.line);
                self.items_level = Some(2);
            }
            _ => {}
        }
    }

    fn start_capture(&mut self, chunk: &[u8], at: usize, level: usize, shape: Shape, item: bool) {
        let line = self.line_at(chunk, at);
        self.capture = Some(Capture {
            bytes: Vec::new(),
            from: at,
            line,
            level,
            shape,
            item,
        });
    }

    /// A string closed at `chunk[end]`.
    fn string_ends(&mut self, chunk: &[u8], end: usize, emit: &mut dyn FnMut(Item)) {
        match std::mem::replace(&mut self.collect, Collect::Nothing) {
            Collect::Key => self.key = std::mem::take(&mut self.collected),
            Collect::Kind => {
                let kind = String::from_utf8_lossy(&self.collected).into_owned();
                self.kind = Some(kind);
            }
            Collect::Nothing => {}
        }
        if self
            .capture
            .as_ref()
            .is_some_and(|capture| capture.shape == Shape::String)
            && self.capture_level() == Some(self.stack.len())
        {
            self.emit_capture(chunk, end + 1, emit);
        }
    }

    /// A bracket closed at `chunk[at]` (already popped).
    fn closed(&mut self, chunk: &[u8], at: usize, emit: &mut dyn FnMut(Item)) {
        let level = self.stack.len();
        if self.capture_level() == Some(level)
            && self
                .capture
                .as_ref()
                .is_some_and(|capture| capture.shape == Shape::Container)
        {
            self.emit_capture(chunk, at + 1, emit);
        }
        if self.items_level.is_some_and(|items| level + 1 == items) {
            // The list's array closed.
            self.items_level = None;
        }
        if level == 0 {
            self.top_level_closed(emit);
        } else if level == 1 {
            self.expect = Expect::Comma;
        }
    }

    /// A top-level value ended: say so if an object's items were streamed although its kind,
    /// read after them, names no list.
    fn top_level_closed(&mut self, emit: &mut dyn FnMut(Item)) {
        if let (Some(line), Some(kind)) = (self.listed.take(), self.kind.take())
            && !kind.ends_with("List")
        {
            let reason = format!(
                "an object of kind `{kind}` has a top-level `items` array before its kind; its items were read as objects of their own"
            );
            emit(Item::Warning(error_at(&self.path, line, reason)));
        }
    }

    fn capture_level(&self) -> Option<usize> {
        self.capture.as_ref().map(|capture| capture.level)
    }

    /// Ends a scalar capture before the delimiter at `chunk[at]`.
    fn end_scalar(&mut self, chunk: &[u8], at: usize, emit: &mut dyn FnMut(Item)) {
        if self
            .capture
            .as_ref()
            .is_some_and(|capture| capture.shape == Shape::Scalar)
            && self.capture_level() == Some(self.stack.len())
        {
            self.emit_capture(chunk, at, emit);
        }
    }

    /// Hands over the capture, which ends before `chunk[end]`.
    fn emit_capture(&mut self, chunk: &[u8], end: usize, emit: &mut dyn FnMut(Item)) {
        let Some(mut capture) = self.capture.take() else {
            return;
        };
        capture.bytes.extend_from_slice(&chunk[capture.from..end]);
        self.emit_object(capture, emit);
    }

    fn emit_object(&mut self, capture: Capture, emit: &mut dyn FnMut(Item)) {
        let line = capture.line;
        match String::from_utf8(capture.bytes) {
            Ok(text) => {
                let text = Arc::new(text);
                let range = 0..text.len();
                let origin = Origin::Json {
                    path: self.path.clone(),
                    line,
                };
                let implied = if capture.item {
                    self.implied.clone()
                } else {
                    None
                };
                emit(Item::Object(
                    Source::new(origin, text, range).with_implied_kind(implied),
                ));
            }
            Err(error) => {
                let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
                let at = line + memchr::memchr_iter(b'\n', valid).count();
                emit(Item::Error(error_at(
                    &self.path,
                    at,
                    "not UTF-8 text; this object is skipped".to_owned(),
                )));
            }
        }
    }

    /// The end of the input: a scalar ends there; anything else open is truncated.
    fn finish(mut self, emit: &mut dyn FnMut(Item)) {
        if self.string == InString::No
            && self.stack.is_empty()
            && self.skipping.is_none()
            && let Some(capture) = self.capture.take()
        {
            if capture.shape == Shape::Scalar {
                self.emit_object(capture, emit);
            }
            return;
        }
        if self.string != InString::No || !self.stack.is_empty() || self.skipping.is_some() {
            let start = self.capture.as_ref().map_or(String::new(), |capture| {
                format!(" (the object that starts on line {})", capture.line)
            });
            let reason = format!("the input ends inside a value{start}; that value is skipped");
            emit(Item::Error(error_at(&self.path, self.line, reason)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str, chunk: usize) -> Vec<Item> {
        let mut reader = io::BufReader::with_capacity(chunk, text.as_bytes());
        let mut items = Vec::new();
        split(&mut reader, &Arc::from("in.json"), 1, &mut |item| {
            items.push(item)
        })
        .expect("read");
        items
    }

    fn described(items: &[Item]) -> Vec<String> {
        items
            .iter()
            .map(|item| match item {
                Item::Object(source) => format!("{} {}", source.location(None), source.json()),
                Item::Error(error) => format!("error {error}"),
                Item::Warning(warning) => format!("warning {warning}"),
            })
            .collect()
    }

    #[test]
    fn any_chunking_gives_the_same_objects_and_lines() {
        let text = "{\"kind\": \"PodList\", \"items\": [\n{\"a\": \"x\\\"}\"},\n  {\"b\": [1, {\"c\": 2}]}\n, 7, \"s\"]}\n[{\"d\": 3}]\n{\"kind\": \"Pod\", \"items\": [1]}\n  true";
        let whole = described(&items(text, 1 << 16));
        assert_eq!(
            whole,
            [
                "in.json:2 {\"a\": \"x\\\"}\"}",
                "in.json:3 {\"b\": [1, {\"c\": 2}]}",
                "in.json:4 7",
                "in.json:4 \"s\"",
                "in.json:5 {\"d\": 3}",
                "in.json:6 {\"kind\": \"Pod\", \"items\": [1]}",
                "in.json:7 true",
            ]
        );
        for chunk in 1..12 {
            assert_eq!(described(&items(text, chunk)), whole, "chunk {chunk}");
        }
    }

    proptest::proptest! {
        // Where the reader's buffer boundaries fall must never change what is read, nor where:
        // arbitrary token soup (valid or not), read whole and in chunks of 1 to 16 bytes.
        #[test]
        fn chunk_boundaries_change_nothing(
            tokens in proptest::collection::vec(proptest::sample::select(vec![
                "{", "}", "[", "]", ",", ":", " ", "\n", "\"kind\"", "\"PodList\"", "\"items\"",
                "\"a\\\"b\"", "\"x\"", "1", "true", "\"\\\\\"",
            ]), 0..60),
            chunk in 1usize..16,
        ) {
            let text: String = tokens.concat();
            proptest::prop_assert_eq!(described(&items(&text, chunk)), described(&items(&text, 1 << 16)));
        }
    }

    #[test]
    fn items_before_kind_are_streamed_and_take_the_lists_implied_kind_only_when_it_came_first() {
        let kubectl = items(
            "{\"apiVersion\": \"v1\", \"items\": [{\"x\": 1}], \"kind\": \"List\"}",
            64,
        );
        assert_eq!(described(&kubectl), ["in.json:1 {\"x\": 1}"]);
        let Item::Object(source) = &items("{\"kind\": \"PodList\", \"items\": [{}]}", 64)[0] else {
            panic!("object expected");
        };
        assert_eq!(source.implied_kind(), Some("Pod"));
    }

    #[test]
    fn an_object_named_as_no_list_after_its_items_is_said() {
        let found = described(&items("{\"items\": [{}], \"kind\": \"Pod\"}", 64));
        assert_eq!(found.len(), 2);
        assert!(found[1].starts_with("warning in.json:1: an object of kind `Pod`"));
    }

    #[test]
    fn truncation_and_stray_brackets_are_located() {
        let found = described(&items(
            "{\"kind\":\"Pod\"}\n{\"kind\":\"Pod\",\n\"metadata\":",
            64,
        ));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[1].starts_with(
                "error in.json:3: the input ends inside a value (the object that starts on line 2)"
            ),
            "{found:?}"
        );
        let stray = described(&items("{}\n]\n{}", 64));
        assert_eq!(stray.len(), 2);
        assert!(
            stray[1].starts_with("error in.json:2: unexpected `]`"),
            "{stray:?}"
        );
    }

    #[test]
    fn deep_nesting_costs_no_memory_and_is_left_to_the_objects_reader() {
        let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let found = described(&items(&text, 4096));
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].len(),
            "in.json:1 ".len() + 199_998,
            "one object, whole"
        );
        let truncated = described(&items(&"[".repeat(100_000), 4096));
        assert!(
            truncated[0].contains("ends inside a value"),
            "{truncated:?}"
        );
    }

    #[test]
    fn invalid_utf8_skips_only_its_object() {
        let mut bytes = b"[{\"a\": 1},\n{\"b\": \"".to_vec();
        bytes.extend_from_slice(&[0xff, b'"', b'}', b',', b'{', b'}', b']']);
        let mut reader = io::BufReader::new(bytes.as_slice());
        let mut found = Vec::new();
        split(&mut reader, &Arc::from("in.json"), 1, &mut |item| {
            found.push(item)
        })
        .expect("read");
        let found = described(&found);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found[1].starts_with("error in.json:2: not UTF-8"),
            "{found:?}"
        );
        assert_eq!(found[2], "in.json:2 {}");
    }
}
