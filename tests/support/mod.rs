//! Shared by the integration tests: running the binary, building test plugins, temp files, and
//! the loopback API server fixture ([`apiserver`]).

#![allow(dead_code)] // Each test crate uses a different part.

pub mod apiserver;
pub mod daemon;
pub mod registry;
pub mod tls;
pub mod toolchain;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is in the workspace")
        .to_path_buf()
}

/// A command running the `kube-devops` binary, isolated from the user's cluster settings.
pub fn kube_devops() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kube-devops"));
    command
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env_remove("RUST_LOG")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("HOME", std::env::temp_dir())
        .current_dir(workspace());
    command
}

/// Longest a CLI run may take in a test before it counts as hung.
const RUN_DEADLINE: Duration = Duration::from_secs(120);

/// What a finished run printed and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|error| {
            panic!(
                "stdout is not JSON ({error}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `kube-devops ARGS`, feeding `stdin`, and waits for it under [`RUN_DEADLINE`].
pub fn run_with_stdin(args: &[&str], stdin: &str) -> Run {
    run_in_with_stdin(&workspace(), args, stdin)
}

/// [`run`] in the directory `dir` (relative paths in the arguments are read from there).
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    run_in_with_stdin(dir, args, "")
}

fn run_in_with_stdin(dir: &Path, args: &[&str], stdin: &str) -> Run {
    let mut child = kube_devops()
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kube-devops");
    let mut input = child.stdin.take().expect("piped stdin");
    let stdin = stdin.to_owned();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let output = wait_with_deadline(child);
    feeder.join().expect("stdin feeder");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub fn run(args: &[&str]) -> Run {
    run_with_stdin(args, "")
}

/// Waits for `child`, killing it and failing the test if it outlives the deadline.
fn wait_with_deadline(child: std::process::Child) -> Output {
    let id = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let output = child.wait_with_output();
        let _ = done.send(());
        output
    });
    if finished.recv_timeout(RUN_DEADLINE).is_err() {
        let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
        panic!("kube-devops did not finish within {RUN_DEADLINE:?}");
    }
    waiter
        .join()
        .expect("waiter thread")
        .expect("wait for kube-devops")
}

/// A temporary directory removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Writes `text` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create dirs");
    }
    std::fs::write(&path, text).expect("write test file");
    path.to_string_lossy().into_owned()
}

/// The Wasm file of a test or example plugin crate (`misbehave`, `no-privileged`), built once
/// per test process for wasm32-wasip2 in the same target directory the host's build uses.
pub fn plugin_wasm(crate_name: &str) -> String {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| workspace().join("target"), PathBuf::from)
            .join("wasm-plugins");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let started = Instant::now();
        let status = Command::new(cargo)
            .current_dir(workspace())
            .args([
                "build",
                "--quiet",
                "--target",
                "wasm32-wasip2",
                "--profile",
                "wasm-plugin",
                "-p",
                "misbehave",
                "-p",
                "no-privileged",
                "-p",
                "wants-files",
                "-p",
                "wants-network",
                "-p",
                "wants-clock",
                "-p",
                "marker",
                "-p",
                "wants-more",
                "--target-dir",
            ])
            .arg(&target_dir)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .expect("run cargo to build the test plugins");
        assert!(
            status.success(),
            "building the test plugins failed after {:?}",
            started.elapsed()
        );
        target_dir.join("wasm32-wasip2").join("wasm-plugin")
    });
    dir.join(format!("{}.wasm", crate_name.replace('-', "_")))
        .to_string_lossy()
        .into_owned()
}

/// Copies test plugin `plugin` into `dir` as `{plugin}.wasm` and returns the DevOpsPolicy
/// `plugins[]` entry that names it there, pinned by its digest, with `settings`.
pub fn policy_plugin(dir: &Path, plugin: &str, settings: serde_json::Value) -> serde_json::Value {
    let bytes = std::fs::read(plugin_wasm(plugin)).expect("plugin");
    std::fs::create_dir_all(dir).expect("plugin dir");
    std::fs::write(dir.join(format!("{plugin}.wasm")), &bytes).expect("copy plugin");
    serde_json::json!({
        "name": plugin,
        "settings": settings,
        "source": {"file": format!("{plugin}.wasm"), "sha256": sha256_hex(&bytes)},
    })
}

/// sha256 of `bytes`, hex, as `sha256sum` prints it and policies pin plugin modules.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
