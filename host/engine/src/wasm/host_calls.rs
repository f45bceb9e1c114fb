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
use crate::contract::{Container, ObjectMeta, PodSpec, PodStatus, Volume};

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
