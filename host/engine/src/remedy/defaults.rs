//! What fixes fill in: the seed's `defaultProbe` and `defaultResources`, in a DevOpsPolicy's
//! spec and under `remediation:` in the config file.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::contract::{FixDefaults, ProbeDefaults, ResourceDefaults};

/// `remediation:` of the config file.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RemediationConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_probe: Option<DefaultProbe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_resources: Option<DefaultResources>,
}

/// The probe a container without a liveness or readiness probe gets: TCP, on `tcpPort`, else
/// the container's first `containerPort`, else 8080.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DefaultProbe {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub tcp_port: Option<i32>,
    /// Default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub initial_delay_seconds: Option<i32>,
    /// Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub period_seconds: Option<i32>,
}

/// Requests and limits a container without them gets, as Kubernetes quantities (`100m`,
/// `128Mi`); only the missing ones are added.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DefaultResources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_request: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_limit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_request: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<String>,
}

impl RemediationConfig {
    /// The defaults as plugins receive them (`remediation.requested`).
    pub fn defaults(&self) -> Arc<FixDefaults> {
        let probe = self.default_probe.clone().unwrap_or_default();
        Arc::new(FixDefaults {
            probe: ProbeDefaults {
                tcp_port: probe.tcp_port,
                initial_delay_seconds: probe.initial_delay_seconds,
                period_seconds: probe.period_seconds,
            },
            resources: self
                .default_resources
                .clone()
                .map(|resources| ResourceDefaults {
                    cpu_request: resources.cpu_request,
                    cpu_limit: resources.cpu_limit,
                    memory_request: resources.memory_request,
                    memory_limit: resources.memory_limit,
                }),
        })
    }
}
