//! The binary end to end on manifest files: the bundled examples, every output format, the CI
//! gates, exit statuses, and bad input that must be reported without losing the rest.

mod support;

use support::{run, run_with_stdin, temp_dir, write};

const POD_LATEST: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: floating\n  namespace: shop\nspec:\n  containers:\n  - name: app\n    image: nginx\n";

#[test]
fn version_prints_the_crate_version() {
    let result = run(&["version"]);
    assert_eq!(result.code, 0);
    assert_eq!(
        result.stdout,
        format!("kube-devops version {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_explains_each_command_without_a_cluster() {
    let result = run(&["--help"]);
    assert_eq!(result.code, 0);
    for command in ["version", "check", "list", "analyze"] {
        assert!(result.stdout.contains(command), "{result:?}");
    }
    let analyze = run(&["analyze", "--help"]);
    for flag in [
        "--file",
        "--namespace",
        "--include-system",
        "--output",
        "--fail-under",
        "--fail-on",
        "--plugin",
        "--plugin-dir",
        "--config",
    ] {
        assert!(analyze.stdout.contains(flag), "{flag}: {analyze:?}");
    }
}

#[test]
fn examples_are_analysed_with_the_summary_block() {
    // What `scripts/demo` runs.
    let result = run(&["analyze", "-f", "examples/manifests"]);
    assert_eq!(result.code, 0, "{result:?}");
    let block: Vec<&str> = result.stdout.lines().take(11).collect();
    // The examples: web (clean), queue-worker (no readiness), nightly-report (two :latest,
    // no probes), api (7 restarts), cache-0 (untagged, Pending); coredns is in kube-system.
    assert_eq!(
        block,
        [
            "===== DevOps Governance Summary =====",
            "Workload Pods Analyzed     : 5",
            "Images using :latest       : 3",
            "Missing liveness probes    : 1",
            "Missing readiness probes   : 2",
            "Restart severity score     : 5",
            "Pending pods               : 1",
            "--------------------------------------",
            "Cluster Health Score       : 89",
            "Cluster Status             : Healthy",
            "======================================",
        ]
    );
    assert!(
        result.stdout.contains("Findings (worst first)"),
        "{result:?}"
    );
    assert!(
        result.stdout.contains("skipped 1 Service object(s)"),
        "{result:?}"
    );
}

#[test]
fn a_source_tree_reads_without_errors_skipping_node_modules_and_hidden_directories() {
    // The whole examples/ folder: a config file, AdmissionReviews, plugin sources and golden
    // cases, and the JavaScript example's node_modules (thousands of package.json files) once
    // `npm ci` has run. Manifests in hidden directories are skipped too.
    let dir = temp_dir();
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  containers: [{name: c, image: nginx:1.27}]\n";
    write(dir.path(), "app/pod.yaml", pod);
    write(dir.path(), "app/node_modules/dep/pod.yaml", pod);
    write(dir.path(), "app/.git/pod.yaml", pod);
    write(
        dir.path(),
        "app/node_modules/dep/package.json",
        "{\"name\": ",
    );
    let result = run(&["analyze", "-f", dir.path().to_str().unwrap(), "-o", "json"]);
    assert_eq!(result.code, 0, "{result:?}");
    assert_eq!(result.json()["summary"]["podsAnalyzed"], 1);
    // Named directly, a file inside one is read.
    let hidden = dir.path().join("app/.git/pod.yaml");
    let result = run(&["analyze", "-f", hidden.to_str().unwrap(), "-o", "json"]);
    assert_eq!(result.json()["summary"]["podsAnalyzed"], 1);

    let result = run(&["analyze", "-f", "examples"]);
    assert_eq!(result.code, 0, "{result:?}");
}

#[test]
fn json_and_yaml_reports_carry_the_same_summary() {
    let json = run(&["analyze", "-f", "examples/manifests", "-o", "json"]);
    assert_eq!(json.code, 0, "{json:?}");
    let report = json.json();
    let summary = &report["summary"];
    assert_eq!(summary["podsAnalyzed"], 5);
    assert_eq!(summary["latestTag"], 3);
    assert_eq!(summary["missingLiveness"], 1);
    assert_eq!(summary["missingReadiness"], 2);
    assert_eq!(summary["restartSeverity"], 5);
    assert_eq!(summary["pending"], 1);
    assert_eq!(summary["healthScore"], 89);
    assert_eq!(summary["status"], "Healthy");
    assert_eq!(summary["checks"]["latest-tag"], 3);
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings[0]["check"], "high-restarts", "worst first");
    for key in [
        "plugin",
        "check",
        "severity",
        "namespace",
        "pod",
        "container",
        "message",
        "magnitude",
    ] {
        assert!(findings[0].get(key).is_some(), "finding lacks {key}");
    }
    assert_eq!(
        report["namespaces"].as_array().expect("namespaces").len(),
        2
    );

    let yaml = run(&["analyze", "-f", "examples/manifests", "-o", "yaml"]);
    assert_eq!(yaml.code, 0, "{yaml:?}");
    let parsed: serde_json::Value =
        serde_saphyr::from_str(&yaml.stdout).expect("YAML report parses");
    assert_eq!(parsed["summary"], report["summary"]);
}

#[test]
fn gates_fail_with_exit_1_and_say_why() {
    let dir = temp_dir();
    let file = write(dir.path(), "pod.yaml", POD_LATEST);
    // latest (5) + no probes (3 + 2) = 10 → score 90; finding severities: high, medium.
    let cases: [(&[&str], i32, &str); 5] = [
        (&["--fail-under", "90"], 0, ""),
        (
            &["--fail-under", "91"],
            1,
            "health score 90 is below --fail-under 91",
        ),
        (&["--fail-on", "critical"], 0, ""),
        (
            &["--fail-on", "high"],
            1,
            "1 finding(s) of severity high or worse",
        ),
        (
            &["--fail-on", "medium"],
            1,
            "3 finding(s) of severity medium or worse",
        ),
    ];
    for (flags, code, message) in cases {
        let mut args = vec!["analyze", "-f", &file];
        args.extend(flags);
        let result = run(&args);
        assert_eq!(result.code, code, "{flags:?}: {result:?}");
        assert!(result.stderr.contains(message), "{flags:?}: {result:?}");
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["analyze", "--fail-under", "101", "-f", "examples"],
        vec!["analyze", "--fail-on", "urgent", "-f", "examples"],
        vec!["analyze", "-o", "xml", "-f", "examples"],
        vec!["frobnicate"],
    ] {
        let result = run(&args);
        assert_eq!(result.code, 2, "{args:?}: {result:?}");
    }
}

#[test]
fn bad_config_exits_2_naming_file_and_line() {
    let dir = temp_dir();
    let config = write(
        dir.path(),
        "config.yaml",
        "checks:\n  latest-tag:\n    wieght: 3\n",
    );
    let result = run(&["analyze", "-f", "examples/manifests", "--config", &config]);
    assert_eq!(result.code, 2, "{result:?}");
    assert!(
        result.stderr.contains(&config)
            && result.stderr.contains("line 3")
            && result.stderr.contains("wieght"),
        "{result:?}"
    );

    let unknown = write(
        dir.path(),
        "unknown.yaml",
        "checks:\n  lastest-tag: {enabled: false}\n",
    );
    let result = run(&["analyze", "-f", "examples/manifests", "--config", &unknown]);
    assert_eq!(result.code, 2, "{result:?}");
    assert!(result.stderr.contains("check `lastest-tag`"), "{result:?}");

    let settings = write(
        dir.path(),
        "settings.yaml",
        "plugins:\n  restarts:\n    settings: {threshold: -1}\n",
    );
    let result = run(&["analyze", "-f", "examples/manifests", "--config", &settings]);
    assert_eq!(result.code, 2, "{result:?}");
    assert!(
        result
            .stderr
            .contains("plugin `restarts` rejected its settings: `threshold` must be 0 or more"),
        "{result:?}"
    );
}

#[test]
fn malformed_yaml_in_the_middle_is_reported_and_the_rest_analysed() {
    let dir = temp_dir();
    let text = format!(
        "{POD_LATEST}---\napiVersion: v1\nkind: Pod\nmetadata: [unclosed\n---\n{}",
        POD_LATEST.replace("floating", "second")
    );
    let file = write(dir.path(), "multi.yaml", &text);
    let result = run(&["analyze", "-f", &file, "-o", "json"]);
    assert_eq!(result.code, 3, "{result:?}");
    let error_line = result
        .stderr
        .lines()
        .find(|line| line.starts_with(&format!("{file}:")))
        .unwrap_or_else(|| panic!("{result:?}"));
    let line: usize = error_line[file.len() + 1..]
        .split(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{error_line}"));
    assert!(
        (10..=13).contains(&line),
        "the broken document spans lines 10-13: {error_line}"
    );
    let report = result.json();
    assert_eq!(report["summary"]["podsAnalyzed"], 2);
    assert_eq!(report["diagnostics"][0]["kind"], "input");
}

#[test]
fn truncated_json_keeps_the_documents_before_it() {
    let dir = temp_dir();
    let whole = r#"{"kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}"#;
    let file = write(
        dir.path(),
        "pods.json",
        &format!("{whole}\n{whole}\n{}", &whole[..40]),
    );
    let result = run(&["analyze", "-f", &file, "-o", "json"]);
    assert_eq!(result.code, 3, "{result:?}");
    assert!(result.stderr.contains(&format!("{file}:3: ")), "{result:?}");
    assert!(
        result.stderr.contains("the input ends inside a value"),
        "{result:?}"
    );
    assert_eq!(result.json()["summary"]["podsAnalyzed"], 2);
}

#[test]
fn invalid_object_names_its_field_and_other_files_still_count() {
    let dir = temp_dir();
    write(dir.path(), "a/good.yaml", POD_LATEST);
    write(
        dir.path(),
        "b/bad.yaml",
        "kind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n  - name: app\n    image: nginx\n    ports:\n    - containerPort: http\n",
    );
    write(dir.path(), "c/notes.txt", "not a manifest");
    let result = run(&["analyze", "-f", &dir.path().to_string_lossy(), "-o", "json"]);
    assert_eq!(result.code, 3, "{result:?}");
    assert!(
        result.stderr.contains(
            "bad.yaml:1: Pod default/bad: spec.containers[0].ports[0].containerPort: invalid type"
        ),
        "{result:?}"
    );
    assert_eq!(result.json()["summary"]["podsAnalyzed"], 1);
}

#[test]
fn unknown_kinds_are_skipped_not_errors() {
    let dir = temp_dir();
    let text = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w}}\n---\n{POD_LATEST}"
    );
    let file = write(dir.path(), "mixed.yaml", &text);
    let result = run(&["analyze", "-f", &file, "-o", "json"]);
    assert_eq!(result.code, 0, "{result:?}");
    let report = result.json();
    assert_eq!(report["summary"]["podsAnalyzed"], 1);
    let messages: Vec<&str> = report["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter_map(|d| d["message"].as_str())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("ConfigMap"))
            && messages.iter().any(|m| m.contains("Widget")),
        "{messages:?}"
    );
}

#[test]
fn empty_directory_is_reported() {
    let dir = temp_dir();
    let result = run(&["analyze", "-f", &dir.path().to_string_lossy()]);
    assert_eq!(result.code, 3, "{result:?}");
    assert!(
        result.stderr.contains("no .yaml, .yml or .json files"),
        "{result:?}"
    );
    // Nothing could be read: no summary (a score of 100 over no pods would lie).
    assert!(result.stdout.is_empty(), "{result:?}");
}

#[test]
fn missing_file_is_reported_and_other_files_still_count() {
    let result = run(&[
        "analyze",
        "-f",
        "/nonexistent/pods.yaml",
        "-f",
        "examples/manifests/web.yaml",
        "-o",
        "json",
    ]);
    assert_eq!(result.code, 3, "{result:?}");
    assert!(
        result
            .stderr
            .contains("/nonexistent/pods.yaml: cannot read"),
        "{result:?}"
    );
    assert_eq!(result.json()["summary"]["podsAnalyzed"], 1);
}

#[test]
fn stdin_and_kubectl_pod_lists_are_read() {
    // `kubectl get pods -o json` prints a List; the API server's own PodList omits item kinds.
    let list = r#"{"apiVersion":"v1","kind":"PodList","metadata":{},"items":[
        {"metadata":{"name":"a","namespace":"shop"},"spec":{"containers":[{"name":"c","image":"nginx"}]},"status":{"phase":"Pending"}},
        {"metadata":{"name":"b","namespace":"shop"},"spec":{"containers":[{"name":"c","image":"nginx:1"}]},"status":{"phase":"Running"}}]}"#;
    let result = run_with_stdin(&["analyze", "-f", "-", "-o", "json"], list);
    assert_eq!(result.code, 0, "{result:?}");
    let summary = &result.json()["summary"];
    assert_eq!(summary["podsAnalyzed"], 2);
    assert_eq!(summary["latestTag"], 1);
    assert_eq!(summary["pending"], 1);
}

#[test]
fn namespace_flag_filters_file_input() {
    let result = run(&[
        "analyze",
        "-f",
        "examples/manifests",
        "-n",
        "reports",
        "-o",
        "json",
    ]);
    assert_eq!(result.code, 0, "{result:?}");
    let report = result.json();
    assert_eq!(report["summary"]["podsAnalyzed"], 1);
    assert_eq!(report["namespaces"][0]["namespace"], "reports");
}

#[test]
fn output_to_a_closed_pipe_is_a_clean_exit() {
    use std::process::Stdio;
    let mut child = support::kube_devops()
        .args(["analyze", "-f", "examples/manifests"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
}

const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: once\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: busybox:1.36\n";

fn pods_analyzed(run: &support::Run) -> u64 {
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("a JSON report");
    report["summary"]["podsAnalyzed"]
        .as_u64()
        .expect("podsAnalyzed")
}

/// Regression: a symbolic link back up the tree made one Job count as 16 pods, and an alias (a
/// link to a file, or `-f F -f F`) counted a file twice. Each file is read once, by device and
/// inode, and the cycle is said once.
#[test]
fn each_file_is_read_once_however_many_links_and_paths_lead_to_it() {
    let dir = temp_dir();
    let job = write(dir.path(), "job.yaml", JOB);
    std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).expect("link");
    std::os::unix::fs::symlink(&job, dir.path().join("alias.yaml")).expect("link");
    let root = dir.path().to_str().expect("utf-8");
    let result = run(&["analyze", "-f", root, "-o", "json"]);
    assert_eq!(result.code, 0, "{result:?}");
    assert_eq!(pods_analyzed(&result), 1, "{result:?}");
    assert_eq!(
        result.stderr.matches("a directory already read").count(),
        1,
        "the cycle is said once: {}",
        result.stderr
    );
    let twice = run(&["analyze", "-f", &job, "-f", &job, "-o", "json"]);
    assert_eq!(twice.code, 0, "{twice:?}");
    assert_eq!(pods_analyzed(&twice), 1, "{twice:?}");
}

/// Regression: a FIFO named like a manifest hung the run forever, and a link to /dev/zero in a
/// scanned directory grew without bound. In a walk, what is not a regular file is skipped.
#[test]
fn fifos_and_devices_in_a_directory_are_skipped_with_a_warning() {
    let dir = temp_dir();
    write(dir.path(), "job.yaml", JOB);
    let fifo = dir.path().join("x.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.yaml")).expect("link");
    let root = dir.path().to_str().expect("utf-8");
    // `run` waits with a deadline: a hang fails the test instead of stalling it.
    let result = run(&["analyze", "-f", root, "-o", "json"]);
    assert_eq!(result.code, 0, "{result:?}");
    assert_eq!(pods_analyzed(&result), 1, "{result:?}");
    assert_eq!(
        result.stderr.matches("not a regular file").count(),
        2,
        "{}",
        result.stderr
    );
}

/// Regression: `-f /dev/zero` or an endless stdin grew to gigabytes. An input stops at
/// `--max-input-bytes` (default 4 GiB) with exit 3 and a message naming it.
#[test]
fn an_endless_input_stops_at_the_byte_limit() {
    let zero = run(&["analyze", "-f", "/dev/zero", "--max-input-bytes", "1048576"]);
    assert_eq!(zero.code, 3, "{zero:?}");
    assert!(
        zero.stderr.contains("/dev/zero") && zero.stderr.contains("more than 1048576 bytes"),
        "{}",
        zero.stderr
    );
    let comments = "# c\n".repeat(600_000);
    let stdin = run_with_stdin(
        &["analyze", "-f", "-", "--max-input-bytes", "1048576"],
        &comments,
    );
    assert_eq!(stdin.code, 3, "{stdin:?}");
    assert!(stdin.stderr.contains("<stdin>"), "{}", stdin.stderr);
    assert!(stdin.stdout.is_empty(), "no summary: {}", stdin.stdout);
}

/// Regression: `analyze -f nope.yaml` printed "Cluster Health Score: 100, Healthy".
#[test]
fn no_input_at_all_prints_no_summary() {
    let result = run(&["analyze", "-f", "does-not-exist.yaml"]);
    assert_eq!(result.code, 3, "{result:?}");
    assert!(
        result.stdout.is_empty(),
        "no score without input: {}",
        result.stdout
    );
    assert!(
        result.stderr.contains("does-not-exist.yaml") && result.stderr.contains("no input"),
        "{}",
        result.stderr
    );
}

/// Regression: a container with no image read "image `` floats on `latest`"; the API server
/// rejects such a pod, so it is an invalid document, and the rest is still analysed.
#[test]
fn a_container_without_an_image_is_an_invalid_document() {
    let dir = temp_dir();
    let file = write(
        dir.path(),
        "pods.yaml",
        &format!(
            "{POD_LATEST}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: imageless\n  namespace: shop\nspec:\n  containers:\n  - name: app\n"
        ),
    );
    let result = run(&["analyze", "-f", &file, "-o", "json"]);
    assert_eq!(result.code, 3, "{result:?}");
    assert!(
        result
            .stderr
            .contains(&format!("{file}:11: Pod shop/imageless"))
            && result.stderr.contains("container `app` has no image"),
        "{}",
        result.stderr
    );
    assert_eq!(pods_analyzed(&result), 1, "the other pod is analysed");
    assert!(!result.stdout.contains("image ``"), "{}", result.stdout);
}

/// Regression: a document with a duplicate mapping key was rejected whole ("set
/// DuplicateKeyPolicy in Options"), while kubectl and the API server take the last value.
#[test]
fn a_duplicate_key_is_read_as_kubectl_reads_it_with_a_warning() {
    let dir = temp_dir();
    let file = write(
        dir.path(),
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx:latest\n        image: nginx:1.27\n",
    );
    let result = run(&["analyze", "-f", &file, "-o", "json"]);
    assert_eq!(result.code, 0, "{result:?}");
    assert_eq!(pods_analyzed(&result), 1, "the document is analysed");
    assert!(
        result.stderr.contains(&format!(
            "warning: {file}:12: duplicate mapping key `image`"
        )),
        "{}",
        result.stderr
    );
    assert!(
        !result.stderr.contains("DuplicateKeyPolicy"),
        "{}",
        result.stderr
    );
    let report: serde_json::Value = serde_json::from_str(&result.stdout).expect("JSON");
    assert_eq!(
        report["summary"]["latestTag"], 0,
        "the last value wins: {report}"
    );
    assert!(
        report["diagnostics"]
            .as_array()
            .is_some_and(|all| all.iter().any(|d| d["kind"] == "inputWarning")),
        "{report}"
    );
}

/// Regression: findings named neither the object's kind nor its file and line, so a Pod and a
/// Deployment of the same name could not be told apart, nor a finding traced to its manifest.
#[test]
fn findings_say_which_object_and_where_it_is_declared() {
    let dir = temp_dir();
    let yaml = write(
        dir.path(),
        "web.yaml",
        "# the pod\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: sidecar\n    image: envoy:1.30\n  - name: app\n    image: nginx\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: \"app\"\n        image: nginx:latest\n",
    );
    let json = write(
        dir.path(),
        "list.json",
        "{\"kind\": \"List\", \"items\": [\n{\"kind\": \"Pod\", \"metadata\": {\"name\": \"a\"}, \"spec\": {\"containers\": [{\"name\": \"app\", \"image\": \"nginx\"}]}},\n{\"kind\": \"Pod\", \"metadata\": {\"name\": \"b\"},\n \"spec\": {\"containers\": [\n  {\"name\": \"app\", \"image\": \"nginx\"}]}}\n]}\n",
    );
    let result = run(&["analyze", "-f", &yaml, "-f", &json, "-o", "json"]);
    assert_eq!(result.code, 0, "{result:?}");
    let report = result.json();
    let latest = |name: &str, kind: &str| {
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|finding| {
                finding["check"] == "latest-tag"
                    && finding["pod"] == name
                    && finding["kind"] == kind
            })
            .cloned()
            .unwrap_or_else(|| panic!("no latest-tag finding on {kind} {name}: {report}"))
    };
    let pod = latest("web", "Pod");
    assert_eq!(pod["apiVersion"], "v1");
    assert_eq!(pod["container"], "app");
    assert_eq!(pod["source"]["file"], yaml.as_str());
    assert_eq!(
        pod["source"]["line"], 2,
        "an object starts past leading comments"
    );
    assert_eq!(pod["source"]["containerLine"], 10, "{pod}");
    let deployment = latest("web", "Deployment");
    assert_eq!(deployment["apiVersion"], "apps/v1");
    assert_eq!(deployment["source"]["line"], 13, "and past the `---` line");
    assert_eq!(deployment["source"]["containerLine"], 23, "{deployment}");
    let second = latest("b", "Pod");
    assert_eq!(second["source"]["file"], json.as_str());
    assert_eq!(second["source"]["line"], 3);
    assert_eq!(second["source"]["containerLine"], 5, "{second}");

    let text = run(&["analyze", "-f", &yaml]);
    assert!(
        text.stdout.contains(&format!(
            "{yaml}:23: default Deployment/web [app] latest-tag:"
        )),
        "{}",
        text.stdout
    );
}

/// Kinds beyond the seed's are skipped unless `podTemplates:` opts in to them; then they are
/// read as the pods their templates describe, at the known or the given template path.
#[test]
fn other_workload_kinds_are_read_when_the_config_opts_in() {
    let dir = temp_dir();
    let manifests = write(
        dir.path(),
        "workloads.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: canary}\nspec:\n  template:\n    spec:\n      containers: [{name: app, image: nginx:latest}]\n---\napiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: hello}\nspec:\n  template:\n    spec:\n      containers: [{name: app, image: ko:latest}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: plain}\nspec: {ports: [{port: 80}]}\n---\napiVersion: v1\nkind: PodTemplate\nmetadata: {name: base}\ntemplate:\n  spec:\n    containers: [{name: app, image: base:latest}]\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  runtime:\n    pod:\n      spec:\n        containers: [{name: app, image: widget:latest}]\n",
    );
    let seed = run(&["analyze", "-f", &manifests, "-o", "json"]);
    assert_eq!(seed.code, 0, "{seed:?}");
    assert_eq!(seed.json()["summary"]["podsAnalyzed"], 0, "seed semantics");

    let config = write(
        dir.path(),
        "config.yaml",
        "podTemplates:\n- kind: Rollout\n- kind: Service\n- kind: PodTemplate\n- kind: Widget\n  apiVersion: example.com\n  templatePath: spec.runtime.pod\n",
    );
    let result = run(&[
        "analyze", "-f", &manifests, "--config", &config, "-o", "json",
    ]);
    assert_eq!(result.code, 0, "{result:?}");
    let report = result.json();
    assert_eq!(report["summary"]["podsAnalyzed"], 4, "{report}");
    let mut kinds: Vec<String> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| finding["check"] == "latest-tag")
        .map(|finding| {
            format!(
                "{}/{}",
                finding["kind"].as_str().unwrap_or(""),
                finding["pod"].as_str().unwrap_or("")
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "PodTemplate/base",
            "Rollout/canary",
            "Service/hello",
            "Widget/w"
        ]
    );

    let bad = write(dir.path(), "bad.yaml", "podTemplates:\n- kind: Widget\n");
    let refused = run(&["analyze", "-f", &manifests, "--config", &bad]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("templatePath"),
        "{}",
        refused.stderr
    );
}
