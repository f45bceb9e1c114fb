//! Built-in plugin `probes`: regular containers without a liveness or a readiness probe.
//!
//! Init containers run to completion and take no probes, so only `spec.containers` count.
//! Setting `skipJobs: true` also passes over pods of Jobs and CronJobs, which run to completion
//! too (checkov and Polaris exempt them); off by default, as in the seed.

use kube_devops_sdk::prelude::*;
use serde::Deserialize;

const LIVENESS: &str = "missing-liveness-probe";
const READINESS: &str = "missing-readiness-probe";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
struct Settings {
    /// Pods a Job or CronJob owns (and those workloads' templates) need no probes.
    skip_jobs: bool,
}

struct Probes(Settings);

impl Plugin for Probes {
    type Settings = Settings;
    const CONTAINER_PARTS: ContainerParts = ContainerParts::PROBES;

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

    fn new(settings: Settings) -> Result<Self, String> {
        Ok(Probes(settings))
    }

    fn analyze(&self, pod: &Pod) -> Vec<Finding> {
        let mut findings = Vec::new();
        if self.0.skip_jobs && pod.owned_by(&["Job", "CronJob"]) {
            return findings;
        }
        for container in pod.containers() {
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

    /// The seed's enforce mode: a TCP probe on the policy's `defaultProbe.tcpPort`, else the
    /// container's first port, else 8080; 5 s initial delay and a 10 s period unless set.
    fn fix(&self, pod: &Pod, finding: &Finding, defaults: &FixDefaults) -> Option<Fix> {
        let field = match finding.check.as_str() {
            LIVENESS => "livenessProbe",
            READINESS => "readinessProbe",
            _ => return None,
        };
        let name = finding.container.as_deref()?;
        let container = pod.containers().iter().find(|c| c.name == name)?;
        let port = defaults
            .probe
            .tcp_port
            .or_else(|| container.ports.first().map(|port| port.container_port))
            .unwrap_or(8080);
        let probe = serde_json::json!({
            "tcpSocket": {"port": port},
            "initialDelaySeconds": defaults.probe.initial_delay_seconds.unwrap_or(5),
            "periodSeconds": defaults.probe.period_seconds.unwrap_or(10),
        });
        let at = pod.container_pointer(name)?;
        Some(Fix::new().add(format!("{at}/{field}"), probe))
    }
}

export_plugin!(Probes);
