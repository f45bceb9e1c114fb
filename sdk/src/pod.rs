//! The pod under analysis, read from the host part by part.
//!
//! In contract 0.2.0 the host passes a `pod` resource, not the pod: each accessor copies one part
//! (metadata, pod-level spec, containers, volumes, status) into the plugin's memory when it is
//! called. [`Pod`] calls each at most once per pod and keeps the answer, so a check reads
//! `pod.containers()` as often as it likes and a plugin pays only for the parts it reads.
//! Containers come with the parts the plugin declares ([`crate::Plugin::CONTAINER_PARTS`],
//! contract 0.2.2's `containers-with`), all of them unless it declares fewer.

use std::cell::OnceCell;

use crate::bindings::kube_devops::analyzer::pod::Pod as Handle;
use crate::{Container, ContainerParts, KeyValue, ObjectMeta, PodSpec, PodStatus, Volume};

/// The pod a plugin analyses. Pods read from workload templates (Deployments, Jobs, ...) and
/// pods at admission have no status.
pub struct Pod<'a> {
    handle: Option<&'a Handle>,
    /// What the container accessors ask the host for.
    parts: ContainerParts,
    metadata: OnceCell<ObjectMeta>,
    spec: OnceCell<PodSpec>,
    containers: OnceCell<Vec<Container>>,
    init_containers: OnceCell<Vec<Container>>,
    ephemeral_containers: OnceCell<Vec<Container>>,
    volumes: OnceCell<Vec<Volume>>,
    status: OnceCell<Option<PodStatus>>,
    json: OnceCell<String>,
}

/// Every part of a pod, for building a [`Pod`] without a host (a plugin's unit tests).
#[derive(Debug, Clone)]
pub struct PodParts {
    pub metadata: ObjectMeta,
    pub spec: PodSpec,
    pub containers: Vec<Container>,
    pub init_containers: Vec<Container>,
    pub ephemeral_containers: Vec<Container>,
    pub volumes: Vec<Volume>,
    pub status: Option<PodStatus>,
    /// What [`Pod::json`] returns.
    pub json: String,
}

/// Reads a part: the one already read, else the host's answer, kept.
fn part<'c, T>(
    cell: &'c OnceCell<T>,
    handle: Option<&Handle>,
    read: impl FnOnce(&Handle) -> T,
) -> &'c T {
    cell.get_or_init(|| {
        // A pod built from parts has every cell filled; only a host-backed one reads.
        let handle = handle.expect("a pod built from parts has every part");
        read(handle)
    })
}

impl<'a> Pod<'a> {
    /// The pod of the `analyze` call in progress, its containers read with `parts` (the export
    /// macro builds it).
    #[doc(hidden)]
    pub fn from_host(handle: &'a Handle, parts: ContainerParts) -> Self {
        Pod {
            handle: Some(handle),
            parts,
            metadata: OnceCell::new(),
            spec: OnceCell::new(),
            containers: OnceCell::new(),
            init_containers: OnceCell::new(),
            ephemeral_containers: OnceCell::new(),
            volumes: OnceCell::new(),
            status: OnceCell::new(),
            json: OnceCell::new(),
        }
    }

    /// A pod that needs no host, from all its parts: for unit tests of a plugin's logic.
    pub fn from_parts(parts: PodParts) -> Pod<'static> {
        Pod {
            handle: None,
            parts: ContainerParts::all(),
            metadata: OnceCell::from(parts.metadata),
            spec: OnceCell::from(parts.spec),
            containers: OnceCell::from(parts.containers),
            init_containers: OnceCell::from(parts.init_containers),
            ephemeral_containers: OnceCell::from(parts.ephemeral_containers),
            volumes: OnceCell::from(parts.volumes),
            status: OnceCell::from(parts.status),
            json: OnceCell::from(parts.json),
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        part(&self.metadata, self.handle, Handle::metadata)
    }

    /// The pod's own fields: service account, host namespaces, security context, ...
    pub fn spec(&self) -> &PodSpec {
        part(&self.spec, self.handle, Handle::spec)
    }

    /// `spec.containers`.
    pub fn containers(&self) -> &[Container] {
        part(&self.containers, self.handle, |h| {
            h.containers_with(self.parts)
        })
        .as_slice()
    }

    /// `spec.initContainers`.
    pub fn init_containers(&self) -> &[Container] {
        part(&self.init_containers, self.handle, |h| {
            h.init_containers_with(self.parts)
        })
        .as_slice()
    }

    /// `spec.ephemeralContainers` (debugging sessions added to a running pod).
    pub fn ephemeral_containers(&self) -> &[Container] {
        part(&self.ephemeral_containers, self.handle, |h| {
            h.ephemeral_containers_with(self.parts)
        })
        .as_slice()
    }

    /// `spec.volumes`.
    pub fn volumes(&self) -> &[Volume] {
        part(&self.volumes, self.handle, Handle::volumes).as_slice()
    }

    /// The pod's status; `None` for templates and pods at admission.
    pub fn status(&self) -> Option<&PodStatus> {
        part(&self.status, self.handle, Handle::status).as_ref()
    }

    /// The whole object as Kubernetes JSON, for a field the records do not carry. The costliest
    /// part: the host builds the text and the plugin parses it.
    pub fn json(&self) -> &str {
        part(&self.json, self.handle, Handle::to_json).as_str()
    }

    pub fn name(&self) -> &str {
        &self.metadata().name
    }

    pub fn namespace(&self) -> &str {
        &self.metadata().namespace
    }

    /// Regular and init containers: the ones that run the workload's images.
    pub fn all_containers(&self) -> impl Iterator<Item = &Container> {
        self.containers().iter().chain(self.init_containers())
    }

    /// Init, regular and ephemeral containers, in the order PodSecurity admission visits them.
    pub fn every_container(&self) -> impl Iterator<Item = &Container> {
        self.init_containers()
            .iter()
            .chain(self.containers())
            .chain(self.ephemeral_containers())
    }

    /// Where the container named `name` is in the pod, as a JSON Pointer for a [`Fix`]
    /// (`/spec/containers/1`, `/spec/initContainers/0`, `/spec/ephemeralContainers/0`).
    ///
    /// [`Fix`]: crate::Fix
    pub fn container_pointer(&self, name: &str) -> Option<String> {
        [
            ("containers", self.containers()),
            ("initContainers", self.init_containers()),
            ("ephemeralContainers", self.ephemeral_containers()),
        ]
        .into_iter()
        .find_map(|(field, list)| {
            let index = list.iter().position(|container| container.name == name)?;
            Some(format!("/spec/{field}/{index}"))
        })
    }

    /// The value of a label, if set.
    pub fn label(&self, key: &str) -> Option<&str> {
        lookup(&self.metadata().labels, key)
    }

    /// The value of an annotation, if set.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        lookup(&self.metadata().annotations, key)
    }

    /// Whether a controller of one of these kinds owns the pod (for a workload's template,
    /// whether the workload is of one of these kinds).
    pub fn owned_by(&self, kinds: &[&str]) -> bool {
        self.metadata()
            .owner_kinds
            .iter()
            .any(|kind| kinds.contains(&kind.as_str()))
    }
}

/// The value of `key` among map entries (labels, annotations, quantities, sysctls).
pub fn lookup<'e>(entries: &'e [KeyValue], key: &str) -> Option<&'e str> {
    entries
        .iter()
        .find(|entry| entry.key == key)
        .map(|entry| entry.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PodSpec, Resources};

    fn container(name: &str) -> Container {
        Container {
            name: name.to_owned(),
            image: format!("{name}:1"),
            image_pull_policy: None,
            liveness_probe: None,
            readiness_probe: None,
            startup_probe: None,
            post_start: None,
            pre_stop: None,
            ports: Vec::new(),
            resources: Resources {
                requests: Vec::new(),
                limits: Vec::new(),
            },
            env: Vec::new(),
            security_context: None,
        }
    }

    fn pod() -> Pod<'static> {
        Pod::from_parts(PodParts {
            metadata: ObjectMeta {
                name: "web".to_owned(),
                namespace: "shop".to_owned(),
                labels: vec![KeyValue {
                    key: "team".to_owned(),
                    value: "payments".to_owned(),
                }],
                annotations: Vec::new(),
                owner_kinds: vec!["ReplicaSet".to_owned()],
                creation_timestamp: None,
            },
            spec: PodSpec {
                node_name: None,
                service_account_name: None,
                automount_service_account_token: None,
                priority_class_name: None,
                host_network: false,
                host_pid: false,
                host_ipc: false,
                host_users: None,
                os: None,
                security_context: None,
                topology_spread_constraints: Vec::new(),
                replicas: None,
            },
            containers: vec![container("app"), container("proxy")],
            init_containers: vec![container("migrate")],
            ephemeral_containers: vec![container("debug")],
            volumes: Vec::new(),
            status: None,
            json: "{}".to_owned(),
        })
    }

    #[test]
    fn a_pod_from_parts_reads_like_one_from_the_host() {
        let pod = pod();
        assert_eq!((pod.name(), pod.namespace()), ("web", "shop"));
        assert_eq!(pod.label("team"), Some("payments"));
        assert_eq!(pod.label("tier"), None);
        assert!(pod.owned_by(&["Deployment", "ReplicaSet"]));
        assert!(!pod.owned_by(&["Job"]));
        let names = |containers: Vec<&Container>| -> Vec<String> {
            containers.into_iter().map(|c| c.name.clone()).collect()
        };
        assert_eq!(
            names(pod.all_containers().collect()),
            ["app", "proxy", "migrate"]
        );
        assert_eq!(
            names(pod.every_container().collect()),
            ["migrate", "app", "proxy", "debug"]
        );
        assert!(pod.status().is_none());
        assert_eq!(pod.json(), "{}");
    }
}
