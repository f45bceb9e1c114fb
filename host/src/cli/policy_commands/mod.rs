//! `kube-devops policy …`: DevOpsPolicy workflows. Bundles (named policy templates,
//! [`bundles`]) and GitOps (export, import, diff against the cluster, [`gitops`]).

mod bundles;
mod gitops;

use clap::Subcommand;

use super::ClusterArgs;
use super::output::Exit;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// List the policy bundles: named, documented DevOpsPolicy templates.
    Bundles(bundles::ListArgs),
    /// Print what a bundle enables.
    Show(bundles::ShowArgs),
    /// Print a bundle as a DevOpsPolicy for `kubectl apply -f -` (or apply it with --apply).
    Apply(bundles::ApplyArgs),
    /// Print the cluster's DevOpsPolicies as clean manifests, sorted, for a Git repository.
    Export(gitops::ExportArgs),
    /// Apply DevOpsPolicy manifests by server-side apply; prints created, configured or
    /// unchanged per object. Exit 3 when any object failed (the rest is applied).
    Import(gitops::ImportArgs),
    /// Diff DevOpsPolicy manifests against the cluster's (spec only). Exit 0 when equal, 1 when
    /// they differ.
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
