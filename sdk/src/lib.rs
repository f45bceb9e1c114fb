//! Write kube-devops analyzer plugins in Rust.
//!
//! A plugin is a WebAssembly component that the `kube-devops` host runs, sandboxed, once per pod.
//! Writing one means implementing [`Plugin`] and invoking [`export_plugin!`]:
//!
//! ```ignore
//! use kube_devops_sdk::prelude::*;
//!
//! struct NoPrivileged;
//!
//! impl Plugin for NoPrivileged {
//!     type Settings = NoSettings;
//!
//!     fn metadata() -> PluginMetadata {
//!         PluginMetadata::new("no-privileged", env!("CARGO_PKG_VERSION"), "Flags privileged containers")
//!             .check(CheckInfo::spec("privileged", "Container runs privileged", Severity::Critical, 10))
//!     }
//!
//!     fn new(_: NoSettings) -> Result<Self, String> {
//!         Ok(NoPrivileged)
//!     }
//!
//!     fn analyze(&self, pod: &Pod) -> Vec<Finding> {
//!         pod.all_containers()
//!             .filter(|c| c.security_context.as_ref().and_then(|s| s.privileged) == Some(true))
//!             .map(|c| Finding::new("privileged", "runs privileged; drop `privileged: true`").in_container(&c.name))
//!             .collect()
//!     }
//! }
//!
//! export_plugin!(NoPrivileged);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release` and load the `.wasm` file with
//! `kube-devops analyze --plugin`. docs/plugins.md walks through it.

pub mod image;
mod records;
#[doc(hidden)]
pub mod runtime;

/// The bindings generated from the WIT contract (`wit/analyzer.wit`).
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "analyzer",
        pub_export_macro: true,
        export_macro_name: "__export_analyzer_world",
        default_bindings_module: "kube_devops_sdk::bindings",
    });
}

pub use bindings::kube_devops::analyzer::types::{
    CheckInfo, CheckKind, Container, ContainerPort, ContainerState, ContainerStatus, Finding,
    KeyValue, ObjectMeta, PluginMetadata, Pod, PodSecurityContext, PodSpec, PodStatus, Probe,
    ProbeHandler, Resources, SecurityContext, Severity,
};
pub use image::ImageRef;
pub use records::NoSettings;

/// The whole pod under analysis as Kubernetes JSON, for fields the typed records do not carry.
///
/// The host serialises it on demand, so call it only when needed (and at most once per pod).
pub fn pod_json() -> String {
    bindings::kube_devops::analyzer::host::pod_json()
}

/// An analyzer plugin: its metadata, how it is built from its settings, and its check.
///
/// The host calls [`Plugin::metadata`] once at load, builds the plugin with [`Plugin::new`] from
/// its settings, then calls [`Plugin::analyze`] once per pod on the same value.
pub trait Plugin: Sized + 'static {
    /// The plugin's settings, read from the JSON object in the host's configuration.
    /// Use [`NoSettings`] when there are none; mark the struct `#[serde(deny_unknown_fields)]`
    /// so a misspelt setting is reported instead of ignored.
    type Settings: serde::de::DeserializeOwned;

    /// Who the plugin is and the checks it provides.
    fn metadata() -> PluginMetadata;

    /// Builds the plugin from its settings. An `Err` refuses the plugin at load time; say which
    /// setting is wrong and why.
    fn new(settings: Self::Settings) -> Result<Self, String>;

    /// The findings for one pod; empty when the pod complies.
    fn analyze(&self, pod: &Pod) -> Vec<Finding>;
}

/// Exports a [`Plugin`] implementation as the component's `analyzer` world.
///
/// Invoke it once, at the root of the plugin crate.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[doc(hidden)]
        pub struct __KubeDevopsExport;

        impl $crate::bindings::Guest for __KubeDevopsExport {
            fn metadata() -> $crate::PluginMetadata {
                <$plugin as $crate::Plugin>::metadata()
            }

            fn configure(settings: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
                $crate::runtime::configure::<$plugin>(&settings)
            }

            fn analyze(pod: $crate::Pod) -> ::std::vec::Vec<$crate::Finding> {
                $crate::runtime::analyze::<$plugin>(&pod)
            }
        }

        $crate::bindings::__export_analyzer_world!(__KubeDevopsExport with_types_in $crate::bindings);
    };
}

/// Everything a plugin usually needs, in one import.
pub mod prelude {
    pub use crate::{
        CheckInfo, CheckKind, Container, Finding, ImageRef, NoSettings, Plugin, PluginMetadata,
        Pod, Severity, export_plugin,
    };
}
