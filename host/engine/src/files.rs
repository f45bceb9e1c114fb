//! The inputs `-f PATH...` names: standard input when asked, and each regular file once, however
//! many paths and links lead to it.
//!
//! Directories are walked in name order, following symbolic links (a linked directory of
//! manifests is common), but every directory and file is known by its device and inode: a link
//! cycle is walked once and reported once, and a file reached twice (an alias, `-f F -f F`) is
//! read once. In a walk, anything that is not a regular file (a FIFO, a socket, a device, a link
//! to `/dev/zero`) is skipped with a warning, since reading it could block forever or never end.
//! A path named on the command line is read whatever it is (`<(generate)` is a pipe), bounded by
//! the reader's byte limit.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::pod::InputError;

/// The path that means standard input.
pub(crate) const STDIN: &str = "-";
/// Extensions read when a directory is given.
const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    /// How messages name it.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_owned(),
            Input::File(path) => path.display().to_string(),
        }
    }
}

/// What the paths resolve to.
#[derive(Debug, Default)]
pub struct Inputs {
    pub inputs: Vec<Input>,
    /// Paths that cannot be read at all: exit 3.
    pub errors: Vec<InputError>,
    /// Passed over, and said so: a link cycle, a FIFO in a directory, a second path to a file.
    pub warnings: Vec<InputError>,
}

/// Resolves `paths` to the inputs to read, in order.
pub fn resolve(paths: &[PathBuf]) -> Inputs {
    let mut walk = Walk::default();
    for path in paths {
        if path.as_os_str() == STDIN || path == Path::new("/dev/stdin") {
            if !walk.stdin {
                walk.stdin = true;
                walk.found.inputs.push(Input::Stdin);
            }
            continue;
        }
        match std::fs::metadata(path) {
            Err(error) => walk
                .found
                .errors
                .push(at(path, format!("cannot read: {error}"))),
            Ok(meta) if meta.is_dir() => {
                let before = walk.found.inputs.len();
                if walk.directory(path, &meta) && walk.found.inputs.len() == before {
                    walk.found.errors.push(at(
                        path,
                        "no .yaml, .yml or .json files in this directory".to_owned(),
                    ));
                }
            }
            // Named on the command line: read whatever it is (a pipe from `<(...)` is one).
            Ok(meta) => walk.file(path, &meta, true),
        }
    }
    walk.found
}

/// Device and inode: what a file is, whatever path reaches it.
type Identity = (u64, u64);

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> Identity {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[derive(Default)]
struct Walk {
    found: Inputs,
    stdin: bool,
    files: HashSet<Identity>,
    /// Directories walked so far: a link back to one is a cycle.
    dirs: HashSet<Identity>,
}

impl Walk {
    /// Walks `dir` unless it was walked already (a cycle, or given twice); false then.
    fn directory(&mut self, dir: &Path, meta: &std::fs::Metadata) -> bool {
        if !self.dirs.insert(identity(meta)) {
            self.found.warnings.push(at(
                dir,
                "a directory already read (a symbolic link loops back to it, or it was given twice); skipped".to_owned(),
            ));
            return false;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) => {
                self.found
                    .errors
                    .push(at(dir, format!("cannot read directory: {error}")));
                return true;
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .collect();
        paths.sort();
        for path in paths {
            // Follows links: what the entry leads to decides.
            let meta = match std::fs::metadata(&path) {
                Ok(meta) => meta,
                Err(error) => {
                    if has_manifest_extension(&path) || path.is_symlink() {
                        self.found
                            .warnings
                            .push(at(&path, format!("cannot read, skipped: {error}")));
                    }
                    continue;
                }
            };
            if meta.is_dir() {
                if !is_source_tree_noise(&path) {
                    self.directory(&path, &meta);
                }
            } else if has_manifest_extension(&path) {
                self.file(&path, &meta, false);
            }
        }
        true
    }

    fn file(&mut self, path: &Path, meta: &std::fs::Metadata, named: bool) {
        if !named && !meta.is_file() {
            self.found.warnings.push(at(
                path,
                "not a regular file (a FIFO, socket or device); skipped".to_owned(),
            ));
            return;
        }
        // A pipe or device named twice is still one stream; regular files by identity.
        if !self.files.insert(identity(meta)) {
            self.found.warnings.push(at(
                path,
                "a file already read (through another path or link); skipped".to_owned(),
            ));
            return;
        }
        self.found.inputs.push(Input::File(path.to_owned()));
    }
}

fn has_manifest_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| EXTENSIONS.contains(&ext))
}

/// Directories a manifest folder in a source tree holds but never means: installed JavaScript
/// packages (thousands of JSON files) and hidden ones (`.git`, `.github`, editors' state).
/// A path given by name is always read.
fn is_source_tree_noise(dir: &Path) -> bool {
    dir.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name == "node_modules" || name.starts_with('.'))
}

fn at(path: &Path, reason: String) -> InputError {
    InputError {
        location: path.display().to_string(),
        reason,
    }
}
