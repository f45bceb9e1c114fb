//! The built-in plugins (`plugins/*`), built for `wasm32-wasip2` by `build.rs`, precompiled for
//! this host with the engine's settings and embedded here, so that `cargo run -- analyze` needs
//! no other step and a one-pod analysis pays no Cranelift time.
//!
//! The engine takes them as data ([`BUILTINS`]); keeping the nested wasm build in this crate lets
//! `cargo check -p kube-devops-engine` run without the wasm target.

use std::path::PathBuf;
use std::sync::Arc;

use kube_devops_engine::wasm::{Builtin, LoadError, Runtime, RuntimeOptions};

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// A runtime with the built-in plugins, compiling custom plugins through `cache_dir` (none: no
/// disk cache).
pub fn runtime(cache_dir: Option<PathBuf>) -> Result<Arc<Runtime>, LoadError> {
    Runtime::new(RuntimeOptions {
        builtins: BUILTINS,
        cache_dir,
    })
}
