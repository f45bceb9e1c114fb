//! Toolchains some tests need beyond cargo and the wasm target: componentize-py, Node.js with
//! componentize-js, a registry server, CPython for Helm's engine. `scripts/test` installs them
//! all. A plain `cargo test` on a machine without one skips the tests that need it, saying what
//! is missing and how to install it; under CI (`CI=true`, as `.ci/run` runs) a missing
//! toolchain fails the test instead, so CI can never pass by skipping.

use std::path::Path;
use std::process::{Command, Stdio};

/// What a test may need.
#[derive(Debug, Clone, Copy)]
pub enum Toolchain {
    /// componentize-py in `target/componentize-py` (Python plugins).
    ComponentizePy,
    /// npm, and componentize-js under `examples/plugins/no-latest-js/node_modules`.
    ComponentizeJs,
    /// Debian's `docker-registry` (the OCI push/pull tests).
    Registry,
    /// CPython 3 with venv and pip (`scripts/render-chart` installs Helm's engine with them).
    Python,
    /// Debian's chromium, Node.js and playwright-core under `tests/browser/node_modules`.
    Browser,
}

impl Toolchain {
    fn present(self) -> bool {
        let workspace = super::workspace();
        match self {
            Toolchain::ComponentizePy => workspace
                .join("target/componentize-py/bin/componentize-py")
                .exists(),
            Toolchain::ComponentizeJs => {
                runs("npm", &["--version"])
                    && workspace
                        .join("examples/plugins/no-latest-js/node_modules/@bytecodealliance/componentize-js")
                        .exists()
            }
            Toolchain::Registry => on_path("docker-registry"),
            Toolchain::Python => runs("python3", &["-c", "import venv, ensurepip"]),
            Toolchain::Browser => {
                Path::new("/usr/bin/chromium").exists()
                    && runs("node", &["--version"])
                    && workspace
                        .join("tests/browser/node_modules/playwright-core")
                        .exists()
            }
        }
    }

    fn install(self) -> &'static str {
        match self {
            Toolchain::ComponentizePy => {
                "python3 -m venv target/componentize-py && target/componentize-py/bin/pip install -r examples/plugins/no-latest-py/requirements.txt"
            }
            Toolchain::ComponentizeJs => {
                "install Node.js and npm, then npm ci --prefix examples/plugins/no-latest-js"
            }
            Toolchain::Registry => "apt-get install docker-registry",
            Toolchain::Python => {
                "install CPython 3 with venv and pip (apt-get install python3-venv)"
            }
            Toolchain::Browser => {
                "apt-get install --no-install-recommends chromium nodejs npm, then PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser"
            }
        }
    }
}

/// Whether `tool` is there. Missing: false after saying so on stderr, or a failure under CI.
pub fn require(tool: Toolchain) -> bool {
    if tool.present() {
        return true;
    }
    let message = format!(
        "{tool:?} is not installed; to run this test: {}",
        tool.install()
    );
    assert!(
        std::env::var("CI").map_or(true, |ci| ci != "true"),
        "{message} (CI=true: a missing toolchain fails, it is never skipped)"
    );
    eprintln!("skipped: {message}");
    false
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| Path::new(&dir).join(program).is_file())
    })
}
