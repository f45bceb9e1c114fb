//! Several clusters at once (`analyze --context A --context B`, `--all-contexts`, `contexts`,
//! the seed's `multi-cluster` spellings), through the binary's real kube-rs client against
//! loopback API server fixtures: two healthy clusters, one that forbids everything, one that
//! nobody listens for, all in one kubeconfig.

mod support;

use std::sync::atomic::Ordering;

use serde_json::Value;
use support::apiserver::{ApiServer, pod};
use support::{Run, run, temp_dir};
use tempfile::TempDir;

/// The four clusters and the kubeconfig naming them `alpha` (current), `beta`, `gamma`
/// (forbidden) and `delta` (unreachable).
struct Fleet {
    alpha: ApiServer,
    beta: ApiServer,
    gamma: ApiServer,
    delta_url: String,
    kubeconfig: String,
    _dir: TempDir,
}

/// alpha: 2 pods, one with 9 restarts (6 × 5) and one on `:latest` (5 × 1): raw 35, score
/// 100 − 35 / 2 = 83. beta: 5 pods, one on `:latest`: raw 5, score 100 − 5 / 5 = 99. The fleet:
/// raw 40 over 7 pods, 100 − 40 / 7 = 95, which neither the mean of the scores (91) nor the
/// pod-weighted mean (94) gives.
const FLEET_SCORE: u64 = 95;

fn fleet() -> Fleet {
    let alpha = ApiServer::start();
    alpha.add_pods([
        pod("shop", "crashing", "api:1", "Running", 9),
        pod("shop", "floating", "nginx", "Running", 0),
    ]);
    let beta = ApiServer::start();
    beta.add_pods(
        (0..4)
            .map(|i| pod("billing", &format!("api-{i}"), "billing:3", "Running", 0))
            .chain([pod("tools", "cache", "redis:latest", "Running", 0)]),
    );
    let gamma = ApiServer::start();
    gamma.add_pods([pod("shop", "web", "nginx:1.27", "Running", 0)]);
    gamma.cluster.forbid_all.store(true, Ordering::SeqCst);
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let delta_url = format!("http://127.0.0.1:{port}");
    let dir = temp_dir();
    let kubeconfig = kubeconfig_with_contexts(
        dir.path(),
        &[
            ("alpha", &alpha.url),
            ("beta", &beta.url),
            ("gamma", &gamma.url),
            ("delta", &delta_url),
        ],
    );
    Fleet {
        alpha,
        beta,
        gamma,
        delta_url,
        kubeconfig,
        _dir: dir,
    }
}

/// A kubeconfig with one cluster and context per `(name, url)`, the first current.
fn kubeconfig_with_contexts(dir: &std::path::Path, clusters: &[(&str, &str)]) -> String {
    let mut text = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for (name, url) in clusters {
        text.push_str(&format!(
            "- name: {name}-cluster\n  cluster:\n    server: {url}\n"
        ));
    }
    text.push_str("users:\n- name: tester\n  user:\n    token: fixture-token\ncontexts:\n");
    for (name, _) in clusters {
        text.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {name}-cluster\n    user: tester\n"
        ));
    }
    text.push_str(&format!("current-context: {}\n", clusters[0].0));
    support::write(dir, "kubeconfig", &text)
}

impl Fleet {
    fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--kubeconfig", self.kubeconfig.as_str()];
        all.extend(args);
        run(&all)
    }

    /// `analyze --context NAME -o json` alone.
    fn alone(&self, context: &str) -> Value {
        let result = self.run(&["analyze", "--context", context, "-o", "json"]);
        assert_eq!(result.code, 0, "{result:?}");
        result.json()
    }
}

/// The entry of `context` in a fleet report, after checking the order of all of them.
fn entries<'a>(report: &'a Value, contexts: &[&str]) -> Vec<&'a Value> {
    let clusters = report["clusters"].as_array().expect("clusters");
    let names: Vec<&str> = clusters
        .iter()
        .map(|cluster| cluster["context"].as_str().expect("context"))
        .collect();
    assert_eq!(names, contexts, "{report:#}");
    clusters.iter().collect()
}

/// A cluster's entry holds exactly what `analyze --context` alone reports about it.
fn assert_same_as_alone(entry: &Value, alone: &Value) {
    for field in ["summary", "namespaces", "findings"] {
        assert_eq!(entry[field], alone[field], "{field} of {entry:#}");
    }
    assert_eq!(entry["error"], Value::Null, "{entry:#}");
}

#[test]
fn fleet_json_sums_the_pods_and_scores_the_merged_tally() {
    let fleet = fleet();

    let result = fleet.run(&[
        "analyze",
        "--context",
        "alpha",
        "--context",
        "beta",
        "-o",
        "json",
    ]);

    assert_eq!(result.code, 0, "{result:?}");
    // Each cluster was listed once, and the third one not at all.
    assert_eq!(fleet.alpha.requests_to("/api/v1/pods").len(), 1);
    assert_eq!(fleet.beta.requests_to("/api/v1/pods").len(), 1);
    assert!(fleet.gamma.requests_to("/").is_empty());
    let report = result.json();
    let clusters = entries(&report, &["alpha", "beta"]);
    assert_same_as_alone(clusters[0], &fleet.alone("alpha"));
    assert_same_as_alone(clusters[1], &fleet.alone("beta"));
    assert_eq!(clusters[0]["summary"]["healthScore"], 83);
    assert_eq!(clusters[1]["summary"]["healthScore"], 99);
    assert!(
        clusters[0]["server"]
            .as_str()
            .expect("server")
            .starts_with(&fleet.alpha.url),
        "{report:#}"
    );
    assert_eq!(
        report["fleet"],
        serde_json::json!({"podsAnalyzed": 7, "healthScore": FLEET_SCORE, "status": "Healthy"})
    );
    // Piped stderr: no progress line.
    assert!(!result.stderr.contains("pods…"), "{result:?}");
}

#[test]
fn failing_clusters_carry_their_errors_and_exit_4_while_the_others_are_complete() {
    let fleet = fleet();

    let result = fleet.run(&["analyze", "--all-contexts", "-o", "json"]);

    assert_eq!(result.code, 4, "{result:?}");
    let report = result.json();
    let clusters = entries(&report, &["alpha", "beta", "gamma", "delta"]);
    assert_same_as_alone(clusters[0], &fleet.alone("alpha"));
    assert_same_as_alone(clusters[1], &fleet.alone("beta"));
    for failed in &clusters[2..] {
        for field in ["summary", "namespaces", "findings"] {
            assert_eq!(failed[field], Value::Null, "{failed:#}");
        }
    }
    let forbidden = &clusters[2]["error"];
    let message = forbidden["message"].as_str().expect("message");
    assert!(
        message.contains("refused to list pods") && message.contains("is forbidden"),
        "{forbidden:#}"
    );
    assert!(
        forbidden["hint"].as_str().expect("hint").contains("RBAC"),
        "{forbidden:#}"
    );
    let unreachable = &clusters[3]["error"];
    assert!(
        unreachable["message"]
            .as_str()
            .expect("message")
            .contains(&format!(
                "cannot reach the API server at {}",
                fleet.delta_url
            )),
        "{unreachable:#}"
    );
    assert!(
        unreachable["hint"]
            .as_str()
            .expect("hint")
            .contains("is the cluster running"),
        "{unreachable:#}"
    );
    // The fleet is the clusters that could be analysed.
    assert_eq!(report["fleet"]["podsAnalyzed"], 7);
    assert_eq!(report["fleet"]["healthScore"], FLEET_SCORE);
    assert!(
        result.stderr.contains("error: context `gamma`: ")
            && result.stderr.contains("error: context `delta`: ")
            && result
                .stderr
                .contains("2 of 4 clusters could not be analysed"),
        "{result:?}"
    );
}

#[test]
fn text_shows_the_fleet_table_and_with_per_cluster_each_summary() {
    let fleet = fleet();
    let args = [
        "analyze",
        "--context",
        "alpha",
        "--context",
        "beta",
        "--context",
        "gamma",
        "--context",
        "delta",
    ];

    let result = fleet.run(&args);

    assert_eq!(result.code, 4, "{result:?}");
    let rows: Vec<Vec<&str>> = result
        .stdout
        .lines()
        .take(5)
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["CONTEXT", "SERVER", "PODS", "SCORE", "STATUS"]);
    assert_eq!(rows[1][0], "alpha");
    assert!(rows[1][1].starts_with(&fleet.alpha.url), "{result:?}");
    assert_eq!(rows[1][2..], ["2", "83", "Healthy"]);
    assert_eq!(rows[2][0], "beta");
    assert_eq!(rows[2][2..], ["5", "99", "Healthy"]);
    assert_eq!(rows[3][0], "gamma");
    assert_eq!(
        rows[3][2..],
        [
            "-",
            "-",
            "ERROR:",
            "forbidden",
            "to",
            "list",
            "pods",
            "(/api/v1/pods)"
        ]
    );
    assert_eq!(rows[4][0], "delta");
    assert!(rows[4][1].starts_with(&fleet.delta_url), "{result:?}");
    assert_eq!(rows[4][2..], ["-", "-", "ERROR:", "unreachable"]);
    assert!(
        result.stdout.contains(&format!(
            "\nFleet Health Score: {FLEET_SCORE} (Healthy) over 7 pod(s) in 2 of 4 cluster(s)\n"
        )),
        "{result:?}"
    );
    assert!(
        !result.stdout.contains("DevOps Governance Summary"),
        "{result:?}"
    );

    let mut per_cluster = args.to_vec();
    per_cluster.push("--per-cluster");
    let detailed = fleet.run(&per_cluster);
    assert_eq!(detailed.code, 4, "{detailed:?}");
    assert!(detailed.stdout.starts_with(&result.stdout), "{detailed:?}");
    for context in ["alpha", "beta"] {
        let alone = fleet.run(&["analyze", "--context", context]);
        assert_eq!(alone.code, 0, "{alone:?}");
        assert!(
            detailed.stdout.contains(&alone.stdout),
            "{context} alone:\n{}\nin the fleet:\n{}",
            alone.stdout,
            detailed.stdout
        );
    }
    assert_eq!(
        detailed.stdout.matches("DevOps Governance Summary").count(),
        2,
        "{detailed:?}"
    );
    assert!(
        detailed.stdout.contains("\n##### gamma (")
            && detailed.stdout.contains("\n##### delta (")
            && detailed.stdout.contains("hint: is the cluster running"),
        "{detailed:?}"
    );
}

#[test]
fn gates_apply_to_the_fleet_score_and_every_finding() {
    let fleet = fleet();
    let both = ["analyze", "--context", "alpha", "--context", "beta"];

    let passing = fleet.run(&[&both[..], &["--fail-under", "95"]].concat());
    assert_eq!(passing.code, 0, "{passing:?}");
    let failing = fleet.run(&[&both[..], &["--fail-under", "96"]].concat());
    assert_eq!(failing.code, 1, "{failing:?}");
    assert!(
        failing
            .stderr
            .contains("health score 95 is below --fail-under 96"),
        "{failing:?}"
    );
    // beta's `:latest` image alone is a finding of severity warning or worse.
    let severity = fleet.alone("beta")["findings"][0]["severity"]
        .as_str()
        .expect("severity")
        .to_owned();
    let on_beta = fleet.run(&[
        "analyze",
        "--context",
        "gamma",
        "--context",
        "beta",
        "--fail-on",
        &severity,
    ]);
    // A failed cluster wins over a failed gate.
    assert_eq!(on_beta.code, 4, "{on_beta:?}");
    assert!(
        on_beta.stderr.contains("gate failed: 1 finding(s)"),
        "{on_beta:?}"
    );
}

#[test]
fn contexts_lists_each_with_its_server_and_whether_it_answers() {
    let fleet = fleet();

    let text = fleet.run(&["contexts"]);

    assert_eq!(text.code, 0, "{text:?}");
    let rows: Vec<Vec<&str>> = text
        .stdout
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 5, "{text:?}");
    assert_eq!(rows[0], ["CURRENT", "NAME", "CLUSTER", "SERVER", "ANSWER"]);
    assert_eq!(
        rows[1],
        [
            "*",
            "alpha",
            "alpha-cluster",
            fleet.alpha.url.as_str(),
            "v1.31.0-fixture"
        ]
    );
    assert_eq!(
        rows[2],
        [
            "beta",
            "beta-cluster",
            fleet.beta.url.as_str(),
            "v1.31.0-fixture"
        ]
    );
    assert_eq!(
        rows[3][..4],
        ["gamma", "gamma-cluster", &fleet.gamma.url, "no:"]
    );
    assert!(text.stdout.contains("is forbidden"), "{text:?}");
    assert_eq!(
        rows[4][..4],
        ["delta", "delta-cluster", &fleet.delta_url, "no:"]
    );
    assert!(
        text.stdout.contains("cannot reach the API server"),
        "{text:?}"
    );

    let json = fleet.run(&["contexts", "-o", "json"]);
    assert_eq!(json.code, 0, "{json:?}");
    let contexts = json.json();
    let answers: Vec<(&str, bool, bool)> = contexts
        .as_array()
        .expect("an array")
        .iter()
        .map(|context| {
            (
                context["name"].as_str().expect("name"),
                context["current"].as_bool().expect("current"),
                context["answers"].as_bool().expect("answers"),
            )
        })
        .collect();
    assert_eq!(
        answers,
        [
            ("alpha", true, true),
            ("beta", false, true),
            ("gamma", false, false),
            ("delta", false, false)
        ]
    );
    assert_eq!(contexts[0]["version"], "v1.31.0-fixture");
    assert_eq!(contexts[0]["error"], Value::Null);
    assert_eq!(contexts[3]["version"], Value::Null);
    assert!(
        contexts[3]["error"]["hint"]
            .as_str()
            .expect("hint")
            .contains("--context"),
        "{contexts:#}"
    );
}

/// A server that accepts connections and never answers (kept open while the listener lives),
/// and its URL.
fn silent_server() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    (listener, url)
}

#[test]
fn a_context_that_does_not_answer_in_time_is_listed_as_such() {
    // The probe has to give up on it.
    let (_silent, url) = silent_server();
    let server = ApiServer::start();
    let dir = temp_dir();
    let kubeconfig = kubeconfig_with_contexts(dir.path(), &[("up", &server.url), ("silent", &url)]);
    let started = std::time::Instant::now();

    let result = run(&[
        "contexts",
        "--kubeconfig",
        &kubeconfig,
        "--timeout",
        "1",
        "-o",
        "json",
    ]);

    assert_eq!(result.code, 0, "{result:?}");
    let contexts = result.json();
    assert_eq!(contexts[0]["answers"], true, "{contexts:#}");
    assert_eq!(contexts[1]["answers"], false, "{contexts:#}");
    assert_eq!(
        contexts[1]["error"]["message"], "no answer within 1 s",
        "{contexts:#}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the silent cluster stalled the list"
    );
}

#[test]
fn a_cluster_that_never_answers_times_out_and_the_others_are_reported() {
    // Without a deadline it would hold the fleet.
    let (_silent, url) = silent_server();
    let server = ApiServer::start();
    server.add_pods([pod("shop", "floating", "nginx", "Running", 0)]);
    let dir = temp_dir();
    let kubeconfig = kubeconfig_with_contexts(dir.path(), &[("up", &server.url), ("silent", &url)]);
    let started = std::time::Instant::now();

    let result = run(&[
        "analyze",
        "--kubeconfig",
        &kubeconfig,
        "--all-contexts",
        "--cluster-timeout",
        "2",
        "-o",
        "json",
    ]);

    assert_eq!(result.code, 4, "{result:?}");
    let report = result.json();
    let clusters = report["clusters"].as_array().expect("clusters");
    assert_eq!(clusters[0]["context"], "up", "{report:#}");
    assert_eq!(clusters[0]["summary"]["podsAnalyzed"], 1, "{report:#}");
    assert_eq!(clusters[1]["context"], "silent", "{report:#}");
    assert_eq!(clusters[1]["server"], url.as_str(), "{report:#}");
    assert_eq!(
        clusters[1]["error"]["message"], "no complete answer within 2 s (--cluster-timeout)",
        "{report:#}"
    );
    assert_eq!(report["fleet"]["podsAnalyzed"], 1, "{report:#}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "the silent cluster held the fleet"
    );
}

#[test]
fn the_seeds_multi_cluster_spellings_are_aliases() {
    let fleet = fleet();

    let listed = fleet.run(&["multi-cluster", "list-contexts", "-o", "json"]);
    assert_eq!(listed.code, 0, "{listed:?}");
    let direct = fleet.run(&["contexts", "-o", "json"]);
    assert_eq!(listed.json(), direct.json());

    let analysed = fleet.run(&[
        "multi-cluster",
        "analyze",
        "--contexts",
        "alpha,beta",
        "-o",
        "json",
    ]);
    assert_eq!(analysed.code, 0, "{analysed:?}");
    let direct = fleet.run(&[
        "analyze",
        "--context",
        "alpha",
        "--context",
        "beta",
        "-o",
        "json",
    ]);
    assert_eq!(analysed.json(), direct.json());

    // One context is still a fleet there; --per-cluster works the same.
    let one = fleet.run(&[
        "multi-cluster",
        "analyze",
        "--contexts",
        "beta",
        "--per-cluster",
    ]);
    assert_eq!(one.code, 0, "{one:?}");
    assert!(one.stdout.starts_with("CONTEXT"), "{one:?}");
    assert!(one.stdout.contains("DevOps Governance Summary"), "{one:?}");

    let none = fleet.run(&["multi-cluster", "analyze"]);
    assert_eq!(none.code, 2, "{none:?}");
    assert!(none.stderr.contains("--contexts"), "{none:?}");
}

#[test]
fn commands_of_one_cluster_refuse_a_second_context() {
    let fleet = fleet();

    for command in [&["check"][..], &["list", "pods"], &["crd", "install"]] {
        let mut args = command.to_vec();
        args.extend(["--context", "alpha", "--context", "beta"]);
        let result = fleet.run(&args);
        assert_eq!(result.code, 2, "{args:?}: {result:?}");
        assert!(
            result.stderr.contains("only `analyze` takes several"),
            "{args:?}: {result:?}"
        );
    }
    // No cluster was asked anything.
    assert!(fleet.alpha.requests_to("/").is_empty());

    let one = fleet.run(&["check", "--context", "beta"]);
    assert_eq!(one.code, 0, "{one:?}");
    assert!(one.stdout.contains(&fleet.beta.url), "{one:?}");

    let dir = temp_dir();
    let manifest = support::write(dir.path(), "pod.yaml", "apiVersion: v1\nkind: Pod\n");
    let with_file = fleet.run(&[
        "analyze",
        "--context",
        "alpha",
        "--context",
        "beta",
        "-f",
        &manifest,
    ]);
    assert_eq!(with_file.code, 2, "{with_file:?}");
    assert!(with_file.stderr.contains("--file"), "{with_file:?}");
    let all_with_file = fleet.run(&["analyze", "--all-contexts", "-f", &manifest]);
    assert_eq!(all_with_file.code, 2, "{all_with_file:?}");
}

#[test]
fn several_clusters_report_as_text_json_or_yaml_only() {
    let fleet = fleet();

    let sarif = fleet.run(&["analyze", "--all-contexts", "-o", "sarif"]);
    assert_eq!(sarif.code, 2, "{sarif:?}");
    assert!(
        sarif.stderr.contains("one --context at a time"),
        "{sarif:?}"
    );
    assert!(fleet.alpha.requests_to("/").is_empty());

    let yaml = fleet.run(&[
        "analyze",
        "--context",
        "alpha",
        "--context",
        "beta",
        "-o",
        "yaml",
    ]);
    assert_eq!(yaml.code, 0, "{yaml:?}");
    assert!(yaml.stdout.contains("clusters:"), "{yaml:?}");
    assert!(
        yaml.stdout.contains(&format!("healthScore: {FLEET_SCORE}")),
        "{yaml:?}"
    );
}

#[test]
fn clusters_are_analysed_at_the_same_time() {
    // `slow` answers its pod list only once alpha, named after it, has been listed: analysed
    // one after the other, alpha would never be asked and slow would wait forever.
    let fleet = fleet();
    let slow = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", slow.local_addr().expect("address"));
    let dir = temp_dir();
    let kubeconfig =
        kubeconfig_with_contexts(dir.path(), &[("slow", &url), ("alpha", &fleet.alpha.url)]);
    let analysis = std::thread::spawn(move || {
        run(&[
            "analyze",
            "--kubeconfig",
            &kubeconfig,
            "--all-contexts",
            "-o",
            "json",
        ])
    });

    let (mut connection, _) = slow.accept().expect("the slow cluster is asked");
    let request = read_request(&mut connection);
    assert!(request.starts_with("GET /api/v1/pods?"), "{request}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while fleet.alpha.requests_to("/api/v1/pods").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "alpha was not listed while the slow cluster had not answered"
        );
        std::thread::yield_now();
    }
    let body = r#"{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}"#;
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    std::io::Write::write_all(&mut connection, answer.as_bytes()).expect("answer");
    drop(connection);

    let result = analysis.join().expect("the analysis thread");
    assert_eq!(result.code, 0, "{result:?}");
    let report = result.json();
    let clusters = entries(&report, &["slow", "alpha"]);
    assert_eq!(clusters[0]["summary"]["podsAnalyzed"], 0);
    assert_eq!(clusters[1]["summary"]["podsAnalyzed"], 2);
    assert_eq!(report["fleet"]["healthScore"], 83);
}

/// The request head on `connection`, up to the blank line.
fn read_request(connection: &mut std::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match std::io::Read::read(connection, &mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[test]
fn a_terminal_sees_each_clusters_progress() {
    // `script` runs the command on a pseudo-terminal; stderr then gets the progress line.
    let fleet = fleet();
    let command = format!(
        "{} --kubeconfig {} analyze --context alpha --context delta >/dev/null",
        env!("CARGO_BIN_EXE_kube-devops"),
        fleet.kubeconfig
    );
    let output = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .expect("run `script` (util-linux)");
    let terminal = String::from_utf8_lossy(&output.stdout);
    assert!(
        terminal.contains("alpha: connecting…  delta: connecting…"),
        "{terminal:?}"
    );
    // The last state of each, then the line is cleared before the errors are printed.
    assert!(
        terminal
            .contains("\r\u{1b}[2Kalpha: 2 pods  delta: failed\r\u{1b}[2Kerror: context `delta`"),
        "{terminal:?}"
    );
}

/// Not a check: prints the runs docs/multi-cluster.md shows, from the real binary against the
/// fixtures: `cargo test --test multi_cluster -- --ignored --nocapture docs_examples`.
#[test]
#[ignore = "prints the documentation's examples"]
fn docs_examples() {
    let fleet = fleet();
    for args in [
        &["contexts"][..],
        &["contexts", "-o", "json"],
        &["analyze", "--context", "alpha", "--context", "beta"],
        &["analyze", "--all-contexts"],
        &["analyze", "--all-contexts", "-o", "json"],
        &[
            "multi-cluster",
            "analyze",
            "--contexts",
            "alpha,beta",
            "--per-cluster",
        ],
        &["check", "--context", "alpha", "--context", "beta"],
    ] {
        let result = fleet.run(args);
        println!(
            "$ kube-devops --kubeconfig fleet.yaml {}\n{}{}(exit {})\n",
            args.join(" "),
            result.stdout,
            result.stderr,
            result.code
        );
    }
    // On a terminal, stderr shows where each cluster is (`script` gives the run a terminal).
    let command = format!(
        "{} --kubeconfig {} analyze --all-contexts >/dev/null",
        env!("CARGO_BIN_EXE_kube-devops"),
        fleet.kubeconfig
    );
    if let Ok(output) = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
    {
        println!("terminal: {:?}", String::from_utf8_lossy(&output.stdout));
    }
}
