//! kube-devops: Kubernetes workload governance by sandboxed WebAssembly plugins.
//!
//! Pods come from manifest files ([`manifest`]) or the cluster ([`cluster`]), become the typed
//! records of the plugin contract ([`pod`], [`contract`]), run through the Wasm plugins
//! ([`wasm`]) and are scored and reported ([`analysis`]). The CLI ([`cli`]) is one front end of
//! this engine; the engine knows nothing of it.

pub mod analysis;
pub mod cli;
pub mod cluster;
pub mod contract;
pub mod manifest;
pub mod operator;
pub mod pod;
pub mod policy;
pub mod wasm;
pub mod webhook;
