//! The pods waiting for analysis, and the bookkeeping that keeps results in order.
//!
//! Changes to one pod are coalesced while it waits (only its newest version is analysed). Each
//! version handed out carries a sequence number; a result is current only if no newer change,
//! and no deletion, came after it was handed out. So however the analysis threads interleave,
//! the state ends with the newest version of every pod, and a deleted pod stays deleted.

use std::collections::{HashMap, VecDeque};

use super::pods::{PodKey, WatchedPod};

/// A pod with work queued or in flight.
struct Pending {
    /// The sequence number of its newest change.
    seq: u64,
    /// The resourceVersion of its newest change.
    resource_version: Box<str>,
    /// Versions handed out and not settled yet.
    in_flight: u32,
}

#[derive(Default)]
pub struct WorkQueue {
    next_seq: u64,
    order: VecDeque<PodKey>,
    waiting: HashMap<PodKey, (u64, WatchedPod)>,
    pending: HashMap<PodKey, Pending>,
    /// Pods in `pending`, per namespace.
    per_namespace: HashMap<String, usize>,
}

impl WorkQueue {
    /// Queues `pod`'s newest version, replacing one still waiting.
    pub fn push(&mut self, pod: WatchedPod) {
        self.next_seq += 1;
        let seq = self.next_seq;
        let key = pod.key();
        if !self.pending.contains_key(&key) {
            *self.per_namespace.entry(key.namespace.clone()).or_default() += 1;
        }
        let pending = self.pending.entry(key.clone()).or_insert(Pending {
            seq,
            resource_version: Box::from(""),
            in_flight: 0,
        });
        pending.seq = seq;
        pending.resource_version = Box::from(pod.resource_version());
        if self.waiting.insert(key.clone(), (seq, pod)).is_none() {
            self.order.push_back(key);
        }
    }

    /// The pod is gone: drop what waits, and make what is in flight stale.
    pub fn forget(&mut self, key: &PodKey) {
        self.waiting.remove(key);
        if let Some(pending) = self.pending.get_mut(key) {
            self.next_seq += 1;
            pending.seq = self.next_seq;
            if pending.in_flight == 0 {
                self.remove(key);
            }
        }
    }

    /// Hands out up to `max` waiting pods, oldest first, with their sequence numbers.
    pub fn take(&mut self, max: usize) -> Vec<(u64, WatchedPod)> {
        let mut taken = Vec::with_capacity(max.min(self.waiting.len()));
        while taken.len() < max {
            let Some(key) = self.order.pop_front() else {
                break;
            };
            let Some(entry) = self.waiting.remove(&key) else {
                continue;
            };
            if let Some(pending) = self.pending.get_mut(&key) {
                pending.in_flight += 1;
            }
            taken.push(entry);
        }
        taken
    }

    /// A result for `key` handed out as `seq` came back: whether it is current.
    pub fn settle(&mut self, key: &PodKey, seq: u64) -> bool {
        let Some(pending) = self.pending.get_mut(key) else {
            return false;
        };
        pending.in_flight = pending.in_flight.saturating_sub(1);
        let current = pending.seq == seq;
        if pending.in_flight == 0 && !self.waiting.contains_key(key) {
            self.remove(key);
        }
        current
    }

    fn remove(&mut self, key: &PodKey) {
        if self.pending.remove(key).is_some()
            && let Some(count) = self.per_namespace.get_mut(&key.namespace)
        {
            *count -= 1;
            if *count == 0 {
                self.per_namespace.remove(&key.namespace);
            }
        }
    }

    /// Whether pods of `namespace` wait or are being analysed.
    pub fn busy(&self, namespace: &str) -> bool {
        self.per_namespace.contains_key(namespace)
    }

    /// The resourceVersion of the pod's newest change still waiting or in flight.
    pub fn newest_version(&self, key: &PodKey) -> Option<&str> {
        self.pending
            .get(key)
            .map(|pending| &*pending.resource_version)
    }

    /// Pods with work waiting or in flight.
    pub fn keys(&self) -> impl Iterator<Item = &PodKey> {
        self.pending.keys()
    }

    /// Nothing waits (work may still be in flight).
    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Pods waiting (each holds its JSON until analysed).
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, resource_version: &str) -> WatchedPod {
        let json = format!(
            r#"{{"metadata": {{"name": "{name}", "namespace": "ns", "resourceVersion": "{resource_version}"}}}}"#
        );
        serde_json::from_str(&json).expect("a pod")
    }

    fn key(name: &str) -> PodKey {
        PodKey {
            namespace: "ns".to_owned(),
            name: name.to_owned(),
        }
    }

    #[test]
    fn changes_to_a_waiting_pod_are_coalesced() {
        let mut queue = WorkQueue::default();
        queue.push(pod("a", "1"));
        queue.push(pod("b", "2"));
        queue.push(pod("a", "3"));
        let taken = queue.take(10);
        let versions: Vec<&str> = taken
            .iter()
            .map(|(_, pod)| pod.resource_version())
            .collect();
        assert_eq!(versions, ["3", "2"]);
        assert!(queue.is_idle());
        assert!(queue.busy("ns"));
        for (seq, pod) in &taken {
            assert!(queue.settle(&pod.key(), *seq));
        }
        assert_eq!(queue.keys().count(), 0, "settled pods leave no trace");
        assert!(!queue.busy("ns"));
    }

    #[test]
    fn a_result_overtaken_by_a_newer_change_is_not_current() {
        let mut queue = WorkQueue::default();
        queue.push(pod("a", "1"));
        let first = queue.take(1);
        queue.push(pod("a", "2"));
        assert_eq!(queue.newest_version(&key("a")), Some("2"));
        assert!(!queue.settle(&key("a"), first[0].0));
        let second = queue.take(1);
        assert!(queue.settle(&key("a"), second[0].0));
    }

    #[test]
    fn a_result_for_a_deleted_pod_is_not_current() {
        let mut queue = WorkQueue::default();
        queue.push(pod("a", "1"));
        let taken = queue.take(1);
        queue.forget(&key("a"));
        assert!(!queue.settle(&key("a"), taken[0].0));
        assert_eq!(queue.keys().count(), 0);
        assert!(!queue.busy("ns"));
        queue.push(pod("b", "1"));
        queue.forget(&key("b"));
        assert!(queue.take(1).is_empty(), "a deleted pod is not analysed");
    }
}
