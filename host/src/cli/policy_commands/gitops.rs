//! `policy export`, `policy import`, `policy diff`: DevOpsPolicies kept in Git.
//!
//! Export writes what import reads back without a change: cleaned objects ([`manifests`]),
//! sorted by namespace and name, keys sorted, so export → commit → import → export is a fixed
//! point and a Git diff shows only real changes. Import is server-side apply ([`remote`]); diff
//! compares specs with the CRD's defaults filled in, as the server stores them.

pub(super) mod manifests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use super::super::ClusterArgs;
use super::super::output::{self, Exit};
use super::remote::{self, ApplyError, Policies};
use crate::cluster::Cluster;
use manifests::{FileObjects, Key, QUALIFIED};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// A multi-document YAML stream.
    Yaml,
    /// A `v1` `List`.
    Json,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// This namespace (default: the kubeconfig context's namespace, else `default`).
    #[arg(short, long, value_name = "NS", conflicts_with = "all_namespaces")]
    pub namespace: Option<String>,
    /// Every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    #[arg(short, long, value_enum, default_value_t = ExportFormat::Yaml)]
    pub output: ExportFormat,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Manifest files or directories (YAML streams, JSON, Lists); `-` for stdin.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The namespace of objects that name none (objects naming another one are errors).
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Ask the API server what would happen (its dry run: validated, nothing stored).
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Manifest files or directories (YAML streams, JSON, Lists); `-` for stdin.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The namespace of objects that name none (objects naming another one are errors).
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,
}

async fn connect(cluster: &ClusterArgs) -> Result<Cluster, Exit> {
    Cluster::connect(&cluster.connect_options())
        .await
        .map_err(|error| output::fail_cluster(&error))
}

pub async fn export(args: &ExportArgs, cluster: &ClusterArgs) -> Exit {
    let cluster = match connect(cluster).await {
        Ok(cluster) => cluster,
        Err(exit) => return exit,
    };
    let namespace = match (&args.namespace, args.all_namespaces) {
        (_, true) => None,
        (Some(namespace), false) => Some(namespace.clone()),
        (None, false) => Some(cluster.client().default_namespace().to_owned()),
    };
    let listed = match Policies::new(&cluster).list(namespace.as_deref()).await {
        Ok(listed) => listed,
        Err(error) => return output::fail_cluster(&error),
    };
    let sorted: BTreeMap<Key, Value> = listed
        .into_iter()
        .map(|(key, object)| (key, manifests::clean(object)))
        .collect();
    let objects: Vec<Value> = sorted.into_values().collect();
    match args.output {
        ExportFormat::Json => output::print_json(&json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": objects,
        })),
        ExportFormat::Yaml => match yaml_stream(&objects) {
            Ok(text) => output::print(text),
            Err(error) => output::fail(Exit::Usage, &error),
        },
    }
}

/// Documents separated by `---`, each ending in a newline; nothing for no objects.
fn yaml_stream(objects: &[Value]) -> Result<String, serde_saphyr::ser::Error> {
    let mut text = String::new();
    for object in objects {
        text.push_str("---\n");
        let document = serde_saphyr::to_string(object)?;
        text.push_str(&document);
        if !document.ends_with('\n') {
            text.push('\n');
        }
    }
    Ok(text)
}

/// Prints what could not be read; returns how many.
fn report_files(files: &FileObjects) -> usize {
    for warning in &files.warnings {
        eprintln!("warning: {warning}");
    }
    for error in &files.errors {
        eprintln!("error: {error}");
    }
    files.errors.len()
}

pub async fn import(args: &ImportArgs, cluster: &ClusterArgs) -> Exit {
    let files = manifests::read(&args.files, args.namespace.as_deref());
    let mut failed = report_files(&files);
    if files.objects.is_empty() {
        eprintln!("error: no DevOpsPolicy to import");
        return Exit::InvalidInput;
    }
    let cluster = match connect(cluster).await {
        Ok(cluster) => cluster,
        Err(exit) => return exit,
    };
    let policies = Policies::new(&cluster);
    let suffix = if args.dry_run { " (dry run)" } else { "" };
    for file in &files.objects {
        let before = match policies.get(&file.key).await {
            Ok(before) => before,
            Err(error) => return output::fail_cluster(&error),
        };
        // Forced: the files win over other managers, as Argo CD and Flux do.
        let applied = policies.apply(&file.key, &file.object, args.dry_run, true);
        let after = match applied.await {
            Ok(after) => after,
            Err(ApplyError::Cluster(error)) => return output::fail_cluster(&error),
            Err(refused @ ApplyError::Refused { .. }) => {
                eprintln!(
                    "error: {}: {QUALIFIED}/{} (namespace {}): {refused}",
                    file.location, file.key.1, file.key.0
                );
                failed += 1;
                continue;
            }
        };
        let outcome = remote::outcome(before.as_ref(), &after);
        let shown = output::print_line(&format!("{QUALIFIED}/{} {outcome}{suffix}", file.key.1));
        if shown != Exit::Success {
            return shown;
        }
    }
    if failed > 0 {
        eprintln!(
            "error: {failed} object(s) or input(s) failed (listed above); the rest was applied"
        );
        return Exit::InvalidInput;
    }
    Exit::Success
}

pub async fn diff(args: &DiffArgs, cluster: &ClusterArgs) -> Exit {
    let files = manifests::read(&args.files, args.namespace.as_deref());
    let unreadable = report_files(&files);
    let cluster = match connect(cluster).await {
        Ok(cluster) => cluster,
        Err(exit) => return exit,
    };
    let policies = Policies::new(&cluster);
    let namespaces: BTreeSet<&str> = files.objects.iter().map(|o| o.key.0.as_str()).collect();
    let mut live: BTreeMap<Key, Value> = BTreeMap::new();
    for namespace in namespaces {
        match policies.list(Some(namespace)).await {
            Ok(listed) => live.extend(listed),
            Err(error) => return output::fail_cluster(&error),
        }
    }
    let wanted: BTreeMap<Key, Value> = files
        .objects
        .iter()
        .map(|file| (file.key.clone(), file.object.clone()))
        .collect();
    let keys: BTreeSet<&Key> = live.keys().chain(wanted.keys()).collect();
    let mut differ = false;
    for key in keys {
        let before = live
            .get(key)
            .map(|object| manifests::diff_view(key, object));
        let after = wanted
            .get(key)
            .map(|object| manifests::diff_view(key, object));
        if before == after {
            continue;
        }
        differ = true;
        let text = |view: Option<Value>| -> String {
            view.and_then(|view| serde_saphyr::to_string(&view).ok())
                .unwrap_or_default()
        };
        let name = format!("{QUALIFIED}/{}/{}", key.0, key.1);
        let shown = output::print(super::super::fix::diff(&name, &text(before), &text(after)));
        if shown != Exit::Success {
            return shown;
        }
    }
    if unreadable > 0 {
        eprintln!("error: {unreadable} input(s) or document(s) could not be used (listed above)");
        return Exit::InvalidInput;
    }
    if differ {
        Exit::GateFailed
    } else {
        Exit::Success
    }
}
