//! A built-in plugin as the engine receives it: the `kube-devops-builtins` crate embeds the
//! components of `plugins/` and hands them over as a `&'static [Builtin]`, so the engine itself
//! builds without a wasm target.

/// One embedded plugin.
#[derive(Debug)]
pub struct Builtin {
    /// The plugin's crate name under `plugins/`.
    pub name: &'static str,
    /// The component, as built for `wasm32-wasip2`.
    pub wasm: &'static [u8],
    /// The sha256 of `wasm`, in hex, computed when it was embedded: start-up need not hash it.
    pub sha256: &'static str,
    /// The component compiled ahead of time by `engine_config()`, if the build targeted this host.
    pub precompiled: Option<&'static [u8]>,
    /// Runs unless the config switches it off; `false` for the opt-in library plugins
    /// (`[package.metadata.kube-devops] enabled-by-default = false` in the crate), which run
    /// only when the config or a policy enables them, so the seed's defaults stay as they were.
    pub enabled_by_default: bool,
}
