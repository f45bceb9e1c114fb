//! Building a namespace's catalog from its policy in effect, off the async runtime: loading runs
//! plugin code (metadata, configure), which must never block a runtime thread. The operator and
//! the webhook both start builds here and hand the finished [`Build`] to their
//! [`crate::registry::Policies`].

use std::path::PathBuf;
use std::sync::Arc;

use kube_devops_engine::analysis::Catalog;
use kube_devops_engine::wasm::Runtime;

use crate::catalog::{PolicyError, load_catalog};
use crate::crd::DevOpsPolicySpec;

/// A finished build of one namespace's catalog.
#[derive(Debug)]
pub struct Build {
    pub namespace: String,
    /// The token [`crate::registry::Policies::start_build`] gave: a stale build is recognised.
    pub token: u64,
    pub outcome: Outcome,
}

/// What a build produced.
#[derive(Debug)]
pub enum Outcome {
    /// The namespace has no policy (any more): the defaults apply.
    NoPolicy,
    Loaded(Catalog),
    /// The policy cannot be put into effect; the namespace falls back to the defaults.
    Failed(PolicyError),
}

/// What every build of a process shares.
#[derive(Clone)]
pub struct Builder {
    pub runtime: Arc<Runtime>,
    /// Where policies' custom plugin files are.
    pub plugin_dir: Option<PathBuf>,
}

impl Builder {
    /// Loads `spec` (none: the namespace has no policy) on a thread of its own and hands the
    /// result to `done`. A thread that cannot start is an error the caller logs.
    pub fn spawn(
        &self,
        namespace: String,
        token: u64,
        spec: Option<DevOpsPolicySpec>,
        done: impl FnOnce(Build) + Send + 'static,
    ) -> std::io::Result<()> {
        let builder = self.clone();
        std::thread::Builder::new()
            .name("policy-load".to_owned())
            .spawn(move || {
                let outcome = match spec {
                    Some(spec) => {
                        match load_catalog(&builder.runtime, &spec, builder.plugin_dir.as_deref()) {
                            Ok(catalog) => Outcome::Loaded(catalog),
                            Err(error) => Outcome::Failed(error),
                        }
                    }
                    None => Outcome::NoPolicy,
                };
                done(Build {
                    namespace,
                    token,
                    outcome,
                });
            })
            .map(drop)
    }
}
