//! The analysis config file (`--config FILE`, YAML): which plugins and checks run, their
//! settings, weights, severities and limits. Every key is optional; absent means the default.
//!
//! ```yaml
//! limits:                     # for every plugin
//!   timeoutMs: 250            # one call's CPU time (default 250)
//!   memoryMiB: 64             # one instance's memory (default 64)
//!   maxFindings: 1000         # findings one call may return (default 1000)
//! plugins:
//!   restarts:
//!     settings: {threshold: 5}   # passed to the plugin's `configure`, as JSON
//!     limits: {timeoutMs: 50}    # overrides the global limits for this plugin
//!   pending:
//!     enabled: false
//!   probes:
//!     checks: [missing-liveness-probe]   # only these of the plugin's checks run
//! checks:
//!   missing-readiness-probe: {enabled: false}
//!   high-restarts: {weight: 8, severity: critical}
//! maxInputBytes: 4294967296   # bytes one input (-f) may hold (default 4 GiB)
//! podTemplates:               # kinds read beyond the seed's, as the pods their templates make
//!   - kind: Rollout           # known paths: PodTemplate, DeploymentConfig, Rollout,
//!   - kind: Service           #   Knative Service (apiVersion serving.knative.dev/*)
//!   - kind: Widget
//!     apiVersion: example.com/v1   # optional: a group, or group/version
//!     templatePath: spec.pod.template
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::contract::Severity;
use crate::pod::{TemplateKindConfig, TemplateKinds};
use crate::wasm::Limits;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Per plugin, by the name its metadata gives.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginConfig>,
    /// Per check, by id.
    #[serde(default)]
    pub checks: BTreeMap<String, CheckConfig>,
    /// Bytes one input (`-f FILE`, stdin) may hold; `--max-input-bytes` wins. Default 4 GiB.
    pub max_input_bytes: Option<u64>,
    /// Kinds read beyond the seed's; default none (other kinds are skipped).
    #[serde(default)]
    pub pod_templates: Vec<TemplateKindConfig>,
    /// What fixes fill in (`kube-devops fix`): `defaultProbe`, `defaultResources`.
    #[serde(default)]
    pub remediation: crate::remedy::RemediationConfig,
}

/// A plugin's sandbox limits, in the config file and in a DevOpsPolicy's `plugins[].limits`;
/// absent values keep the defaults.
#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsConfig {
    /// CPU time of one call, in milliseconds (default 250; wall time is capped at ten times it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 60000))]
    pub timeout_ms: Option<u64>,
    /// Linear memory of one instance, in MiB (default 64).
    #[serde(default, rename = "memoryMiB", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4096))]
    pub memory_mib: Option<usize>,
    /// Findings one call may return; more are dropped with a diagnostic (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000000))]
    pub max_findings: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PluginConfig {
    /// Default true.
    pub enabled: Option<bool>,
    /// Any JSON value; the plugin validates it. Default `{}`.
    pub settings: Option<serde_json::Value>,
    /// The plugin's checks that run; the others are off. Default all; `checks:` entries
    /// still override a check's `enabled`.
    pub checks: Option<Vec<String>>,
    #[serde(default)]
    pub limits: LimitsConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckConfig {
    /// Default true.
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
    pub weight: Option<u32>,
}

/// Why the config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}")]
    Invalid {
        path: PathBuf,
        #[source]
        source: InvalidConfig,
    },
}

/// Config YAML that does not fit: where, and why.
#[derive(Debug, thiserror::Error)]
#[error("{}{reason}", line.map(|line| format!("line {line}: ")).unwrap_or_default())]
pub struct InvalidConfig {
    pub line: Option<usize>,
    pub reason: String,
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|source| ConfigError::Invalid {
            path: path.to_owned(),
            source,
        })
    }

    /// Parses config YAML; the error names the line.
    pub fn parse(text: &str) -> Result<Self, InvalidConfig> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let config: Config = serde_saphyr::from_str(text).map_err(|error| {
            let (line, reason) = crate::manifest::yaml_error(&error);
            InvalidConfig { line, reason }
        })?;
        // Checked now, so that a bad entry is a config error and not a surprise later.
        config.template_kinds().map_err(|error| InvalidConfig {
            line: None,
            reason: error.to_string(),
        })?;
        Ok(config)
    }

    /// The kinds `podTemplates:` opts in to.
    pub fn template_kinds(&self) -> Result<TemplateKinds, crate::pod::TemplateKindError> {
        TemplateKinds::new(&self.pod_templates)
    }

    /// The settings JSON and limits of the plugin named `name`.
    pub fn plugin(&self, name: &str) -> (String, Limits) {
        let plugin = self.plugins.get(name);
        let settings = plugin
            .and_then(|plugin| plugin.settings.as_ref())
            .map_or_else(|| "{}".to_owned(), serde_json::Value::to_string);
        let limits = self.limits.apply(Limits::default());
        let limits = plugin.map_or(limits, |plugin| plugin.limits.apply(limits));
        (settings, limits)
    }

    /// Whether `check` of plugin `plugin` runs: its `checks:` entry, else the plugin's
    /// `checks` list, else true.
    pub fn check_enabled(&self, plugin: &str, check: &str) -> bool {
        self.checks
            .get(check)
            .and_then(|rule| rule.enabled)
            .or_else(|| {
                let listed = self.plugins.get(plugin)?.checks.as_ref()?;
                Some(listed.iter().any(|id| id == check))
            })
            .unwrap_or(true)
    }

    /// Whether plugin `name` runs: its `enabled`, else `default`.
    pub(crate) fn plugin_enabled(&self, name: &str, default: bool) -> bool {
        self.plugins
            .get(name)
            .and_then(|plugin| plugin.enabled)
            .unwrap_or(default)
    }
}

impl LimitsConfig {
    fn apply(self, base: Limits) -> Limits {
        Limits {
            timeout: self.timeout_ms.map_or(base.timeout, Duration::from_millis),
            memory_bytes: self.memory_mib.map_or(base.memory_bytes, |mib| mib << 20),
            max_findings: self.max_findings.unwrap_or(base.max_findings),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_limits_override_global_ones() {
        let config = Config::parse("limits: {timeoutMs: 40}\nplugins:\n  restarts:\n    settings: {threshold: 5}\n    limits: {memoryMiB: 8}\n").expect("valid");
        let (settings, limits) = config.plugin("restarts");
        assert_eq!(settings, r#"{"threshold":5}"#);
        assert_eq!(limits.timeout, Duration::from_millis(40));
        assert_eq!(limits.memory_bytes, 8 << 20);
        assert_eq!(
            config.plugin("probes").1.memory_bytes,
            Limits::default().memory_bytes
        );
    }

    #[test]
    fn misspelt_key_is_refused_with_its_line() {
        let error =
            Config::parse("plugins:\n  restarts:\n    setings: {}\n").expect_err("unknown field");
        assert_eq!(error.line, Some(3), "{error}");
        let error = error.to_string();
        assert!(error.contains("setings"), "{error}");
    }

    #[test]
    fn severity_must_be_known() {
        let error = Config::parse("checks:\n  pending: {severity: urgent}\n")
            .expect_err("bad severity")
            .to_string();
        assert!(error.contains("urgent"), "{error}");
    }
}
