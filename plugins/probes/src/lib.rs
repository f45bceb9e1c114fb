//! Built-in plugin `probes`: regular containers without a liveness or a readiness probe.
//!
//! Init containers run to completion and take no probes, so only `spec.containers` count.

use kube_devops_sdk::prelude::*;

const LIVENESS: &str = "missing-liveness-probe";
const READINESS: &str = "missing-readiness-probe";

struct Probes;

impl Plugin for Probes {
    type Settings = NoSettings;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "probes",
            env!("CARGO_PKG_VERSION"),
            "Flags containers that Kubernetes cannot health-check",
        )
        .check(CheckInfo::spec(
            LIVENESS,
            "Container has no liveness probe, so a hung process is never restarted",
            Severity::Medium,
            3,
        ))
        .check(CheckInfo::spec(
            READINESS,
            "Container has no readiness probe, so traffic reaches it before it is ready",
            Severity::Medium,
            2,
        ))
    }

    fn new(_: NoSettings) -> Result<Self, String> {
        Ok(Probes)
    }

    fn analyze(&self, pod: &Pod) -> Vec<Finding> {
        let mut findings = Vec::new();
        for container in &pod.spec.containers {
            if container.liveness_probe.is_none() {
                findings.push(
                    Finding::new(LIVENESS, "no liveness probe; add `livenessProbe`")
                        .in_container(&container.name),
                );
            }
            if container.readiness_probe.is_none() {
                findings.push(
                    Finding::new(READINESS, "no readiness probe; add `readinessProbe`")
                        .in_container(&container.name),
                );
            }
        }
        findings
    }
}

export_plugin!(Probes);
