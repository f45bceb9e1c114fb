//! What the operator knows of the cluster's governance: per pod only its findings, and per
//! namespace and for the cluster the counts behind the scores, kept current as pods change
//! (a change subtracts the pod's old contribution and adds its new one; nothing is recounted).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kube_devops_engine::analysis::report::FindingRow;
use kube_devops_engine::analysis::score::{Tally, status};
use kube_devops_engine::contract::Severity;

/// What scoring needs of one pod.
#[derive(Debug, Clone)]
pub struct PodRecord {
    /// The version analysed: a re-list that brings the same version needs no new analysis.
    pub resource_version: Box<str>,
    /// Annotated exempt: not analysed, counted apart.
    pub exempt: bool,
    pub exempted_findings: u32,
    pub findings: Box<[FindingRow]>,
}

/// The counts of a scope (a namespace, the cluster).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Pods analysed, Σ weight × magnitude, Σ magnitude per check.
    pub tally: Tally,
    /// Findings per severity, in [`Severity::ALL`] order.
    pub by_severity: [u64; 4],
    pub exempted_pods: u64,
    pub exempted_findings: u64,
}

impl Counts {
    fn add(&mut self, pod: &PodRecord) {
        self.exempted_findings += u64::from(pod.exempted_findings);
        if pod.exempt {
            self.exempted_pods += 1;
            return;
        }
        self.tally.pods += 1;
        for finding in &pod.findings {
            self.tally
                .add_finding(&finding.check, finding.weight, finding.magnitude);
            self.by_severity[usize::from(finding.severity.rank())] += 1;
        }
    }

    fn remove(&mut self, pod: &PodRecord) {
        self.exempted_findings = self
            .exempted_findings
            .saturating_sub(u64::from(pod.exempted_findings));
        if pod.exempt {
            self.exempted_pods = self.exempted_pods.saturating_sub(1);
            return;
        }
        self.tally.pods = self.tally.pods.saturating_sub(1);
        for finding in &pod.findings {
            self.tally
                .remove_finding(&finding.check, finding.weight, finding.magnitude);
            let count = &mut self.by_severity[usize::from(finding.severity.rank())];
            *count = count.saturating_sub(1);
        }
    }

    pub fn score(&self) -> u8 {
        self.tally.score()
    }

    pub fn status(&self) -> &'static str {
        status(self.score())
    }

    /// Findings of `severity`.
    pub fn severity(&self, severity: Severity) -> u64 {
        self.by_severity[usize::from(severity.rank())]
    }
}

/// One namespace: its pods' records and their counts.
#[derive(Debug, Default)]
pub struct Namespace {
    pub pods: HashMap<Box<str>, PodRecord>,
    pub counts: Counts,
}

impl Namespace {
    /// The `limit` worst findings, worst first: severity, then score impact, then pod name so
    /// the order does not depend on hashing.
    pub fn worst(&self, limit: usize) -> Vec<&FindingRow> {
        let mut findings: Vec<&FindingRow> = self
            .pods
            .values()
            .flat_map(|pod| pod.findings.iter())
            .collect();
        let order = |a: &&FindingRow, b: &&FindingRow| {
            let impact = |f: &FindingRow| u64::from(f.weight) * u64::from(f.magnitude);
            b.severity
                .rank()
                .cmp(&a.severity.rank())
                .then(impact(b).cmp(&impact(a)))
                .then_with(|| a.pod.cmp(&b.pod))
                .then_with(|| a.container.cmp(&b.container))
                .then_with(|| a.check.cmp(&b.check))
        };
        if findings.len() > limit {
            findings.select_nth_unstable_by(limit, order);
            findings.truncate(limit);
        }
        findings.sort_unstable_by(order);
        findings
    }

    /// Pods with no finding.
    pub fn clean_pods(&self) -> u64 {
        self.pods
            .values()
            .filter(|pod| !pod.exempt && pod.findings.is_empty())
            .count() as u64
    }
}

/// Every namespace and the cluster.
#[derive(Debug, Default)]
pub struct Governance {
    namespaces: BTreeMap<Arc<str>, Namespace>,
    cluster: Counts,
    /// Findings per (check, severity name) across the cluster, for metrics.
    by_check_severity: BTreeMap<(Arc<str>, &'static str), u64>,
}

impl Governance {
    /// Records `pod`'s new state, replacing its old one.
    pub fn upsert(&mut self, namespace: &str, name: &str, record: PodRecord) {
        self.remove(namespace, name);
        self.cluster.add(&record);
        for finding in &record.findings {
            *self
                .by_check_severity
                .entry((finding.check.clone(), finding.severity.as_str()))
                .or_default() += 1;
        }
        let scope = match self.namespaces.get_mut(namespace) {
            Some(scope) => scope,
            None => self.namespaces.entry(Arc::from(namespace)).or_default(),
        };
        scope.counts.add(&record);
        scope.pods.insert(Box::from(name), record);
    }

    /// Forgets a pod; true when it was known.
    pub fn remove(&mut self, namespace: &str, name: &str) -> bool {
        let Some(scope) = self.namespaces.get_mut(namespace) else {
            return false;
        };
        let Some(old) = scope.pods.remove(name) else {
            return false;
        };
        scope.counts.remove(&old);
        self.cluster.remove(&old);
        for finding in &old.findings {
            let key = (finding.check.clone(), finding.severity.as_str());
            if let Some(count) = self.by_check_severity.get_mut(&key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.by_check_severity.remove(&key);
                }
            }
        }
        true
    }

    pub fn pod(&self, namespace: &str, name: &str) -> Option<&PodRecord> {
        self.namespaces.get(namespace)?.pods.get(name)
    }

    pub fn namespace(&self, namespace: &str) -> Option<&Namespace> {
        self.namespaces.get(namespace)
    }

    pub fn namespaces(&self) -> impl Iterator<Item = (&str, &Namespace)> {
        self.namespaces.iter().map(|(name, scope)| (&**name, scope))
    }

    pub fn cluster(&self) -> &Counts {
        &self.cluster
    }

    pub fn by_check_severity(&self) -> &BTreeMap<(Arc<str>, &'static str), u64> {
        &self.by_check_severity
    }

    /// Every pod, as (namespace, name).
    pub fn pod_keys(&self) -> Vec<(String, String)> {
        self.namespaces
            .iter()
            .flat_map(|(namespace, scope)| {
                scope
                    .pods
                    .keys()
                    .map(move |name| (namespace.to_string(), name.to_string()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(pod: &str, check: &str, severity: Severity, weight: u32) -> FindingRow {
        FindingRow {
            plugin: Arc::from("p"),
            check: Arc::from(check),
            severity,
            api_version: None,
            kind: Arc::from("Pod"),
            namespace: Arc::from("ns"),
            pod: Arc::from(pod),
            container: Some("app".to_owned()),
            message: String::new(),
            magnitude: 1,
            source: None,
            fix: None,
            weight,
        }
    }

    fn record(findings: Vec<FindingRow>) -> PodRecord {
        PodRecord {
            resource_version: "1".into(),
            exempt: false,
            exempted_findings: 0,
            findings: findings.into(),
        }
    }

    /// Counts built by any sequence of changes equal the counts of the final pods added once.
    #[test]
    fn incremental_counts_equal_a_recount() {
        let mut state = Governance::default();
        state.upsert(
            "ns",
            "a",
            record(vec![finding("a", "latest-tag", Severity::High, 5)]),
        );
        state.upsert("ns", "b", record(Vec::new()));
        state.upsert(
            "ns",
            "a",
            record(vec![finding("a", "pending", Severity::Medium, 4)]),
        );
        state.upsert(
            "ns",
            "c",
            PodRecord {
                exempt: true,
                ..record(Vec::new())
            },
        );
        assert!(state.remove("ns", "b"));
        assert!(!state.remove("ns", "b"));

        let mut fresh = Governance::default();
        fresh.upsert(
            "ns",
            "a",
            record(vec![finding("a", "pending", Severity::Medium, 4)]),
        );
        fresh.upsert(
            "ns",
            "c",
            PodRecord {
                exempt: true,
                ..record(Vec::new())
            },
        );
        assert_eq!(state.cluster(), fresh.cluster());
        assert_eq!(state.by_check_severity(), fresh.by_check_severity());
        assert_eq!(state.cluster().tally.pods, 1);
        assert_eq!(state.cluster().exempted_pods, 1);
        assert_eq!(state.cluster().score(), 96);
    }

    #[test]
    fn worst_findings_are_bounded_and_ordered() {
        let mut state = Governance::default();
        for index in 0..50 {
            let name = format!("pod-{index:02}");
            let severity = if index % 10 == 0 {
                Severity::Critical
            } else {
                Severity::Low
            };
            state.upsert(
                "ns",
                &name,
                record(vec![finding(&name, "check", severity, 1)]),
            );
        }
        let worst = state.namespace("ns").expect("namespace").worst(7);
        assert_eq!(worst.len(), 7);
        let pods: Vec<&str> = worst.iter().map(|f| &*f.pod).collect();
        assert_eq!(
            pods,
            [
                "pod-00", "pod-10", "pod-20", "pod-30", "pod-40", "pod-01", "pod-02"
            ]
        );
    }
}
