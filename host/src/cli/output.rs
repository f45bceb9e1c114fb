//! Exit statuses and writing to the terminal: stdout for results, stderr for errors, a broken
//! pipe (`kube-devops analyze | head`) is a normal end.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How the process ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done, and every gate passed.
    Success,
    /// 1: a `--fail-under` or `--fail-on` gate failed.
    GateFailed,
    /// 2: a usage or configuration error (bad config file, plugin that does not load).
    Usage,
    /// 3: some input documents were invalid; the rest was analysed and printed.
    InvalidInput,
    /// 4: the cluster is unreachable or answered with an error.
    Cluster,
    /// 5: the analysis is incomplete: a plugin failed on some pod, so its findings (and the
    /// score) lack them. `--allow-incomplete` accepts that.
    Incomplete,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::GateFailed => 1,
            Exit::Usage => 2,
            Exit::InvalidInput => 3,
            Exit::Cluster => 4,
            Exit::Incomplete => 5,
        }
    }
}

/// Prints `error: …` with the error's causes (each once), and returns `exit`.
pub fn fail(exit: Exit, error: &(dyn std::error::Error + 'static)) -> Exit {
    eprintln!("error: {}", kube_devops_engine::error::chain(error));
    exit
}

/// Prints a cluster error and its hint; exit 4.
pub fn fail_cluster(error: &crate::cluster::ClusterError) -> Exit {
    let exit = fail(Exit::Cluster, error);
    if let Some(hint) = error.hint() {
        eprintln!("hint: {hint}");
    }
    exit
}

/// Writes `text` to stdout; a closed pipe is not an error.
pub fn print(text: impl fmt::Display) -> Exit {
    let mut stdout = io::stdout().lock();
    match write!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("error: cannot write output: {error}");
            Exit::Usage
        }
        _ => Exit::Success,
    }
}

pub fn print_line(text: &str) -> Exit {
    print(format_args!("{text}\n"))
}

/// `value` as pretty JSON and a newline, written as it is serialised: a report of 100 000 pods
/// is never held as one string.
pub fn print_json(value: &impl serde::Serialize) -> Exit {
    let mut stdout = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut stdout, value)
        .map_err(io::Error::from)
        .and_then(|()| writeln!(stdout))
        .and_then(|()| stdout.flush());
    match written {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("error: cannot write output: {error}");
            Exit::Usage
        }
        _ => Exit::Success,
    }
}

/// `analysed N pods…` on stderr while a long scan runs, only when stderr is a terminal; with
/// several clusters, one line of them all (`ctx-a: 1200 pods…  ctx-b: connecting…`).
pub struct Progress {
    enabled: bool,
    pods: AtomicUsize,
    last: Mutex<Instant>,
    /// One per cluster in fleet mode, in the order they are shown; empty otherwise.
    clusters: Vec<ClusterProgress>,
}

/// Where one cluster of a fleet analysis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connecting = 0,
    Listing = 1,
    Done = 2,
    Failed = 3,
}

struct ClusterProgress {
    name: String,
    stage: std::sync::atomic::AtomicU8,
    pods: AtomicUsize,
}

impl Progress {
    const EVERY: Duration = Duration::from_millis(200);

    pub fn on_terminal() -> Self {
        Progress {
            enabled: io::stderr().is_terminal(),
            pods: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
            clusters: Vec::new(),
        }
    }

    /// Progress of several clusters analysed at once, named `names`, each `connecting…` first.
    pub fn on_terminal_for(names: &[String]) -> Self {
        let progress = Progress {
            clusters: names
                .iter()
                .map(|name| ClusterProgress {
                    name: name.clone(),
                    stage: std::sync::atomic::AtomicU8::new(Stage::Connecting as u8),
                    pods: AtomicUsize::new(0),
                })
                .collect(),
            ..Progress::on_terminal()
        };
        if progress.enabled {
            progress.draw_clusters();
        }
        progress
    }

    /// Cluster `index` reached `stage`; shown at once.
    pub fn cluster_stage(&self, index: usize, stage: Stage) {
        if let Some(cluster) = self.clusters.get(index) {
            cluster.stage.store(stage as u8, Ordering::Relaxed);
            if self.enabled {
                let mut last = self
                    .last
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                *last = Instant::now();
                self.draw_clusters();
            }
        }
    }

    /// Cluster `index` analysed `pods` more pods.
    pub fn cluster_advance(&self, index: usize, pods: usize) {
        let Some(cluster) = self.clusters.get(index) else {
            return;
        };
        cluster.pods.fetch_add(pods, Ordering::Relaxed);
        cluster.stage.store(Stage::Listing as u8, Ordering::Relaxed);
        self.pods.fetch_add(pods, Ordering::Relaxed);
        if self.enabled
            && let Ok(mut last) = self.last.try_lock()
            && last.elapsed() >= Self::EVERY
        {
            *last = Instant::now();
            self.draw_clusters();
        }
    }

    fn draw_clusters(&self) {
        let line: Vec<String> = self
            .clusters
            .iter()
            .map(|cluster| {
                let pods = cluster.pods.load(Ordering::Relaxed);
                match cluster.stage.load(Ordering::Relaxed) {
                    0 => format!("{}: connecting…", cluster.name),
                    1 if pods == 0 => format!("{}: listing…", cluster.name),
                    1 => format!("{}: {pods} pods…", cluster.name),
                    2 => format!("{}: {pods} pods", cluster.name),
                    _ => format!("{}: failed", cluster.name),
                }
            })
            .collect();
        eprint!("\r\x1b[2K{}", line.join("  "));
    }

    pub fn advance(&self, pods: usize) {
        let total = self.pods.fetch_add(pods, Ordering::Relaxed) + pods;
        if !self.enabled {
            return;
        }
        if let Ok(mut last) = self.last.try_lock()
            && last.elapsed() >= Self::EVERY
        {
            *last = Instant::now();
            eprint!("\ranalysed {total} pods…");
        }
    }

    /// Clears the progress line.
    pub fn finish(&self) {
        if self.enabled && (self.pods.load(Ordering::Relaxed) > 0 || !self.clusters.is_empty()) {
            eprint!("\r\x1b[2K");
        }
    }
}
