//! The plugins an analysis runs and the rule for each of their checks (enabled, severity,
//! weight), from the built-ins, `--plugin` files, `--plugin-dir` directories and the config file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::config::Config;
use crate::contract::{CheckKind, Pod, Severity};
use crate::wasm::{Instance, LoadError, LoadedPlugin, PluginOrigin, Runtime};

/// How one check is applied.
#[derive(Debug, Clone)]
pub struct CheckRule {
    /// Shared by every finding of the check.
    pub id: Arc<str>,
    pub description: String,
    pub enabled: bool,
    pub severity: Severity,
    pub weight: u32,
    pub kind: CheckKind,
    /// The severity comes from the config file, overriding a finding's own.
    pub severity_overridden: bool,
}

/// A loaded plugin and the rules of its checks, in the order its metadata declares them.
#[derive(Debug)]
pub struct ActivePlugin {
    pub plugin: LoadedPlugin,
    /// The plugin's name, shared by every finding it produces.
    pub name: Arc<str>,
    pub checks: Vec<CheckRule>,
    /// Every evaluation gets a fresh instance: nothing one pod left in the plugin's memory can
    /// reach another pod's findings.
    pub fresh_per_pod: bool,
    /// Configured instances no worker holds, for the next worker: instantiating costs more than
    /// most checks, and long-running modes start a worker per batch or per request.
    idle: Mutex<Vec<Instance>>,
}

/// Idle instances kept per plugin; more are dropped.
const MAX_IDLE: usize = 16;

impl ActivePlugin {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// An idle instance, if there is one.
    pub(crate) fn take_idle(&self) -> Option<Instance> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
    }

    /// Keeps a healthy instance for the next worker (never one of a plugin isolated per pod).
    pub(crate) fn put_idle(&self, instance: Instance) {
        if self.fresh_per_pod {
            return;
        }
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(instance);
        }
    }

    /// Whether calling the plugin on `pod` can find anything: some check is enabled, and a
    /// plugin of status checks only is not called on a pod without status (a workload's
    /// template, a pod at admission), as the contract's `check-kind` allows.
    pub(crate) fn applies_to(&self, pod: &Pod) -> bool {
        let mut enabled = self.checks.iter().filter(|rule| rule.enabled);
        match pod.status {
            Some(_) => enabled.next().is_some(),
            None => enabled.any(|rule| rule.kind == CheckKind::Spec),
        }
    }

    pub fn rule(&self, check: &str) -> Option<&CheckRule> {
        self.checks.iter().find(|rule| &*rule.id == check)
    }
}

/// Every plugin of an analysis.
#[derive(Debug)]
pub struct Catalog {
    pub plugins: Vec<ActivePlugin>,
}

/// Where plugins beyond the built-ins come from, and how far they are trusted.
#[derive(Debug, Default, Clone)]
pub struct PluginPaths {
    /// `--plugin FILE.wasm`, repeatable.
    pub files: Vec<PathBuf>,
    /// `--plugin-dir DIR`: every `.wasm` file in it.
    pub dirs: Vec<PathBuf>,
    /// sha256 (hex) a file must have; checked on the bytes that are compiled, before any of its
    /// code runs.
    pub pins: BTreeMap<PathBuf, String>,
    pub isolation: Isolation,
}

/// How instances of plugins loaded from files are used. Built-ins are our own code and are
/// always reused.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Reused pod after pod: one user analysing their own files (the CLI).
    #[default]
    Reuse,
    /// A fresh instance for every pod, where tenants' pods meet (the operator, the webhook).
    PerEvaluation,
}

/// Why the plugins could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot read plugin directory {path}")]
    PluginDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("two plugins are named `{name}`: {first} and {second}")]
    DuplicatePlugin {
        name: String,
        first: PluginOrigin,
        second: PluginOrigin,
    },
    #[error("check `{check}` is provided by both plugin `{first}` and plugin `{second}`")]
    DuplicateCheck {
        check: String,
        first: String,
        second: String,
    },
    #[error("there is no plugin named `{name}` (loaded: {known})")]
    UnknownPlugin { name: String, known: String },
    #[error("no loaded plugin provides check `{check}` (checks: {known})")]
    UnknownCheck { check: String, known: String },
    #[error("plugin `{plugin}` has no check `{check}` (its checks: {known})")]
    UnknownPluginCheck {
        plugin: String,
        check: String,
        known: String,
    },
}

impl Catalog {
    /// The built-in plugins with their default settings, on `runtime`: what a namespace without
    /// a policy is analysed with.
    pub fn defaults(runtime: &Arc<Runtime>) -> Result<Self, SetupError> {
        Self::load(runtime, &Config::default(), &PluginPaths::default())
    }

    /// Loads the runtime's built-in plugins and those at `paths`, configured by `config`. A
    /// long-running process (the operator, the webhook) builds many catalogs on one runtime: one
    /// engine and one epoch ticker for all.
    pub fn load(
        runtime: &Arc<Runtime>,
        config: &Config,
        paths: &PluginPaths,
    ) -> Result<Self, SetupError> {
        let settings_for = |name: &str| config.plugin(name);
        let mut loaded = Vec::new();
        for builtin in runtime.builtins() {
            loaded.push(runtime.load_builtin(builtin, &settings_for)?);
        }
        for path in plugin_files(paths)? {
            let pin = paths.pins.get(&path).map(String::as_str);
            loaded.push(runtime.load_file(&path, pin, &settings_for)?);
        }
        // Disabled plugins were loaded all the same (it costs a millisecond) so that the config
        // file's names can be checked against every plugin and check there is.
        check_config_names(config, &loaded)?;
        let by_default = |plugin: &LoadedPlugin| match plugin.origin {
            PluginOrigin::Builtin(name) => runtime
                .builtins()
                .iter()
                .find(|builtin| builtin.name == name)
                .is_none_or(|builtin| builtin.enabled_by_default),
            PluginOrigin::File(_) => true,
        };
        loaded.retain(|plugin| config.plugin_enabled(&plugin.metadata.name, by_default(plugin)));
        Self::assemble(config, loaded, paths.isolation)
    }

    fn assemble(
        config: &Config,
        loaded: Vec<LoadedPlugin>,
        isolation: Isolation,
    ) -> Result<Self, SetupError> {
        for (index, plugin) in loaded.iter().enumerate() {
            if let Some(first) = loaded[..index]
                .iter()
                .find(|other| other.metadata.name == plugin.metadata.name)
            {
                return Err(SetupError::DuplicatePlugin {
                    name: plugin.metadata.name.clone(),
                    first: first.origin.clone(),
                    second: plugin.origin.clone(),
                });
            }
        }
        let mut plugins: Vec<ActivePlugin> = Vec::new();
        for plugin in loaded {
            let checks = plugin
                .metadata
                .checks
                .iter()
                .map(|check| {
                    let overrides = config.checks.get(&check.id);
                    let severity = overrides.and_then(|o| o.severity);
                    CheckRule {
                        id: Arc::from(check.id.as_str()),
                        description: check.description.clone(),
                        enabled: config.check_enabled(&plugin.metadata.name, &check.id),
                        severity: severity.unwrap_or(check.default_severity),
                        weight: overrides
                            .and_then(|o| o.weight)
                            .unwrap_or(check.default_weight),
                        kind: check.kind,
                        severity_overridden: severity.is_some(),
                    }
                })
                .collect::<Vec<_>>();
            for rule in &checks {
                if let Some(other) = plugins.iter().find(|other| other.rule(&rule.id).is_some()) {
                    return Err(SetupError::DuplicateCheck {
                        check: rule.id.to_string(),
                        first: other.name().to_owned(),
                        second: plugin.metadata.name.clone(),
                    });
                }
            }
            let name = Arc::from(plugin.metadata.name.as_str());
            let fresh_per_pod = isolation == Isolation::PerEvaluation
                && matches!(plugin.origin, PluginOrigin::File(_));
            plugins.push(ActivePlugin {
                plugin,
                name,
                checks,
                fresh_per_pod,
                idle: Mutex::new(Vec::new()),
            });
        }
        Ok(Catalog { plugins })
    }
}

/// Names in the config file must exist, or a typo would silently do nothing.
fn check_config_names(config: &Config, loaded: &[LoadedPlugin]) -> Result<(), SetupError> {
    let plugins: Vec<&str> = loaded
        .iter()
        .map(|plugin| plugin.metadata.name.as_str())
        .collect();
    if let Some(name) = config
        .plugins
        .keys()
        .find(|name| !plugins.contains(&name.as_str()))
    {
        return Err(SetupError::UnknownPlugin {
            name: name.clone(),
            known: plugins.join(", "),
        });
    }
    for (name, plugin_config) in &config.plugins {
        let Some(plugin) = loaded.iter().find(|plugin| &plugin.metadata.name == name) else {
            continue;
        };
        let own: Vec<&str> = plugin
            .metadata
            .checks
            .iter()
            .map(|check| check.id.as_str())
            .collect();
        if let Some(check) = plugin_config
            .checks
            .iter()
            .flatten()
            .find(|check| !own.contains(&check.as_str()))
        {
            return Err(SetupError::UnknownPluginCheck {
                plugin: name.clone(),
                check: check.clone(),
                known: own.join(", "),
            });
        }
    }
    let checks: Vec<&str> = loaded
        .iter()
        .flat_map(|plugin| plugin.metadata.checks.iter().map(|check| check.id.as_str()))
        .collect();
    if let Some(check) = config
        .checks
        .keys()
        .find(|check| !checks.contains(&check.as_str()))
    {
        return Err(SetupError::UnknownCheck {
            check: check.clone(),
            known: checks.join(", "),
        });
    }
    Ok(())
}

/// `--plugin` files, then the `.wasm` files of each `--plugin-dir`, in name order.
fn plugin_files(paths: &PluginPaths) -> Result<Vec<PathBuf>, SetupError> {
    let mut files = paths.files.clone();
    for dir in &paths.dirs {
        files.extend(wasm_files_in(dir)?);
    }
    Ok(files)
}

fn wasm_files_in(dir: &Path) -> Result<Vec<PathBuf>, SetupError> {
    let error = |source| SetupError::PluginDir {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(error)? {
        let path = entry.map_err(error)?.path();
        if path.is_file() && path.extension().is_some_and(|ext| ext == "wasm") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
