//! Built-in plugin `restarts`: containers that keep restarting.
//!
//! Each `status.containerStatuses` entry with `restartCount` above the threshold (setting
//! `threshold`, default 3) is a finding of magnitude `min(restartCount, 5)`.

use kube_devops_sdk::prelude::*;
use serde::Deserialize;

const CHECK: &str = "high-restarts";
/// Beyond this many restarts a container counts no worse: one crash-looping pod must not sink a
/// whole namespace's score on its own.
const MAX_MAGNITUDE: i32 = 5;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    /// Restarts a container may have before it counts.
    threshold: i32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { threshold: 3 }
    }
}

struct Restarts {
    threshold: i32,
}

impl Plugin for Restarts {
    type Settings = Settings;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "restarts",
            env!("CARGO_PKG_VERSION"),
            "Flags containers that restart often",
        )
        .check(CheckInfo::status(
            CHECK,
            "Container restarted more times than the threshold",
            Severity::High,
            6,
        ))
    }

    fn new(settings: Settings) -> Result<Self, String> {
        if settings.threshold < 0 {
            return Err(format!(
                "`threshold` must be 0 or more, got {}",
                settings.threshold
            ));
        }
        Ok(Restarts {
            threshold: settings.threshold,
        })
    }

    fn analyze(&self, pod: &Pod) -> Vec<Finding> {
        let Some(status) = pod.status() else {
            return Vec::new();
        };
        status
            .container_statuses
            .iter()
            .filter(|container| container.restart_count > self.threshold)
            .map(|container| {
                let reason = container
                    .last_termination_reason
                    .as_deref()
                    .or(container.state_reason.as_deref())
                    .map(|reason| format!(" (last: {reason})"))
                    .unwrap_or_default();
                Finding::new(
                    CHECK,
                    format!(
                        "restarted {} times{reason}, more than {}",
                        container.restart_count, self.threshold
                    ),
                )
                .in_container(&container.name)
                .magnitude(container.restart_count.min(MAX_MAGNITUDE) as u32)
            })
            .collect()
    }
}

export_plugin!(Restarts);
