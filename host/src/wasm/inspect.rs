//! What a plugin component asks of the host: its imports (the capabilities it wants), its
//! exports (the world it targets), and what the sandbox gives each import. Read from the
//! component's type, without running it.

use super::Runtime;
use super::plugin::{LoadError, PluginOrigin};

/// The package and version of the contract this host implements.
pub const WORLD: &str = "kube-devops:analyzer/analyzer@0.1.0";

/// One import and what the sandbox gives for it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Import {
    /// The interface, e.g. `wasi:cli/environment@0.2.6`.
    pub name: String,
    #[serde(flatten)]
    pub access: Access,
}

/// What the sandbox does with an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "access", content = "what", rename_all = "lowercase")]
pub enum Access {
    /// Linked; the text says what a call through it can reach.
    Granted(&'static str),
    /// A capability plugins never get: the plugin is refused at load, for this reason.
    Refused(&'static str),
    /// Not something this host provides: the plugin cannot link.
    Unknown,
}

/// The shape of a component, as `plugin inspect` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Shape {
    pub imports: Vec<Import>,
    pub exports: Vec<String>,
    /// The world it was built for, when it exports this host's three functions.
    pub world: Option<&'static str>,
}

/// What the sandbox gives an import, by interface (any version).
pub fn access_of(import: &str) -> Access {
    let interface = import.split('@').next().unwrap_or(import);
    let (package, _) = interface.split_once('/').unwrap_or((interface, ""));
    match package {
        "wasi:filesystem" => return Access::Refused("files: plugins get no filesystem"),
        "wasi:sockets" | "wasi:http" => {
            return Access::Refused("the network: plugins get no sockets");
        }
        _ => {}
    }
    let grant = match interface {
        "kube-devops:analyzer/host" => "the pod's JSON and the analysis time",
        "kube-devops:analyzer/types" => "types only",
        "wasi:cli/stdout" | "wasi:cli/stderr" => {
            "captured: the tail is kept for diagnostics, nothing reaches a terminal"
        }
        "wasi:cli/stdin" => "empty",
        "wasi:cli/environment" => "empty: no variables, no arguments",
        "wasi:cli/exit" => "ends the call as a trap",
        "wasi:cli/terminal-input"
        | "wasi:cli/terminal-output"
        | "wasi:cli/terminal-stdin"
        | "wasi:cli/terminal-stdout"
        | "wasi:cli/terminal-stderr" => "no terminal",
        "wasi:clocks/wall-clock" => {
            return Access::Refused(
                "the wall clock: read the host's analysis time instead (`analysis_time()` in the SDK)",
            );
        }
        "wasi:clocks/monotonic-clock" => "frozen: time limits are the host's",
        "wasi:random/random" | "wasi:random/insecure" | "wasi:random/insecure-seed" => {
            "random bytes"
        }
        "wasi:io/error" | "wasi:io/poll" | "wasi:io/streams" => "streams of the grants above",
        _ => return Access::Unknown,
    };
    Access::Granted(grant)
}

/// Every import of `component` that asks for a refused capability, as `name (why)`.
pub(super) fn refused_imports(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .filter_map(|(name, _)| match access_of(name) {
            Access::Refused(reason) => Some(format!("`{name}` ({reason})")),
            _ => None,
        })
        .collect()
}

impl Runtime {
    /// The shape of the component in `bytes` (compiled, through the cache when there is one),
    /// for a plugin that may not load.
    pub fn inspect(&self, origin: &PluginOrigin, bytes: &[u8]) -> Result<Shape, LoadError> {
        let (component, _) = self.compile(origin, bytes, &super::plugin::sha256_hex(bytes))?;
        Ok(shape_of(&self.engine, &component))
    }
}

impl super::LoadedPlugin {
    /// The shape of this plugin's component, from the code already compiled.
    pub fn shape(&self) -> Shape {
        shape_of(&self.runtime.engine, self.pre.instance_pre().component())
    }
}

fn shape_of(engine: &wasmtime::Engine, component: &wasmtime::component::Component) -> Shape {
    let ty = component.component_type();
    let imports = ty
        .imports(engine)
        .map(|(name, _)| Import {
            name: name.to_owned(),
            access: access_of(name),
        })
        .collect();
    let mut exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    exports.sort();
    // Some toolchains export extra interfaces (componentize-py's `exports`); what matters is
    // that the world's three functions are there.
    let world = ["analyze", "configure", "metadata"]
        .iter()
        .all(|name| exports.iter().any(|export| export == name))
        .then_some(WORLD);
    Shape {
        imports,
        exports,
        world,
    }
}
