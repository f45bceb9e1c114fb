//! Runs many objects through the plugins on every core, and feeds the results to an
//! [`Aggregator`] in input order, so reports do not depend on thread timing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, mpsc};

use super::catalog::Catalog;
use super::report::{Aggregator, PodResult, Report};
use super::scope::is_system_namespace;
use super::worker::Worker;
use crate::manifest::Item;
use crate::pod::{self, InputError, Read, Source, TemplateKinds};

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
    /// Kinds read beyond the seed's (`podTemplates:` in the config file).
    pub kinds: Arc<TemplateKinds>,
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
    Warning(InputError),
}

/// What a streamed analysis read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streamed {
    /// Objects read from the input, whatever became of them.
    pub objects: usize,
}

/// Reads and analyses `sources` in parallel; `progress` is told how many pods each batch held.
pub fn analyze_sources(
    catalog: &Catalog,
    sources: &[Source],
    filter: &Filter,
    aggregator: &mut Aggregator,
    progress: &(dyn Fn(usize) + Sync),
) {
    analyze_stream(
        catalog,
        filter,
        aggregator,
        progress,
        |emit: &mut dyn FnMut(Item)| {
            for source in sources {
                emit(Item::Object(source.clone()));
            }
        },
    );
}

/// Reads and analyses `sources` into a whole report, with no progress to tell: the one-shot form
/// of [`analyze_sources`] (plugin test cases, tests).
pub fn analyze_report(catalog: &Catalog, sources: &[Source], filter: &Filter) -> Report {
    let mut aggregator = Aggregator::default();
    analyze_sources(catalog, sources, filter, &mut aggregator, &|_| {});
    aggregator.finish(catalog)
}

/// Analyses what `read` hands over while it is still reading: `read` runs on a thread of its
/// own, the plugins on every core, and the results reach `aggregator` in input order. At most a
/// few batches wait between reader and workers, so memory does not grow with the input.
pub fn analyze_stream(
    catalog: &Catalog,
    filter: &Filter,
    aggregator: &mut Aggregator,
    progress: &(dyn Fn(usize) + Sync),
    read: impl FnOnce(&mut dyn FnMut(Item)) + Send,
) -> Streamed {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let (batches, work) = mpsc::sync_channel::<(usize, Vec<Item>)>(threads * 2);
    // Each worker holds the receiver: should all of them die, the reader's next send fails
    // instead of waiting forever.
    let work = Arc::new(Mutex::new(work));
    let (results, finished) = mpsc::channel::<(usize, Vec<Outcome>)>();
    // Always on threads of our own: plugins must not run inside the caller's async runtime,
    // where WASI's blocking output would try to block on it.
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut streamed = Streamed::default();
            let mut batch = Vec::with_capacity(BATCH);
            let mut index = 0;
            let send = |batch: Vec<Item>, index: &mut usize| {
                // The workers are gone only if they panicked; the scope reports that.
                let _ = batches.send((*index, batch));
                *index += 1;
            };
            read(&mut |item| {
                streamed.objects += usize::from(matches!(item, Item::Object(_)));
                batch.push(item);
                if batch.len() == BATCH {
                    send(
                        std::mem::replace(&mut batch, Vec::with_capacity(BATCH)),
                        &mut index,
                    );
                }
            });
            if !batch.is_empty() {
                send(batch, &mut index);
            }
            streamed
        });
        for _ in 0..threads {
            let results = results.clone();
            let work = work.clone();
            scope.spawn(move || {
                let mut worker = Worker::new(catalog);
                loop {
                    let next = work
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .recv();
                    let Ok((index, items)) = next else { break };
                    let outcomes = items
                        .into_iter()
                        .map(|item| match item {
                            Item::Object(source) => analyze_one(&mut worker, &source, filter),
                            Item::Error(error) => Outcome::Invalid(error),
                            Item::Warning(warning) => Outcome::Warning(warning),
                        })
                        .collect();
                    if results.send((index, outcomes)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(results);
        drop(work);
        // Batches finish out of order; each waits here until those before it are in.
        let mut waiting = BTreeMap::new();
        let mut next = 0;
        for (index, outcomes) in finished {
            waiting.insert(index, outcomes);
            while let Some(outcomes) = waiting.remove(&next) {
                next += 1;
                let pods = outcomes
                    .iter()
                    .filter(|outcome| matches!(outcome, Outcome::Pod(_)))
                    .count();
                outcomes
                    .into_iter()
                    .for_each(|outcome| aggregate(aggregator, outcome));
                progress(pods);
            }
        }
        reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn aggregate(aggregator: &mut Aggregator, outcome: Outcome) {
    match outcome {
        Outcome::Pod(result) => aggregator.add_pod(result),
        Outcome::Filtered => {}
        Outcome::Skipped(kind) => aggregator.add_skipped(kind),
        Outcome::Invalid(error) => aggregator.add_input_error(error),
        Outcome::Warning(warning) => aggregator.add_input_warning(warning),
    }
}

fn analyze_one(worker: &mut Worker<'_>, source: &Source, filter: &Filter) -> Outcome {
    match pod::read_with(source.clone(), &filter.kinds) {
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
            ..Filter::default()
        };
        assert!(filter.admits("kube-system"));
        assert!(!filter.admits("default"));
        assert!(!Filter::default().admits("kube-system"));
        assert!(
            Filter {
                include_system: true,
                ..Filter::default()
            }
            .admits("kube-system")
        );
    }
}
