//! Contract 0.1.0 (`wit/0.1.0/analyzer.wit`), frozen: components built against it receive the
//! whole pod as one record and read extra fields through `host.pod-json`. The host converts its
//! 0.2.0 pod to that record once per pod ([`legacy_pod`]) and their metadata and findings up to
//! the 0.2.0 types, so the rest of the host knows one set of types.

use super as current;

wasmtime::component::bindgen!({
    world: "analyzer",
    path: "../../wit/0.1.0",
});

use self::kube_devops::analyzer::types as old;

/// The 0.1.0 record of `pod`: the fields 0.1.0 knows, the rest left out.
pub fn legacy_pod(pod: &current::Pod) -> old::Pod {
    let spec = &pod.spec;
    let containers = |list: &[current::Container]| list.iter().map(container).collect();
    old::Pod {
        metadata: old::ObjectMeta {
            name: pod.metadata.name.clone(),
            namespace: pod.metadata.namespace.clone(),
            labels: key_values(&pod.metadata.labels),
            annotations: key_values(&pod.metadata.annotations),
            owner_kinds: pod.metadata.owner_kinds.clone(),
        },
        spec: old::PodSpec {
            containers: containers(&pod.containers),
            init_containers: containers(&pod.init_containers),
            ephemeral_containers: containers(&pod.ephemeral_containers),
            node_name: spec.node_name.clone(),
            service_account_name: spec.service_account_name.clone(),
            host_network: spec.host_network,
            host_pid: spec.host_pid,
            host_ipc: spec.host_ipc,
            security_context: spec.security_context.as_ref().map(|context| {
                old::PodSecurityContext {
                    run_as_non_root: context.run_as_non_root,
                    run_as_user: context.run_as_user,
                    run_as_group: context.run_as_group,
                    fs_group: context.fs_group,
                }
            }),
        },
        status: pod.status.as_ref().map(|status| old::PodStatus {
            phase: status.phase.clone(),
            reason: status.reason.clone(),
            start_time: status.start_time.clone(),
            container_statuses: status.container_statuses.iter().map(status_of).collect(),
            init_container_statuses: status
                .init_container_statuses
                .iter()
                .map(status_of)
                .collect(),
        }),
    }
}

fn key_values(entries: &[current::KeyValue]) -> Vec<old::KeyValue> {
    entries
        .iter()
        .map(|entry| old::KeyValue {
            key: entry.key.clone(),
            value: entry.value.clone(),
        })
        .collect()
}

fn container(container: &current::Container) -> old::Container {
    old::Container {
        name: container.name.clone(),
        image: container.image.clone(),
        image_pull_policy: container.image_pull_policy.clone(),
        liveness_probe: container.liveness_probe.as_ref().map(probe),
        readiness_probe: container.readiness_probe.as_ref().map(probe),
        startup_probe: container.startup_probe.as_ref().map(probe),
        ports: container
            .ports
            .iter()
            .map(|port| old::ContainerPort {
                name: port.name.clone(),
                container_port: port.container_port,
                protocol: port.protocol.clone(),
            })
            .collect(),
        resources: old::Resources {
            requests: key_values(&container.resources.requests),
            limits: key_values(&container.resources.limits),
        },
        security_context: container
            .security_context
            .as_ref()
            .map(|context| old::SecurityContext {
                run_as_non_root: context.run_as_non_root,
                run_as_user: context.run_as_user,
                privileged: context.privileged,
                allow_privilege_escalation: context.allow_privilege_escalation,
                read_only_root_filesystem: context.read_only_root_filesystem,
                capabilities_add: context.capabilities_add.clone(),
                capabilities_drop: context.capabilities_drop.clone(),
            }),
    }
}

fn probe(probe: &current::Probe) -> old::Probe {
    old::Probe {
        handler: match &probe.handler {
            current::ProbeHandler::HttpGet(path) => old::ProbeHandler::HttpGet(path.clone()),
            current::ProbeHandler::TcpSocket(port) => old::ProbeHandler::TcpSocket(port.clone()),
            current::ProbeHandler::Exec(command) => old::ProbeHandler::Exec(command.clone()),
            current::ProbeHandler::Grpc(port) => old::ProbeHandler::Grpc(*port),
            current::ProbeHandler::Other => old::ProbeHandler::Other,
        },
        initial_delay_seconds: probe.initial_delay_seconds,
        period_seconds: probe.period_seconds,
        timeout_seconds: probe.timeout_seconds,
        success_threshold: probe.success_threshold,
        failure_threshold: probe.failure_threshold,
    }
}

fn status_of(status: &current::ContainerStatus) -> old::ContainerStatus {
    old::ContainerStatus {
        name: status.name.clone(),
        image: status.image.clone(),
        ready: status.ready,
        restart_count: status.restart_count,
        state: match status.state {
            current::ContainerState::Waiting => old::ContainerState::Waiting,
            current::ContainerState::Running => old::ContainerState::Running,
            current::ContainerState::Terminated => old::ContainerState::Terminated,
            current::ContainerState::Unknown => old::ContainerState::Unknown,
        },
        state_reason: status.state_reason.clone(),
        last_termination_reason: status.last_termination_reason.clone(),
    }
}

fn severity(severity: old::Severity) -> current::Severity {
    match severity {
        old::Severity::Low => current::Severity::Low,
        old::Severity::Medium => current::Severity::Medium,
        old::Severity::High => current::Severity::High,
        old::Severity::Critical => current::Severity::Critical,
    }
}

impl From<PluginMetadata> for current::PluginMetadata {
    fn from(metadata: PluginMetadata) -> Self {
        current::PluginMetadata {
            name: metadata.name,
            version: metadata.version,
            description: metadata.description,
            checks: metadata
                .checks
                .into_iter()
                .map(|check| current::CheckInfo {
                    id: check.id,
                    description: check.description,
                    default_severity: severity(check.default_severity),
                    default_weight: check.default_weight,
                    kind: match check.kind {
                        old::CheckKind::Spec => current::CheckKind::Spec,
                        old::CheckKind::Status => current::CheckKind::Status,
                    },
                })
                .collect(),
        }
    }
}

impl From<Finding> for current::Finding {
    fn from(finding: Finding) -> Self {
        current::Finding {
            check: finding.check,
            container: finding.container,
            message: finding.message,
            magnitude: finding.magnitude,
            severity: finding.severity.map(severity),
        }
    }
}
