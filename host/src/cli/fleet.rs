//! Several clusters at once: `analyze --context A --context B` / `--all-contexts`,
//! `kube-devops contexts`, and the seed's `multi-cluster` spellings.

use clap::{Args, Subcommand};

use super::ClusterArgs;
use super::output::Exit;

#[derive(Debug, Args)]
pub struct ContextsArgs {}

#[derive(Debug, Subcommand)]
pub enum MultiClusterCommand {
    /// List the kubeconfig's contexts (as `kube-devops contexts`).
    ListContexts(ContextsArgs),
}

pub async fn contexts(_args: &ContextsArgs, _cluster: &ClusterArgs) -> Exit {
    eprintln!("error: not implemented yet");
    Exit::Usage
}

pub async fn multi_cluster(command: MultiClusterCommand, cluster: &ClusterArgs) -> Exit {
    match command {
        MultiClusterCommand::ListContexts(args) => contexts(&args, cluster).await,
    }
}
