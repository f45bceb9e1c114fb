//! `kube-devops plugin list | inspect | test | new`: what a plugin author needs around the
//! engine, using the same loading, sandbox and analysis as every other mode.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::output::{self, Exit, fail};
use super::{
    CacheArgs, ListFormat, PluginCommand, PluginInspectArgs, PluginListArgs, PluginNewArgs,
    PluginPullArgs, PluginPushArgs, PluginTestArgs,
};
use crate::oci;
use kube_devops_engine::analysis::catalog::ActivePlugin;
use kube_devops_engine::analysis::report::DiagnosticKind;
use kube_devops_engine::analysis::{
    Catalog, Config, Filter, PluginPaths, SetupError, analyze_report,
};
use kube_devops_engine::contract::{CheckKind, Severity};
use kube_devops_engine::manifest;
use kube_devops_engine::wasm::{Access, PluginOrigin, Runtime, Shape};

mod bench;
mod scaffold;

/// Runs one `plugin` subcommand (on a blocking thread: plugins run here), after pulling the
/// `oci://` plugins it names.
pub fn run(command: PluginCommand) -> Exit {
    let pull = |path: &mut PathBuf, cache: &CacheArgs| -> Result<(), Exit> {
        *path = pulled(path, cache)?;
        Ok(())
    };
    let resolved = match command {
        PluginCommand::List(mut args) => args
            .plugins
            .iter_mut()
            .try_for_each(|path| pull(path, &args.cache))
            .map(|()| PluginCommand::List(args)),
        PluginCommand::Inspect(mut args) => {
            pull(&mut args.file, &args.cache).map(|()| PluginCommand::Inspect(args))
        }
        PluginCommand::Test(mut args) => {
            pull(&mut args.plugin, &args.cache).map(|()| PluginCommand::Test(args))
        }
        PluginCommand::Bench(mut args) => {
            pull(&mut args.plugin, &args.cache).map(|()| PluginCommand::Bench(args))
        }
        other => Ok(other),
    };
    match resolved {
        Ok(PluginCommand::List(args)) => list(&args),
        Ok(PluginCommand::Inspect(args)) => inspect(&args),
        Ok(PluginCommand::Test(args)) => test(&args),
        Ok(PluginCommand::New(args)) => new(&args),
        Ok(PluginCommand::Bench(args)) => bench::run(&args),
        Ok(PluginCommand::Push(args)) => push(&args),
        Ok(PluginCommand::Pull(args)) => pull_command(&args),
        Err(exit) => exit,
    }
}

/// A plugin argument as a local file: itself, or the module an `oci://` reference names,
/// pulled into the store.
fn pulled(path: &Path, cache: &CacheArgs) -> Result<PathBuf, Exit> {
    tokio::runtime::Handle::current()
        .block_on(oci::local_path(path, &cache.store()))
        .map_err(|error| fail(Exit::Usage, &error))
}

/// `plugin push FILE oci://…`: the module as a Wasm artifact, its metadata in the config.
fn push(args: &PluginPushArgs) -> Exit {
    let reference = match oci::Reference::parse(&args.reference) {
        Ok(reference) if reference.tag.is_some() => reference,
        Ok(_) => {
            eprintln!("error: push to a tag: oci://REGISTRY/REPOSITORY:TAG");
            return Exit::Usage;
        }
        Err(error) => return fail(Exit::Usage, &error),
    };
    let bytes = match read_plugin(&args.file) {
        Ok(bytes) => bytes,
        Err(exit) => return exit,
    };
    // Only a plugin that loads is pushed; its metadata and imports travel in the config.
    let loaded = runtime(&args.cache).and_then(|runtime| {
        load_one(&runtime, &args.file).map_err(|error| fail(Exit::Usage, &error))
    });
    let (plugin, shape) = match loaded {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    let metadata = serde_json::json!({
        "name": plugin.name,
        "version": plugin.version,
        "target": shape.world,
        "imports": shape.imports.iter().map(|i| &i.name).collect::<Vec<_>>(),
        "checks": plugin.checks,
    });
    match tokio::runtime::Handle::current().block_on(oci::push(&bytes, &reference, metadata)) {
        Ok(pushed) => output::print(format!(
            "pushed {}
module sha256 {}
",
            pushed.reference, pushed.module_digest
        )),
        Err(error) => fail(Exit::Usage, &error),
    }
}

/// `plugin pull oci://…`: into the store, checked; `-o FILE` copies it out.
fn pull_command(args: &PluginPullArgs) -> Exit {
    let reference = match oci::Reference::parse(&args.reference) {
        Ok(reference) => reference,
        Err(error) => return fail(Exit::Usage, &error),
    };
    let fetched = match tokio::runtime::Handle::current()
        .block_on(oci::fetch(&reference, &args.cache.store()))
    {
        Ok(fetched) => fetched,
        Err(error) => return fail(Exit::Usage, &error),
    };
    let mut path = fetched.path.clone();
    if let Some(output) = &args.output {
        if let Err(error) = std::fs::copy(&fetched.path, output) {
            eprintln!("error: cannot write {}: {error}", output.display());
            return Exit::Usage;
        }
        path.clone_from(output);
    }
    output::print(format!(
        "pulled {}{}
module sha256 {}
file {}
",
        fetched.reference,
        if fetched.downloaded {
            ""
        } else {
            " (from the local store)"
        },
        fetched.module_digest,
        path.display()
    ))
}

/// One plugin as `plugin list` and `plugin inspect` show it.
#[derive(Debug, Serialize)]
struct PluginView {
    name: String,
    version: String,
    description: String,
    source: String,
    sha256: String,
    /// The contract version it was built against (`0.1.0` components still load).
    contract: String,
    checks: Vec<CheckView>,
}

#[derive(Debug, Serialize)]
struct CheckView {
    id: String,
    description: String,
    severity: Severity,
    weight: u32,
    kind: &'static str,
    enabled: bool,
}

fn kind_name(kind: CheckKind) -> &'static str {
    match kind {
        CheckKind::Spec => "spec",
        CheckKind::Status => "status",
    }
}

fn view(active: &ActivePlugin) -> PluginView {
    let plugin = &active.plugin;
    PluginView {
        name: plugin.metadata.name.clone(),
        version: plugin.metadata.version.clone(),
        description: plugin.metadata.description.clone(),
        source: match &plugin.origin {
            PluginOrigin::Builtin(_) => "built-in".to_owned(),
            PluginOrigin::File(path) => path.display().to_string(),
        },
        sha256: plugin.digest.clone(),
        contract: plugin.contract_version(),
        checks: active
            .checks
            .iter()
            .map(|rule| CheckView {
                id: rule.id.to_string(),
                description: rule.description.clone(),
                severity: rule.severity,
                weight: rule.weight,
                kind: kind_name(rule.kind),
                enabled: rule.enabled,
            })
            .collect(),
    }
}

fn load_config(path: Option<&Path>) -> Result<Config, Exit> {
    match path {
        Some(path) => Config::load(path).map_err(|error| fail(Exit::Usage, &error)),
        None => Ok(Config::default()),
    }
}

/// The runtime of a `plugin` command, with the compiled-plugin cache `cache` says.
fn runtime(cache: &CacheArgs) -> Result<Arc<Runtime>, Exit> {
    kube_devops_builtins::runtime(cache.dir()).map_err(|error| fail(Exit::Usage, &error))
}

fn read_plugin(path: &Path) -> Result<Vec<u8>, Exit> {
    std::fs::read(path).map_err(|error| {
        eprintln!("error: cannot read {}: {error}", path.display());
        Exit::Usage
    })
}

/// Loads the plugin in `file` (with the built-ins, as an analysis would) with default settings:
/// its view and its component's shape, from one compile.
fn load_one(runtime: &Arc<Runtime>, file: &Path) -> Result<(PluginView, Shape), SetupError> {
    let paths = PluginPaths {
        files: vec![file.to_owned()],
        dirs: Vec::new(),
        ..PluginPaths::default()
    };
    let catalog = Catalog::load(runtime, &Config::default(), &paths)?;
    let origin = PluginOrigin::File(file.to_owned());
    let active = catalog
        .plugins
        .iter()
        .find(|active| active.plugin.origin == origin)
        .expect("a file given is loaded, or the catalog fails");
    Ok((view(active), active.plugin.shape()))
}

/// A built-in plugin as every catalog loads it: its view and shape.
fn load_builtin(runtime: &Arc<Runtime>, name: &str) -> Result<(PluginView, Shape), SetupError> {
    let catalog = Catalog::defaults(runtime)?;
    let active = catalog
        .plugins
        .iter()
        .find(|active| matches!(active.plugin.origin, PluginOrigin::Builtin(builtin) if builtin == name))
        .ok_or_else(|| SetupError::UnknownPlugin {
            name: name.to_owned(),
            known: catalog.plugins.iter().map(|active| active.name().to_owned()).collect::<Vec<_>>().join(", "),
        })?;
    Ok((view(active), active.plugin.shape()))
}

/// `plugin list`: the built-in plugins and those given, as the analysis would load them.
pub fn list(args: &PluginListArgs) -> Exit {
    let config = match load_config(args.config.as_deref()) {
        Ok(config) => config,
        Err(exit) => return exit,
    };
    let paths = PluginPaths {
        files: args.plugins.clone(),
        dirs: args.plugin_dir.clone(),
        ..PluginPaths::default()
    };
    let catalog = match runtime(&args.cache).and_then(|runtime| {
        Catalog::load(&runtime, &config, &paths).map_err(|error| fail(Exit::Usage, &error))
    }) {
        Ok(catalog) => catalog,
        Err(exit) => return exit,
    };
    let views: Vec<PluginView> = catalog.plugins.iter().map(view).collect();
    match args.output {
        ListFormat::Json => output::print_json(&views),
        ListFormat::Text => {
            let mut text = String::new();
            for plugin in &views {
                let _ = writeln!(
                    text,
                    "{} {}  ({}, contract {}, sha256 {})",
                    plugin.name,
                    plugin.version,
                    plugin.source,
                    plugin.contract,
                    &plugin.sha256[..12]
                );
                write_checks(&mut text, &plugin.checks);
            }
            output::print(text)
        }
    }
}

fn write_checks(text: &mut String, checks: &[CheckView]) {
    for check in checks {
        let _ = writeln!(
            text,
            "  {:<28} {:<8} weight {:<3} {:<6} {}{}",
            check.id,
            check.severity,
            check.weight,
            check.kind,
            check.description,
            if check.enabled { "" } else { " (off)" }
        );
    }
}

/// What `plugin inspect` prints.
#[derive(Debug, Serialize)]
struct Inspection {
    file: String,
    size: u64,
    #[serde(flatten)]
    shape: Shape,
    /// The plugin as it loads with default settings; absent when it does not load.
    plugin: Option<PluginView>,
    /// Why it does not load.
    error: Option<String>,
}

/// A built-in plugin named by `file` when no such file exists: `plugin inspect probes`.
fn builtin_named(file: &Path) -> Option<&'static kube_devops_engine::wasm::Builtin> {
    let name = file.to_str().filter(|_| !file.exists())?;
    kube_devops_builtins::BUILTINS
        .iter()
        .find(|builtin| builtin.name == name)
}

/// `plugin inspect FILE|BUILTIN`: metadata, checks, the world, every import with what the
/// sandbox grants it, size and sha256. Exit 2 when the plugin would not load.
pub fn inspect(args: &PluginInspectArgs) -> Exit {
    let builtin = builtin_named(&args.file);
    let bytes = match builtin {
        Some(builtin) => builtin.wasm.to_vec(),
        None => match read_plugin(&args.file) {
            Ok(bytes) => bytes,
            Err(exit) => return exit,
        },
    };
    let runtime = match runtime(&args.cache) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    let loaded = match builtin {
        Some(builtin) => load_builtin(&runtime, builtin.name),
        None => load_one(&runtime, &args.file),
    };
    let (shape, plugin, error) = match loaded {
        Ok((plugin, shape)) => (shape, Some(plugin), None),
        // It does not load: its shape still says why (a refused import, say).
        Err(error) => match runtime.inspect(&PluginOrigin::File(args.file.clone()), &bytes) {
            Ok(shape) => (shape, None, Some(kube_devops_engine::error::chain(&error))),
            Err(error) => return fail(Exit::Usage, &error),
        },
    };
    let inspection = Inspection {
        file: args.file.display().to_string(),
        size: bytes.len() as u64,
        shape,
        plugin,
        error,
    };
    let printed = match args.output {
        ListFormat::Json => output::print_json(&inspection),
        ListFormat::Text => output::print(inspection_text(&inspection, &bytes)),
    };
    match (&inspection.error, printed) {
        (Some(_), Exit::Success) => Exit::Usage,
        (_, printed) => printed,
    }
}

fn inspection_text(inspection: &Inspection, bytes: &[u8]) -> String {
    let mut text = String::new();
    if let Some(plugin) = &inspection.plugin {
        let _ = writeln!(text, "plugin   {} {}", plugin.name, plugin.version);
        let _ = writeln!(text, "         {}", plugin.description);
    }
    let _ = writeln!(text, "file     {} ({} bytes)", inspection.file, bytes.len());
    let sha = kube_devops_engine::wasm::sha256_hex(bytes);
    let _ = writeln!(text, "sha256   {sha}");
    let _ = writeln!(
        text,
        "world    {}",
        inspection
            .shape
            .world
            .as_deref()
            .unwrap_or("unknown: its exports are not the analyzer world's")
    );
    let _ = writeln!(text, "exports  {}", inspection.shape.exports.join(", "));
    if let Some(plugin) = &inspection.plugin {
        let _ = writeln!(text, "checks");
        write_checks(&mut text, &plugin.checks);
    }
    let _ = writeln!(
        text,
        "imports  (the capabilities it asks for, and what the sandbox gives)"
    );
    let width = inspection
        .shape
        .imports
        .iter()
        .map(|import| import.name.len())
        .max()
        .unwrap_or(0);
    for import in &inspection.shape.imports {
        let access = match import.access {
            Access::Granted(what) => what.to_owned(),
            Access::Refused(what) => format!("REFUSED: {what}"),
        };
        let _ = writeln!(text, "  {:<width$}  {access}", import.name);
    }
    if let Some(error) = &inspection.error {
        let _ = writeln!(text, "error    {error}");
    }
    text
}

/// A case's `expected.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    /// The plugin's settings for this case; default `{}`.
    #[serde(default)]
    settings: Option<serde_json::Value>,
    /// Exactly the findings the plugin must report for `manifest.yaml`.
    #[serde(default)]
    findings: Vec<ExpectedFinding>,
}

/// One expected finding; `pod` and `container` compared when given.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedFinding {
    check: String,
    #[serde(default)]
    container: Option<String>,
    severity: Severity,
    #[serde(default)]
    pod: Option<String>,
}

impl std::fmt::Display for ExpectedFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} severity={}", self.check, self.severity)?;
        if let Some(container) = &self.container {
            write!(f, " container={container}")?;
        }
        if let Some(pod) = &self.pod {
            write!(f, " pod={pod}")?;
        }
        Ok(())
    }
}

/// `plugin test PLUGIN --cases DIR`: every subdirectory of DIR is a case, `manifest.yaml` and
/// `expected.yaml`; prints a diff for each case that differs and exits 1 if any does.
pub fn test(args: &PluginTestArgs) -> Exit {
    let cases = match case_dirs(&args.cases) {
        Ok(cases) if !cases.is_empty() => cases,
        Ok(_) => {
            eprintln!(
                "error: no cases in {}: each case is a directory with manifest.yaml and expected.yaml",
                args.cases.display()
            );
            return Exit::Usage;
        }
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", args.cases.display());
            return Exit::Usage;
        }
    };
    let runtime = match runtime(&args.cache) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    // Read once for all cases; a plugin that does not load fails each case with the reason.
    let plugin = plugin_name(&runtime, &args.plugin);
    let mut report = String::new();
    let mut failed = 0;
    for case in &cases {
        let name = case.file_name().map_or_else(
            || case.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        match run_case(&runtime, &args.plugin, &plugin, case) {
            Ok(diff) if diff.is_empty() => {
                let _ = writeln!(report, "ok    {name}");
            }
            Ok(diff) => {
                failed += 1;
                let _ = writeln!(report, "FAIL  {name}");
                for line in diff {
                    let _ = writeln!(report, "      {line}");
                }
            }
            Err(reason) => {
                failed += 1;
                let _ = writeln!(report, "FAIL  {name}: {reason}");
            }
        }
    }
    let _ = writeln!(
        report,
        "{} case(s): {} passed, {failed} failed",
        cases.len(),
        cases.len() - failed
    );
    match output::print(report) {
        Exit::Success if failed > 0 => Exit::GateFailed,
        printed => printed,
    }
}

fn case_dirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    Ok(cases)
}

/// Runs one case: the differences between expected and actual findings, `-` for an expected
/// finding missing and `+` for one not expected; empty when they agree.
fn run_case(
    runtime: &Arc<Runtime>,
    plugin: &Path,
    name: &Result<String, String>,
    case: &Path,
) -> Result<Vec<String>, String> {
    let expected_path = case.join("expected.yaml");
    let expected_text = std::fs::read_to_string(&expected_path)
        .map_err(|error| format!("cannot read {}: {error}", expected_path.display()))?;
    let expected: Expected = serde_saphyr::from_str(&expected_text)
        .map_err(|error| format!("{}: {error}", expected_path.display()))?;

    let name = name.clone()?;
    let mut config = Config::default();
    if let Some(settings) = expected.settings {
        config.plugins.entry(name.clone()).or_default().settings = Some(settings);
    }
    let paths = PluginPaths {
        files: vec![plugin.to_owned()],
        dirs: Vec::new(),
        ..PluginPaths::default()
    };
    let catalog = Catalog::load(runtime, &config, &paths)
        .map_err(|error| kube_devops_engine::error::chain(&error))?;

    let manifests = manifest::read_paths(&[case.join("manifest.yaml")]);
    if let Some(error) = manifests.errors.first() {
        return Err(error.to_string());
    }
    let filter = Filter {
        include_system: true,
        ..Filter::default()
    };
    let report = analyze_report(&catalog, &manifests.sources, &filter);
    let problems: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::Plugin && d.message.contains(name.as_str()))
        .map(|d| format!("! {}", d.message))
        .collect();

    let mut actual: Vec<ExpectedFinding> = report
        .findings
        .iter()
        .filter(|finding| *finding.plugin == *name)
        .map(|finding| ExpectedFinding {
            check: finding.check.to_string(),
            container: finding.container.clone(),
            severity: finding.severity,
            pod: Some(finding.pod.to_string()),
        })
        .collect();
    let mut diff = problems;
    for want in &expected.findings {
        // An expected finding without a pod or container matches any.
        let found = actual.iter().position(|got| {
            got.check == want.check
                && got.severity == want.severity
                && (want.container.is_none() || got.container == want.container)
                && (want.pod.is_none() || got.pod == want.pod)
        });
        match found {
            Some(index) => {
                actual.swap_remove(index);
            }
            None => diff.push(format!("- expected   {want}")),
        }
    }
    diff.extend(actual.iter().map(|got| format!("+ unexpected {got}")));
    Ok(diff)
}

/// The name in a plugin file's metadata.
fn plugin_name(runtime: &Arc<Runtime>, plugin: &Path) -> Result<String, String> {
    let defaults = |_: &str| {
        (
            String::from("{}"),
            kube_devops_engine::wasm::Limits::default(),
        )
    };
    match runtime.load_file(plugin, None, &defaults) {
        Ok(loaded) => Ok(loaded.metadata.name),
        // Default settings may not suit the plugin; its name is known all the same.
        Err(kube_devops_engine::wasm::LoadError::Settings { name, .. }) => Ok(name),
        Err(error) => Err(kube_devops_engine::error::chain(&error)),
    }
}

/// `plugin new NAME`: a plugin project that builds and passes its own cases out of the box.
pub fn new(args: &PluginNewArgs) -> Exit {
    match scaffold::create(args) {
        Ok(dir) => output::print(scaffold::next_steps(args, &dir)),
        Err(error) => fail(Exit::Usage, &error),
    }
}
