//! junit report (in progress).

use crate::cli::Exit;
use kube_devops_engine::analysis::{Catalog, Report};
use kube_devops_engine::contract::Severity;

pub fn print(_report: &Report, _catalog: &Catalog, _fail_on: Option<Severity>) -> Exit {
    eprintln!("error: -o junit is not implemented yet");
    Exit::Usage
}
