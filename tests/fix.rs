//! `kube-devops fix`: the fixes of the enabled checks written into manifests in place. Golden
//! files pin the bytes (comments, anchors, flow style, other documents untouched), `git apply`
//! takes the diff, and the fixed manifests re-analysed have no finding of a fixable check left.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const FIXTURES: &str = "tests/fixtures/fix";

/// The checks `config.yaml` enables, each with a fix.
const FIXABLE: [&str; 9] = [
    "missing-liveness-probe",
    "missing-readiness-probe",
    "cpu-requests-missing",
    "memory-requests-missing",
    "cpu-limits-missing",
    "memory-limits-missing",
    "allow-privilege-escalation",
    "capabilities-restricted",
    "seccomp-profile-restricted",
];

/// A scratch directory holding copies of the fixtures.
fn scratch() -> tempfile::TempDir {
    let dir = support::temp_dir();
    for name in ["manifests.yaml", "pod.json", "config.yaml"] {
        std::fs::copy(
            support::workspace().join(FIXTURES).join(name),
            dir.path().join(name),
        )
        .expect("copy fixture");
    }
    dir
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).expect("read")
}

fn golden(name: &str) -> String {
    std::fs::read_to_string(support::workspace().join(FIXTURES).join(name)).expect("golden")
}

/// Findings of `checks` that `analyze` still reports on `file`.
fn remaining(dir: &Path, file: &str, checks: &[&str]) -> Vec<Value> {
    let run = support::run_in(
        dir,
        &[
            "analyze",
            "-f",
            file,
            "--config",
            "config.yaml",
            "-o",
            "json",
        ],
    );
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    run.json()["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| checks.contains(&finding["check"].as_str().unwrap_or_default()))
        .cloned()
        .collect()
}

#[test]
fn fix_writes_the_golden_file_and_leaves_every_other_byte_alone() {
    let dir = scratch();
    let before = remaining(dir.path(), "manifests.yaml", &FIXABLE);
    assert!(
        before.len() >= 10,
        "the fixture has fixable findings: {before:#?}"
    );

    let run = support::run_in(
        dir.path(),
        &[
            "fix",
            "-f",
            "manifests.yaml",
            "--config",
            "config.yaml",
            "--write",
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        read(dir.path(), "manifests.yaml"),
        golden("manifests.fixed.yaml")
    );
    assert!(run.stderr.contains("applied"), "{run:?}");

    let after = remaining(dir.path(), "manifests.yaml", &FIXABLE);
    assert!(after.is_empty(), "fixable findings left: {after:#?}");
    // A second run finds nothing to do.
    let again = support::run_in(
        dir.path(),
        &[
            "fix",
            "-f",
            "manifests.yaml",
            "--config",
            "config.yaml",
            "--check",
        ],
    );
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.is_empty(), "{again:?}");
}

#[test]
fn the_default_is_a_diff_git_applies_and_check_fails_until_it_is_applied() {
    let dir = scratch();
    let original = read(dir.path(), "manifests.yaml");
    let run = support::run_in(
        dir.path(),
        &["fix", "-f", "manifests.yaml", "--config", "config.yaml"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .starts_with("--- a/manifests.yaml\n+++ b/manifests.yaml\n"),
        "{run:?}"
    );
    assert_eq!(
        read(dir.path(), "manifests.yaml"),
        original,
        "a diff changes nothing"
    );

    let check = support::run_in(
        dir.path(),
        &[
            "fix",
            "-f",
            "manifests.yaml",
            "--config",
            "config.yaml",
            "--check",
        ],
    );
    assert_eq!(check.code, 1, "{check:?}");
    assert_eq!(check.stdout, run.stdout, "--check prints the same diff");

    std::fs::write(dir.path().join("fix.diff"), &run.stdout).expect("write diff");
    let applied = Command::new("git")
        .current_dir(dir.path())
        .args(["apply", "--unidiff-zero", "fix.diff"])
        .output()
        .expect("run git apply");
    assert!(
        applied.status.success(),
        "git apply: {}",
        String::from_utf8_lossy(&applied.stderr)
    );
    assert_eq!(
        read(dir.path(), "manifests.yaml"),
        golden("manifests.fixed.yaml")
    );
}

#[test]
fn a_json_manifest_stays_json() {
    let dir = scratch();
    let run = support::run_in(
        dir.path(),
        &[
            "fix",
            "-f",
            "pod.json",
            "--config",
            "config.yaml",
            "--write",
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let fixed: Value = serde_json::from_str(&read(dir.path(), "pod.json")).expect("still JSON");
    let container = &fixed["spec"]["containers"][0];
    assert_eq!(
        container["readinessProbe"],
        serde_json::json!({"tcpSocket": {"port": 9000}, "initialDelaySeconds": 5, "periodSeconds": 10})
    );
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(
        fixed["spec"]["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert!(remaining(dir.path(), "pod.json", &FIXABLE).is_empty());
}

/// Without a config, only the seed's checks run: the probes get the seed's default probe, and
/// `latest-tag` (detection only) is left to a human.
#[test]
fn with_the_seed_defaults_only_probes_are_fixed() {
    let dir = support::temp_dir();
    let path = support::write(
        dir.path(),
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: web\n    image: nginx:latest\n",
    );
    let run = support::run(&["fix", "-f", &path, "--write"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: web\n    image: nginx:latest\n    livenessProbe:\n      initialDelaySeconds: 5\n      periodSeconds: 10\n      tcpSocket:\n        port: 8080\n    readinessProbe:\n      initialDelaySeconds: 5\n      periodSeconds: 10\n      tcpSocket:\n        port: 8080\n"
    );
    assert!(run.stderr.contains("1 finding(s) have no fix"), "{run:?}");
}

/// A custom plugin's fix (the example `no-privileged`, built with the SDK) is applied like a
/// built-in's; its hostPath finding has no fix and stays.
#[test]
fn a_custom_plugins_fix_is_applied() {
    let dir = support::temp_dir();
    let original = "kind: Pod\nmetadata: {name: agent}\nspec:\n  containers:\n  - name: agent\n    image: agent:1.0\n    livenessProbe: {exec: {command: [check]}}\n    readinessProbe: {exec: {command: [check]}}\n    securityContext:\n      privileged: true   # needs the node\n  volumes:\n  - name: root\n    hostPath: {path: /}\n";
    let path = support::write(dir.path(), "pod.yaml", original);
    let plugin = support::plugin_wasm("no-privileged");
    let run = support::run(&["fix", "-f", &path, "--plugin", &plugin, "--write"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "kind: Pod\nmetadata: {name: agent}\nspec:\n  containers:\n  - name: agent\n    image: agent:1.0\n    livenessProbe: {exec: {command: [check]}}\n    readinessProbe: {exec: {command: [check]}}\n    securityContext:\n      privileged: false   # needs the node\n  volumes:\n  - name: root\n    hostPath: {path: /}\n",
    );
    assert!(run.stderr.contains("1 finding(s) have no fix"), "{run:?}");

    // The same plugin built against contract 0.2.0, which has no `remediation`, still finds
    // both and proposes nothing.
    let v0_2_0 = support::workspace().join("tests/fixtures/contract-0.2.0/no-privileged.wasm");
    let path = support::write(dir.path(), "again.yaml", original);
    let old = support::run(&["fix", "-f", &path, "--plugin", v0_2_0.to_str().unwrap()]);
    assert_eq!(old.code, 0, "{old:?}");
    assert!(old.stdout.is_empty(), "{old:?}");
    assert!(old.stderr.contains("2 finding(s) have no fix"), "{old:?}");
}

/// A document that is no valid object is named with its line and left as it is; the file's other
/// documents and the other files are still fixed; exit 3.
#[test]
fn a_bad_document_is_named_and_the_rest_is_fixed() {
    let dir = support::temp_dir();
    let text = "kind: Deployment\nmetadata: {name: broken}\nspec: {}\n---\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - {name: web, image: nginx:1.27}\n";
    let path = support::write(dir.path(), "two.yaml", text);
    let other = support::write(
        dir.path(),
        "other.yaml",
        "kind: Pod\nmetadata: {name: api}\nspec:\n  containers:\n  - {name: api, image: api:1}\n",
    );
    let run = support::run(&["fix", "-f", &path, "-f", &other, "--write"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.contains("two.yaml:1") && run.stderr.contains("spec.template"),
        "{run:?}"
    );
    let fixed = std::fs::read_to_string(&path).unwrap();
    assert!(
        fixed.starts_with("kind: Deployment\nmetadata: {name: broken}\nspec: {}\n---\n"),
        "{fixed}"
    );
    assert!(
        fixed.contains("  - {name: web, image: nginx:1.27, livenessProbe:"),
        "{fixed}"
    );
    assert!(
        std::fs::read_to_string(&other)
            .unwrap()
            .contains("readinessProbe")
    );
}

/// A plugin's fix is checked at the boundary: one that reaches outside the pod's spec, labels
/// and annotations is refused whole with a diagnostic naming the path, and one over the size
/// bound is dropped; neither changes the file, and the run goes on.
#[test]
fn a_hostile_plugins_fixes_are_refused_and_change_nothing() {
    let dir = support::temp_dir();
    let original = "kind: Pod\nmetadata: {name: victim}\nspec:\n  containers:\n  - name: app\n    image: app:1\n    livenessProbe: {exec: {command: [ok]}}\n    readinessProbe: {exec: {command: [ok]}}\n";
    let plugin = support::plugin_wasm("misbehave");
    for (mode, said) in [
        (
            "fix-outside",
            "`/metadata/name` is outside what a fix may change",
        ),
        ("fix-flood", "over the limit of 1048576 bytes"),
    ] {
        let path = support::write(dir.path(), &format!("{mode}.yaml"), original);
        let config = support::write(
            dir.path(),
            &format!("{mode}.config.yaml"),
            &format!("plugins:\n  misbehave:\n    settings: {{mode: {mode}}}\n"),
        );
        let run = support::run(&[
            "fix", "-f", &path, "--plugin", &plugin, "--config", &config, "--write",
        ]);
        assert_eq!(run.code, 0, "{mode}: {run:?}");
        assert!(run.stderr.contains(said), "{mode}: {run:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), original, "{mode}");
    }
}
