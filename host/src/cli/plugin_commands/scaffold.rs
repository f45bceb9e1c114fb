//! `plugin new`: the files of a new plugin project. It builds for `wasm32-wasip2` and passes
//! its own golden cases (`plugin test`) as generated; the author edits from there.

use std::path::{Path, PathBuf};

use crate::cli::PluginNewArgs;

/// Writes the project and returns its directory. Refuses to overwrite anything.
pub fn create(args: &PluginNewArgs) -> Result<PathBuf, String> {
    let name = &args.name;
    let kebab = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.ends_with('-');
    if !kebab {
        return Err(format!(
            "plugin name `{name}` must be kebab-case: lower-case letters, digits and `-`, starting with a letter"
        ));
    }
    let dir = args.dir.join(name);
    if dir.exists() {
        return Err(format!("{} already exists", dir.display()));
    }
    let sdk = sdk_dependency(args.sdk.as_deref())?;
    let files = [
        ("Cargo.toml", cargo_toml(name, &sdk)),
        ("src/lib.rs", LIB_RS.replace("{name}", name)),
        (".gitignore", "/target\n".to_owned()),
        ("README.md", readme(name)),
        ("cases/unlabelled/manifest.yaml", CASE_UNLABELLED.to_owned()),
        (
            "cases/unlabelled/expected.yaml",
            EXPECTED_UNLABELLED.replace("{name}", name),
        ),
        ("cases/labelled/manifest.yaml", CASE_LABELLED.to_owned()),
        ("cases/labelled/expected.yaml", EXPECTED_LABELLED.to_owned()),
        ("cases/other-label/manifest.yaml", CASE_LABELLED.to_owned()),
        (
            "cases/other-label/expected.yaml",
            EXPECTED_OTHER_LABEL.replace("{name}", name),
        ),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
        }
        std::fs::write(&path, text)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    }
    Ok(dir)
}

/// What to run next, printed after the files are written.
pub fn next_steps(args: &PluginNewArgs, dir: &Path) -> String {
    let wasm = wasm_file(&args.name);
    format!(
        "created {dir}\n\nnext:\n  cd {dir}\n  cargo build --release --target wasm32-wasip2\n  kube-devops plugin test {wasm} --cases cases\n  kube-devops analyze -f YOUR-MANIFESTS --plugin {wasm}\n",
        dir = dir.display()
    )
}

fn wasm_file(name: &str) -> String {
    format!(
        "target/wasm32-wasip2/release/{}.wasm",
        name.replace('-', "_")
    )
}

/// The SDK as a Cargo dependency: `--sdk PATH`, else this checkout's `sdk/` when kube-devops
/// runs from one, else the SDK of this release from the repository.
fn sdk_dependency(sdk: Option<&Path>) -> Result<String, String> {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    let path = match sdk {
        Some(path) => Some(path.to_owned()),
        None => checkout.join("Cargo.toml").exists().then_some(checkout),
    };
    match path {
        Some(path) => {
            let path = path
                .canonicalize()
                .map_err(|error| format!("SDK at {}: {error}", path.display()))?;
            Ok(format!("{{ path = {:?} }}", path.display().to_string()))
        }
        None => Ok(format!(
            "{{ git = \"https://github.com/kube-devops/kube-devops\", tag = \"v{}\" }}",
            env!("CARGO_PKG_VERSION")
        )),
    }
}

fn cargo_toml(name: &str, sdk: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# A WebAssembly component: `cargo build --release --target wasm32-wasip2`.
crate-type = ["cdylib"]

[dependencies]
kube-devops-sdk = {sdk}
serde = {{ version = "1", features = ["derive"] }}

[profile.release]
opt-level = "s"
strip = true

# A project of its own, even when created inside another workspace.
[workspace]
"#
    )
}

fn readme(name: &str) -> String {
    let wasm = wasm_file(name);
    format!(
        r#"# {name}

A kube-devops analyzer plugin: a WebAssembly component that kube-devops runs sandboxed, once
per pod, in `analyze`, the operator and the admission webhook.

```sh
rustup target add wasm32-wasip2                       # once
cargo build --release --target wasm32-wasip2
kube-devops plugin test {wasm} --cases cases          # the golden cases
kube-devops plugin inspect {wasm}                     # checks, imports, digest
kube-devops analyze -f YOUR-MANIFESTS --plugin {wasm}
```

Each directory under `cases/` is one case: `manifest.yaml` (pods or workloads) and
`expected.yaml`, the settings to use and exactly the findings the plugin must report. Add a case
for every rule you write. See docs/plugins.md in kube-devops for the SDK, settings, limits and
how a DevOpsPolicy enables a custom plugin by digest.
"#
    )
}

const LIB_RS: &str = r#"//! {name}: flags pods that lack a label (`team` unless the `label` setting says otherwise).

use kube_devops_sdk::prelude::*;
use serde::Deserialize;

const CHECK: &str = "{name}";

/// Settings, from `plugins.{name}.settings` in the config file or a DevOpsPolicy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    /// The label every pod must carry.
    label: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            label: "team".to_owned(),
        }
    }
}

struct RequireLabel {
    label: String,
}

impl Plugin for RequireLabel {
    type Settings = Settings;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "{name}",
            env!("CARGO_PKG_VERSION"),
            "Flags pods without a required label",
        )
        .check(CheckInfo::spec(
            CHECK,
            "Pod has no owner label",
            Severity::Medium,
            3,
        ))
    }

    fn new(settings: Settings) -> Result<Self, String> {
        if settings.label.is_empty() {
            return Err("label: must not be empty".to_owned());
        }
        Ok(RequireLabel {
            label: settings.label,
        })
    }

    fn analyze(&self, pod: &Pod) -> Vec<Finding> {
        match pod.label(&self.label) {
            Some(value) if !value.is_empty() => Vec::new(),
            _ => vec![Finding::new(
                CHECK,
                format!("no `{}` label: add one naming the owner", self.label),
            )],
        }
    }
}

kube_devops_sdk::export_plugin!(RequireLabel);
"#;

const CASE_UNLABELLED: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: nginx:1.27}]
"#;

const EXPECTED_UNLABELLED: &str = r#"# The findings the plugin must report for manifest.yaml: no more, no fewer.
findings:
  - {check: {name}, severity: medium, pod: web}
"#;

const CASE_LABELLED: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {team: payments}}
spec:
  containers: [{name: app, image: nginx:1.27}]
"#;

const EXPECTED_LABELLED: &str = "findings: []\n";

const EXPECTED_OTHER_LABEL: &str = r#"# Settings for this case: the plugin's `configure` receives them as JSON.
settings: {label: cost-center}
findings:
  - {check: {name}, severity: medium, pod: api}
"#;
