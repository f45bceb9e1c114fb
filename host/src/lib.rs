//! The `kube-devops` binary's library: the three front ends of the analysis engine
//! (`kube-devops-engine`) and what only they need.
//!
//! - [`cli`]: the command line (analyze, list, plugin, crd, webhook and operator commands);
//! - [`operator`]: watches pods and DevOpsPolicies (`kube-devops-policy`), keeps statuses,
//!   PolicyReports and metrics current;
//! - [`webhook`]: the admission webhook;
//! - [`report`]: SARIF, JUnit and HTML reports (the HTML page is also the operator's dashboard);
//! - [`cluster`] (the Kubernetes client), [`oci`] (plugins as OCI artifacts) and [`service`]
//!   (what the long-running modes share).

pub mod cli;
pub mod cluster;
pub mod oci;
pub mod operator;
pub mod report;
pub mod service;
pub mod webhook;
