//! The plugin's own contract: ids, levels, settings. Its findings on pods are tested through
//! the host, which alone can hand it a pod (tests/pod_security.rs, tests/pss_conformance.rs).

use super::*;
use crate::controls::check_id;

#[test]
fn check_ids_are_the_psa_ids_in_kebab_case() {
    let expected = [
        ("allowPrivilegeEscalation", "allow-privilege-escalation"),
        ("appArmorProfile", "app-armor-profile"),
        ("capabilities_baseline", "capabilities-baseline"),
        ("capabilities_restricted", "capabilities-restricted"),
        ("hostNamespaces", "host-namespaces"),
        ("hostPathVolumes", "host-path-volumes"),
        ("hostPorts", "host-ports"),
        (
            "hostProbesAndHostLifecycle",
            "host-probes-and-host-lifecycle",
        ),
        ("privileged", "privileged"),
        ("procMount", "proc-mount"),
        ("procMount_restricted", "proc-mount-restricted"),
        ("restrictedVolumes", "restricted-volumes"),
        ("runAsNonRoot", "run-as-non-root"),
        ("runAsUser", "run-as-user"),
        ("seLinuxOptions", "se-linux-options"),
        ("seccompProfile_baseline", "seccomp-profile-baseline"),
        ("seccompProfile_restricted", "seccomp-profile-restricted"),
        ("sysctls", "sysctls"),
        ("windowsHostProcess", "windows-host-process"),
    ];
    for (psa, kebab) in expected {
        assert_eq!(check_id(psa), kebab, "{psa}");
    }
    // Acronyms and digits.
    assert_eq!(check_id("hostPID"), "host-pid");
    assert_eq!(check_id("hostPIDMode"), "host-pid-mode");
    assert_eq!(check_id("ulimits_v1Dot35"), "ulimits-v1-dot35");
    assert_eq!(check_id("hostProcess"), "host-process");
    // Every control's id is there, once.
    let mut ids: Vec<String> = Control::ALL.iter().map(|c| c.id()).collect();
    let mut listed: Vec<String> = expected.iter().map(|(_, k)| k.to_string()).collect();
    ids.sort();
    listed.sort();
    assert_eq!(ids, listed);
}

#[test]
fn levels_run_the_checks_psa_runs() {
    let ids = |level: Level| {
        let mut ids: Vec<&str> = level.controls().iter().map(|c| c.psa_id()).collect();
        ids.sort_unstable();
        ids
    };
    assert_eq!(
        ids(Level::Baseline),
        [
            "appArmorProfile",
            "capabilities_baseline",
            "hostNamespaces",
            "hostPathVolumes",
            "hostPorts",
            "hostProbesAndHostLifecycle",
            "privileged",
            "procMount",
            "seLinuxOptions",
            "seccompProfile_baseline",
            "sysctls",
            "windowsHostProcess",
        ]
    );
    assert_eq!(
        ids(Level::Restricted),
        [
            "allowPrivilegeEscalation",
            "appArmorProfile",
            "capabilities_restricted",
            "hostNamespaces",
            "hostPorts",
            "hostProbesAndHostLifecycle",
            "privileged",
            "procMount_restricted",
            "restrictedVolumes",
            "runAsNonRoot",
            "runAsUser",
            "seLinuxOptions",
            "seccompProfile_restricted",
            "sysctls",
            "windowsHostProcess",
        ]
    );
}

#[test]
fn metadata_declares_every_check_with_its_gravity() {
    let metadata = PodSecurity::metadata();
    assert_eq!(metadata.name, "pod-security");
    assert_eq!(metadata.checks.len(), 19);
    let privileged = metadata.checks.iter().find(|c| c.id == "privileged");
    let privileged = privileged.expect("privileged");
    assert_eq!(privileged.default_severity, Severity::High);
    assert_eq!(privileged.default_weight, 6);
    let non_root = metadata.checks.iter().find(|c| c.id == "run-as-non-root");
    let non_root = non_root.expect("run-as-non-root");
    assert_eq!(non_root.default_severity, Severity::Medium);
    assert_eq!(non_root.default_weight, 3);
    assert!(
        metadata
            .checks
            .iter()
            .all(|check| check.kind == CheckKind::Spec)
    );
}

#[test]
fn settings_name_the_level_and_refuse_anything_else() {
    let build = |settings: &str| kube_devops_sdk::runtime::configure::<PodSecurity>(settings);
    assert!(build("{}").is_ok());
    assert!(build(r#"{"level": "baseline"}"#).is_ok());
    assert!(build(r#"{"level": "restricted"}"#).is_ok());
    assert!(build(r#"{"level": null}"#).is_ok());
    let error = build(r#"{"level": "Restricted"}"#).expect_err("bad level");
    assert!(
        error.contains("`level`") && error.contains("restricted"),
        "{error}"
    );
    let error = build(r#"{"level": "privileged"}"#).expect_err("privileged");
    assert!(error.contains("enabled: false"), "{error}");
    let error = build(r#"{"levle": "restricted"}"#).expect_err("unknown key");
    assert!(error.contains("levle"), "{error}");
}
