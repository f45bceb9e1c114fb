//! Built-in plugin `best-practices`: the pod and container checks of
//! [Polaris](https://github.com/FairwindsOps/polaris) that the Pod Security Standards (plugin
//! `pod-security`) do not cover.
//!
//! Off by default: enable it in the config file.
//!
//! ```yaml
//! plugins:
//!   best-practices:
//!     enabled: true
//!     settings: {sensitiveNamePatterns: [dsn]}   # optional
//! ```
//!
//! | check | Polaris id | severity | weight | flags |
//! |---|---|---|---|---|
//! | `cpu-requests-missing` | `cpuRequestsMissing` | medium | 2 | a regular container without `resources.requests.cpu` |
//! | `memory-requests-missing` | `memoryRequestsMissing` | medium | 2 | a regular container without `resources.requests.memory` |
//! | `cpu-limits-missing` | `cpuLimitsMissing` | medium | 1 | a regular container without `resources.limits.cpu` |
//! | `memory-limits-missing` | `memoryLimitsMissing` | medium | 2 | a regular container without `resources.limits.memory` |
//! | `read-only-root-filesystem` | `notReadOnlyRootFilesystem` | medium | 2 | a container whose `securityContext.readOnlyRootFilesystem` is not `true` |
//! | `pull-policy-not-always` | `pullPolicyNotAlways` | medium | 1 | a container with a `latest` or untagged image (no digest) and an explicit `imagePullPolicy` other than `Always` |
//! | `priority-class-not-set` | `priorityClassNotSet` | low | 1 | `spec.priorityClassName` unset or empty |
//! | `automount-service-account-token` | `automountServiceAccountToken` | medium | 2 | `spec.automountServiceAccountToken` not `false` |
//! | `sensitive-env-literal` | `sensitiveContainerEnvVar` | high | 3 | a container env var with a secret-looking name, or a PEM private key, as a literal `value` |
//! | `missing-topology-spread` | `topologySpreadConstraint` | medium | 2 | a pod of a Deployment, StatefulSet, ReplicaSet or ReplicationController without `spec.topologySpreadConstraints` |
//!
//! It reads the contract-0.2.0 records of the pod, and only the parts its checks need, since
//! each part is copied out of the host when first asked for: the `container` records of
//! `containers()` and `init-containers()` (`resources`, `image`, `image-pull-policy`,
//! `security-context.read-only-root-filesystem`, `env`), the `pod-spec` record
//! (`priority-class-name`, `automount-service-account-token`, `topology-spread-constraints`)
//! and `object-meta.owner-kinds`. Never the ephemeral containers, the volumes, the status, nor
//! the pod's JSON (the costliest part).
//!
//! Severities follow Polaris's defaults (`danger` is `high`, `warning` is `medium`), except
//! `priority-class-not-set`, a Polaris `warning` kept `low` here: it is a scheduling nicety.
//!
//! Semantics, where they depart from or sharpen Polaris:
//!
//! - Containers: regular and init containers, as Polaris validates them; the four resource
//!   checks leave init containers out, as Polaris does. Ephemeral containers are not checked.
//! - Resources: a quantity counts when it is not empty (the host passes numbers, `cpu: 1` in
//!   YAML, as their text).
//! - Read-only root filesystem: only the container's own `securityContext` counts; the pod's
//!   security context has no such field.
//! - Pull policy: Polaris wants `Always` everywhere. Here only mutable images count (tag
//!   `latest` or none, not pinned by digest), and only an explicit policy other than `Always`:
//!   the API server defaults an unset policy to `Always` for exactly those images, and a
//!   pinned image is the same bytes whatever the policy.
//! - Priority class: an empty name counts as unset.
//! - Service-account token: the plugin sees the pod, not its ServiceAccount, so anything but
//!   an explicit `false` on the pod is flagged (Polaris also accepts a ServiceAccount with
//!   `automountServiceAccountToken: false`).
//! - Sensitive env: a non-empty literal `value` (an empty one leaks nothing; the host passes a
//!   number or a boolean as its text) whose name contains, case-insensitively with `-` and `.`
//!   read as `_`, one of [`checks::SENSITIVE_SUBSTRINGS`] or a `sensitiveNamePatterns` entry,
//!   or matches `AZURE_*KEY`; or any literal value holding a PEM private key. One finding per
//!   container, naming the variables, never their values.
//! - Topology spread: Polaris skips Jobs and CronJobs; here only the replicated controllers of
//!   [`checks::REPLICATED_CONTROLLERS`] count (read from `metadata.ownerReferences`, or the kind
//!   of the workload a manifest template comes from): a DaemonSet runs one pod per node and a
//!   bare pod has nothing to spread. The replica count (`pod-spec.replicas`) is not read, so
//!   every such controller counts, as in Polaris; any non-empty list of constraints passes.

mod checks;

use kube_devops_sdk::prelude::*;
use serde::Deserialize;

use checks::{Check, SensitiveNames};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct Settings {
    /// More substrings of sensitive environment variable names, added to the built-in ones.
    sensitive_name_patterns: Vec<String>,
}

struct BestPractices {
    sensitive: SensitiveNames,
}

impl Plugin for BestPractices {
    type Settings = Settings;
    const CONTAINER_PARTS: ContainerParts = ContainerParts::RESOURCES
        .union(ContainerParts::ENV)
        .union(ContainerParts::SECURITY_CONTEXT);

    fn metadata() -> PluginMetadata {
        let mut metadata = PluginMetadata::new(
            "best-practices",
            env!("CARGO_PKG_VERSION"),
            "Polaris's pod and container best practices beyond the Pod Security Standards",
        );
        for check in Check::ALL {
            metadata = metadata.check(CheckInfo::spec(
                check.id(),
                &format!("{} (Polaris `{}`)", check.description(), check.polaris_id()),
                check.severity(),
                check.weight(),
            ));
        }
        metadata
    }

    fn new(settings: Settings) -> Result<Self, String> {
        if let Some(index) = settings
            .sensitive_name_patterns
            .iter()
            .position(|pattern| pattern.trim().is_empty())
        {
            return Err(format!(
                "setting `sensitiveNamePatterns`: entry {index} is empty and would match every \
                 variable; remove it"
            ));
        }
        Ok(BestPractices {
            sensitive: SensitiveNames::new(&settings.sensitive_name_patterns),
        })
    }

    fn analyze(&self, pod: &Pod) -> Vec<Finding> {
        Check::ALL
            .iter()
            .flat_map(|check| check.evaluate(pod, &self.sensitive))
            .collect()
    }

    /// Missing requests and limits get the policy's `defaultResources`, when it names them;
    /// the other checks need a human's choice and have no fix.
    fn fix(&self, pod: &Pod, finding: &Finding, defaults: &FixDefaults) -> Option<Fix> {
        let resources = defaults.resources.as_ref()?;
        let (field, value) = match finding.check.as_str() {
            "cpu-requests-missing" => ("requests/cpu", &resources.cpu_request),
            "memory-requests-missing" => ("requests/memory", &resources.memory_request),
            "cpu-limits-missing" => ("limits/cpu", &resources.cpu_limit),
            "memory-limits-missing" => ("limits/memory", &resources.memory_limit),
            _ => return None,
        };
        let at = pod.container_pointer(finding.container.as_deref()?)?;
        Some(Fix::new().add(format!("{at}/resources/{field}"), value.clone()?))
    }
}

export_plugin!(BestPractices);

#[cfg(test)]
mod tests;
