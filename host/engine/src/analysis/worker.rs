//! One thread's view of the plugins: a live instance of each, reused pod after pod, and the
//! checks on what the plugins return.
//!
//! Instances of built-ins (and, in the CLI, of the user's own plugins) are reused because
//! instantiating costs more than most checks; every instance starts from the same configured
//! state. A worker's instances outlive it: they go back to their plugin
//! ([`ActivePlugin::put_idle`]) for the next worker. An untrusted plugin isolated per pod
//! ([`ActivePlugin::fresh_per_pod`]) gets a fresh instance for every pod, so a plugin that keeps
//! one pod's data in its memory cannot write it into another's findings. After a failure the
//! instance is dropped and the next pod gets a fresh one; a plugin that fails on
//! [`MAX_CONSECUTIVE_FAILURES`] pods in a row is switched off for the rest of the run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::catalog::{ActivePlugin, Catalog};
use super::exemption::Exemption;
use super::report::{
    AnalysedObject, Diagnostic, DiagnosticKind, FindingRow, PodResult, Provenance,
};
use crate::contract::{Finding, FixDefaults};
use crate::pod::PodInput;
use crate::remedy::{Fix, Operation};
use crate::wasm::{CallError, Instance, Proposals};

/// Failures in a row after which a plugin is no longer called in this run.
pub(crate) const MAX_CONSECUTIVE_FAILURES: u32 = 3;
/// Longest message kept from a plugin, in bytes.
const MAX_MESSAGE: usize = 1024;

#[derive(Default)]
struct Slot {
    instance: Option<Instance>,
    failures: u32,
    disabled: bool,
}

/// Told of every plugin call (the operator and the webhook export them as metrics).
pub trait CallObserver: Sync {
    fn observe(&self, plugin: &str, elapsed: Duration, failed: bool);
}

/// Runs pods through every plugin of a catalog, on the calling thread.
pub struct Worker<'a> {
    catalog: &'a Catalog,
    slots: Vec<Slot>,
    observer: Option<&'a dyn CallObserver>,
    /// Set when the plugins are asked for fixes, filled in with these defaults.
    fixes: Option<Arc<FixDefaults>>,
}

impl<'a> Worker<'a> {
    pub fn new(catalog: &'a Catalog) -> Self {
        let slots = catalog.plugins.iter().map(|_| Slot::default()).collect();
        Worker {
            catalog,
            slots,
            observer: None,
            fixes: None,
        }
    }

    /// The worker, also asking every plugin for fixes of its findings ([`FindingRow::fix`]).
    pub fn remediating(mut self, defaults: Arc<FixDefaults>) -> Self {
        self.fixes = Some(defaults);
        self
    }

    /// A worker that reports each plugin call to `observer`.
    pub fn observed(catalog: &'a Catalog, observer: &'a dyn CallObserver) -> Self {
        let mut worker = Worker::new(catalog);
        worker.observer = Some(observer);
        worker
    }

    /// Every enabled check's findings for `pod`; plugin failures become diagnostics.
    pub fn analyze(&mut self, pod: &PodInput) -> PodResult {
        let mut result = PodResult {
            namespace: pod.record.metadata.namespace.clone(),
            object: Some(AnalysedObject {
                namespace: Arc::from(pod.record.metadata.namespace.as_str()),
                kind: pod.source.kind.clone(),
                name: Arc::from(pod.record.metadata.name.as_str()),
                has_status: pod.record.status.is_some(),
            }),
            ..PodResult::default()
        };
        let exemption = Exemption::of(&pod.record.metadata);
        if exemption == Exemption::All {
            result.exempt = true;
            return result;
        }
        let mut names = PodNames::of(pod);
        for (plugin, slot) in self.catalog.plugins.iter().zip(&mut self.slots) {
            if !plugin.applies_to(&pod.record) {
                continue;
            }
            if slot.disabled {
                // Switched off after failing pod after pod: this pod lacks its findings.
                result.unanalysed_by.push(plugin.name.clone());
                continue;
            }
            let started = Instant::now();
            let reused = if plugin.fresh_per_pod {
                None
            } else {
                slot.instance.take().or_else(|| plugin.take_idle())
            };
            let fixes = self.fixes.as_ref();
            let mut outcome = call(plugin, slot, reused, pod, fixes);
            // A time-out may be the machine's doing, not the plugin's: once more, on a fresh
            // instance, before it counts.
            let retried = matches!(outcome, Err(CallError::Timeout(_)));
            if retried {
                outcome = call(plugin, slot, None, pod, fixes);
            }
            if let Some(observer) = self.observer {
                observer.observe(plugin.name(), started.elapsed(), outcome.is_err());
            }
            match outcome {
                Ok((findings, proposals)) => {
                    slot.failures = 0;
                    let returned = Returned {
                        findings,
                        proposals,
                    };
                    accept(plugin, pod, &mut names, &exemption, returned, &mut result);
                }
                Err(error) => {
                    // The failed instance was not put back: the next pod gets a fresh one.
                    slot.failures += 1;
                    let mut message = format!(
                        "plugin `{}` failed on pod {}: {}{}",
                        plugin.name(),
                        pod.key(),
                        crate::error::chain(&error),
                        if retried { " (tried twice)" } else { "" }
                    );
                    if slot.failures >= MAX_CONSECUTIVE_FAILURES {
                        slot.disabled = true;
                        message.push_str(&format!("; it failed on {MAX_CONSECUTIVE_FAILURES} pods in a row and is not run on further pods"));
                    }
                    result
                        .diagnostics
                        .push(plugin_diagnostic(plugin, pod, message));
                    result.unanalysed_by.push(plugin.name.clone());
                }
            }
        }
        result
    }
}

/// One call of `plugin` on `pod`, on `reused` or a fresh instance; a healthy reusable instance
/// goes back to the slot.
fn call(
    plugin: &ActivePlugin,
    slot: &mut Slot,
    reused: Option<Instance>,
    pod: &PodInput,
    fixes: Option<&Arc<FixDefaults>>,
) -> Result<(Vec<Finding>, Option<Proposals>), CallError> {
    let mut instance = match reused {
        Some(instance) => instance,
        None => Instance::start(&plugin.plugin)?,
    };
    let returned = match fixes {
        Some(defaults) => instance
            .analyze_with_fixes(pod, defaults)
            .map(|(findings, proposals)| (findings, Some(proposals)))?,
        None => (instance.analyze(pod)?, None),
    };
    // An isolated plugin's instance ends with its pod.
    if !plugin.fresh_per_pod {
        slot.instance = Some(instance);
    }
    Ok(returned)
}

/// What one call returned: findings, and the fixes proposed for them when asked.
struct Returned {
    findings: Vec<Finding>,
    proposals: Option<Proposals>,
}

/// A worker's healthy instances go back to their plugins for the next worker.
impl Drop for Worker<'_> {
    fn drop(&mut self) {
        for (plugin, slot) in self.catalog.plugins.iter().zip(&mut self.slots) {
            if let Some(instance) = slot.instance.take() {
                plugin.put_idle(instance);
            }
        }
    }
}

/// The pod's names and provenance, allocated once and shared by all its findings.
struct PodNames {
    namespace: Arc<str>,
    pod: Arc<str>,
    /// The file and line of the object, for file input.
    file: Option<(Arc<str>, usize)>,
    /// Where the containers are declared: found once, when a finding first names one.
    container_lines: Option<Vec<(String, usize)>>,
}

impl PodNames {
    fn of(pod: &PodInput) -> Self {
        PodNames {
            namespace: Arc::from(pod.record.metadata.namespace.as_str()),
            pod: Arc::from(pod.record.metadata.name.as_str()),
            file: pod
                .source
                .source
                .file()
                .map(|(path, line)| (path.clone(), line)),
            container_lines: None,
        }
    }

    /// Where a finding on `container` (or on the whole object) comes from.
    fn provenance(&mut self, pod: &PodInput, container: Option<&str>) -> Option<Provenance> {
        let (file, line) = self.file.clone()?;
        let container_line = container.and_then(|name| {
            let lines = self
                .container_lines
                .get_or_insert_with(|| pod.source.source.container_lines());
            lines
                .iter()
                .find(|(known, _)| known == name)
                .map(|(_, line)| *line)
        });
        Some(Provenance {
            file,
            line,
            container_line,
        })
    }
}

/// Keeps the findings of enabled, declared, non-exempt checks; reports the malformed ones.
fn accept(
    plugin: &ActivePlugin,
    pod: &PodInput,
    names: &mut PodNames,
    exemption: &Exemption,
    returned: Returned,
    result: &mut PodResult,
) {
    let Returned {
        findings,
        mut proposals,
    } = returned;
    let limit = plugin.plugin.limits.max_findings;
    if findings.len() > limit {
        let message = format!(
            "plugin `{}` returned {} findings for pod {}; only the first {limit} are kept",
            plugin.name(),
            findings.len(),
            pod.key()
        );
        result
            .diagnostics
            .push(plugin_diagnostic(plugin, pod, message));
    }
    let count = findings.len();
    for (index, finding) in findings.into_iter().enumerate().take(limit) {
        let proposal = proposals
            .as_mut()
            .and_then(|proposals| proposals.by_finding.remove(&(index as u32)));
        let Some(rule) = plugin.rule(&finding.check) else {
            let message = format!(
                "plugin `{}` returned a finding for check `{}`, which it does not declare; ignored",
                plugin.name(),
                finding.check
            );
            result
                .diagnostics
                .push(plugin_diagnostic(plugin, pod, message));
            continue;
        };
        if !rule.enabled {
            continue;
        }
        if exemption.covers(&rule.id) {
            result.exempted_findings += 1;
            continue;
        }
        let severity = match finding.severity {
            Some(severity) if !rule.severity_overridden => severity,
            _ => rule.severity,
        };
        let source = names.provenance(pod, finding.container.as_deref());
        let fix = proposal.and_then(|operations| {
            let checked: Result<Vec<Operation>, _> = operations
                .into_iter()
                .map(Operation::from_proposal)
                .collect();
            match checked {
                Ok(operations) if operations.is_empty() => None,
                Ok(operations) => Some(Fix::from(operations)),
                Err(error) => {
                    let message = format!(
                        "plugin `{}` proposed a fix for check `{}` on pod {} that is refused: {}",
                        plugin.name(),
                        rule.id,
                        pod.key(),
                        crate::error::chain(&error)
                    );
                    result
                        .diagnostics
                        .push(plugin_diagnostic(plugin, pod, message));
                    None
                }
            }
        });
        result.findings.push(FindingRow {
            plugin: plugin.name.clone(),
            check: rule.id.clone(),
            severity,
            api_version: pod.source.api_version.clone(),
            kind: pod.source.kind.clone(),
            namespace: names.namespace.clone(),
            pod: names.pod.clone(),
            container: finding.container,
            message: truncate(finding.message),
            magnitude: finding.magnitude,
            source,
            fix,
            weight: rule.weight,
        });
    }
    if let Some(proposals) = proposals {
        let stray = proposals
            .by_finding
            .keys()
            .filter(|index| **index as usize >= count)
            .count();
        if stray > 0 || proposals.dropped > 0 {
            let message = format!(
                "plugin `{}` proposed fixes on pod {} that are ignored: {stray} for findings it did not return, {} over the limit of {} bytes",
                plugin.name(),
                pod.key(),
                proposals.dropped,
                Proposals::MAX_BYTES
            );
            result
                .diagnostics
                .push(plugin_diagnostic(plugin, pod, message));
        }
    }
}

fn plugin_diagnostic(plugin: &ActivePlugin, pod: &PodInput, message: String) -> Diagnostic {
    Diagnostic {
        kind: DiagnosticKind::Plugin,
        plugin: Some(plugin.name().to_owned()),
        pod: Some(pod.key()),
        location: None,
        message,
    }
}

fn truncate(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}
