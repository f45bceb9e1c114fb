//! Custom plugins loaded with `--plugin`: one built from the SDK that uses settings and the
//! on-demand pod JSON, and one that misbehaves on purpose. A misbehaving plugin must become a
//! diagnostic naming plugin and pod, while every other finding still counts.

mod support;

use support::{plugin_wasm, run, temp_dir, write};

/// Three pods; the misbehaving plugin targets `victim` only (its `onlyPod` setting).
const PODS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: before, namespace: shop}
spec:
  containers: [{name: app, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata: {name: victim, namespace: shop}
spec:
  containers: [{name: app, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata: {name: after, namespace: shop}
spec:
  containers: [{name: app, image: nginx}]
"#;

/// Runs `kube-devops analyze` on `pods` (YAML) with the `misbehave` plugin configured by
/// `config` (YAML), asking for a JSON report.
fn analyze_with_misbehave(pods: &str, config: &str) -> support::Run {
    let dir = temp_dir();
    let pods = write(dir.path(), "pods.yaml", pods);
    let config = write(dir.path(), "config.yaml", config);
    let wasm = plugin_wasm("misbehave");
    run(&[
        "analyze", "-f", &pods, "--plugin", &wasm, "--config", &config, "-o", "json",
    ])
}

/// Runs the three pods with the `misbehave` plugin in `mode`, aimed at `victim`; returns the run
/// and its report.
fn misbehave(mode: &str) -> (support::Run, serde_json::Value) {
    let config = format!(
        "plugins:\n  misbehave:\n    settings: {{mode: {mode}, onlyPod: victim}}\n    limits: {{timeoutMs: 200, memoryMiB: 16}}\n"
    );
    let result = analyze_with_misbehave(PODS, &config);
    let report = result.json();
    (result, report)
}

/// The built-in findings are intact: three pods, each with an untagged image and no probes.
fn assert_builtins_intact(report: &serde_json::Value) {
    let summary = &report["summary"];
    assert_eq!(summary["podsAnalyzed"], 3, "{summary}");
    assert_eq!(summary["latestTag"], 3, "{summary}");
    assert_eq!(summary["missingLiveness"], 3, "{summary}");
}

/// A plugin failed on the victim: the run is incomplete (exit 5), and says by which plugin.
fn assert_incomplete(result: &support::Run, report: &serde_json::Value) {
    assert_eq!(result.code, 5, "{result:?}");
    assert_eq!(report["complete"], false, "{report}");
    assert_eq!(
        report["incomplete"],
        serde_json::json!([{"plugin": "misbehave", "pods": 1}]),
        "{report}"
    );
    assert!(
        result.stderr.contains("the analysis is incomplete"),
        "{}",
        result.stderr
    );
}

fn plugin_diagnostics(report: &serde_json::Value) -> Vec<String> {
    report["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|d| d["kind"] == "plugin")
        .map(|d| {
            assert_eq!(d["plugin"], "misbehave");
            d["message"].as_str().expect("message").to_owned()
        })
        .collect()
}

#[test]
fn well_behaved_custom_plugin_joins_the_score() {
    let (result, report) = misbehave("ok");
    assert_eq!(result.code, 0, "{result:?}");
    assert_eq!(report["complete"], true, "{report}");
    assert_builtins_intact(&report);
    assert_eq!(report["summary"]["checks"]["misbehave"], 3);
    assert!(plugin_diagnostics(&report).is_empty());
    // 3 × (5 + 3 + 2 + 1) = 33 → 11 per pod.
    assert_eq!(report["summary"]["healthScore"], 89);
}

#[test]
fn infinite_loop_is_stopped_at_the_time_limit() {
    let (result, report) = misbehave("loop");
    // A plugin failure is a diagnostic, and the run says it is incomplete.
    assert_incomplete(&result, &report);
    assert_builtins_intact(&report);
    assert_eq!(
        report["summary"]["checks"]["misbehave"], 2,
        "the other pods still ran through the plugin"
    );
    assert_eq!(
        plugin_diagnostics(&report),
        ["plugin `misbehave` failed on pod shop/victim: timed out after 200 ms (tried twice)"]
    );
    assert!(
        result
            .stderr
            .contains("warning: plugin `misbehave` failed on pod shop/victim"),
        "{result:?}"
    );
}

#[test]
fn panic_becomes_a_diagnostic_with_its_message() {
    let (result, report) = misbehave("panic");
    assert_incomplete(&result, &report);
    assert_builtins_intact(&report);
    let diagnostics = plugin_diagnostics(&report);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert!(
        diagnostics[0].starts_with("plugin `misbehave` failed on pod shop/victim: trapped:"),
        "{diagnostics:?}"
    );
    assert!(
        diagnostics[0].contains("deliberate panic on victim"),
        "{diagnostics:?}"
    );
    assert_eq!(report["summary"]["checks"]["misbehave"], 2);
}

#[test]
fn memory_bomb_is_stopped_at_the_memory_limit() {
    let (result, report) = misbehave("memory");
    assert_incomplete(&result, &report);
    assert_builtins_intact(&report);
    assert_eq!(
        plugin_diagnostics(&report),
        ["plugin `misbehave` failed on pod shop/victim: exceeded its memory limit of 16 MiB"]
    );
}

#[test]
fn stack_overflow_is_contained() {
    let (result, report) = misbehave("stack");
    assert_incomplete(&result, &report);
    assert_builtins_intact(&report);
    let diagnostics = plugin_diagnostics(&report);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert!(diagnostics[0].contains("shop/victim"), "{diagnostics:?}");
}

#[test]
fn findings_beyond_the_limit_and_for_undeclared_checks_are_dropped() {
    let (result, report) = misbehave("flood");
    assert_eq!(result.code, 0, "{result:?}");
    assert_eq!(report["summary"]["checks"]["misbehave"], 1000 + 2);
    assert_eq!(
        plugin_diagnostics(&report),
        [
            "plugin `misbehave` returned 5000 findings for pod shop/victim; only the first 1000 are kept"
        ]
    );

    let (result, report) = misbehave("undeclared");
    assert_eq!(result.code, 0, "{result:?}");
    assert_eq!(report["summary"]["checks"]["misbehave"], 3);
    assert!(report["summary"]["checks"].get("not-declared").is_none());
    assert_eq!(
        plugin_diagnostics(&report),
        [
            "plugin `misbehave` returned a finding for check `not-declared`, which it does not declare; ignored"
        ]
    );
}

#[test]
fn pod_json_on_demand_is_the_object_as_read() {
    let (result, report) = misbehave("pod-json");
    assert_eq!(result.code, 0, "{result:?}");
    let victim = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == "misbehave" && f["pod"] == "victim")
        .expect("victim finding")
        .clone();
    let object: serde_json::Value =
        serde_json::from_str(victim["message"].as_str().expect("message")).expect("pod JSON");
    assert_eq!(object["metadata"]["name"], "victim");
    assert_eq!(object["spec"]["containers"][0]["image"], "nginx");
}

#[test]
fn bad_settings_refuse_the_plugin_at_load_time() {
    let result = analyze_with_misbehave(
        PODS,
        "plugins:\n  misbehave:\n    settings: {mode: explode}\n",
    );
    assert_eq!(result.code, 2, "{result:?}");
    assert!(
        result.stderr.contains(
            "plugin `misbehave` rejected its settings: invalid settings: unknown variant `explode`"
        ),
        "{result:?}"
    );
}

#[test]
fn a_file_that_is_not_a_component_is_refused() {
    let dir = temp_dir();
    let fake = write(dir.path(), "fake.wasm", "not wasm at all");
    let result = run(&["analyze", "-f", "examples/manifests", "--plugin", &fake]);
    assert_eq!(result.code, 2, "{result:?}");
    assert!(
        result.stderr.contains(&format!(
            "plugin {fake} is not a valid WebAssembly component"
        )),
        "{result:?}"
    );
}

#[test]
fn example_plugin_uses_records_settings_and_pod_json() {
    let dir = temp_dir();
    let pod = r#"
apiVersion: v1
kind: Pod
metadata: {name: node-agent, namespace: ops}
spec:
  containers:
  - name: agent
    image: agent:1.0
    securityContext: {privileged: true}
    livenessProbe: {exec: {command: ["true"]}}
    readinessProbe: {exec: {command: ["true"]}}
  volumes:
  - name: logs
    hostPath: {path: /var/log}
  - name: root
    hostPath: {path: /}
"#;
    let pods = write(dir.path(), "pod.yaml", pod);
    let config = write(
        dir.path(),
        "config.yaml",
        "plugins:\n  no-privileged:\n    settings: {allowedHostPaths: [/var/log]}\n",
    );
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir_all(&plugin_dir).expect("plugin dir");
    std::fs::copy(
        plugin_wasm("no-privileged"),
        plugin_dir.join("no-privileged.wasm"),
    )
    .expect("copy plugin");

    let result = run(&[
        "analyze",
        "-f",
        &pods,
        "--plugin-dir",
        &plugin_dir.to_string_lossy(),
        "--config",
        &config,
        "-o",
        "json",
        "--fail-on",
        "critical",
    ]);

    assert_eq!(
        result.code, 1,
        "the critical finding fails the gate: {result:?}"
    );
    let report = result.json();
    let findings: Vec<(String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap_or_default().to_owned(),
                f["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        findings,
        [
            (
                "privileged-container".to_owned(),
                "runs privileged; remove `privileged: true`".to_owned()
            ),
            (
                "host-path-volume".to_owned(),
                "volume `root` mounts host path /".to_owned()
            ),
        ]
    );
    assert_eq!(report["findings"][0]["severity"], "critical");
    // 10 + 4 = 14 → 86.
    assert_eq!(report["summary"]["healthScore"], 86);
}

#[test]
fn two_plugins_with_one_name_are_refused() {
    let wasm = plugin_wasm("misbehave");
    let result = run(&[
        "analyze",
        "-f",
        "examples/manifests",
        "--plugin",
        &wasm,
        "--plugin",
        &wasm,
    ]);
    assert_eq!(result.code, 2, "{result:?}");
    assert!(
        result.stderr.contains("two plugins are named `misbehave`"),
        "{result:?}"
    );
}

#[test]
fn a_plugin_failing_pod_after_pod_is_switched_off() {
    let pods: Vec<String> = (0..6)
        .map(|i| format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}}}\nspec:\n  containers: [{{name: app, image: 'app:1'}}]\n"))
        .collect();
    let config =
        "plugins:\n  misbehave:\n    settings: {mode: loop}\n    limits: {timeoutMs: 50}\n";

    let result = analyze_with_misbehave(&pods.join("---\n"), config);

    assert_eq!(result.code, 5, "{result:?}");
    let report = result.json();
    assert_eq!(
        report["incomplete"],
        serde_json::json!([{"plugin": "misbehave", "pods": 6}]),
        "three failed, three were not run: {report}"
    );
    assert_eq!(report["summary"]["podsAnalyzed"], 6);
    assert_eq!(
        report["summary"]["missingLiveness"], 6,
        "built-in checks ran on every pod"
    );
    let diagnostics = plugin_diagnostics(&report);
    assert_eq!(diagnostics.len(), 3, "{diagnostics:?}");
    assert!(
        diagnostics[2].ends_with("it failed on 3 pods in a row and is not run on further pods"),
        "{diagnostics:?}"
    );
}

#[test]
fn plugins_asking_for_files_sockets_or_the_wall_clock_are_refused_at_load() {
    let dir = temp_dir();
    let pods = write(dir.path(), "pods.yaml", PODS);
    for (plugin, import) in [
        ("wants-files", "wasi:filesystem/"),
        ("wants-network", "wasi:sockets/"),
        ("wants-clock", "wasi:clocks/wall-clock"),
    ] {
        let wasm = plugin_wasm(plugin);
        let result = run(&["analyze", "-f", &pods, "--plugin", &wasm]);
        assert_eq!(result.code, 2, "{plugin}: {result:?}");
        assert!(
            result.stderr.contains(&wasm)
                && result.stderr.contains("does not grant")
                && result.stderr.contains(import),
            "{plugin}: the error names the file and the import: {result:?}"
        );
        // `plugin inspect` shows why, import by import, and exits 2 as well.
        let inspected = run(&["plugin", "inspect", &wasm]);
        assert_eq!(inspected.code, 2, "{inspected:?}");
        let refused: Vec<&str> = inspected
            .stdout
            .lines()
            .filter(|line| line.contains("REFUSED"))
            .collect();
        assert!(
            refused.iter().any(|line| line.contains(import)),
            "{plugin}: {}",
            inspected.stdout
        );
    }
    // The SDK's own imports (environment, stdio, the monotonic clock) are granted, empty.
    let inspected = run(&["plugin", "inspect", &plugin_wasm("misbehave")]);
    assert_eq!(inspected.code, 0, "{inspected:?}");
    assert!(
        !inspected.stdout.contains("REFUSED"),
        "{}",
        inspected.stdout
    );
    assert!(
        inspected.stdout.lines().any(|line| {
            line.split_whitespace().collect::<Vec<_>>().join(" ")
                == "wasi:cli/environment@0.2.6 empty: no variables, no arguments"
        }),
        "{}",
        inspected.stdout
    );
}

/// Regression: the sandbox linked all of WASI and refused imports by name, so an interface no
/// refusal named (one a wasmtime upgrade adds, or one a plugin invents) was granted, or failed
/// to link naming only the first. Now only the allow-list is linked and every other import is
/// named in the refusal, by `analyze` and by `plugin inspect` alike.
#[test]
fn an_import_outside_the_allow_list_is_refused_naming_every_one() {
    let dir = temp_dir();
    let pods = write(dir.path(), "pods.yaml", PODS);
    let wasm = plugin_wasm("wants-more");
    let result = run(&["analyze", "-f", &pods, "--plugin", &wasm]);
    assert_eq!(result.code, 2, "{result:?}");
    for import in ["evil:host/secrets@0.1.0", "evil:host/exfil@0.1.0"] {
        assert!(
            result.stderr.contains(import),
            "the error names {import}: {}",
            result.stderr
        );
    }
    assert!(
        result.stderr.contains("not on the sandbox's allow-list"),
        "{}",
        result.stderr
    );
    let inspected = run(&["plugin", "inspect", &wasm]);
    assert_eq!(inspected.code, 2, "{inspected:?}");
    for import in ["evil:host/secrets@0.1.0", "evil:host/exfil@0.1.0"] {
        assert!(
            inspected
                .stdout
                .lines()
                .any(|line| line.contains(import) && line.contains("REFUSED")),
            "{}",
            inspected.stdout
        );
    }
}

#[test]
fn a_million_findings_are_cut_to_the_limit() {
    let config = "plugins:\n  misbehave:\n    settings: {mode: million, onlyPod: victim}\n    limits: {memoryMiB: 256, timeoutMs: 5000}\n";
    let result = analyze_with_misbehave(PODS, config);
    assert_eq!(result.code, 0, "{result:?}");
    let report = result.json();
    assert_builtins_intact(&report);
    assert_eq!(
        plugin_diagnostics(&report),
        [
            "plugin `misbehave` returned 1000000 findings for pod shop/victim; only the first 1000 are kept"
        ]
    );
    // 1000 for the victim, one for each other pod.
    assert_eq!(report["summary"]["checks"]["misbehave"], 1002);
}

#[test]
fn a_100_mb_message_is_stopped_by_the_memory_limit_or_cut() {
    // Under the default limits the plugin cannot even build it.
    let (result, report) = misbehave("huge-string");
    assert_incomplete(&result, &report);
    assert_builtins_intact(&report);
    assert_eq!(
        plugin_diagnostics(&report),
        ["plugin `misbehave` failed on pod shop/victim: exceeded its memory limit of 16 MiB"]
    );

    // Given the memory, it returns it; the report keeps a bounded message.
    let config = "plugins:\n  misbehave:\n    settings: {mode: huge-string, onlyPod: victim}\n    limits: {memoryMiB: 512, timeoutMs: 10000}\n";
    let result = analyze_with_misbehave(PODS, config);
    assert_eq!(result.code, 0, "{result:?}");
    let report = result.json();
    assert_builtins_intact(&report);
    let longest = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["pod"] == "victim" && f["check"] == "misbehave")
        .map(|f| f["message"].as_str().unwrap().len())
        .max()
        .expect("the victim's finding");
    // Cut at 1 KiB, with an ellipsis.
    assert!(
        (1000..=1024 + 3).contains(&longest),
        "message of {longest} bytes"
    );
    assert!(result.stdout.len() < 1 << 20, "the report stays small");
}
