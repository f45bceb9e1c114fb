//! The on-disk cache of compiled custom plugins: a second run loads what the first compiled, and
//! an entry that is corrupt or was made by another engine is detected, never trusted, and rebuilt.

mod support;

use std::path::{Path, PathBuf};

use support::{plugin_wasm, temp_dir, write};

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n  containers: [{name: app, image: nginx:1.27, securityContext: {privileged: true}}]\n";

struct Analysis {
    report: serde_json::Value,
    stderr: String,
}

/// `analyze` of one privileged pod with the `no-privileged` example plugin, `cache_args` added,
/// logging the plugin loads.
fn analyze(dir: &Path, cache_args: &[&str]) -> Analysis {
    let pod = write(dir, "pod.yaml", POD);
    let wasm = plugin_wasm("no-privileged");
    let output = support::kube_devops()
        .args(["analyze", "-f", &pod, "--plugin", &wasm, "-o", "json"])
        .args(cache_args)
        .env("RUST_LOG", "kube_devops=debug")
        .output()
        .expect("run kube-devops");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let report = serde_json::from_slice(&output.stdout).expect("a JSON report");
    Analysis { report, stderr }
}

/// What the cache did for the custom plugin, from the `plugin loaded` log line.
fn outcome(stderr: &str) -> String {
    stderr
        .lines()
        .find(|line| line.contains("plugin loaded") && line.contains("no-privileged"))
        .and_then(|line| line.split("cache=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no load line for the plugin:\n{stderr}"))
        .to_owned()
}

fn entries(cache: &Path) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(cache.join("modules")) else {
        return Vec::new();
    };
    dir.map(|entry| entry.expect("entry").path()).collect()
}

fn privileged_findings(report: &serde_json::Value) -> usize {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| finding["check"] == "privileged-container")
        .count()
}

#[test]
fn a_second_run_loads_the_compiled_plugin_from_the_cache() {
    let dir = temp_dir();
    let cache = dir.path().join("cache");
    let args = ["--cache-dir", cache.to_str().unwrap()];

    let first = analyze(dir.path(), &args);
    assert_eq!(outcome(&first.stderr), "Some(Miss)");
    let stored = entries(&cache);
    assert_eq!(stored.len(), 1, "{stored:?}");
    let digest = support::sha256_hex(&std::fs::read(plugin_wasm("no-privileged")).unwrap());
    let name = stored[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with(&format!("{digest}-")) && name.ends_with(".cwasm"),
        "the entry is keyed by the module's digest: {name}"
    );

    let second = analyze(dir.path(), &args);
    assert_eq!(outcome(&second.stderr), "Some(Hit)");
    assert_eq!(privileged_findings(&first.report), 1);
    assert_eq!(first.report["findings"], second.report["findings"]);
}

#[test]
fn a_corrupt_entry_is_detected_rebuilt_and_replaced() {
    let dir = temp_dir();
    let cache = dir.path().join("cache");
    let args = ["--cache-dir", cache.to_str().unwrap()];
    let first = analyze(dir.path(), &args);
    let entry = entries(&cache).pop().expect("an entry");

    // One flipped bit in the compiled code.
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&entry, &bytes).unwrap();
    let rebuilt = analyze(dir.path(), &args);
    assert_eq!(outcome(&rebuilt.stderr), "Some(Rebuilt)");
    assert!(
        rebuilt.stderr.contains("checksum does not match"),
        "{}",
        rebuilt.stderr
    );
    assert_eq!(first.report["findings"], rebuilt.report["findings"]);

    // Truncated to half.
    std::fs::write(&entry, &bytes[..middle]).unwrap();
    assert_eq!(outcome(&analyze(dir.path(), &args).stderr), "Some(Rebuilt)");

    // The replacement is sound again.
    assert_eq!(outcome(&analyze(dir.path(), &args).stderr), "Some(Hit)");
}

#[test]
fn code_compiled_by_another_engine_is_refused_and_rebuilt() {
    use sha2::{Digest, Sha256};

    let dir = temp_dir();
    let cache = dir.path().join("cache");
    let args = ["--cache-dir", cache.to_str().unwrap()];
    analyze(dir.path(), &args);
    let entry = entries(&cache).pop().expect("an entry");

    // A well-formed entry (magic, checksum) holding code from an engine with other settings: as
    // after a wasmtime upgrade that kept the file name, or a hand-placed file.
    let wasm = std::fs::read(plugin_wasm("no-privileged")).unwrap();
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    let other = wasmtime::Engine::new(&config).unwrap();
    let payload = other.precompile_component(&wasm).unwrap();
    let mut bytes = b"KDVMOD01".to_vec();
    bytes.extend_from_slice(&Sha256::digest(&payload));
    bytes.extend_from_slice(&payload);
    std::fs::write(&entry, &bytes).unwrap();

    let run = analyze(dir.path(), &args);
    assert_eq!(outcome(&run.stderr), "Some(Rebuilt)", "{}", run.stderr);
    assert_eq!(privileged_findings(&run.report), 1);
    assert_eq!(outcome(&analyze(dir.path(), &args).stderr), "Some(Hit)");
}

#[test]
fn no_cache_keeps_nothing_and_an_unwritable_cache_is_only_a_warning() {
    let dir = temp_dir();
    let cache = dir.path().join("cache");
    let run = analyze(
        dir.path(),
        &["--cache-dir", cache.to_str().unwrap(), "--no-cache"],
    );
    assert_eq!(outcome(&run.stderr), "None");
    assert!(!cache.exists());

    // A file where the directory should be: the cache cannot be written, the run goes on.
    let blocked = dir.path().join("blocked");
    std::fs::write(&blocked, "not a directory").unwrap();
    let run = analyze(dir.path(), &["--cache-dir", blocked.to_str().unwrap()]);
    assert_eq!(outcome(&run.stderr), "Some(Miss)");
    assert_eq!(privileged_findings(&run.report), 1);
    let warnings = run
        .stderr
        .lines()
        .filter(|line| line.contains("cannot write the compiled plugin cache"))
        .count();
    assert_eq!(warnings, 1, "{}", run.stderr);
}
