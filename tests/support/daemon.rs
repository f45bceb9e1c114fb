//! A running `kube-devops operator` or `kube-devops webhook serve` process for tests: its log
//! collected as it is written, its address read from the log, metrics scraped over real HTTP,
//! and SIGTERM or SIGKILL on demand. The process is killed when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a test waits for a process to reach a state before failing.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub struct Daemon {
    child: Child,
    log: Arc<(Mutex<Vec<String>>, Condvar)>,
    /// Where it serves: metrics for the operator, HTTPS for the webhook.
    pub metrics_addr: String,
}

/// The operator's name in tests that run it.
pub type Operator = Daemon;

impl Daemon {
    /// Starts `kube-devops operator --kubeconfig KUBECONFIG --metrics-addr 127.0.0.1:0 ARGS`
    /// and waits until it serves metrics.
    pub fn start(kubeconfig: &str, args: &[&str]) -> Self {
        Self::start_with_env(kubeconfig, args, &[])
    }

    /// [`Daemon::start`] with environment variables set, as a pod's spec sets them.
    pub fn start_with_env(kubeconfig: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut all = vec![
            "operator",
            "--kubeconfig",
            kubeconfig,
            "--metrics-addr",
            "127.0.0.1:0",
        ];
        all.extend_from_slice(args);
        Self::spawn(&all, env, "serving /healthz")
    }

    /// Starts `kube-devops webhook serve --kubeconfig KUBECONFIG --addr 127.0.0.1:0 ARGS` and
    /// waits until it serves.
    pub fn webhook(kubeconfig: &str, args: &[&str]) -> Self {
        let mut all = vec![
            "webhook",
            "serve",
            "--kubeconfig",
            kubeconfig,
            "--addr",
            "127.0.0.1:0",
        ];
        all.extend_from_slice(args);
        Self::spawn(&all, &[], "serving admission reviews")
    }

    /// Runs `kube-devops ARGS` (a `webhook serve` without a cluster, say) and waits until it
    /// serves.
    pub fn spawn_command(args: &[&str]) -> Self {
        Self::spawn(args, &[], "serving ")
    }

    /// Runs `kube-devops ARGS` and waits for the log line with `listening`, whose `addr=`
    /// field is where it serves.
    fn spawn(args: &[&str], env: &[(&str, &str)], listening: &str) -> Self {
        let mut child = super::kube_devops()
            .args(args)
            .envs(env.iter().copied())
            .args(["--log-format", "text"])
            .env("RUST_LOG", "info,kube_client::client::builder=off")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kube-devops");
        let stderr = child.stderr.take().expect("piped stderr");
        let log: Arc<(Mutex<Vec<String>>, Condvar)> = Arc::default();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let (lines, changed) = &*sink;
                lines.lock().expect("log").push(line);
                changed.notify_all();
            }
        });
        let mut operator = Daemon {
            child,
            log,
            metrics_addr: String::new(),
        };
        let line = operator.wait_for_log(listening);
        operator.metrics_addr = line
            .split("addr=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        operator
    }

    /// Waits for a log line containing `text` and returns it.
    pub fn wait_for_log(&self, text: &str) -> String {
        self.wait_for_log_within(text, DEADLINE)
    }

    /// As [`Operator::wait_for_log`], waiting at most `limit`.
    pub fn wait_for_log_within(&self, text: &str, limit: Duration) -> String {
        let (lines, changed) = &*self.log;
        let deadline = Instant::now() + limit;
        let mut guard = lines.lock().expect("log");
        loop {
            if let Some(line) = guard.iter().find(|line| line.contains(text)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "operator never logged {text:?}; log:\n{}",
                guard.join("\n")
            );
            guard = changed.wait_timeout(guard, left).expect("log").0;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Log lines containing `text`.
    pub fn log_lines(&self, text: &str) -> Vec<String> {
        let (lines, _) = &*self.log;
        lines
            .lock()
            .expect("log")
            .iter()
            .filter(|line| line.contains(text))
            .cloned()
            .collect()
    }

    pub fn log(&self) -> String {
        self.log.0.lock().expect("log").join("\n")
    }

    /// `GET path` on the metrics address: status code and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.metrics_addr, path)
    }

    /// The value of the sample `name{labels}` (labels as printed, e.g. `namespace="shop"`),
    /// from a fresh scrape.
    pub fn metric(&self, sample: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics");
        parse_metric(&body, sample)
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn terminate(mut self) -> i32 {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        self.wait_exit()
    }

    /// Kills the process at once, as a crashed pod or node would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait operator") {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "operator did not exit; log:\n{}",
                self.log()
            );
            // Polling a child's exit has no blocking-with-timeout form in std.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 GET, enough for /metrics and the probes.
pub fn http_get(address: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("connect to the metrics server");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (code, body)
}

/// Parses Prometheus text exposition strictly enough to catch malformed output: every
/// non-comment line is `name{labels} value`, and the value is a float.
pub fn parse_metric(body: &str, sample: &str) -> Option<f64> {
    let mut found = None;
    for line in body.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("malformed metrics line {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("malformed value in {line:?}"));
        let matches = match sample.split_once('{') {
            Some(_) => series == sample,
            None => series == sample || series.starts_with(&format!("{sample}{{}}")),
        };
        if matches {
            found = Some(value);
        }
    }
    found
}
