//! Policy bundles: named, documented [`DevOpsPolicySpec`]s that `kube-devops policy apply`
//! prints for `kubectl apply -f -` and `analyze --bundle` runs without any policy object.
//!
//! `baseline`, `restricted` and `permissive` are the seed system's, field for field (its
//! `severityOverrides` keys included, which [`crate::catalog::config`] maps onto check ids);
//! fields a bundle leaves out keep their defaults, as in the seed. The others add the policy
//! library's plugins on top of the seed checks.

use std::collections::BTreeMap;

use serde_json::json;

use crate::crd::{DevOpsPolicySpec, EnforcementMode, PluginPolicy};
use kube_devops_engine::analysis::config::{Config, LimitsConfig};
use kube_devops_engine::contract::Severity;
use kube_devops_engine::remedy::{DefaultProbe, DefaultResources};

/// Every bundle's name, in the order `policy bundles` lists them.
pub const NAMES: [&str; 6] = [
    "baseline",
    "restricted",
    "permissive",
    "pss-baseline",
    "pss-restricted",
    "best-practices",
];

/// One named policy template.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    pub name: &'static str,
    /// One sentence: what the bundle is for.
    pub description: &'static str,
    pub spec: DevOpsPolicySpec,
}

/// A bundle name that is none of [`NAMES`].
#[derive(Debug, thiserror::Error)]
#[error("unknown bundle `{name}`; the bundles are: {}", NAMES.join(", "))]
pub struct UnknownBundle {
    pub name: String,
}

/// Every bundle, in [`NAMES`] order.
pub fn all() -> Vec<Bundle> {
    NAMES.iter().filter_map(|name| get(name).ok()).collect()
}

/// The bundle named `name`.
pub fn get(name: &str) -> Result<Bundle, UnknownBundle> {
    let (name, description, spec) = match name {
        "baseline" => (
            "baseline",
            "The seed's starting point: no latest tags, readiness probes required, every other \
             check at its default, audit.",
            baseline(),
        ),
        "restricted" => (
            "restricted",
            "The seed's strictest: every seed check at high or critical severity, tight \
             thresholds, and enforce mode with the default probe and resources as fixes.",
            restricted(),
        ),
        "permissive" => (
            "permissive",
            "The seed's lenient one: every seed check at low severity, loose thresholds, audit.",
            permissive(),
        ),
        "pss-baseline" => (
            "pss-baseline",
            "The seed checks plus the Pod Security Standards' baseline level (pod-security), \
             audit.",
            pod_security("baseline"),
        ),
        "pss-restricted" => (
            "pss-restricted",
            "The seed checks plus the Pod Security Standards' restricted level (pod-security), \
             audit.",
            pod_security("restricted"),
        ),
        "best-practices" => (
            "best-practices",
            "The seed checks plus the Polaris-style best practices (resources, read-only root \
             filesystem, service-account token, secrets in env, ...), with default resources \
             as the fix, audit.",
            best_practices(),
        ),
        _ => {
            return Err(UnknownBundle {
                name: name.to_owned(),
            });
        }
    };
    Ok(Bundle {
        name,
        description,
        spec,
    })
}

fn baseline() -> DevOpsPolicySpec {
    DevOpsPolicySpec {
        forbid_latest_tag: Some(true),
        require_readiness_probe: Some(true),
        enforcement_mode: EnforcementMode::Audit,
        ..DevOpsPolicySpec::default()
    }
}

fn restricted() -> DevOpsPolicySpec {
    DevOpsPolicySpec {
        max_restart_count: Some(3),
        forbid_pending_duration: Some(300),
        enforcement_mode: EnforcementMode::Enforce,
        severity_overrides: seed_severities([
            Severity::Critical,
            Severity::High,
            Severity::High,
            Severity::Critical,
            Severity::High,
        ]),
        default_probe: Some(DefaultProbe {
            tcp_port: None,
            initial_delay_seconds: Some(5),
            period_seconds: Some(10),
        }),
        // Implies best-practices' four resource checks, weighted 0 (`catalog::config`), so that
        // fixes fill the resources in as the seed's enforce mode did.
        default_resources: Some(default_resources()),
        ..seed_checks()
    }
}

fn permissive() -> DevOpsPolicySpec {
    DevOpsPolicySpec {
        max_restart_count: Some(10),
        forbid_pending_duration: Some(600),
        enforcement_mode: EnforcementMode::Audit,
        severity_overrides: seed_severities([
            Severity::Low,
            Severity::Low,
            Severity::Low,
            Severity::Medium,
            Severity::Low,
        ]),
        ..seed_checks()
    }
}

/// The Pod Security Standards' checks of the baseline level.
const PSS_BASELINE: [&str; 12] = [
    "app-armor-profile",
    "capabilities-baseline",
    "host-namespaces",
    "host-path-volumes",
    "host-ports",
    "host-probes-and-host-lifecycle",
    "privileged",
    "proc-mount",
    "se-linux-options",
    "seccomp-profile-baseline",
    "sysctls",
    "windows-host-process",
];

/// The baseline checks a restricted check replaces at the restricted level.
const PSS_REPLACED: [&str; 4] = [
    "capabilities-baseline",
    "host-path-volumes",
    "seccomp-profile-baseline",
    "proc-mount",
];

/// The restricted level's own checks.
const PSS_RESTRICTED: [&str; 7] = [
    "allow-privilege-escalation",
    "capabilities-restricted",
    "proc-mount-restricted",
    "restricted-volumes",
    "run-as-non-root",
    "run-as-user",
    "seccomp-profile-restricted",
];

/// `pod-security` at `level`, its checks listed: the plugin picks them by level itself, but a
/// printed policy (and its status, and `policy show`) then says which ones run.
fn pod_security(level: &str) -> DevOpsPolicySpec {
    let checks: Vec<String> = match level {
        "restricted" => PSS_BASELINE
            .iter()
            .filter(|check| !PSS_REPLACED.contains(check))
            .chain(&PSS_RESTRICTED)
            .map(|check| (*check).to_owned())
            .collect(),
        _ => PSS_BASELINE.map(str::to_owned).to_vec(),
    };
    DevOpsPolicySpec {
        plugins: vec![PluginPolicy {
            name: "pod-security".to_owned(),
            checks: Some(checks),
            settings: Some(json!({ "level": level })),
            ..PluginPolicy::default()
        }],
        ..seed_checks()
    }
}

fn best_practices() -> DevOpsPolicySpec {
    DevOpsPolicySpec {
        // Without them the four resource checks have no fix.
        default_resources: Some(default_resources()),
        plugins: vec![PluginPolicy {
            name: "best-practices".to_owned(),
            ..PluginPolicy::default()
        }],
        ..seed_checks()
    }
}

/// The seed's three switches, all on; audit.
fn seed_checks() -> DevOpsPolicySpec {
    DevOpsPolicySpec {
        forbid_latest_tag: Some(true),
        require_liveness_probe: Some(true),
        require_readiness_probe: Some(true),
        enforcement_mode: EnforcementMode::Audit,
        ..DevOpsPolicySpec::default()
    }
}

/// The seed's `severityOverrides`, by its keys: `latestTag`, `missingLiveness`,
/// `missingReadiness`, `highRestarts`, `pending`.
fn seed_severities(severities: [Severity; 5]) -> BTreeMap<String, Severity> {
    [
        "latestTag",
        "missingLiveness",
        "missingReadiness",
        "highRestarts",
        "pending",
    ]
    .into_iter()
    .map(str::to_owned)
    .zip(severities)
    .collect()
}

fn default_resources() -> DefaultResources {
    DefaultResources {
        cpu_request: Some("100m".to_owned()),
        cpu_limit: Some("500m".to_owned()),
        memory_request: Some("128Mi".to_owned()),
        memory_limit: Some("256Mi".to_owned()),
    }
}

/// `analyze --bundle B --config FILE`: the file's entries over the bundle's, key by key, so a
/// config file adds what a policy cannot say (`podTemplates`, `maxInputBytes`) and adjusts a
/// bundle without restating it. Plugin settings objects merge key by key; `checks` lists and
/// `podTemplates` entries of the file replace and extend.
pub fn layer(mut bundle: Config, file: Config) -> Config {
    bundle.limits = layer_limits(bundle.limits, file.limits);
    for (name, plugin) in file.plugins {
        let entry = bundle.plugins.entry(name).or_default();
        entry.enabled = plugin.enabled.or(entry.enabled);
        if plugin.checks.is_some() {
            entry.checks = plugin.checks;
        }
        entry.limits = layer_limits(entry.limits, plugin.limits);
        entry.settings = match (entry.settings.take(), plugin.settings) {
            (Some(serde_json::Value::Object(mut base)), Some(serde_json::Value::Object(over))) => {
                base.extend(over);
                Some(serde_json::Value::Object(base))
            }
            (base, over) => over.or(base),
        };
    }
    for (id, check) in file.checks {
        let entry = bundle.checks.entry(id).or_default();
        entry.enabled = check.enabled.or(entry.enabled);
        entry.severity = check.severity.or(entry.severity);
        entry.weight = check.weight.or(entry.weight);
    }
    bundle.max_input_bytes = file.max_input_bytes.or(bundle.max_input_bytes);
    bundle.pod_templates.extend(file.pod_templates);
    let remediation = &mut bundle.remediation;
    if let Some(probe) = file.remediation.default_probe {
        let base = remediation
            .default_probe
            .get_or_insert_with(Default::default);
        base.tcp_port = probe.tcp_port.or(base.tcp_port);
        base.initial_delay_seconds = probe.initial_delay_seconds.or(base.initial_delay_seconds);
        base.period_seconds = probe.period_seconds.or(base.period_seconds);
    }
    if let Some(resources) = file.remediation.default_resources {
        let base = remediation
            .default_resources
            .get_or_insert_with(Default::default);
        base.cpu_request = resources.cpu_request.or(base.cpu_request.take());
        base.cpu_limit = resources.cpu_limit.or(base.cpu_limit.take());
        base.memory_request = resources.memory_request.or(base.memory_request.take());
        base.memory_limit = resources.memory_limit.or(base.memory_limit.take());
    }
    bundle
}

fn layer_limits(base: LimitsConfig, over: LimitsConfig) -> LimitsConfig {
    LimitsConfig {
        timeout_ms: over.timeout_ms.or(base.timeout_ms),
        memory_mib: over.memory_mib.or(base.memory_mib),
        max_findings: over.max_findings.or(base.max_findings),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::config;

    #[test]
    fn every_name_is_a_bundle_and_unknown_names_list_them() {
        assert_eq!(all().len(), NAMES.len());
        for bundle in all() {
            assert!(!bundle.description.is_empty(), "{}", bundle.name);
        }
        let error = get("strict").expect_err("no such bundle");
        assert_eq!(
            error.to_string(),
            "unknown bundle `strict`; the bundles are: baseline, restricted, permissive, \
             pss-baseline, pss-restricted, best-practices"
        );
    }

    #[test]
    fn restricted_severities_reach_the_check_ids() {
        let config = config(&get("restricted").expect("bundle").spec);
        let severity = |check: &str| config.checks[check].severity;
        assert_eq!(severity("latest-tag"), Some(Severity::Critical));
        assert_eq!(severity("missing-liveness-probe"), Some(Severity::High));
        assert_eq!(severity("missing-readiness-probe"), Some(Severity::High));
        assert_eq!(severity("high-restarts"), Some(Severity::Critical));
        assert_eq!(severity("pending"), Some(Severity::High));
        assert!(config.check_enabled("best-practices", "cpu-limits-missing"));
        assert!(!config.check_enabled("best-practices", "read-only-root-filesystem"));
    }

    #[test]
    fn a_config_file_layers_over_a_bundle_key_by_key() {
        let bundle = config(&get("restricted").expect("bundle").spec);
        let file = Config::parse(
            "plugins:\n  restarts:\n    settings: {extra: 1}\nchecks:\n  latest-tag: {weight: 9}\n\
             remediation:\n  defaultProbe: {tcpPort: 9000}\nmaxInputBytes: 10\n",
        )
        .expect("config");
        let layered = layer(bundle, file);
        assert_eq!(layered.plugin("restarts").0, r#"{"extra":1,"threshold":3}"#);
        assert_eq!(layered.checks["latest-tag"].weight, Some(9));
        assert_eq!(
            layered.checks["latest-tag"].severity,
            Some(Severity::Critical),
            "the bundle's severity stays"
        );
        let probe = layered.remediation.default_probe.expect("probe");
        assert_eq!(
            (
                probe.tcp_port,
                probe.initial_delay_seconds,
                probe.period_seconds
            ),
            (Some(9000), Some(5), Some(10))
        );
        assert_eq!(layered.max_input_bytes, Some(10));
        assert!(layered.remediation.default_resources.is_some());
    }
}
