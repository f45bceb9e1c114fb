//! `analyze -o sarif` and `-o junit`, each checked by the tool that reads it, not by our own
//! parser: Microsoft's SARIF validator (`@microsoft/sarif-multitool`, installed by scripts/test
//! into tests/tools/sarif) and PyPI's `junitparser` (in the venv target/junitparser, read by
//! tests/tools/junit_summary.py). Locations are checked against the manifests' text.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::apiserver::{ApiServer, pod};
use support::{plugin_wasm, run, run_in, temp_dir, workspace, write};

/// A Deployment whose two containers float on `latest` and have no probes.
const TWO_CONTAINERS: &str = "# two containers, one finding each per check
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop-api
  namespace: shop
spec:
  template:
    spec:
      containers:
        - name: app
          image: registry.example.com/api:latest
        - name: sidecar
          image: envoyproxy/envoy
";

const ALL_PLUGINS: &str = "plugins:
  pod-security: {enabled: true, settings: {level: restricted}}
  best-practices: {enabled: true}
";

// ---------------------------------------------------------------------------------------------
// The consumers

/// Errors Microsoft's validator finds in the SARIF `log` (its own SARIF output, results of level
/// `error`). Fails the test if the validator is not installed or does not run.
fn sarif_errors(log: &str) -> Vec<String> {
    let tool = workspace().join("tests/tools/sarif/node_modules/.bin/sarif-multitool");
    assert!(
        tool.exists(),
        "no {}: run scripts/test, which installs Microsoft's SARIF validator with `npm ci --prefix tests/tools/sarif`",
        tool.display()
    );
    let dir = temp_dir();
    let input = write(dir.path(), "report.sarif", log);
    let output = dir.path().join("validation.sarif");
    let ran = Command::new(&tool)
        .args(["validate", &input, "-o"])
        .arg(&output)
        // .NET without ICU: the validator needs no culture data, and a machine may lack libicu.
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .expect("run sarif-multitool");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&ran.stdout),
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(ran.status.success(), "sarif-multitool failed:\n{printed}");
    let text = std::fs::read_to_string(&output)
        .unwrap_or_else(|error| panic!("no validation log ({error}):\n{printed}"));
    let validation: Value = serde_json::from_str(&text).expect("the validation log is JSON");
    validation["runs"][0]["results"]
        .as_array()
        .expect("the validation log has results")
        .iter()
        .filter(|result| result["level"] == "error")
        .map(|result| format!("{}: {}", result["ruleId"], result["message"]))
        .chain(
            // The validator's own failures (a file it could not read) are notifications.
            validation["runs"][0]["invocations"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|invocation| {
                    invocation["toolExecutionNotifications"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .filter(|notification| notification["level"] == "error")
                .map(|notification| notification["message"].to_string()),
        )
        .collect()
}

fn assert_valid_sarif(log: &str) {
    // The validator checks nothing of a log whose `version` follows `runs` (see the test of a
    // broken log): ours must put it first for the validation to mean anything.
    let version = log.find("\"version\"").expect("a version");
    assert!(
        version < log.find("\"runs\"").expect("runs"),
        "version before runs"
    );
    let errors = sarif_errors(log);
    assert!(
        errors.is_empty(),
        "SARIF validator errors: {errors:#?}\n{log}"
    );
}

/// What junitparser reads in the JUnit XML `xml` (see tests/tools/junit_summary.py).
fn junit(xml: &str) -> Value {
    let python = workspace().join("target/junitparser/bin/python");
    assert!(
        python.exists(),
        "no {}: run scripts/test, which installs PyPI's junitparser into target/junitparser",
        python.display()
    );
    let dir = temp_dir();
    let input = write(dir.path(), "report.xml", xml);
    let ran = Command::new(&python)
        .arg(workspace().join("tests/tools/junit_summary.py"))
        .arg(&input)
        .output()
        .expect("run junit_summary.py");
    assert!(
        ran.status.success(),
        "junitparser could not read the report:\n{}\n{xml}",
        String::from_utf8_lossy(&ran.stderr)
    );
    serde_json::from_slice(&ran.stdout).expect("junit_summary.py prints JSON")
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// The 1-based line of the first line of `text` that is `needle` once trimmed.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.trim() == needle)
        .unwrap_or_else(|| panic!("no line `{needle}` in\n{text}"))
        + 1
}

fn sarif_of(dir: &Path, args: &[&str]) -> (Value, String) {
    let result = run_in(dir, args);
    let log: Value = serde_json::from_str(&result.stdout)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {result:?}"));
    (log, result.stdout)
}

fn results(log: &Value) -> &Vec<Value> {
    log["runs"][0]["results"].as_array().expect("results")
}

fn expected_level(severity: &str) -> &'static str {
    match severity {
        "critical" | "high" => "error",
        "medium" => "warning",
        "low" => "note",
        other => panic!("unknown severity {other}"),
    }
}

/// Every result names a rule of the run by id and index, at the level of its severity.
fn assert_rules_and_levels(log: &Value) {
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    for result in results(log) {
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], result["ruleId"], "{result:#}");
        let severity = result["properties"]["severity"].as_str().expect("severity");
        assert_eq!(result["level"], expected_level(severity), "{result:#}");
    }
    for rule in rules {
        let severity = rule["fullDescription"]["text"]
            .as_str()
            .and_then(|text| text.split("severity ").nth(1))
            .and_then(|rest| rest.split(',').next())
            .expect("the full description names the severity");
        assert_eq!(
            rule["defaultConfiguration"]["level"],
            expected_level(severity),
            "{rule:#}"
        );
    }
}

/// The enabled checks, as `-o json` lists them in its summary.
fn enabled_checks(dir: &Path, args: &[&str]) -> BTreeSet<String> {
    let mut json_args = args.to_vec();
    json_args.extend(["-o", "json"]);
    let report = run_in(dir, &json_args).json();
    report["summary"]["checks"]
        .as_object()
        .expect("checks")
        .keys()
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------------
// SARIF

#[test]
fn validator_reports_errors_in_a_broken_log() {
    // Without this, a validator that accepts everything would pass every other test.
    // Literal text: the validator reads nothing of a log whose `version` comes after `runs`
    // (as `json!` would order it), and reports no error at all.
    let broken = r#"{"version": "2.1.0", "runs": [{"tool": {"driver": {}},
        "results": [{"message": {"text": "x"}, "level": "fatal"}]}]}"#;
    let errors = sarif_errors(broken);
    assert!(
        errors.iter().any(|error| error.contains("JSON1002")),
        "a driver without a name is an error: {errors:#?}"
    );
    assert!(
        errors.iter().any(|error| error.contains("JSON1019")),
        "an unknown level is an error: {errors:#?}"
    );
}

#[test]
fn sarif_of_the_examples_validates_and_points_at_each_object_and_container() {
    let args = ["analyze", "-f", "examples/manifests", "-o", "sarif"];
    let (log, text) = sarif_of(&workspace(), &args);
    assert_valid_sarif(&text);
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "kube-devops");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(driver["informationUri"], env!("CARGO_PKG_REPOSITORY"));
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);

    // A rule per enabled check, each documented at an anchor docs/checks.md has.
    let rule_ids: BTreeSet<String> = driver["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|rule| rule["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(
        rule_ids,
        enabled_checks(&workspace(), &args[..3]),
        "{driver:#}"
    );
    let checks_doc = std::fs::read_to_string(workspace().join("docs/checks.md")).expect("doc");
    for rule in driver["rules"].as_array().expect("rules") {
        let uri = rule["helpUri"].as_str().expect("helpUri");
        assert!(uri.starts_with(env!("CARGO_PKG_REPOSITORY")), "{uri}");
        assert!(uri.contains("/docs/checks.md#"), "{uri}");
        assert!(uri.ends_with("#the-seeds-plugins-on-by-default"), "{uri}");
        let id = rule["id"].as_str().expect("id");
        assert!(
            checks_doc.contains(&format!("| `{id}` |")),
            "{id} is documented"
        );
    }
    assert!(checks_doc.contains("\n## The seed's plugins (on by default)\n"));
    assert_rules_and_levels(&log);

    // One result per finding, in the same order, at the finding's object or container line.
    let findings = run_in(
        &workspace(),
        &["analyze", "-f", "examples/manifests", "-o", "json"],
    )
    .json()["findings"]
        .as_array()
        .expect("findings")
        .clone();
    assert_eq!(results(&log).len(), findings.len());
    for (result, finding) in results(&log).iter().zip(&findings) {
        assert_eq!(result["ruleId"], finding["check"]);
        assert_eq!(result["message"]["text"], finding["message"]);
        let physical = &result["locations"][0]["physicalLocation"];
        assert_eq!(
            physical["artifactLocation"]["uri"],
            finding["source"]["file"]
        );
        assert_eq!(physical["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        let line = finding["source"]
            .get("containerLine")
            .unwrap_or(&finding["source"]["line"]);
        assert_eq!(physical["region"]["startLine"], *line, "{result:#}");
        let logical = &result["locations"][0]["logicalLocations"][0];
        assert_eq!(
            logical["fullyQualifiedName"],
            format!(
                "{}/{}/{}",
                finding["namespace"].as_str().unwrap(),
                finding["kind"].as_str().unwrap(),
                finding["pod"].as_str().unwrap()
            )
        );
    }

    // The lines are the manifest's own: the CronJob's init container `fetch` on latest.
    let worker = std::fs::read_to_string(workspace().join("examples/manifests/worker.yaml"))
        .expect("worker.yaml");
    let fetch = results(&log)
        .iter()
        .find(|result| result["properties"]["container"] == "fetch")
        .expect("a finding on the init container fetch");
    assert_eq!(
        fetch["locations"][0]["physicalLocation"]["region"]["startLine"],
        line_of(&worker, "- name: fetch")
    );
    let readiness = results(&log)
        .iter()
        .find(|result| {
            result["ruleId"] == "missing-readiness-probe"
                && result["properties"]["name"] == "queue-worker"
        })
        .expect("queue-worker lacks a readiness probe");
    assert_eq!(
        readiness["locations"][0]["physicalLocation"]["region"]["startLine"],
        line_of(&worker, "- name: worker")
    );
}

#[test]
fn sarif_of_a_multi_container_pod_points_at_each_container_and_fingerprints_are_stable() {
    let dir = temp_dir();
    let manifest = write(dir.path(), "k8s/api.yaml", TWO_CONTAINERS);
    write(dir.path(), "kube-devops.yaml", ALL_PLUGINS);
    // An absolute path inside the working directory is made relative to it.
    let args = [
        "analyze",
        "-f",
        manifest.as_str(),
        "--config",
        "kube-devops.yaml",
        "-o",
        "sarif",
    ];
    let (log, text) = sarif_of(dir.path(), &args);
    assert_valid_sarif(&text);
    assert_rules_and_levels(&log);
    let rules: BTreeSet<&str> = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|rule| rule["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        rules
            .iter()
            .map(|id| id.to_string())
            .collect::<BTreeSet<_>>(),
        enabled_checks(dir.path(), &args[..5])
    );
    let object_line = line_of(TWO_CONTAINERS, "apiVersion: apps/v1");
    let app_line = line_of(TWO_CONTAINERS, "- name: app");
    let sidecar_line = line_of(TWO_CONTAINERS, "- name: sidecar");
    let mut by_container: BTreeMap<String, usize> = BTreeMap::new();
    let mut levels = BTreeSet::new();
    for result in results(&log) {
        let physical = &result["locations"][0]["physicalLocation"];
        assert_eq!(physical["artifactLocation"]["uri"], "k8s/api.yaml");
        assert_eq!(physical["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        let expected = match result["properties"]["container"].as_str() {
            Some("app") => app_line,
            Some("sidecar") => sidecar_line,
            None => object_line,
            Some(other) => panic!("unknown container {other}"),
        };
        assert_eq!(physical["region"]["startLine"], expected, "{result:#}");
        assert!(rules.contains(result["ruleId"].as_str().expect("ruleId")));
        *by_container
            .entry(
                result["properties"]["container"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
            .or_default() += 1;
        levels.insert(result["level"].as_str().expect("level").to_owned());
    }
    assert!(
        by_container["sidecar"] > 0 && by_container["app"] > 0,
        "{by_container:?}"
    );
    // best-practices' `priority-class-not-set` is low: every level occurs.
    assert_eq!(
        levels,
        ["error", "note", "warning"].map(str::to_owned).into(),
        "{by_container:?}"
    );

    // Fingerprints tell results apart, and survive the object moving down the file.
    let fingerprints = |log: &Value| -> Vec<String> {
        results(log)
            .iter()
            .map(|result| {
                result["partialFingerprints"]["kubeDevopsFinding/v1"]
                    .as_str()
                    .expect("fingerprint")
                    .to_owned()
            })
            .collect()
    };
    let first = fingerprints(&log);
    assert_eq!(
        first.iter().collect::<BTreeSet<_>>().len(),
        first.len(),
        "one fingerprint per result: {first:?}"
    );
    write(
        dir.path(),
        "k8s/api.yaml",
        &format!("# moved down\n\n{TWO_CONTAINERS}"),
    );
    let (moved, _) = sarif_of(dir.path(), &args);
    assert_eq!(fingerprints(&moved), first);
    assert_eq!(
        results(&moved)[0]["locations"][0]["physicalLocation"]["region"]["startLine"]
            .as_u64()
            .expect("line"),
        results(&log)[0]["locations"][0]["physicalLocation"]["region"]["startLine"]
            .as_u64()
            .expect("line")
            + 2
    );
}

#[test]
fn sarif_reports_unreadable_input_as_a_notification_and_stays_valid() {
    let dir = temp_dir();
    write(dir.path(), "api.yaml", TWO_CONTAINERS);
    write(dir.path(), "broken.yaml", "kind: Pod\nmetadata: [\n");
    let result = run_in(
        dir.path(),
        &[
            "analyze",
            "-f",
            "api.yaml",
            "-f",
            "broken.yaml",
            "-o",
            "sarif",
        ],
    );
    assert_eq!(result.code, 3, "{result:?}");
    assert_valid_sarif(&result.stdout);
    let log: Value = serde_json::from_str(&result.stdout).expect("JSON");
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let error = invocation["toolExecutionNotifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .find(|notification| notification["level"] == "error")
        .expect("the unreadable document is an error notification");
    assert_eq!(
        error["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "broken.yaml"
    );
    assert!(!results(&log).is_empty(), "the readable file was analysed");
}

#[test]
fn sarif_of_a_cluster_uses_logical_locations_and_validates() {
    let server = ApiServer::start();
    server.add_pods([
        pod("shop", "cart-1", "nginx:latest", "Running", 0),
        pod("shop", "cart-2", "nginx:1.27", "Running", 9),
        pod("billing", "invoice-0", "busybox", "Pending", 0),
    ]);
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    let result = run(&["analyze", "--kubeconfig", &kubeconfig, "-o", "sarif"]);
    assert_eq!(result.code, 0, "{result:?}");
    assert_valid_sarif(&result.stdout);
    let log: Value = serde_json::from_str(&result.stdout).expect("JSON");
    assert_rules_and_levels(&log);
    let mut located = BTreeSet::new();
    for result in results(&log) {
        let location = &result["locations"][0];
        assert!(location.get("physicalLocation").is_none(), "{result:#}");
        let logical = &location["logicalLocations"][0];
        assert_eq!(logical["kind"], "resource");
        assert_eq!(
            logical["fullyQualifiedName"],
            format!(
                "{}/Pod/{}",
                result["properties"]["namespace"].as_str().unwrap(),
                logical["name"].as_str().unwrap()
            )
        );
        located.insert((
            result["ruleId"].as_str().unwrap().to_owned(),
            logical["fullyQualifiedName"].as_str().unwrap().to_owned(),
        ));
    }
    for expected in [
        ("latest-tag", "shop/Pod/cart-1"),
        ("high-restarts", "shop/Pod/cart-2"),
        ("latest-tag", "billing/Pod/invoice-0"),
        ("pending", "billing/Pod/invoice-0"),
    ] {
        assert!(
            located.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} in {located:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// JUnit

/// The JSON report's findings grouped as JUnit test cases: (classname, check) → severities and
/// messages.
fn findings_by_case(report: &Value) -> BTreeMap<(String, String), Vec<(String, String)>> {
    let mut cases: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
    for finding in report["findings"].as_array().expect("findings") {
        let classname = format!(
            "{}/{}/{}",
            finding["namespace"].as_str().unwrap(),
            finding["kind"].as_str().unwrap(),
            finding["pod"].as_str().unwrap()
        );
        cases
            .entry((classname, finding["check"].as_str().unwrap().to_owned()))
            .or_default()
            .push((
                finding["severity"].as_str().unwrap().to_owned(),
                finding["message"].as_str().unwrap().to_owned(),
            ));
    }
    cases
}

const RANKS: [&str; 4] = ["low", "medium", "high", "critical"];

fn rank(severity: &str) -> usize {
    RANKS.iter().position(|s| *s == severity).expect("severity")
}

/// Checks junitparser's reading of `xml` against the JSON report of the same run: a suite per
/// namespace, a case per listed object and enabled check, a failure per case with findings at
/// or above `gate` (all of them in it), the rest passing with the findings in system-out.
fn assert_junit_matches(xml: &str, report: &Value, gate: Option<&str>) -> Value {
    let parsed = junit(xml);
    let checks: BTreeSet<String> = report["summary"]["checks"]
        .as_object()
        .expect("checks")
        .keys()
        .cloned()
        .collect();
    let expected = findings_by_case(report);
    let namespaces: Vec<&str> = report["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .map(|namespace| namespace["namespace"].as_str().unwrap())
        .collect();
    let suites = parsed["suites"].as_array().expect("suites");
    assert_eq!(
        suites
            .iter()
            .map(|suite| suite["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        namespaces
    );
    let mut totals = [0u64; 4];
    let mut seen = BTreeSet::new();
    for (suite, summary) in suites.iter().zip(report["namespaces"].as_array().unwrap()) {
        let cases = suite["cases"].as_array().expect("cases");
        let objects: BTreeSet<&str> = cases
            .iter()
            .map(|case| case["classname"].as_str().unwrap())
            .collect();
        assert_eq!(
            suite["properties"]["pods-analyzed"],
            summary["podsAnalyzed"].to_string()
        );
        // Every analysed object, findings or not (the examples' `web` has none).
        assert_eq!(
            objects.len() as u64,
            summary["podsAnalyzed"].as_u64().unwrap()
        );
        // A test case per object and enabled check, each check once per object.
        assert_eq!(cases.len(), objects.len() * checks.len(), "{suite:#}");
        for object in &objects {
            let names: BTreeSet<String> = cases
                .iter()
                .filter(|case| case["classname"] == *object)
                .map(|case| case["name"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(names, checks, "{object}");
        }
        let mut counted = [0u64; 4];
        for case in cases {
            let key = (
                case["classname"].as_str().unwrap().to_owned(),
                case["name"].as_str().unwrap().to_owned(),
            );
            counted[0] += 1;
            let findings = expected.get(&key).cloned().unwrap_or_default();
            let (failing, below): (Vec<_>, Vec<_>) = findings
                .iter()
                .partition(|(severity, _)| gate.is_none_or(|gate| rank(severity) >= rank(gate)));
            let outcome = &case["outcome"];
            match outcome["kind"].as_str() {
                Some("failure") => {
                    counted[1] += 1;
                    assert!(!failing.is_empty(), "{case:#}");
                    let worst = failing.iter().map(|(s, _)| rank(s)).max().unwrap();
                    assert_eq!(outcome["type"], RANKS[worst], "{case:#}");
                    for (_, message) in &failing {
                        assert!(
                            outcome["text"].as_str().unwrap().contains(message.as_str()),
                            "{message} in {case:#}"
                        );
                    }
                }
                Some("error") => counted[2] += 1,
                Some("skipped") => {
                    counted[3] += 1;
                    assert!(findings.is_empty(), "{case:#}");
                }
                None => assert!(failing.is_empty(), "{case:#}"),
                Some(other) => panic!("unknown outcome {other}"),
            }
            for (_, message) in &below {
                assert!(
                    case["system_out"]
                        .as_str()
                        .unwrap_or_default()
                        .contains(message.as_str()),
                    "{message} below the gate in system-out: {case:#}"
                );
            }
            seen.insert(key);
        }
        // The declared counts are the elements'.
        for (index, field) in ["tests", "failures", "errors", "skipped"]
            .iter()
            .enumerate()
        {
            assert_eq!(suite[field], counted[index], "{field} of {suite:#}");
            totals[index] += counted[index];
        }
    }
    for (index, field) in ["tests", "failures", "errors", "skipped"]
        .iter()
        .enumerate()
    {
        assert_eq!(parsed[field], totals[index], "{field}");
    }
    // Every finding is in a test case.
    for key in expected.keys() {
        assert!(seen.contains(key), "{key:?} has a test case");
    }
    parsed
}

fn case<'a>(parsed: &'a Value, classname: &str, check: &str) -> &'a Value {
    parsed["suites"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|suite| suite["cases"].as_array().unwrap())
        .find(|case| case["classname"] == classname && case["name"] == check)
        .unwrap_or_else(|| panic!("no test case {classname} {check}"))
}

#[test]
fn junit_of_the_examples_has_a_suite_per_namespace_and_a_case_per_object_and_check() {
    let report = run(&["analyze", "-f", "examples/manifests", "-o", "json"]).json();
    let result = run(&["analyze", "-f", "examples/manifests", "-o", "junit"]);
    assert_eq!(result.code, 0, "{result:?}");
    let parsed = assert_junit_matches(&result.stdout, &report, None);
    // Both latest-tag findings of the CronJob (two containers) are one failure.
    let latest = case(&parsed, "reports/CronJob/nightly-report", "latest-tag");
    assert_eq!(latest["outcome"]["kind"], "failure");
    let text = latest["outcome"]["text"].as_str().unwrap();
    assert!(
        text.contains("container fetch:") && text.contains("container report:"),
        "{text}"
    );
    // Status checks do not run on a workload's template.
    let pending = case(&parsed, "reports/CronJob/nightly-report", "pending");
    assert_eq!(pending["outcome"]["kind"], "skipped");
    // A medium finding fails without a gate.
    let readiness = case(
        &parsed,
        "shop/StatefulSet/queue-worker",
        "missing-readiness-probe",
    );
    assert_eq!(readiness["outcome"]["type"], "medium");
}

#[test]
fn junit_with_fail_on_high_lets_lower_findings_pass() {
    let report = run(&["analyze", "-f", "examples/manifests", "-o", "json"]).json();
    let result = run(&[
        "analyze",
        "-f",
        "examples/manifests",
        "-o",
        "junit",
        "--fail-on",
        "high",
    ]);
    assert_eq!(
        result.code, 1,
        "the gate fails on the high findings: {result:?}"
    );
    let parsed = assert_junit_matches(&result.stdout, &report, Some("high"));
    let readiness = case(
        &parsed,
        "shop/StatefulSet/queue-worker",
        "missing-readiness-probe",
    );
    assert!(readiness["outcome"].is_null(), "{readiness:#}");
    assert!(
        readiness["system_out"]
            .as_str()
            .unwrap()
            .contains("no readiness probe"),
        "{readiness:#}"
    );
    let restarts = case(&parsed, "shop/Pod/api-7d4b9c-xk2lp", "high-restarts");
    assert_eq!(restarts["outcome"]["kind"], "failure");

    // With --fail-on critical nothing fails, and the document says so.
    let result = run(&[
        "analyze",
        "-f",
        "examples/manifests",
        "-o",
        "junit",
        "--fail-on",
        "critical",
    ]);
    assert_eq!(result.code, 0, "{result:?}");
    let parsed = assert_junit_matches(&result.stdout, &report, Some("critical"));
    assert_eq!(parsed["failures"], 0);
}

#[test]
fn hostile_names_and_messages_still_make_valid_junit_and_sarif() {
    let dir = temp_dir();
    // A namespace, a name, an annotation and a container with markup, a CDATA end, quotes and
    // control characters; the image (and so latest-tag's message) too.
    let manifest = "apiVersion: v1
kind: Pod
metadata:
  name: \"evil<&\\\"]]>\\u0007'\"
  namespace: \"ns<&>\"
  annotations: {note: \"<&\\\"]]>\\u0001\"}
spec:
  containers:
    - name: \"c]]>&\\u0001\"
      image: \"nginx\\u0001<&\\\"]]>\\u001b[31m\"
";
    write(dir.path(), "hostile.yaml", manifest);
    // The misbehave plugin echoes pod names into its messages (stash mode).
    let plugin = plugin_wasm("misbehave");
    write(
        dir.path(),
        "kube-devops.yaml",
        "plugins:\n  misbehave:\n    settings: {mode: stash}\n",
    );
    let args = |output: &'static str| {
        vec![
            "analyze".to_owned(),
            "-f".to_owned(),
            "hostile.yaml".to_owned(),
            "--plugin".to_owned(),
            plugin.clone(),
            "--config".to_owned(),
            "kube-devops.yaml".to_owned(),
            "-o".to_owned(),
            output.to_owned(),
        ]
    };
    let run_args = |output| {
        let owned = args(output);
        let borrowed: Vec<&str> = owned.iter().map(String::as_str).collect();
        run_in(dir.path(), &borrowed)
    };
    let report = run_args("json").json();
    let messages: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| finding["message"].as_str().unwrap())
        .collect();
    assert!(
        messages
            .iter()
            .any(|message| message.contains('\u{7}') && message.starts_with("seen:")),
        "the plugin's message carries a control character: {messages:?}"
    );

    let result = run_args("junit");
    assert_eq!(result.code, 0, "{result:?}");
    let parsed = junit(&result.stdout);
    assert_eq!(parsed["suites"][0]["name"], "ns<&>");
    let cases = parsed["suites"][0]["cases"].as_array().unwrap();
    // XML 1.0 cannot carry U+0007: it reads as U+FFFD, everything else as written.
    assert_eq!(cases[0]["classname"], "ns<&>/Pod/evil<&\"]]>\u{FFFD}'");
    let stash = case(&parsed, "ns<&>/Pod/evil<&\"]]>\u{FFFD}'", "misbehave");
    assert_eq!(
        stash["outcome"]["message"],
        "seen: ns<&>/evil<&\"]]>\u{FFFD}'"
    );
    let latest = case(&parsed, "ns<&>/Pod/evil<&\"]]>\u{FFFD}'", "latest-tag");
    assert!(
        latest["outcome"]["text"]
            .as_str()
            .unwrap()
            .contains("container c]]>&\u{FFFD}: image `nginx\u{FFFD}<&\"]]>\u{FFFD}[31m`"),
        "{latest:#}"
    );

    let result = run_args("sarif");
    assert_eq!(result.code, 0, "{result:?}");
    assert_valid_sarif(&result.stdout);
    let log: Value = serde_json::from_str(&result.stdout).expect("JSON");
    assert!(
        results(&log)
            .iter()
            .any(|result| result["message"]["text"] == "seen: ns<&>/evil<&\"]]>\u{7}'"),
        "JSON carries the control character as it is"
    );
}

#[test]
fn junit_marks_the_checks_of_a_failed_plugin_as_errors() {
    let dir = temp_dir();
    write(
        dir.path(),
        "pods.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: good, namespace: team}\nspec:\n  containers:\n    - {name: app, image: nginx:1.27}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: bad, namespace: team}\nspec:\n  containers:\n    - {name: app, image: nginx:1.27}\n",
    );
    write(
        dir.path(),
        "kube-devops.yaml",
        "plugins:\n  misbehave:\n    settings: {mode: panic, onlyPod: bad}\n",
    );
    let plugin = plugin_wasm("misbehave");
    let args = |output: &'static str| {
        vec![
            "analyze",
            "-f",
            "pods.yaml",
            "--plugin",
            plugin.as_str(),
            "--config",
            "kube-devops.yaml",
            "--allow-incomplete",
            "-o",
            output,
        ]
    };
    let report = run_in(dir.path(), &args("json")).json();
    let result = run_in(dir.path(), &args("junit"));
    assert_eq!(result.code, 0, "{result:?}");
    let parsed = assert_junit_matches(&result.stdout, &report, None);
    let failed = case(&parsed, "team/Pod/bad", "misbehave");
    assert_eq!(failed["outcome"]["kind"], "error", "{failed:#}");
    assert!(
        failed["outcome"]["message"]
            .as_str()
            .unwrap()
            .contains("plugin `misbehave` failed on pod team/bad"),
        "{failed:#}"
    );
    assert_eq!(
        case(&parsed, "team/Pod/good", "misbehave")["outcome"]["kind"],
        "failure"
    );
    assert_eq!(parsed["errors"], 1);
}
