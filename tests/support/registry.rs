//! A real OCI registry on loopback: Debian's `docker-registry` (the CNCF distribution registry),
//! with its storage in a temporary directory, stopped when dropped.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub address: String,
}

/// Where Debian installs it; `scripts/test` installs the package.
const BINARY: &str = "docker-registry";

impl Registry {
    /// Starts a registry storing under `storage` on a free port, and waits until it answers.
    pub fn start(storage: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let address = format!("127.0.0.1:{port}");
        let config = storage.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\nhttp:\n  addr: {address}\n",
                storage.join("data").display()
            ),
        )
        .expect("write the registry config");
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start {BINARY} ({error}): install Debian's docker-registry package, as scripts/test does")
            });
        let registry = Registry { child, address };
        registry.wait_until_serving();
        registry
    }

    fn wait_until_serving(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&self.address).is_err() {
            assert!(
                Instant::now() < deadline,
                "the registry never listened on {}",
                self.address
            );
            // Polling a port has no blocking form; the condition is re-checked, not assumed.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `oci://ADDRESS/PATH`.
    pub fn reference(&self, path: &str) -> String {
        format!("oci://{}/{path}", self.address)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The directory of the blobs the registry stores (to damage one on purpose).
pub fn blobs_dir(storage: &Path) -> PathBuf {
    storage.join("data/docker/registry/v2/blobs/sha256")
}
