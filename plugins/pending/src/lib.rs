//! Built-in plugin `pending`: pods stuck before running.
//!
//! A pod whose `status.phase` is `Pending` is one finding; the message carries the reason the
//! scheduler or kubelet gave, when a container status says. With the setting
//! `minPendingSeconds` (the policy's `forbidPendingDuration`), a pod counts only once it has
//! existed that long: its `metadata.creationTimestamp` (read through `pod-json`, only for
//! Pending pods) against the host's analysis time.

use kube_devops_sdk::prelude::*;
use serde::Deserialize;

const CHECK: &str = "pending";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
struct Settings {
    /// Seconds a pod may stay Pending before it counts; 0 counts every Pending pod.
    min_pending_seconds: u64,
}

struct Pending {
    grace: i64,
}

impl Plugin for Pending {
    type Settings = Settings;

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

    fn new(settings: Settings) -> Result<Self, String> {
        let grace = i64::try_from(settings.min_pending_seconds)
            .map_err(|_| "`minPendingSeconds` is too large".to_owned())?;
        Ok(Pending { grace })
    }

    fn analyze(&self, pod: &Pod) -> Vec<Finding> {
        let Some(status) = pod.status() else {
            return Vec::new();
        };
        if status.phase.as_deref() != Some("Pending") {
            return Vec::new();
        }
        let age = if self.grace > 0 {
            match pending_for(pod) {
                Some(age) if age < self.grace => return Vec::new(),
                age => age,
            }
        } else {
            None
        };
        let waiting_reason = status
            .init_container_statuses
            .iter()
            .chain(&status.container_statuses)
            .find_map(|container| container.state_reason.as_deref());
        let mut message = match waiting_reason.or(status.reason.as_deref()) {
            Some(reason) => format!("pod is Pending ({reason})"),
            None => "pod is Pending".to_owned(),
        };
        if let Some(age) = age {
            message.push_str(&format!(" for {age} s"));
        }
        vec![Finding::new(CHECK, message)]
    }
}

/// Seconds since the pod was created, when its creation time is known.
fn pending_for(pod: &Pod) -> Option<i64> {
    let created = parse_timestamp(pod.metadata().creation_timestamp.as_deref()?)?;
    Some(analysis_time() - created)
}

export_plugin!(Pending);
