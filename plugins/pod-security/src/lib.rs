//! Built-in plugin `pod-security`: the Kubernetes Pod Security Standards, control by control,
//! exactly as PodSecurity admission (`k8s.io/pod-security-admission`, version `latest` of
//! Kubernetes 1.36) evaluates them.
//!
//! Off by default: enable it in the config file, choosing the level (default `baseline`):
//!
//! ```yaml
//! plugins:
//!   pod-security:
//!     enabled: true
//!     settings: {level: restricted}
//! ```
//!
//! Each PSA check is one check of this plugin, named after the PSA id in kebab-case
//! (`allowPrivilegeEscalation` → `allow-privilege-escalation`, see [`controls::check_id`]).
//! `baseline` runs the 12 baseline checks. `restricted` runs them too, except the four that a
//! restricted check replaces (`capabilities-baseline`, `host-path-volumes`,
//! `seccomp-profile-baseline`, `proc-mount` give way to `capabilities-restricted`,
//! `restricted-volumes`, `seccomp-profile-restricted`, `proc-mount-restricted`), plus the 7
//! restricted checks.
//!
//! Severity and weight: a baseline check is `high` with weight 6, a restricted check `medium`
//! with weight 3. A finding of a restricted check that the baseline check it replaces would
//! also have reported (a hostPath volume under `restricted-volumes`, `SYS_ADMIN` under
//! `capabilities-restricted`, an `Unconfined` seccomp profile, an unmasked /proc outside a user
//! namespace) keeps the baseline gravity: severity `high` and magnitude 2 (6 points, as at
//! `baseline`).
//!
//! The plugin reads the pod through the records of contract 0.2.0, each part only when a
//! configured check needs it: `metadata` (the AppArmor annotations), `spec` (the host
//! namespaces, `hostUsers`, `os`, the pod's security context), the init, regular and ephemeral
//! containers (their security contexts, ports, probes and lifecycle hooks) and `volumes` (their
//! sources); never the status nor the pod's JSON. It sees the pod as the API server stores it:
//! a `hostNetwork` pod's container ports get `hostPort = containerPort`, and a volume without a
//! source is an `emptyDir`. Findings name the container at fault; pod-level causes (a pod field,
//! a volume, a sysctl) name none.

mod controls;
mod fixes;
mod model;

use kube_devops_sdk::prelude::*;
use serde::Deserialize;

use controls::{Control, Level};

/// Weight of a baseline check.
const BASELINE_WEIGHT: u32 = 6;
/// Weight of a restricted check.
const RESTRICTED_WEIGHT: u32 = 3;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `baseline` (default) or `restricted`.
    level: Option<String>,
}

struct PodSecurity {
    /// The controls of the configured level, with their check ids.
    controls: Vec<(Control, String)>,
}

impl PodSecurity {
    fn at(level: Level) -> Self {
        PodSecurity {
            controls: level
                .controls()
                .into_iter()
                .map(|control| (control, control.id()))
                .collect(),
        }
    }
}

fn parse_level(level: Option<&str>) -> Result<Level, String> {
    match level {
        None | Some("baseline") => Ok(Level::Baseline),
        Some("restricted") => Ok(Level::Restricted),
        Some("privileged") => Err(
            "setting `level`: \"privileged\" enforces nothing; use `baseline` or `restricted`, \
             or disable the plugin (`enabled: false`)"
                .to_owned(),
        ),
        Some(other) => Err(format!(
            "setting `level`: unknown Pod Security Standards level {other:?}; use `baseline` or \
             `restricted` (lower case)"
        )),
    }
}

impl Plugin for PodSecurity {
    type Settings = Settings;
    // Every container field a PSS control reads; not the env, requests or limits.
    const CONTAINER_PARTS: ContainerParts = ContainerParts::PROBES
        .union(ContainerParts::LIFECYCLE)
        .union(ContainerParts::PORTS)
        .union(ContainerParts::SECURITY_CONTEXT);

    fn metadata() -> PluginMetadata {
        let mut metadata = PluginMetadata::new(
            "pod-security",
            env!("CARGO_PKG_VERSION"),
            "The Kubernetes Pod Security Standards (baseline or restricted), as PodSecurity admission checks them",
        );
        for control in Control::ALL {
            let (severity, weight) = match control.level() {
                Level::Baseline => (Severity::High, BASELINE_WEIGHT),
                Level::Restricted => (Severity::Medium, RESTRICTED_WEIGHT),
            };
            metadata = metadata.check(CheckInfo::spec(
                &control.id(),
                control.description(),
                severity,
                weight,
            ));
        }
        metadata
    }

    fn new(settings: Settings) -> Result<Self, String> {
        parse_level(settings.level.as_deref()).map(PodSecurity::at)
    }

    fn analyze(&self, pod: &Pod) -> Vec<Finding> {
        let mut findings = Vec::new();
        for (control, id) in &self.controls {
            for violation in control.evaluate(pod) {
                let mut finding = Finding::new(id, violation.message);
                if let Some(container) = &violation.container {
                    finding = finding.in_container(container);
                }
                if violation.breaks_baseline {
                    finding = finding.severity(Severity::High).magnitude(2);
                }
                findings.push(finding);
            }
        }
        findings
    }

    fn fix(&self, pod: &Pod, finding: &Finding, _: &FixDefaults) -> Option<Fix> {
        fixes::fix(pod, finding)
    }
}

export_plugin!(PodSecurity);

#[cfg(test)]
mod tests;
