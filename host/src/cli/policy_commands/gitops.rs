//! `policy export`, `policy import`, `policy diff`: DevOpsPolicies kept in Git.

use clap::Args;

use super::super::ClusterArgs;
use super::super::output::Exit;

#[derive(Debug, Args)]
pub struct ExportArgs {}

#[derive(Debug, Args)]
pub struct ImportArgs {}

#[derive(Debug, Args)]
pub struct DiffArgs {}

pub async fn export(_args: &ExportArgs, _cluster: &ClusterArgs) -> Exit {
    eprintln!("error: not implemented yet");
    Exit::Usage
}

pub async fn import(_args: &ImportArgs, _cluster: &ClusterArgs) -> Exit {
    eprintln!("error: not implemented yet");
    Exit::Usage
}

pub async fn diff(_args: &DiffArgs, _cluster: &ClusterArgs) -> Exit {
    eprintln!("error: not implemented yet");
    Exit::Usage
}
