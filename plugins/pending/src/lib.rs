//! Built-in plugin `pending`: pods stuck before running.
//!
//! A pod whose `status.phase` is `Pending` is one finding; the message carries the reason the
//! scheduler or kubelet gave, when a container status says.

use kube_devops_sdk::prelude::*;

const CHECK: &str = "pending";

struct Pending;

impl Plugin for Pending {
    type Settings = NoSettings;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "pending",
            env!("CARGO_PKG_VERSION"),
            "Flags pods that are not running yet",
        )
        .check(CheckInfo::status(
            CHECK,
            "Pod is Pending: unschedulable, or its images or volumes are not ready",
            Severity::Medium,
            4,
        ))
    }

    fn new(_: NoSettings) -> Result<Self, String> {
        Ok(Pending)
    }

    fn analyze(&self, pod: &Pod) -> Vec<Finding> {
        let Some(status) = &pod.status else {
            return Vec::new();
        };
        if status.phase.as_deref() != Some("Pending") {
            return Vec::new();
        }
        let waiting_reason = status
            .init_container_statuses
            .iter()
            .chain(&status.container_statuses)
            .find_map(|container| container.state_reason.as_deref());
        let message = match waiting_reason.or(status.reason.as_deref()) {
            Some(reason) => format!("pod is Pending ({reason})"),
            None => "pod is Pending".to_owned(),
        };
        vec![Finding::new(CHECK, message)]
    }
}

export_plugin!(Pending);
