//! Example plugin: flags privileged containers, and `hostPath` volumes unless their path is
//! allowed by the `allowedHostPaths` setting.
//!
//! It shows what most custom checks need: typed records (`privileged`, the volumes),
//! settings, and a fix (`kube-devops fix`, the mutating webhook, enforce mode).

use kube_devops_sdk::prelude::*;
use serde::Deserialize;

const PRIVILEGED: &str = "privileged-container";
const HOST_PATH: &str = "host-path-volume";

/// Settings, from the `plugins.no-privileged.settings` key of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
struct Settings {
    /// hostPath prefixes that are fine to mount (for example `/var/log`).
    allowed_host_paths: Vec<String>,
}

struct NoPrivileged {
    allowed_host_paths: Vec<String>,
}

impl Plugin for NoPrivileged {
    type Settings = Settings;
    // Only what `analyze` reads is copied in: the security context.
    const CONTAINER_PARTS: ContainerParts = ContainerParts::SECURITY_CONTEXT;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "no-privileged",
            env!("CARGO_PKG_VERSION"),
            "Flags privileged containers and hostPath volumes",
        )
        .check(CheckInfo::spec(
            PRIVILEGED,
            "Container runs privileged: it has every capability of the node",
            Severity::Critical,
            10,
        ))
        .check(CheckInfo::spec(
            HOST_PATH,
            "Pod mounts a directory of the node",
            Severity::High,
            4,
        ))
    }

    fn new(settings: Settings) -> Result<Self, String> {
        if let Some(path) = settings
            .allowed_host_paths
            .iter()
            .find(|path| !path.starts_with('/'))
        {
            return Err(format!(
                "allowedHostPaths: `{path}` is not an absolute path"
            ));
        }
        Ok(NoPrivileged {
            allowed_host_paths: settings.allowed_host_paths,
        })
    }

    fn analyze(&self, pod: &Pod) -> Vec<Finding> {
        let mut findings: Vec<Finding> = pod
            .all_containers()
            .filter(|c| c.security_context.as_ref().and_then(|s| s.privileged) == Some(true))
            .map(|c| {
                Finding::new(PRIVILEGED, "runs privileged; remove `privileged: true`")
                    .in_container(&c.name)
            })
            .collect();

        for volume in pod.volumes() {
            let Some(path) = &volume.host_path else {
                continue;
            };
            if !self
                .allowed_host_paths
                .iter()
                .any(|allowed| path.starts_with(allowed.as_str()))
            {
                findings.push(Finding::new(
                    HOST_PATH,
                    format!("volume `{}` mounts host path {path}", volume.name),
                ));
            }
        }
        findings
    }

    /// A privileged container's fix sets `privileged: false`; a hostPath volume has none,
    /// since only a human knows what the pod needs from the node.
    fn fix(&self, pod: &Pod, finding: &Finding, _: &FixDefaults) -> Option<Fix> {
        if finding.check != PRIVILEGED {
            return None;
        }
        let at = pod.container_pointer(finding.container.as_deref()?)?;
        Some(Fix::new().replace(format!("{at}/securityContext/privileged"), false))
    }
}

export_plugin!(NoPrivileged);
