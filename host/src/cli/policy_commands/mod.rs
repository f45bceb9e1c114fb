//! `kube-devops policy …`: DevOpsPolicy workflows. Bundles (named policy templates,
//! [`bundles`]) and GitOps (export, import, diff against the cluster, [`gitops`]).

mod bundles;
mod gitops;
mod remote;

use clap::Subcommand;

use super::ClusterArgs;
use super::output::Exit;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// List the policy bundles: named, documented DevOpsPolicy templates. See docs/bundles.md.
    #[command(visible_alias = "bundle-list")]
    Bundles(bundles::ListArgs),
    /// Print what a bundle enables: mode, the checks that run with their severities and
    /// weights, plugin settings, and what fixes fill in. Exit 2 for an unknown bundle.
    #[command(visible_alias = "bundle-show")]
    Show(bundles::ShowArgs),
    /// Print a bundle as a DevOpsPolicy for `kubectl apply -f -` (or apply it with --apply).
    #[command(visible_alias = "bundle-apply")]
    Apply(bundles::ApplyArgs),
    /// Print the cluster's DevOpsPolicies as clean manifests (no status, no server-set
    /// metadata), sorted by namespace and name, for a Git repository. See docs/gitops.md.
    Export(gitops::ExportArgs),
    /// Apply DevOpsPolicy manifests by server-side apply (field manager `kube-devops`, strict
    /// field validation); prints created, configured or unchanged per object. Exit 3 when any
    /// object failed (the rest is applied), 4 when the cluster failed.
    Import(gitops::ImportArgs),
    /// Diff DevOpsPolicy manifests against the cluster's (spec only, the CRD's defaults filled
    /// in). Objects of the cluster missing from the files are shown removed, in the namespaces
    /// the files mention only. Exit 0 when equal, 1 when they differ, 3 when a file could not be
    /// read, 4 when the cluster failed.
    Diff(gitops::DiffArgs),
}

pub async fn run(command: PolicyCommand, cluster: &ClusterArgs) -> Exit {
    match command {
        PolicyCommand::Bundles(args) => bundles::list(&args),
        PolicyCommand::Show(args) => bundles::show(&args),
        PolicyCommand::Apply(args) => bundles::apply(&args, cluster).await,
        PolicyCommand::Export(args) => gitops::export(&args, cluster).await,
        PolicyCommand::Import(args) => gitops::import(&args, cluster).await,
        PolicyCommand::Diff(args) => gitops::diff(&args, cluster).await,
    }
}
