//! Runs many objects through the plugins on every core, and feeds the results to an
//! [`Aggregator`] in input order, so reports do not depend on thread timing.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::catalog::Catalog;
use super::report::{Aggregator, PodResult};
use super::scope::is_system_namespace;
use super::worker::Worker;
use crate::pod::{self, InputError, Read, Source};

/// Objects a thread takes at a time: large enough that taking is cheap, small enough that
/// threads finish together.
const BATCH: usize = 64;
/// Which pods an analysis covers.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this namespace (`-n`).
    pub namespace: Option<String>,
    /// Also system namespaces (`--include-system`).
    pub include_system: bool,
}

impl Filter {
    pub fn admits(&self, namespace: &str) -> bool {
        match &self.namespace {
            Some(only) => only == namespace,
            None => self.include_system || !is_system_namespace(namespace),
        }
    }
}

enum Outcome {
    Pod(PodResult),
    Filtered,
    Skipped(String),
    Invalid(InputError),
}

/// Reads and analyses `sources` in parallel; `progress` is told how many pods each batch held.
pub fn analyze_sources(
    catalog: &Catalog,
    sources: &[Source],
    filter: &Filter,
    aggregator: &mut Aggregator,
    progress: &(dyn Fn(usize) + Sync),
) {
    let batches = sources.len().div_ceil(BATCH);
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(batches)
        .max(1);
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Vec<Outcome>)>> = Mutex::new(Vec::with_capacity(batches));
    let work = || {
        let mut worker = Worker::new(catalog);
        let mut finished = Vec::new();
        loop {
            let batch = next.fetch_add(1, Ordering::Relaxed);
            let start = batch * BATCH;
            if start >= sources.len() {
                break;
            }
            let chunk = &sources[start..(start + BATCH).min(sources.len())];
            let outcomes: Vec<Outcome> = chunk
                .iter()
                .map(|source| analyze_one(&mut worker, source, filter))
                .collect();
            progress(
                outcomes
                    .iter()
                    .filter(|outcome| matches!(outcome, Outcome::Pod(_)))
                    .count(),
            );
            finished.push((batch, outcomes));
        }
        done.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(finished);
    };
    // Always on threads of our own, even for one: plugins must not run inside the caller's
    // async runtime, where WASI's blocking output would try to block on it.
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(work);
        }
    });
    let mut done = done
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    done.sort_unstable_by_key(|(batch, _)| *batch);
    for outcome in done.into_iter().flat_map(|(_, outcomes)| outcomes) {
        match outcome {
            Outcome::Pod(result) => aggregator.add_pod(result),
            Outcome::Filtered => {}
            Outcome::Skipped(kind) => aggregator.add_skipped(kind),
            Outcome::Invalid(error) => aggregator.add_input_error(error),
        }
    }
}

fn analyze_one(worker: &mut Worker<'_>, source: &Source, filter: &Filter) -> Outcome {
    match pod::read(source.clone()) {
        Ok(Read::Pod(pod)) if filter.admits(&pod.record.metadata.namespace) => {
            Outcome::Pod(worker.analyze(&pod))
        }
        Ok(Read::Pod(_)) => Outcome::Filtered,
        Ok(Read::Skipped { kind }) => Outcome::Skipped(kind),
        Err(error) => Outcome::Invalid(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_filter_wins_over_system_exclusion() {
        let filter = Filter {
            namespace: Some("kube-system".to_owned()),
            include_system: false,
        };
        assert!(filter.admits("kube-system"));
        assert!(!filter.admits("default"));
        assert!(!Filter::default().admits("kube-system"));
        assert!(
            Filter {
                namespace: None,
                include_system: true
            }
            .admits("kube-system")
        );
    }
}
