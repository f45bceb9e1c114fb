//! The analysis engine every mode shares: which plugins run ([`catalog`]), configured how
//! ([`config`]), which pods and checks are exempt ([`exemption`]), which namespaces are the
//! platform's own ([`scope`]), over which pods ([`run`]), one thread's plugin instances
//! ([`worker`]), and the scores ([`score`]) and report ([`report`]) that come out.

pub mod catalog;
pub mod config;
pub mod exemption;
pub mod report;
pub mod run;
pub mod scope;
pub mod score;
pub mod worker;

pub use catalog::{Catalog, Isolation, PluginPaths, SetupError};
pub use config::{Config, ConfigError};
pub use report::{Aggregator, Report};
pub use run::{Filter, Streamed, analyze_report, analyze_sources, analyze_stream};
pub use scope::SystemNamespaces;
