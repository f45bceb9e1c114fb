//! sarif report (in progress).

use crate::cli::Exit;
use kube_devops_engine::analysis::{Catalog, Report};

pub fn print(_report: &Report, _catalog: &Catalog) -> Exit {
    eprintln!("error: -o sarif is not implemented yet");
    Exit::Usage
}
