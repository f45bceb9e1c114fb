//! Manifest files to objects: paths, directories and stdin; YAML and JSON; multi-document files
//! and lists.
//!
//! Reading streams: objects are handed over as they are read ([`stream`]), a JSON list item by
//! item ([`json`]) and YAML document by document ([`yaml`]), so memory does not grow with the
//! input. Splitting is cheap and single-threaded; reading the objects themselves
//! ([`crate::pod::read`]) is left to the analysis workers. A broken document is reported with
//! its file and line and the rest of the input still counts.

pub mod edit;
mod json;
mod yaml;

use std::io::{self, BufRead, Read};
use std::path::PathBuf;
use std::sync::Arc;

use crate::files;
pub use crate::files::{Input, Inputs, resolve};
use crate::pod::{InputError, Source};

/// Bytes one input may hold by default (`--max-input-bytes`): an endless input (a link to
/// `/dev/zero`, `yes | kube-devops analyze -f -`) stops here instead of running forever.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 4 << 30;

/// Read-ahead of one input: large enough that reading costs little per byte.
const BUFFER: usize = 256 << 10;

/// What reading hands over, in input order.
#[derive(Debug)]
pub enum Item {
    Object(Source),
    /// Something could not be read; the rest still counts.
    Error(InputError),
    /// Passed over, or read with a caveat (a link cycle, a FIFO, a duplicate key).
    Warning(InputError),
}

/// Objects found in the inputs, in input order, the inputs that could not be read, and what
/// was passed over with a warning.
#[derive(Debug, Default)]
pub struct Manifests {
    pub sources: Vec<Source>,
    pub errors: Vec<InputError>,
    pub warnings: Vec<InputError>,
}

impl Manifests {
    fn add(&mut self, item: Item) {
        match item {
            Item::Object(source) => self.sources.push(source),
            Item::Error(error) => self.errors.push(error),
            Item::Warning(warning) => self.warnings.push(warning),
        }
    }
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

/// Reads every path into memory: see [`stream`].
pub fn read_paths(paths: &[PathBuf]) -> Manifests {
    read_paths_with(paths, ReadOptions::default())
}

/// [`read_paths`] with a byte limit of one's own.
pub fn read_paths_with(paths: &[PathBuf], options: ReadOptions) -> Manifests {
    let mut manifests = Manifests::default();
    stream(paths, options, &mut |item| manifests.add(item));
    manifests
}

/// Reads every path: a file, a directory (recursively, `.yaml`, `.yml` and `.json` files in name
/// order, skipping `node_modules` and hidden directories; each file once, see [`files`]) or `-`
/// for standard input, handing each object, error and warning to `emit` as it is read.
pub fn stream(paths: &[PathBuf], options: ReadOptions, emit: &mut dyn FnMut(Item)) {
    let resolved = files::resolve(paths);
    resolved
        .warnings
        .into_iter()
        .for_each(|w| emit(Item::Warning(w)));
    resolved
        .errors
        .into_iter()
        .for_each(|e| emit(Item::Error(e)));
    for input in &resolved.inputs {
        let name: Arc<str> = Arc::from(input.name());
        match input {
            Input::Stdin => read_input(&name, io::stdin().lock(), options, emit),
            Input::File(path) => match std::fs::File::open(path) {
                Ok(file) => read_input(&name, file, options, emit),
                Err(error) => emit(Item::Error(error_at(
                    &name,
                    0,
                    format!("cannot read: {error}"),
                ))),
            },
        }
    }
}

/// Splits one input's text into objects, in memory (tests, benchmarks, plugin test cases).
pub fn split(path: Arc<str>, text: String, manifests: &mut Manifests) {
    read_input(
        &path,
        text.as_bytes(),
        ReadOptions::default(),
        &mut |item| manifests.add(item),
    );
}

/// Reads one input: JSON when it starts with `{` or `[`, YAML otherwise.
fn read_input(
    name: &Arc<str>,
    reader: impl Read,
    options: ReadOptions,
    emit: &mut dyn FnMut(Item),
) {
    let mut reader = io::BufReader::with_capacity(
        BUFFER,
        Limited {
            inner: reader,
            left: options.max_input_bytes,
        },
    );
    let read = skip_blank(&mut reader).and_then(|(first, line)| match first {
        None => Ok(()),
        Some(b'{' | b'[') => json::split(&mut reader, name, line, emit),
        Some(_) => yaml::split(&mut reader, name, line, emit),
    });
    if let Err(error) = read {
        let reason = if error.get_ref().is_some_and(|inner| inner.is::<TooLarge>()) {
            format!(
                "more than {} bytes (the limit; --max-input-bytes raises it); the rest of it is not read",
                options.max_input_bytes
            )
        } else {
            format!("cannot read: {error}")
        };
        emit(Item::Error(error_at(name, 0, reason)));
    }
}

/// Consumes leading whitespace; the first byte after it, and its line.
fn skip_blank(reader: &mut impl BufRead) -> io::Result<(Option<u8>, usize)> {
    let mut line = 1;
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok((None, line));
        }
        match buffer.iter().position(|byte| !byte.is_ascii_whitespace()) {
            Some(at) => {
                // Lines are kept whole for YAML, whose indentation matters: only whole
                // blank lines are consumed.
                let first = buffer[at];
                let line_start = buffer[..at]
                    .iter()
                    .rposition(|&byte| byte == b'\n')
                    .map_or(0, |newline| newline + 1);
                line += buffer[..line_start].iter().filter(|&&b| b == b'\n').count();
                reader.consume(line_start);
                return Ok((Some(first), line));
            }
            None => {
                let length = buffer.len();
                line += buffer.iter().filter(|&&b| b == b'\n').count();
                reader.consume(length);
            }
        }
    }
}

/// An input that errs with [`TooLarge`] past a byte limit.
struct Limited<R> {
    inner: R,
    left: u64,
}

/// The byte limit was reached with more to read.
#[derive(Debug, thiserror::Error)]
#[error("the input is larger than the byte limit")]
struct TooLarge;

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // At the limit: one more byte means the input is too large.
            return match self.inner.read(&mut [0])? {
                0 => Ok(0),
                _ => Err(io::Error::other(TooLarge)),
            };
        }
        let room = buffer
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buffer[..room])?;
        self.left -= read as u64;
        Ok(read)
    }
}

/// `PodList` → `Pod`; the generic `List` implies nothing.
fn implied_kind(list_kind: &str) -> Option<Arc<str>> {
    list_kind
        .strip_suffix("List")
        .filter(|kind| !kind.is_empty())
        .map(Arc::from)
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
        assert_eq!(manifests.sources[1].location(None), "in.yaml:7");
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
