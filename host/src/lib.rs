//! kube-devops: Kubernetes workload governance by sandboxed WebAssembly plugins.
//!
//! Pods come from manifest files ([`manifest`]) or the cluster ([`cluster`]), become the typed
//! records of the plugin contract ([`pod`], [`contract`]), run through the Wasm plugins
//! ([`wasm`]) and are scored and reported ([`analysis`]). Three front ends use this engine, which
//! knows none of them: the CLI ([`cli`]), the operator ([`operator`], with the CRD in
//! [`policy`]) and the admission webhook ([`webhook`]).

pub mod analysis;
pub mod cli;
pub mod cluster;
pub mod contract;
pub mod manifest;
pub mod oci;
pub mod operator;
pub mod pod;
pub mod policy;
pub mod service;
pub mod wasm;
pub mod webhook;
