//! Builds the built-in plugins (`plugins/*`) for `wasm32-wasip2`, precompiles them for this
//! host with the engine settings the binary uses, and embeds both in the binary, so that
//! `cargo run -- analyze` needs no other step and a one-pod analysis pays no Cranelift time.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

#[path = "../engine/src/wasm/engine_config.rs"]
mod engine_config;

const WASM_TARGET: &str = "wasm32-wasip2";
const PLUGIN_PROFILE: &str = "wasm-plugin";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir
        .ancestors()
        .nth(2)
        .expect("host/builtins/ lives in the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    for watched in ["wit", "sdk", "plugins", "Cargo.lock"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    println!("cargo:rerun-if-changed=../engine/src/wasm/engine_config.rs");

    let plugins = plugin_names(&workspace.join("plugins"));
    // <target>/<profile>/build/<pkg>/out: the plugins get a target directory of their own beside
    // the host's, shared by every profile, so the nested cargo never waits on the outer's lock.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .unwrap_or(&out_dir)
        .join("wasm-plugins");
    build_plugins(&workspace, &target_dir, &plugins);

    let built = target_dir.join(WASM_TARGET).join(PLUGIN_PROFILE);
    let precompile = env::var("TARGET").ok() == env::var("HOST").ok();
    let engine = wasmtime::Engine::new(&engine_config::engine_config()).expect("wasmtime engine");
    let mut generated = String::from("pub static BUILTINS: &[Builtin] = &[\n");
    for name in &plugins {
        let wasm_path = built.join(format!("{}.wasm", name.replace('-', "_")));
        let wasm =
            fs::read(&wasm_path).unwrap_or_else(|error| panic!("{}: {error}", wasm_path.display()));
        let mut sha256 = String::new();
        for byte in Sha256::digest(&wasm) {
            write!(sha256, "{byte:02x}").expect("write to String");
        }
        let embedded = out_dir.join(format!("{name}.wasm"));
        fs::write(&embedded, &wasm).expect("write OUT_DIR");
        let precompiled = if precompile {
            let compiled = engine
                .precompile_component(&wasm)
                .unwrap_or_else(|error| panic!("precompiling plugin {name}: {error:#}"));
            let path = out_dir.join(format!("{name}.cwasm"));
            fs::write(&path, compiled).expect("write OUT_DIR");
            format!("Some(include_bytes!({:?}))", path.display().to_string())
        } else {
            "None".to_owned()
        };
        let enabled_by_default = enabled_by_default(&workspace.join("plugins").join(name));
        writeln!(
            generated,
            "    Builtin {{ name: {name:?}, wasm: include_bytes!({:?}), sha256: {sha256:?}, precompiled: {precompiled}, enabled_by_default: {enabled_by_default} }},",
            embedded.display().to_string()
        )
        .expect("write to String");
    }
    generated.push_str("];\n");
    fs::write(out_dir.join("builtin_plugins.rs"), generated).expect("write OUT_DIR");
}

/// False when the plugin's Cargo.toml says `enabled-by-default = false` in its
/// `[package.metadata.kube-devops]` table: an opt-in plugin of the policy library.
fn enabled_by_default(crate_dir: &Path) -> bool {
    let manifest = crate_dir.join("Cargo.toml");
    let text = fs::read_to_string(&manifest)
        .unwrap_or_else(|error| panic!("{}: {error}", manifest.display()));
    let mut in_table = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_table = line == "[package.metadata.kube-devops]";
        } else if in_table
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "enabled-by-default"
        {
            return value.split('#').next().unwrap_or_default().trim() != "false";
        }
    }
    true
}

/// Crate directories under `plugins/`, in name order.
fn plugin_names(plugins_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(plugins_dir)
        .unwrap_or_else(|error| panic!("{}: {error}", plugins_dir.display()))
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

fn build_plugins(workspace: &Path, target_dir: &Path, plugins: &[String]) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--target",
            WASM_TARGET,
            "--profile",
            PLUGIN_PROFILE,
            "--target-dir",
        ])
        .arg(target_dir);
    for name in plugins {
        command.args(["-p", name]);
    }
    // Settings meant for the host build must not leak into the guest build.
    for variable in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_LLVM_COV",
    ] {
        command.env_remove(variable);
    }
    let status = command
        .status()
        .unwrap_or_else(|error| panic!("running cargo: {error}"));
    if !status.success() {
        panic!(
            "building the built-in plugins for {WASM_TARGET} failed (see above). If the target is \
             missing, run `rustup target add {WASM_TARGET}`."
        );
    }
}
