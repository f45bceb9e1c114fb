//! The slice of a pod's JSON the Pod Security Standards read, as serde types.
//!
//! Reading is tolerant, the way a policy check must be: unknown fields are skipped, `null` reads
//! as absent, and a field of the wrong JSON type reads as absent instead of failing the whole
//! pod (the API server would have refused such a pod, but manifests on disk are not validated).
//! Every field goes through [`Lax`], which consumes any JSON value it is given, so one odd field
//! never costs the pod's other findings.
//!
//! Two defaults of the API server are applied here, since PodSecurity admission sees the
//! defaulted pod: a container port of a `hostNetwork` pod without a `hostPort` gets
//! `hostPort = containerPort` ([`Spec::effective_host_port`]), and a volume without a source is
//! an `emptyDir` ([`Volume::sources`] is then empty, which every check allows).

use std::collections::BTreeMap;
use std::fmt;

use kube_devops_sdk::lax::{Lax, list, opt, text};
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// `deserialize_with` for a string map (annotations); entries whose value is not a string are
/// left out.
fn string_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let entries = Lax::<BTreeMap<String, Lax<String>>>::deserialize(deserializer)?.0;
    Ok(entries
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(key, value)| Some((key, value.0?)))
        .collect())
}

/// A Pod, as the `pod-json` host call gives it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PodDoc {
    #[serde(deserialize_with = "opt")]
    pub metadata: Option<Meta>,
    #[serde(deserialize_with = "opt")]
    pub spec: Option<Spec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Meta {
    #[serde(deserialize_with = "string_map")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Spec {
    #[serde(deserialize_with = "list")]
    pub containers: Vec<Container>,
    #[serde(deserialize_with = "list")]
    pub init_containers: Vec<Container>,
    #[serde(deserialize_with = "list")]
    pub ephemeral_containers: Vec<Container>,
    #[serde(deserialize_with = "opt")]
    pub host_network: Option<bool>,
    #[serde(rename = "hostPID", deserialize_with = "opt")]
    pub host_pid: Option<bool>,
    #[serde(rename = "hostIPC", deserialize_with = "opt")]
    pub host_ipc: Option<bool>,
    #[serde(deserialize_with = "opt")]
    pub host_users: Option<bool>,
    #[serde(deserialize_with = "opt")]
    pub security_context: Option<PodSecurityContext>,
    #[serde(deserialize_with = "list")]
    pub volumes: Vec<Volume>,
    #[serde(deserialize_with = "opt")]
    pub os: Option<PodOs>,
}

impl Spec {
    /// Every container in the order PodSecurity admission visits them: init containers, regular
    /// containers, then ephemeral containers.
    pub fn all_containers(&self) -> impl Iterator<Item = &Container> {
        self.init_containers
            .iter()
            .chain(&self.containers)
            .chain(&self.ephemeral_containers)
    }

    /// The pod's own security context, or an empty one.
    pub fn pod_context(&self) -> &PodSecurityContext {
        static EMPTY: PodSecurityContext = PodSecurityContext::EMPTY;
        self.security_context.as_ref().unwrap_or(&EMPTY)
    }

    /// `spec.os.name` is `windows`: PSA exempts such pods from some restricted checks.
    pub fn is_windows(&self) -> bool {
        self.os
            .as_ref()
            .is_some_and(|os| os.name.as_deref() == Some("windows"))
    }

    /// `spec.hostUsers: false`: the pod runs in a user namespace, which relaxes some checks.
    pub fn in_user_namespace(&self) -> bool {
        self.host_users == Some(false)
    }

    /// The host port a container port ends up with once the API server has defaulted the pod: a
    /// `hostNetwork` pod's regular and init containers get `hostPort = containerPort` when they
    /// set none (ephemeral containers have no ports).
    pub fn effective_host_port(&self, port: &ContainerPort) -> i64 {
        let host_port = port.host_port.unwrap_or(0);
        if host_port == 0 && self.host_network == Some(true) {
            port.container_port.unwrap_or(0)
        } else {
            host_port
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PodOs {
    #[serde(deserialize_with = "opt")]
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSecurityContext {
    #[serde(deserialize_with = "opt")]
    pub run_as_non_root: Option<bool>,
    #[serde(deserialize_with = "opt")]
    pub run_as_user: Option<i64>,
    #[serde(rename = "seLinuxOptions", deserialize_with = "opt")]
    pub se_linux_options: Option<SeLinuxOptions>,
    #[serde(deserialize_with = "opt")]
    pub seccomp_profile: Option<Profile>,
    #[serde(deserialize_with = "opt")]
    pub app_armor_profile: Option<Profile>,
    #[serde(deserialize_with = "list")]
    pub sysctls: Vec<Sysctl>,
    #[serde(deserialize_with = "opt")]
    pub windows_options: Option<WindowsOptions>,
}

impl PodSecurityContext {
    const EMPTY: PodSecurityContext = PodSecurityContext {
        run_as_non_root: None,
        run_as_user: None,
        se_linux_options: None,
        seccomp_profile: None,
        app_armor_profile: None,
        sysctls: Vec::new(),
        windows_options: None,
    };
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Container {
    #[serde(deserialize_with = "text")]
    pub name: String,
    #[serde(deserialize_with = "list")]
    pub ports: Vec<ContainerPort>,
    #[serde(deserialize_with = "opt")]
    pub security_context: Option<SecurityContext>,
    #[serde(deserialize_with = "opt")]
    pub liveness_probe: Option<Handler>,
    #[serde(deserialize_with = "opt")]
    pub readiness_probe: Option<Handler>,
    #[serde(deserialize_with = "opt")]
    pub startup_probe: Option<Handler>,
    #[serde(deserialize_with = "opt")]
    pub lifecycle: Option<Lifecycle>,
}

impl Container {
    /// The container's security context, or an empty one.
    pub fn context(&self) -> &SecurityContext {
        static EMPTY: SecurityContext = SecurityContext::EMPTY;
        self.security_context.as_ref().unwrap_or(&EMPTY)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerPort {
    #[serde(deserialize_with = "opt")]
    pub container_port: Option<i64>,
    #[serde(deserialize_with = "opt")]
    pub host_port: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SecurityContext {
    #[serde(deserialize_with = "opt")]
    pub privileged: Option<bool>,
    #[serde(deserialize_with = "opt")]
    pub allow_privilege_escalation: Option<bool>,
    #[serde(deserialize_with = "opt")]
    pub capabilities: Option<Capabilities>,
    #[serde(deserialize_with = "opt")]
    pub proc_mount: Option<String>,
    #[serde(deserialize_with = "opt")]
    pub run_as_non_root: Option<bool>,
    #[serde(deserialize_with = "opt")]
    pub run_as_user: Option<i64>,
    #[serde(rename = "seLinuxOptions", deserialize_with = "opt")]
    pub se_linux_options: Option<SeLinuxOptions>,
    #[serde(deserialize_with = "opt")]
    pub seccomp_profile: Option<Profile>,
    #[serde(deserialize_with = "opt")]
    pub app_armor_profile: Option<Profile>,
    #[serde(deserialize_with = "opt")]
    pub windows_options: Option<WindowsOptions>,
}

impl SecurityContext {
    const EMPTY: SecurityContext = SecurityContext {
        privileged: None,
        allow_privilege_escalation: None,
        capabilities: None,
        proc_mount: None,
        run_as_non_root: None,
        run_as_user: None,
        se_linux_options: None,
        seccomp_profile: None,
        app_armor_profile: None,
        windows_options: None,
    };
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    #[serde(deserialize_with = "list")]
    pub add: Vec<String>,
    #[serde(deserialize_with = "list")]
    pub drop: Vec<String>,
}

/// A seccomp or AppArmor profile: only its type matters here (`""` when unset).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Profile {
    #[serde(rename = "type", deserialize_with = "text")]
    pub kind: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SeLinuxOptions {
    #[serde(deserialize_with = "text")]
    pub user: String,
    #[serde(deserialize_with = "text")]
    pub role: String,
    #[serde(rename = "type", deserialize_with = "text")]
    pub kind: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Sysctl {
    #[serde(deserialize_with = "text")]
    pub name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WindowsOptions {
    #[serde(deserialize_with = "opt")]
    pub host_process: Option<bool>,
}

/// A probe or a lifecycle handler: only the hosts of its HTTP and TCP actions matter here.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Handler {
    #[serde(deserialize_with = "opt")]
    pub http_get: Option<HostAction>,
    #[serde(deserialize_with = "opt")]
    pub tcp_socket: Option<HostAction>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HostAction {
    #[serde(deserialize_with = "text")]
    pub host: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Lifecycle {
    #[serde(deserialize_with = "opt")]
    pub post_start: Option<Handler>,
    #[serde(deserialize_with = "opt")]
    pub pre_stop: Option<Handler>,
}

/// Every volume source of the core/v1 API, by field name.
pub const VOLUME_SOURCES: [&str; 30] = [
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "hostPath",
    "image",
    "iscsi",
    "nfs",
    "persistentVolumeClaim",
    "photonPersistentDisk",
    "portworxVolume",
    "projected",
    "quobyte",
    "rbd",
    "scaleIO",
    "secret",
    "storageos",
    "vsphereVolume",
];

/// A volume: its name and which of the known sources it sets (non-null). Fields the API does
/// not know are dropped by the API server, so they are ignored here too.
#[derive(Debug, Default)]
pub struct Volume {
    pub name: String,
    pub sources: Vec<&'static str>,
}

impl Volume {
    pub fn has(&self, source: &str) -> bool {
        self.sources.contains(&source)
    }
}

impl<'de> Deserialize<'de> for Volume {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct VolumeVisitor;

        impl<'de> Visitor<'de> for VolumeVisitor {
            type Value = Volume;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a volume object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Volume, A::Error> {
                let mut volume = Volume::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "name" {
                        volume.name = map.next_value::<Lax<String>>()?.0.unwrap_or_default();
                    } else if map.next_value::<Lax<IgnoredAny>>()?.0.is_some()
                        && let Some(source) = VOLUME_SOURCES.iter().find(|known| **known == key)
                        && !volume.has(source)
                    {
                        volume.sources.push(source);
                    }
                }
                Ok(volume)
            }
        }

        deserializer.deserialize_map(VolumeVisitor)
    }
}

/// Reads a pod's JSON; `None` only when it is not JSON at all.
pub fn parse(json: &str) -> Option<PodDoc> {
    serde_json::from_str(json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_types_read_as_absent_without_losing_the_rest() {
        let pod = parse(
            r#"{"metadata": {"annotations": {"a": 1, "b": "x"}},
                "spec": {"hostNetwork": "yes", "hostPID": true, "securityContext": "bad",
                 "containers": [
                   "not a container",
                   {"name": "app", "ports": {"containerPort": 1},
                    "securityContext": {"privileged": [true], "capabilities": {"add": ["A", 3, null]}}},
                   {"name": 7, "securityContext": null}
                 ],
                 "volumes": [{"name": "v", "hostPath": null, "nfs": {"server": "s"}, "foo": {}}]}}"#,
        )
        .expect("JSON");
        let spec = pod.spec.expect("spec");
        assert_eq!(spec.host_network, None);
        assert_eq!(spec.host_pid, Some(true));
        assert!(spec.security_context.is_none());
        assert_eq!(spec.containers.len(), 2);
        let app = &spec.containers[0];
        assert_eq!(app.name, "app");
        assert!(app.ports.is_empty());
        assert_eq!(app.context().privileged, None);
        assert_eq!(
            app.context().capabilities.as_ref().expect("caps").add,
            ["A"]
        );
        assert_eq!(spec.containers[1].name, "");
        assert_eq!(spec.volumes[0].name, "v");
        assert_eq!(spec.volumes[0].sources, ["nfs"]);
        let annotations = pod.metadata.expect("metadata").annotations;
        assert_eq!(annotations.len(), 1);
        assert_eq!(annotations["b"], "x");
    }

    #[test]
    fn non_json_is_unusable() {
        assert!(parse("not json").is_none());
        assert!(parse("[1, 2]").is_some_and(|pod| pod.spec.is_none()));
    }

    #[test]
    fn host_network_defaults_host_ports() {
        let pod = parse(
            r#"{"spec": {"hostNetwork": true, "containers": [{"name": "a",
                "ports": [{"containerPort": 80}, {"containerPort": 81, "hostPort": 0},
                          {"containerPort": 82, "hostPort": 9000}]}]}}"#,
        )
        .expect("JSON");
        let spec = pod.spec.expect("spec");
        let ports: Vec<i64> = spec.containers[0]
            .ports
            .iter()
            .map(|port| spec.effective_host_port(port))
            .collect();
        assert_eq!(ports, [80, 81, 9000]);
    }
}
