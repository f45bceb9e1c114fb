//! The HTML report and the operator's dashboard in a real browser: Debian's chromium, headless,
//! driven by playwright-core (`tests/browser/run.js`, which prints what it saw as JSON). The
//! report is compared with `analyze -o json` of the same input; the dashboard runs against the
//! loopback API server fixture and must show a pod's new finding within seconds. Screenshots
//! go to `target/screenshots/`. `scripts/test` installs chromium and the npm package.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;

use serde_json::{Value, json};
use support::apiserver::{ApiServer, pod};
use support::daemon::{DEADLINE, Operator};
use support::toolchain::{Toolchain, require};

const CHROMIUM: &str = "/usr/bin/chromium";

fn browser_dir() -> PathBuf {
    support::workspace().join("tests/browser")
}

fn screenshot(name: &str) -> String {
    let dir = support::workspace().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir.join(name).to_string_lossy().into_owned()
}

/// `node tests/browser/run.js ARGS`.
fn node(args: &[&str]) -> Command {
    let mut command = Command::new("node");
    command
        .arg(browser_dir().join("run.js"))
        .args(args)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .env("CHROMIUM", CHROMIUM)
        .current_dir(browser_dir());
    command
}

/// The browser script, running, with its JSON lines arriving on a channel.
struct Script {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Script {
    fn start(args: &[&str]) -> Script {
        let mut child = node(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node (is Node.js installed?)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Script {
            stdin: child.stdin.take(),
            child,
            lines,
        }
    }

    /// The next JSON line, failing the test on an error event or after [`DEADLINE`].
    fn next(&mut self, event: &str) -> Value {
        let line = self
            .lines
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("the browser script printed no {event:?} line in time"));
        let value: Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        assert_eq!(value["event"], event, "browser script said: {value:#}");
        value
    }

    fn tell(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write to the browser script");
        stdin.flush().expect("flush");
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every `analyze -o html` of `args` opens offline with no error and no request beyond itself.
fn open_report(dir: &Path, args: &[&str], shot: &str) -> Value {
    let mut all = vec!["analyze", "-o", "html"];
    all.extend_from_slice(args);
    let html = support::run(&all);
    assert_eq!(html.code, 0, "{html:?}");
    let file = support::write(dir, "report.html", &html.stdout);
    let mut script = Script::start(&["report", &file, &screenshot(shot)]);
    let seen = script.next("report");
    let url = format!("file://{file}");
    assert_eq!(seen["consoleErrors"], json!([]), "console errors");
    assert_eq!(
        seen["requests"],
        json!([url]),
        "only the file itself is read"
    );
    assert_eq!(seen["noScript"]["consoleErrors"], json!([]));
    assert_eq!(seen["noScript"]["requests"], json!([url]));
    seen
}

fn rows_where(findings: &[Value], key: &str, value: &str) -> usize {
    findings
        .iter()
        .filter(|finding| finding[key] == value)
        .count()
}

#[test]
fn the_html_report_shows_what_the_json_report_says_and_filters_its_rows() {
    if !require(Toolchain::Browser) {
        return;
    }
    let dir = support::temp_dir();
    let input = ["-f", "examples/manifests"];
    let report = support::run(&["analyze", "-o", "json", input[0], input[1]]).json();
    let seen = open_report(dir.path(), &input, "report.png");

    let summary = &report["summary"];
    let figures = &seen["figures"];
    for (figure, field) in [
        ("pods-analyzed", "podsAnalyzed"),
        ("latest-tag", "latestTag"),
        ("missing-liveness", "missingLiveness"),
        ("missing-readiness", "missingReadiness"),
        ("restart-severity", "restartSeverity"),
        ("pending", "pending"),
        ("health-score", "healthScore"),
    ] {
        assert_eq!(figures[figure], summary[field].to_string(), "{figure}");
    }
    assert_eq!(figures["status"], summary["status"]);
    assert_eq!(seen["score"], summary["healthScore"].to_string());
    assert_eq!(seen["status"], summary["status"]);

    let namespaces: Vec<Value> = report["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .map(|ns| {
            json!({"namespace": ns["namespace"], "pods": ns["podsAnalyzed"],
                   "score": ns["healthScore"], "status": ns["status"]})
        })
        .collect();
    assert_eq!(seen["namespaces"], json!(namespaces));
    assert_eq!(seen["bars"], namespaces.len());

    let findings = report["findings"].as_array().expect("findings");
    assert!(findings.len() > 3, "the example has findings to filter");
    let rows = seen["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), findings.len());
    for (row, finding) in rows.iter().zip(findings) {
        assert_eq!(row["severity"], finding["severity"]);
        assert_eq!(row["namespace"], finding["namespace"]);
        assert_eq!(
            row["object"],
            format!(
                "{}/{}",
                finding["kind"].as_str().unwrap_or_default(),
                finding["pod"].as_str().unwrap_or_default()
            )
        );
        assert_eq!(row["check"], finding["check"]);
        assert_eq!(row["message"], finding["message"]);
        let source = &finding["source"];
        let line = source
            .get("containerLine")
            .unwrap_or(&source["line"])
            .to_string();
        assert_eq!(
            row["where"],
            format!("{}:{line}", source["file"].as_str().unwrap_or_default())
        );
    }
    for severity in ["critical", "high", "medium", "low"] {
        assert_eq!(
            seen["bySeverity"][severity],
            rows_where(findings, "severity", severity),
            "{severity}"
        );
    }
    for (check, count) in seen["byCheck"].as_object().expect("by check") {
        assert_eq!(*count, rows_where(findings, "check", check), "{check}");
    }
    let checks: usize = seen["byCheck"]
        .as_object()
        .expect("by check")
        .values()
        .filter_map(Value::as_u64)
        .sum::<u64>() as usize;
    assert_eq!(checks, findings.len());

    // Each filter (and two at once) shows exactly the rows that match.
    assert_eq!(seen["filtersVisible"], true);
    let filters = seen["filters"].as_array().expect("filters");
    let mut kinds = std::collections::BTreeSet::new();
    for applied in filters {
        let filter = applied["filter"].as_object().expect("filter");
        let expected: Vec<&Value> = findings
            .iter()
            .filter(|finding| filter.iter().all(|(key, value)| finding[key] == *value))
            .collect();
        let visible = applied["visible"].as_array().expect("visible");
        assert!(
            !expected.is_empty(),
            "{filter:?} offered but matches nothing"
        );
        assert_eq!(visible.len(), expected.len(), "{filter:?}");
        for row in visible {
            for (key, value) in filter {
                assert_eq!(&row[key], value, "{filter:?} let through {row}");
            }
        }
        assert_eq!(
            applied["shown"],
            format!("{} of {} finding(s) shown", expected.len(), findings.len())
        );
        kinds.extend(filter.keys().cloned());
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["check", "namespace", "severity"]
    );
    assert!(filters.iter().any(|applied| {
        applied["filter"]
            .as_object()
            .is_some_and(|filter| filter.len() == 2)
    }));

    // Without JavaScript: every row, no filter controls, a note saying why.
    assert_eq!(seen["noScript"]["rows"], findings.len());
    assert_eq!(seen["noScript"]["filtersVisible"], false);
    assert_eq!(seen["noScript"]["noscriptNote"], true);
}

#[test]
fn names_and_plugin_messages_with_markup_stay_text_in_the_html_report() {
    if !require(Toolchain::Browser) {
        return;
    }
    let dir = support::temp_dir();
    let manifest = support::write(
        dir.path(),
        "hostile.yaml",
        r#"apiVersion: v1
kind: Pod
metadata:
  name: evil
  namespace: "<img src=x onerror=window.pwned=true>"
spec:
  containers:
    - name: "<script>window.pwned=true</script>"
      image: "evil/<script>window.pwned=true</script>:latest"
"#,
    );
    let seen = open_report(dir.path(), &["-f", &manifest], "report-hostile.png");
    assert_eq!(seen["pwned"], false, "no markup ran");
    let rows = seen["rows"].as_array().expect("rows");
    let latest = rows
        .iter()
        .find(|row| row["check"] == "latest-tag")
        .expect("a latest-tag row");
    assert_eq!(latest["namespace"], "<img src=x onerror=window.pwned=true>");
    assert_eq!(latest["container"], "<script>window.pwned=true</script>");
    assert!(
        latest["message"]
            .as_str()
            .is_some_and(|message| message.contains("evil/<script>window.pwned=true</script>")),
        "the plugin's message shows as text: {latest}"
    );
    assert_eq!(
        seen["namespaces"][0]["namespace"],
        "<img src=x onerror=window.pwned=true>"
    );
}

#[test]
fn a_report_without_findings_says_so_and_offers_no_filter() {
    if !require(Toolchain::Browser) {
        return;
    }
    let dir = support::temp_dir();
    let manifest = support::write(
        dir.path(),
        "clean.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: ok, namespace: shop}\nspec:\n  containers:\n    - name: app\n      image: nginx:1.27\n      livenessProbe: {httpGet: {path: /, port: 80}}\n      readinessProbe: {httpGet: {path: /, port: 80}}\n",
    );
    let seen = open_report(dir.path(), &["-f", &manifest], "report-clean.png");
    assert_eq!(seen["score"], "100");
    assert_eq!(seen["figures"]["pods-analyzed"], "1");
    assert_eq!(seen["rows"], json!([]));
    assert_eq!(seen["filters"], json!([]));
    assert_eq!(seen["filtersVisible"], false);
    assert_eq!(seen["bySeverity"]["high"], 0);
}

#[test]
fn the_dashboard_shows_a_pods_new_finding_within_seconds() {
    if !require(Toolchain::Browser) {
        return;
    }
    let server = ApiServer::start();
    let dir = support::temp_dir();
    server.apply_object(pod("shop", "web", "nginx:1.27", "Running", 0));
    server.apply_object(pod("shop", "cache", "redis:7", "Pending", 0));
    let kubeconfig = server.kubeconfig(dir.path());
    let operator = Operator::start(&kubeconfig, &["--leader-election=false", "--dashboard"]);
    operator.wait_for_log("initial sync done");

    let (code, body) = operator.get("/dashboard.json");
    assert_eq!(code, 200, "{body}");
    let data: Value = serde_json::from_str(&body).expect("dashboard.json is JSON");
    assert_eq!(data["summary"]["podsAnalyzed"], 2);
    assert_eq!(data["summary"]["latestTag"], 0);
    assert_eq!(data["namespaces"][0]["namespace"], "shop");
    assert!(data["generation"].is_u64());
    assert!(data["history"].as_array().is_some_and(|h| !h.is_empty()));
    assert!(
        data["findings"]
            .as_array()
            .is_some_and(|findings| findings.iter().all(|f| f["check"] != "latest-tag"))
    );

    let origin = format!("http://{}", operator.metrics_addr);
    let mut script = Script::start(&[
        "dashboard",
        &format!("{origin}/"),
        &screenshot("dashboard.png"),
        "web",
        "latest-tag",
    ]);
    let loaded = script.next("loaded");
    assert_eq!(loaded["httpStatus"], 200);
    let csp = loaded["headers"]["csp"].as_str().expect("a CSP header");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert_eq!(loaded["headers"]["nosniff"], "nosniff");
    assert_eq!(loaded["headers"]["cacheControl"], "no-store");
    assert_eq!(loaded["headers"]["referrerPolicy"], "no-referrer");
    assert_eq!(loaded["headers"]["frameOptions"], "DENY");
    assert_eq!(loaded["figures"]["pods-analyzed"], "2");
    assert_eq!(loaded["figures"]["latest-tag"], "0");

    server.apply_object(pod("shop", "web", "nginx:latest", "Running", 0));
    script.tell("changed");
    let done = script.next("done");
    assert_eq!(done["consoleErrors"], json!([]), "console errors");
    let requests = done["requests"].as_array().expect("requests");
    assert!(
        requests
            .iter()
            .all(|url| url.as_str().is_some_and(|url| url.starts_with(&origin))),
        "only the same origin: {requests:?}"
    );
    assert!(
        requests.iter().any(|url| url
            .as_str()
            .is_some_and(|url| url.ends_with("/dashboard.json"))),
        "it polled: {requests:?}"
    );
    assert!(
        done["waitedMs"].as_u64().is_some_and(|ms| ms < 10_000),
        "shown within seconds: {}",
        done["waitedMs"]
    );
    assert_eq!(done["figures"]["latest-tag"], "1");
    assert_eq!(done["bySeverity"]["high"], 1);
    assert_eq!(done["history"], 1, "the score's history is drawn");

    let (_, body) = operator.get("/dashboard.json");
    let data: Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        data["findings"].as_array().is_some_and(|findings| findings
            .iter()
            .any(|f| f["check"] == "latest-tag" && f["name"] == "web")),
        "{data:#}"
    );
    drop(script);
    drop(operator);
}

/// Without a browser too: the file names nothing to load, and its CSP comes before its style.
#[test]
fn the_report_file_refers_to_nothing_outside_itself() {
    let html = support::run(&["analyze", "-o", "html", "-f", "examples/manifests"]);
    assert_eq!(html.code, 0, "{html:?}");
    let page = html.stdout.to_lowercase();
    for reference in ["src=", "href=", "url(", "@import", "http://", "https://"] {
        assert!(!page.contains(reference), "{reference} in the report file");
    }
    let csp = page
        .find("<meta http-equiv=\"content-security-policy\" content=\"default-src &#39;none&#39;;")
        .expect("a CSP meta forbidding every load");
    let style = page.find("<style>").expect("an inline style");
    assert!(csp < style, "the CSP applies to the style");
    assert_eq!(page.matches("<script").count(), 1, "one script, inline");
}

#[test]
fn without_the_flag_the_operator_serves_no_dashboard() {
    let server = ApiServer::start();
    let dir = support::temp_dir();
    let kubeconfig = server.kubeconfig(dir.path());
    let operator = Operator::start(&kubeconfig, &["--leader-election=false"]);
    assert_eq!(operator.get("/dashboard.json").0, 404);
    assert_eq!(operator.get("/").0, 404);
    assert_eq!(operator.get("/healthz").0, 200);
}
