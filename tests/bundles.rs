//! Policy bundles: `policy bundles`, `policy show`, `policy apply` (printed, and applied by
//! server-side apply against the loopback API server fixture), the seed's `bundle-*` spellings,
//! `analyze --bundle` / `fix --bundle`, and a printed bundle in effect in the operator. The
//! seed's three bundles are asserted field by field as printed, so that the YAML is the seed's.

mod support;

use serde_json::{Value, json};
use support::apiserver::{ApiServer, pod};
use support::daemon::{DEADLINE, Operator};
use support::{Run, run, temp_dir, write};

use kube_devops_policy::{DevOpsPolicy, bundles};

const NAMES: [&str; 6] = [
    "baseline",
    "restricted",
    "permissive",
    "pss-baseline",
    "pss-restricted",
    "best-practices",
];

fn ok(run: Run) -> Run {
    assert_eq!(run.code, 0, "{run:?}");
    run
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|error| panic!("not YAML ({error}):\n{text}"))
}

/// The spec `policy apply NAME` prints, as the raw JSON of its keys.
fn printed_spec(name: &str) -> Value {
    yaml(&ok(run(&["policy", "apply", name, "-n", "team-a"])).stdout)["spec"].clone()
}

#[test]
fn the_list_names_every_bundle_with_its_mode_and_description() {
    let listed = ok(run(&["policy", "bundles", "-o", "json"])).json();
    let names: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|bundle| bundle["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, NAMES);
    assert_eq!(listed[1]["mode"], "enforce");
    assert_eq!(listed[2]["mode"], "audit");
    for bundle in listed.as_array().expect("a list") {
        assert!(
            bundle["description"].as_str().is_some_and(|d| d.len() > 20),
            "{bundle}"
        );
    }

    let text = ok(run(&["policy", "bundles"])).stdout;
    let first = text.lines().next().expect("a header");
    assert!(
        first.starts_with("NAME") && first.contains("MODE"),
        "{text}"
    );
    let restricted = text
        .lines()
        .find(|line| line.starts_with("restricted "))
        .expect("restricted listed");
    assert!(restricted.contains(" enforce "), "{restricted}");
}

#[test]
fn every_bundle_prints_a_policy_that_fits_the_crd_and_round_trips() {
    let crd = yaml(&ok(run(&["crd", "generate"])).stdout);
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    assert!(schema.is_object(), "no schema in the CRD");
    // The check itself catches what the API server would refuse.
    for wrong in [
        json!({"forbidLatestTags": true}),
        json!({"enforcementMode": "strict"}),
        json!({"maxRestartCount": "3"}),
        json!({"plugins": [{"name": "x", "checks": "all"}]}),
    ] {
        let mut errors = Vec::new();
        validate(&wrong, &schema["properties"]["spec"], "spec", &mut errors);
        assert!(!errors.is_empty(), "{wrong} passed");
    }
    for name in NAMES {
        let printed = ok(run(&["policy", "apply", name, "-n", "team-a"])).stdout;
        assert!(
            printed.starts_with(&format!("# kube-devops policy bundle `{name}`: ")),
            "{printed}"
        );
        let object = yaml(&printed);
        assert_eq!(object["apiVersion"], "devops.stochastic.io/v1", "{name}");
        assert_eq!(object["kind"], "DevOpsPolicy", "{name}");
        assert_eq!(
            object["metadata"],
            json!({"name": name, "namespace": "team-a"})
        );
        assert!(object.get("status").is_none(), "{name}: no status");
        let mut errors = Vec::new();
        validate(
            &object["spec"],
            &schema["properties"]["spec"],
            "spec",
            &mut errors,
        );
        assert!(
            errors.is_empty(),
            "{name} does not fit the CRD: {errors:#?}"
        );

        let policy: DevOpsPolicy = serde_saphyr::from_str(&printed).expect("a DevOpsPolicy");
        let bundle = bundles::get(name).expect("a bundle");
        assert_eq!(policy.spec, bundle.spec, "{name} round-trips");

        // JSON too.
        let json = ok(run(&[
            "policy", "apply", name, "-n", "team-a", "-o", "json",
        ]))
        .json();
        assert_eq!(json["spec"], object["spec"], "{name}: JSON and YAML agree");
    }
}

/// Checks `value` against a structural OpenAPI schema as the API server would: types, enums,
/// ranges, and no field the schema does not declare.
fn validate(value: &Value, schema: &Value, at: &str, errors: &mut Vec<String>) {
    let preserve = schema["x-kubernetes-preserve-unknown-fields"] == true;
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    let kind = schema["type"].as_str();
    let fits = match (kind, value) {
        (None, _) => true,
        (Some("object"), Value::Object(_)) | (Some("array"), Value::Array(_)) => true,
        (Some("string"), Value::String(_)) | (Some("boolean"), Value::Bool(_)) => true,
        (Some("integer"), Value::Number(n)) => n.is_i64() || n.is_u64(),
        (Some("number"), Value::Number(_)) => true,
        _ => false,
    };
    if !fits {
        errors.push(format!("{at}: {value} is not of type {kind:?}"));
        return;
    }
    if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), value.as_f64())
        && n < min
    {
        errors.push(format!("{at}: {n} is below {min}"));
    }
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                let path = format!("{at}.{key}");
                if let Some(property) = schema["properties"].get(key) {
                    validate(field, property, &path, errors);
                } else if schema["additionalProperties"].is_object() {
                    validate(field, &schema["additionalProperties"], &path, errors);
                } else if !preserve {
                    errors.push(format!("{path}: unknown field"));
                }
            }
            for required in schema["required"].as_array().into_iter().flatten() {
                if let Some(required) = required.as_str()
                    && !fields.contains_key(required)
                {
                    errors.push(format!("{at}.{required}: required"));
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                validate(item, &schema["items"], &format!("{at}[{index}]"), errors);
            }
        }
        _ => {}
    }
}

#[test]
fn the_seed_bundles_are_the_seeds_field_by_field() {
    assert_eq!(
        printed_spec("baseline"),
        json!({
            "forbidLatestTag": true,
            "requireReadinessProbe": true,
            "enforcementMode": "audit",
        })
    );

    let restricted = printed_spec("restricted");
    assert_eq!(restricted["forbidLatestTag"], true);
    assert_eq!(restricted["requireLivenessProbe"], true);
    assert_eq!(restricted["requireReadinessProbe"], true);
    assert_eq!(restricted["maxRestartCount"], 3);
    assert_eq!(restricted["forbidPendingDuration"], 300);
    assert_eq!(restricted["enforcementMode"], "enforce");
    assert_eq!(
        restricted["defaultProbe"],
        json!({"initialDelaySeconds": 5, "periodSeconds": 10})
    );
    assert_eq!(
        restricted["defaultResources"],
        json!({"cpuRequest": "100m", "cpuLimit": "500m", "memoryRequest": "128Mi", "memoryLimit": "256Mi"})
    );
    assert_eq!(
        restricted["severityOverrides"],
        json!({
            "latestTag": "critical",
            "missingLiveness": "high",
            "missingReadiness": "high",
            "highRestarts": "critical",
            "pending": "high",
        })
    );
    // The seed's fields, no other.
    assert_eq!(restricted.as_object().expect("object").len(), 9);

    assert_eq!(
        printed_spec("permissive"),
        json!({
            "forbidLatestTag": true,
            "requireLivenessProbe": true,
            "requireReadinessProbe": true,
            "maxRestartCount": 10,
            "forbidPendingDuration": 600,
            "enforcementMode": "audit",
            "severityOverrides": {
                "latestTag": "low",
                "missingLiveness": "low",
                "missingReadiness": "low",
                "highRestarts": "medium",
                "pending": "low",
            },
        })
    );
}

#[test]
fn the_library_bundles_add_their_plugin_to_the_seed_checks() {
    for (name, level, checks) in [
        ("pss-baseline", "baseline", 12),
        ("pss-restricted", "restricted", 15),
    ] {
        let spec = printed_spec(name);
        for seed in [
            "forbidLatestTag",
            "requireLivenessProbe",
            "requireReadinessProbe",
        ] {
            assert_eq!(spec[seed], true, "{name} {seed}");
        }
        assert_eq!(spec["enforcementMode"], "audit");
        let plugin = &spec["plugins"][0];
        assert_eq!(plugin["name"], "pod-security", "{name}");
        assert_eq!(plugin["settings"], json!({"level": level}), "{name}");
        assert_eq!(plugin["checks"].as_array().map(Vec::len), Some(checks));
    }
    let spec = printed_spec("best-practices");
    assert_eq!(spec["plugins"], json!([{"name": "best-practices"}]));
    assert_eq!(spec["defaultResources"]["memoryLimit"], "256Mi");
}

/// The listed checks are the level's: the same findings as the plugin choosing by level alone,
/// on the 242 pods of the PSS conformance corpus.
#[test]
fn the_pss_bundles_run_exactly_their_levels_checks() {
    let dir = temp_dir();
    for level in ["baseline", "restricted"] {
        let config = write(
            dir.path(),
            &format!("{level}.yaml"),
            &format!(
                "plugins:\n  pod-security:\n    enabled: true\n    settings: {{level: {level}}}\n"
            ),
        );
        let pod_security = |args: &[&str]| -> Vec<Value> {
            let run = run(&[
                &["analyze", "-f", "tests/pss-conformance", "-o", "json"],
                args,
            ]
            .concat());
            assert!(run.code <= 1, "{run:?}");
            let mut findings: Vec<Value> = run.json()["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .filter(|finding| finding["plugin"] == "pod-security")
                .map(|finding| {
                    json!([
                        finding["pod"],
                        finding["container"],
                        finding["check"],
                        finding["severity"]
                    ])
                })
                .collect();
            findings.sort_by_key(Value::to_string);
            findings
        };
        let by_level = pod_security(&["--config", &config]);
        let by_bundle = pod_security(&["--bundle", &format!("pss-{level}")]);
        assert!(by_level.len() > 100, "{level}: the corpus has findings");
        assert_eq!(by_bundle, by_level, "pss-{level}");
    }
}

#[test]
fn show_prints_what_a_bundle_enables() {
    let text = ok(run(&["policy", "show", "restricted"])).stdout;
    for expected in [
        "Mode:       enforce",
        "latest-tag       latest-tag                       critical*",
        "restarts         high-restarts                    critical*",
        "probes           missing-readiness-probe          high*",
        "pending          {\"minPendingSeconds\":300}",
        "restarts         {\"threshold\":3}",
        "initialDelaySeconds 5, periodSeconds 10",
        "cpuRequest 100m, cpuLimit 500m, memoryRequest 128Mi, memoryLimit 256Mi",
        "Off: best-practices/read-only-root-filesystem",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let permissive = ok(run(&["policy", "show", "permissive"])).stdout;
    assert!(
        permissive.contains("high-restarts                    medium*"),
        "{permissive}"
    );
    assert!(permissive.contains("{\"threshold\":10}"), "{permissive}");
    assert!(
        permissive.contains("defaultResources  none"),
        "{permissive}"
    );
    let pss = ok(run(&["policy", "show", "pss-restricted"])).stdout;
    assert!(pss.contains("pod-security     run-as-non-root"), "{pss}");
    assert!(
        pss.contains("pod-security/host-path-volumes"),
        "{pss}: replaced at restricted"
    );
}

#[test]
fn the_seed_spellings_are_aliases() {
    assert_eq!(
        ok(run(&["policy", "bundle-list"])).stdout,
        ok(run(&["policy", "bundles"])).stdout
    );
    assert_eq!(
        ok(run(&["policy", "bundle-show", "baseline"])).stdout,
        ok(run(&["policy", "show", "baseline"])).stdout
    );
    let seed = ok(run(&[
        "policy",
        "bundle-apply",
        "restricted",
        "--namespace",
        "shop",
        "--policy-name",
        "strict",
    ]))
    .stdout;
    assert_eq!(
        seed,
        ok(run(&[
            "policy",
            "apply",
            "restricted",
            "-n",
            "shop",
            "--name",
            "strict"
        ]))
        .stdout
    );
    assert_eq!(
        yaml(&seed)["metadata"],
        json!({"name": "strict", "namespace": "shop"})
    );
}

#[test]
fn an_unknown_bundle_exits_2_naming_the_known_ones() {
    let dir = temp_dir();
    let manifest = write(
        dir.path(),
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: nginx}]\n",
    );
    for args in [
        vec!["policy", "show", "strict"],
        vec!["policy", "apply", "strict", "-n", "shop"],
        vec!["policy", "bundle-apply", "strict", "--namespace", "shop"],
        vec!["analyze", "--bundle", "strict", "-f", &manifest],
        vec!["fix", "--bundle", "strict", "-f", &manifest],
    ] {
        let run = run(&args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains(
                "unknown bundle `strict`; the bundles are: baseline, restricted, permissive, \
                 pss-baseline, pss-restricted, best-practices"
            ),
            "{args:?}: {run:?}"
        );
        assert!(run.stdout.is_empty(), "{args:?}: {run:?}");
    }
    let run = run(&["policy", "apply", "restricted", "-n", "Shop"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("--namespace `Shop` is not a valid"),
        "{run:?}"
    );
}

#[test]
fn apply_creates_then_reports_unchanged_then_configured() {
    let server = ApiServer::start();
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    let apply =
        |args: &[&str]| run(&[&["--kubeconfig", kubeconfig.as_str(), "policy"], args].concat());

    let created = ok(apply(&["apply", "restricted", "-n", "shop", "--apply"]));
    assert_eq!(
        created.stdout,
        "devopspolicy.devops.stochastic.io/restricted created\n"
    );
    let stored = server
        .object("devopspolicies", Some("shop"), "restricted")
        .expect("created");
    assert_eq!(stored["spec"], printed_spec("restricted"));
    let applies = server.requests_with_method(
        "PATCH",
        "/apis/devops.stochastic.io/v1/namespaces/shop/devopspolicies/restricted",
    );
    assert_eq!(applies.len(), 1, "{applies:?}");
    assert!(
        applies[0].contains("fieldManager=kube-devops"),
        "{applies:?}"
    );

    let again = ok(apply(&["apply", "restricted", "-n", "shop", "--apply"]));
    assert_eq!(
        again.stdout,
        "devopspolicy.devops.stochastic.io/restricted unchanged\n"
    );
    let stored = server
        .object("devopspolicies", Some("shop"), "restricted")
        .expect("still there");
    assert_eq!(stored["spec"], printed_spec("restricted"));

    // The seed's spelling, another bundle under the same name: the object changes.
    let changed = ok(apply(&[
        "bundle-apply",
        "permissive",
        "--namespace",
        "shop",
        "--policy-name",
        "restricted",
        "--apply",
    ]));
    assert_eq!(
        changed.stdout,
        "devopspolicy.devops.stochastic.io/restricted configured\n"
    );
    let stored = server
        .object("devopspolicies", Some("shop"), "restricted")
        .expect("still there");
    assert_eq!(stored["spec"]["maxRestartCount"], 10);
    assert_eq!(
        stored["spec"]["severityOverrides"]["highRestarts"],
        "medium"
    );
}

/// A bundle applied as printed, seed severity keys included, is in effect in the operator: the
/// keys reach the checks (an unknown key would leave the policy not Ready).
#[test]
fn the_operator_applies_a_bundles_seed_severities() {
    let server = ApiServer::start();
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    ok(run(&[
        "--kubeconfig",
        &kubeconfig,
        "policy",
        "apply",
        "permissive",
        "-n",
        "shop",
        "--name",
        "default",
        "--apply",
    ]));
    server.apply_object(pod("shop", "web", "nginx:latest", "Running", 12));
    let _operator = Operator::start(&kubeconfig, &["--leader-election=false"]);
    let status = server.wait_for(DEADLINE, "the pod is evaluated", |store| {
        let status = store.object("devopspolicies", Some("shop"), "default")?["status"].clone();
        (status["podsAnalyzed"] == 1).then_some(status)
    });
    let ready = status["conditions"]
        .as_array()
        .and_then(|conditions| conditions.iter().find(|c| c["type"] == "Ready"))
        .unwrap_or_else(|| panic!("no Ready condition: {status:#}"));
    assert_eq!(ready["status"], "True", "{status:#}");
    let severity = |check: &str| {
        status["violations"]
            .as_array()
            .and_then(|all| all.iter().find(|v| v["check"] == check))
            .map(|v| v["severity"].clone())
    };
    assert_eq!(severity("latest-tag"), Some(json!("low")), "{status:#}");
    // 12 restarts, over permissive's 10: highRestarts is medium.
    assert_eq!(
        severity("high-restarts"),
        Some(json!("medium")),
        "{status:#}"
    );
    assert_eq!(
        status["findingsBySeverity"],
        json!({"critical": 0, "high": 0, "low": 1, "medium": 1}),
        "{status:#}"
    );
}

#[test]
fn apply_without_the_crd_says_so() {
    let server = ApiServer::start();
    server.set_installed("devopspolicies", false);
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    let run = run(&[
        "--kubeconfig",
        &kubeconfig,
        "policy",
        "apply",
        "baseline",
        "-n",
        "shop",
        "--apply",
    ]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(
        run.stderr
            .contains("devopspolicy.devops.stochastic.io/baseline"),
        "{run:?}"
    );
    assert!(run.stderr.contains("kube-devops crd install"), "{run:?}");
}

/// The finding of `check` on `pod`'s container `container`.
fn finding<'a>(report: &'a Value, check: &str, pod: &str, container: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == check && f["pod"] == pod && f["container"] == container)
        .unwrap_or_else(|| panic!("no {check} on {pod}/{container} in {report:#}"))
}

#[test]
fn analyze_with_a_bundle_uses_its_severities_and_thresholds() {
    let analyze = |bundle: &str| {
        let run = run(&[
            "analyze",
            "-f",
            "examples/manifests",
            "--bundle",
            bundle,
            "-o",
            "json",
        ]);
        assert_eq!(run.code, 0, "{run:?}");
        run.json()
    };
    let restricted = analyze("restricted");
    let permissive = analyze("permissive");

    for (check, pod, container, strict, lenient) in [
        ("latest-tag", "cache-0", "redis", "critical", "low"),
        (
            "missing-readiness-probe",
            "queue-worker",
            "worker",
            "high",
            "low",
        ),
        (
            "missing-liveness-probe",
            "nightly-report",
            "report",
            "high",
            "low",
        ),
    ] {
        assert_eq!(
            finding(&restricted, check, pod, container)["severity"],
            strict,
            "{check}"
        );
        assert_eq!(
            finding(&permissive, check, pod, container)["severity"],
            lenient,
            "{check}"
        );
    }
    // A pod-level finding: no container.
    let pending = |report: &Value| {
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["check"] == "pending" && f["pod"] == "cache-0")
            .map(|f| f["severity"].clone())
    };
    assert_eq!(pending(&restricted), Some(json!("high")));
    assert_eq!(pending(&permissive), Some(json!("low")));
    // 7 restarts: over restricted's 3 (critical), under permissive's 10.
    assert_eq!(
        finding(&restricted, "high-restarts", "api-7d4b9c-xk2lp", "api")["severity"],
        "critical"
    );
    assert!(
        !permissive["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["check"] == "high-restarts"),
        "{permissive:#}"
    );
    assert_eq!(restricted["summary"]["restartSeverity"], 5);
    assert_eq!(permissive["summary"]["restartSeverity"], 0);
    let score = |report: &Value| report["summary"]["healthScore"].as_u64().expect("score");
    assert!(
        score(&restricted) < score(&permissive),
        "restricted {} vs permissive {}",
        score(&restricted),
        score(&permissive)
    );
    // Baseline leaves the other fields at their defaults: the plugins' severities.
    let baseline = analyze("baseline");
    assert_eq!(
        finding(&baseline, "latest-tag", "cache-0", "redis")["severity"],
        "high"
    );
}

#[test]
fn a_config_file_layers_over_the_bundle() {
    let dir = temp_dir();
    let config = write(
        dir.path(),
        "config.yaml",
        "checks:\n  latest-tag: {severity: medium}\n  pending: {enabled: false}\n",
    );
    let run = run(&[
        "analyze",
        "-f",
        "examples/manifests",
        "--bundle",
        "restricted",
        "--config",
        &config,
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(
        finding(&report, "latest-tag", "cache-0", "redis")["severity"],
        "medium"
    );
    assert_eq!(
        finding(&report, "missing-readiness-probe", "queue-worker", "worker")["severity"],
        "high",
        "the bundle's other severities stay"
    );
    assert!(
        !report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["check"] == "pending"),
        "{report:#}"
    );
}

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: registry.example.com/api:1.0.0
          ports:
            - containerPort: 9000
";

#[test]
fn fix_with_restricted_adds_its_probe_and_resources() {
    let dir = temp_dir();
    let file = write(dir.path(), "api.yaml", DEPLOYMENT);
    ok(run(&[
        "fix",
        "--bundle",
        "restricted",
        "-f",
        &file,
        "--write",
    ]));
    let fixed: Value = yaml(&std::fs::read_to_string(&file).expect("fixed file"));
    let container = &fixed["spec"]["template"]["spec"]["containers"][0];
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(
            container[probe],
            json!({"tcpSocket": {"port": 9000}, "initialDelaySeconds": 5, "periodSeconds": 10}),
            "{probe}"
        );
    }
    assert_eq!(
        container["resources"],
        json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}})
    );

    // Without the bundle there are no default resources to add.
    let plain = write(dir.path(), "plain.yaml", DEPLOYMENT);
    ok(run(&["fix", "-f", &plain, "--write"]));
    let fixed: Value = yaml(&std::fs::read_to_string(&plain).expect("fixed file"));
    let container = &fixed["spec"]["template"]["spec"]["containers"][0];
    assert!(container["livenessProbe"].is_object());
    assert!(container.get("resources").is_none(), "{container}");

    // Permissive has no defaultResources either.
    let lenient = write(dir.path(), "lenient.yaml", DEPLOYMENT);
    ok(run(&[
        "fix",
        "--bundle",
        "permissive",
        "-f",
        &lenient,
        "--write",
    ]));
    let fixed: Value = yaml(&std::fs::read_to_string(&lenient).expect("fixed file"));
    assert!(
        fixed["spec"]["template"]["spec"]["containers"][0]
            .get("resources")
            .is_none()
    );
}

/// A printed bundle is a GitOps manifest as it is: `policy import` creates it, `policy diff`
/// finds no drift, and `--apply` then changes nothing (the same field manager).
#[test]
fn a_printed_bundle_imports_and_diffs_clean() {
    let server = ApiServer::start();
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    let printed = ok(run(&["policy", "apply", "restricted", "-n", "shop"])).stdout;
    let file = write(dir.path(), "restricted.yaml", &printed);
    let policy =
        |args: &[&str]| run(&[&["--kubeconfig", kubeconfig.as_str(), "policy"], args].concat());
    let imported = ok(policy(&["import", &file]));
    assert!(imported.stdout.contains("created"), "{imported:?}");
    let stored = server
        .object("devopspolicies", Some("shop"), "restricted")
        .expect("imported");
    assert_eq!(stored["spec"], printed_spec("restricted"));
    ok(policy(&["diff", &file]));
    let applied = ok(policy(&["apply", "restricted", "-n", "shop", "--apply"]));
    assert_eq!(
        applied.stdout,
        "devopspolicy.devops.stochastic.io/restricted unchanged\n"
    );
}
