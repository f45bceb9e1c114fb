//! The kube-devops analysis engine: pods in, findings and scores out, through sandboxed
//! WebAssembly plugins. It knows no cluster client, no command line and no HTTP server: the
//! CLI, the operator and the admission webhook (the `kube-devops` binary) all drive it.
//!
//! Pods come from manifest files ([`manifest`]) or from JSON the caller fetched ([`pod`]),
//! become the typed records of the plugin contract ([`contract`]), run through the Wasm plugins
//! ([`wasm`]) on a bounded pool of threads ([`pool`]) and are scored and reported
//! ([`analysis`]).

pub mod analysis;
pub mod contract;
pub mod error;
mod files;
pub mod manifest;
pub mod pod;
pub mod pool;
pub mod remedy;
pub mod wasm;
