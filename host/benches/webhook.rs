//! Benchmark of the admission webhook: the release binary serving over loopback TLS (a CA from
//! `webhook cert-generate`), a DevOpsPolicy in `enforce` mode with the built-in plugins and one
//! custom plugin (`examples/plugins/no-privileged`). Clients keep their TLS connections open,
//! as the API server does, and send AdmissionReviews of realistic pods (half of them denied).
//! For 1, 16 and 64 concurrent connections it reports latency (p50, p99) and throughput.
//!
//! Run it with
//!
//! ```text
//! cargo bench -p kube-devops --bench webhook
//! ```
//!
//! Then an **overload** level: four times the largest level's connections (256 by default),
//! each sending back to back, far beyond what two cores sustain. It reports the p99 of the
//! reviews that were run, how many were shed (answered at once by the failure policy), and the
//! server's resident memory before and after, which the bounded queue keeps flat.
//!
//! Environment: `KUBE_DEVOPS_BENCH_CONNECTIONS` (default `1,16,64`),
//! `KUBE_DEVOPS_BENCH_SECONDS` (per level, default 5); `KUBE_DEVOPS_BENCH_POLICY_LIBRARY=1` also
//! names the policy library in the policy (`pod-security` at `restricted`, `best-practices`), so
//! every built-in plugin runs.

#[path = "../../tests/support/mod.rs"]
mod support;

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{env_list, env_number};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use support::apiserver::ApiServer;
use support::daemon::Daemon;

const AIM_P99_64: Duration = Duration::from_millis(5);
const AIM_THROUGHPUT: f64 = 5000.0;

fn main() {
    let levels = env_list("KUBE_DEVOPS_BENCH_CONNECTIONS", &[1, 16, 64]);
    let seconds = env_number("KUBE_DEVOPS_BENCH_SECONDS", 5).max(1);

    let server = ApiServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let plugin = support::plugin_wasm("no-privileged");
    let bytes = std::fs::read(&plugin).expect("plugin");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin dir");
    std::fs::write(plugins.join("no-privileged.wasm"), &bytes).expect("copy plugin");
    let namespace = "shop";
    let mut policy_plugins = vec![
        json!({"name": "no-privileged", "source": {"file": "no-privileged.wasm", "sha256": support::sha256_hex(&bytes)}}),
    ];
    if env_number("KUBE_DEVOPS_BENCH_POLICY_LIBRARY", 0) == 1 {
        policy_plugins.push(json!({"name": "pod-security", "settings": {"level": "restricted"}}));
        policy_plugins.push(json!({"name": "best-practices"}));
    }
    server.apply_object(json!({
        "apiVersion": "devops.stochastic.io/v1",
        "kind": "DevOpsPolicy",
        "metadata": {"name": "bench", "namespace": namespace},
        "spec": {
            "enforcementMode": "enforce",
            "plugins": policy_plugins,
        },
    }));
    let certs = dir.path().join("certs");
    let out = certs.to_string_lossy().into_owned();
    let run = support::run_with_stdin(
        &[
            "webhook",
            "cert-generate",
            "--out",
            &out,
            "--ip-san",
            "127.0.0.1",
        ],
        "",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let kubeconfig = server.kubeconfig(dir.path());
    let cert = certs.join("tls.crt").to_string_lossy().into_owned();
    let key = certs.join("tls.key").to_string_lossy().into_owned();
    let plugin_dir = plugins.to_string_lossy().into_owned();
    let webhook = Daemon::webhook(
        &kubeconfig,
        &["--cert", &cert, "--key", &key, "--plugin-dir", &plugin_dir],
    );
    webhook.wait_for_log("policies loaded; ready");
    let ca = std::fs::read_to_string(certs.join("ca.crt")).expect("ca");
    let config = client_config(&ca);

    // Reviews of realistic pods; odd ones get a latest tag (denied).
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..64)
            .map(|index| {
                let mut pod = common::pod_value(index);
                pod["metadata"]["namespace"] = json!(namespace);
                if index % 2 == 1 {
                    pod["spec"]["containers"][0]["image"] =
                        json!("registry.example.com/app:latest");
                }
                review(index, namespace, pod).to_string().into_bytes()
            })
            .collect(),
    );

    let largest = levels.iter().copied().max().unwrap_or(64);
    println!("| connections | p50 | p99 | reviews/s |");
    println!("|---:|---:|---:|---:|");
    for connections in levels {
        let (mut latencies, elapsed, _) = load(
            &webhook.metrics_addr,
            &config,
            &bodies,
            connections,
            Duration::from_secs(seconds as u64),
        );
        latencies.sort_unstable();
        let p =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        let throughput = latencies.len() as f64 / elapsed.as_secs_f64();
        println!(
            "| {connections} | {:.2} ms | {:.2} ms | {throughput:.0} |",
            millis(p(0.50)),
            millis(p(0.99)),
        );
        if connections == 64 {
            aim("p99 under 5 ms at 64 connections", p(0.99) < AIM_P99_64);
            aim("over 5,000 reviews per second", throughput > AIM_THROUGHPUT);
        }
    }

    let connections = largest * 4;
    let (rss_before, _) = common::memory(webhook.pid());
    let (latencies, elapsed, shed) = load(
        &webhook.metrics_addr,
        &config,
        &bodies,
        connections,
        Duration::from_secs(seconds as u64),
    );
    let (rss_after, peak) = common::memory(webhook.pid());
    let (mut run, shed_latencies): (Vec<_>, Vec<_>) =
        latencies.into_iter().zip(shed).partition(|(_, shed)| !shed);
    run.sort_unstable();
    let p99 = run
        .get(((run.len() as f64 * 0.99) as usize).min(run.len().saturating_sub(1)))
        .map_or(Duration::ZERO, |(latency, _)| *latency);
    let total = run.len() + shed_latencies.len();
    println!();
    println!(
        "| overload | reviews run | p99 of those | shed | answered/s | RSS before → after (peak) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| {connections} connections | {} | {:.2} ms | {} ({:.0} %) | {:.0} | {rss_before:.0} → {rss_after:.0} MB ({peak:.0} MB) |",
        run.len(),
        millis(p99),
        shed_latencies.len(),
        100.0 * shed_latencies.len() as f64 / total.max(1) as f64,
        total as f64 / elapsed.as_secs_f64(),
    );
    aim(
        "under overload, the p99 of reviews run stays below the 2 s deadline",
        p99 < Duration::from_secs(2),
    );
    webhook.terminate();
}

/// `connections` clients, each on one kept-alive TLS connection, sending reviews back to back
/// for `period`: every request's latency, the wall time, and for each request whether it was
/// shed (answered by the failure policy without running).
fn load(
    address: &str,
    config: &Arc<rustls::ClientConfig>,
    bodies: &Arc<Vec<Vec<u8>>>,
    connections: usize,
    period: Duration,
) -> (Vec<Duration>, Duration, Vec<bool>) {
    let started = Instant::now();
    let until = started + period;
    let latencies = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|worker| {
                let (config, bodies) = (config.clone(), bodies.clone());
                scope.spawn(move || {
                    let mut connection = Connection::open(address, config);
                    let mut latencies = Vec::new();
                    let mut shed = Vec::new();
                    let mut index = worker;
                    while Instant::now() < until {
                        let body = &bodies[index % bodies.len()];
                        let sent = Instant::now();
                        let answer = connection.post("/validate", body);
                        latencies.push(sent.elapsed());
                        let answer: Value = serde_json::from_slice(&answer).expect("a JSON answer");
                        assert!(answer["response"]["allowed"].is_boolean(), "{answer}");
                        shed.push(
                            answer["response"]["warnings"]
                                .to_string()
                                .contains("overloaded"),
                        );
                        index += 1;
                    }
                    (latencies, shed)
                })
            })
            .collect();
        let mut all = (Vec::new(), Vec::new());
        for worker in workers {
            let (latencies, shed) = worker.join().expect("a client thread");
            all.0.extend(latencies);
            all.1.extend(shed);
        }
        all
    });
    (latencies.0, started.elapsed(), latencies.1)
}

/// One kept-alive HTTPS/1.1 connection.
struct Connection {
    stream: BufReader<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>,
    host: String,
}

impl Connection {
    fn open(address: &str, config: Arc<rustls::ClientConfig>) -> Self {
        let name = ServerName::try_from("127.0.0.1").expect("an IP name");
        let tls = rustls::ClientConnection::new(config, name).expect("a TLS client");
        let tcp = TcpStream::connect(address).expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        Connection {
            stream: BufReader::new(rustls::StreamOwned::new(tls, tcp)),
            host: address.to_owned(),
        }
    }

    fn post(&mut self, path: &str, body: &[u8]) -> Vec<u8> {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        );
        let stream = self.stream.get_mut();
        stream.write_all(head.as_bytes()).expect("send head");
        stream.write_all(body).expect("send body");
        stream.flush().expect("flush");
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).expect("read a header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("a length");
            }
        }
        let mut answer = vec![0; length];
        self.stream.read_exact(&mut answer).expect("read the body");
        answer
    }
}

fn client_config(ca: &str) -> Arc<rustls::ClientConfig> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.expect("PEM")).expect("a CA");
    }
    Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn review(index: usize, namespace: &str, object: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": format!("bench-{index}"),
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": object["metadata"]["name"],
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "bench"},
            "object": object,
            "dryRun": false,
        }
    })
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn aim(what: &str, met: bool) {
    println!("- aim: {what}: {}", if met { "met" } else { "MISSED" });
}
