//! The built-in `pod-security` plugin through the real Wasm path (the embedded component,
//! wasmtime, the WIT contract, the config file): the rules the conformance corpus cannot show
//! (ephemeral containers cannot be set at creation, the corpus holds only valid pods), finding
//! by finding, and how the host's reading of the pod reaches the plugin.

use kube_devops_engine::analysis::report::{DiagnosticKind, FindingRow};
use kube_devops_engine::analysis::{Catalog, Config, Filter, PluginPaths, Report, analyze_report};
use kube_devops_engine::contract::Severity;
use kube_devops_engine::manifest::{self, Manifests};
use serde_json::{Value, json};

const PLUGIN: &str = "pod-security";
const BASELINE: &str = "baseline";
const RESTRICTED: &str = "restricted";

/// The report on `pod` with only `pod-security` enabled, at `level`.
fn report(level: &str, pod: &Value) -> Report {
    let config = format!(
        "plugins:\n  {PLUGIN}:\n    enabled: true\n    settings: {{level: {level}}}\n  \
         latest-tag: {{enabled: false}}\n  probes: {{enabled: false}}\n  \
         restarts: {{enabled: false}}\n  pending: {{enabled: false}}\n"
    );
    let config = Config::parse(&config).expect("valid config");
    let runtime = kube_devops_builtins::runtime(None).expect("runtime");
    let catalog = Catalog::load(&runtime, &config, &PluginPaths::default()).expect("plugins load");
    let names: Vec<&str> = catalog.plugins.iter().map(|p| p.name()).collect();
    assert_eq!(names, [PLUGIN], "only {PLUGIN} runs");
    let mut manifests = Manifests::default();
    manifest::split("pod.json".into(), pod.to_string(), &mut manifests);
    assert!(manifests.errors.is_empty(), "{:?}", manifests.errors);
    analyze_report(&catalog, &manifests.sources, &Filter::default())
}

/// The findings on `pod` at `level`, which the host must have read and the plugin analysed.
fn findings(level: &str, pod: &Value) -> Vec<FindingRow> {
    let report = report(level, pod);
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
    assert_eq!(report.summary.pods_analyzed, 1);
    report.findings
}

/// `(container, message)` of each finding of `check` at `level`.
fn run(level: &str, pod: &Value, check: &str) -> Vec<(Option<String>, String)> {
    findings(level, pod)
        .into_iter()
        .filter(|finding| &*finding.check == check)
        .map(|finding| (finding.container, finding.message))
        .collect()
}

/// The distinct check ids violated at `level`, sorted.
fn checks(level: &str, pod: &Value) -> Vec<String> {
    let mut ids: Vec<String> = findings(level, pod)
        .into_iter()
        .map(|finding| finding.check.to_string())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// A container compliant with `restricted`.
fn good(name: &str) -> Value {
    json!({
        "name": name, "image": "app:1",
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]}
        }
    })
}

/// A pod compliant with `restricted`, with these containers.
fn pod(containers: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": containers
        }
    })
}

#[test]
fn a_compliant_pod_has_no_findings_at_either_level() {
    let pod = pod(json!([good("app")]));
    assert!(checks(BASELINE, &pod).is_empty());
    assert!(checks(RESTRICTED, &pod).is_empty());
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
        checks(BASELINE, &pod),
        ["capabilities-baseline", "privileged"]
    );
    assert_eq!(
        checks(RESTRICTED, &pod),
        [
            "allow-privilege-escalation",
            "capabilities-restricted",
            "privileged",
            "run-as-user"
        ]
    );
    let privileged = run(BASELINE, &pod, "privileged");
    assert_eq!(
        privileged,
        [(
            Some("debug".to_owned()),
            r#"container "debug" must not set securityContext.privileged=true"#.to_owned()
        )]
    );
    let caps = run(RESTRICTED, &pod, "capabilities-restricted");
    assert_eq!(
        caps[0].1,
        r#"container "debug" must set securityContext.capabilities.drop=["ALL"]; must not include "SYS_PTRACE" in securityContext.capabilities.add"#
    );
}

#[test]
fn an_ephemeral_container_without_its_own_settings_breaks_restricted() {
    let mut pod = pod(json!([good("app")]));
    pod["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": "busybox:1"}]);
    assert!(checks(BASELINE, &pod).is_empty());
    assert_eq!(
        checks(RESTRICTED, &pod),
        ["allow-privilege-escalation", "capabilities-restricted"]
    );
}

#[test]
fn windows_pods_are_exempt_from_three_restricted_checks_only() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w"},
        "spec": {
            "os": {"name": "windows"},
            "securityContext": {"seccompProfile": {"type": "Unconfined"}},
            "containers": [{"name": "app", "image": "app:1",
                "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}, "runAsNonRoot": false}}]
        }
    });
    // At restricted, capabilities and seccomp are exempt, and their baseline versions do not
    // run: PSA's own behaviour.
    assert_eq!(checks(RESTRICTED, &pod), ["run-as-non-root"]);
    assert_eq!(
        checks(BASELINE, &pod),
        ["capabilities-baseline", "seccomp-profile-baseline"]
    );
    // `os.name` is matched exactly.
    let mut linux = pod.clone();
    linux["spec"]["os"]["name"] = json!("Windows");
    assert_eq!(
        checks(RESTRICTED, &linux),
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
    let with = |pod_value: Value, containers: &[Option<bool>]| {
        let containers: Vec<Value> = containers
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
        run(RESTRICTED, &pod, "run-as-non-root")
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
    assert!(checks(BASELINE, &pod).is_empty());
    assert_eq!(checks(RESTRICTED, &pod), ["proc-mount-restricted"]);
    pod["spec"]["hostUsers"] = json!(true);
    assert_eq!(checks(BASELINE, &pod), ["proc-mount"]);
    assert_eq!(
        checks(RESTRICTED, &pod),
        ["proc-mount-restricted", "run-as-non-root", "run-as-user"]
    );
}

#[test]
fn seccomp_pod_level_profile_covers_containers_but_a_bad_one_is_reported() {
    let mut app = good("app");
    app["securityContext"]["seccompProfile"] = json!({"type": "RuntimeDefault"});
    let mut pod = pod(json!([app, good("sidecar")]));
    pod["spec"]["securityContext"]["seccompProfile"] = json!({"type": "Unconfined"});
    let found = run(RESTRICTED, &pod, "seccomp-profile-restricted");
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
    let found = run(RESTRICTED, &pod, "seccomp-profile-restricted");
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
    let findings = findings(RESTRICTED, &pod);
    let gravity: Vec<(&str, Severity, u32)> = findings
        .iter()
        .map(|f| (f.message.as_str(), f.severity, f.magnitude))
        .collect();
    // The second keeps the check's own gravity (medium, magnitude 1).
    assert_eq!(
        gravity,
        [
            (
                r#"volume "root" uses restricted volume type "hostPath""#,
                Severity::High,
                2
            ),
            (
                r#"volume "share" uses restricted volume type "nfs""#,
                Severity::Medium,
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
    let found = run(BASELINE, &pod, "app-armor-profile");
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
    assert!(checks(BASELINE, &pod).is_empty());
    pod["spec"]["hostNetwork"] = json!(true);
    assert_eq!(checks(BASELINE, &pod), ["host-namespaces", "host-ports"]);
}

#[test]
fn host_network_defaults_only_the_host_ports_left_unset_or_zero() {
    let mut app = good("a");
    app["ports"] = json!([{"containerPort": 80}, {"containerPort": 81, "hostPort": 0},
                          {"containerPort": 82, "hostPort": 9000}]);
    let mut pod = pod(json!([app]));
    pod["spec"]["hostNetwork"] = json!(true);
    assert_eq!(
        run(BASELINE, &pod, "host-ports"),
        [(
            Some("a".to_owned()),
            r#"container "a" uses hostPorts 80, 81, 9000 (hostNetwork makes every containerPort a hostPort)"#
                .to_owned()
        )]
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
    let hosts = run(BASELINE, &pod, "host-probes-and-host-lifecycle");
    assert_eq!(
        hosts,
        [(
            Some("app".to_owned()),
            r#"container "app" uses probe or lifecycle host: livenessProbe.httpGet.host="a", lifecycle.preStop.tcpSocket.host="b""#.to_owned()
        )]
    );
    assert_eq!(run(BASELINE, &pod, "host-namespaces").len(), 2);
    assert_eq!(run(BASELINE, &pod, "sysctls").len(), 2);
}

#[test]
fn capability_names_match_exactly() {
    let with = |add: Value, drop: Value| {
        let mut app = good("app");
        app["securityContext"]["capabilities"] = json!({"add": add, "drop": drop});
        let pod = pod(json!([app]));
        (checks(BASELINE, &pod), checks(RESTRICTED, &pod))
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

/// The host reads the fields contract 0.2.0 added leniently: `null` or a wrong JSON type reads
/// as absent and costs none of the pod's other findings.
#[test]
fn odd_values_in_the_fields_0_2_0_added_read_as_absent() {
    let odd = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "odd"},
        "spec": {
            "os": "windows",
            "hostUsers": "false",
            "securityContext": {"sysctls": {"name": "x"}, "seccompProfile": "Unconfined"},
            "containers": [{"name": "app", "image": "app:1",
                "ports": [{"containerPort": 80, "hostPort": "80"}],
                "securityContext": {"procMount": 7, "seLinuxOptions": {"user": 1, "type": "spc_t"},
                    "windowsOptions": {"hostProcess": "true"}}}],
            "volumes": [
                {"name": "v", "hostPath": null, "nfs": {"server": "s", "path": "/"}},
                {"name": "w", "foo": {}}
            ]
        }
    });
    // At baseline only the well-typed SELinux type counts: the SELinux user, `procMount`,
    // `hostProcess`, the sysctls, the host port and the `null` hostPath read as absent.
    assert_eq!(
        run(BASELINE, &odd, "se-linux-options"),
        [(
            Some("app".to_owned()),
            r#"container "app" set forbidden securityContext.seLinuxOptions: type "spc_t""#
                .to_owned()
        )]
    );
    assert_eq!(checks(BASELINE, &odd), ["se-linux-options"]);
    // Not a Windows pod (no exemptions), not in a user namespace; `v` is an nfs volume, and `w`
    // sets no source the API knows, so it is an emptyDir.
    assert_eq!(
        checks(RESTRICTED, &odd),
        [
            "allow-privilege-escalation",
            "capabilities-restricted",
            "restricted-volumes",
            "run-as-non-root",
            "se-linux-options",
            "seccomp-profile-restricted"
        ]
    );
    assert_eq!(
        run(RESTRICTED, &odd, "restricted-volumes"),
        [(
            None,
            r#"volume "v" uses restricted volume type "nfs""#.to_owned()
        )]
    );
}

/// The fields contract 0.1.0 already carried are read strictly: a wrong JSON type makes the
/// pod an input error, which no plugin sees.
#[test]
fn a_wrong_type_in_a_strictly_read_field_is_an_input_error() {
    let mut app = good("app");
    app["securityContext"]["allowPrivilegeEscalation"] = json!("false");
    let report = report(RESTRICTED, &pod(json!([app])));
    assert_eq!(report.summary.pods_analyzed, 0);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    let kinds: Vec<DiagnosticKind> = report.diagnostics.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, [DiagnosticKind::Input], "{:?}", report.diagnostics);
}
