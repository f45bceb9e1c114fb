//! What the Pod Security Standards read of the SDK's pod records, as PodSecurity admission sees
//! it.
//!
//! The host reads the pod's JSON into the contract's records; these accessors fill in what PSA
//! takes for granted: an unset security context reads as an empty one, and the API server's
//! default for host ports is applied, since PSA sees the defaulted pod: a container port of a
//! `hostNetwork` pod without a `hostPort` gets `hostPort = containerPort`
//! ([`SpecView::effective_host_port`]). A volume without a source is an `emptyDir`: the host
//! then gives it no sources, which every check allows.

use kube_devops_sdk::{
    Container, ContainerPort, PodSecurityContext, PodSpec, SecurityContext, Volume,
};

/// An unset pod security context: one that sets nothing.
static EMPTY_POD_CONTEXT: PodSecurityContext = PodSecurityContext {
    run_as_non_root: None,
    run_as_user: None,
    run_as_group: None,
    fs_group: None,
    seccomp_profile: None,
    app_armor_profile: None,
    se_linux_options: None,
    sysctls: Vec::new(),
    windows_host_process: None,
};

/// An unset container security context: one that sets nothing.
static EMPTY_CONTEXT: SecurityContext = SecurityContext {
    run_as_non_root: None,
    run_as_user: None,
    run_as_group: None,
    privileged: None,
    allow_privilege_escalation: None,
    read_only_root_filesystem: None,
    capabilities_add: Vec::new(),
    capabilities_drop: Vec::new(),
    proc_mount: None,
    seccomp_profile: None,
    app_armor_profile: None,
    se_linux_options: None,
    windows_host_process: None,
};

/// The pod-level fields, as PSA reads them.
pub trait SpecView {
    /// The pod's own security context, or an empty one.
    fn pod_context(&self) -> &PodSecurityContext;

    /// `spec.os.name` is `windows`: PSA exempts such pods from some restricted checks.
    fn is_windows(&self) -> bool;

    /// `spec.hostUsers: false`: the pod runs in a user namespace, which relaxes some checks.
    fn in_user_namespace(&self) -> bool;

    /// The host port a container port ends up with once the API server has defaulted the pod: a
    /// `hostNetwork` pod's regular and init containers get `hostPort = containerPort` when they
    /// set none (ephemeral containers have no ports).
    fn effective_host_port(&self, port: &ContainerPort) -> i32;
}

impl SpecView for PodSpec {
    fn pod_context(&self) -> &PodSecurityContext {
        self.security_context.as_ref().unwrap_or(&EMPTY_POD_CONTEXT)
    }

    fn is_windows(&self) -> bool {
        self.os.as_deref() == Some("windows")
    }

    fn in_user_namespace(&self) -> bool {
        self.host_users == Some(false)
    }

    fn effective_host_port(&self, port: &ContainerPort) -> i32 {
        let host_port = port.host_port.unwrap_or(0);
        if host_port == 0 && self.host_network {
            port.container_port
        } else {
            host_port
        }
    }
}

/// A container's security settings, as PSA reads them.
pub trait ContainerView {
    /// The container's security context, or an empty one.
    fn context(&self) -> &SecurityContext;
}

impl ContainerView for Container {
    fn context(&self) -> &SecurityContext {
        self.security_context.as_ref().unwrap_or(&EMPTY_CONTEXT)
    }
}

/// A volume's sources, as PSA reads them.
pub trait VolumeView {
    /// Whether the volume sets this source (by its field name, `hostPath`).
    fn has(&self, source: &str) -> bool;
}

impl VolumeView for Volume {
    fn has(&self, source: &str) -> bool {
        self.sources.iter().any(|set| set == source)
    }
}
