//! Each check on passing and failing pods, init containers, owner kinds, and the plugin's
//! contract: ids, defaults, settings.

use serde_json::{Value, json};

use super::*;
use crate::checks::is_private_key;

fn plugin() -> BestPractices {
    BestPractices::new(Settings::default()).expect("default settings")
}

fn kinds(owner_kinds: &[&str]) -> Vec<String> {
    owner_kinds.iter().map(|kind| (*kind).to_owned()).collect()
}

/// `(container, message)` of each finding of `check`, for a pod owned by `owners`.
fn run_with(
    plugin: &BestPractices,
    pod: &Value,
    owners: &[&str],
    check: &str,
) -> Vec<(Option<String>, String)> {
    plugin
        .findings(&pod.to_string(), &kinds(owners))
        .into_iter()
        .filter(|finding| finding.check == check)
        .map(|finding| (finding.container, finding.message))
        .collect()
}

fn run(pod: &Value, check: &str) -> Vec<(Option<String>, String)> {
    run_with(&plugin(), pod, &["Deployment"], check)
}

/// The containers `check` names, in order.
fn flagged(pod: &Value, check: &str) -> Vec<String> {
    run(pod, check)
        .into_iter()
        .map(|(container, _)| container.expect("a container finding"))
        .collect()
}

/// The check ids found, in order, one per finding.
fn ids(pod: &Value, owners: &[&str]) -> Vec<String> {
    plugin()
        .findings(&pod.to_string(), &kinds(owners))
        .into_iter()
        .map(|finding| finding.check)
        .collect()
}

/// A container compliant with every check.
fn good(name: &str) -> Value {
    json!({
        "name": name, "image": "registry.local/app:1.4.2", "imagePullPolicy": "IfNotPresent",
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"}
        },
        "securityContext": {"readOnlyRootFilesystem": true},
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
        ]
    })
}

/// A pod compliant with every check, with these containers.
fn pod_with(containers: Value, init_containers: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {
            "priorityClassName": "business-critical",
            "automountServiceAccountToken": false,
            "topologySpreadConstraints": [{
                "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app": "p"}}
            }],
            "containers": containers,
            "initContainers": init_containers
        }
    })
}

fn pod(containers: Value) -> Value {
    pod_with(containers, json!([]))
}

/// A compliant pod whose one container `app` is changed by `edit`.
fn pod_editing(edit: impl FnOnce(&mut Value)) -> Value {
    let mut app = good("app");
    edit(&mut app);
    pod(json!([app]))
}

#[test]
fn check_ids_and_polaris_ids() {
    let expected = [
        ("cpu-requests-missing", "cpuRequestsMissing"),
        ("memory-requests-missing", "memoryRequestsMissing"),
        ("cpu-limits-missing", "cpuLimitsMissing"),
        ("memory-limits-missing", "memoryLimitsMissing"),
        ("read-only-root-filesystem", "notReadOnlyRootFilesystem"),
        ("pull-policy-not-always", "pullPolicyNotAlways"),
        ("priority-class-not-set", "priorityClassNotSet"),
        (
            "automount-service-account-token",
            "automountServiceAccountToken",
        ),
        ("sensitive-env-literal", "sensitiveContainerEnvVar"),
        ("missing-topology-spread", "topologySpreadConstraint"),
    ];
    let got: Vec<(&str, &str)> = Check::ALL
        .iter()
        .map(|check| (check.id(), check.polaris_id()))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn metadata_declares_every_check_with_its_defaults() {
    let metadata = BestPractices::metadata();
    assert_eq!(metadata.name, "best-practices");
    let declared: Vec<(String, Severity, u32)> = metadata
        .checks
        .into_iter()
        .map(|check| {
            assert_eq!(check.kind, CheckKind::Spec, "{}", check.id);
            assert!(
                check.description.ends_with("`)") && check.description.contains("(Polaris `"),
                "{}",
                check.description
            );
            (check.id, check.default_severity, check.default_weight)
        })
        .collect();
    let expected = [
        ("cpu-requests-missing", Severity::Medium, 2),
        ("memory-requests-missing", Severity::Medium, 2),
        ("cpu-limits-missing", Severity::Medium, 1),
        ("memory-limits-missing", Severity::Medium, 2),
        ("read-only-root-filesystem", Severity::Medium, 2),
        ("pull-policy-not-always", Severity::Medium, 1),
        ("priority-class-not-set", Severity::Low, 1),
        ("automount-service-account-token", Severity::Medium, 2),
        ("sensitive-env-literal", Severity::High, 3),
        ("missing-topology-spread", Severity::Medium, 2),
    ];
    let expected: Vec<(String, Severity, u32)> = expected
        .into_iter()
        .map(|(id, severity, weight)| (id.to_owned(), severity, weight))
        .collect();
    assert_eq!(declared, expected);
}

#[test]
fn a_compliant_pod_has_no_findings() {
    let pod = pod_with(json!([good("app"), good("sidecar")]), json!([good("init")]));
    for owners in [
        &["Deployment"][..],
        &["StatefulSet"],
        &["ReplicaSet"],
        &["DaemonSet"],
        &[],
    ] {
        assert_eq!(ids(&pod, owners), Vec::<String>::new(), "{owners:?}");
    }
}

#[test]
fn a_pod_with_everything_wrong_fails_every_check_once() {
    let pod = json!({"spec": {"containers": [{
        "name": "app", "image": "nginx", "imagePullPolicy": "IfNotPresent",
        "env": [{"name": "API_TOKEN", "value": "abc"}]
    }]}});
    let expected: Vec<&str> = Check::ALL.iter().map(|check| check.id()).collect();
    assert_eq!(ids(&pod, &["Deployment"]), expected);
}

#[test]
fn non_json_input_gives_no_findings() {
    assert!(
        plugin()
            .findings("not json", &kinds(&["Deployment"]))
            .is_empty()
    );
    assert!(plugin().findings("{}", &kinds(&["Deployment"])).is_empty());
}

#[test]
fn resource_requests_and_limits_each_name_the_missing_field() {
    let bare = pod_editing(|app| {
        app.as_object_mut().expect("object").remove("resources");
    });
    let cases = [
        (
            "cpu-requests-missing",
            "container \"app\" has no resources.requests.cpu; set a CPU request",
        ),
        (
            "memory-requests-missing",
            "container \"app\" has no resources.requests.memory; set a memory request",
        ),
        (
            "cpu-limits-missing",
            "container \"app\" has no resources.limits.cpu; set a CPU limit",
        ),
        (
            "memory-limits-missing",
            "container \"app\" has no resources.limits.memory; set a memory limit",
        ),
    ];
    for (check, message) in cases {
        assert_eq!(
            run(&bare, check),
            [(Some("app".to_owned()), message.to_owned())]
        );
    }
}

#[test]
fn each_resource_is_checked_on_its_own() {
    let only = |requests: Value, limits: Value| {
        pod_editing(|app| app["resources"] = json!({"requests": requests, "limits": limits}))
    };
    let requests_only = only(json!({"cpu": "1", "memory": "1Gi"}), json!({}));
    assert!(run(&requests_only, "cpu-requests-missing").is_empty());
    assert!(run(&requests_only, "memory-requests-missing").is_empty());
    assert_eq!(run(&requests_only, "cpu-limits-missing").len(), 1);
    assert_eq!(run(&requests_only, "memory-limits-missing").len(), 1);

    let limits_only = only(json!({}), json!({"cpu": 2, "memory": "1Gi"}));
    assert_eq!(run(&limits_only, "cpu-requests-missing").len(), 1);
    assert_eq!(run(&limits_only, "memory-requests-missing").len(), 1);
    assert!(
        run(&limits_only, "cpu-limits-missing").is_empty(),
        "a number is a quantity"
    );
    assert!(run(&limits_only, "memory-limits-missing").is_empty());

    let empty = only(
        json!({"cpu": "", "memory": null}),
        json!({"cpu": "1", "memory": {}}),
    );
    assert_eq!(flagged(&empty, "cpu-requests-missing"), ["app"]);
    assert_eq!(flagged(&empty, "memory-requests-missing"), ["app"]);
    assert!(flagged(&empty, "cpu-limits-missing").is_empty());
    assert_eq!(flagged(&empty, "memory-limits-missing"), ["app"]);
}

#[test]
fn resource_checks_skip_init_containers_as_polaris_does() {
    let mut init = good("init");
    init.as_object_mut().expect("object").remove("resources");
    let mut second = good("second");
    second["resources"] = json!("nonsense");
    let pod = pod_with(json!([good("app"), second]), json!([init]));
    for check in [
        "cpu-requests-missing",
        "memory-requests-missing",
        "cpu-limits-missing",
        "memory-limits-missing",
    ] {
        assert_eq!(flagged(&pod, check), ["second"], "{check}");
    }
}

#[test]
fn read_only_root_filesystem_must_be_true_on_every_container() {
    let mut unset = good("unset");
    unset
        .as_object_mut()
        .expect("object")
        .remove("securityContext");
    let mut writable = good("writable");
    writable["securityContext"]["readOnlyRootFilesystem"] = json!(false);
    let mut init = good("init");
    init["securityContext"] = json!({"runAsNonRoot": true});
    let pod = pod_with(json!([good("app"), unset, writable]), json!([init]));
    let findings = run(&pod, "read-only-root-filesystem");
    let names: Vec<&str> = findings
        .iter()
        .map(|(container, _)| container.as_deref().expect("container"))
        .collect();
    assert_eq!(names, ["unset", "writable", "init"]);
    assert!(
        findings[0]
            .1
            .contains("does not set securityContext.readOnlyRootFilesystem")
    );
    assert!(
        findings[1]
            .1
            .contains("sets securityContext.readOnlyRootFilesystem: false")
    );
}

#[test]
fn pull_policy_matters_only_for_mutable_images_with_an_explicit_policy() {
    let cases = [
        // (image, imagePullPolicy, flagged)
        ("nginx", Some("IfNotPresent"), true),
        ("nginx:latest", Some("IfNotPresent"), true),
        ("nginx:latest", Some("Never"), true),
        ("registry.local:5000/team/app", Some("IfNotPresent"), true),
        // The API server defaults an unset policy to Always for these images.
        ("nginx", None, false),
        ("nginx:latest", Some(""), false),
        ("nginx:latest", Some("Always"), false),
        // Immutable references: any policy is fine.
        ("nginx:1.27", Some("IfNotPresent"), false),
        ("nginx:1.27", None, false),
        ("nginx:latest-2024", Some("Never"), false),
        ("nginx@sha256:0123abcd", Some("IfNotPresent"), false),
        ("nginx:latest@sha256:0123abcd", Some("Never"), false),
        ("registry.local:5000/app:2", Some("IfNotPresent"), false),
    ];
    for (image, policy, expected) in cases {
        let pod = pod_editing(|app| {
            app["image"] = json!(image);
            match policy {
                Some(policy) => app["imagePullPolicy"] = json!(policy),
                None => {
                    app.as_object_mut()
                        .expect("object")
                        .remove("imagePullPolicy");
                }
            }
        });
        let findings = run(&pod, "pull-policy-not-always");
        assert_eq!(findings.len(), usize::from(expected), "{image} {policy:?}");
    }
    let pod = pod_editing(|app| app["image"] = json!("nginx"));
    assert_eq!(
        run(&pod, "pull-policy-not-always"),
        [(
            Some("app".to_owned()),
            "container \"app\" pulls the mutable image \"nginx\" with imagePullPolicy: \
             IfNotPresent, so nodes may run a stale copy; set imagePullPolicy: Always (or drop \
             it), or pin a version tag or a digest"
                .to_owned()
        )]
    );
}

#[test]
fn pull_policy_counts_init_containers() {
    let mut init = good("init");
    init["image"] = json!("busybox:latest");
    let pod = pod_with(json!([good("app")]), json!([init]));
    assert_eq!(flagged(&pod, "pull-policy-not-always"), ["init"]);
}

#[test]
fn priority_class_must_be_named() {
    let mut pod = pod(json!([good("app")]));
    assert!(run(&pod, "priority-class-not-set").is_empty());
    for value in [json!(""), Value::Null, json!(7)] {
        pod["spec"]["priorityClassName"] = value.clone();
        assert_eq!(
            run(&pod, "priority-class-not-set"),
            [(
                None,
                "spec.priorityClassName is not set; set a PriorityClass so the scheduler knows \
                 which pods to preempt first"
                    .to_owned()
            )],
            "{value}"
        );
    }
}

#[test]
fn automount_must_be_switched_off_on_the_pod() {
    let mut pod = pod(json!([good("app")]));
    assert!(run(&pod, "automount-service-account-token").is_empty());
    pod["spec"]["automountServiceAccountToken"] = json!(true);
    let findings = run(&pod, "automount-service-account-token");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].0, None);
    assert!(
        findings[0]
            .1
            .starts_with("spec.automountServiceAccountToken is true")
    );
    pod["spec"]
        .as_object_mut()
        .expect("object")
        .remove("automountServiceAccountToken");
    let findings = run(&pod, "automount-service-account-token");
    assert_eq!(findings.len(), 1);
    assert!(findings[0].1.contains("is not set"), "{}", findings[0].1);
    assert!(
        findings[0]
            .1
            .contains("set automountServiceAccountToken: false")
    );
}

#[test]
fn sensitive_names_follow_polaris_and_common_spellings() {
    let names = SensitiveNames::new(&[]);
    for name in [
        "PASSWORD",
        "db_password",
        "MYSQL_ROOT_PASSWD",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "OCI_CLI_KEY_CONTENT",
        "AZURE_STORAGE_KEY",
        "azure_client_key",
        "GITHUB_TOKEN",
        "Bearer",
        "client-secret",
        "STRIPE_API_KEY",
        "stripe.api-key",
        "APIKEY",
        "SSH_PRIVATE_KEY",
    ] {
        assert!(names.matches(name), "{name}");
    }
    for name in [
        "LOG_LEVEL",
        "CACHE_KEY_PREFIX",
        "MONKEY",
        "KEYBOARD",
        "AZURE_KEY",
        "AZURE_REGION",
        "STOKE_NAME",
        "PORT",
    ] {
        assert!(!names.matches(name), "{name}");
    }
}

#[test]
fn sensitive_env_literals_are_flagged_once_per_container() {
    let pod = pod_editing(|app| {
        app["env"] = json!([
            {"name": "DB_PASSWORD", "value": "hunter2"},
            {"name": "LOG_LEVEL", "value": "debug"},
            {"name": "API_TOKEN", "value": 12345},
            {"name": "EMPTY_SECRET", "value": ""},
            {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            {"name": "TLS_KEY", "value": "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----"}
        ])
    });
    let findings = run(&pod, "sensitive-env-literal");
    assert_eq!(
        findings,
        [(
            Some("app".to_owned()),
            "container \"app\" sets the sensitive environment variables DB_PASSWORD, API_TOKEN, \
             TLS_KEY from a literal value; read them from a Secret with valueFrom.secretKeyRef"
                .to_owned()
        )]
    );
    assert!(!findings[0].1.contains("hunter2"), "values are never shown");

    let one = pod_editing(|app| app["env"] = json!([{"name": "SECRET", "value": "x"}]));
    assert_eq!(
        run(&one, "sensitive-env-literal")[0].1,
        "container \"app\" sets the sensitive environment variable SECRET from a literal value; \
         read it from a Secret with valueFrom.secretKeyRef"
    );
}

#[test]
fn sensitive_env_literals_count_init_containers() {
    let mut init = good("init");
    init["env"] = json!([{"name": "REGISTRY_PASSWORD", "value": "x"}]);
    let pod = pod_with(json!([good("app")]), json!([init]));
    assert_eq!(flagged(&pod, "sensitive-env-literal"), ["init"]);
}

#[test]
fn private_keys_are_recognised_in_any_literal() {
    assert!(is_private_key("-----BEGIN PRIVATE KEY-----\nabc"));
    assert!(is_private_key("-----BEGIN OPENSSH PRIVATE KEY-----"));
    assert!(is_private_key("x -----begin\tec private key----- y"));
    assert!(!is_private_key("-----BEGIN CERTIFICATE-----"));
    assert!(!is_private_key("-----BEGINPRIVATE KEY-----"));
    assert!(!is_private_key("private key-"));
}

#[test]
fn sensitive_name_patterns_add_to_the_built_in_list() {
    let settings: Settings =
        serde_json::from_str(r#"{"sensitiveNamePatterns": ["DSN", "conn-string"]}"#)
            .expect("settings");
    let plugin = BestPractices::new(settings).expect("valid");
    let pod = pod_editing(|app| {
        app["env"] = json!([
            {"name": "SENTRY_DSN", "value": "https://x@sentry"},
            {"name": "DB_CONN_STRING", "value": "postgres://"},
            {"name": "PASSWORD", "value": "x"},
            {"name": "LOG_LEVEL", "value": "info"}
        ])
    });
    let findings = run_with(&plugin, &pod, &["Deployment"], "sensitive-env-literal");
    assert_eq!(findings.len(), 1);
    assert!(
        findings[0]
            .1
            .contains("variables SENTRY_DSN, DB_CONN_STRING, PASSWORD from"),
        "{}",
        findings[0].1
    );
}

#[test]
fn settings_are_checked() {
    let parse = |json: &str| serde_json::from_str::<Settings>(json);
    assert!(parse("{}").is_ok());
    assert!(
        parse(r#"{"sensitiveNamePattern": ["x"]}"#).is_err(),
        "unknown fields are refused"
    );
    assert!(parse(r#"{"sensitiveNamePatterns": "x"}"#).is_err());
    let error = BestPractices::new(parse(r#"{"sensitiveNamePatterns": ["ok", " "]}"#).unwrap())
        .err()
        .expect("an empty pattern is refused");
    assert!(error.contains("`sensitiveNamePatterns`"), "{error}");
    assert!(error.contains("entry 1"), "{error}");
}

#[test]
fn topology_spread_applies_to_replicated_controllers_only() {
    let mut pod = pod(json!([good("app")]));
    pod["spec"]
        .as_object_mut()
        .expect("object")
        .remove("topologySpreadConstraints");
    let plugin = plugin();
    for (owners, expected) in [
        (&["Deployment"][..], true),
        (&["StatefulSet"], true),
        (&["ReplicaSet"], true),
        (&["ReplicationController"], true),
        (&["DaemonSet"], false),
        (&["Job"], false),
        (&["CronJob"], false),
        (&["Node"], false),
        (&[], false),
    ] {
        let findings = run_with(&plugin, &pod, owners, "missing-topology-spread");
        assert_eq!(findings.len(), usize::from(expected), "{owners:?}");
        if let Some((container, message)) = findings.first() {
            assert_eq!(container, &None);
            assert!(
                message.starts_with(&format!(
                    "pod of a {} has no spec.topologySpreadConstraints",
                    owners[0]
                )),
                "{message}"
            );
        }
    }
    pod["spec"]["topologySpreadConstraints"] = json!([]);
    assert_eq!(
        run(&pod, "missing-topology-spread").len(),
        1,
        "an empty list spreads nothing"
    );
    pod["spec"]["topologySpreadConstraints"] =
        json!([{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname"}]);
    assert!(run(&pod, "missing-topology-spread").is_empty());
}
