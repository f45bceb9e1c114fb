//! From the serde model of an object to the contract's [`Pod`] record.
//!
//! Kubernetes' defaults are filled in here (namespace `default`, probe timings, port protocol),
//! so every plugin sees the same values the cluster would use.

use std::collections::BTreeMap;

use super::model;
use crate::contract::{
    Container, ContainerPort, ContainerState, ContainerStatus, EnvVar, KeyValue, LifecycleHandler,
    ObjectMeta, Pod, PodSecurityContext, PodSpec, PodStatus, Probe, ProbeHandler, Profile,
    Resources, SeLinuxOptions, SecurityContext, TopologySpreadConstraint, Volume,
};

/// The namespace of an object that names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Kinds whose spec holds a pod template at `spec.template`.
const TEMPLATE_KINDS: [&str; 6] = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
];

/// What an object is to the analyzer.
pub enum Shape {
    /// A Pod, or a workload read as the one pod its template describes.
    Pod(Box<Pod>),
    /// A kind that carries no pod (Service, ConfigMap, ...), or no kind at all: skipped, not
    /// an error.
    Other,
}

/// Why an object that should describe a pod does not.
#[derive(Debug, thiserror::Error)]
pub enum ShapeError {
    #[error("{kind} has no metadata.name")]
    NoName { kind: String },
    #[error("{kind} {namespace}/{name} has no {field}")]
    Missing {
        kind: String,
        namespace: String,
        name: String,
        field: &'static str,
    },
    /// The API server refuses such a pod; a check on its image would say nonsense.
    #[error("{kind} {namespace}/{name}: container `{container}` has no image")]
    NoImage {
        kind: String,
        namespace: String,
        name: String,
        container: String,
    },
}

/// Whether the seed reads objects of `kind` (always, without opting in).
pub fn is_seed_kind(kind: &str) -> bool {
    kind == "Pod" || kind == "CronJob" || TEMPLATE_KINDS.contains(&kind)
}

/// `Kind namespace/name REST`, for a message about `object`.
pub fn describe(object: &model::Object, rest: &str) -> String {
    let meta = object.metadata.as_ref();
    let namespace = meta
        .and_then(|meta| meta.namespace.as_deref())
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE);
    let name = meta
        .and_then(|meta| meta.name.as_deref())
        .unwrap_or_default();
    let kind = object.kind.as_deref().unwrap_or("object");
    format!("{kind} {namespace}/{name} {rest}")
}

/// Reads `object` as a pod if its kind describes one; `opt_in` when it is an opt-in kind,
/// whose template is at `spec.template` by now.
pub fn shape(object: model::Object, opt_in: bool) -> Result<Shape, ShapeError> {
    // A document without a kind is not a Kubernetes object (a Helm values file, a config file
    // beside the manifests): skipped like any kind that describes no pod.
    let Some(kind) = object.kind else {
        return Ok(Shape::Other);
    };
    let is_pod = kind == "Pod";
    if !opt_in && !is_seed_kind(&kind) {
        return Ok(Shape::Other);
    }
    let meta = object.metadata.unwrap_or_default();
    let name = match meta.name.clone().or_else(|| meta.generate_name.clone()) {
        Some(name) if !name.is_empty() => name,
        _ => return Err(ShapeError::NoName { kind }),
    };
    let namespace = meta
        .namespace
        .clone()
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    let missing = |field| ShapeError::Missing {
        kind: kind.clone(),
        namespace: namespace.clone(),
        name: name.clone(),
        field,
    };

    let (metadata, spec, status) = if is_pod {
        let owner_kinds = meta
            .owner_references
            .iter()
            .flatten()
            .filter_map(|owner| owner.kind.clone())
            .collect();
        let metadata = ObjectMeta {
            creation_timestamp: meta.creation_timestamp,
            ..object_meta(
                name.clone(),
                namespace.clone(),
                meta.labels,
                meta.annotations,
                owner_kinds,
            )
        };
        let spec = object.spec.ok_or_else(|| missing("spec"))?;
        (metadata, spec, object.status.map(pod_status))
    } else {
        let mut spec = object.spec.ok_or_else(|| missing("spec"))?;
        let template = if kind == "CronJob" {
            spec.job_template
                .take()
                .and_then(|job| job.spec)
                .and_then(|mut job_spec| job_spec.template.take())
                .ok_or_else(|| missing("spec.jobTemplate.spec.template"))?
        } else {
            spec.template
                .take()
                .ok_or_else(|| missing("spec.template"))?
        };
        let template_meta = template.metadata.unwrap_or_default();
        // The workload's own annotations (exemptions, for one) apply to the pods it makes;
        // the template's win where both set a key, as they do on the real pods.
        let mut annotations = meta.annotations;
        annotations.extend(template_meta.annotations);
        let metadata = object_meta(
            name.clone(),
            namespace.clone(),
            template_meta.labels,
            annotations,
            vec![kind.clone()],
        );
        let mut template_spec = template.spec.ok_or_else(|| missing("spec.template.spec"))?;
        // The workload's replicas, for checks on replicated pods.
        template_spec.replicas = spec.replicas;
        (metadata, template_spec, None)
    };
    if spec.containers.as_ref().is_none_or(Vec::is_empty) {
        return Err(missing(if is_pod {
            "spec.containers"
        } else {
            "containers in its pod template"
        }));
    }
    let imageless = [
        &spec.init_containers,
        &spec.containers,
        &spec.ephemeral_containers,
    ]
    .into_iter()
    .flatten()
    .flatten()
    .find(|container| {
        container
            .image
            .as_deref()
            .is_none_or(|image| image.trim().is_empty())
    });
    if let Some(container) = imageless {
        return Err(ShapeError::NoImage {
            kind: kind.clone(),
            namespace: namespace.clone(),
            name: name.clone(),
            container: container.name.clone().unwrap_or_default(),
        });
    }
    Ok(Shape::Pod(Box::new(pod(metadata, spec, status))))
}

fn object_meta(
    name: String,
    namespace: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    owner_kinds: Vec<String>,
) -> ObjectMeta {
    ObjectMeta {
        name,
        namespace,
        labels: key_values(labels),
        annotations: key_values(annotations),
        owner_kinds,
        creation_timestamp: None,
    }
}

fn key_values(map: BTreeMap<String, String>) -> Vec<KeyValue> {
    map.into_iter()
        .map(|(key, value)| KeyValue { key, value })
        .collect()
}

fn pod(metadata: ObjectMeta, spec: model::Spec, status: Option<PodStatus>) -> Pod {
    let containers = |list: Option<Vec<model::Container>>| {
        list.unwrap_or_default()
            .into_iter()
            .map(container)
            .collect()
    };
    Pod {
        metadata,
        containers: containers(spec.containers),
        init_containers: containers(spec.init_containers),
        ephemeral_containers: containers(spec.ephemeral_containers),
        volumes: spec.volumes.into_iter().map(volume).collect(),
        spec: PodSpec {
            node_name: spec.node_name,
            service_account_name: spec.service_account_name,
            automount_service_account_token: spec.automount_service_account_token,
            priority_class_name: spec.priority_class_name,
            host_network: spec.host_network.unwrap_or(false),
            host_pid: spec.host_pid.unwrap_or(false),
            host_ipc: spec.host_ipc.unwrap_or(false),
            host_users: spec.host_users,
            os: spec.os.and_then(|os| os.name),
            security_context: spec.security_context.map(|context| PodSecurityContext {
                run_as_non_root: context.run_as_non_root,
                run_as_user: context.run_as_user,
                run_as_group: context.run_as_group,
                fs_group: context.fs_group,
                seccomp_profile: context.profiles.seccomp_profile.map(profile),
                app_armor_profile: context.profiles.app_armor_profile.map(profile),
                se_linux_options: context.profiles.se_linux_options.map(se_linux),
                sysctls: context
                    .sysctls
                    .into_iter()
                    .map(|sysctl| KeyValue {
                        key: sysctl.name,
                        value: sysctl.value.map(|value| value.0).unwrap_or_default(),
                    })
                    .collect(),
                windows_host_process: context
                    .profiles
                    .windows_options
                    .and_then(|options| options.host_process),
            }),
            topology_spread_constraints: spec
                .topology_spread_constraints
                .into_iter()
                .map(|constraint| TopologySpreadConstraint {
                    max_skew: constraint.max_skew.unwrap_or(0),
                    topology_key: constraint.topology_key,
                    when_unsatisfiable: constraint.when_unsatisfiable,
                })
                .collect(),
            replicas: spec.replicas,
        },
        status,
    }
}

fn volume(volume: model::Volume) -> Volume {
    Volume {
        name: volume.name,
        sources: volume.sources.into_iter().map(str::to_owned).collect(),
        host_path: volume.host_path,
    }
}

fn profile(profile: model::Profile) -> Profile {
    Profile {
        kind: profile.kind,
        localhost_profile: profile.localhost_profile,
    }
}

fn se_linux(options: model::SeLinuxOptions) -> SeLinuxOptions {
    SeLinuxOptions {
        user: options.user,
        role: options.role,
        type_: options.kind,
        level: options.level,
    }
}

fn container(container: model::Container) -> Container {
    let resources = container.resources.unwrap_or_default();
    let lifecycle = container.lifecycle.unwrap_or_default();
    Container {
        name: container.name.unwrap_or_default(),
        image: container.image.unwrap_or_default(),
        image_pull_policy: container.image_pull_policy,
        liveness_probe: container.liveness_probe.map(probe),
        readiness_probe: container.readiness_probe.map(probe),
        startup_probe: container.startup_probe.map(probe),
        post_start: lifecycle.post_start.map(lifecycle_handler),
        pre_stop: lifecycle.pre_stop.map(lifecycle_handler),
        ports: container
            .ports
            .unwrap_or_default()
            .into_iter()
            .map(|port| ContainerPort {
                name: port.name,
                container_port: port.container_port.unwrap_or(0),
                host_port: port.host_port,
                protocol: port.protocol.unwrap_or_else(|| "TCP".to_owned()),
            })
            .collect(),
        resources: Resources {
            requests: key_values(resources.requests),
            limits: key_values(resources.limits),
        },
        env: container
            .env
            .into_iter()
            .map(|var| EnvVar {
                name: var.name,
                value: var.value.map(|value| value.0),
            })
            .collect(),
        security_context: container.security_context.map(|context| {
            let capabilities = context.capabilities.unwrap_or_default();
            SecurityContext {
                run_as_non_root: context.run_as_non_root,
                run_as_user: context.run_as_user,
                run_as_group: context.run_as_group,
                privileged: context.privileged,
                allow_privilege_escalation: context.allow_privilege_escalation,
                read_only_root_filesystem: context.read_only_root_filesystem,
                capabilities_add: capabilities.add.unwrap_or_default(),
                capabilities_drop: capabilities.drop.unwrap_or_default(),
                proc_mount: context.proc_mount,
                seccomp_profile: context.profiles.seccomp_profile.map(profile),
                app_armor_profile: context.profiles.app_armor_profile.map(profile),
                se_linux_options: context.profiles.se_linux_options.map(se_linux),
                windows_host_process: context
                    .profiles
                    .windows_options
                    .and_then(|options| options.host_process),
            }
        }),
    }
}

/// The action of a probe or a hook, and the host of its HTTP or TCP action.
fn action(
    http_get: Option<model::HttpGet>,
    tcp_socket: Option<model::TcpSocket>,
    exec: Option<model::Exec>,
    grpc: Option<model::Grpc>,
) -> (ProbeHandler, Option<String>) {
    if let Some(http) = http_get {
        let path = http.path.unwrap_or_else(|| "/".to_owned());
        (ProbeHandler::HttpGet(path), http.host)
    } else if let Some(tcp) = tcp_socket {
        (
            ProbeHandler::TcpSocket(tcp.port.unwrap_or_default()),
            tcp.host,
        )
    } else if let Some(exec) = exec {
        (ProbeHandler::Exec(exec.command.unwrap_or_default()), None)
    } else if let Some(grpc) = grpc {
        (ProbeHandler::Grpc(grpc.port.unwrap_or(0)), None)
    } else {
        (ProbeHandler::Other, None)
    }
}

fn lifecycle_handler(handler: model::Handler) -> LifecycleHandler {
    let (handler, host) = action(handler.http_get, handler.tcp_socket, handler.exec, None);
    LifecycleHandler { handler, host }
}

/// A probe with the API server's defaults for unset timings.
fn probe(probe: model::Probe) -> Probe {
    let (handler, host) = action(probe.http_get, probe.tcp_socket, probe.exec, probe.grpc);
    Probe {
        handler,
        host,
        initial_delay_seconds: probe.initial_delay_seconds.unwrap_or(0),
        period_seconds: probe.period_seconds.unwrap_or(10),
        timeout_seconds: probe.timeout_seconds.unwrap_or(1),
        success_threshold: probe.success_threshold.unwrap_or(1),
        failure_threshold: probe.failure_threshold.unwrap_or(3),
    }
}

fn pod_status(status: model::Status) -> PodStatus {
    let statuses = |list: Option<Vec<model::ContainerStatus>>| {
        list.unwrap_or_default()
            .into_iter()
            .map(container_status)
            .collect()
    };
    PodStatus {
        phase: status.phase,
        reason: status.reason,
        start_time: status.start_time,
        container_statuses: statuses(status.container_statuses),
        init_container_statuses: statuses(status.init_container_statuses),
    }
}

fn container_status(status: model::ContainerStatus) -> ContainerStatus {
    let current = status.state.unwrap_or_default();
    let (state, state_reason) = if let Some(waiting) = current.waiting {
        (ContainerState::Waiting, waiting.reason)
    } else if let Some(terminated) = current.terminated {
        (ContainerState::Terminated, terminated.reason)
    } else if current.running.is_some() {
        (ContainerState::Running, None)
    } else {
        (ContainerState::Unknown, None)
    };
    ContainerStatus {
        name: status.name.unwrap_or_default(),
        image: status.image.unwrap_or_default(),
        ready: status.ready.unwrap_or(false),
        restart_count: status.restart_count.unwrap_or(0),
        state,
        state_reason,
        last_termination_reason: status
            .last_state
            .and_then(|last| last.terminated)
            .and_then(|t| t.reason),
    }
}
