//! `policy export`, `policy import` and `policy diff` against the loopback API server fixture,
//! through the binary's real kube-rs client: clean sorted exports, idempotent round trips,
//! server-side apply that removes what the files no longer set, the server's dry run, invalid
//! objects reported while the rest goes through, drift shown as a unified diff.

mod support;

use serde_json::{Value, json};
use support::apiserver::{ApiServer, kubeconfig_for};
use support::{Run, run, temp_dir, write};

const POLICIES: &str = "/apis/devops.stochastic.io/v1/namespaces/";

/// A DevOpsPolicy as a cluster holds it: status, server metadata, kubectl's annotation.
fn stored_policy(namespace: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "devops.stochastic.io/v1",
        "kind": "DevOpsPolicy",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": format!("uid-{namespace}-{name}"),
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {},
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{\"spec\":{}}",
                "team": "payments"
            },
            "managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "devops.stochastic.io/v1",
                "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
        },
        "spec": spec,
        "status": {"healthScore": 80, "podsAnalyzed": 3}
    })
}

/// `kube-devops --kubeconfig K ARGS…`.
fn devops(kubeconfig: &str, args: &[&str]) -> Run {
    let mut all = vec!["--kubeconfig", kubeconfig];
    all.extend_from_slice(args);
    run(&all)
}

fn policy_yaml(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: devops.stochastic.io/v1\nkind: DevOpsPolicy\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n{spec}"
    )
}

#[test]
fn export_is_clean_sorted_and_an_import_of_it_changes_nothing() {
    let server = ApiServer::start();
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    server.apply_object(stored_policy("web", "zeta", json!({"maxRestartCount": 5})));
    server.apply_object(stored_policy(
        "shop",
        "beta",
        json!({"enforcementMode": "enforce", "severityOverrides": {"latest-tag": "critical"}}),
    ));
    server.apply_object(stored_policy(
        "shop",
        "alpha",
        json!({"forbidLatestTag": true}),
    ));

    let exported = devops(&kubeconfig, &["policy", "export", "-A"]);
    assert_eq!(exported.code, 0, "{exported:?}");
    for server_owned in [
        "status",
        "managedFields",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "selfLink",
        "last-applied-configuration",
        "labels",
        "healthScore",
    ] {
        assert!(
            !exported.stdout.contains(server_owned),
            "{server_owned} exported: {exported:?}"
        );
    }
    let order: Vec<&str> = exported
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("  name: "))
        .collect();
    assert_eq!(order, ["alpha", "beta", "zeta"], "{exported:?}");
    assert_eq!(exported.stdout.matches("---\n").count(), 3, "{exported:?}");
    assert!(
        exported
            .stdout
            .starts_with("---\napiVersion: devops.stochastic.io/v1\n")
    );
    assert!(exported.stdout.contains("team: payments"), "{exported:?}");

    let file = write(dir.path(), "policies.yaml", &exported.stdout);
    let imported = devops(&kubeconfig, &["policy", "import", &file]);
    assert_eq!(imported.code, 0, "{imported:?}");
    assert_eq!(
        imported.stdout,
        "devopspolicy.devops.stochastic.io/alpha unchanged\n\
         devopspolicy.devops.stochastic.io/beta unchanged\n\
         devopspolicy.devops.stochastic.io/zeta unchanged\n"
    );
    let again = devops(&kubeconfig, &["policy", "export", "-A"]);
    assert_eq!(again.stdout, exported.stdout, "export after import");

    let diff = devops(&kubeconfig, &["policy", "diff", &file]);
    assert_eq!((diff.code, diff.stdout.as_str()), (0, ""), "{diff:?}");
}

#[test]
fn export_takes_the_contexts_namespace_one_namespace_or_json() {
    let server = ApiServer::start();
    let dir = temp_dir();
    server.apply_object(stored_policy("web", "zeta", json!({"maxRestartCount": 5})));
    server.apply_object(stored_policy("shop", "alpha", json!({})));
    server.apply_object(stored_policy("default", "base", json!({})));
    let plain = kubeconfig_for(&server.url, dir.path());
    let text = std::fs::read_to_string(&plain).expect("kubeconfig");
    let with_namespace = text.replace(
        "    user: tester\n",
        "    user: tester\n    namespace: web\n",
    );
    assert_ne!(text, with_namespace);
    let in_web = write(dir.path(), "web-config", &with_namespace);

    let names = |run: &Run| -> Vec<String> {
        run.stdout
            .lines()
            .filter_map(|line| line.strip_prefix("  name: ").map(str::to_owned))
            .collect()
    };
    let default = devops(&plain, &["policy", "export"]);
    assert_eq!(names(&default), ["base"], "{default:?}");
    let context = devops(&in_web, &["policy", "export"]);
    assert_eq!(names(&context), ["zeta"], "{context:?}");
    let shop = devops(&in_web, &["policy", "export", "-n", "shop"]);
    assert_eq!(names(&shop), ["alpha"], "{shop:?}");

    let json = devops(&plain, &["policy", "export", "-A", "-o", "json"]);
    assert_eq!(json.code, 0, "{json:?}");
    let list = json.json();
    assert_eq!(
        (list["apiVersion"].as_str(), list["kind"].as_str()),
        (Some("v1"), Some("List"))
    );
    let items = list["items"].as_array().expect("items");
    let keys: Vec<(&str, &str)> = items
        .iter()
        .map(|item| {
            (
                item["metadata"]["namespace"].as_str().unwrap_or_default(),
                item["metadata"]["name"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [("default", "base"), ("shop", "alpha"), ("web", "zeta")]
    );
    assert_eq!(
        items[2]["metadata"],
        json!({"name": "zeta", "namespace": "web", "annotations": {"team": "payments"}})
    );
    assert!(items[2].get("status").is_none());

    // A JSON List imports as well as YAML.
    let file = write(dir.path(), "policies.json", &json.stdout);
    let imported = devops(&plain, &["policy", "import", &file]);
    assert_eq!(imported.code, 0, "{imported:?}");
    assert_eq!(
        imported.stdout.matches(" unchanged\n").count(),
        3,
        "{imported:?}"
    );
}

#[test]
fn import_creates_then_configures_then_leaves_unchanged_and_removes_dropped_fields() {
    let server = ApiServer::start();
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    let first = format!(
        "{}---\n{}",
        policy_yaml(
            "shop",
            "strict",
            "  maxRestartCount: 3\n  forbidPendingDuration: 300\n"
        ),
        policy_yaml("web", "relaxed", "  enforcementMode: audit\n")
    );
    let file = write(dir.path(), "policies.yaml", &first);

    let created = devops(&kubeconfig, &["policy", "import", &file]);
    assert_eq!(created.code, 0, "{created:?}");
    assert_eq!(
        created.stdout,
        "devopspolicy.devops.stochastic.io/strict created\n\
         devopspolicy.devops.stochastic.io/relaxed created\n"
    );
    let stored = server
        .object("devopspolicies", Some("shop"), "strict")
        .expect("created");
    assert_eq!(
        stored["spec"],
        json!({"maxRestartCount": 3, "forbidPendingDuration": 300})
    );
    assert_eq!(
        stored["metadata"]["managedFields"][0]["manager"],
        "kube-devops"
    );
    let applies = server.requests_with_method("PATCH", POLICIES);
    assert_eq!(applies.len(), 2, "{applies:?}");
    for apply in &applies {
        assert!(apply.contains("fieldManager=kube-devops"), "{apply}");
        assert!(apply.contains("fieldValidation=Strict"), "{apply}");
        assert!(!apply.contains("dryRun"), "{apply}");
    }

    // One field changed, one dropped: the dropped one is gone from the cluster.
    let second = first.replace(
        "  maxRestartCount: 3\n  forbidPendingDuration: 300\n",
        "  maxRestartCount: 5\n",
    );
    std::fs::write(&file, &second).expect("write");
    let configured = devops(&kubeconfig, &["policy", "import", &file]);
    assert_eq!(configured.code, 0, "{configured:?}");
    assert_eq!(
        configured.stdout,
        "devopspolicy.devops.stochastic.io/strict configured\n\
         devopspolicy.devops.stochastic.io/relaxed unchanged\n"
    );
    let stored = server
        .object("devopspolicies", Some("shop"), "strict")
        .expect("kept");
    assert_eq!(stored["spec"], json!({"maxRestartCount": 5}));

    let version = server.resource_version();
    let unchanged = devops(&kubeconfig, &["policy", "import", &file]);
    assert_eq!(unchanged.code, 0, "{unchanged:?}");
    assert_eq!(
        unchanged.stdout.matches(" unchanged\n").count(),
        2,
        "{unchanged:?}"
    );
    assert_eq!(server.resource_version(), version, "nothing written");

    let diff = devops(&kubeconfig, &["policy", "diff", &file]);
    assert_eq!((diff.code, diff.stdout.as_str()), (0, ""), "{diff:?}");
}

#[test]
fn import_under_dry_run_asks_the_server_and_stores_nothing() {
    let server = ApiServer::start();
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    let file = write(
        dir.path(),
        "policy.yaml",
        &policy_yaml("shop", "strict", "  maxRestartCount: 3\n"),
    );

    let dry = devops(&kubeconfig, &["policy", "import", "--dry-run", &file]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert_eq!(
        dry.stdout,
        "devopspolicy.devops.stochastic.io/strict created (dry run)\n"
    );
    assert!(
        server.objects("devopspolicies").is_empty(),
        "stored nothing"
    );
    let applies = server.requests_with_method("PATCH", POLICIES);
    assert_eq!(applies.len(), 1, "{applies:?}");
    assert!(applies[0].contains("dryRun=All"), "{applies:?}");

    let created = devops(&kubeconfig, &["policy", "import", &file]);
    assert_eq!(created.code, 0, "{created:?}");
    let version = server.resource_version();
    std::fs::write(
        &file,
        policy_yaml("shop", "strict", "  maxRestartCount: 7\n"),
    )
    .expect("write");
    let dry = devops(&kubeconfig, &["policy", "import", "--dry-run", &file]);
    assert_eq!(
        dry.stdout, "devopspolicy.devops.stochastic.io/strict configured (dry run)\n",
        "{dry:?}"
    );
    assert_eq!(
        server.resource_version(),
        version,
        "the dry run changed nothing"
    );
    let stored = server
        .object("devopspolicies", Some("shop"), "strict")
        .expect("kept");
    assert_eq!(stored["spec"]["maxRestartCount"], 3);

    // An invalid object fails the dry run as it would the real apply.
    std::fs::write(&file, policy_yaml("shop", "strict", "  bogus: 1\n")).expect("write");
    let refused = devops(&kubeconfig, &["policy", "import", "--dry-run", &file]);
    assert_eq!(refused.code, 3, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains(".spec.bogus: field not declared in schema"),
        "{refused:?}"
    );
}

#[test]
fn invalid_objects_are_reported_with_the_servers_message_and_the_rest_is_applied() {
    let server = ApiServer::start();
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    let text = [
        policy_yaml("shop", "good", "  maxRestartCount: 3\n"),
        policy_yaml("shop", "unknown-field", "  maxRestartCount: 3\n  bogus: true\n"),
        policy_yaml("shop", "wrong-type", "  maxRestartCount: three\n"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\n".to_owned(),
        "apiVersion: devops.stochastic.io/v1\nkind: DevOpsPolicy\nmetadata:\n  name: nowhere\nspec: {}\n"
            .to_owned(),
        policy_yaml("web", "also-good", "  enforcementMode: enforce\n"),
    ]
    .join("---\n");
    let file = write(dir.path(), "mixed.yaml", &text);

    let imported = devops(&kubeconfig, &["policy", "import", &file]);
    assert_eq!(imported.code, 3, "{imported:?}");
    assert_eq!(
        imported.stdout,
        "devopspolicy.devops.stochastic.io/good created\n\
         devopspolicy.devops.stochastic.io/also-good created\n"
    );
    let line = |needle: &str| -> String {
        imported
            .stderr
            .lines()
            .find(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no error about {needle}: {imported:?}"))
            .to_owned()
    };
    let unknown = line("unknown-field");
    assert!(unknown.contains(&format!("{file}:")), "{unknown}");
    assert!(
        unknown.contains(
            "failed to create typed patch object (shop/unknown-field; devops.stochastic.io/v1, \
             Kind=DevOpsPolicy): .spec.bogus: field not declared in schema"
        ),
        "{unknown}"
    );
    // A real server answers an unknown field in an apply with 500: still this object's failure.
    assert!(unknown.contains("(500 InternalError)"), "{unknown}");
    let wrong = line("wrong-type");
    assert!(wrong.contains("422"), "{wrong}");
    assert!(
        wrong.contains("spec.maxRestartCount in body must be of type integer"),
        "{wrong}"
    );
    let not_policy = line("ConfigMap");
    assert!(not_policy.contains("not a DevOpsPolicy"), "{not_policy}");
    let no_namespace = line("nowhere");
    assert!(
        no_namespace.contains("no metadata.namespace"),
        "{no_namespace}"
    );

    let objects = server.objects("devopspolicies");
    let names: Vec<&str> = objects
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["good", "also-good"]);

    // With -n, the object without a namespace goes there; one naming another namespace is an
    // error.
    let other = write(
        dir.path(),
        "other.yaml",
        &format!(
            "{}---\n{}",
            "apiVersion: devops.stochastic.io/v1\nkind: DevOpsPolicy\nmetadata:\n  name: nowhere\nspec: {}\n",
            policy_yaml("web", "elsewhere", "  maxRestartCount: 1\n")
        ),
    );
    let with_namespace = devops(&kubeconfig, &["policy", "import", "-n", "shop", &other]);
    assert_eq!(with_namespace.code, 3, "{with_namespace:?}");
    assert_eq!(
        with_namespace.stdout,
        "devopspolicy.devops.stochastic.io/nowhere created\n"
    );
    assert!(
        with_namespace
            .stderr
            .contains("is in namespace web, not shop"),
        "{with_namespace:?}"
    );
}

#[test]
fn diff_shows_drift_added_and_removed_objects() {
    let server = ApiServer::start();
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    let file = write(
        dir.path(),
        "policies.yaml",
        &policy_yaml(
            "shop",
            "strict",
            "  maxRestartCount: 3\n  forbidLatestTag: true\n",
        ),
    );
    assert_eq!(devops(&kubeconfig, &["policy", "import", &file]).code, 0);
    let equal = devops(&kubeconfig, &["policy", "diff", &file]);
    assert_eq!((equal.code, equal.stdout.as_str()), (0, ""), "{equal:?}");

    // The cluster holds the CRD's default where the file leaves it out: still equal.
    let mut stored = server
        .object("devopspolicies", Some("shop"), "strict")
        .expect("stored");
    stored["spec"]["enforcementMode"] = json!("audit");
    server.apply_object(stored.clone());
    let defaulted = devops(&kubeconfig, &["policy", "diff", &file]);
    assert_eq!(
        (defaulted.code, defaulted.stdout.as_str()),
        (0, ""),
        "{defaulted:?}"
    );

    // Someone changes a field by hand.
    stored["spec"]["maxRestartCount"] = json!(9);
    server.apply_object(stored);
    let drifted = devops(&kubeconfig, &["policy", "diff", &file]);
    assert_eq!(drifted.code, 1, "{drifted:?}");
    assert_eq!(
        drifted.stdout,
        "--- a/devopspolicy.devops.stochastic.io/shop/strict\n\
         +++ b/devopspolicy.devops.stochastic.io/shop/strict\n\
         @@ -4,4 +4,4 @@\n \
         spec:\n   \
         enforcementMode: audit\n   \
         forbidLatestTag: true\n\
         -  maxRestartCount: 9\n\
         +  maxRestartCount: 3\n",
        "{drifted:?}"
    );

    // An object only in the cluster (in a namespace the files mention) is removed; one only in
    // the files is added; namespaces the files do not mention are not looked at.
    server.apply_object(stored_policy(
        "shop",
        "extra",
        json!({"maxRestartCount": 1}),
    ));
    server.apply_object(stored_policy("elsewhere", "ignored", json!({})));
    let mut text = std::fs::read_to_string(&file).expect("read");
    text.push_str("---\n");
    text.push_str(&policy_yaml(
        "shop",
        "newcomer",
        "  forbidPendingDuration: 60\n",
    ));
    std::fs::write(&file, text).expect("write");
    let changes = devops(&kubeconfig, &["policy", "diff", &file]);
    assert_eq!(changes.code, 1, "{changes:?}");
    assert!(
        changes.stdout.contains(
            "--- a/devopspolicy.devops.stochastic.io/shop/extra\n\
             +++ b/devopspolicy.devops.stochastic.io/shop/extra\n\
             @@ -1,6 +0,0 @@\n\
             -metadata:\n\
             -  name: extra\n"
        ),
        "{changes:?}"
    );
    assert!(
        changes.stdout.contains(
            "--- a/devopspolicy.devops.stochastic.io/shop/newcomer\n\
             +++ b/devopspolicy.devops.stochastic.io/shop/newcomer\n\
             @@ -0,0 +1,6 @@\n\
             +metadata:\n\
             +  name: newcomer\n"
        ),
        "{changes:?}"
    );
    assert!(
        changes.stdout.contains("-  maxRestartCount: 9\n"),
        "{changes:?}"
    );
    assert!(!changes.stdout.contains("ignored"), "{changes:?}");
    // Sorted: extra, newcomer, strict.
    let extra = changes.stdout.find("shop/extra").expect("extra");
    let newcomer = changes.stdout.find("shop/newcomer").expect("newcomer");
    let strict = changes.stdout.find("shop/strict").expect("strict");
    assert!(extra < newcomer && newcomer < strict, "{changes:?}");
}

#[test]
fn unreadable_files_exit_3_and_an_unreachable_cluster_exits_4() {
    let server = ApiServer::start();
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    let missing = dir.path().join("missing.yaml");
    let missing = missing.to_str().expect("utf-8 path");
    for command in ["import", "diff"] {
        let result = devops(&kubeconfig, &["policy", command, missing]);
        assert_eq!(result.code, 3, "{command}: {result:?}");
        assert!(
            result.stderr.contains("missing.yaml"),
            "{command}: {result:?}"
        );
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let nowhere = kubeconfig_for(&format!("http://127.0.0.1:{port}"), dir.path());
    let file = write(
        dir.path(),
        "policy.yaml",
        &policy_yaml("shop", "strict", "  maxRestartCount: 3\n"),
    );
    for args in [
        ["policy", "export", "-A"].as_slice(),
        ["policy", "import", &file].as_slice(),
        ["policy", "diff", &file].as_slice(),
    ] {
        let result = devops(&nowhere, args);
        assert_eq!(result.code, 4, "{args:?}: {result:?}");
        assert!(
            result.stderr.contains("cannot reach the API server"),
            "{args:?}: {result:?}"
        );
    }
}

/// One command of the documented workflow and what it printed.
struct Step {
    shown: String,
    run: Run,
}

impl Step {
    /// The command and its stdout as a shell session shows them; stderr, when there is some,
    /// as a `cat` of the file it went to.
    fn transcript(&self) -> String {
        let mut text = format!("$ {}", self.shown);
        if self.run.stderr.is_empty() {
            text.push_str(&format!("\n{}", self.run.stdout));
        } else {
            text.push_str(&format!(
                " 2> errors.txt\n{}$ cat errors.txt\n{}",
                self.run.stdout, self.run.stderr
            ));
        }
        text
    }
}

/// docs/gitops.md shows this workflow's real output: every step's transcript must appear in it
/// verbatim (on failure the test prints them all, to paste).
#[test]
fn docs_gitops_md_shows_the_real_output_of_the_workflow() {
    let server = ApiServer::start();
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    server.apply_object(stored_policy(
        "shop",
        "strict",
        json!({"enforcementMode": "enforce", "maxRestartCount": 3,
            "severityOverrides": {"latest-tag": "critical"}}),
    ));
    server.apply_object(stored_policy(
        "shop",
        "canary",
        json!({"forbidPendingDuration": 600}),
    ));
    server.apply_object(stored_policy(
        "web",
        "baseline",
        json!({"requireLivenessProbe": false}),
    ));
    let mut steps: Vec<Step> = Vec::new();
    let step = |shown: &str, args: &[&str], code: i32| -> Step {
        let mut all = vec!["--kubeconfig", kubeconfig.as_str()];
        all.extend_from_slice(args);
        let run = support::run_in(dir.path(), &all);
        assert_eq!(run.code, code, "{shown}: {run:?}");
        Step {
            shown: shown.to_owned(),
            run,
        }
    };

    let mut export = step(
        "kube-devops policy export -A > policies.yaml",
        &["policy", "export", "-A"],
        0,
    );
    let exported = std::mem::take(&mut export.run.stdout);
    write(dir.path(), "policies.yaml", &exported);
    steps.push(export);
    // What `cat` shows: the file, which holds what export printed.
    let mut cat = step("cat policies.yaml", &["policy", "export", "-A"], 0);
    assert_eq!(cat.run.stdout, exported, "export again");
    cat.run.stdout = std::fs::read_to_string(dir.path().join("policies.yaml")).expect("read");
    steps.push(cat);
    steps.push(step(
        "kube-devops policy import policies.yaml",
        &["policy", "import", "policies.yaml"],
        0,
    ));

    // A change under review: stricter restarts in shop/canary, a new policy for web.
    let edited = exported.replace(
        "  name: canary\n  namespace: shop\nspec:\n  forbidPendingDuration: 600\n",
        "  name: canary\n  namespace: shop\nspec:\n  forbidPendingDuration: 600\n  maxRestartCount: 1\n",
    ) + "---\n"
        + &policy_yaml("web", "pss", "  enforcementMode: audit\n  forbidLatestTag: true\n");
    assert_ne!(edited, exported);
    write(dir.path(), "policies.yaml", &edited);
    steps.push(step(
        "kube-devops policy diff policies.yaml",
        &["policy", "diff", "policies.yaml"],
        1,
    ));
    steps.push(step(
        "kube-devops policy import --dry-run policies.yaml",
        &["policy", "import", "--dry-run", "policies.yaml"],
        0,
    ));
    steps.push(step(
        "kube-devops policy import policies.yaml",
        &["policy", "import", "policies.yaml"],
        0,
    ));
    steps.push(step(
        "kube-devops policy diff policies.yaml",
        &["policy", "diff", "policies.yaml"],
        0,
    ));

    // Someone edits a policy in the cluster by hand, and deletes another.
    let mut strict = server
        .object("devopspolicies", Some("shop"), "strict")
        .expect("strict");
    strict["spec"]["enforcementMode"] = json!("audit");
    server.apply_object(strict);
    server.delete_object(
        "devops.stochastic.io/v1",
        "DevOpsPolicy",
        Some("web"),
        "pss",
    );
    steps.push(step(
        "kube-devops policy diff policies.yaml",
        &["policy", "diff", "policies.yaml"],
        1,
    ));

    // A typo in a file: reported with the server's message, the rest still applied.
    write(
        dir.path(),
        "team.yaml",
        &format!(
            "{}---\n{}",
            policy_yaml("team-a", "base", "  forbidLatestTag: true\n"),
            policy_yaml("team-a", "typo", "  maxRestartCont: 3\n")
        ),
    );
    steps.push(step(
        "kube-devops policy import team.yaml",
        &["policy", "import", "team.yaml"],
        3,
    ));

    let doc =
        std::fs::read_to_string(support::workspace().join("docs/gitops.md")).unwrap_or_default();
    let missing: Vec<String> = steps
        .iter()
        .map(Step::transcript)
        .filter(|transcript| !doc.contains(transcript.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/gitops.md lacks these transcripts:\n\n{}",
        missing.join("\n~~~~\n")
    );
}

/// The fixture's side of this workflow, through a kube-rs client: `dryRun=All` on every write
/// verb computes the answer and keeps nothing; DevOpsPolicy bodies are checked against the
/// CRD's schema as the real server checks them.
#[test]
fn the_fixture_dry_runs_every_write_and_checks_policies_against_the_crd_schema() {
    use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, PostParams};
    use kube_devops_policy::crd::DevOpsPolicy;

    let server = ApiServer::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let client = {
        let _entered = runtime.enter();
        kube::Client::try_from(kube::Config::new(server.url.parse().expect("URL"))).expect("client")
    };
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "shop",
        &ApiResource::erase::<DevOpsPolicy>(&()),
    );
    let policy = |spec: Value| -> DynamicObject {
        serde_json::from_value(json!({"apiVersion": "devops.stochastic.io/v1",
            "kind": "DevOpsPolicy", "metadata": {"name": "strict"}, "spec": spec}))
        .expect("policy")
    };
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let api_error = |result: Result<DynamicObject, kube::Error>| match result {
        Err(kube::Error::Api(status)) => (status.code, status.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    };

    let version = server.resource_version();
    let created = runtime
        .block_on(api.create(&dry_run, &policy(json!({"maxRestartCount": 3}))))
        .expect("dry-run create");
    assert_eq!(created.data["spec"]["maxRestartCount"], 3);
    assert!(server.objects("devopspolicies").is_empty());
    assert_eq!(server.resource_version(), version);

    let stored = runtime
        .block_on(api.create(
            &PostParams::default(),
            &policy(json!({"maxRestartCount": 3})),
        ))
        .expect("create");
    let version = server.resource_version();
    let mut changed = stored.clone();
    changed.data["spec"]["maxRestartCount"] = json!(9);
    let replaced = runtime
        .block_on(api.replace("strict", &dry_run, &changed))
        .expect("dry-run replace");
    assert_eq!(replaced.data["spec"]["maxRestartCount"], 9);
    let deleted = runtime
        .block_on(api.delete(
            "strict",
            &DeleteParams {
                dry_run: true,
                ..DeleteParams::default()
            },
        ))
        .expect("dry-run delete");
    assert!(deleted.left().is_some(), "the object, as deleted");
    assert_eq!(server.resource_version(), version, "nothing kept");
    let kept = server
        .object("devopspolicies", Some("shop"), "strict")
        .expect("still there");
    assert_eq!(kept["spec"]["maxRestartCount"], 3);

    // Wrong types and values outside an enum: 422 whatever fieldValidation says.
    let (code, message) = api_error(runtime.block_on(api.replace(
        "strict",
        &PostParams::default(),
        &{
            let mut wrong = stored.clone();
            wrong.data["spec"] = json!({"maxRestartCount": "three", "enforcementMode": "maybe"});
            wrong
        },
    )));
    assert_eq!(code, 422, "{message}");
    assert!(
        message.starts_with("DevOpsPolicy.devops.stochastic.io \"strict\" is invalid: "),
        "{message}"
    );
    assert!(
        message.contains(
            "spec.maxRestartCount: Invalid value: \"string\": spec.maxRestartCount in body must \
             be of type integer: \"string\""
        ),
        "{message}"
    );
    assert!(
        message.contains("spec.enforcementMode: Unsupported value: \"maybe\""),
        "{message}"
    );

    // Unknown fields under fieldValidation=Strict: create and update say it in their words.
    let strict_create = http::Request::post(
        "/apis/devops.stochastic.io/v1/namespaces/shop/devopspolicies?fieldValidation=Strict",
    )
    .header("content-type", "application/json")
    .body(
        json!({"apiVersion": "devops.stochastic.io/v1", "kind": "DevOpsPolicy",
            "metadata": {"name": "other"}, "spec": {"plugins": [{"name": "probes", "bogus": 1}]}})
        .to_string()
        .into_bytes(),
    )
    .expect("request");
    match runtime.block_on(client.request_text(strict_create)) {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 400, "{status:?}");
            assert_eq!(
                status.message,
                "DevOpsPolicy in version \"v1\" cannot be handled as a DevOpsPolicy: strict \
                 decoding error: unknown field \"spec.plugins[0].bogus\""
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let bad_dry_run = http::Request::delete(
        "/apis/devops.stochastic.io/v1/namespaces/shop/devopspolicies/strict?dryRun=Some",
    )
    .body(Vec::new())
    .expect("request");
    match runtime.block_on(client.request_text(bad_dry_run)) {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 400, "{status:?}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        server
            .object("devopspolicies", Some("shop"), "strict")
            .is_some()
    );
}
