//! `kube-devops check` and `kube-devops list pods`.

use std::fmt::Write as _;

use serde::Serialize;

use super::output::{self, Exit, fail_cluster};
use super::{CheckArgs, ClusterArgs, ListFormat, ListPodsArgs};
use crate::cluster::{Cluster, ClusterError};
use kube_devops_engine::contract::{ContainerState, Pod};
use kube_devops_engine::pod::{self, Read};

/// What pod analysis needs the identity to be allowed to do.
const NEEDED_VERBS: [&str; 2] = ["list", "watch"];

pub async fn check(args: &CheckArgs, cluster_args: &ClusterArgs) -> Exit {
    let cluster = match Cluster::connect(&cluster_args.connect_options()).await {
        Ok(cluster) => cluster,
        Err(error) => return fail_cluster(&error),
    };
    let version = match cluster.server_version().await {
        Ok(version) => version,
        Err(error) => return fail_cluster(&error),
    };
    let scope = args
        .namespace
        .as_deref()
        .map_or("all namespaces".to_owned(), |ns| format!("namespace {ns}"));
    let mut text = format!(
        "API server      : {}\nServer version  : {version}\n",
        cluster.url()
    );
    let mut denied = Vec::new();
    for verb in NEEDED_VERBS {
        let permission = match cluster.may(verb, args.namespace.as_deref()).await {
            Ok(permission) => permission,
            Err(error) => {
                output::print(&text);
                return fail_cluster(&error);
            }
        };
        let answer = if permission.allowed {
            "allowed"
        } else {
            "denied"
        };
        let reason = permission
            .reason
            .map(|reason| format!(" ({reason})"))
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "{:<16}: {answer} in {scope}{reason}",
            format!("{verb} pods")
        );
        if !permission.allowed {
            denied.push(verb);
        }
    }
    let printed = output::print(&text);
    if !denied.is_empty() {
        eprintln!(
            "error: this identity may not {} pods in {scope}; grant get, list and watch on pods \
             (a ClusterRole bound to it) or use another --context",
            denied.join(" or ")
        );
        return Exit::Cluster;
    }
    printed
}

/// One row of `list pods`.
#[derive(Debug, Serialize)]
struct PodRow {
    namespace: String,
    name: String,
    status: String,
    node: String,
}

pub async fn list_pods(args: &ListPodsArgs, cluster_args: &ClusterArgs) -> Exit {
    let cluster = match Cluster::connect(&cluster_args.connect_options()).await {
        Ok(cluster) => cluster,
        Err(error) => return fail_cluster(&error),
    };
    let mut rows = Vec::new();
    let mut unreadable = 0;
    let listed: Result<(), ClusterError> = cluster
        .list_pods(args.namespace.as_deref(), |page| {
            for source in page {
                match pod::read(source) {
                    Ok(Read::Pod(pod)) => rows.push(row(&pod.record)),
                    Ok(Read::Skipped { .. }) => {}
                    Err(error) => {
                        unreadable += 1;
                        eprintln!("{error}");
                    }
                }
            }
        })
        .await;
    if let Err(error) = listed {
        return fail_cluster(&error);
    }
    let printed = match args.output {
        ListFormat::Json => output::print_json(&rows),
        ListFormat::Text => {
            let mut text = format!(
                "{:<19} {:<32} {:<15} {}\n",
                "NAMESPACE", "NAME", "STATUS", "NODE"
            );
            for row in &rows {
                let _ = writeln!(
                    text,
                    "{:<19} {:<32} {:<15} {}",
                    row.namespace, row.name, row.status, row.node
                );
            }
            output::print(text)
        }
    };
    if unreadable > 0 {
        Exit::InvalidInput
    } else {
        printed
    }
}

fn row(pod: &Pod) -> PodRow {
    PodRow {
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        status: pod_status(pod),
        node: pod
            .spec
            .node_name
            .clone()
            .unwrap_or_else(|| "<none>".to_owned()),
    }
}

/// The phase, or the reason a container is waiting (`CrashLoopBackOff`), as kubectl shows it.
fn pod_status(pod: &Pod) -> String {
    let Some(status) = &pod.status else {
        return "Unknown".to_owned();
    };
    let waiting = status
        .container_statuses
        .iter()
        .find(|container| container.state == ContainerState::Waiting)
        .and_then(|container| container.state_reason.clone());
    waiting
        .or_else(|| status.phase.clone())
        .unwrap_or_else(|| "Unknown".to_owned())
}
