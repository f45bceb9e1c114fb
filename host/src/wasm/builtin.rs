//! The built-in plugins, embedded in the binary by `build.rs`: each one's component bytes and,
//! when the build could make them, the same component precompiled for this engine.

/// One embedded plugin.
pub struct Builtin {
    /// The plugin's crate name under `plugins/`.
    pub name: &'static str,
    /// The component, as built for `wasm32-wasip2`.
    pub wasm: &'static [u8],
    /// The component compiled ahead of time by `engine_config()`, if the build targeted this host.
    pub precompiled: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));
