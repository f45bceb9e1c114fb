//! Test plugin: writes a marker line to stderr and panics as soon as it is called. A test that
//! pins a different sha256 for this module proves the host never executes it: had it run, the
//! marker would show in the load error, since trap diagnostics keep the tail of the plugin's
//! stderr.

use kube_devops_sdk::prelude::*;

/// The line the tests look for; it appears only if this module ran.
const MARKER: &str = "kube-devops-test-marker: this module ran";

/// Leaves the marker and traps. Every entry point calls it, so a host that skipped `metadata`
/// and went straight to `configure` or `analyze` would still be caught.
fn ran() -> ! {
    eprintln!("{MARKER}");
    panic!("{MARKER}");
}

struct Marker;

impl Plugin for Marker {
    type Settings = NoSettings;

    fn metadata() -> PluginMetadata {
        ran()
    }

    fn new(_: NoSettings) -> Result<Self, String> {
        ran()
    }

    fn analyze(&self, _pod: &Pod) -> Vec<Finding> {
        ran()
    }
}

export_plugin!(Marker);
