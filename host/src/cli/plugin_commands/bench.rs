//! `plugin bench`: what a plugin costs per call and per instance, on synthetic pods (or given
//! manifests), in this process with the engine every mode uses.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use crate::cli::output::{self, Exit, fail};
use crate::cli::{ListFormat, PluginBenchArgs};
use kube_devops_engine::manifest::{self, Manifests};
use kube_devops_engine::pod::{self, PodInput, Read};
use kube_devops_engine::wasm::{Instance, Limits};

#[derive(Debug, Serialize)]
struct Figures {
    plugin: String,
    version: String,
    sha256: String,
    /// Compile, link, read the metadata and configure once, with no cache.
    load_ms: f64,
    instantiate: Percentiles,
    call: Percentiles,
    /// A fresh, configured instance for each call, as the operator and the webhook run custom
    /// plugins (isolation per evaluation): instantiate, configure, call, drop.
    isolated_call: Percentiles,
    calls: usize,
    pods: usize,
    failed_calls: usize,
    calls_per_second: f64,
}

#[derive(Debug, Serialize)]
struct Percentiles {
    p50_us: f64,
    p99_us: f64,
    mean_us: f64,
}

fn percentiles(mut samples: Vec<Duration>) -> Percentiles {
    samples.sort();
    let at = |q: f64| {
        let index = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        micros(samples[index])
    };
    let total: Duration = samples.iter().sum();
    Percentiles {
        p50_us: at(0.50),
        p99_us: at(0.99),
        mean_us: micros(total) / samples.len().max(1) as f64,
    }
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

pub fn run(args: &PluginBenchArgs) -> Exit {
    let pods = match pods(args) {
        Ok(pods) if !pods.is_empty() => pods,
        Ok(_) => {
            eprintln!("error: no pods to analyse in the given files");
            return Exit::Usage;
        }
        Err(error) => {
            eprintln!("error: {error}");
            return Exit::Usage;
        }
    };
    let settings = args.settings.clone().unwrap_or_else(|| "{}".to_owned());
    let runtime = match kube_devops_builtins::runtime(None) {
        Ok(runtime) => runtime,
        Err(error) => return fail(Exit::Usage, &error),
    };
    let started = Instant::now();
    let settings_for = |_: &str| (settings.clone(), Limits::default());
    let plugin = match runtime.load_file(&args.plugin, None, &settings_for) {
        Ok(plugin) => plugin,
        Err(error) => return fail(Exit::Usage, &error),
    };
    let load = started.elapsed();

    let mut instantiations = Vec::with_capacity(args.instances);
    for _ in 0..args.instances.max(1) {
        let started = Instant::now();
        match Instance::start(&plugin) {
            Ok(instance) => drop(std::hint::black_box(instance)),
            Err(error) => return fail(Exit::Usage, &error),
        }
        instantiations.push(started.elapsed());
    }

    let mut instance = match Instance::start(&plugin) {
        Ok(instance) => instance,
        Err(error) => return fail(Exit::Usage, &error),
    };
    let mut samples = Vec::with_capacity(args.calls);
    let mut failed = 0;
    let warm_up = args.calls.min(100);
    let started = Instant::now();
    for index in 0..args.calls.max(1) + warm_up {
        let pod = &pods[index % pods.len()];
        let call = Instant::now();
        let result = instance.analyze(pod);
        let took = call.elapsed();
        if index >= warm_up {
            samples.push(took);
        }
        if result.is_err() {
            failed += 1;
            // A trapped store cannot be re-entered: continue on a fresh instance.
            match Instance::start(&plugin) {
                Ok(fresh) => instance = fresh,
                Err(error) => return fail(Exit::Usage, &error),
            }
        }
    }
    let total = started.elapsed();
    let calls = samples.len();

    let mut isolated = Vec::with_capacity(args.calls);
    for index in 0..args.calls.max(1) {
        let pod = &pods[index % pods.len()];
        let call = Instant::now();
        // A failure was counted above; here only the cost matters.
        let _ = Instance::start(&plugin).and_then(|mut fresh| fresh.analyze(pod));
        isolated.push(call.elapsed());
    }
    let figures = Figures {
        plugin: plugin.metadata.name.clone(),
        version: plugin.metadata.version.clone(),
        sha256: plugin.digest.clone(),
        load_ms: load.as_secs_f64() * 1e3,
        instantiate: percentiles(instantiations),
        calls_per_second: (calls + warm_up) as f64 / total.as_secs_f64(),
        call: percentiles(samples),
        isolated_call: percentiles(isolated),
        calls,
        pods: pods.len(),
        failed_calls: failed,
    };
    match args.output {
        ListFormat::Json => output::print_json(&figures),
        ListFormat::Text => output::print(text(&figures)),
    }
}

fn text(f: &Figures) -> String {
    format!(
        "plugin       {} {} (sha256 {})\n\
         load         {:.1} ms (compile, link, metadata, configure; no cache)\n\
         instantiate  p50 {:.0} µs, p99 {:.0} µs (each configured)\n\
         call         p50 {:.1} µs, p99 {:.1} µs, mean {:.1} µs over {} calls on {} pods\n\
         isolated     p50 {:.1} µs, p99 {:.1} µs per call on a fresh instance (operator, webhook)\n\
         throughput   {:.0} calls/s on one thread{}\n",
        f.plugin,
        f.version,
        &f.sha256[..12],
        f.load_ms,
        f.instantiate.p50_us,
        f.instantiate.p99_us,
        f.call.p50_us,
        f.call.p99_us,
        f.call.mean_us,
        f.calls,
        f.pods,
        f.isolated_call.p50_us,
        f.isolated_call.p99_us,
        f.calls_per_second,
        if f.failed_calls > 0 {
            format!(
                "\nfailed       {} calls trapped or timed out",
                f.failed_calls
            )
        } else {
            String::new()
        }
    )
}

/// The pods to call the plugin on: `--file` manifests, else `--pods` synthetic ones.
fn pods(args: &PluginBenchArgs) -> Result<Vec<PodInput>, String> {
    let manifests = if args.files.is_empty() {
        let mut manifests = Manifests::default();
        let items: Vec<serde_json::Value> = (0..args.pods.max(1)).map(synthetic_pod).collect();
        let text = json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string();
        manifest::split(Arc::from("<synthetic>"), text, &mut manifests);
        manifests
    } else {
        manifest::read_paths(&args.files)
    };
    if let Some(error) = manifests.errors.first() {
        return Err(error.to_string());
    }
    let mut pods = Vec::new();
    for source in manifests.sources {
        match pod::read(source) {
            Ok(Read::Pod(pod)) => pods.push(pod),
            Ok(Read::Skipped { .. }) => {}
            Err(error) => return Err(error.to_string()),
        }
    }
    Ok(pods)
}

/// A pod of one to three containers, varied by `index`: tags, probes, privilege, labels.
fn synthetic_pod(index: usize) -> serde_json::Value {
    let containers: Vec<serde_json::Value> = (0..1 + index % 3)
        .map(|c| {
            let tag = if (index + c).is_multiple_of(5) {
                "latest".to_owned()
            } else {
                format!("1.{}", index % 10)
            };
            let mut container = json!({
                "name": format!("c{c}"),
                "image": format!("registry.example/team/app-{}:{tag}", index % 17),
                "ports": [{"containerPort": 8080}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                "securityContext": {"privileged": (index + c).is_multiple_of(7)},
            });
            if (index + c).is_multiple_of(2) {
                container["livenessProbe"] = json!({"httpGet": {"path": "/healthz", "port": 8080}});
                container["readinessProbe"] = json!({"httpGet": {"path": "/ready", "port": 8080}});
            }
            container
        })
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("pod-{index}"),
            "namespace": format!("team-{}", index % 5),
            "labels": {"app": format!("app-{}", index % 17), "team": format!("team-{}", index % 5)},
        },
        "spec": {"containers": containers},
        "status": {"phase": if index.is_multiple_of(11) { "Pending" } else { "Running" }},
    })
}
