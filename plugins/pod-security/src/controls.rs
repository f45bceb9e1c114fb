//! The controls of the Pod Security Standards, as PodSecurity admission evaluates them at
//! version `latest` (Kubernetes 1.36; its newest rules date from 1.35).
//!
//! Each control is one PSA check (`k8s.io/pod-security-admission/policy/check_*.go`) and one
//! check of this plugin, named after the PSA id in kebab-case ([`check_id`]). A control reports
//! one [`Violation`] per offending container, or per pod-level cause (a pod field, a volume, a
//! sysctl, an annotation that names no container).

use kube_devops_sdk::{Container, KeyValue, Pod, ProbeHandler, Profile, SeLinuxOptions};

use crate::model::{ContainerView, SpecView, VolumeView};

/// A level of the Pod Security Standards (`privileged` enforces nothing, so it has no checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Baseline,
    Restricted,
}

impl Level {
    /// The controls PSA runs at this level. `restricted` runs the baseline controls too, except
    /// those a restricted control overrides (`capabilities_baseline`, `hostPathVolumes`,
    /// `seccompProfile_baseline`, `procMount`), which it reports as their restricted versions.
    pub fn controls(self) -> Vec<Control> {
        match self {
            Level::Baseline => Control::ALL
                .into_iter()
                .filter(|control| control.level() == Level::Baseline)
                .collect(),
            Level::Restricted => Control::ALL
                .into_iter()
                .filter(|control| {
                    !Control::ALL
                        .iter()
                        .any(|other| other.overrides() == Some(*control))
                })
                .collect(),
        }
    }
}

/// One PSA check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    AppArmorProfile,
    CapabilitiesBaseline,
    HostNamespaces,
    HostPathVolumes,
    HostPorts,
    HostProbesAndHostLifecycle,
    Privileged,
    ProcMount,
    SeLinuxOptions,
    SeccompProfileBaseline,
    Sysctls,
    WindowsHostProcess,
    AllowPrivilegeEscalation,
    CapabilitiesRestricted,
    ProcMountRestricted,
    RestrictedVolumes,
    RunAsNonRoot,
    RunAsUser,
    SeccompProfileRestricted,
}

impl Control {
    /// Every PSA check at `latest`: the 12 baseline ones, then the 7 restricted ones.
    pub const ALL: [Control; 19] = [
        Control::AppArmorProfile,
        Control::CapabilitiesBaseline,
        Control::HostNamespaces,
        Control::HostPathVolumes,
        Control::HostPorts,
        Control::HostProbesAndHostLifecycle,
        Control::Privileged,
        Control::ProcMount,
        Control::SeLinuxOptions,
        Control::SeccompProfileBaseline,
        Control::Sysctls,
        Control::WindowsHostProcess,
        Control::AllowPrivilegeEscalation,
        Control::CapabilitiesRestricted,
        Control::ProcMountRestricted,
        Control::RestrictedVolumes,
        Control::RunAsNonRoot,
        Control::RunAsUser,
        Control::SeccompProfileRestricted,
    ];

    /// The PSA check id, as PodSecurity admission's audit annotations and tests name it.
    pub fn psa_id(self) -> &'static str {
        match self {
            Control::AppArmorProfile => "appArmorProfile",
            Control::CapabilitiesBaseline => "capabilities_baseline",
            Control::HostNamespaces => "hostNamespaces",
            Control::HostPathVolumes => "hostPathVolumes",
            Control::HostPorts => "hostPorts",
            Control::HostProbesAndHostLifecycle => "hostProbesAndHostLifecycle",
            Control::Privileged => "privileged",
            Control::ProcMount => "procMount",
            Control::SeLinuxOptions => "seLinuxOptions",
            Control::SeccompProfileBaseline => "seccompProfile_baseline",
            Control::Sysctls => "sysctls",
            Control::WindowsHostProcess => "windowsHostProcess",
            Control::AllowPrivilegeEscalation => "allowPrivilegeEscalation",
            Control::CapabilitiesRestricted => "capabilities_restricted",
            Control::ProcMountRestricted => "procMount_restricted",
            Control::RestrictedVolumes => "restrictedVolumes",
            Control::RunAsNonRoot => "runAsNonRoot",
            Control::RunAsUser => "runAsUser",
            Control::SeccompProfileRestricted => "seccompProfile_restricted",
        }
    }

    /// This plugin's check id: the PSA id in kebab-case.
    pub fn id(self) -> String {
        check_id(self.psa_id())
    }

    pub fn level(self) -> Level {
        match self {
            Control::AllowPrivilegeEscalation
            | Control::CapabilitiesRestricted
            | Control::ProcMountRestricted
            | Control::RestrictedVolumes
            | Control::RunAsNonRoot
            | Control::RunAsUser
            | Control::SeccompProfileRestricted => Level::Restricted,
            _ => Level::Baseline,
        }
    }

    /// The baseline control this restricted control replaces at `restricted`.
    pub fn overrides(self) -> Option<Control> {
        match self {
            Control::CapabilitiesRestricted => Some(Control::CapabilitiesBaseline),
            Control::RestrictedVolumes => Some(Control::HostPathVolumes),
            Control::SeccompProfileRestricted => Some(Control::SeccompProfileBaseline),
            Control::ProcMountRestricted => Some(Control::ProcMount),
            _ => None,
        }
    }

    /// One line for `kube-devops plugin list`.
    pub fn description(self) -> &'static str {
        match self {
            Control::AppArmorProfile => {
                "PSS baseline: AppArmor profile (field or legacy annotation) overrides the runtime default"
            }
            Control::CapabilitiesBaseline => {
                "PSS baseline: container adds a capability beyond the runtime's default set"
            }
            Control::HostNamespaces => {
                "PSS baseline: pod shares the node's network, PID or IPC namespace"
            }
            Control::HostPathVolumes => "PSS baseline: pod mounts a hostPath volume",
            Control::HostPorts => "PSS baseline: container binds a port of the node (hostPort)",
            Control::HostProbesAndHostLifecycle => {
                "PSS baseline: probe or lifecycle handler targets another host"
            }
            Control::Privileged => "PSS baseline: container runs privileged",
            Control::ProcMount => "PSS baseline: container unmasks /proc outside a user namespace",
            Control::SeLinuxOptions => {
                "PSS baseline: SELinux user, role or a non-container type is set"
            }
            Control::SeccompProfileBaseline => "PSS baseline: seccomp profile is Unconfined",
            Control::Sysctls => "PSS baseline: pod sets a sysctl outside the safe set",
            Control::WindowsHostProcess => "PSS baseline: Windows HostProcess container",
            Control::AllowPrivilegeEscalation => {
                "PSS restricted: container does not set allowPrivilegeEscalation=false"
            }
            Control::CapabilitiesRestricted => {
                "PSS restricted: container does not drop ALL capabilities or adds one beyond NET_BIND_SERVICE"
            }
            Control::ProcMountRestricted => "PSS restricted: container unmasks /proc",
            Control::RestrictedVolumes => {
                "PSS restricted: pod uses a volume type outside the restricted set"
            }
            Control::RunAsNonRoot => "PSS restricted: containers may run as root (runAsNonRoot)",
            Control::RunAsUser => "PSS restricted: pod or container sets runAsUser=0",
            Control::SeccompProfileRestricted => {
                "PSS restricted: seccomp profile is not RuntimeDefault or Localhost"
            }
        }
    }

    /// The control's violations in `pod`. Each control reads only the parts of the pod it
    /// needs, so only those cross the sandbox boundary.
    pub fn evaluate(self, pod: &Pod) -> Vec<Violation> {
        let mut found = Found::default();
        match self {
            Control::AppArmorProfile => app_armor_profile(pod, &mut found),
            Control::CapabilitiesBaseline => capabilities_baseline(pod, &mut found),
            Control::HostNamespaces => host_namespaces(pod, &mut found),
            Control::HostPathVolumes => host_path_volumes(pod, &mut found),
            Control::HostPorts => host_ports(pod, &mut found),
            Control::HostProbesAndHostLifecycle => host_probes(pod, &mut found),
            Control::Privileged => privileged(pod, &mut found),
            Control::ProcMount => proc_mount(pod, false, &mut found),
            Control::SeLinuxOptions => se_linux_options(pod, &mut found),
            Control::SeccompProfileBaseline => seccomp_baseline(pod, &mut found),
            Control::Sysctls => sysctls(pod, &mut found),
            Control::WindowsHostProcess => windows_host_process(pod, &mut found),
            Control::AllowPrivilegeEscalation => allow_privilege_escalation(pod, &mut found),
            Control::CapabilitiesRestricted => capabilities_restricted(pod, &mut found),
            Control::ProcMountRestricted => proc_mount(pod, true, &mut found),
            Control::RestrictedVolumes => restricted_volumes(pod, &mut found),
            Control::RunAsNonRoot => run_as_non_root(pod, &mut found),
            Control::RunAsUser => run_as_user(pod, &mut found),
            Control::SeccompProfileRestricted => seccomp_restricted(pod, &mut found),
        }
        found.0
    }
}

/// A PSA check id (`allowPrivilegeEscalation`, `seccompProfile_baseline`) in kebab-case
/// (`allow-privilege-escalation`, `seccomp-profile-baseline`): a word starts at each capital
/// after a lower-case letter or digit, at the last capital of an acronym followed by a
/// lower-case letter (`hostPIDMode` → `host-pid-mode`), and after each `_`.
pub fn check_id(psa_id: &str) -> String {
    let chars: Vec<char> = psa_id.chars().collect();
    let mut id = String::with_capacity(psa_id.len() + 4);
    for (index, &c) in chars.iter().enumerate() {
        if c == '_' || c == '-' {
            if !id.is_empty() && !id.ends_with('-') {
                id.push('-');
            }
            continue;
        }
        if c.is_uppercase() && index > 0 {
            let previous = chars[index - 1];
            let next_is_lower = chars.get(index + 1).is_some_and(|n| n.is_lowercase());
            let starts_word = previous.is_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_uppercase() && next_is_lower);
            if starts_word && !id.ends_with('-') {
                id.push('-');
            }
        }
        id.extend(c.to_lowercase());
    }
    id
}

/// One violation of a control: the container at fault (`None` for a pod-level cause) and what
/// is wrong, worded as PSA words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub container: Option<String>,
    pub message: String,
    /// A restricted control's violation that the baseline control it replaces also forbids (a
    /// hostPath volume under `restrictedVolumes`, say): it is as grave as a baseline one.
    pub breaks_baseline: bool,
}

/// The violations found so far, at most one per container: a second cause on the same
/// container is added to its message.
#[derive(Default)]
struct Found(Vec<Violation>);

impl Found {
    fn pod(&mut self, message: String) {
        self.push(None, message, false);
    }

    fn container(&mut self, container: &Container, message: String) {
        self.push(Some(&container.name), message, false);
    }

    fn push(&mut self, container: Option<&str>, message: String, breaks_baseline: bool) {
        if let Some(name) = container
            && let Some(existing) = self
                .0
                .iter_mut()
                .find(|v| v.container.as_deref() == Some(name))
        {
            existing.message.push_str("; ");
            existing.message.push_str(&message);
            existing.breaks_baseline |= breaks_baseline;
            return;
        }
        self.0.push(Violation {
            container: container.map(str::to_owned),
            message,
            breaks_baseline,
        });
    }
}

/// `"a", "b"`: PSA's quoting of lists.
fn quote_all<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items
        .into_iter()
        .map(|item| format!("{item:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `container "app"`.
fn named(container: &Container) -> String {
    format!("container {:?}", container.name)
}

// --- baseline -----------------------------------------------------------------------------

const APP_ARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// `appArmorProfile`: the pod's and each container's `appArmorProfile.type` must be
/// `RuntimeDefault` or `Localhost` when set; the legacy per-container annotations must be
/// `runtime/default`, `localhost/*` or empty. The API server copies such an annotation onto the
/// container it names, so a bad annotation is reported on that container when it exists.
fn app_armor_profile(pod: &Pod, found: &mut Found) {
    let allowed =
        |profile: &Profile| matches!(profile.kind.as_str(), "RuntimeDefault" | "Localhost");
    if let Some(profile) = &pod.spec().pod_context().app_armor_profile
        && !allowed(profile)
    {
        found.pod(format!(
            "pod must not set securityContext.appArmorProfile.type to {:?}",
            profile.kind
        ));
    }
    for container in pod.every_container() {
        if let Some(profile) = &container.context().app_armor_profile
            && !allowed(profile)
        {
            found.container(
                container,
                format!(
                    "{} must not set securityContext.appArmorProfile.type to {:?}",
                    named(container),
                    profile.kind
                ),
            );
        }
    }
    // In key order, so the findings do not depend on the order the host lists entries in.
    let mut annotations: Vec<&KeyValue> = pod.metadata().annotations.iter().collect();
    annotations.sort_by(|a, b| a.key.cmp(&b.key));
    for KeyValue { key, value } in annotations {
        let Some(target) = key.strip_prefix(APP_ARMOR_ANNOTATION_PREFIX) else {
            continue;
        };
        if value.is_empty() || value == "runtime/default" || value.starts_with("localhost/") {
            continue;
        }
        let message = format!(
            "annotation {key}={value:?} must not set a forbidden AppArmor profile \
             (allowed: runtime/default, localhost/*)"
        );
        let container = pod.every_container().find(|c| c.name == target);
        found.push(container.map(|c| c.name.as_str()), message, false);
    }
}

/// The capabilities a baseline container may add: the container runtimes' default set.
const DEFAULT_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn non_default_capabilities(container: &Container) -> Vec<&str> {
    let mut added: Vec<&str> = container
        .context()
        .capabilities_add
        .iter()
        .map(String::as_str)
        .filter(|cap| !DEFAULT_CAPABILITIES.contains(cap))
        .collect();
    added.sort_unstable();
    added.dedup();
    added
}

/// `capabilities_baseline`: `capabilities.add` may hold only the default set, matched exactly
/// (`CAP_CHOWN` and `chown` are not `CHOWN`).
fn capabilities_baseline(pod: &Pod, found: &mut Found) {
    for container in pod.every_container() {
        let added = non_default_capabilities(container);
        if !added.is_empty() {
            found.container(
                container,
                format!(
                    "{} must not include {} in securityContext.capabilities.add",
                    named(container),
                    quote_all(added)
                ),
            );
        }
    }
}

/// `hostNamespaces`: `hostNetwork`, `hostPID` and `hostIPC` must be unset or false.
fn host_namespaces(pod: &Pod, found: &mut Found) {
    let spec = pod.spec();
    for (field, value) in [
        ("hostNetwork", spec.host_network),
        ("hostPID", spec.host_pid),
        ("hostIPC", spec.host_ipc),
    ] {
        if value {
            found.pod(format!("pod must not set spec.{field}=true"));
        }
    }
}

/// `hostPathVolumes`: no `hostPath` volume.
fn host_path_volumes(pod: &Pod, found: &mut Found) {
    for volume in pod.volumes().iter().filter(|volume| volume.has("hostPath")) {
        found.pod(format!("volume {:?} must not set hostPath", volume.name));
    }
}

/// `hostPorts`: no container port with a non-zero `hostPort`, once defaulted (a `hostNetwork`
/// pod's ports get `hostPort = containerPort`).
fn host_ports(pod: &Pod, found: &mut Found) {
    let spec = pod.spec();
    for container in pod.every_container() {
        let mut ports: Vec<i32> = container
            .ports
            .iter()
            .map(|port| spec.effective_host_port(port))
            .filter(|port| *port != 0)
            .collect();
        if ports.is_empty() {
            continue;
        }
        ports.sort_unstable();
        ports.dedup();
        let list = ports
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let plural = if ports.len() == 1 { "" } else { "s" };
        let defaulted = if spec.host_network {
            " (hostNetwork makes every containerPort a hostPort)"
        } else {
            ""
        };
        found.container(
            container,
            format!(
                "{} uses hostPort{plural} {list}{defaulted}",
                named(container)
            ),
        );
    }
}

/// `hostProbesAndHostLifecycle`: probes and lifecycle handlers must not set `httpGet.host` or
/// `tcpSocket.host` (empty is allowed).
fn host_probes(pod: &Pod, found: &mut Found) {
    for container in pod.every_container() {
        let mut hosts = Vec::new();
        for (path, probe) in [
            ("livenessProbe", &container.liveness_probe),
            ("readinessProbe", &container.readiness_probe),
            ("startupProbe", &container.startup_probe),
        ] {
            if let Some(probe) = probe {
                hosts.extend(host_target(path, &probe.handler, &probe.host));
            }
        }
        for (path, hook) in [
            ("lifecycle.postStart", &container.post_start),
            ("lifecycle.preStop", &container.pre_stop),
        ] {
            if let Some(hook) = hook {
                hosts.extend(host_target(path, &hook.handler, &hook.host));
            }
        }
        if !hosts.is_empty() {
            found.container(
                container,
                format!(
                    "{} uses probe or lifecycle host: {}",
                    named(container),
                    hosts.join(", ")
                ),
            );
        }
    }
}

/// `livenessProbe.httpGet.host="a"`, when the handler at `path` targets a host.
fn host_target(path: &str, handler: &ProbeHandler, host: &Option<String>) -> Option<String> {
    let host = host.as_deref().filter(|host| !host.is_empty())?;
    // Only these two actions have a `host` field.
    let action = match handler {
        ProbeHandler::HttpGet(_) => "httpGet",
        ProbeHandler::TcpSocket(_) => "tcpSocket",
        _ => return None,
    };
    Some(format!("{path}.{action}.host={host:?}"))
}

/// `privileged`: `securityContext.privileged` must be unset or false.
fn privileged(pod: &Pod, found: &mut Found) {
    for container in pod.every_container() {
        if container.context().privileged == Some(true) {
            found.container(
                container,
                format!(
                    "{} must not set securityContext.privileged=true",
                    named(container)
                ),
            );
        }
    }
}

/// `procMount` (baseline) and `procMount_restricted`: `procMount` must be unset or `Default`.
/// Since 1.35 baseline allows any value in a user namespace (`hostUsers: false`); restricted
/// never does.
fn proc_mount(pod: &Pod, restricted: bool, found: &mut Found) {
    let relaxed = pod.spec().in_user_namespace();
    if !restricted && relaxed {
        return;
    }
    for container in pod.every_container() {
        if let Some(mount) = &container.context().proc_mount
            && mount != "Default"
        {
            let message = format!(
                "{} must not set securityContext.procMount to {mount:?}",
                named(container)
            );
            found.push(Some(&container.name), message, restricted && !relaxed);
        }
    }
}

/// The SELinux types a baseline pod may set (`container_engine_t` since 1.31).
const SELINUX_TYPES: [&str; 5] = [
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// What is wrong with SELinux options, PSA's way: `type "spc_t"; user may not be set`.
fn se_linux_faults(options: &SeLinuxOptions) -> Option<String> {
    // PSA reads an unset field as empty, and allows both.
    let set = |field: &Option<String>| field.as_deref().is_some_and(|value| !value.is_empty());
    let kind = options.type_.as_deref().unwrap_or_default();
    let mut faults = Vec::new();
    if !SELINUX_TYPES.contains(&kind) {
        faults.push(format!("type {kind:?}"));
    }
    if set(&options.user) {
        faults.push("user may not be set".to_owned());
    }
    if set(&options.role) {
        faults.push("role may not be set".to_owned());
    }
    (!faults.is_empty()).then(|| faults.join("; "))
}

/// `seLinuxOptions`: pod and containers may set only an allowed `type`, never `user` or `role`.
fn se_linux_options(pod: &Pod, found: &mut Found) {
    if let Some(options) = &pod.spec().pod_context().se_linux_options
        && let Some(faults) = se_linux_faults(options)
    {
        found.pod(format!(
            "pod set forbidden securityContext.seLinuxOptions: {faults}"
        ));
    }
    for container in pod.every_container() {
        if let Some(options) = &container.context().se_linux_options
            && let Some(faults) = se_linux_faults(options)
        {
            found.container(
                container,
                format!(
                    "{} set forbidden securityContext.seLinuxOptions: {faults}",
                    named(container)
                ),
            );
        }
    }
}

fn valid_seccomp(profile: &Profile) -> bool {
    matches!(profile.kind.as_str(), "RuntimeDefault" | "Localhost")
}

/// The pod and the containers that set a seccomp profile other than `RuntimeDefault` or
/// `Localhost` (since 1.19 PSA reads only the fields; the legacy annotations are ignored).
fn seccomp_bad_setters(pod: &Pod, found: &mut Found, breaks_baseline: bool) {
    if let Some(profile) = &pod.spec().pod_context().seccomp_profile
        && !valid_seccomp(profile)
    {
        let message = format!(
            "pod must not set securityContext.seccompProfile.type to {:?}",
            profile.kind
        );
        found.push(None, message, breaks_baseline);
    }
    for container in pod.every_container() {
        if let Some(profile) = &container.context().seccomp_profile
            && !valid_seccomp(profile)
        {
            let message = format!(
                "{} must not set securityContext.seccompProfile.type to {:?}",
                named(container),
                profile.kind
            );
            found.push(Some(&container.name), message, breaks_baseline);
        }
    }
}

/// `seccompProfile_baseline`: a seccomp profile, where set, must be `RuntimeDefault` or
/// `Localhost`.
fn seccomp_baseline(pod: &Pod, found: &mut Found) {
    seccomp_bad_setters(pod, found, false);
}

/// The sysctls any pod may set (1.32's list), matched exactly (`net/ipv4/...` is not allowed).
const SAFE_SYSCTLS: [&str; 12] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
];

/// `sysctls`: every pod sysctl must be in the safe set.
fn sysctls(pod: &Pod, found: &mut Found) {
    for sysctl in &pod.spec().pod_context().sysctls {
        if !SAFE_SYSCTLS.contains(&sysctl.key.as_str()) {
            found.pod(format!(
                "pod must not set forbidden sysctl {:?} in securityContext.sysctls",
                sysctl.key
            ));
        }
    }
}

/// `windowsHostProcess`: `windowsOptions.hostProcess` must be unset or false, on the pod and on
/// every container.
fn windows_host_process(pod: &Pod, found: &mut Found) {
    if pod.spec().pod_context().windows_host_process == Some(true) {
        found.pod("pod must not set securityContext.windowsOptions.hostProcess=true".to_owned());
    }
    for container in pod.every_container() {
        if container.context().windows_host_process == Some(true) {
            found.container(
                container,
                format!(
                    "{} must not set securityContext.windowsOptions.hostProcess=true",
                    named(container)
                ),
            );
        }
    }
}

// --- restricted ---------------------------------------------------------------------------

/// `allowPrivilegeEscalation`: every container sets it to false (Windows pods are exempt since
/// 1.25: the field does not apply to them).
fn allow_privilege_escalation(pod: &Pod, found: &mut Found) {
    if pod.spec().is_windows() {
        return;
    }
    for container in pod.every_container() {
        if container.context().allow_privilege_escalation != Some(false) {
            found.container(
                container,
                format!(
                    "{} must set securityContext.allowPrivilegeEscalation=false",
                    named(container)
                ),
            );
        }
    }
}

/// `capabilities_restricted`: every container drops `ALL` (exactly) and adds nothing but
/// `NET_BIND_SERVICE` (Windows pods are exempt since 1.25).
fn capabilities_restricted(pod: &Pod, found: &mut Found) {
    if pod.spec().is_windows() {
        return;
    }
    for container in pod.every_container() {
        let context = container.context();
        // An unset `capabilities` fails like one that drops nothing, with the same message.
        let drops_all = context.capabilities_drop.iter().any(|c| c == "ALL");
        let mut added: Vec<&str> = context
            .capabilities_add
            .iter()
            .map(String::as_str)
            .filter(|cap| *cap != "NET_BIND_SERVICE")
            .collect();
        added.sort_unstable();
        added.dedup();
        let mut faults = Vec::new();
        if !drops_all {
            faults.push(r#"must set securityContext.capabilities.drop=["ALL"]"#.to_owned());
        }
        if !added.is_empty() {
            faults.push(format!(
                "must not include {} in securityContext.capabilities.add",
                quote_all(added)
            ));
        }
        if !faults.is_empty() {
            let breaks_baseline = !non_default_capabilities(container).is_empty();
            let message = format!("{} {}", named(container), faults.join("; "));
            found.push(Some(&container.name), message, breaks_baseline);
        }
    }
}

/// The volume sources a restricted pod may use.
const RESTRICTED_ALLOWED_VOLUMES: [&str; 9] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// The forbidden volume sources in the order PSA names a volume's type.
const RESTRICTED_VOLUME_TYPES: [&str; 21] = [
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
];

/// `restrictedVolumes`: volumes must be of an allowed type. A volume that sets no source is an
/// `emptyDir` once the API server defaults it.
fn restricted_volumes(pod: &Pod, found: &mut Found) {
    for volume in pod.volumes() {
        if volume.sources.is_empty()
            || volume
                .sources
                .iter()
                .any(|source| RESTRICTED_ALLOWED_VOLUMES.contains(&source.as_str()))
        {
            continue;
        }
        let kind = RESTRICTED_VOLUME_TYPES
            .iter()
            .find(|kind| volume.has(kind))
            .copied()
            .unwrap_or("unknown");
        let message = format!(
            "volume {:?} uses restricted volume type {kind:?}",
            volume.name
        );
        found.push(None, message, kind == "hostPath");
    }
}

/// `runAsNonRoot`: the pod sets `runAsNonRoot: true` or every container does, and nobody sets
/// it to false. A container's own value overrides the pod's, but a pod-level `false` is
/// reported even when every container sets `true`. When someone sets `false`, only those
/// setters are reported (as PSA does). Since 1.35 any value is allowed with `hostUsers: false`.
fn run_as_non_root(pod: &Pod, found: &mut Found) {
    let spec = pod.spec();
    if spec.in_user_namespace() {
        return;
    }
    let pod_value = spec.pod_context().run_as_non_root;
    if pod_value == Some(false) {
        found.pod("pod must not set securityContext.runAsNonRoot=false".to_owned());
    }
    for container in pod.every_container() {
        if container.context().run_as_non_root == Some(false) {
            found.container(
                container,
                format!(
                    "{} must not set securityContext.runAsNonRoot=false",
                    named(container)
                ),
            );
        }
    }
    if !found.0.is_empty() || pod_value == Some(true) {
        return;
    }
    for container in pod.every_container() {
        if container.context().run_as_non_root.is_none() {
            found.container(
                container,
                format!(
                    "pod or {} must set securityContext.runAsNonRoot=true",
                    named(container)
                ),
            );
        }
    }
}

/// `runAsUser`: neither the pod nor a container sets `runAsUser: 0` (a pod-level 0 is reported
/// even when every container overrides it). Since 1.35 any value is allowed with
/// `hostUsers: false`.
fn run_as_user(pod: &Pod, found: &mut Found) {
    let spec = pod.spec();
    if spec.in_user_namespace() {
        return;
    }
    if spec.pod_context().run_as_user == Some(0) {
        found.pod("pod must not set securityContext.runAsUser=0".to_owned());
    }
    for container in pod.every_container() {
        if container.context().run_as_user == Some(0) {
            found.container(
                container,
                format!(
                    "{} must not set securityContext.runAsUser=0",
                    named(container)
                ),
            );
        }
    }
}

/// `seccompProfile_restricted`: the pod sets a `RuntimeDefault` or `Localhost` seccomp profile
/// or every container does, and nobody sets another type. As with `runAsNonRoot`, explicit bad
/// setters are reported alone when there are some. Windows pods are exempt since 1.25.
fn seccomp_restricted(pod: &Pod, found: &mut Found) {
    if pod.spec().is_windows() {
        return;
    }
    seccomp_bad_setters(pod, found, true);
    let pod_set = pod.spec().pod_context().seccomp_profile.is_some();
    if !found.0.is_empty() || pod_set {
        return;
    }
    for container in pod.every_container() {
        if container.context().seccomp_profile.is_none() {
            found.container(
                container,
                format!(
                    "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                    named(container)
                ),
            );
        }
    }
}
