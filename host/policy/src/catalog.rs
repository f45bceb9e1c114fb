//! A policy, turned into what the analysis engine runs: the engine's [`Config`] and the custom
//! plugin files, loaded into a [`Catalog`]. Each file's pinned digest is checked on the bytes
//! that are compiled, before any of its code runs, and custom plugins get a fresh instance per
//! pod (policies serve many tenants' pods).
//!
//! The seed fields map onto the built-in plugins: `forbidLatestTag` → check `latest-tag`,
//! `requireLivenessProbe` / `requireReadinessProbe` → the `probes` checks, `maxRestartCount` →
//! `restarts` setting `threshold`, `forbidPendingDuration` → `pending` setting
//! `minPendingSeconds`; `severityOverrides` sets check severities, by check id or by the seed's
//! keys (`latestTag`, `missingLiveness`, `missingReadiness`, `highRestarts`, `pending`), mapped
//! here and nowhere else. The `plugins` list comes last and wins.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use super::crd::DevOpsPolicySpec;
use kube_devops_engine::analysis::catalog::{Isolation, PluginPaths};
use kube_devops_engine::analysis::config::{CheckConfig, PluginConfig};
use kube_devops_engine::analysis::{Catalog, Config, SetupError};
use kube_devops_engine::wasm::{PluginOrigin, Runtime};

/// Why a policy cannot be put into effect.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "plugin `{plugin}` names its module by file, but the operator has no plugin directory (--plugin-dir)"
    )]
    NoPluginDir { plugin: String },
    #[error(
        "plugin `{plugin}`: source file `{file}` must be a plain file name in the plugin directory"
    )]
    BadFileName { plugin: String, file: String },
    #[error(
        "plugin file {path} is named `{actual}` in its metadata, but the policy says `{expected}`"
    )]
    NameMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error(transparent)]
    Setup(#[from] SetupError),
}

/// The built-in plugin with the resource checks.
const BEST_PRACTICES: &str = "best-practices";

/// The `best-practices` checks whose fixes fill in `defaultResources`.
pub const RESOURCE_CHECKS: [&str; 4] = [
    "cpu-requests-missing",
    "memory-requests-missing",
    "cpu-limits-missing",
    "memory-limits-missing",
];

/// The engine config a policy stands for.
pub fn config(spec: &DevOpsPolicySpec) -> Config {
    let mut config = Config {
        remediation: spec.remediation(),
        ..Config::default()
    };
    let mut disable = |check: &str, enabled: Option<bool>| {
        if let Some(enabled) = enabled {
            check_entry(&mut config, check).enabled = Some(enabled);
        }
    };
    disable("latest-tag", spec.forbid_latest_tag);
    disable("missing-liveness-probe", spec.require_liveness_probe);
    disable("missing-readiness-probe", spec.require_readiness_probe);
    if let Some(threshold) = spec.max_restart_count {
        merge_settings(&mut config, "restarts", json!({ "threshold": threshold }));
    }
    if let Some(seconds) = spec.forbid_pending_duration {
        merge_settings(
            &mut config,
            "pending",
            json!({ "minPendingSeconds": seconds }),
        );
    }
    // The seed's keys first, so that a check id given as well wins.
    let (seed, ids): (Vec<_>, Vec<_>) = spec
        .severity_overrides
        .iter()
        .partition(|(key, _)| seed_check(key).is_some());
    for (key, severity) in seed.into_iter().chain(ids) {
        check_entry(&mut config, check_id(key)).severity = Some(*severity);
    }
    // The seed's `defaultResources` fills in containers without requests and limits. Here a
    // fix answers a finding, so the field implies the four checks that find them, weighted 0:
    // the seed's score stays the seed's. A policy that lists `best-practices` decides itself.
    if spec.default_resources.is_some()
        && !spec
            .plugins
            .iter()
            .any(|plugin| plugin.name == BEST_PRACTICES)
    {
        let entry = config.plugins.entry(BEST_PRACTICES.to_owned()).or_default();
        entry.enabled = Some(true);
        entry.checks = Some(RESOURCE_CHECKS.map(str::to_owned).to_vec());
        for check in RESOURCE_CHECKS {
            check_entry(&mut config, check).weight = Some(0);
        }
    }
    for plugin in &spec.plugins {
        let entry = config.plugins.entry(plugin.name.clone()).or_default();
        // Listed means run (the CRD's "default true"): an opt-in built-in such as
        // `pod-security` runs when a policy names it.
        entry.enabled = Some(plugin.enabled.or(entry.enabled).unwrap_or(true));
        entry.checks.clone_from(&plugin.checks);
        if let Some(limits) = plugin.limits {
            entry.limits = limits;
        }
        if let Some(settings) = &plugin.settings {
            merge_settings(&mut config, &plugin.name, settings.clone());
        }
        for (check, severity) in &plugin.severities {
            check_entry(&mut config, check).severity = Some(*severity);
        }
        for (check, weight) in &plugin.weights {
            check_entry(&mut config, check).weight = Some(*weight);
        }
    }
    config
}

/// Loads the plugins `spec` asks for on `runtime`: the built-ins, and each custom plugin's file
/// from `plugin_dir`, refused before it runs unless its sha256 is the pinned one.
pub fn load_catalog(
    runtime: &Arc<Runtime>,
    spec: &DevOpsPolicySpec,
    plugin_dir: Option<&Path>,
) -> Result<Catalog, PolicyError> {
    let mut files = Vec::new();
    for plugin in &spec.plugins {
        let Some(source) = &plugin.source else {
            continue;
        };
        let dir = plugin_dir.ok_or_else(|| PolicyError::NoPluginDir {
            plugin: plugin.name.clone(),
        })?;
        let plain = Path::new(&source.file)
            .file_name()
            .is_some_and(|name| name == source.file.as_str());
        if !plain {
            return Err(PolicyError::BadFileName {
                plugin: plugin.name.clone(),
                file: source.file.clone(),
            });
        }
        files.push((plugin, dir.join(&source.file)));
    }
    let paths = PluginPaths {
        files: files.iter().map(|(_, path)| path.clone()).collect(),
        dirs: Vec::new(),
        pins: files
            .iter()
            .filter_map(|(plugin, path)| {
                let source = plugin.source.as_ref()?;
                Some((path.clone(), source.sha256.clone()))
            })
            .collect(),
        isolation: Isolation::PerEvaluation,
    };
    let catalog = Catalog::load(runtime, &config(spec), &paths)?;
    for (plugin, path) in &files {
        let loaded =
            catalog.plugins.iter().map(|active| &active.plugin).find(
                |loaded| matches!(&loaded.origin, PluginOrigin::File(origin) if origin == path),
            );
        // A disabled plugin is not in the catalog; there is nothing to verify.
        let Some(loaded) = loaded else { continue };
        if loaded.metadata.name != plugin.name {
            return Err(PolicyError::NameMismatch {
                path: path.clone(),
                expected: plugin.name.clone(),
                actual: loaded.metadata.name.clone(),
            });
        }
    }
    Ok(catalog)
}

/// The seed's `severityOverrides` keys and the checks they name; seed resources and the seed's
/// bundles spell them so.
pub const SEED_SEVERITY_KEYS: [(&str, &str); 5] = [
    ("latestTag", "latest-tag"),
    ("missingLiveness", "missing-liveness-probe"),
    ("missingReadiness", "missing-readiness-probe"),
    ("highRestarts", "high-restarts"),
    ("pending", "pending"),
];

/// The check a seed `severityOverrides` key names, if `key` is one.
pub fn seed_check(key: &str) -> Option<&'static str> {
    SEED_SEVERITY_KEYS
        .iter()
        .find(|(seed, _)| *seed == key)
        .map(|(_, check)| *check)
}

/// The check id a `severityOverrides` key stands for: a seed key's check, else the key.
pub fn check_id(key: &str) -> &str {
    seed_check(key).unwrap_or(key)
}

fn check_entry<'a>(config: &'a mut Config, check: &str) -> &'a mut CheckConfig {
    config.checks.entry(check.to_owned()).or_default()
}

/// Object settings merge key by key (the `plugins` list's over the seed fields'); anything
/// else replaces.
fn merge_settings(config: &mut Config, plugin: &str, settings: Value) {
    let entry: &mut PluginConfig = config.plugins.entry(plugin.to_owned()).or_default();
    entry.settings = Some(match (entry.settings.take(), settings) {
        (Some(Value::Object(mut base)), Value::Object(extra)) => {
            base.extend(extra);
            Value::Object(base)
        }
        (_, settings) => settings,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::PluginPolicy;
    use kube_devops_engine::analysis::config::LimitsConfig;
    use kube_devops_engine::contract::Severity;

    #[test]
    fn seed_fields_map_onto_builtin_checks_and_settings() {
        let spec = DevOpsPolicySpec {
            forbid_latest_tag: Some(false),
            max_restart_count: Some(7),
            forbid_pending_duration: Some(300),
            severity_overrides: [("missing-liveness-probe".to_owned(), Severity::Critical)].into(),
            ..DevOpsPolicySpec::default()
        };
        let config = config(&spec);
        assert!(!config.check_enabled("latest-tag", "latest-tag"));
        assert!(config.check_enabled("probes", "missing-readiness-probe"));
        assert_eq!(config.plugin("restarts").0, r#"{"threshold":7}"#);
        assert_eq!(config.plugin("pending").0, r#"{"minPendingSeconds":300}"#);
        assert_eq!(
            config.checks["missing-liveness-probe"].severity,
            Some(Severity::Critical)
        );
    }

    #[test]
    fn seed_severity_keys_name_check_ids_and_check_ids_win() {
        let spec = DevOpsPolicySpec {
            severity_overrides: [
                ("latestTag", Severity::Critical),
                ("missingLiveness", Severity::High),
                ("missingReadiness", Severity::Low),
                ("highRestarts", Severity::Medium),
                ("pending", Severity::Critical),
                // Both spellings: the check id wins.
                ("missing-readiness-probe", Severity::High),
            ]
            .map(|(key, severity)| (key.to_owned(), severity))
            .into(),
            ..DevOpsPolicySpec::default()
        };
        let config = config(&spec);
        let severity = |check: &str| config.checks.get(check).and_then(|rule| rule.severity);
        assert_eq!(severity("latest-tag"), Some(Severity::Critical));
        assert_eq!(severity("missing-liveness-probe"), Some(Severity::High));
        assert_eq!(severity("missing-readiness-probe"), Some(Severity::High));
        assert_eq!(severity("high-restarts"), Some(Severity::Medium));
        assert_eq!(severity("pending"), Some(Severity::Critical));
        assert!(
            !config.checks.contains_key("latestTag"),
            "no check named by a seed key"
        );
        // And the catalog accepts them: a seed key is no unknown check.
        let runtime = kube_devops_builtins::runtime(None).expect("runtime");
        let catalog = load_catalog(&runtime, &spec, None).expect("seed keys load");
        let rule = catalog
            .plugins
            .iter()
            .find_map(|plugin| plugin.rule("high-restarts"))
            .expect("high-restarts");
        assert_eq!(rule.severity, Severity::Medium);
    }

    #[test]
    fn default_resources_imply_the_resource_checks_at_weight_zero_unless_listed() {
        let spec = DevOpsPolicySpec {
            default_resources: Some(kube_devops_engine::remedy::DefaultResources::default()),
            ..DevOpsPolicySpec::default()
        };
        let implied = config(&spec);
        for check in RESOURCE_CHECKS {
            assert!(implied.check_enabled("best-practices", check), "{check}");
            assert_eq!(implied.checks[check].weight, Some(0), "{check}");
        }
        assert!(!implied.check_enabled("best-practices", "read-only-root-filesystem"));
        let plain = config(&DevOpsPolicySpec::default());
        assert!(!plain.plugins.contains_key("best-practices"));

        let listed = config(&DevOpsPolicySpec {
            plugins: vec![PluginPolicy {
                name: "best-practices".to_owned(),
                ..PluginPolicy::default()
            }],
            ..spec
        });
        assert!(listed.check_enabled("best-practices", "read-only-root-filesystem"));
        assert_eq!(
            listed
                .checks
                .get("cpu-limits-missing")
                .and_then(|c| c.weight),
            None
        );
    }

    #[test]
    fn plugins_list_wins_over_seed_fields() {
        let spec = DevOpsPolicySpec {
            max_restart_count: Some(7),
            plugins: vec![PluginPolicy {
                name: "restarts".to_owned(),
                settings: Some(json!({"threshold": 1})),
                weights: [("high-restarts".to_owned(), 9)].into(),
                ..PluginPolicy::default()
            }],
            ..DevOpsPolicySpec::default()
        };
        let config = config(&spec);
        assert_eq!(config.plugin("restarts").0, r#"{"threshold":1}"#);
        assert_eq!(config.checks["high-restarts"].weight, Some(9));
    }

    #[test]
    fn a_plugin_a_policy_names_runs_unless_it_says_enabled_false() {
        let named = |enabled| PluginPolicy {
            name: "pod-security".to_owned(),
            enabled,
            ..PluginPolicy::default()
        };
        let spec = |plugin| DevOpsPolicySpec {
            plugins: vec![plugin],
            ..DevOpsPolicySpec::default()
        };
        // `pod-security` is off unless enabled; naming it in a policy enables it.
        assert_eq!(
            config(&spec(named(None))).plugins["pod-security"].enabled,
            Some(true)
        );
        assert_eq!(
            config(&spec(named(Some(false)))).plugins["pod-security"].enabled,
            Some(false)
        );
    }

    #[test]
    fn a_policy_sets_a_plugins_sandbox_limits() {
        let limits: LimitsConfig =
            serde_json::from_value(json!({"timeoutMs": 40, "memoryMiB": 8})).expect("limits");
        let spec = DevOpsPolicySpec {
            plugins: vec![PluginPolicy {
                name: "probes".to_owned(),
                limits: Some(limits),
                ..PluginPolicy::default()
            }],
            ..DevOpsPolicySpec::default()
        };
        let (_, probes) = config(&spec).plugin("probes");
        assert_eq!(probes.timeout, std::time::Duration::from_millis(40));
        assert_eq!(probes.memory_bytes, 8 << 20);
        assert_eq!(
            probes.max_findings,
            kube_devops_engine::wasm::Limits::default().max_findings
        );
        let (_, restarts) = config(&spec).plugin("restarts");
        assert_eq!(
            restarts,
            kube_devops_engine::wasm::Limits::default(),
            "other plugins keep the defaults"
        );
    }

    #[test]
    fn a_source_must_be_a_file_name_in_the_plugin_dir() {
        let runtime = kube_devops_builtins::runtime(None).expect("runtime");
        let spec = |file: &str| DevOpsPolicySpec {
            plugins: vec![PluginPolicy {
                name: "custom".to_owned(),
                source: Some(crate::crd::PluginSource {
                    file: file.to_owned(),
                    sha256: "00".to_owned(),
                }),
                ..PluginPolicy::default()
            }],
            ..DevOpsPolicySpec::default()
        };
        let error = load_catalog(
            &runtime,
            &spec("../etc/passwd"),
            Some(Path::new("/plugins")),
        )
        .expect_err("path escapes the directory");
        assert!(matches!(error, PolicyError::BadFileName { .. }), "{error}");
        let error = load_catalog(&runtime, &spec("custom.wasm"), None).expect_err("no dir");
        assert!(matches!(error, PolicyError::NoPluginDir { .. }), "{error}");
    }

    #[test]
    fn unknown_checks_in_a_policy_are_refused() {
        let runtime = kube_devops_builtins::runtime(None).expect("runtime");
        let spec = DevOpsPolicySpec {
            severity_overrides: [("latest-tags".to_owned(), Severity::High)].into(),
            ..DevOpsPolicySpec::default()
        };
        let error = load_catalog(&runtime, &spec, None).expect_err("typo");
        assert!(error.to_string().contains("latest-tags"), "{error}");
    }
}
