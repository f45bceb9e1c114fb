//! Conformance of the built-in `pod-security` plugin with PodSecurity admission: every case of
//! the corpus (`NNNN/pod.yaml`, and in `NNNN/expected.json` the PSA check ids a real API server
//! reported at `baseline` and at `restricted`) goes through the real Wasm path (the embedded
//! component, wasmtime, the WIT contract, the config file), and the check ids found must be
//! exactly those the server reported, in kebab-case.
//!
//! The corpus is checked in (`tests/pss-conformance`, a copy of the cases labelled by a
//! Kubernetes 1.36 API server; its README says how they were made); set
//! `KUBE_DEVOPS_PSS_CORPUS` to run another directory of the same shape.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kube_devops_engine::analysis::analyze_report;
use kube_devops_engine::analysis::report::DiagnosticKind;
use kube_devops_engine::analysis::{Catalog, Config, Filter, PluginPaths};
use kube_devops_engine::manifest::{self, Manifests};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/pss-conformance");
const LEVELS: [&str; 2] = ["baseline", "restricted"];
const PLUGIN: &str = "pod-security";

/// A PSA check id (`allowPrivilegeEscalation`, `seccompProfile_baseline`) in kebab-case, as the
/// plugin names its checks (`allow-privilege-escalation`, `seccomp-profile-baseline`). The
/// plugin has its own copy; [`conformance`] checks that every id converted here is one the
/// plugin declares.
fn kebab(psa_id: &str) -> String {
    let chars: Vec<char> = psa_id.chars().collect();
    let mut id = String::new();
    for (index, &c) in chars.iter().enumerate() {
        if c == '_' {
            id.push('-');
            continue;
        }
        if c.is_uppercase() && index > 0 {
            let previous = chars[index - 1];
            let next_is_lower = chars.get(index + 1).is_some_and(|n| n.is_lowercase());
            if previous.is_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_uppercase() && next_is_lower)
            {
                id.push('-');
            }
        }
        id.extend(c.to_lowercase());
    }
    id
}

/// One corpus case: its directory name, the pod, and the ids expected per level.
struct Case {
    name: String,
    pod: String,
    expected: BTreeMap<&'static str, BTreeSet<String>>,
}

/// The corpus directory: the checked-in one, or `KUBE_DEVOPS_PSS_CORPUS`.
fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("KUBE_DEVOPS_PSS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CORPUS));
    assert!(
        dir.join("checks.json").is_file(),
        "the PSS conformance corpus is not at {} (no checks.json); set KUBE_DEVOPS_PSS_CORPUS",
        dir.display()
    );
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Every `NNNN/` directory holding a `pod.yaml` and an `expected.json`, in name order.
fn cases(dir: &Path) -> Vec<Case> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("pod.yaml").is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let case_dir = dir.join(&name);
            let expected: serde_json::Value =
                serde_json::from_str(&read(&case_dir.join("expected.json")))
                    .unwrap_or_else(|error| panic!("{name}/expected.json: {error}"));
            let expected = LEVELS
                .into_iter()
                .map(|level| {
                    let ids = expected[level]
                        .as_array()
                        .unwrap_or_else(|| panic!("{name}/expected.json: no `{level}` list"))
                        .iter()
                        .map(|id| kebab(id.as_str().expect("check ids are strings")))
                        .collect();
                    (level, ids)
                })
                .collect();
            Case {
                pod: read(&case_dir.join("pod.yaml")),
                name,
                expected,
            }
        })
        .collect()
}

/// The config enabling only `pod-security`, at `level`.
fn config(level: &str) -> Config {
    let yaml = format!(
        "plugins:\n  {PLUGIN}:\n    enabled: true\n    settings: {{level: {level}}}\n  \
         latest-tag: {{enabled: false}}\n  probes: {{enabled: false}}\n  \
         restarts: {{enabled: false}}\n  pending: {{enabled: false}}\n"
    );
    Config::parse(&yaml).expect("valid config")
}

/// Analyses every case with one catalog at `level`; the sorted distinct check ids found, by case.
fn analyze_level(
    runtime: &Arc<kube_devops_engine::wasm::Runtime>,
    level: &str,
    cases: &[Case],
) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let catalog =
        Catalog::load(runtime, &config(level), &PluginPaths::default()).expect("plugins load");
    let names: Vec<&str> = catalog.plugins.iter().map(|p| p.name()).collect();
    assert_eq!(names, [PLUGIN], "only {PLUGIN} runs");
    let declared: BTreeSet<String> = catalog.plugins[0]
        .checks
        .iter()
        .map(|rule| rule.id.to_string())
        .collect();
    let mut manifests = Manifests::default();
    for case in cases {
        let file = format!("{}/pod.yaml", case.name);
        manifest::split(file.into(), case.pod.clone(), &mut manifests);
    }
    assert!(manifests.errors.is_empty(), "{:?}", manifests.errors);
    let filter = Filter {
        include_system: true,
        ..Filter::default()
    };
    let report = analyze_report(&catalog, &manifests.sources, &filter);
    let failures: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| matches!(d.kind, DiagnosticKind::Plugin | DiagnosticKind::Input))
        .collect();
    assert!(failures.is_empty(), "{level}: {failures:?}");
    assert_eq!(
        report.summary.pods_analyzed,
        cases.len() as u64,
        "{level}: every case is one pod"
    );
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for finding in &report.findings {
        assert_eq!(&*finding.plugin, PLUGIN);
        let source = finding.source.as_ref().expect("file input has provenance");
        let case = source
            .file
            .strip_suffix("/pod.yaml")
            .expect("named after its case");
        found
            .entry(case.to_owned())
            .or_default()
            .insert(finding.check.to_string());
    }
    (found, declared)
}

#[test]
fn conformance() {
    let dir = corpus_dir();
    let cases = cases(&dir);
    assert!(!cases.is_empty(), "no cases under {}", dir.display());
    let runtime = kube_devops_builtins::runtime(None).expect("runtime");
    let mut mismatches = Vec::new();
    let mut passed = Vec::new();
    for level in LEVELS {
        let (found, declared) = analyze_level(&runtime, level, &cases);
        let mut ok = 0;
        for case in &cases {
            let expected = &case.expected[level];
            for id in expected {
                assert!(
                    declared.contains(id),
                    "{}: `{id}` is not a check of {PLUGIN} ({declared:?})",
                    case.name
                );
            }
            let got = found.get(&case.name).cloned().unwrap_or_default();
            if &got == expected {
                ok += 1;
            } else {
                mismatches.push(format!(
                    "{} at {level}: expected {expected:?}, got {got:?}",
                    case.name
                ));
            }
        }
        passed.push(format!("{level} {ok}/{}", cases.len()));
    }
    eprintln!("PSS conformance: {}", passed.join(", "));
    assert!(
        mismatches.is_empty(),
        "{} mismatch(es) ({}):\n{}",
        mismatches.len(),
        passed.join(", "),
        mismatches.join("\n")
    );
}

#[test]
fn kebab_case_of_the_corpus_ids() {
    assert_eq!(
        kebab("allowPrivilegeEscalation"),
        "allow-privilege-escalation"
    );
    assert_eq!(kebab("capabilities_restricted"), "capabilities-restricted");
    assert_eq!(kebab("seccompProfile_baseline"), "seccomp-profile-baseline");
    assert_eq!(kebab("procMount_restricted"), "proc-mount-restricted");
    assert_eq!(kebab("appArmorProfile"), "app-armor-profile");
    assert_eq!(kebab("windowsHostProcess"), "windows-host-process");
    assert_eq!(kebab("hostPID"), "host-pid");
}

/// Rules the corpus cannot show, through the Wasm path: an ephemeral container counts (none can
/// be set at creation, so the corpus has none), a Windows pod is exempt from three restricted
/// checks, and the plugin stays off unless the config file enables it.
#[test]
fn ephemeral_containers_windows_pods_and_opt_in() {
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "debugged", "namespace": "kube-system"},
        "spec": {
            "os": {"name": "windows"},
            "securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "app", "image": "app:1"}],
            "ephemeralContainers": [{"name": "debug", "image": "busybox:1",
                "securityContext": {"privileged": true, "runAsUser": 0}}]
        }
    })
    .to_string();
    let runtime = kube_devops_builtins::runtime(None).expect("runtime");
    let findings = |config: &Config| {
        let catalog = Catalog::load(&runtime, config, &PluginPaths::default()).expect("load");
        let mut manifests = Manifests::default();
        manifest::split("debugged.json".into(), pod.clone(), &mut manifests);
        let filter = Filter {
            include_system: true,
            ..Filter::default()
        };
        let mut rows: Vec<(String, Option<String>)> =
            analyze_report(&catalog, &manifests.sources, &filter)
                .findings
                .into_iter()
                .filter(|finding| &*finding.plugin == PLUGIN)
                .map(|finding| (finding.check.to_string(), finding.container))
                .collect();
        rows.sort();
        rows
    };
    let debug = Some("debug".to_owned());
    assert_eq!(
        findings(&config("restricted")),
        [
            ("privileged".to_owned(), debug.clone()),
            ("run-as-user".to_owned(), debug.clone()),
        ]
    );
    assert_eq!(
        findings(&config("baseline")),
        [("privileged".to_owned(), debug)]
    );
    assert!(
        findings(&Config::default()).is_empty(),
        "{PLUGIN} runs only when enabled"
    );
}
