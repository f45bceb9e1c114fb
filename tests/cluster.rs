//! `check`, `list pods` and `analyze` against the loopback API server fixture, through the
//! binary's real kube-rs client: paging, a forbidden identity, an unreachable server.

mod support;

use std::sync::atomic::Ordering;

use support::apiserver::{ApiServer, kubeconfig_for, pod};
use support::{run, temp_dir};

/// Regression: `kube-devops --kubeconfig F check` was refused; global flags go before or after
/// the command, as kubectl takes them.
#[test]
fn cluster_flags_work_before_or_after_the_command() {
    let server = ApiServer::start();
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    for args in [
        [
            "--kubeconfig",
            kubeconfig.as_str(),
            "--log-format",
            "json",
            "check",
        ],
        [
            "check",
            "--kubeconfig",
            kubeconfig.as_str(),
            "--log-format",
            "json",
        ],
        [
            "--log-format",
            "json",
            "check",
            "--kubeconfig",
            kubeconfig.as_str(),
        ],
    ] {
        let result = run(&args);
        assert_eq!(result.code, 0, "{args:?}: {result:?}");
        assert!(result.stdout.contains(&server.url), "{args:?}: {result:?}");
    }
}

#[test]
fn check_prints_server_version_and_permissions() {
    let server = ApiServer::start();
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());

    let result = run(&["check", "--kubeconfig", &kubeconfig]);

    assert_eq!(result.code, 0, "{result:?}");
    assert!(result.stdout.contains("v1.31.0-fixture"), "{result:?}");
    assert!(result.stdout.contains(&server.url), "{result:?}");
    assert!(
        result
            .stdout
            .contains("list pods       : allowed in all namespaces"),
        "{result:?}"
    );
    assert!(
        result
            .stdout
            .contains("watch pods      : allowed in all namespaces"),
        "{result:?}"
    );
    assert_eq!(
        server
            .requests_to("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
            .len(),
        2
    );
}

#[test]
fn check_exits_4_when_access_is_denied() {
    let server = ApiServer::start();
    server.cluster.deny_access.store(true, Ordering::SeqCst);
    let dir = temp_dir();

    let result = run(&[
        "check",
        "--kubeconfig",
        &server.kubeconfig(dir.path()),
        "-n",
        "shop",
    ]);

    assert_eq!(result.code, 4, "{result:?}");
    assert!(
        result
            .stdout
            .contains("list pods       : denied in namespace shop"),
        "{result:?}"
    );
    assert!(
        result
            .stderr
            .contains("may not list or watch pods in namespace shop"),
        "{result:?}"
    );
    assert!(
        result.stderr.contains("grant get, list and watch on pods"),
        "{result:?}"
    );
}

#[test]
fn forbidden_identity_exits_4_with_the_servers_reason() {
    let server = ApiServer::start();
    server.cluster.forbid_all.store(true, Ordering::SeqCst);
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());

    for args in [vec!["check"], vec!["list", "pods"], vec!["analyze"]] {
        let mut args = args;
        args.extend(["--kubeconfig", &kubeconfig]);
        let result = run(&args);
        assert_eq!(result.code, 4, "{args:?}: {result:?}");
        assert!(result.stderr.contains("refused to"), "{args:?}: {result:?}");
        assert!(
            result.stderr.contains("is forbidden"),
            "{args:?}: {result:?}"
        );
    }
}

#[test]
fn unreachable_server_exits_4_with_advice() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let dir = temp_dir();
    let kubeconfig = kubeconfig_for(&format!("http://127.0.0.1:{port}"), dir.path());

    for command in [
        ["check"].as_slice(),
        ["list", "pods"].as_slice(),
        ["analyze"].as_slice(),
    ] {
        let mut args = command.to_vec();
        args.extend(["--kubeconfig", &kubeconfig]);
        let result = run(&args);
        assert_eq!(result.code, 4, "{result:?}");
        assert!(
            result.stderr.contains("cannot reach the API server"),
            "{result:?}"
        );
        assert!(result.stderr.contains("--kubeconfig"), "{result:?}");
    }
}

#[test]
fn missing_kubeconfig_file_is_a_cluster_error() {
    let result = run(&[
        "list",
        "pods",
        "--kubeconfig",
        "/nonexistent/kubeconfig.yaml",
    ]);
    assert_eq!(result.code, 4, "{result:?}");
    assert!(
        result.stderr.contains("/nonexistent/kubeconfig.yaml"),
        "{result:?}"
    );
}

#[test]
fn list_pods_pages_through_every_pod() {
    let server = ApiServer::start();
    // More than two pages of 500, in two namespaces; lists are ordered by namespace, then name.
    server.add_pods((0..1100).map(|i| {
        pod(
            if i % 2 == 0 { "shop" } else { "tools" },
            &format!("pod-{i:04}"),
            "nginx:1.27",
            "Running",
            0,
        )
    }));
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());

    let result = run(&["list", "pods", "--kubeconfig", &kubeconfig]);

    assert_eq!(result.code, 0, "{result:?}");
    let lines: Vec<&str> = result.stdout.lines().collect();
    assert_eq!(lines.len(), 1 + 1100, "header and one line per pod");
    assert!(lines[0].starts_with("NAMESPACE"), "{}", lines[0]);
    let first: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(first, ["shop", "pod-0000", "Running", "node-1"]);
    let pages = server.requests_to("/api/v1/pods");
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(
        pages.iter().all(|page| page.contains("limit=500")),
        "{pages:?}"
    );
    assert!(
        pages[1].contains("continue=500") && pages[2].contains("continue=1000"),
        "{pages:?}"
    );
}

#[test]
fn list_pods_in_one_namespace_as_json() {
    let server = ApiServer::start();
    server.add_pods([
        pod("shop", "web", "nginx:1.27", "Running", 0),
        pod("billing", "api", "api:2", "Pending", 0),
    ]);
    let dir = temp_dir();

    let result = run(&[
        "list",
        "pods",
        "-n",
        "billing",
        "-o",
        "json",
        "--kubeconfig",
        &server.kubeconfig(dir.path()),
    ]);

    assert_eq!(result.code, 0, "{result:?}");
    let rows = result.json();
    assert_eq!(
        rows,
        serde_json::json!([{"namespace": "billing", "name": "api", "status": "Pending", "node": "node-1"}])
    );
    assert_eq!(
        server.requests_to("/api/v1/namespaces/billing/pods").len(),
        1
    );
}

#[test]
fn analyze_reads_the_cluster_page_by_page_and_skips_system_namespaces() {
    let server = ApiServer::start();
    let mut pods: Vec<_> = (0..600)
        .map(|i| {
            pod(
                "shop",
                &format!("web-{i}"),
                "registry.example.com/web:1.0",
                "Running",
                0,
            )
        })
        .collect();
    pods.push(pod("shop", "floating", "nginx", "Running", 0));
    pods.push(pod("shop", "crashing", "api:1", "Running", 9));
    pods.push(pod("billing", "waiting", "billing:3", "Pending", 0));
    pods.push(pod("kube-system", "coredns", "coredns", "Running", 50));
    server.add_pods(pods);
    let dir = temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());

    let result = run(&["analyze", "--kubeconfig", &kubeconfig, "-o", "json"]);

    assert_eq!(result.code, 0, "{result:?}");
    let report = result.json();
    let summary = &report["summary"];
    assert_eq!(summary["podsAnalyzed"], 603);
    assert_eq!(summary["latestTag"], 1);
    assert_eq!(summary["restartSeverity"], 5);
    assert_eq!(summary["pending"], 1);
    // raw = 5 + 6 × 5 + 4 = 39; 39 / 603 = 0.
    assert_eq!(summary["healthScore"], 100);
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| f["namespace"] != "kube-system")
    );
    assert_eq!(
        server.requests_to("/api/v1/pods").len(),
        2,
        "two pages of 500"
    );

    let with_system = run(&[
        "analyze",
        "--kubeconfig",
        &kubeconfig,
        "-o",
        "json",
        "--include-system",
    ])
    .json();
    assert_eq!(with_system["summary"]["podsAnalyzed"], 604);
    assert_eq!(with_system["summary"]["restartSeverity"], 10);
}

#[test]
fn analyze_one_namespace_asks_only_for_it() {
    let server = ApiServer::start();
    server.add_pods([
        pod("shop", "web", "nginx", "Running", 0),
        pod("billing", "api", "api:1", "Pending", 0),
    ]);
    let dir = temp_dir();

    let result = run(&[
        "analyze",
        "-n",
        "billing",
        "--kubeconfig",
        &server.kubeconfig(dir.path()),
        "-o",
        "json",
    ]);

    assert_eq!(result.code, 0, "{result:?}");
    assert_eq!(result.json()["summary"]["podsAnalyzed"], 1);
    assert_eq!(result.json()["summary"]["pending"], 1);
    assert_eq!(server.requests_to("/api/v1/pods").len(), 0);
    assert_eq!(
        server.requests_to("/api/v1/namespaces/billing/pods").len(),
        1
    );
}
