//! `plugin new`: the files of a new plugin project. It builds for `wasm32-wasip2` and passes
//! its own golden cases (`plugin test`) as generated; the author edits from there.

use std::path::{Path, PathBuf};

use crate::cli::{PluginLanguage, PluginNewArgs};

/// The contract, copied into Python and JavaScript projects (their tools read it at build time).
const WIT: &str = include_str!("../../../../wit/analyzer.wit");

/// Why a project could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "plugin name `{0}` must be kebab-case: lower-case letters, digits and `-`, starting with a letter"
    )]
    Name(String),
    #[error("{} already exists", .0.display())]
    Exists(PathBuf),
    #[error("cannot {doing} {}", path.display())]
    Io {
        doing: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(doing: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ScaffoldError {
    let path = path.to_owned();
    move |source| ScaffoldError::Io {
        doing,
        path,
        source,
    }
}

/// Writes the project and returns its directory. Refuses to overwrite anything.
pub fn create(args: &PluginNewArgs) -> Result<PathBuf, ScaffoldError> {
    let name = &args.name;
    let kebab = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.ends_with('-');
    if !kebab {
        return Err(ScaffoldError::Name(name.clone()));
    }
    let dir = args.dir.join(name);
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir));
    }
    let mut files: Vec<(&str, String)> = match args.lang {
        PluginLanguage::Rust => {
            let sdk = sdk_dependency(args.sdk.as_deref())?;
            vec![
                ("Cargo.toml", cargo_toml(name, &sdk)),
                ("src/lib.rs", LIB_RS.replace("{name}", name)),
                (".gitignore", "/target\n".to_owned()),
            ]
        }
        PluginLanguage::Python => vec![
            ("app.py", APP_PY.replace("{name}", name)),
            ("requirements.txt", "componentize-py==0.25.1\n".to_owned()),
            ("build.sh", BUILD_SH.replace("{name}", name)),
            ("wit/analyzer.wit", WIT.to_owned()),
            (".gitignore", "*.wasm\n__pycache__/\n".to_owned()),
        ],
        PluginLanguage::Js => vec![
            ("plugin.js", PLUGIN_JS.replace("{name}", name)),
            ("package.json", PACKAGE_JSON.replace("{name}", name)),
            ("wit/analyzer.wit", WIT.to_owned()),
            (".gitignore", "node_modules/\n*.wasm\n".to_owned()),
        ],
    };
    files.extend([
        ("README.md", readme(name, args.lang)),
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
    ]);
    for (path, text) in files {
        let path = dir.join(path);
        let executable = path.extension().is_some_and(|e| e == "sh");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io("create", parent))?;
        }
        std::fs::write(&path, text).map_err(io("write", &path))?;
        #[cfg(unix)]
        if executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(io("make executable", &path))?;
        }
    }
    Ok(dir)
}

/// What to run next, printed after the files are written.
pub fn next_steps(args: &PluginNewArgs, dir: &Path) -> String {
    let wasm = wasm_file(&args.name, args.lang);
    format!(
        "created {dir}\n\nnext:\n  cd {dir}\n{build}  kube-devops plugin test {wasm} --cases cases\n  kube-devops analyze -f YOUR-MANIFESTS --plugin {wasm}\n",
        dir = dir.display(),
        build = build_commands(args.lang)
    )
}

/// The commands that build a project of `lang`, indented, one per line.
fn build_commands(lang: PluginLanguage) -> &'static str {
    match lang {
        PluginLanguage::Rust => "  cargo build --release --target wasm32-wasip2\n",
        PluginLanguage::Python => {
            "  pip install -r requirements.txt    # componentize-py\n  ./build.sh\n"
        }
        PluginLanguage::Js => {
            "  npm install                        # componentize-js\n  npm run build\n"
        }
    }
}

fn wasm_file(name: &str, lang: PluginLanguage) -> String {
    match lang {
        PluginLanguage::Rust => format!(
            "target/wasm32-wasip2/release/{}.wasm",
            name.replace('-', "_")
        ),
        PluginLanguage::Python | PluginLanguage::Js => format!("{name}.wasm"),
    }
}

/// The SDK as a Cargo dependency: `--sdk PATH`, else this checkout's `sdk/` when kube-devops
/// runs from one, else the SDK of this release from the repository.
fn sdk_dependency(sdk: Option<&Path>) -> Result<String, ScaffoldError> {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    let path = match sdk {
        Some(path) => Some(path.to_owned()),
        None => checkout.join("Cargo.toml").exists().then_some(checkout),
    };
    match path {
        Some(path) => {
            let path = path.canonicalize().map_err(io("find the SDK at", &path))?;
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

fn readme(name: &str, lang: PluginLanguage) -> String {
    let wasm = wasm_file(name, lang);
    let setup = match lang {
        PluginLanguage::Rust => "rustup target add wasm32-wasip2                       # once\n",
        _ => "",
    };
    let build: String = build_commands(lang)
        .lines()
        .map(|line| format!("{}\n", line.trim_start()))
        .collect();
    let pod = match lang {
        PluginLanguage::Rust => {
            "`analyze` gets a `&Pod` that reads each part of the pod from the host the first time it\n\
             is asked for it (`pod.metadata()`, `pod.label(..)`, `pod.spec()`, `pod.containers()`,\n\
             `pod.all_containers()`, `pod.every_container()`, `pod.volumes()`, `pod.status()`), so\n\
             a check pays only for what it reads; `pod.json()`, the whole object as JSON, is the\n\
             costliest."
        }
        PluginLanguage::Python => {
            "`analyze` gets the pod as a `wit_world.imports.pod.Pod`: each accessor\n\
             (`pod.metadata()`, `pod.spec()`, `pod.containers()`, `pod.init_containers()`,\n\
             `pod.volumes()`, `pod.status()`, ...) copies one part of the pod into the component\n\
             when called, so call only the ones the check needs, once each; `pod.to_json()`, the\n\
             whole object as JSON, is the costliest."
        }
        PluginLanguage::Js => {
            "`analyze` gets the pod as an object with one method per part (`pod.metadata()`,\n\
             `pod.spec()`, `pod.containers()`, `pod.initContainers()`, `pod.volumes()`,\n\
             `pod.status()`, ...): each copies its part of the pod into the component when called,\n\
             so call only the ones the check needs, once each, and do not keep the object after\n\
             `analyze` returns; `pod.toJson()`, the whole object as JSON, is the costliest."
        }
    };
    format!(
        r#"# {name}

A kube-devops analyzer plugin: a WebAssembly component of contract 0.2.2
(`kube-devops:analyzer@0.2.2`) that kube-devops runs sandboxed, once per pod, in `analyze`, the
operator and the admission webhook.

```sh
{setup}{build}kube-devops plugin test {wasm} --cases cases          # the golden cases
kube-devops plugin inspect {wasm}                     # checks, imports, digest
kube-devops analyze -f YOUR-MANIFESTS --plugin {wasm}
```

{pod}

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
        // `pod` reads each part from the host the first time it is asked for it: this check
        // reads only the metadata (`pod.containers()`, `pod.spec()`, `pod.status()`, ... are
        // there when a check needs them).
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

const APP_PY: &str = r#""""{name}: flags pods that lack a label (`team` unless the `label` setting says otherwise).

build.sh makes this module a WebAssembly component of the `analyzer` world (wit/analyzer.wit,
contract 0.2.2): `metadata`, `configure` and `analyze` are its exports. WIT records are
dataclasses of `wit_world.imports.types`, enums are Python enums, an absent `option` is None, and
`result<_, string>` is a normal return for ok and `raise Err(...)` for err. The pod `analyze`
receives is a `wit_world.imports.pod.Pod`: each of its accessors (`pod.metadata()`,
`pod.spec()`, `pod.containers()`, `pod.init_containers()`, `pod.ephemeral_containers()`,
`pod.volumes()`, `pod.status()`, `pod.to_json()`) copies one part of the pod into the component
when called, so call only the ones the check needs, once each. Import every module at the top:
the component has no filesystem to import from later.
"""
import json
from typing import List

import wit_world
from wit_world.imports import types
from wit_world.imports.pod import Pod
from componentize_py_types import Err

CHECK = "{name}"

# The settings of this instance; `configure` runs once per instance, before any `analyze`.
_label = "team"


class WitWorld(wit_world.WitWorld):
    def metadata(self) -> types.PluginMetadata:
        return types.PluginMetadata(
            name="{name}",
            version="0.1.0",
            description="Flags pods without a required label",
            checks=[
                types.CheckInfo(
                    id=CHECK,
                    description="Pod has no owner label",
                    default_severity=types.Severity.MEDIUM,
                    default_weight=3,
                    kind=types.CheckKind.SPEC,
                )
            ],
        )

    def configure(self, settings: str) -> None:
        global _label
        try:
            parsed = json.loads(settings or "{}")
        except ValueError as error:
            raise Err(f"settings: not JSON: {error}")
        if not isinstance(parsed, dict):
            raise Err("settings: expected an object")
        unknown = [key for key in parsed if key != "label"]
        if unknown:
            raise Err(f"settings.{unknown[0]}: unknown setting (known: label)")
        label = parsed.get("label", "team")
        if not isinstance(label, str) or not label:
            raise Err("label: must be a non-empty string")
        _label = label

    def analyze(self, pod: Pod) -> List[types.Finding]:
        # Only the metadata is read: the containers, volumes and status are never copied in.
        labels = pod.metadata().labels
        if any(kv.key == _label and kv.value for kv in labels):
            return []
        return [
            types.Finding(
                check=CHECK,
                container=None,
                message=f"no `{_label}` label: add one naming the owner",
                magnitude=1,
                severity=None,
            )
        ]
"#;

const BUILD_SH: &str = r#"#!/usr/bin/env bash
# Builds {name}.wasm from app.py. `--stub-wasi` stubs every WASI import inside the component:
# kube-devops refuses plugins that import files, sockets or the wall clock.
set -euo pipefail
cd "$(dirname "$0")"
"${COMPONENTIZE_PY:-componentize-py}" -d wit -w analyzer componentize --stub-wasi app -o {name}.wasm
"#;

const PLUGIN_JS: &str = r#"// {name}: flags pods that lack a label (`team` unless the `label` setting says otherwise).
//
// `npm run build` makes this module a WebAssembly component of the `analyzer` world
// (wit/analyzer.wit, contract 0.2.2). WIT names are camelCase here, enums are strings, an absent
// `option` is `undefined`, and `result<_, string>` is a normal return for ok and a thrown string
// for err. The pod `analyze` receives is the borrowed `pod` resource: an object whose methods
// (`pod.metadata()`, `pod.spec()`, `pod.containers()`, `pod.initContainers()`,
// `pod.ephemeralContainers()`, `pod.volumes()`, `pod.status()`, `pod.toJson()`) each copy one
// part of the pod into the component when called, so call only the ones the check needs, once
// each, and do not keep the object after `analyze` returns.

const CHECK = '{name}';

// The settings of this instance; `configure` runs once per instance, before any `analyze`.
let label = 'team';

export function metadata() {
  return {
    name: '{name}',
    version: '0.1.0',
    description: 'Flags pods without a required label',
    checks: [
      { id: CHECK, description: 'Pod has no owner label', defaultSeverity: 'medium', defaultWeight: 3, kind: 'spec' },
    ],
  };
}

export function configure(settings) {
  let parsed;
  try {
    parsed = JSON.parse(settings || '{}');
  } catch (error) {
    throw `settings: not JSON: ${error.message}`;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw 'settings: expected an object';
  }
  const unknown = Object.keys(parsed).filter((key) => key !== 'label');
  if (unknown.length > 0) {
    throw `settings.${unknown[0]}: unknown setting (known: label)`;
  }
  const value = parsed.label ?? 'team';
  if (typeof value !== 'string' || value === '') {
    throw 'label: must be a non-empty string';
  }
  label = value;
}

export function analyze(pod) {
  // Only the metadata is read: the containers, volumes and status are never copied in.
  const { labels } = pod.metadata();
  if (labels.some((kv) => kv.key === label && kv.value !== '')) {
    return [];
  }
  return [{ check: CHECK, container: undefined, message: `no \`${label}\` label: add one naming the owner`, magnitude: 1, severity: undefined }];
}
"#;

const PACKAGE_JSON: &str = r#"{
  "name": "{name}",
  "version": "0.1.0",
  "private": true,
  "type": "module",
  "scripts": {
    "build": "componentize-js plugin.js --wit wit/analyzer.wit --world-name analyzer --disable stdio random clocks http fetch-event -o {name}.wasm"
  },
  "devDependencies": {
    "@bytecodealliance/componentize-js": "0.23.0",
    "@bytecodealliance/preview2-shim": "0.25.0"
  }
}
"#;
