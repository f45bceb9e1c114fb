//! The one wasmtime configuration. The build script precompiles the built-in plugins with it, and
//! precompiled code only loads into an engine configured identically, so both include this file.

/// Wasmtime settings for analyzer plugins: component model on, epoch interruption for time
/// limits, code optimised for speed.
pub fn engine_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .cranelift_opt_level(wasmtime::OptLevel::Speed);
    config
}
