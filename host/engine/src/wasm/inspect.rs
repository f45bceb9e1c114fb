//! What a plugin component asks of the host: its imports (the capabilities it wants), its
//! exports (the world it targets), and what the sandbox gives each import. Read from the
//! component's type, without running it.

use super::Runtime;
pub use super::grants::Access;
use super::grants::access_of;
use super::plugin::{LoadError, PluginOrigin};

/// A version of the contract (`wit/`): the host links both, each component as the one it was
/// built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// `wit/0.1.0/analyzer.wit`: the whole pod as one record, extra fields through `pod-json`.
    V0_1,
    /// `wit/analyzer.wit`: the pod as a resource read part by part.
    V0_2,
}

impl Contract {
    /// The world's full name, as `plugin inspect` shows it.
    pub fn world(self) -> &'static str {
        match self {
            Contract::V0_1 => "kube-devops:analyzer/analyzer@0.1.0",
            Contract::V0_2 => "kube-devops:analyzer/analyzer@0.2.2",
        }
    }

    /// The version alone (`0.2.0`).
    pub fn version(self) -> &'static str {
        let world = self.world();
        &world[world.rfind('@').map_or(0, |at| at + 1)..]
    }

    /// The contract whose interfaces `component` imports; `None` when it imports none of ours
    /// (a component may use no type and call nothing of the host).
    pub(super) fn imported_by(
        engine: &wasmtime::Engine,
        component: &wasmtime::component::Component,
    ) -> Option<Contract> {
        component
            .component_type()
            .imports(engine)
            .find_map(|(name, _)| {
                let version = name
                    .strip_prefix("kube-devops:analyzer/")?
                    .split_once('@')?
                    .1;
                if version.starts_with("0.1.") {
                    Some(Contract::V0_1)
                } else if version.starts_with("0.2.") {
                    Some(Contract::V0_2)
                } else {
                    None
                }
            })
    }
}

/// The world `component` was built for, named with the newest version of the contract it
/// imports: a 0.2.0 build says 0.2.0 although the host links 0.2.2.
pub(super) fn world_of(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> String {
    let newest = component
        .component_type()
        .imports(engine)
        .filter_map(|(name, _)| {
            let version = name
                .strip_prefix("kube-devops:analyzer/")?
                .split_once('@')?
                .1;
            let parts: Vec<u64> = version
                .split('.')
                .map(|n| n.parse().ok())
                .collect::<Option<_>>()?;
            Some((parts, version.to_owned()))
        })
        .max();
    match newest {
        Some((_, version)) => format!("kube-devops:analyzer/analyzer@{version}"),
        None => Contract::imported_by(engine, component)
            .unwrap_or(Contract::V0_2)
            .world()
            .to_owned(),
    }
}

/// The contract version new plugins are built against.
pub const WORLD: &str = "kube-devops:analyzer/analyzer@0.2.2";

/// One import and what the sandbox gives for it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Import {
    /// The interface, e.g. `wasi:cli/environment@0.2.6`.
    pub name: String,
    #[serde(flatten)]
    pub access: Access,
}

/// The shape of a component, as `plugin inspect` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Shape {
    pub imports: Vec<Import>,
    pub exports: Vec<String>,
    /// The world it was built for (`…/analyzer@0.2.0`: the newest contract version among its
    /// imports), when it exports the contract's three functions.
    pub world: Option<String>,
}

/// Every import of `component` that the allow-list does not grant, as `name (why)`: all of
/// them, so a plugin author sees the whole list at once.
pub(super) fn refused_imports(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> Vec<String> {
    capabilities(engine, component)
        .into_iter()
        .filter_map(|name| match access_of(&name) {
            Access::Refused(reason) => Some(format!("`{name}` ({reason})")),
            Access::Granted(_) => None,
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
        shape_of(&self.runtime.engine, self.pre.component())
    }
}

/// The names of the component's imports that ask the host for something: its instances and
/// functions. Imported types (the records its interfaces use, the `pod` resource type a world
/// names) are not capabilities.
fn capabilities(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> Vec<String> {
    use wasmtime::component::types::ComponentItem;
    component
        .component_type()
        .imports(engine)
        .filter(|(_, item)| !matches!(item.ty, ComponentItem::Type(_) | ComponentItem::Resource(_)))
        .map(|(name, _)| name.to_owned())
        .collect()
}

fn shape_of(engine: &wasmtime::Engine, component: &wasmtime::component::Component) -> Shape {
    let ty = component.component_type();
    let imports = capabilities(engine, component)
        .into_iter()
        .map(|name| Import {
            access: access_of(&name),
            name,
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
        .then(|| world_of(engine, component));
    Shape {
        imports,
        exports,
        world,
    }
}
