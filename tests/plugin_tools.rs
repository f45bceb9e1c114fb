//! Plugin tooling: `plugin list | inspect | test | new`, and the on-disk cache of compiled custom
//! plugins (a second run loads what the first compiled; an entry that is corrupt or was made by
//! another engine is detected, never trusted, and rebuilt).

mod support;

use std::path::{Path, PathBuf};

use support::toolchain::Toolchain;
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

#[test]
fn plugin_list_shows_every_plugin_with_source_digest_and_checks() {
    let wasm = plugin_wasm("no-privileged");
    let run = support::run(&[
        "plugin",
        "list",
        "--plugin",
        &wasm,
        "-o",
        "json",
        "--no-cache",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let plugins = run.json();
    let names: Vec<&str> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "latest-tag",
            "pending",
            "probes",
            "restarts",
            "no-privileged"
        ]
    );
    let custom = &plugins[4];
    assert_eq!(custom["source"], wasm.as_str());
    assert_eq!(
        custom["sha256"],
        support::sha256_hex(&std::fs::read(&wasm).unwrap())
    );
    assert_eq!(custom["checks"][0]["id"], "privileged-container");
    assert_eq!(custom["checks"][0]["severity"], "critical");
    assert_eq!(custom["checks"][0]["weight"], 10);
    assert_eq!(plugins[0]["source"], "built-in");

    let text = support::run(&["plugin", "list", "--no-cache"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout.contains("missing-liveness-probe"),
        "{}",
        text.stdout
    );
}

#[test]
fn plugin_inspect_shows_world_imports_size_and_digest() {
    let wasm = plugin_wasm("no-privileged");
    let bytes = std::fs::read(&wasm).unwrap();
    let run = support::run(&["plugin", "inspect", &wasm, "-o", "json", "--no-cache"]);
    assert_eq!(run.code, 0, "{run:?}");
    let inspection = run.json();
    assert_eq!(inspection["size"], bytes.len());
    assert_eq!(inspection["world"], "kube-devops:analyzer/analyzer@0.2.2");
    assert_eq!(inspection["plugin"]["name"], "no-privileged");
    assert_eq!(inspection["plugin"]["sha256"], support::sha256_hex(&bytes));
    let imports = inspection["imports"].as_array().unwrap();
    let pod = imports
        .iter()
        .find(|i| i["name"] == "kube-devops:analyzer/pod@0.2.2")
        .expect("the pod interface");
    assert_eq!(pod["access"], "granted");
    assert!(
        imports.iter().all(|i| i["access"] == "granted"),
        "{imports:?}"
    );

    let missing = support::run(&["plugin", "inspect", "/nonexistent.wasm"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("/nonexistent.wasm"), "{missing:?}");

    // A built-in, by name.
    let builtin = support::run(&["plugin", "inspect", "probes", "-o", "json", "--no-cache"]);
    assert_eq!(builtin.code, 0, "{builtin:?}");
    let inspection = builtin.json();
    assert_eq!(inspection["plugin"]["name"], "probes");
    assert!(
        inspection["plugin"]["checks"]
            .to_string()
            .contains("missing-liveness-probe"),
        "{inspection}"
    );
}

/// Writes a golden case for `plugin test`.
fn case(dir: &Path, name: &str, manifest: &str, expected: &str) {
    write(dir, &format!("{name}/manifest.yaml"), manifest);
    write(dir, &format!("{name}/expected.yaml"), expected);
}

#[test]
fn plugin_test_passes_golden_cases_and_prints_a_diff_on_mismatch() {
    let dir = temp_dir();
    let cases = dir.path().join("cases");
    let host_path = "apiVersion: v1\nkind: Pod\nmetadata: {name: logs, namespace: ops}\nspec:\n  containers: [{name: app, image: nginx:1.27}]\n  volumes: [{name: v, hostPath: {path: /var/log}}]\n";
    case(
        &cases,
        "privileged",
        POD,
        "findings:\n  - {check: privileged-container, container: app, severity: critical}\n",
    );
    case(
        &cases,
        "allowed-host-path",
        host_path,
        "settings: {allowedHostPaths: [/var/log]}\nfindings: []\n",
    );
    let wasm = plugin_wasm("no-privileged");
    let passing = support::run(&["plugin", "test", &wasm, "--cases", cases.to_str().unwrap()]);
    assert_eq!(passing.code, 0, "{passing:?}");
    assert!(
        passing.stdout.contains("2 case(s): 2 passed, 0 failed"),
        "{passing:?}"
    );

    // A case whose expectations are wrong: the diff says what is missing and what is extra.
    case(
        &cases,
        "wrong",
        host_path,
        "findings:\n  - {check: privileged-container, severity: critical}\n",
    );
    let failing = support::run(&["plugin", "test", &wasm, "--cases", cases.to_str().unwrap()]);
    assert_eq!(failing.code, 1, "{failing:?}");
    assert!(failing.stdout.contains("FAIL  wrong"), "{}", failing.stdout);
    assert!(
        failing
            .stdout
            .contains("- expected   privileged-container severity=critical"),
        "{}",
        failing.stdout
    );
    assert!(
        failing
            .stdout
            .contains("+ unexpected host-path-volume severity=high pod=logs"),
        "{}",
        failing.stdout
    );
    assert!(
        failing.stdout.contains("3 case(s): 2 passed, 1 failed"),
        "{}",
        failing.stdout
    );

    // A malformed expectation names its file and fails only that case.
    write(&cases, "broken/manifest.yaml", POD);
    write(
        &cases,
        "broken/expected.yaml",
        "findings:\n  - {chek: typo}\n",
    );
    let broken = support::run(&["plugin", "test", &wasm, "--cases", cases.to_str().unwrap()]);
    assert_eq!(broken.code, 1);
    assert!(broken.stdout.contains("FAIL  broken:"), "{}", broken.stdout);
    assert!(
        broken.stdout.contains("broken/expected.yaml"),
        "{}",
        broken.stdout
    );
    assert!(
        broken.stdout.contains("ok    privileged"),
        "{}",
        broken.stdout
    );
}

#[test]
fn plugin_new_scaffolds_a_project_that_builds_and_passes_its_own_cases() {
    let dir = temp_dir();
    let run = support::run(&[
        "plugin",
        "new",
        "team-label",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let project = dir.path().join("team-label");
    assert!(run.stdout.contains("plugin test"), "{}", run.stdout);

    // Built exactly as its README says, in a target directory kept between test runs.
    let target = support::workspace().join("target/plugin-new-test");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let build = std::process::Command::new(cargo)
        .current_dir(&project)
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("run cargo");
    assert!(build.success(), "the scaffold does not build");
    let wasm = target.join("wasm32-wasip2/release/team_label.wasm");
    let cases = project.join("cases");
    let tested = support::run(&[
        "plugin",
        "test",
        wasm.to_str().unwrap(),
        "--cases",
        cases.to_str().unwrap(),
    ]);
    assert_eq!(tested.code, 0, "{tested:?}");
    assert!(
        tested.stdout.contains("3 case(s): 3 passed, 0 failed"),
        "{tested:?}"
    );

    // Not over an existing directory, and only kebab-case names.
    let again = support::run(&[
        "plugin",
        "new",
        "team-label",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{again:?}");
    let bad = support::run(&[
        "plugin",
        "new",
        "Team_Label",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("kebab-case"), "{bad:?}");
}

#[test]
fn plugin_bench_measures_calls_and_counts_failures() {
    let wasm = plugin_wasm("no-privileged");
    let run = support::run(&[
        "plugin",
        "bench",
        &wasm,
        "--calls",
        "300",
        "--instances",
        "5",
        "--pods",
        "20",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let figures = run.json();
    assert_eq!(figures["plugin"], "no-privileged");
    assert_eq!(figures["calls"], 300);
    assert_eq!(figures["pods"], 20);
    assert_eq!(figures["failed_calls"], 0);
    let (p50, p99) = (
        figures["call"]["p50_us"].as_f64().unwrap(),
        figures["call"]["p99_us"].as_f64().unwrap(),
    );
    assert!(p50 > 0.0 && p99 >= p50, "{figures}");
    assert!(figures["load_ms"].as_f64().unwrap() > 0.0);

    // A plugin that traps on every call: each failure is counted, and the bench goes on.
    let misbehave = plugin_wasm("misbehave");
    let run = support::run(&[
        "plugin",
        "bench",
        &misbehave,
        "--calls",
        "50",
        "--instances",
        "2",
        "--settings",
        r#"{"mode":"panic"}"#,
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.json()["failed_calls"],
        100,
        "50 measured and 50 to warm up"
    );
}

/// The value after `label` on a line of `text`.
fn field<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(label))
        .unwrap_or_else(|| panic!("no `{label}` in:\n{text}"))
        .trim()
}

#[test]
fn plugins_round_trip_through_a_real_oci_registry_pinned_by_digest() {
    if !support::toolchain::require(Toolchain::Registry) {
        return;
    }
    let dir = temp_dir();
    let storage = dir.path().join("registry");
    std::fs::create_dir_all(&storage).unwrap();
    let registry = support::registry::Registry::start(&storage);
    let cache = dir.path().join("cache");
    let cache_arg = cache.to_str().unwrap();
    let wasm = plugin_wasm("no-privileged");
    let module_sha = support::sha256_hex(&std::fs::read(&wasm).unwrap());

    // Push: the answer is the reference pinned by the manifest's digest, and the module's sha256.
    let tagged = registry.reference("team/no-privileged:1.0");
    let pushed = support::run(&["plugin", "push", &wasm, &tagged, "--cache-dir", cache_arg]);
    assert_eq!(pushed.code, 0, "{pushed:?}");
    let pinned = field(&pushed.stdout, "pushed ").to_owned();
    assert!(pinned.starts_with(&format!("{tagged}@sha256:")), "{pinned}");
    assert_eq!(field(&pushed.stdout, "module sha256 "), module_sha);

    // Pull by tag: the same bytes, and the same pin.
    let copy = dir.path().join("copy.wasm");
    let pulled = support::run(&[
        "plugin",
        "pull",
        &tagged,
        "-o",
        copy.to_str().unwrap(),
        "--cache-dir",
        cache_arg,
    ]);
    assert_eq!(pulled.code, 0, "{pulled:?}");
    assert_eq!(field(&pulled.stdout, "pulled "), pinned);
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&wasm).unwrap());

    // `--plugin oci://…` wherever a plugin file is accepted.
    let pod = write(dir.path(), "pod.yaml", POD);
    let analyze = |reference: &str| {
        support::run(&[
            "analyze",
            "-f",
            &pod,
            "--plugin",
            reference,
            "-o",
            "json",
            "--cache-dir",
            cache_arg,
        ])
    };
    let run = analyze(&pinned);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(privileged_findings(&run.json()), 1);
    let listed = support::run(&[
        "plugin",
        "list",
        "--plugin",
        &pinned,
        "-o",
        "json",
        "--cache-dir",
        cache_arg,
    ]);
    assert_eq!(listed.code, 0, "{listed:?}");
    assert_eq!(listed.json()[4]["sha256"], module_sha.as_str());

    // A pin to content the registry does not have: asked by digest, so never another module.
    let wrong = format!("{tagged}@sha256:{}", "0".repeat(64));
    let run = analyze(&wrong);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("404") && run.stderr.contains(&"0".repeat(64)),
        "{run:?}"
    );

    // A damaged module in the local store is not trusted: it is downloaded again.
    let stored = cache
        .join("oci/blobs/sha256")
        .join(format!("{module_sha}.wasm"));
    std::fs::write(&stored, b"not the module").unwrap();
    let run = analyze(&pinned);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        std::fs::read(&stored).unwrap(),
        std::fs::read(&wasm).unwrap()
    );

    // A registry serving other bytes for the layer is caught by the layer digest.
    let blob = support::registry::blobs_dir(&storage)
        .join(&module_sha[..2])
        .join(&module_sha)
        .join("data");
    std::fs::write(&blob, b"tampered").unwrap();
    std::fs::remove_dir_all(cache.join("oci")).unwrap();
    let run = analyze(&pinned);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("the module has digest"), "{run:?}");
    std::fs::copy(&wasm, &blob).unwrap();
    assert_eq!(analyze(&pinned).code, 0);

    // Offline: a pinned reference in the store needs no registry; a tag does.
    drop(registry);
    let run = analyze(&pinned);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(privileged_findings(&run.json()), 1);
    let run = analyze(&tagged);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("cannot reach"), "{run:?}");
}

/// Runs `npm run build` in an example plugin written in JavaScript and returns the component.
fn build_js_example(name: &str) -> PathBuf {
    let dir = support::workspace().join("examples/plugins").join(name);
    assert!(
        dir.join("node_modules").exists(),
        "run `npm ci` in {} first (scripts/test does)",
        dir.display()
    );
    let status = std::process::Command::new("npm")
        .args(["run", "build"])
        .current_dir(&dir)
        .status()
        .expect("run npm (Node.js and npm are needed for the JavaScript example)");
    assert!(status.success(), "building {name} failed");
    dir.join(format!("{name}.wasm"))
}

/// A cache kept between test runs for the large Python and JavaScript components, whose first
/// compile takes seconds.
fn lasting_cache() -> String {
    support::workspace()
        .join("target/test-plugin-cache")
        .to_string_lossy()
        .into_owned()
}

/// Runs `build.sh` in an example plugin written in Python, with componentize-py from the venv
/// `scripts/test` makes, and returns the component.
fn build_python_example(name: &str) -> PathBuf {
    let dir = support::workspace().join("examples/plugins").join(name);
    let tool = support::workspace().join("target/componentize-py/bin/componentize-py");
    assert!(
        tool.exists(),
        "no {}: scripts/test installs componentize-py (examples/plugins/{name}/requirements.txt)",
        tool.display()
    );
    let status = std::process::Command::new(dir.join("build.sh"))
        .env("COMPONENTIZE_PY", &tool)
        .status()
        .expect("run build.sh");
    assert!(status.success(), "building {name} failed");
    dir.join(format!("{name}.wasm"))
}

#[test]
fn a_python_plugin_passes_its_cases_and_agrees_with_the_rust_check() {
    if !support::toolchain::require(Toolchain::ComponentizePy) {
        return;
    }
    let wasm = build_python_example("no-latest-py");
    check_latest_tag_example(&wasm, "no-latest-py", "python-latest-tag", 4);
}

#[test]
fn a_javascript_plugin_passes_its_cases_and_agrees_with_the_rust_check() {
    if !support::toolchain::require(Toolchain::ComponentizeJs) {
        return;
    }
    let wasm = build_js_example("no-latest-js");
    check_latest_tag_example(&wasm, "no-latest-js", "js-latest-tag", 3);
}

/// The example plugin `name` (another language's version of the built-in `latest-tag` check):
/// it imports only the contract's interfaces, passes its golden cases, and flags exactly the
/// containers the Rust check flags on the bundled examples.
fn check_latest_tag_example(wasm: &Path, name: &str, check: &str, cases: usize) {
    let wasm = wasm.to_str().unwrap();
    let cache = lasting_cache();

    // It asks for nothing but the contract's interfaces (pod, host, types): its toolchain's WASI
    // is off or stubbed.
    let inspected = support::run(&[
        "plugin",
        "inspect",
        wasm,
        "-o",
        "json",
        "--cache-dir",
        &cache,
    ]);
    assert_eq!(inspected.code, 0, "{inspected:?}");
    let inspection = inspected.json();
    assert_eq!(inspection["world"], "kube-devops:analyzer/analyzer@0.2.2");
    assert_eq!(inspection["plugin"]["name"], name);
    let imports: Vec<&str> = inspection["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(
        imports
            .iter()
            .all(|i| i.starts_with("kube-devops:analyzer/")),
        "{imports:?}"
    );

    let case_dir = support::workspace()
        .join("examples/plugins")
        .join(name)
        .join("cases");
    let tested = support::run(&[
        "plugin",
        "test",
        wasm,
        "--cases",
        case_dir.to_str().unwrap(),
        "--cache-dir",
        &cache,
    ]);
    assert_eq!(tested.code, 0, "{tested:?}");
    let summary = format!("{cases} case(s): {cases} passed");
    assert!(tested.stdout.contains(&summary), "{}", tested.stdout);

    // On the bundled examples it flags exactly the containers the built-in Rust check does.
    let examples = support::workspace().join("examples/manifests");
    let run = support::run(&[
        "analyze",
        "-f",
        examples.to_str().unwrap(),
        "--plugin",
        wasm,
        "-o",
        "json",
        "--cache-dir",
        &cache,
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    let flagged = |check: &str| {
        let mut containers: Vec<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["check"] == check)
            .map(|f| format!("{}/{}/{}", f["namespace"], f["pod"], f["container"]))
            .collect();
        containers.sort();
        containers
    };
    assert!(!flagged("latest-tag").is_empty());
    assert_eq!(flagged(check), flagged("latest-tag"));
}

#[test]
fn plugin_new_scaffolds_python_and_javascript_projects_that_pass_their_own_cases() {
    if !support::toolchain::require(Toolchain::ComponentizePy) {
        return;
    }
    if !support::toolchain::require(Toolchain::ComponentizeJs) {
        return;
    }
    let dir = temp_dir();
    let parent = dir.path().to_str().unwrap();
    let cache = lasting_cache();
    let test_cases = |project: &Path, wasm: &str| {
        let tested = support::run(&[
            "plugin",
            "test",
            project.join(wasm).to_str().unwrap(),
            "--cases",
            project.join("cases").to_str().unwrap(),
            "--cache-dir",
            &cache,
        ]);
        assert_eq!(tested.code, 0, "{tested:?}");
        assert!(
            tested.stdout.contains("3 case(s): 3 passed, 0 failed"),
            "{tested:?}"
        );
    };

    // Python: build.sh with componentize-py, as the README says.
    let run = support::run(&[
        "plugin", "new", "py-label", "--lang", "python", "--dir", parent,
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let project = dir.path().join("py-label");
    let tool = support::workspace().join("target/componentize-py/bin/componentize-py");
    assert!(tool.exists(), "scripts/test installs componentize-py");
    let built = std::process::Command::new(project.join("build.sh"))
        .env("COMPONENTIZE_PY", &tool)
        .status()
        .expect("run build.sh");
    assert!(built.success(), "the Python scaffold does not build");
    test_cases(&project, "py-label.wasm");

    // JavaScript: npm install, npm run build.
    let run = support::run(&["plugin", "new", "js-label", "--lang", "js", "--dir", parent]);
    assert_eq!(run.code, 0, "{run:?}");
    let project = dir.path().join("js-label");
    for args in [
        &["install", "--no-audit", "--no-fund", "--loglevel=error"][..],
        &["run", "--silent", "build"][..],
    ] {
        let status = std::process::Command::new("npm")
            .args(args)
            .current_dir(&project)
            .status()
            .expect("run npm");
        assert!(
            status.success(),
            "npm {args:?} failed in the JavaScript scaffold"
        );
    }
    test_cases(&project, "js-label.wasm");
}

/// Components built against contract 0.1.0 keep loading and finding the same: the checked-in
/// build of `no-privileged` (tests/fixtures/contract-0.1.0) and the example built from today's
/// sources give the same findings on the same pods.
#[test]
fn a_plugin_built_against_contract_0_1_0_still_loads_and_finds_the_same() {
    let dir = temp_dir();
    let manifest = write(
        dir.path(),
        "pods.yaml",
        &format!(
            "{POD}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: calm, namespace: shop}}\nspec:\n  containers: [{{name: app, image: nginx:1.27}}]\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: agent, namespace: ops}}\nspec:\n  template:\n    spec:\n      containers: [{{name: agent, image: agent:2}}]\n      volumes: [{{name: sock, hostPath: {{path: /var/run/docker.sock}}}}, {{name: tmp, emptyDir: {{}}}}]\n"
        ),
    );
    let frozen = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/contract-0.1.0/no-privileged.wasm"
    );
    let findings = |plugin: &str| {
        let result = support::run(&[
            "analyze",
            "-f",
            &manifest,
            "--plugin",
            plugin,
            "--no-cache",
            "-o",
            "json",
        ]);
        assert_eq!(result.code, 0, "{result:?}");
        let report = result.json();
        let mut found: Vec<String> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|finding| finding["plugin"] == "no-privileged")
            .map(|finding| {
                format!(
                    "{} {} {}",
                    finding["pod"], finding["check"], finding["message"]
                )
            })
            .collect();
        found.sort();
        found
    };
    let v0_2_0 = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/contract-0.2.0/no-privileged.wasm"
    );
    let v0_2_1 = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/contract-0.2.1/no-privileged.wasm"
    );
    let old = findings(frozen);
    assert!(
        old.iter().any(|finding| finding.contains("privileged"))
            && old
                .iter()
                .any(|finding| finding.contains("/var/run/docker.sock")),
        "the privileged container and the hostPath volume are found: {old:?}"
    );
    assert_eq!(old, findings(&plugin_wasm("no-privileged")));
    // A 0.2.0 build, from before 0.2.1 added `remediation`, links against the host's 0.2.2.
    assert_eq!(old, findings(v0_2_0));
    // A 0.2.1 build reads whole containers; today's reads only their security context
    // (`containers-with`, 0.2.2): the same findings.
    assert_eq!(old, findings(v0_2_1));

    // `plugin inspect` names the world each was built for.
    for (plugin, world) in [
        (frozen.to_owned(), "kube-devops:analyzer/analyzer@0.1.0"),
        (v0_2_0.to_owned(), "kube-devops:analyzer/analyzer@0.2.0"),
        (v0_2_1.to_owned(), "kube-devops:analyzer/analyzer@0.2.1"),
        (
            plugin_wasm("no-privileged"),
            "kube-devops:analyzer/analyzer@0.2.2",
        ),
    ] {
        let run = support::run(&["plugin", "inspect", &plugin, "-o", "json", "--no-cache"]);
        assert_eq!(run.code, 0, "{run:?}");
        assert_eq!(run.json()["world"], world, "{plugin}");
    }
}
