//! `kube-devops fix`: the fixes of the enabled checks' findings, written into the manifests in
//! place (or shown as a diff), everything else left byte for byte.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::FixArgs;
use super::analyze::{Loaded, load};
use super::output::Exit;
use kube_devops_engine::analysis::worker::Worker;
use kube_devops_engine::manifest::{Input, resolve};
use kube_devops_engine::remedy::{FileFix, fix_manifest};

pub async fn run(args: &FixArgs) -> Exit {
    let Loaded {
        config,
        catalog,
        kinds,
    } = match load(&args.plugins).await {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    let resolved = resolve(&args.files);
    for warning in &resolved.warnings {
        eprintln!("warning: {warning}");
    }
    let mut invalid = resolved.errors.len();
    for error in &resolved.errors {
        eprintln!("error: {error}");
    }
    let mut worker = Worker::new(&catalog).remediating(config.remediation.defaults());
    let (mut fixes, mut files_changed, mut unfixable) = (0, 0, 0);
    for input in &resolved.inputs {
        let name = input.name();
        let text = match read(input) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("error: {name}: cannot read: {error}");
                invalid += 1;
                continue;
            }
        };
        let fixed = fix_manifest(&mut worker, &kinds, &name, &text);
        invalid += report(&fixed);
        fixes += fixed.fixed;
        unfixable += fixed.unfixable;
        if fixed.text == text {
            continue;
        }
        files_changed += 1;
        let shown = match (input, args.write) {
            (Input::File(path), true) => write(path, &fixed.text),
            (Input::Stdin, true) => super::output::print(fixed.text.clone()),
            _ => super::output::print(diff(&name, &text, &fixed.text)),
        };
        if shown != Exit::Success {
            return shown;
        }
    }
    let verb = if args.write { "applied" } else { "would apply" };
    eprintln!(
        "{verb} {fixes} fix(es) in {files_changed} file(s); {unfixable} finding(s) have no fix"
    );
    if invalid > 0 {
        eprintln!(
            "error: {invalid} input(s) or document(s) could not be read (listed above); the rest was fixed"
        );
        return Exit::InvalidInput;
    }
    if args.check && files_changed > 0 {
        return Exit::GateFailed;
    }
    Exit::Success
}

fn read(input: &Input) -> std::io::Result<String> {
    match input {
        Input::Stdin => {
            let mut text = String::new();
            std::io::stdin().lock().read_to_string(&mut text)?;
            Ok(text)
        }
        Input::File(path) => std::fs::read_to_string(path),
    }
}

/// Prints what was left out of one file's fixes; returns how many documents could not be read.
fn report(fixed: &FileFix) -> usize {
    for (object, dropped) in &fixed.dropped {
        let container = dropped
            .container
            .as_deref()
            .map(|name| format!(" (container `{name}`)"))
            .unwrap_or_default();
        eprintln!(
            "warning: {object}: the fix of `{}`{container} is not applied: {}",
            dropped.check, dropped.reason
        );
    }
    for (at, skipped) in &fixed.skipped {
        eprintln!(
            "warning: {at}: `{}` is not changed in place: {}",
            skipped.path, skipped.reason
        );
    }
    for diagnostic in &fixed.diagnostics {
        eprintln!("warning: {}", diagnostic.message);
    }
    for error in &fixed.errors {
        eprintln!("error: {error}");
    }
    fixed.errors.len()
}

/// A unified diff `git apply` and `patch -p1` take.
pub(super) fn diff(name: &str, before: &str, after: &str) -> String {
    // Patience anchors on the lines that occur once (names, comments), so the many small
    // insertions of a big file cost little; Myers took 30 s on 2 000 fixed Deployments.
    similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Patience)
        .diff_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

/// Replaces the file (the one a link points to) at once: a crash leaves the old text or the
/// new, never half of it. Permissions are kept.
fn write(path: &Path, text: &str) -> Exit {
    let written = (|| {
        let target = std::fs::canonicalize(path)?;
        let permissions = std::fs::metadata(&target)?.permissions();
        let mut temporary = PathBuf::from(&target);
        temporary.as_mut_os_string().push(".kube-devops-fix");
        std::fs::write(&temporary, text)?;
        std::fs::set_permissions(&temporary, permissions)?;
        std::fs::rename(&temporary, &target)
    })();
    match written {
        Ok(()) => Exit::Success,
        Err(error) => {
            eprintln!("error: {}: cannot write: {error}", path.display());
            Exit::InvalidInput
        }
    }
}
