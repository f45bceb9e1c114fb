//! The slice of a Kubernetes object the analyzer reads, as serde types.
//!
//! One pass over an object's JSON fills these, whatever its kind: [`Spec`] is the union of a pod
//! spec and a workload spec (`template`, `jobTemplate`), so a Deployment is read as fast as a Pod.
//! Every field is optional and `null` is read as absent: real clusters and `kubectl` output
//! carry both. Everything else in the object is skipped, not kept.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{IgnoredAny, MapAccess};
use serde::{Deserialize, Deserializer};

use super::lax::{self, Lax};

/// Any Kubernetes object, as far as the analyzer cares.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Object {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: Option<Meta>,
    pub spec: Option<Spec>,
    pub status: Option<Status>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Meta {
    pub name: Option<String>,
    pub generate_name: Option<String>,
    pub namespace: Option<String>,
    #[serde(deserialize_with = "string_map")]
    pub labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "string_map")]
    pub annotations: BTreeMap<String, String>,
    pub owner_references: Option<Vec<OwnerReference>>,
    #[serde(deserialize_with = "lax::opt")]
    pub creation_timestamp: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OwnerReference {
    pub kind: Option<String>,
}

/// A pod spec, a workload spec, or a CronJob spec: whichever fields the object has.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Spec {
    pub containers: Option<Vec<Container>>,
    pub init_containers: Option<Vec<Container>>,
    pub ephemeral_containers: Option<Vec<Container>>,
    pub node_name: Option<String>,
    pub service_account_name: Option<String>,
    pub host_network: Option<bool>,
    #[serde(rename = "hostPID")]
    pub host_pid: Option<bool>,
    #[serde(rename = "hostIPC")]
    pub host_ipc: Option<bool>,
    pub security_context: Option<PodSecurityContext>,
    #[serde(deserialize_with = "lax::opt")]
    pub automount_service_account_token: Option<bool>,
    #[serde(deserialize_with = "lax::opt")]
    pub priority_class_name: Option<String>,
    #[serde(deserialize_with = "lax::opt")]
    pub host_users: Option<bool>,
    #[serde(deserialize_with = "lax::opt")]
    pub os: Option<PodOs>,
    #[serde(deserialize_with = "lax::list")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    #[serde(deserialize_with = "lax::list")]
    pub volumes: Vec<Volume>,
    /// A workload's `replicas`.
    #[serde(deserialize_with = "lax::opt")]
    pub replicas: Option<i32>,
    /// Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job.
    pub template: Option<Box<Template>>,
    /// CronJob: `spec.jobTemplate.spec.template`.
    pub job_template: Option<Box<Template>>,
}

/// A pod template, or a CronJob's job template (whose `spec` holds the pod `template`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Template {
    pub metadata: Option<Meta>,
    pub spec: Option<Spec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Container {
    pub name: Option<String>,
    pub image: Option<String>,
    pub image_pull_policy: Option<String>,
    pub liveness_probe: Option<Probe>,
    pub readiness_probe: Option<Probe>,
    pub startup_probe: Option<Probe>,
    pub ports: Option<Vec<ContainerPort>>,
    pub resources: Option<Resources>,
    pub security_context: Option<SecurityContext>,
    #[serde(deserialize_with = "lax::list")]
    pub env: Vec<EnvVar>,
    #[serde(deserialize_with = "lax::opt")]
    pub lifecycle: Option<Lifecycle>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EnvVar {
    #[serde(deserialize_with = "lax::text")]
    pub name: String,
    /// The literal value (`valueFrom` is not read: a literal is in the manifest whatever else
    /// the entry says).
    #[serde(deserialize_with = "lax::opt")]
    pub value: Option<Literal>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Lifecycle {
    #[serde(deserialize_with = "lax::opt")]
    pub post_start: Option<Handler>,
    #[serde(deserialize_with = "lax::opt")]
    pub pre_stop: Option<Handler>,
}

/// A lifecycle hook: its action, read leniently (the seed never read hooks).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Handler {
    #[serde(deserialize_with = "lax::opt")]
    pub http_get: Option<HttpGet>,
    #[serde(deserialize_with = "lax::opt")]
    pub tcp_socket: Option<TcpSocket>,
    #[serde(deserialize_with = "lax::opt")]
    pub exec: Option<Exec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Probe {
    pub http_get: Option<HttpGet>,
    pub tcp_socket: Option<TcpSocket>,
    pub exec: Option<Exec>,
    pub grpc: Option<Grpc>,
    pub initial_delay_seconds: Option<i32>,
    pub period_seconds: Option<i32>,
    pub timeout_seconds: Option<i32>,
    pub success_threshold: Option<i32>,
    pub failure_threshold: Option<i32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HttpGet {
    pub path: Option<String>,
    #[serde(deserialize_with = "lax::opt")]
    pub host: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TcpSocket {
    #[serde(deserialize_with = "int_or_string")]
    pub port: Option<String>,
    #[serde(deserialize_with = "lax::opt")]
    pub host: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Exec {
    pub command: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Grpc {
    pub port: Option<i32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub container_port: Option<i32>,
    pub protocol: Option<String>,
    #[serde(deserialize_with = "lax::opt")]
    pub host_port: Option<i32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Resources {
    #[serde(deserialize_with = "quantity_map")]
    pub requests: BTreeMap<String, String>,
    #[serde(deserialize_with = "quantity_map")]
    pub limits: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecurityContext {
    pub run_as_non_root: Option<bool>,
    pub run_as_user: Option<i64>,
    pub privileged: Option<bool>,
    pub allow_privilege_escalation: Option<bool>,
    pub read_only_root_filesystem: Option<bool>,
    pub capabilities: Option<Capabilities>,
    #[serde(deserialize_with = "lax::opt")]
    pub run_as_group: Option<i64>,
    #[serde(deserialize_with = "lax::opt")]
    pub proc_mount: Option<String>,
    #[serde(flatten)]
    pub profiles: Profiles,
}

/// What pod and container security contexts both set: seccomp, AppArmor, SELinux, Windows.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Profiles {
    #[serde(deserialize_with = "lax::opt")]
    pub seccomp_profile: Option<Profile>,
    #[serde(deserialize_with = "lax::opt")]
    pub app_armor_profile: Option<Profile>,
    #[serde(rename = "seLinuxOptions", deserialize_with = "lax::opt")]
    pub se_linux_options: Option<SeLinuxOptions>,
    #[serde(deserialize_with = "lax::opt")]
    pub windows_options: Option<WindowsOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Profile {
    #[serde(rename = "type", deserialize_with = "lax::text")]
    pub kind: String,
    #[serde(deserialize_with = "lax::opt")]
    pub localhost_profile: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SeLinuxOptions {
    #[serde(deserialize_with = "lax::opt")]
    pub user: Option<String>,
    #[serde(deserialize_with = "lax::opt")]
    pub role: Option<String>,
    #[serde(rename = "type", deserialize_with = "lax::opt")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "lax::opt")]
    pub level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WindowsOptions {
    #[serde(deserialize_with = "lax::opt")]
    pub host_process: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Sysctl {
    #[serde(deserialize_with = "lax::text")]
    pub name: String,
    #[serde(deserialize_with = "lax::opt")]
    pub value: Option<Literal>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PodOs {
    #[serde(deserialize_with = "lax::opt")]
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopologySpreadConstraint {
    #[serde(deserialize_with = "lax::opt")]
    pub max_skew: Option<i32>,
    #[serde(deserialize_with = "lax::text")]
    pub topology_key: String,
    #[serde(deserialize_with = "lax::text")]
    pub when_unsatisfiable: String,
}

/// Every volume source of the core/v1 API, by field name.
const VOLUME_SOURCES: [&str; 30] = [
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

/// A volume: its name, which of the known sources it sets (non-null), and a hostPath's path.
/// Fields the API does not know are dropped by the API server, so they are left out here too.
#[derive(Debug, Default)]
pub struct Volume {
    pub name: String,
    pub sources: Vec<&'static str>,
    pub host_path: Option<String>,
}

impl<'de> Deserialize<'de> for Volume {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct VolumeVisitor;

        impl<'de> serde::de::Visitor<'de> for VolumeVisitor {
            type Value = Volume;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a volume object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Volume, A::Error> {
                let mut volume = Volume::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let known = VOLUME_SOURCES.iter().find(|known| **known == key);
                    let set = match (key.as_ref(), known) {
                        ("name", _) => {
                            volume.name = map.next_value::<Lax<String>>()?.0.unwrap_or_default();
                            false
                        }
                        ("hostPath", _) => {
                            let source = map.next_value::<Lax<HostPath>>()?.0;
                            let set = source.is_some();
                            volume.host_path = source.and_then(|source| source.path);
                            set
                        }
                        (_, Some(_)) => map.next_value::<Lax<IgnoredAny>>()?.0.is_some(),
                        (_, None) => {
                            map.next_value::<IgnoredAny>()?;
                            false
                        }
                    };
                    if let Some(source) = known.filter(|_| set)
                        && !volume.sources.contains(source)
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

/// A hostPath source; any JSON value reads as one (a source that is not an object still sets
/// the volume's type, as PodSecurity admission would see it).
#[derive(Debug, Default)]
pub struct HostPath {
    pub path: Option<String>,
}

impl<'de> Deserialize<'de> for HostPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Fields {
            #[serde(deserialize_with = "lax::opt")]
            path: Option<String>,
        }
        let fields = Lax::<Fields>::deserialize(deserializer)?.0;
        Ok(HostPath {
            path: fields.and_then(|fields| fields.path),
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    pub add: Option<Vec<String>>,
    pub drop: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSecurityContext {
    pub run_as_non_root: Option<bool>,
    pub run_as_user: Option<i64>,
    pub run_as_group: Option<i64>,
    pub fs_group: Option<i64>,
    #[serde(deserialize_with = "lax::list")]
    pub sysctls: Vec<Sysctl>,
    #[serde(flatten)]
    pub profiles: Profiles,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Status {
    pub phase: Option<String>,
    pub reason: Option<String>,
    pub start_time: Option<String>,
    pub container_statuses: Option<Vec<ContainerStatus>>,
    pub init_container_statuses: Option<Vec<ContainerStatus>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerStatus {
    pub name: Option<String>,
    pub image: Option<String>,
    pub ready: Option<bool>,
    pub restart_count: Option<i32>,
    pub state: Option<ContainerState>,
    pub last_state: Option<ContainerState>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContainerState {
    pub waiting: Option<StateDetail>,
    pub running: Option<serde::de::IgnoredAny>,
    pub terminated: Option<StateDetail>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StateDetail {
    pub reason: Option<String>,
}

/// A map of strings where the map itself may be `null`.
fn string_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(Option::<BTreeMap<String, String>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Resource quantities: `"500m"` in JSON, but YAML turns `cpu: 1` into a number.
fn quantity_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let map = Option::<BTreeMap<String, Scalar>>::deserialize(deserializer)?.unwrap_or_default();
    Ok(map.into_iter().map(|(key, value)| (key, value.0)).collect())
}

/// Kubernetes' IntOrString (ports, for one), kept as written.
fn int_or_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Scalar>::deserialize(deserializer)?.map(|scalar| scalar.0))
}

/// A string or a number, as text.
struct Scalar(String);

/// A string, a number or a boolean, as text: a literal value in YAML (`value: 1234`, `true`).
#[derive(Debug)]
pub struct Literal(pub String);

/// Reads a scalar as text; booleans too when `booleans`.
struct ScalarVisitor {
    booleans: bool,
}

impl serde::de::Visitor<'_> for ScalarVisitor {
    type Value = String;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.booleans {
            "a string, a number or a boolean"
        } else {
            "a string or a number"
        })
    }
    fn visit_str<E>(self, value: &str) -> Result<String, E> {
        Ok(value.to_owned())
    }
    fn visit_string<E>(self, value: String) -> Result<String, E> {
        Ok(value)
    }
    fn visit_i64<E>(self, value: i64) -> Result<String, E> {
        Ok(value.to_string())
    }
    fn visit_u64<E>(self, value: u64) -> Result<String, E> {
        Ok(value.to_string())
    }
    fn visit_f64<E>(self, value: f64) -> Result<String, E> {
        Ok(value.to_string())
    }
    fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<String, E> {
        if self.booleans {
            Ok(value.to_string())
        } else {
            Err(E::invalid_type(serde::de::Unexpected::Bool(value), &self))
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let visitor = ScalarVisitor { booleans: false };
        deserializer.deserialize_any(visitor).map(Scalar)
    }
}

impl<'de> Deserialize<'de> for Literal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let visitor = ScalarVisitor { booleans: true };
        deserializer.deserialize_any(visitor).map(Literal)
    }
}
