//! What needs no pod: the check ids, Polaris ids and defaults the plugin declares, its settings,
//! and how names and values are matched. The checks on pods run through the host, in
//! tests/best_practices.rs (the records they read come from the host's reading of the JSON).

use super::*;
use crate::checks::is_private_key;

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
fn private_keys_are_recognised_in_any_literal() {
    assert!(is_private_key("-----BEGIN PRIVATE KEY-----\nabc"));
    assert!(is_private_key("-----BEGIN OPENSSH PRIVATE KEY-----"));
    assert!(is_private_key("x -----begin\tec private key----- y"));
    assert!(!is_private_key("-----BEGIN CERTIFICATE-----"));
    assert!(!is_private_key("-----BEGINPRIVATE KEY-----"));
    assert!(!is_private_key("private key-"));
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
