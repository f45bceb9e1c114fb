//! Shared by the benchmarks: their settings from the environment, and synthetic pods,
//! deterministic (pod `i` is the same in every list and every run) and about as large as real
//! pods (11 KB: sidecars, env, volumes, status).

#![allow(dead_code)] // Each benchmark uses a different part.

use kube_devops_sdk::image::ImageRef;
use serde::Serialize as _;
use serde_json::{Value, json};

/// A tiny xorshift64 generator.
pub struct XorShift(u64);

impl XorShift {
    fn for_pod(index: usize) -> Self {
        let seed = (index as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x9E37_79B9_7F4A_7C15;
        let mut rng = XorShift(seed.max(1));
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut text = String::with_capacity(digits + 16);
        while text.len() < digits {
            text.push_str(&format!("{:016x}", self.next()));
        }
        text.truncate(digits);
        text
    }

    fn time(&mut self) -> String {
        format!(
            "2026-11-{:02}T{:02}:{:02}:{:02}Z",
            1 + self.below(25),
            self.below(24),
            self.below(60),
            self.below(60)
        )
    }
}

pub const TEAMS: [&str; 8] = [
    "payments", "checkout", "search", "catalog", "identity", "data", "ml", "web",
];
pub const ENVIRONMENTS: [&str; 6] = ["dev", "qa", "staging", "perf", "prod", "sandbox"];
pub const APPS: [&str; 16] = [
    "api",
    "web",
    "worker",
    "gateway",
    "auth",
    "cart",
    "search",
    "indexer",
    "scheduler",
    "notifier",
    "billing",
    "reports",
    "frontend",
    "cache",
    "queue",
    "ingest",
];
pub const REGISTRIES: [&str; 5] = [
    "docker.io/library",
    "registry.example.com/platform",
    "ghcr.io/acme",
    "registry.local:5000/apps",
    "quay.io/acme",
];
pub const SIDECARS: [(&str, &str); 3] = [
    ("istio-proxy", "docker.io/istio/proxyv2"),
    ("log-shipper", "docker.io/fluent/fluent-bit"),
    ("metrics", "quay.io/prometheus/statsd-exporter"),
];

/// 50 namespaces: two system ones and 48 team environments.
pub fn namespace(rng: &mut XorShift) -> String {
    // The smaller of two draws: low indices (kube-system, monitoring, payments-*) are the
    // busiest, as in real clusters.
    let index = rng.below(50).min(rng.below(50)) as usize;
    match index {
        0 => "kube-system".to_owned(),
        1 => "monitoring".to_owned(),
        index => format!(
            "{}-{}",
            TEAMS[(index - 2) / ENVIRONMENTS.len()],
            ENVIRONMENTS[(index - 2) % ENVIRONMENTS.len()]
        ),
    }
}

/// About 12 % `:latest`, 10 % untagged, 13 % pinned by digest, the rest version tags.
pub fn image(rng: &mut XorShift, repository: &str) -> String {
    match rng.below(100) {
        0..12 => format!("{repository}:latest"),
        12..22 => repository.to_owned(),
        22..30 => format!("{repository}@sha256:{}", rng.hex(64)),
        30..35 => format!("{repository}:latest@sha256:{}", rng.hex(64)),
        _ => format!(
            "{repository}:{}.{}.{}",
            1 + rng.below(4),
            rng.below(20),
            rng.below(10)
        ),
    }
}

pub fn probe(rng: &mut XorShift, port: u64, path: &str) -> Value {
    let mut probe = match rng.below(10) {
        0..6 => json!({"httpGet": {"path": path, "port": port, "scheme": "HTTP"}}),
        6..9 => json!({"tcpSocket": {"port": port}}),
        _ => json!({"exec": {"command": ["/bin/sh", "-c", "test -f /tmp/healthy"]}}),
    };
    probe["failureThreshold"] = json!(3);
    probe["periodSeconds"] = json!(10);
    probe["successThreshold"] = json!(1);
    probe["timeoutSeconds"] = json!(1);
    if rng.chance(50) {
        probe["initialDelaySeconds"] = json!(5 + rng.below(30));
    }
    probe
}

pub fn container(rng: &mut XorShift, app: &str, name: &str, image: &str, volume: &str) -> Value {
    let port = 8000 + rng.below(100);
    let mut container = json!({
        "env": [
            {"name": "APP_NAME", "value": app},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
            {"name": "LOG_LEVEL", "value": "info"},
        ],
        "image": image,
        "imagePullPolicy": if rng.chance(20) { "Always" } else { "IfNotPresent" },
        "name": name,
        "ports": [{"containerPort": port, "name": "http", "protocol": "TCP"}],
        "resources": {
            "limits": {"cpu": "500m", "memory": format!("{}Mi", 256 << rng.below(3))},
            "requests": {"cpu": format!("{}m", 50 + 50 * rng.below(4)), "memory": "128Mi"},
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "volumeMounts": [{
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            "name": volume,
            "readOnly": true,
        }],
    });
    if rng.chance(70) {
        container["livenessProbe"] = probe(rng, port, "/healthz");
    }
    if rng.chance(75) {
        container["readinessProbe"] = probe(rng, port, "/ready");
    }
    if rng.chance(40) {
        container["securityContext"] = json!({
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "runAsUser": 10001,
        });
    }
    container
}

/// Restarts of one container: mostly none, some a few, about 8 % more than three.
pub fn restart_count(rng: &mut XorShift) -> u64 {
    match rng.below(100) {
        0..85 => 0,
        85..92 => 1 + rng.below(3),
        _ => 4 + rng.below(60),
    }
}

pub fn container_status(
    rng: &mut XorShift,
    phase: &str,
    name: &str,
    image: &str,
    started: &str,
) -> Value {
    let image_id = format!("{}@sha256:{}", ImageRef::parse(image).name, rng.hex(64));
    match phase {
        "Pending" => json!({
            "image": image,
            "imageID": "",
            "lastState": {},
            "name": name,
            "ready": false,
            "restartCount": 0,
            "started": false,
            "state": {"waiting": {"reason": rng.pick(&["ContainerCreating", "ImagePullBackOff", "ErrImagePull"])}},
        }),
        "Succeeded" | "Failed" => json!({
            "containerID": format!("containerd://{}", rng.hex(64)),
            "image": image,
            "imageID": image_id,
            "lastState": {},
            "name": name,
            "ready": false,
            "restartCount": 0,
            "started": false,
            "state": {"terminated": {
                "containerID": format!("containerd://{}", rng.hex(64)),
                "exitCode": if phase == "Failed" { 1 } else { 0 },
                "finishedAt": rng.time(),
                "reason": if phase == "Failed" { "Error" } else { "Completed" },
                "startedAt": started,
            }},
        }),
        _ => {
            let restarts = restart_count(rng);
            let crash_looping = restarts > 3 && rng.chance(30);
            let mut status = json!({
                "containerID": format!("containerd://{}", rng.hex(64)),
                "image": image,
                "imageID": image_id,
                "lastState": {},
                "name": name,
                "ready": !crash_looping,
                "restartCount": restarts,
                "started": !crash_looping,
                "state": {"running": {"startedAt": rng.time()}},
            });
            if restarts > 0 {
                status["lastState"] = json!({"terminated": {
                    "containerID": format!("containerd://{}", rng.hex(64)),
                    "exitCode": 137,
                    "finishedAt": rng.time(),
                    "reason": rng.pick(&["OOMKilled", "Error"]),
                    "startedAt": rng.time(),
                }});
            }
            if crash_looping {
                status["state"] = json!({"waiting": {
                    "message": format!("back-off 5m0s restarting failed container={name}"),
                    "reason": "CrashLoopBackOff",
                }});
            }
            status
        }
    }
}

/// Pod `index` as the API server returns it (managed fields left out, as kubectl does).
pub fn pod_value(index: usize) -> Value {
    let rng = &mut XorShift::for_pod(index);
    let namespace = namespace(rng);
    let app = *rng.pick(&APPS);
    let template_hash = rng.hex(10);
    let name = format!("{app}-{template_hash}-{:05x}", index % 0x10_0000);
    let volume = format!("kube-api-access-{}", rng.hex(5));
    let created = rng.time();
    let registry = *rng.pick(&REGISTRIES);

    let main_image = image(rng, &format!("{registry}/{app}"));
    let mut containers = vec![container(rng, app, app, &main_image, &volume)];
    let extra = match rng.below(100) {
        0..65 => 0,
        65..90 => 1,
        _ => 2,
    };
    for sidecar in 0..extra {
        let (sidecar_name, repository) = SIDECARS[(index + sidecar) % SIDECARS.len()];
        let image = image(rng, repository);
        containers.push(container(rng, app, sidecar_name, &image, &volume));
    }
    let init_containers: Vec<Value> = if rng.chance(15) {
        let image = if rng.chance(30) {
            "busybox".to_owned()
        } else {
            "busybox:1.36".to_owned()
        };
        vec![json!({
            "command": ["sh", "-c", "until nslookup db; do sleep 2; done"],
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "name": "wait-for-db",
            "resources": {},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
        })]
    } else {
        Vec::new()
    };

    let phase = match rng.below(100) {
        0..5 => "Pending",
        5..7 => "Succeeded",
        7..8 => "Failed",
        _ => "Running",
    };
    // A third of the pending pods are not even scheduled: no node, no container statuses.
    let unscheduled = phase == "Pending" && rng.chance(35);
    let node = format!("node-{:03}", rng.below(120));
    let started = rng.time();

    let mut metadata = json!({
        "creationTimestamp": created,
        "generateName": format!("{app}-{template_hash}-"),
        "labels": {"app": app, "pod-template-hash": template_hash, "team": namespace.split('-').next()},
        "name": name,
        "namespace": namespace,
        "ownerReferences": [{
            "apiVersion": "apps/v1",
            "blockOwnerDeletion": true,
            "controller": true,
            "kind": "ReplicaSet",
            "name": format!("{app}-{template_hash}"),
            "uid": uid(rng),
        }],
        "resourceVersion": format!("{}", 1_000_000 + rng.below(90_000_000)),
        "uid": uid(rng),
    });
    if rng.chance(30) {
        metadata["annotations"] = json!({
            "prometheus.io/path": "/metrics",
            "prometheus.io/port": "9090",
            "prometheus.io/scrape": "true",
        });
    }
    let mut spec = json!({
        "containers": containers,
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": true,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": "default",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300},
        ],
        "volumes": [{
            "name": volume,
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                    {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}},
                ],
            },
        }],
    });
    if !init_containers.is_empty() {
        spec["initContainers"] = Value::Array(init_containers);
    }
    if !unscheduled {
        spec["nodeName"] = json!(node);
    }

    let status = if unscheduled {
        json!({
            "conditions": [{
                "lastProbeTime": null,
                "lastTransitionTime": created,
                "message": "0/120 nodes are available: 120 Insufficient cpu.",
                "reason": "Unschedulable",
                "status": "False",
                "type": "PodScheduled",
            }],
            "phase": phase,
            "qosClass": "Burstable",
        })
    } else {
        let statuses: Vec<Value> = spec["containers"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|container| {
                let name = container["name"].as_str().unwrap_or_default().to_owned();
                let image = container["image"].as_str().unwrap_or_default().to_owned();
                container_status(rng, phase, &name, &image, &started)
            })
            .collect();
        let ready = phase == "Running"
            && statuses
                .iter()
                .all(|status| status["ready"] == Value::Bool(true));
        let condition = |kind: &str, status: bool| {
            json!({
                "lastProbeTime": null,
                "lastTransitionTime": started,
                "status": if status { "True" } else { "False" },
                "type": kind,
            })
        };
        let ip = format!(
            "10.{}.{}.{}",
            rng.below(256),
            rng.below(256),
            1 + rng.below(254)
        );
        json!({
            "conditions": [
                condition("Initialized", phase != "Pending"),
                condition("Ready", ready),
                condition("ContainersReady", ready),
                condition("PodScheduled", true),
            ],
            "containerStatuses": statuses,
            "hostIP": format!("192.168.{}.{}", rng.below(4), 1 + rng.below(254)),
            "phase": phase,
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "qosClass": "Burstable",
            "startTime": started,
        })
    };

    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
        "status": status,
    })
}

pub fn uid(rng: &mut XorShift) -> String {
    let hex = rng.hex(32);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// JSON indented by four spaces, as kubectl prints it.
pub fn pretty(value: &Value) -> String {
    let mut bytes = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, formatter);
    value
        .serialize(&mut serializer)
        .expect("a Value serialises");
    String::from_utf8(bytes).expect("serde_json writes UTF-8")
}

/// Pod `index` of the lean list: about 5 KB as kubectl prints it, two containers (the app and a
/// sidecar, neither with probes), no env, init containers, tolerations, annotations, conditions
/// or service-account volume (`automountServiceAccountToken: false`), every container running:
/// about four findings per pod from the seed's checks.
pub fn lean_pod_value(index: usize) -> Value {
    let mut pod = pod_value(index);
    let rng = &mut XorShift::for_pod(index ^ 0x5eed);
    let app = pod["metadata"]["labels"]["app"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let volume = pod["spec"]["volumes"][0]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let started = rng.time();
    let mut containers = Vec::new();
    let mut statuses = Vec::new();
    let main = format!("{}/{app}", rng.pick(&REGISTRIES));
    for (position, (name, repository)) in [(app.as_str(), main.as_str())]
        .into_iter()
        .chain(
            SIDECARS
                .iter()
                .copied()
                .skip(index % SIDECARS.len())
                .take(1),
        )
        .enumerate()
    {
        let image = image(rng, repository);
        let mut container = container(rng, &app, name, &image, &volume);
        let map = container.as_object_mut().expect("a container is an object");
        for field in [
            "env",
            "securityContext",
            "livenessProbe",
            "readinessProbe",
            "volumeMounts",
        ] {
            map.remove(field);
        }
        if position > 0 {
            map.remove("ports");
            map.remove("resources");
        }
        statuses.push(json!({
            "containerID": format!("containerd://{}", rng.hex(64)),
            "image": image,
            "imageID": format!("{}@sha256:{}", ImageRef::parse(&image).name, rng.hex(64)),
            "lastState": {},
            "name": name,
            "ready": true,
            "restartCount": 0,
            "started": true,
            "state": {"running": {"startedAt": started}},
        }));
        containers.push(container);
    }
    if let Some(metadata) = pod["metadata"].as_object_mut() {
        metadata.remove("annotations");
    }
    let spec = pod["spec"].as_object_mut().expect("a spec");
    for field in ["tolerations", "initContainers", "volumes"] {
        spec.remove(field);
    }
    spec.insert("automountServiceAccountToken".to_owned(), json!(false));
    spec.insert("containers".to_owned(), Value::Array(containers));
    spec.insert(
        "nodeName".to_owned(),
        json!(format!("node-{:03}", rng.below(120))),
    );
    let status = pod["status"].as_object_mut().expect("a status");
    status.remove("conditions");
    status.insert("phase".to_owned(), json!("Running"));
    status.insert("containerStatuses".to_owned(), Value::Array(statuses));
    pod
}

/// `kubectl get pods -A -o json` of pods `0..count`: a `kind: List`.
pub fn pod_list(count: usize) -> String {
    pod_list_of(count, pod_value)
}

/// `kubectl get pods -A -o json` of `pod(0..count)`.
pub fn pod_list_of(count: usize, pod: fn(usize) -> Value) -> String {
    let mut text = String::from("{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n");
    for index in 0..count {
        if index > 0 {
            text.push_str(",\n");
        }
        let item = pretty(&pod(index));
        for (line_number, line) in item.lines().enumerate() {
            if line_number > 0 {
                text.push('\n');
            }
            text.push_str("        ");
            text.push_str(line);
        }
    }
    text.push_str(
        "\n    ],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n",
    );
    text
}

// Settings from the environment.

pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(default)
}

pub fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|value| {
            value
                .split(',')
                .filter_map(|part| part.trim().replace('_', "").parse().ok())
                .collect::<Vec<usize>>()
        })
        .filter(|sizes| !sizes.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

/// `VmRSS` and `VmHWM` (the peak) of a process, in MB.
pub fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
