//! The checks: their ids, Polaris counterparts, defaults, and how each reads a pod.

use kube_devops_sdk::{
    Container, EnvVar, Finding, ImageRef, KeyValue, Pod, PodSpec, Severity, lookup,
};

/// One check of the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    CpuRequestsMissing,
    MemoryRequestsMissing,
    CpuLimitsMissing,
    MemoryLimitsMissing,
    ReadOnlyRootFilesystem,
    PullPolicyNotAlways,
    PriorityClassNotSet,
    AutomountServiceAccountToken,
    SensitiveEnvLiteral,
    MissingTopologySpread,
}

impl Check {
    /// Every check, in the order findings come.
    pub const ALL: [Check; 10] = [
        Check::CpuRequestsMissing,
        Check::MemoryRequestsMissing,
        Check::CpuLimitsMissing,
        Check::MemoryLimitsMissing,
        Check::ReadOnlyRootFilesystem,
        Check::PullPolicyNotAlways,
        Check::PriorityClassNotSet,
        Check::AutomountServiceAccountToken,
        Check::SensitiveEnvLiteral,
        Check::MissingTopologySpread,
    ];

    /// The check id findings carry.
    pub fn id(self) -> &'static str {
        match self {
            Check::CpuRequestsMissing => "cpu-requests-missing",
            Check::MemoryRequestsMissing => "memory-requests-missing",
            Check::CpuLimitsMissing => "cpu-limits-missing",
            Check::MemoryLimitsMissing => "memory-limits-missing",
            Check::ReadOnlyRootFilesystem => "read-only-root-filesystem",
            Check::PullPolicyNotAlways => "pull-policy-not-always",
            Check::PriorityClassNotSet => "priority-class-not-set",
            Check::AutomountServiceAccountToken => "automount-service-account-token",
            Check::SensitiveEnvLiteral => "sensitive-env-literal",
            Check::MissingTopologySpread => "missing-topology-spread",
        }
    }

    /// The id of the Polaris check it follows.
    pub fn polaris_id(self) -> &'static str {
        match self {
            Check::CpuRequestsMissing => "cpuRequestsMissing",
            Check::MemoryRequestsMissing => "memoryRequestsMissing",
            Check::CpuLimitsMissing => "cpuLimitsMissing",
            Check::MemoryLimitsMissing => "memoryLimitsMissing",
            Check::ReadOnlyRootFilesystem => "notReadOnlyRootFilesystem",
            Check::PullPolicyNotAlways => "pullPolicyNotAlways",
            Check::PriorityClassNotSet => "priorityClassNotSet",
            Check::AutomountServiceAccountToken => "automountServiceAccountToken",
            Check::SensitiveEnvLiteral => "sensitiveContainerEnvVar",
            Check::MissingTopologySpread => "topologySpreadConstraint",
        }
    }

    /// The one line `kube-devops plugin list` shows.
    pub fn description(self) -> &'static str {
        match self {
            Check::CpuRequestsMissing => {
                "Container has no CPU request, so the scheduler cannot place it reliably"
            }
            Check::MemoryRequestsMissing => {
                "Container has no memory request, so the scheduler cannot place it reliably"
            }
            Check::CpuLimitsMissing => {
                "Container has no CPU limit, so it can starve its neighbours of CPU"
            }
            Check::MemoryLimitsMissing => {
                "Container has no memory limit, so it can exhaust the node's memory"
            }
            Check::ReadOnlyRootFilesystem => "Container's root filesystem is writable",
            Check::PullPolicyNotAlways => {
                "Container pulls a mutable (`latest` or untagged) image without imagePullPolicy Always"
            }
            Check::PriorityClassNotSet => "Pod has no priority class",
            Check::AutomountServiceAccountToken => {
                "Pod does not opt out of mounting a service-account token"
            }
            Check::SensitiveEnvLiteral => {
                "Container sets a secret-looking environment variable from a literal value"
            }
            Check::MissingTopologySpread => {
                "Pod of a replicated controller has no topology spread constraints"
            }
        }
    }

    /// Default severity: Polaris's `danger` is `high`, its `warning` is `medium`, except for
    /// the priority class, a scheduling nicety, which is `low`.
    pub fn severity(self) -> Severity {
        match self {
            Check::SensitiveEnvLiteral => Severity::High,
            Check::PriorityClassNotSet => Severity::Low,
            _ => Severity::Medium,
        }
    }

    /// Default weight.
    pub fn weight(self) -> u32 {
        match self {
            Check::SensitiveEnvLiteral => 3,
            Check::CpuLimitsMissing | Check::PullPolicyNotAlways | Check::PriorityClassNotSet => 1,
            _ => 2,
        }
    }

    /// The findings of this check for `pod`. Each check asks the pod only for the parts it
    /// reads; the SDK keeps a part once read, so the checks share it.
    pub fn evaluate(self, pod: &Pod, sensitive: &SensitiveNames) -> Vec<Finding> {
        let id = self.id();
        let per_container = |test: &dyn Fn(&Container) -> Option<String>, init: bool| {
            // Regular containers, then init containers: the ones Polaris validates (ephemeral
            // containers are debugging sessions, not the workload).
            let init_containers = if init { pod.init_containers() } else { &[] };
            pod.containers()
                .iter()
                .chain(init_containers)
                .filter_map(|container| {
                    test(container)
                        .map(|message| Finding::new(id, message).in_container(&container.name))
                })
                .collect::<Vec<_>>()
        };
        match self {
            // Polaris leaves init containers out of the four resource checks.
            Check::CpuRequestsMissing => per_container(
                &|c| {
                    quantity(&c.resources.requests, "cpu")
                        .is_none()
                        .then(|| missing(c, "requests.cpu", "a CPU request"))
                },
                false,
            ),
            Check::MemoryRequestsMissing => per_container(
                &|c| {
                    quantity(&c.resources.requests, "memory")
                        .is_none()
                        .then(|| missing(c, "requests.memory", "a memory request"))
                },
                false,
            ),
            Check::CpuLimitsMissing => per_container(
                &|c| {
                    quantity(&c.resources.limits, "cpu")
                        .is_none()
                        .then(|| missing(c, "limits.cpu", "a CPU limit"))
                },
                false,
            ),
            Check::MemoryLimitsMissing => per_container(
                &|c| {
                    quantity(&c.resources.limits, "memory")
                        .is_none()
                        .then(|| missing(c, "limits.memory", "a memory limit"))
                },
                false,
            ),
            Check::ReadOnlyRootFilesystem => per_container(&writable_root, true),
            Check::PullPolicyNotAlways => per_container(&stale_pull, true),
            Check::SensitiveEnvLiteral => per_container(&|c| sensitive.literals(c), true),
            Check::PriorityClassNotSet => pod_level(id, no_priority_class(pod.spec())),
            Check::AutomountServiceAccountToken => pod_level(id, automounts(pod.spec())),
            Check::MissingTopologySpread => pod_level(id, unspread(pod)),
        }
    }
}

fn pod_level(id: &str, message: Option<String>) -> Vec<Finding> {
    message
        .map(|message| Finding::new(id, message))
        .into_iter()
        .collect()
}

/// The quantity of `resource` among `entries` (requests or limits), when it is set and not
/// empty: the host passes quantities as written, and `cpu: ""` sets nothing.
fn quantity<'a>(entries: &'a [KeyValue], resource: &str) -> Option<&'a str> {
    lookup(entries, resource).filter(|quantity| !quantity.is_empty())
}

fn missing(container: &Container, field: &str, fix: &str) -> String {
    format!(
        "container {:?} has no resources.{field}; set {fix}",
        container.name
    )
}

fn writable_root(container: &Container) -> Option<String> {
    let name = &container.name;
    let read_only = container
        .security_context
        .as_ref()
        .and_then(|context| context.read_only_root_filesystem);
    match read_only {
        Some(true) => None,
        Some(false) => Some(format!(
            "container {name:?} sets securityContext.readOnlyRootFilesystem: false; set it to \
             true and mount an emptyDir where the container must write"
        )),
        None => Some(format!(
            "container {name:?} does not set securityContext.readOnlyRootFilesystem; set it to \
             true and mount an emptyDir where the container must write"
        )),
    }
}

/// An explicit pull policy other than `Always` on an image that floats (`latest` or untagged,
/// not pinned by digest). An unset policy is fine: the API server defaults it to `Always` for
/// exactly these images.
fn stale_pull(container: &Container) -> Option<String> {
    let policy = container.image_pull_policy.as_deref().unwrap_or_default();
    if policy.is_empty() || policy == "Always" || container.image.trim().is_empty() {
        return None;
    }
    if !ImageRef::parse(&container.image).uses_latest() {
        return None;
    }
    Some(format!(
        "container {:?} pulls the mutable image {:?} with imagePullPolicy: {policy}, so nodes \
         may run a stale copy; set imagePullPolicy: Always (or drop it), or pin a version tag or \
         a digest",
        container.name, container.image
    ))
}

fn no_priority_class(spec: &PodSpec) -> Option<String> {
    let set = spec
        .priority_class_name
        .as_deref()
        .is_some_and(|name| !name.is_empty());
    (!set).then(|| {
        "spec.priorityClassName is not set; set a PriorityClass so the scheduler knows which \
         pods to preempt first"
            .to_owned()
    })
}

fn automounts(spec: &PodSpec) -> Option<String> {
    let state = match spec.automount_service_account_token {
        Some(false) => return None,
        Some(true) => "is true",
        None => "is not set (the service account's setting applies, true by default)",
    };
    Some(format!(
        "spec.automountServiceAccountToken {state}, so the pod gets an API token mounted; set \
         automountServiceAccountToken: false unless it calls the Kubernetes API"
    ))
}

/// Controllers that run several replicas of one pod, which topology spread constraints spread.
pub const REPLICATED_CONTROLLERS: [&str; 4] = [
    "Deployment",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
];

fn unspread(pod: &Pod) -> Option<String> {
    let controller = pod
        .metadata()
        .owner_kinds
        .iter()
        .find(|kind| REPLICATED_CONTROLLERS.contains(&kind.as_str()))?;
    pod.spec().topology_spread_constraints.is_empty().then(|| {
        format!(
            "pod of a {controller} has no spec.topologySpreadConstraints; add one (topologyKey \
             kubernetes.io/hostname or topology.kubernetes.io/zone) so its replicas do not land \
             on one node or zone"
        )
    })
}

/// Environment variable names that look like they hold a secret, matched case-insensitively
/// with `-` and `.` read as `_`.
pub struct SensitiveNames {
    /// Substrings, lower case: the built-in ones and those of the setting.
    substrings: Vec<String>,
}

/// Built-in substrings: Polaris's `password`, `token`, `bearer` and `secret`, and the common
/// spellings of credentials and keys Polaris names one by one (`AWS_SECRET_ACCESS_KEY`,
/// `GOOGLE_APPLICATION_CREDENTIALS`, `OCI_CLI_KEY_CONTENT`). A bare `key` would match
/// `CACHE_KEY_PREFIX` and `MONKEY`, so only qualified keys count.
pub const SENSITIVE_SUBSTRINGS: [&str; 11] = [
    "password",
    "passwd",
    "secret",
    "token",
    "bearer",
    "credential",
    "api_key",
    "apikey",
    "private_key",
    "access_key",
    "key_content",
];

impl SensitiveNames {
    /// The built-in substrings plus `extra` (already checked non-empty).
    pub fn new(extra: &[String]) -> Self {
        let mut substrings: Vec<String> = SENSITIVE_SUBSTRINGS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        substrings.extend(extra.iter().map(|pattern| normalise(pattern)));
        SensitiveNames { substrings }
    }

    /// Whether an environment variable of this name looks like a secret.
    pub fn matches(&self, name: &str) -> bool {
        let name = normalise(name);
        // Polaris's `^AZURE_.+KEY$` (AZURE_STORAGE_KEY, AZURE_CLIENT_KEY).
        let azure_key =
            name.len() > "azure_key".len() && name.starts_with("azure_") && name.ends_with("key");
        azure_key || self.substrings.iter().any(|s| name.contains(s.as_str()))
    }

    /// The message for a container's literal secrets, if it has any: a sensitive name with a
    /// non-empty literal `value`, or any literal value holding a PEM private key.
    fn literals(&self, container: &Container) -> Option<String> {
        let names: Vec<&str> = container
            .env
            .iter()
            .filter(|var| {
                literal(var).is_some_and(|value| self.matches(&var.name) || is_private_key(value))
            })
            .map(|var| var.name.as_str())
            .collect();
        if names.is_empty() {
            return None;
        }
        let (noun, them) = if names.len() == 1 {
            ("variable", "it")
        } else {
            ("variables", "them")
        };
        Some(format!(
            "container {:?} sets the sensitive environment {noun} {} from a literal value; \
             read {them} from a Secret with valueFrom.secretKeyRef",
            container.name,
            names.join(", ")
        ))
    }
}

/// The literal value of `var`, when it is set and not empty: an empty value leaks nothing.
fn literal(var: &EnvVar) -> Option<&str> {
    var.value.as_deref().filter(|value| !value.is_empty())
}

fn normalise(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// A PEM private key (`-----BEGIN RSA PRIVATE KEY-----`): `-BEGIN`, whitespace, then
/// `PRIVATE KEY-` further on, case-insensitively, as Polaris matches it.
pub fn is_private_key(value: &str) -> bool {
    let value = value.to_ascii_lowercase();
    value.match_indices("-begin").any(|(at, marker)| {
        let rest = &value[at + marker.len()..];
        rest.starts_with(|c: char| c.is_whitespace()) && rest.contains("private key-")
    })
}
