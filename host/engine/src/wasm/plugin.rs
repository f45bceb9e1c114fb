//! Loading a plugin: bytes to a compiled component, linked, asked for its metadata and
//! configured once, so that a broken plugin or a bad setting fails at load time with its name.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::{Builtin, Instance, Limits, Runtime};

/// Settings (JSON) and limits for the plugin of a given name: a plugin's name is known only once
/// its metadata has been read.
pub type SettingsFor<'a> = &'a dyn Fn(&str) -> (String, Limits);
use super::inspect::Contract;
use crate::contract::{AnalyzerPre, PluginMetadata, v0_1};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginOrigin {
    Builtin(&'static str),
    File(PathBuf),
}

impl fmt::Display for PluginOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginOrigin::Builtin(name) => write!(f, "built-in plugin `{name}`"),
            PluginOrigin::File(path) => write!(f, "plugin {}", path.display()),
        }
    }
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin} is not a valid WebAssembly component")]
    Compile {
        origin: PluginOrigin,
        source: BoxError,
    },
    #[error(
        "{origin} does not fit the kube-devops:analyzer world (0.2, or 0.1.0 for older components)"
    )]
    Link {
        origin: PluginOrigin,
        source: BoxError,
    },
    #[error("{origin} is refused: it imports what the sandbox does not grant: {imports}")]
    Capability {
        origin: PluginOrigin,
        imports: String,
    },
    #[error(
        "{} has sha256 {actual}, but it is pinned to {pinned}; it was not run", path.display()
    )]
    DigestMismatch {
        path: PathBuf,
        pinned: String,
        actual: String,
    },
    #[error("{origin} failed while {doing}")]
    Call {
        origin: PluginOrigin,
        doing: &'static str,
        source: super::CallError,
    },
    #[error("{origin} declares an invalid check: {reason}")]
    Metadata {
        origin: PluginOrigin,
        reason: String,
    },
    #[error("plugin `{name}` rejected its settings: {reason}")]
    Settings { name: String, reason: String },
    #[error("cannot set up the WebAssembly engine")]
    Engine(#[source] BoxError),
    #[error("cannot start the thread that enforces plugin time limits")]
    Ticker(#[source] std::io::Error),
}

impl LoadError {
    pub(super) fn engine(error: wasmtime::Error) -> Self {
        LoadError::Engine(error.into())
    }
}

/// A plugin ready to instantiate: compiled, linked, its metadata read and its settings accepted.
pub struct LoadedPlugin {
    pub metadata: PluginMetadata,
    pub origin: PluginOrigin,
    /// sha256 of the component bytes, hex.
    pub digest: String,
    /// What the compiled-plugin cache did for this file; `None` when no cache was used (or the
    /// plugin is built in, precompiled into the binary).
    pub cached: Option<super::CacheOutcome>,
    pub limits: Limits,
    pub(super) runtime: Arc<Runtime>,
    pub(super) pre: Pre,
    pub(super) settings: String,
}

/// A component linked and type-checked as the world of its contract version.
#[derive(Clone)]
pub(super) enum Pre {
    V0_2(AnalyzerPre<super::HostState>),
    V0_1(v0_1::AnalyzerPre<super::HostState>),
}

impl Pre {
    /// Links `component` as the world it imports (0.2.0 when it imports nothing of either).
    fn new(
        linker: &wasmtime::component::Linker<super::HostState>,
        engine: &wasmtime::Engine,
        component: &Component,
    ) -> wasmtime::Result<Self> {
        let pre = linker.instantiate_pre(component)?;
        match Contract::imported_by(engine, component) {
            Some(Contract::V0_1) => Ok(Pre::V0_1(v0_1::AnalyzerPre::new(pre)?)),
            Some(Contract::V0_2) => Ok(Pre::V0_2(AnalyzerPre::new(pre)?)),
            // Nothing imported tells: whichever world its exports fit.
            None => match AnalyzerPre::new(pre.clone()) {
                Ok(current) => Ok(Pre::V0_2(current)),
                Err(error) => v0_1::AnalyzerPre::new(pre)
                    .map(Pre::V0_1)
                    .map_err(|_| error),
            },
        }
    }

    pub(super) fn contract(&self) -> Contract {
        match self {
            Pre::V0_2(_) => Contract::V0_2,
            Pre::V0_1(_) => Contract::V0_1,
        }
    }

    pub(super) fn component(&self) -> &Component {
        match self {
            Pre::V0_2(pre) => pre.instance_pre().component(),
            Pre::V0_1(pre) => pre.instance_pre().component(),
        }
    }
}

impl fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.metadata.name)
            .field("origin", &self.origin)
            .finish()
    }
}

impl LoadedPlugin {
    /// The contract version the component was built against.
    pub fn contract(&self) -> Contract {
        self.pre.contract()
    }

    /// The contract version the component was built against (`0.2.0`, `0.2.1`, `0.2.2`, `0.1.0`).
    pub fn contract_version(&self) -> String {
        let world = super::inspect::world_of(&self.runtime.engine, self.pre.component());
        world.rsplit('@').next().unwrap_or_default().to_owned()
    }
}

impl Runtime {
    /// Loads a built-in plugin, from its precompiled code when this engine accepts it.
    pub(crate) fn load_builtin(
        self: &Arc<Self>,
        builtin: &Builtin,
        settings_for: SettingsFor<'_>,
    ) -> Result<LoadedPlugin, LoadError> {
        let origin = PluginOrigin::Builtin(builtin.name);
        // SAFETY: the precompiled bytes were made by our own build script with the same wasmtime
        // and `engine_config()`; `deserialize` still checks version and settings and refuses a
        // mismatch, in which case the component is compiled from its Wasm instead.
        let precompiled = builtin
            .precompiled
            .and_then(|bytes| unsafe { Component::deserialize(&self.engine, bytes) }.ok());
        let component = match precompiled {
            Some(component) => component,
            None => {
                tracing::debug!(
                    plugin = builtin.name,
                    "no usable precompiled code; compiling the embedded component"
                );
                Component::new(&self.engine, builtin.wasm).map_err(|error| LoadError::Compile {
                    origin: origin.clone(),
                    source: error.into(),
                })?
            }
        };
        self.prepare(
            origin,
            builtin.sha256.to_owned(),
            None,
            component,
            settings_for,
        )
    }

    /// Loads a plugin component from a `.wasm` file, compiling it with Cranelift. With a `pin`
    /// (sha256, hex), the file is read once and hashed, and only those same bytes are compiled,
    /// and only if they match: a swapped file never runs.
    pub fn load_file(
        self: &Arc<Self>,
        path: &Path,
        pin: Option<&str>,
        settings_for: SettingsFor<'_>,
    ) -> Result<LoadedPlugin, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        let origin = PluginOrigin::File(path.to_owned());
        let digest = sha256_hex(&bytes);
        if let Some(pinned) = pin
            && !digest.eq_ignore_ascii_case(pinned)
        {
            return Err(LoadError::DigestMismatch {
                path: path.to_owned(),
                pinned: pinned.to_owned(),
                actual: digest,
            });
        }
        let (component, cached) = self.compile(&origin, &bytes, &digest)?;
        self.prepare(origin, digest, cached, component, settings_for)
    }

    /// Compiles a custom plugin's component, through the disk cache when there is one.
    pub(super) fn compile(
        &self,
        origin: &PluginOrigin,
        bytes: &[u8],
        digest: &str,
    ) -> Result<(Component, Option<super::CacheOutcome>), LoadError> {
        let compile = || Component::new(&self.engine, bytes);
        let compiled = match &self.cache {
            Some(cache) => cache
                .get_or_compile(&self.engine, digest, compile)
                .map(|(component, outcome)| (component, Some(outcome))),
            None => compile().map(|component| (component, None)),
        };
        compiled.map_err(|error| LoadError::Compile {
            origin: origin.clone(),
            source: error.into(),
        })
    }

    fn prepare(
        self: &Arc<Self>,
        origin: PluginOrigin,
        digest: String,
        cached: Option<super::CacheOutcome>,
        component: Component,
        settings_for: SettingsFor<'_>,
    ) -> Result<LoadedPlugin, LoadError> {
        // Checked against the allow-list before linking, so the error names every import that
        // is not granted rather than the first one the linker misses.
        let refused = super::inspect::refused_imports(&self.engine, &component);
        if !refused.is_empty() {
            return Err(LoadError::Capability {
                origin,
                imports: refused.join(", "),
            });
        }
        let link_error = |error: wasmtime::Error| LoadError::Link {
            origin: origin.clone(),
            source: error.into(),
        };
        let pre = Pre::new(&self.linker, &self.engine, &component).map_err(link_error)?;
        let mut plugin = LoadedPlugin {
            metadata: PluginMetadata {
                name: String::new(),
                version: String::new(),
                description: String::new(),
                checks: Vec::new(),
            },
            origin: origin.clone(),
            digest,
            cached,
            limits: Limits::default(),
            runtime: self.clone(),
            pre,
            settings: String::new(),
        };
        let call_error = |doing| {
            let origin = origin.clone();
            move |source| LoadError::Call {
                origin,
                doing,
                source,
            }
        };
        let mut instance = Instance::new(&plugin).map_err(call_error("starting"))?;
        plugin.metadata = instance
            .metadata()
            .map_err(call_error("describing itself"))?;
        validate_metadata(&plugin.metadata).map_err(|reason| LoadError::Metadata {
            origin: origin.clone(),
            reason,
        })?;
        (plugin.settings, plugin.limits) = settings_for(&plugin.metadata.name);
        // Configuring once here is where bad settings surface, naming the plugin.
        instance
            .configure(&plugin.settings)
            .map_err(call_error("reading its settings"))?
            .map_err(|reason| LoadError::Settings {
                name: plugin.metadata.name.clone(),
                reason,
            })?;
        tracing::debug!(plugin = %plugin.metadata.name, version = %plugin.metadata.version, origin = %plugin.origin, digest = %plugin.digest, cache = ?plugin.cached, "plugin loaded");
        Ok(plugin)
    }
}

/// Names and checks must be usable as identifiers in config files and reports.
fn validate_metadata(metadata: &PluginMetadata) -> Result<(), String> {
    let is_id = |text: &str| {
        !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    if !is_id(&metadata.name) {
        return Err(format!(
            "plugin name {:?} must be kebab-case",
            metadata.name
        ));
    }
    if metadata.checks.is_empty() {
        return Err("it declares no checks".to_owned());
    }
    for (index, check) in metadata.checks.iter().enumerate() {
        if !is_id(&check.id) {
            return Err(format!("check id {:?} must be kebab-case", check.id));
        }
        if metadata.checks[..index]
            .iter()
            .any(|other| other.id == check.id)
        {
            return Err(format!("check `{}` is declared twice", check.id));
        }
    }
    Ok(())
}

/// sha256 of `bytes`, lower-case hex: how plugin digests are shown and pinned.
pub fn sha256_hex(bytes: &[u8]) -> String {
    super::hex(&Sha256::digest(bytes))
}
