//! `policy bundles`, `policy show`, `policy apply` (and the seed's `bundle-*` spellings).

use clap::Args;

use super::super::ClusterArgs;
use super::super::output::Exit;

#[derive(Debug, Args)]
pub struct ListArgs {}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The bundle's name.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The bundle's name.
    pub name: String,
}

pub fn list(_args: &ListArgs) -> Exit {
    eprintln!("error: not implemented yet");
    Exit::Usage
}

pub fn show(_args: &ShowArgs) -> Exit {
    eprintln!("error: not implemented yet");
    Exit::Usage
}

pub async fn apply(_args: &ApplyArgs, _cluster: &ClusterArgs) -> Exit {
    eprintln!("error: not implemented yet");
    Exit::Usage
}
