//! Test plugin: reads the wall clock. The sandbox must refuse it at load, naming the import.

use kube_devops_sdk::prelude::*;

struct Wants;

impl Plugin for Wants {
    type Settings = NoSettings;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new("wants-clock", "0.1.0", "reads the wall clock").check(CheckInfo::spec(
            "wants-clock",
            "Never gets that far",
            Severity::Low,
            1,
        ))
    }

    fn new(_: NoSettings) -> Result<Self, String> {
        Ok(Wants)
    }

    fn analyze(&self, _pod: &Pod) -> Vec<Finding> {
        vec![Finding::new(
            "wants-clock",
            format!("{:?}", std::time::SystemTime::now()),
        )]
    }
}

export_plugin!(Wants);
