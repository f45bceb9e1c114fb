//! Conveniences on the records generated from the WIT contract: builders for what a plugin
//! returns and lookups for what it reads.

use serde::Deserialize;

use crate::{CheckInfo, CheckKind, Finding, PluginMetadata, Severity};

/// Settings of a plugin that takes none: only `{}` is accepted, so a stray setting is an error
/// at load time rather than silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

impl PluginMetadata {
    /// Metadata with no checks yet; add them with [`PluginMetadata::check`].
    pub fn new(name: &str, version: &str, description: &str) -> Self {
        PluginMetadata {
            name: name.to_owned(),
            version: version.to_owned(),
            description: description.to_owned(),
            checks: Vec::new(),
        }
    }

    /// Declares one more check.
    pub fn check(mut self, check: CheckInfo) -> Self {
        self.checks.push(check);
        self
    }
}

impl CheckInfo {
    /// A check on the pod's spec: it also runs at admission time.
    pub fn spec(id: &str, description: &str, severity: Severity, weight: u32) -> Self {
        Self::with_kind(id, description, severity, weight, CheckKind::Spec)
    }

    /// A check on the pod's status: it runs only on pods that exist.
    pub fn status(id: &str, description: &str, severity: Severity, weight: u32) -> Self {
        Self::with_kind(id, description, severity, weight, CheckKind::Status)
    }

    fn with_kind(
        id: &str,
        description: &str,
        severity: Severity,
        weight: u32,
        kind: CheckKind,
    ) -> Self {
        CheckInfo {
            id: id.to_owned(),
            description: description.to_owned(),
            default_severity: severity,
            default_weight: weight,
            kind,
        }
    }
}

impl Finding {
    /// A finding of magnitude 1 with the check's default severity, about the whole pod.
    pub fn new(check: &str, message: impl Into<String>) -> Self {
        Finding {
            check: check.to_owned(),
            container: None,
            message: message.into(),
            magnitude: 1,
            severity: None,
        }
    }

    /// Names the container the finding is about.
    pub fn in_container(mut self, container: &str) -> Self {
        self.container = Some(container.to_owned());
        self
    }

    /// Sets how many units of the problem this is (the score multiplies it by the weight).
    pub fn magnitude(mut self, magnitude: u32) -> Self {
        self.magnitude = magnitude;
        self
    }

    /// Overrides the check's default severity for this finding.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }
}
