//! Test plugin that misbehaves on purpose. Its `mode` setting picks how; `onlyPod` limits the
//! misbehaviour to one pod name so tests can check the other pods still get analysed.

use std::sync::{Mutex, PoisonError};

use kube_devops_sdk::prelude::*;
use serde::Deserialize;

const CHECK: &str = "misbehave";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
enum Mode {
    /// One finding per pod, nothing odd.
    #[default]
    Ok,
    /// Panics (a Wasm trap).
    Panic,
    /// Loops forever.
    Loop,
    /// Allocates until memory runs out.
    Memory,
    /// Recurses until the stack overflows.
    Stack,
    /// Returns a finding for a check it never declared.
    Undeclared,
    /// Returns far more findings than allowed.
    Flood,
    /// Reports the length of the pod JSON the host hands out.
    PodJson,
    /// Returns a million findings.
    Million,
    /// Returns one finding whose message is 100 MB.
    HugeString,
    /// Keeps every pod it analyses (its `namespace/name` key and the raw pod JSON from the host)
    /// in a `static`, the way a malicious plugin would hoard one tenant's data, and returns one
    /// finding per pod whose message is exactly `seen:` followed by, for every pod this
    /// instance has analysed in stash mode so far, in analysis order, a space and that pod's
    /// `namespace/name` (for example `seen: ns-a/pod-1 ns-b/pod-2`). The pod being analysed is
    /// always the last key, a pod analysed twice appears twice, and pods `onlyPod` leaves out
    /// are neither kept nor listed. Valid Kubernetes names and namespaces contain neither spaces
    /// nor `/`, so splitting on spaces recovers the keys: any key before the last one proves
    /// this instance's memory carried an earlier pod's data into this pod's findings.
    Stash,
    /// Proposes, as its finding's fix, operations outside what a fix may change (the pod's
    /// name, its status) besides a label it may set.
    FixOutside,
    /// Proposes a fix of 50 000 operations, several MiB: over the host's bound.
    FixFlood,
    /// Burns CPU for `spinIterations` loop iterations, then returns the normal finding: a slow
    /// plugin for overload tests, since the frozen sandbox clocks cannot time a wait.
    Spin,
}

/// What stash mode keeps of one pod.
struct Stashed {
    key: String,
    // Never read back: holding the tenant's raw data in memory is the point.
    #[allow(dead_code)]
    pod_json: String,
}

/// Everything stash mode has seen in this instance, in analysis order. A `static` rather than a
/// field of the plugin so it lasts as long as the instance's memory, even if the host calls
/// `configure` again (which replaces the plugin value).
static SEEN: Mutex<Vec<Stashed>> = Mutex::new(Vec::new());

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
struct Settings {
    mode: Mode,
    only_pod: Option<String>,
    spin_iterations: u64,
}

struct Misbehave(Settings);

impl Plugin for Misbehave {
    type Settings = Settings;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new("misbehave", "0.1.0", "Misbehaves on purpose").check(CheckInfo::spec(
            CHECK,
            "Always finds something",
            Severity::Low,
            1,
        ))
    }

    fn new(settings: Settings) -> Result<Self, String> {
        Ok(Misbehave(settings))
    }

    fn fix(&self, pod: &Pod, _: &Finding, _: &FixDefaults) -> Option<Fix> {
        let targeted = self
            .0
            .only_pod
            .as_ref()
            .is_none_or(|name| *name == pod.name());
        match (&self.0.mode, targeted) {
            (Mode::FixOutside, true) => Some(
                Fix::new()
                    .add("/metadata/labels/fixed", "yes")
                    .replace("/metadata/name", "hijacked")
                    .add("/status/phase", "Running"),
            ),
            (Mode::FixFlood, true) => Some((0..50_000).fold(Fix::new(), |fix, n| {
                fix.add(format!("/metadata/labels/flood-{n}"), "x")
            })),
            _ => None,
        }
    }

    fn analyze(&self, pod: &Pod) -> Vec<Finding> {
        let targeted = self
            .0
            .only_pod
            .as_ref()
            .is_none_or(|name| *name == pod.name());
        let mode = if targeted { &self.0.mode } else { &Mode::Ok };
        match mode {
            Mode::Ok => vec![Finding::new(CHECK, "found")],
            Mode::Panic => panic!("misbehave: deliberate panic on {}", pod.name()),
            Mode::Loop => {
                let mut counter: u64 = 0;
                loop {
                    counter = std::hint::black_box(counter.wrapping_add(1));
                }
            }
            Mode::Memory => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            Mode::Stack => vec![Finding::new(
                CHECK,
                format!("depth {}", recurse(std::hint::black_box(1))),
            )],
            Mode::Undeclared => vec![
                Finding::new("not-declared", "sneaky"),
                Finding::new(CHECK, "found"),
            ],
            Mode::Flood => (0..5000)
                .map(|i| Finding::new(CHECK, format!("finding {i}")))
                .collect(),
            Mode::Million => (0..1_000_000).map(|_| Finding::new(CHECK, "x")).collect(),
            Mode::HugeString => vec![Finding::new(CHECK, "x".repeat(100 << 20))],
            Mode::PodJson => {
                let json = pod.json().to_owned();
                vec![Finding::new(CHECK, json)]
            }
            Mode::Stash => {
                let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
                seen.push(Stashed {
                    key: format!("{}/{}", pod.namespace(), pod.name()),
                    pod_json: pod.json().to_owned(),
                });
                let mut message = String::from("seen:");
                for stashed in seen.iter() {
                    message.push(' ');
                    message.push_str(&stashed.key);
                }
                vec![Finding::new(CHECK, message)]
            }
            Mode::FixOutside | Mode::FixFlood => vec![Finding::new(CHECK, "found")],
            Mode::Spin => {
                let mut counter: u64 = 0;
                // black_box on the bound and the counter keeps the loop from being folded away.
                for _ in 0..std::hint::black_box(self.0.spin_iterations) {
                    counter = std::hint::black_box(counter.wrapping_add(1));
                }
                std::hint::black_box(counter);
                vec![Finding::new(CHECK, "found")]
            }
        }
    }
}

// Deliberate: the point is to overflow the stack.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let padding = std::hint::black_box([depth; 64]);
    1 + recurse(padding[0] + 1) + padding[63]
}

export_plugin!(Misbehave);
