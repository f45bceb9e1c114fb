//! Test plugin: connects to a server. The sandbox must refuse it at load, naming the import.

use kube_devops_sdk::prelude::*;

struct Wants;

impl Plugin for Wants {
    type Settings = NoSettings;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new("wants-network", "0.1.0", "connects to a server").check(
            CheckInfo::spec("wants-network", "Never gets that far", Severity::Low, 1),
        )
    }

    fn new(_: NoSettings) -> Result<Self, String> {
        Ok(Wants)
    }

    fn analyze(&self, _pod: &Pod) -> Vec<Finding> {
        vec![Finding::new(
            "wants-network",
            format!("{:?}", std::net::TcpStream::connect("10.0.0.1:80").is_ok()),
        )]
    }
}

export_plugin!(Wants);
