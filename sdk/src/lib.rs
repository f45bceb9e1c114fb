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
//!         pod.every_container()
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
//!
//! The SDK builds components of contract 0.2.2 (`wit/analyzer.wit`): the host passes the pod as a
//! resource and [`Pod`] reads each part (metadata, spec, containers, volumes, status) the first
//! time the plugin asks for it, and of the containers only the parts the plugin declares
//! ([`Plugin::CONTAINER_PARTS`]), so a plugin pays only for what it reads.

mod fix;
pub mod image;
mod pod;
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

pub use bindings::kube_devops::analyzer::pod::ContainerParts;
pub use bindings::kube_devops::analyzer::remediation::{
    Defaults as FixDefaults, ProbeDefaults, ResourceDefaults,
};
pub use bindings::kube_devops::analyzer::types::{
    CheckInfo, CheckKind, Container, ContainerPort, ContainerState, ContainerStatus, EnvVar,
    Finding, KeyValue, LifecycleHandler, ObjectMeta, PluginMetadata, PodSecurityContext, PodSpec,
    PodStatus, Probe, ProbeHandler, Profile, Resources, SeLinuxOptions, SecurityContext, Severity,
    TopologySpreadConstraint, Volume,
};
pub use fix::Fix;
pub use image::ImageRef;
pub use pod::{Pod, PodParts, lookup};
pub use records::NoSettings;

/// When the host began analysing this pod, in Unix seconds: the only clock a plugin sees.
pub fn analysis_time() -> i64 {
    bindings::kube_devops::analyzer::host::analysis_time()
}

/// Unix seconds of a Kubernetes timestamp (`2026-11-26T12:00:00Z`, the RFC 3339 UTC form the
/// API server writes), or `None` for anything else.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 20
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':'
        && bytes[19] == b'Z';
    if !shape_ok {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
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

    /// The parts of each container [`Plugin::analyze`] reads (its name, image and pull policy
    /// are always there). Only these are copied into the plugin's memory, which is most of what
    /// a call costs: a check of the images alone declares `ContainerParts::empty()`. A part
    /// left out reads as `None` or empty, so declare every part the checks read; [`Plugin::fix`]
    /// always sees every part. All of them unless declared.
    const CONTAINER_PARTS: ContainerParts = ContainerParts::all();

    /// Who the plugin is and the checks it provides.
    fn metadata() -> PluginMetadata;

    /// Builds the plugin from its settings. An `Err` refuses the plugin at load time; say which
    /// setting is wrong and why.
    fn new(settings: Self::Settings) -> Result<Self, String>;

    /// The findings for one pod; empty when the pod complies.
    fn analyze(&self, pod: &Pod) -> Vec<Finding>;

    /// The fix of `finding`, one of the findings [`Plugin::analyze`] just returned for `pod`:
    /// JSON Patch operations on the pod ([`Pod::container_pointer`] says where a container
    /// is), filled in from the policy's `defaults` where it has them. `None` (the default)
    /// when the finding has no fix. Called only when the host applies fixes (`kube-devops
    /// fix`, the mutating webhook, the operator's `enforce` mode), never in plain analysis.
    fn fix(&self, pod: &Pod, finding: &Finding, defaults: &FixDefaults) -> Option<Fix> {
        let _ = (pod, finding, defaults);
        None
    }
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

            fn analyze(pod: &$crate::bindings::kube_devops::analyzer::pod::Pod) -> ::std::vec::Vec<$crate::Finding> {
                $crate::runtime::analyze::<$plugin>(pod)
            }
        }

        $crate::bindings::__export_analyzer_world!(__KubeDevopsExport with_types_in $crate::bindings);
    };
}

/// Everything a plugin usually needs, in one import.
pub mod prelude {
    pub use crate::{
        CheckInfo, CheckKind, Container, ContainerParts, Finding, Fix, FixDefaults, ImageRef,
        NoSettings, Plugin, PluginMetadata, Pod, Severity, analysis_time, export_plugin,
        parse_timestamp,
    };
}

#[cfg(test)]
mod tests {
    use super::parse_timestamp;

    #[test]
    fn kubernetes_timestamps_are_unix_seconds() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(parse_timestamp("2026-11-26T12:30:15Z"), Some(1_795_696_215));
        assert_eq!(parse_timestamp("2026-11-26 12:30:15"), None);
        assert_eq!(parse_timestamp("2026-13-26T12:30:15Z"), None);
        assert_eq!(parse_timestamp(""), None);
    }
}
