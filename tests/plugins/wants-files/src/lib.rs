//! Test plugin: reads a file of the node. The sandbox must refuse it at load, naming the import.

use kube_devops_sdk::prelude::*;

struct Wants;

impl Plugin for Wants {
    type Settings = NoSettings;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new("wants-files", "0.1.0", "reads a file of the node").check(
            CheckInfo::spec("wants-files", "Never gets that far", Severity::Low, 1),
        )
    }

    fn new(_: NoSettings) -> Result<Self, String> {
        Ok(Wants)
    }

    fn analyze(&self, _pod: &Pod) -> Vec<Finding> {
        vec![Finding::new(
            "wants-files",
            std::fs::read_to_string("/etc/passwd").unwrap_or_default(),
        )]
    }
}

export_plugin!(Wants);
