//! Benchmark of the analysis engine, in one run:
//!
//! - throughput of the library path (`manifest::split` → `analyze_sources` → `Aggregator::finish`)
//!   on a `kubectl get pods -o json` list of synthetic pods (10 000 and 100 000 by default);
//! - the cost of the Wasm sandbox: the four built-in checks written natively in Rust, run over
//!   the same pods, read the same way and spread over the same threads;
//! - the release binary on the list as a file: wall time and peak resident memory (the reader
//!   streams, so memory should not follow the file's size);
//! - start-up: wall time of the release binary analysing a one-pod file.
//!
//! Run it with
//!
//! ```text
//! cargo build --release -p kube-devops && cargo bench -p kube-devops --bench analysis
//! ```
//!
//! Environment: `KUBE_DEVOPS_BENCH_PODS` (list sizes, default `10000,100000`),
//! `KUBE_DEVOPS_BENCH_REPEATS` (runs per measurement, default 5) and
//! `KUBE_DEVOPS_BENCH_STARTUP_RUNS` (default 20); `KUBE_DEVOPS_BENCH_SAVE=DIR` also writes each
//! generated list to `DIR/pods-N.json`, to look at or to feed the binary;
//! `KUBE_DEVOPS_BENCH_ONLY=full,binary,sandbox,startup` runs only the parts named;
//! `KUBE_DEVOPS_BENCH_LIST=lean` generates the lean list (about 5 KB per pod, three containers)
//! instead of the standard one (about 11 KB per pod); `KUBE_DEVOPS_BENCH_CONFIG=FILE` runs the full
//! path and the binary with that config file (every built-in plugin enabled, say). Progress goes to
//! stderr, the results table to stdout. No criterion: every figure is the median (and minimum)
//! of a few `Instant` timings.

mod common;

use common::{env_list, env_number};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kube_devops_engine::analysis::report::{
    HIGH_RESTARTS, LATEST_TAG, MISSING_LIVENESS, MISSING_READINESS, PENDING,
};
use kube_devops_engine::analysis::worker::Worker;
use kube_devops_engine::analysis::{
    Aggregator, Catalog, Config, Filter, PluginPaths, analyze_sources,
};
use kube_devops_engine::contract::{Finding, Pod};
use kube_devops_engine::manifest::{self, Manifests};
use kube_devops_engine::pod::{self, PodInput, Read, Source};
use kube_devops_sdk::image::ImageRef;
use serde_json::json;

/// Pods a thread takes at a time, as `analyze_sources` does.
const BATCH: usize = 64;
/// The checks of the four built-in plugins, in the order tallies keep them.
const CHECKS: [&str; 5] = [
    LATEST_TAG,
    MISSING_LIVENESS,
    MISSING_READINESS,
    HIGH_RESTARTS,
    PENDING,
];
/// Restarts a container may have before `high-restarts` counts it (the plugin's default).
const RESTART_THRESHOLD: i32 = 3;
/// Largest magnitude of one `high-restarts` finding.
const MAX_RESTART_MAGNITUDE: i32 = 5;

/// The product owner's aims.
const AIM_SANDBOX_RATIO: f64 = 2.0;
const AIM_100K_SECONDS: f64 = 3.0;
const AIM_ONE_POD_MS: f64 = 20.0;

fn main() {
    let sizes = env_list("KUBE_DEVOPS_BENCH_PODS", &[10_000, 100_000]);
    let repeats = env_number("KUBE_DEVOPS_BENCH_REPEATS", 5).max(1);
    let startup_runs = env_number("KUBE_DEVOPS_BENCH_STARTUP_RUNS", 20).max(1);
    let threads = threads();
    eprintln!(
        "kube-devops analysis benchmark: {threads} thread(s), {repeats} run(s) per measurement"
    );

    let runtime = kube_devops_builtins::runtime(None).expect("runtime");
    let catalog = Catalog::load(&runtime, &Config::default(), &PluginPaths::default())
        .expect("the built-in plugins load");
    // The full path and the binary run with `--config FILE` when one is given (every built-in
    // enabled, say); the sandbox part compares the seed's four checks, so it keeps the defaults.
    let config_file = std::env::var_os("KUBE_DEVOPS_BENCH_CONFIG").map(PathBuf::from);
    let configured = config_file.as_deref().map(|path| {
        let config = Config::load(path).expect("KUBE_DEVOPS_BENCH_CONFIG is a config file");
        Catalog::load(&runtime, &config, &PluginPaths::default())
            .expect("the configured plugins load")
    });
    let lean = match std::env::var("KUBE_DEVOPS_BENCH_LIST").as_deref() {
        Ok("lean") => true,
        Ok("standard") | Err(_) => false,
        Ok(other) => panic!("KUBE_DEVOPS_BENCH_LIST is `standard` or `lean`, not {other:?}"),
    };
    // Every pod counts, system namespaces included, so that pods/s means all N pods.
    let filter = Filter {
        include_system: true,
        ..Filter::default()
    };

    let mut table = Table::default();
    let mut full_100k = None;
    let mut sandbox_ratio = None;
    for &pods in &sizes {
        eprintln!("generating {pods} pods…");
        let text = if lean {
            common::pod_list_of(pods, common::lean_pod_value)
        } else {
            common::pod_list(pods)
        };
        if let Some(dir) = std::env::var_os("KUBE_DEVOPS_BENCH_SAVE") {
            let prefix = if lean { "lean-pods" } else { "pods" };
            let path = Path::new(&dir).join(format!("{prefix}-{pods}.json"));
            std::fs::write(&path, &text).expect("write KUBE_DEVOPS_BENCH_SAVE");
            eprintln!("  saved {}", path.display());
        }
        table.note(format!(
            "{pods} pods: {:.1} MB of JSON, {} bytes per pod",
            text.len() as f64 / 1e6,
            text.len() / pods.max(1)
        ));
        if only("full") {
            let catalog = configured.as_ref().unwrap_or(&catalog);
            let full = bench_full_path(catalog, &filter, &text, pods, repeats, &mut table);
            if pods == 100_000 {
                full_100k = Some(full);
            }
        }
        if only("binary") {
            bench_binary(&text, config_file.as_deref(), pods, repeats, &mut table);
        }
        if only("sandbox") {
            let ratio = bench_sandbox(&catalog, &filter, text, pods, repeats, &mut table);
            sandbox_ratio = Some(ratio);
        }
    }
    let startup = if only("startup") {
        bench_startup(&catalog, &filter, startup_runs, &mut table)
    } else {
        None
    };

    table.print();
    print_aims(full_100k, sandbox_ratio, startup);
}

// ------------------------------------------------------------------------------------------------
// (b) The full library path.

/// `split` → `analyze_sources` → `finish` on `text`, `repeats` times; returns the median total.
fn bench_full_path(
    catalog: &Catalog,
    filter: &Filter,
    text: &str,
    pods: usize,
    repeats: usize,
    table: &mut Table,
) -> Duration {
    eprintln!("{pods} pods: full library path…");
    let (mut split, mut analyze, mut finish, mut total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..repeats {
        // `split` takes the text by value; the copy is made before the clock starts.
        let input = text.to_owned();
        let start = Instant::now();
        let mut manifests = Manifests::default();
        manifest::split(Arc::from("pods.json"), input, &mut manifests);
        let split_done = Instant::now();
        let mut aggregator = Aggregator::default();
        analyze_sources(
            catalog,
            &manifests.sources,
            filter,
            &mut aggregator,
            &|_| {},
        );
        let analyzed = Instant::now();
        let report = aggregator.finish(catalog);
        let finished = Instant::now();
        split.push(split_done - start);
        analyze.push(analyzed - split_done);
        finish.push(finished - analyzed);
        total.push(finished - start);
        assert!(manifests.errors.is_empty(), "{:?}", manifests.errors);
        assert_eq!(report.summary.pods_analyzed, pods as u64);
        assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
    }
    let total = Stats::of(total);
    table.row("Full path: split → analyze_sources → finish", pods, total);
    let split = Stats::of(split);
    table.row("  split (manifest::split, 1 thread)", pods, split);
    table.note(format!(
        "{pods} pods: split goes through {:.0} MB of JSON per second",
        text.len() as f64 / 1e6 / split.median.as_secs_f64()
    ));
    table.row(
        "  analyze_sources (read + Wasm + aggregate)",
        pods,
        Stats::of(analyze),
    );
    table.row(
        "  Aggregator::finish (sort findings)",
        pods,
        Stats::of(finish),
    );
    total.median
}

// ------------------------------------------------------------------------------------------------
// (c) The sandbox against native code.

/// Reading alone, read + native checks, read + Wasm checks, and the checks alone on pods read
/// beforehand; all on the same threads and batches as `analyze_sources`. Returns the wasm/native
/// ratio of read + checks.
fn bench_sandbox(
    catalog: &Catalog,
    filter: &Filter,
    text: String,
    pods: usize,
    repeats: usize,
    table: &mut Table,
) -> f64 {
    eprintln!("{pods} pods: sandbox against native…");
    let mut manifests = Manifests::default();
    manifest::split(Arc::from("pods.json"), text, &mut manifests);
    let sources = &manifests.sources;

    let (read, read_tally) = measure(repeats, || {
        parallel(
            sources,
            || (),
            |_, source, tally| {
                if read_pod(source, filter).is_some() {
                    tally.pods += 1;
                }
            },
        )
    });
    let (native, native_tally) = measure(repeats, || {
        parallel(
            sources,
            || (),
            |_, source, tally| {
                if let Some(pod) = read_pod(source, filter) {
                    tally.pods += 1;
                    native_checks(&pod.record, tally);
                }
            },
        )
    });
    let (wasm, wasm_tally) = measure(repeats, || {
        parallel(
            sources,
            || Worker::new(catalog),
            |worker, source, tally| {
                if let Some(pod) = read_pod(source, filter) {
                    tally.pods += 1;
                    wasm_checks(worker, &pod, tally);
                }
            },
        )
    });

    let inputs: Vec<PodInput> = sources
        .iter()
        .filter_map(|source| read_pod(source, filter))
        .collect();
    let (native_only, native_only_tally) = measure(repeats, || {
        parallel(
            &inputs,
            || (),
            |_, pod, tally| {
                tally.pods += 1;
                native_checks(&pod.record, tally);
            },
        )
    });
    let (wasm_only, wasm_only_tally) = measure(repeats, || {
        parallel(
            &inputs,
            || Worker::new(catalog),
            |worker, pod, tally| {
                tally.pods += 1;
                wasm_checks(worker, pod, tally);
            },
        )
    });

    // Both sides must have found exactly the same problems, or the comparison means nothing.
    assert_eq!(read_tally.pods, pods as u64);
    assert_eq!(native_tally, wasm_tally, "native and Wasm checks disagree");
    assert_eq!(native_only_tally, wasm_tally);
    assert_eq!(wasm_only_tally, wasm_tally);
    table.note(format!(
        "{pods} pods: findings (Σ magnitude) {}",
        CHECKS
            .iter()
            .zip(wasm_tally.magnitude)
            .map(|(check, total)| format!("{check} {total}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));

    table.row("Read only (pod::read)", pods, read);
    table.row("Read + native checks", pods, native);
    table.row("Read + Wasm checks (Worker)", pods, wasm);
    table.row("Native checks only (pods read before)", pods, native_only);
    table.row("Wasm checks only (pods read before)", pods, wasm_only);
    let ratio = wasm.median.as_secs_f64() / native.median.as_secs_f64();
    let plugin_ratio = wasm_only.median.as_secs_f64() / native_only.median.as_secs_f64();
    table.ratio(format!(
        "{pods} pods: read + checks, Wasm / native = **{ratio:.2}×**; checks only, Wasm / native \
         = {plugin_ratio:.1}× ({:.2} µs vs {:.3} µs of core time per pod for the four checks)",
        core_micros_per_pod(wasm_only.median, pods),
        core_micros_per_pod(native_only.median, pods),
    ));
    ratio
}

/// Reads one source as `analyze_sources` does; `None` for anything but an admitted pod.
fn read_pod(source: &Source, filter: &Filter) -> Option<PodInput> {
    match pod::read(source.clone()) {
        Ok(Read::Pod(pod)) if filter.admits(&pod.record.metadata.namespace) => Some(pod),
        _ => None,
    }
}

/// The built-in plugins' findings for `pod`, through the sandbox, added to `tally`.
fn wasm_checks(worker: &mut Worker<'_>, pod: &PodInput, tally: &mut Tally) {
    let result = worker.analyze(pod);
    assert!(result.diagnostics.is_empty(), "{:?}", result.diagnostics);
    for finding in &result.findings {
        tally.add(&finding.check, finding.magnitude);
    }
}

/// The four built-in checks compiled natively, producing the findings the plugins produce.
fn native_checks(pod: &Pod, tally: &mut Tally) {
    for findings in [latest_tag(pod), probes(pod), restarts(pod), pending(pod)] {
        for finding in &findings {
            tally.add(&finding.check, finding.magnitude);
        }
    }
}

fn finding(check: &str, container: Option<&str>, message: String, magnitude: u32) -> Finding {
    Finding {
        check: check.to_owned(),
        container: container.map(str::to_owned),
        message,
        magnitude,
        severity: None,
    }
}

/// `plugins/latest-tag`: regular and init containers whose image floats on `latest`.
fn latest_tag(pod: &Pod) -> Vec<Finding> {
    pod.containers
        .iter()
        .chain(&pod.init_containers)
        .filter(|container| ImageRef::parse(&container.image).uses_latest())
        .map(|container| {
            finding(
                LATEST_TAG,
                Some(&container.name),
                format!(
                    "image `{}` floats on `latest`; pin a version tag or a digest",
                    container.image
                ),
                1,
            )
        })
        .collect()
}

/// `plugins/probes`: regular containers without a liveness or a readiness probe.
fn probes(pod: &Pod) -> Vec<Finding> {
    let mut findings = Vec::new();
    for container in &pod.containers {
        if container.liveness_probe.is_none() {
            findings.push(finding(
                MISSING_LIVENESS,
                Some(&container.name),
                "no liveness probe; add `livenessProbe`".to_owned(),
                1,
            ));
        }
        if container.readiness_probe.is_none() {
            findings.push(finding(
                MISSING_READINESS,
                Some(&container.name),
                "no readiness probe; add `readinessProbe`".to_owned(),
                1,
            ));
        }
    }
    findings
}

/// `plugins/restarts`: containers restarted more than 3 times, magnitude `min(count, 5)`.
fn restarts(pod: &Pod) -> Vec<Finding> {
    let Some(status) = &pod.status else {
        return Vec::new();
    };
    status
        .container_statuses
        .iter()
        .filter(|container| container.restart_count > RESTART_THRESHOLD)
        .map(|container| {
            let reason = container
                .last_termination_reason
                .as_deref()
                .or(container.state_reason.as_deref())
                .map(|reason| format!(" (last: {reason})"))
                .unwrap_or_default();
            finding(
                HIGH_RESTARTS,
                Some(&container.name),
                format!(
                    "restarted {} times{reason}, more than {RESTART_THRESHOLD}",
                    container.restart_count
                ),
                container.restart_count.min(MAX_RESTART_MAGNITUDE) as u32,
            )
        })
        .collect()
}

/// `plugins/pending`: a pod whose phase is `Pending`.
fn pending(pod: &Pod) -> Vec<Finding> {
    let Some(status) = &pod.status else {
        return Vec::new();
    };
    if status.phase.as_deref() != Some("Pending") {
        return Vec::new();
    }
    let waiting_reason = status
        .init_container_statuses
        .iter()
        .chain(&status.container_statuses)
        .find_map(|container| container.state_reason.as_deref());
    let message = match waiting_reason.or(status.reason.as_deref()) {
        Some(reason) => format!("pod is Pending ({reason})"),
        None => "pod is Pending".to_owned(),
    };
    vec![finding(PENDING, None, message, 1)]
}

/// Pods counted and Σ magnitude per check, in [`CHECKS`] order.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    pods: u64,
    magnitude: [u64; CHECKS.len()],
}

impl Tally {
    /// Adds a finding, looking its check up by id as the worker looks up its rule.
    fn add(&mut self, check: &str, magnitude: u32) {
        let index = CHECKS
            .iter()
            .position(|known| *known == check)
            .unwrap_or_else(|| panic!("unexpected check `{check}`"));
        self.magnitude[index] += u64::from(magnitude);
    }

    fn merge(mut self, other: Tally) -> Tally {
        self.pods += other.pods;
        for (total, part) in self.magnitude.iter_mut().zip(other.magnitude) {
            *total += part;
        }
        self
    }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Runs `each` over `items` on one thread per core, taking [`BATCH`] items at a time as
/// `analyze_sources` does; `init` makes each thread's state (a [`Worker`], say).
fn parallel<T: Sync, S>(
    items: &[T],
    init: impl Fn() -> S + Sync,
    each: impl Fn(&mut S, &T, &mut Tally) + Sync,
) -> Tally {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut state = init();
        let mut tally = Tally::default();
        loop {
            let start = next.fetch_add(1, Ordering::Relaxed) * BATCH;
            if start >= items.len() {
                break;
            }
            for item in &items[start..(start + BATCH).min(items.len())] {
                each(&mut state, item, &mut tally);
            }
        }
        tally
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads()).map(|_| scope.spawn(work)).collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("benchmark thread"))
            .fold(Tally::default(), Tally::merge)
    })
}

/// Core time per pod in µs: wall time × threads / pods.
fn core_micros_per_pod(wall: Duration, pods: usize) -> f64 {
    wall.as_secs_f64() * 1e6 * threads() as f64 / pods.max(1) as f64
}

// ------------------------------------------------------------------------------------------------
// (d) Start-up.

struct Startup {
    median: Duration,
    p90: Duration,
}

/// `kube-devops analyze -f <one pod>` with the release binary, and the same work in process.
fn bench_startup(
    catalog: &Catalog,
    filter: &Filter,
    runs: usize,
    table: &mut Table,
) -> Option<Startup> {
    eprintln!("one-pod analysis…");
    let dir = std::env::temp_dir().join(format!("kube-devops-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    let file = dir.join("pod.json");
    let mut one = common::pod_value(7);
    one["metadata"]["namespace"] = json!("shop");
    std::fs::write(&file, common::pretty(&one)).expect("write the one-pod file");

    // In process: what the binary does after it has started.
    let (load, _) = measure(runs, || {
        Catalog::load(
            &kube_devops_builtins::runtime(None).expect("runtime"),
            &Config::default(),
            &PluginPaths::default(),
        )
        .expect("plugins load")
    });
    let (analysis, _) = measure(runs, || {
        let manifests = manifest::read_paths(std::slice::from_ref(&file));
        let mut aggregator = Aggregator::default();
        analyze_sources(
            catalog,
            &manifests.sources,
            filter,
            &mut aggregator,
            &|_| {},
        );
        aggregator.finish(catalog)
    });
    table.row("One pod, in process: Catalog::load", 1, load);
    table.row(
        "One pod, in process: read file → analyze → finish (plugins loaded)",
        1,
        analysis,
    );

    let result = match binary() {
        None => {
            let message = "release binary not found: run `cargo build --release -p kube-devops` \
                           first (or set CARGO_TARGET_DIR); start-up not measured";
            eprintln!("{message}");
            table.note(message.to_owned());
            None
        }
        Some(binary) => {
            eprintln!("binary: {}", binary.display());
            let run = || {
                let start = Instant::now();
                let status = Command::new(&binary)
                    .arg("analyze")
                    .arg("-f")
                    .arg(&file)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("run the binary");
                assert!(status.success(), "kube-devops analyze exited with {status}");
                start.elapsed()
            };
            // Warm the page cache first; the figures are of a warm start.
            run();
            let mut times: Vec<Duration> = (0..runs).map(|_| run()).collect();
            times.sort();
            let stats = Stats::of(times.clone());
            let p90 = times[(times.len() * 9).div_ceil(10).max(1) - 1];
            table.row(
                &format!(
                    "One pod, release binary: `kube-devops analyze -f pod.json` (p90 {:.1} ms)",
                    millis(p90)
                ),
                1,
                stats,
            );
            Some(Startup {
                median: stats.median,
                p90,
            })
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// `kube-devops analyze -f pods.json -o json` with the release binary: wall time and the peak
/// resident memory of the process.
fn bench_binary(text: &str, config: Option<&Path>, pods: usize, repeats: usize, table: &mut Table) {
    let Some(binary) = binary() else {
        table.note("release binary not found: the binary on a file was not measured".to_owned());
        return;
    };
    eprintln!("release binary on {pods} pods…");
    let dir = std::env::temp_dir().join(format!("kube-devops-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    let file = dir.join(format!("pods-{pods}.json"));
    std::fs::write(&file, text).expect("write the list");
    let mut peaks = Vec::with_capacity(repeats);
    let (stats, _) = measure(repeats, || {
        let mut command = Command::new(&binary);
        command
            .args(["analyze", "--include-system", "-o", "json", "-f"])
            .arg(&file);
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run the binary");
        let (status, peak_kb) = wait_with_peak(child);
        assert_eq!(status, 0, "kube-devops analyze exited with {status}");
        peaks.push(peak_kb);
    });
    peaks.sort_unstable();
    let peak_mb = peaks[peaks.len() / 2] as f64 / 1024.0;
    table.row(
        &format!(
            "Release binary: `analyze -f pods.json -o json` ({:.0} MB file), peak RSS {peak_mb:.0} MB",
            text.len() as f64 / 1e6
        ),
        pods,
        stats,
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits for `child`; its exit code and peak resident memory in KiB, read from `VmHWM` while
/// it runs. (`ru_maxrss` would count the moment between fork and exec, when the child still
/// shares this process's gigabyte of JSON.)
fn wait_with_peak(mut child: std::process::Child) -> (i32, i64) {
    let mut peak = 0.0f64;
    loop {
        let (_, hwm) = common::memory(child.id());
        peak = peak.max(hwm);
        if let Some(status) = child.try_wait().expect("wait for the binary") {
            return (status.code().unwrap_or(-1), (peak * 1024.0) as i64);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The release binary: the one cargo built for this benchmark, else `<target>/release`.
fn binary() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(path) = option_env!("CARGO_BIN_EXE_kube-devops") {
        candidates.push(PathBuf::from(path));
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(dir).join("release").join("kube-devops"));
    }
    candidates.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target")
            .join("release")
            .join("kube-devops"),
    );
    candidates.into_iter().find(|path| path.is_file())
}

// ------------------------------------------------------------------------------------------------
// Timing and the results table.

#[derive(Debug, Clone, Copy)]
struct Stats {
    median: Duration,
    min: Duration,
}

impl Stats {
    fn of(mut times: Vec<Duration>) -> Stats {
        assert!(!times.is_empty());
        times.sort();
        let middle = times.len() / 2;
        let median = if times.len().is_multiple_of(2) {
            (times[middle - 1] + times[middle]) / 2
        } else {
            times[middle]
        };
        Stats {
            median,
            min: times[0],
        }
    }
}

/// Times `f` `repeats` times; returns the statistics and the last result.
fn measure<T>(repeats: usize, mut f: impl FnMut() -> T) -> (Stats, T) {
    let mut times = Vec::with_capacity(repeats);
    let mut last = None;
    for _ in 0..repeats {
        let start = Instant::now();
        let result = f();
        times.push(start.elapsed());
        // Dropped after the clock stops.
        last = Some(result);
    }
    (Stats::of(times), last.expect("at least one run"))
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

#[derive(Default)]
struct Table {
    rows: Vec<(String, usize, Stats)>,
    ratios: Vec<String>,
    notes: Vec<String>,
}

impl Table {
    fn row(&mut self, what: &str, pods: usize, stats: Stats) {
        eprintln!(
            "  {what}: {pods} pods, median {:.1} ms, min {:.1} ms",
            millis(stats.median),
            millis(stats.min)
        );
        self.rows.push((what.to_owned(), pods, stats));
    }

    fn ratio(&mut self, text: String) {
        eprintln!("  {text}");
        self.ratios.push(text);
    }

    fn note(&mut self, text: String) {
        eprintln!("  {text}");
        self.notes.push(text);
    }

    fn print(&self) {
        println!();
        println!("| Measurement | Pods | Median | Min | Pods/s (median) | Core µs/pod |");
        println!("|---|---:|---:|---:|---:|---:|");
        for (what, pods, stats) in &self.rows {
            // Rates mean nothing for a single pod.
            let (rate, core) = if *pods > 1 {
                (
                    thousands((*pods as f64 / stats.median.as_secs_f64()).round() as u64),
                    format!("{:.2}", core_micros_per_pod(stats.median, *pods)),
                )
            } else {
                ("–".to_owned(), "–".to_owned())
            };
            println!(
                "| {what} | {pods} | {} | {} | {rate} | {core} |",
                human(stats.median),
                human(stats.min),
            );
        }
        println!();
        for ratio in &self.ratios {
            println!("- {ratio}");
        }
        for note in &self.notes {
            println!("- {note}");
        }
        println!(
            "- {} thread(s); core µs/pod = median × threads / pods",
            threads()
        );
    }
}

fn print_aims(full_100k: Option<Duration>, ratio: Option<f64>, startup: Option<Startup>) {
    let met = |ok: bool| if ok { "met" } else { "**missed**" };
    println!();
    println!("| Aim | Measured | |");
    println!("|---|---:|---|");
    match ratio {
        Some(ratio) => println!(
            "| Sandbox cost at most {AIM_SANDBOX_RATIO}× native (read + checks, largest list) | {ratio:.2}× | {} |",
            met(ratio <= AIM_SANDBOX_RATIO)
        ),
        None => println!("| Sandbox cost at most {AIM_SANDBOX_RATIO}× native | not measured | |"),
    }
    match full_100k {
        Some(total) => println!(
            "| 100k pods from a JSON list under {AIM_100K_SECONDS} s | {:.2} s | {} |",
            total.as_secs_f64(),
            met(total.as_secs_f64() < AIM_100K_SECONDS)
        ),
        None => {
            println!("| 100k pods from a JSON list under {AIM_100K_SECONDS} s | not measured | |")
        }
    }
    match startup {
        Some(startup) => println!(
            "| One-pod analysis under {AIM_ONE_POD_MS} ms (binary, median; p90 {:.1} ms) | {:.1} ms | {} |",
            millis(startup.p90),
            millis(startup.median),
            met(millis(startup.median) < AIM_ONE_POD_MS)
        ),
        None => println!("| One-pod analysis under {AIM_ONE_POD_MS} ms | not measured | |"),
    }
}

fn human(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 1e-3 {
        format!("{:.1} ms", seconds * 1e3)
    } else {
        format!("{:.0} µs", seconds * 1e6)
    }
}

fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut text = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(' ');
        }
        text.push(digit);
    }
    text
}

/// Whether `part` (`full`, `sandbox`, `startup`) is to run: all of them unless
/// `KUBE_DEVOPS_BENCH_ONLY` lists some.
fn only(part: &str) -> bool {
    std::env::var("KUBE_DEVOPS_BENCH_ONLY")
        .map_or(true, |parts| parts.split(',').any(|p| p.trim() == part))
}
