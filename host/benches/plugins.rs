//! Benchmark of custom plugins: what they cost at start-up, with and without the compiled-plugin
//! cache, and per call.
//!
//! - **Start-up**: `kube-devops analyze -f ONE-POD --plugin ×10` with ten distinct custom plugins
//!   (the `no-privileged` example with its name and check ids rewritten in place, so each has
//!   its own digest), end to end as a user runs it. *Cold*: an empty cache directory each run,
//!   so every plugin is compiled by Cranelift. *Warm*: the same directory, so every plugin is
//!   loaded from the cache.
//! - **Per call**: `kube-devops plugin bench` (instantiation and per-call latency on synthetic
//!   pods) on one check in three languages: the built-in `latest-tag` (Rust) and the Python and
//!   JavaScript examples (`examples/plugins/no-latest-{py,js}`, measured when built: the tests
//!   build them), and on the Rust example `no-privileged`.
//!
//! Run it with
//!
//! ```text
//! cargo bench -p kube-devops --bench plugins
//! ```
//!
//! Environment: `KUBE_DEVOPS_BENCH_RUNS` (runs per start-up figure, default 7).

#[path = "../../tests/support/mod.rs"]
mod support;

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::env_number;

const PLUGINS: usize = 10;
const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n  containers: [{name: app, image: nginx:1.27, securityContext: {privileged: true}}]\n";

fn main() {
    let runs = env_number("KUBE_DEVOPS_BENCH_RUNS", 7);
    let dir = support::temp_dir();
    let plugins = variants(
        Path::new(&support::plugin_wasm("no-privileged")),
        dir.path(),
    );
    let pod = support::write(dir.path(), "pod.yaml", POD);
    let binary = env!("CARGO_BIN_EXE_kube-devops");

    let start_up = |cache: &Path| {
        let mut command = Command::new(binary);
        command.args(["analyze", "-f", &pod, "-o", "json", "--cache-dir"]);
        command.arg(cache);
        for plugin in &plugins {
            command.arg("--plugin").arg(plugin);
        }
        let started = Instant::now();
        let output = command.output().expect("run kube-devops");
        let took = started.elapsed();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
        let privileged = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| {
                f["check"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("privileged-containe"))
            })
            .count();
        assert_eq!(privileged, PLUGINS, "one finding from each custom plugin");
        took
    };

    let mut cold = Vec::new();
    for run in 0..runs {
        let cache = dir.path().join(format!("cold-{run}"));
        cold.push(start_up(&cache));
    }
    let warm_cache = dir.path().join("warm");
    start_up(&warm_cache);
    let warm: Vec<Duration> = (0..runs).map(|_| start_up(&warm_cache)).collect();
    let without_plugins = {
        let mut runs_without = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            let status = Command::new(binary)
                .args(["analyze", "-f", &pod, "-o", "json"])
                .output()
                .expect("run kube-devops");
            assert!(status.status.success());
            runs_without.push(started.elapsed());
        }
        runs_without
    };

    println!("Start-up: `analyze -f` on one pod, {runs} runs each (median / min)");
    println!("| plugins | cache | wall time |");
    println!("|---|---|---:|");
    println!(
        "| built-ins only | (precompiled into the binary) | {} |",
        figure(&without_plugins)
    );
    println!(
        "| built-ins + {PLUGINS} custom | cold (empty) | {} |",
        figure(&cold)
    );
    println!(
        "| built-ins + {PLUGINS} custom | warm | {} |",
        figure(&warm)
    );

    println!();
    println!("Per call: `kube-devops plugin bench` (10 000 calls on 100 synthetic pods)");
    // The same check in three languages: the built-in `latest-tag` (Rust), and the Python and
    // JavaScript examples when they have been built (the tests build them).
    let builtin = kube_devops_builtins::BUILTINS
        .iter()
        .find(|builtin| builtin.name == "latest-tag")
        .expect("the built-in latest-tag plugin");
    let rust = dir.path().join("latest-tag.wasm");
    std::fs::write(&rust, builtin.wasm).expect("write the built-in plugin");
    let mut measured = vec![rust, PathBuf::from(support::plugin_wasm("no-privileged"))];
    for example in ["no-latest-py", "no-latest-js"] {
        let path = support::workspace()
            .join("examples/plugins")
            .join(example)
            .join(format!("{example}.wasm"));
        if path.exists() {
            measured.push(path);
        } else {
            println!("({example} is not built: see examples/plugins/{example}/README.md)");
        }
    }
    for plugin in measured {
        let output = Command::new(binary)
            .args(["plugin", "bench"])
            .arg(&plugin)
            .output()
            .expect("run kube-devops");
        println!("{}", String::from_utf8_lossy(&output.stdout));
        if !output.status.success() {
            println!("{}", String::from_utf8_lossy(&output.stderr));
        }
    }
}

/// `median / min` in milliseconds.
fn figure(samples: &[Duration]) -> String {
    let mut sorted = samples.to_vec();
    sorted.sort();
    format!(
        "{:.0} ms / {:.0} ms",
        sorted[sorted.len() / 2].as_secs_f64() * 1e3,
        sorted[0].as_secs_f64() * 1e3
    )
}

/// Ten copies of the example plugin, each with its name and check ids rewritten in place (same
/// length, so the module stays valid): distinct digests, distinct plugins.
fn variants(wasm: &Path, dir: &Path) -> Vec<PathBuf> {
    let original = std::fs::read(wasm).expect("the example plugin");
    (0..PLUGINS)
        .map(|index| {
            let mut bytes = original.clone();
            let digit = b'0' + index as u8;
            for (from, to) in [
                (
                    &b"no-privileged"[..],
                    format!("no-privilege{}", digit as char),
                ),
                (
                    &b"privileged-container"[..],
                    format!("privileged-containe{}", digit as char),
                ),
                (
                    &b"host-path-volume"[..],
                    format!("host-path-volum{}", digit as char),
                ),
            ] {
                replace_all(&mut bytes, from, to.as_bytes());
            }
            let path = dir.join(format!("plugin-{index}.wasm"));
            std::fs::write(&path, bytes).expect("write a variant");
            path
        })
        .collect()
}

fn replace_all(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut at = 0;
    while let Some(offset) = bytes[at..].windows(from.len()).position(|w| w == from) {
        let start = at + offset;
        bytes[start..start + from.len()].copy_from_slice(to);
        at = start + from.len();
    }
}
