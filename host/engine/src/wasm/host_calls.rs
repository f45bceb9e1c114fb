//! What a plugin calls in the host: the `pod` resource's accessors, `analysis-time` and the
//! `remediation` functions of contract 0.2, `pod-json` and `analysis-time` of 0.1.0. Each reads the pod of the call in
//! progress, kept in the instance's state for the length of the call.
//!
//! The host hands the guest a borrow of the `pod` resource whose representation means nothing
//! (there is one pod per call): the accessors read the state, not the handle, and wasmtime
//! rejects a handle the guest did not receive.

use wasmtime::component::Resource;

use super::sandbox::{CallPod, HostState};
use crate::contract::kube_devops::analyzer::{host, pod, remediation, types};
use crate::contract::v0_1::kube_devops::analyzer as v0_1;
use crate::contract::{Container, ObjectMeta, PodSpec, PodStatus, Resources, Volume};

/// Why an accessor was called with no pod to read.
#[derive(Debug, thiserror::Error)]
#[error("the plugin read the pod outside an `analyze` call")]
struct NoPod;

impl HostState {
    fn call_pod(&self) -> wasmtime::Result<&CallPod> {
        self.pod.as_ref().ok_or_else(|| NoPod.into())
    }
}

/// The `types` interfaces declare no functions; their host traits are empty.
impl types::Host for HostState {}
impl v0_1::types::Host for HostState {}
impl pod::Host for HostState {}

impl pod::HostPod for HostState {
    fn metadata(&mut self, _: Resource<pod::Pod>) -> wasmtime::Result<ObjectMeta> {
        Ok(self.call_pod()?.record.metadata.clone())
    }

    fn spec(&mut self, _: Resource<pod::Pod>) -> wasmtime::Result<PodSpec> {
        Ok(self.call_pod()?.record.spec.clone())
    }

    fn containers(&mut self, _: Resource<pod::Pod>) -> wasmtime::Result<Vec<Container>> {
        Ok(self.call_pod()?.record.containers.clone())
    }

    fn init_containers(&mut self, _: Resource<pod::Pod>) -> wasmtime::Result<Vec<Container>> {
        Ok(self.call_pod()?.record.init_containers.clone())
    }

    fn ephemeral_containers(&mut self, _: Resource<pod::Pod>) -> wasmtime::Result<Vec<Container>> {
        Ok(self.call_pod()?.record.ephemeral_containers.clone())
    }

    fn containers_with(
        &mut self,
        _: Resource<pod::Pod>,
        parts: pod::ContainerParts,
    ) -> wasmtime::Result<Vec<Container>> {
        Ok(project(&self.call_pod()?.record.containers, parts))
    }

    fn init_containers_with(
        &mut self,
        _: Resource<pod::Pod>,
        parts: pod::ContainerParts,
    ) -> wasmtime::Result<Vec<Container>> {
        Ok(project(&self.call_pod()?.record.init_containers, parts))
    }

    fn ephemeral_containers_with(
        &mut self,
        _: Resource<pod::Pod>,
        parts: pod::ContainerParts,
    ) -> wasmtime::Result<Vec<Container>> {
        Ok(project(
            &self.call_pod()?.record.ephemeral_containers,
            parts,
        ))
    }

    fn volumes(&mut self, _: Resource<pod::Pod>) -> wasmtime::Result<Vec<Volume>> {
        Ok(self.call_pod()?.record.volumes.clone())
    }

    fn status(&mut self, _: Resource<pod::Pod>) -> wasmtime::Result<Option<PodStatus>> {
        Ok(self.call_pod()?.record.status.clone())
    }

    fn to_json(&mut self, _: Resource<pod::Pod>) -> wasmtime::Result<String> {
        Ok(self.call_pod()?.source.pod_json())
    }

    /// The guest dropping its borrow: the host keeps nothing per handle.
    fn drop(&mut self, _: Resource<pod::Pod>) -> wasmtime::Result<()> {
        Ok(())
    }
}

/// The containers with only `parts` beside their name, image and pull policy: what is left out
/// is neither cloned here nor lowered into the plugin, which is the point of `containers-with`.
fn project(containers: &[Container], parts: pod::ContainerParts) -> Vec<Container> {
    use pod::ContainerParts as Part;
    /// The value when its part is wanted, else the empty one (`none`, an empty list).
    fn picked<T: Clone + Default>(wanted: bool, value: &T) -> T {
        if wanted { value.clone() } else { T::default() }
    }
    let has = |part: Part| parts.contains(part);
    containers
        .iter()
        .map(|c| Container {
            name: c.name.clone(),
            image: c.image.clone(),
            image_pull_policy: c.image_pull_policy.clone(),
            liveness_probe: picked(has(Part::PROBES), &c.liveness_probe),
            readiness_probe: picked(has(Part::PROBES), &c.readiness_probe),
            startup_probe: picked(has(Part::PROBES), &c.startup_probe),
            post_start: picked(has(Part::LIFECYCLE), &c.post_start),
            pre_stop: picked(has(Part::LIFECYCLE), &c.pre_stop),
            ports: picked(has(Part::PORTS), &c.ports),
            resources: Resources {
                requests: picked(has(Part::RESOURCES), &c.resources.requests),
                limits: picked(has(Part::RESOURCES), &c.resources.limits),
            },
            env: picked(has(Part::ENV), &c.env),
            security_context: picked(has(Part::SECURITY_CONTEXT), &c.security_context),
        })
        .collect()
}

impl host::Host for HostState {
    fn analysis_time(&mut self) -> i64 {
        self.analysis_time
    }
}

impl remediation::Host for HostState {
    fn requested(&mut self) -> Option<remediation::Defaults> {
        self.fixes
            .as_ref()
            .map(|fixes| fixes.defaults.as_ref().clone())
    }

    fn propose(&mut self, finding: u32, operations: Vec<remediation::PatchOperation>) {
        // Proposals nobody asked for are dropped: analysis that only reports keeps nothing.
        if let Some(fixes) = &mut self.fixes {
            fixes.propose(finding, operations);
        }
    }
}

impl v0_1::host::Host for HostState {
    fn pod_json(&mut self) -> String {
        self.pod
            .as_ref()
            .map_or_else(|| "{}".to_owned(), |pod| pod.source.pod_json())
    }

    fn analysis_time(&mut self) -> i64 {
        self.analysis_time
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::pod::{Origin, Read, Source};
    use pod::ContainerParts as Part;

    const POD: &str = r#"{"kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{
        "name":"app","image":"shop:1.2","imagePullPolicy":"Always",
        "livenessProbe":{"httpGet":{"path":"/healthz","port":8080}},
        "readinessProbe":{"tcpSocket":{"port":8080}},
        "startupProbe":{"exec":{"command":["true"]}},
        "lifecycle":{"preStop":{"exec":{"command":["sleep","5"]}},"postStart":{"httpGet":{"path":"/","port":80}}},
        "ports":[{"containerPort":8080,"hostPort":80}],
        "resources":{"requests":{"cpu":"100m"},"limits":{"memory":"128Mi"}},
        "env":[{"name":"MODE","value":"prod"}],
        "securityContext":{"privileged":true}}]}}"#;

    /// The records have no `PartialEq`: their debug text compares them, field for field.
    fn same<T: std::fmt::Debug>(left: T, right: T) {
        assert_eq!(format!("{left:?}"), format!("{right:?}"));
    }

    fn containers() -> Vec<Container> {
        let text = Arc::new(POD.to_owned());
        let origin = Origin::Json {
            path: Arc::from("pod.json"),
            line: 1,
        };
        match crate::pod::read(Source::new(origin, text.clone(), 0..text.len())) {
            Ok(Read::Pod(pod)) => pod.record.containers.clone(),
            _ => panic!("the pod reads"),
        }
    }

    #[test]
    fn every_part_is_the_whole_record() {
        let whole = containers();
        same(project(&whole, Part::all()), whole);
    }

    #[test]
    fn a_part_left_out_is_empty_and_the_others_are_whole() {
        let whole = containers();
        let (full, empty) = (&whole[0], &project(&whole, Part::empty())[0]);
        // Name, image and pull policy are always there.
        same(
            (&empty.name, &empty.image, &empty.image_pull_policy),
            (&full.name, &full.image, &full.image_pull_policy),
        );
        let absent = [
            empty.liveness_probe.is_none(),
            empty.readiness_probe.is_none(),
            empty.startup_probe.is_none(),
            empty.post_start.is_none(),
            empty.pre_stop.is_none(),
            empty.ports.is_empty(),
            empty.resources.requests.is_empty(),
            empty.resources.limits.is_empty(),
            empty.env.is_empty(),
            empty.security_context.is_none(),
        ];
        assert_eq!(absent, [true; 10]);

        // Each part alone brings exactly its fields.
        let one = |part: Part| project(&whole, part).remove(0);
        let probes = one(Part::PROBES);
        same(
            (
                &probes.liveness_probe,
                &probes.readiness_probe,
                &probes.startup_probe,
            ),
            (
                &full.liveness_probe,
                &full.readiness_probe,
                &full.startup_probe,
            ),
        );
        assert!(probes.post_start.is_none() && probes.env.is_empty());
        let lifecycle = one(Part::LIFECYCLE);
        same(
            (&lifecycle.post_start, &lifecycle.pre_stop),
            (&full.post_start, &full.pre_stop),
        );
        assert!(lifecycle.liveness_probe.is_none());
        same(&one(Part::PORTS).ports, &full.ports);
        same(&one(Part::RESOURCES).resources, &full.resources);
        same(&one(Part::ENV).env, &full.env);
        let context = one(Part::SECURITY_CONTEXT);
        same(&context.security_context, &full.security_context);
        assert!(context.ports.is_empty());
        // Only the parts asked for, the rest left out.
        let two = project(&whole, Part::ENV | Part::PORTS).remove(0);
        same((&two.env, &two.ports), (&full.env, &full.ports));
        assert!(two.security_context.is_none() && two.resources.requests.is_empty());
    }
}
