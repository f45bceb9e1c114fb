//! Rules the conformance corpus cannot show (ephemeral containers cannot be set at creation),
//! and the plugin's own contract: ids, levels, settings.

use serde_json::json;

use super::*;
use crate::controls::check_id;

/// `(container, message)` of each finding of `check` at `level`.
fn run(level: Level, pod: serde_json::Value, check: &str) -> Vec<(Option<String>, String)> {
    PodSecurity::at(level)
        .findings(&pod.to_string())
        .into_iter()
        .filter(|finding| finding.check == check)
        .map(|finding| (finding.container, finding.message))
        .collect()
}

/// The distinct check ids violated at `level`, sorted.
fn checks(level: Level, pod: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = PodSecurity::at(level)
        .findings(&pod.to_string())
        .into_iter()
        .map(|finding| finding.check)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// A container compliant with `restricted`.
fn good(name: &str) -> serde_json::Value {
    json!({
        "name": name, "image": "app:1",
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]}
        }
    })
}

/// A pod compliant with `restricted`, with these containers.
fn pod(containers: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": containers
        }
    })
}

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

#[test]
fn a_compliant_pod_has_no_findings_at_either_level() {
    let pod = pod(json!([good("app")]));
    assert!(checks(Level::Baseline, &pod).is_empty());
    assert!(checks(Level::Restricted, &pod).is_empty());
}

#[test]
fn ephemeral_containers_count_like_the_others() {
    let mut debug = good("debug");
    debug["securityContext"] = json!({
        "privileged": true,
        "capabilities": {"add": ["SYS_PTRACE"]},
        "runAsUser": 0
    });
    let mut pod = pod(json!([good("app")]));
    pod["spec"]["ephemeralContainers"] = json!([debug]);
    assert_eq!(
        checks(Level::Baseline, &pod),
        ["capabilities-baseline", "privileged"]
    );
    assert_eq!(
        checks(Level::Restricted, &pod),
        [
            "allow-privilege-escalation",
            "capabilities-restricted",
            "privileged",
            "run-as-user"
        ]
    );
    let privileged = run(Level::Baseline, pod.clone(), "privileged");
    assert_eq!(
        privileged,
        [(
            Some("debug".to_owned()),
            r#"container "debug" must not set securityContext.privileged=true"#.to_owned()
        )]
    );
    let caps = run(Level::Restricted, pod, "capabilities-restricted");
    assert_eq!(
        caps[0].1,
        r#"container "debug" must set securityContext.capabilities.drop=["ALL"]; must not include "SYS_PTRACE" in securityContext.capabilities.add"#
    );
}

#[test]
fn an_ephemeral_container_without_its_own_settings_breaks_restricted() {
    let mut pod = pod(json!([good("app")]));
    pod["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": "busybox:1"}]);
    assert!(checks(Level::Baseline, &pod).is_empty());
    assert_eq!(
        checks(Level::Restricted, &pod),
        ["allow-privilege-escalation", "capabilities-restricted"]
    );
}

#[test]
fn windows_pods_are_exempt_from_three_restricted_checks_only() {
    let pod = json!({
        "metadata": {"name": "w"},
        "spec": {
            "os": {"name": "windows"},
            "securityContext": {"seccompProfile": {"type": "Unconfined"}},
            "containers": [{"name": "app", "image": "app:1",
                "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}, "runAsNonRoot": false}}]
        }
    });
    // At restricted, capabilities and seccomp are exempt, and their baseline versions do not
    // run: PSA's own behaviour.
    assert_eq!(checks(Level::Restricted, &pod), ["run-as-non-root"]);
    assert_eq!(
        checks(Level::Baseline, &pod),
        ["capabilities-baseline", "seccomp-profile-baseline"]
    );
    // `os.name` is matched exactly.
    let mut linux = pod.clone();
    linux["spec"]["os"]["name"] = json!("Windows");
    assert_eq!(
        checks(Level::Restricted, &linux),
        [
            "allow-privilege-escalation",
            "capabilities-restricted",
            "run-as-non-root",
            "seccomp-profile-restricted"
        ]
    );
}

#[test]
fn run_as_non_root_container_values_override_the_pod_but_a_bad_pod_value_is_reported() {
    let with = |pod_value: serde_json::Value, containers: &[Option<bool>]| {
        let containers: Vec<serde_json::Value> = containers
            .iter()
            .enumerate()
            .map(|(i, value)| {
                let mut c = good(&format!("c{i}"));
                if let Some(value) = value {
                    c["securityContext"]["runAsNonRoot"] = json!(value);
                }
                c
            })
            .collect();
        let mut pod = pod(json!(containers));
        pod["spec"]["securityContext"]["runAsNonRoot"] = pod_value;
        run(Level::Restricted, pod, "run-as-non-root")
    };
    // Unset at the pod, true on every container: fine.
    assert!(with(json!(null), &[Some(true), Some(true)]).is_empty());
    // Unset at the pod, one container unset: that container.
    assert_eq!(
        with(json!(null), &[Some(true), None]),
        [(
            Some("c1".to_owned()),
            r#"pod or container "c1" must set securityContext.runAsNonRoot=true"#.to_owned()
        )]
    );
    // False at the pod: reported even though every container says true.
    assert_eq!(
        with(json!(false), &[Some(true)]),
        [(
            None,
            "pod must not set securityContext.runAsNonRoot=false".to_owned()
        )]
    );
    // True at the pod, false on a container: the container.
    assert_eq!(
        with(json!(true), &[Some(false), None]),
        [(
            Some("c0".to_owned()),
            r#"container "c0" must not set securityContext.runAsNonRoot=false"#.to_owned()
        )]
    );
    // Explicit false setters are reported alone, as PSA does.
    assert_eq!(with(json!(null), &[Some(false), None]).len(), 1);
}

#[test]
fn user_namespaces_relax_run_as_checks_and_baseline_proc_mount_only() {
    let mut app = good("app");
    app["securityContext"]["runAsUser"] = json!(0);
    app["securityContext"]["runAsNonRoot"] = json!(false);
    app["securityContext"]["procMount"] = json!("Unmasked");
    let mut pod = pod(json!([app]));
    pod["spec"]["hostUsers"] = json!(false);
    assert!(checks(Level::Baseline, &pod).is_empty());
    assert_eq!(checks(Level::Restricted, &pod), ["proc-mount-restricted"]);
    pod["spec"]["hostUsers"] = json!(true);
    assert_eq!(checks(Level::Baseline, &pod), ["proc-mount"]);
    assert_eq!(
        checks(Level::Restricted, &pod),
        ["proc-mount-restricted", "run-as-non-root", "run-as-user"]
    );
}

#[test]
fn seccomp_pod_level_profile_covers_containers_but_a_bad_one_is_reported() {
    let mut app = good("app");
    app["securityContext"]["seccompProfile"] = json!({"type": "RuntimeDefault"});
    let mut pod = pod(json!([app, good("sidecar")]));
    pod["spec"]["securityContext"]["seccompProfile"] = json!({"type": "Unconfined"});
    let found = run(Level::Restricted, pod.clone(), "seccomp-profile-restricted");
    assert_eq!(
        found,
        [(
            None,
            r#"pod must not set securityContext.seccompProfile.type to "Unconfined""#.to_owned()
        )]
    );
    pod["spec"]["securityContext"]
        .as_object_mut()
        .expect("object")
        .remove("seccompProfile");
    let found = run(Level::Restricted, pod, "seccomp-profile-restricted");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0.as_deref(), Some("sidecar"));
}

#[test]
fn restricted_findings_that_baseline_forbids_too_keep_baseline_gravity() {
    let mut pod = pod(json!([good("app")]));
    pod["spec"]["volumes"] = json!([
        {"name": "root", "hostPath": {"path": "/"}},
        {"name": "share", "nfs": {"server": "nfs", "path": "/"}},
        {"name": "defaulted"}
    ]);
    let findings = PodSecurity::at(Level::Restricted).findings(&pod.to_string());
    let gravity: Vec<(&str, Option<Severity>, u32)> = findings
        .iter()
        .map(|f| (f.message.as_str(), f.severity, f.magnitude))
        .collect();
    assert_eq!(
        gravity,
        [
            (
                r#"volume "root" uses restricted volume type "hostPath""#,
                Some(Severity::High),
                2
            ),
            (
                r#"volume "share" uses restricted volume type "nfs""#,
                None,
                1
            ),
        ]
    );
}

#[test]
fn app_armor_annotations_land_on_the_container_they_name() {
    let mut pod = pod(json!([good("app")]));
    pod["metadata"]["annotations"] = json!({
        "container.apparmor.security.beta.kubernetes.io/app": "unconfined",
        "container.apparmor.security.beta.kubernetes.io/gone": "foo",
        "container.apparmor.security.beta.kubernetes.io/ok": "localhost/custom",
        "seccomp.security.alpha.kubernetes.io/pod": "unconfined"
    });
    let found = run(Level::Baseline, pod, "app-armor-profile");
    let containers: Vec<Option<&str>> = found.iter().map(|(c, _)| c.as_deref()).collect();
    assert_eq!(containers, [Some("app"), None]);
    assert!(
        found[0].1.contains(r#"/app="unconfined""#),
        "{}",
        found[0].1
    );
}

#[test]
fn host_network_turns_container_ports_into_host_ports() {
    let mut app = good("app");
    app["ports"] = json!([{"containerPort": 8080}]);
    let mut pod = pod(json!([app]));
    assert!(checks(Level::Baseline, &pod).is_empty());
    pod["spec"]["hostNetwork"] = json!(true);
    assert_eq!(
        checks(Level::Baseline, &pod),
        ["host-namespaces", "host-ports"]
    );
}

#[test]
fn one_finding_per_container_and_per_pod_level_cause() {
    let mut app = good("app");
    app["livenessProbe"] = json!({"httpGet": {"host": "a", "port": 80}});
    app["lifecycle"] = json!({"preStop": {"tcpSocket": {"host": "b", "port": 80}}});
    let mut pod = pod(json!([app, good("other")]));
    pod["spec"]["hostPID"] = json!(true);
    pod["spec"]["hostIPC"] = json!(true);
    pod["spec"]["securityContext"]["sysctls"] = json!([{"name": "kernel.msgmax", "value": "1"}, {"name": "net.ipv4.tcp_rmem", "value": "1"}, {"name": "net.core.somaxconn", "value": "1"}]);
    let hosts = run(
        Level::Baseline,
        pod.clone(),
        "host-probes-and-host-lifecycle",
    );
    assert_eq!(
        hosts,
        [(
            Some("app".to_owned()),
            r#"container "app" uses probe or lifecycle host: livenessProbe.httpGet.host="a", lifecycle.preStop.tcpSocket.host="b""#.to_owned()
        )]
    );
    assert_eq!(
        run(Level::Baseline, pod.clone(), "host-namespaces").len(),
        2
    );
    assert_eq!(run(Level::Baseline, pod, "sysctls").len(), 2);
}

#[test]
fn capability_names_match_exactly() {
    let with = |add: serde_json::Value, drop: serde_json::Value| {
        let mut app = good("app");
        app["securityContext"]["capabilities"] = json!({"add": add, "drop": drop});
        let pod = pod(json!([app]));
        (
            checks(Level::Baseline, &pod),
            checks(Level::Restricted, &pod),
        )
    };
    let none: Vec<String> = Vec::new();
    assert_eq!(
        with(json!(["NET_BIND_SERVICE"]), json!(["ALL"])),
        (none.clone(), none.clone())
    );
    assert_eq!(
        with(json!(["CHOWN"]), json!(["ALL"])),
        (none.clone(), vec!["capabilities-restricted".to_owned()])
    );
    assert_eq!(
        with(json!(["CAP_CHOWN"]), json!(["ALL"])).0,
        ["capabilities-baseline"]
    );
    assert_eq!(
        with(json!([]), json!(["all"])),
        (none, vec!["capabilities-restricted".to_owned()])
    );
}

#[test]
fn unusable_input_gives_no_findings_and_odd_input_no_panic() {
    let plugin = PodSecurity::at(Level::Restricted);
    assert!(plugin.findings("").is_empty());
    assert!(plugin.findings("not json").is_empty());
    assert!(plugin.findings("\"a string\"").is_empty());
    // No spec at all: nothing to check.
    assert!(plugin.findings("{}").is_empty());
    // Wrong types everywhere: read as absent.
    let odd = json!({
        "metadata": {"annotations": ["x"]},
        "spec": {"containers": [{"name": ["x"], "securityContext": {"capabilities": "ALL",
            "allowPrivilegeEscalation": "false"}, "ports": [{"hostPort": "80"}]}],
            "volumes": "none", "securityContext": {"sysctls": {"name": "x"}}, "os": "windows"}
    });
    let ids = checks(Level::Restricted, &odd);
    assert_eq!(
        ids,
        [
            "allow-privilege-escalation",
            "capabilities-restricted",
            "run-as-non-root",
            "seccomp-profile-restricted"
        ]
    );
}
