//! Benchmark of operator mode: the release binary against the loopback API server fixture
//! (`tests/support/apiserver/`) serving synthetic pods (the same 11 KB pods as the analysis
//! benchmark), 10 000 and 100 000 by default. For each size it measures
//!
//! - initial sync: from starting the process to its "initial sync done" (every pod listed, in
//!   pages of 500, and analysed);
//! - resident memory of the operator process after the sync (`VmRSS`, and the peak `VmHWM`);
//! - change to status: from a pod's image changing in the API server to the policy status of its
//!   namespace showing it (watch event, analysis, debounce, server-side apply), over several
//!   changes.
//!
//! Run it with
//!
//! ```text
//! cargo bench -p kube-devops --bench operator
//! ```
//!
//! Environment: `KUBE_DEVOPS_BENCH_PODS` (sizes, default `10000,100000`),
//! `KUBE_DEVOPS_BENCH_CHANGES` (changes timed per size, default 10).

#[path = "../../tests/support/mod.rs"]
mod support;

mod common;

use std::time::{Duration, Instant};

use common::{env_list, env_number};
use serde_json::{Value, json};
use support::apiserver::ApiServer;
use support::daemon::Operator;

/// The aims of issue 3.
const AIM_SYNC_100K: Duration = Duration::from_secs(20);
const AIM_RSS_100K_MB: f64 = 300.0;
const AIM_CHANGE: Duration = Duration::from_secs(1);
/// Longest any step may take before the benchmark gives up.
const GIVE_UP: Duration = Duration::from_secs(600);

fn main() {
    let sizes = env_list("KUBE_DEVOPS_BENCH_PODS", &[10_000, 100_000]);
    let changes = env_number("KUBE_DEVOPS_BENCH_CHANGES", 10).max(1);
    println!(
        "| pods | initial sync | RSS after sync | peak RSS | change → status (median / max) |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for pods in sizes {
        let result = run(pods, changes);
        println!(
            "| {pods} | {:.2} s | {:.0} MB | {:.0} MB | {:.0} ms / {:.0} ms |",
            result.sync.as_secs_f64(),
            result.rss_mb,
            result.peak_mb,
            millis(result.change_median),
            millis(result.change_max),
        );
        if pods == 100_000 {
            aim("100k pods synced", result.sync < AIM_SYNC_100K);
            aim(
                "under 300 MB resident at 100k",
                result.rss_mb < AIM_RSS_100K_MB,
            );
        }
        aim(
            "under 1 s from change to status",
            result.change_max < AIM_CHANGE,
        );
    }
}

struct Result {
    sync: Duration,
    rss_mb: f64,
    peak_mb: f64,
    change_median: Duration,
    change_max: Duration,
}

fn run(pods: usize, changes: usize) -> Result {
    eprintln!("serving {pods} pods…");
    let server = ApiServer::start();
    let mut subject = common::pod_value(0);
    let namespace = subject["metadata"]["namespace"]
        .as_str()
        .expect("namespace")
        .to_owned();
    set_image(&mut subject, "registry.example.com/bench/app:1.0.0");
    server.add_pods(std::iter::once(subject.clone()).chain((1..pods).map(common::pod_value)));
    server.apply_object(json!({
        "apiVersion": "devops.stochastic.io/v1",
        "kind": "DevOpsPolicy",
        "metadata": {"name": "bench", "namespace": namespace},
        "spec": {},
    }));
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = server.kubeconfig(dir.path());

    let started = Instant::now();
    let operator = Operator::start(
        &kubeconfig,
        &["--leader-election=false", "--include-system"],
    );
    operator.wait_for_log_within("initial sync done", GIVE_UP);
    let sync = started.elapsed();
    let (rss_mb, peak_mb) = common::memory(operator.pid());
    eprintln!("synced in {:.2} s, {rss_mb:.0} MB", sync.as_secs_f64());

    let baseline = server.wait_for(GIVE_UP, "the first status", |store| {
        let status = store.object("devopspolicies", Some(&namespace), "bench")?["status"].clone();
        status["podsAnalyzed"].as_u64()?;
        Some(
            status["findingsByCheck"]["latest-tag"]
                .as_u64()
                .unwrap_or(0),
        )
    });
    let mut timings = Vec::with_capacity(changes);
    for change in 0..changes {
        let (image, expected) = if change % 2 == 0 {
            ("registry.example.com/bench/app:latest", baseline + 1)
        } else {
            ("registry.example.com/bench/app:1.0.1", baseline)
        };
        set_image(&mut subject, image);
        let changed_at = Instant::now();
        server.apply_object(subject.clone());
        server.wait_until(GIVE_UP, "the status shows the change", |store| {
            let status = store
                .object("devopspolicies", Some(&namespace), "bench")
                .map(|policy| {
                    policy["status"]["findingsByCheck"]["latest-tag"]
                        .as_u64()
                        .unwrap_or(0)
                });
            status == Some(expected)
        });
        timings.push(changed_at.elapsed());
    }
    timings.sort();
    operator.terminate();
    Result {
        sync,
        rss_mb,
        peak_mb,
        change_median: timings[timings.len() / 2],
        change_max: timings[timings.len() - 1],
    }
}

fn set_image(pod: &mut Value, image: &str) {
    pod["spec"]["containers"][0]["image"] = json!(image);
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn aim(what: &str, met: bool) {
    println!("- aim: {what}: {}", if met { "met" } else { "MISSED" });
}
