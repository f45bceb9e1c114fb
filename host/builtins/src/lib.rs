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

#[cfg(test)]
mod tests {
    use super::*;

    /// Start-up trusts the digest written at build time; it must be the embedded bytes' own.
    #[test]
    fn each_embedded_digest_is_its_components() {
        assert!(!BUILTINS.is_empty());
        for builtin in BUILTINS {
            assert_eq!(
                builtin.sha256,
                kube_devops_engine::wasm::sha256_hex(builtin.wasm),
                "{}",
                builtin.name
            );
        }
    }
}
