//! The Wasm plugin host: one wasmtime engine, plugins compiled once, instances per evaluation
//! or per worker.
//!
//! - [`Runtime`] owns the engine, the linker (only the interfaces of [`grants`], nothing else)
//!   and the epoch ticker that enforces time limits.
//! - [`LoadedPlugin`] is a compiled, linked and validated plugin: its metadata was read and its
//!   settings accepted at load time.
//! - [`Instance`] is one live instance of a plugin, owned by one thread. Built-ins are reused pod
//!   after pod; untrusted plugins get a fresh one per evaluation where tenants meet (see
//!   `analysis::catalog::Isolation`). A trapped store is never re-entered.

mod builtin;
mod cache;
mod engine_config;
mod grants;
mod host_calls;
mod inspect;
mod instance;
mod plugin;
mod sandbox;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::Engine;
use wasmtime::component::Linker;

pub use builtin::Builtin;
pub use cache::{CacheOutcome, ModuleCache};
pub use inspect::{Access, Contract, Import, Shape, WORLD};
pub use instance::{CallError, Instance};
pub use plugin::{LoadError, LoadedPlugin, PluginOrigin, SettingsFor, sha256_hex};
use sandbox::HostState;
pub use sandbox::{Breach, Proposals};

/// How often the epoch advances. Time limits are counted in these ticks, so a call is stopped
/// between its limit and one tick later.
const EPOCH_TICK: Duration = Duration::from_millis(2);

/// What one plugin may use per call and per instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// CPU time of one `analyze` (or `configure`) call; its wall time is capped at ten times
    /// this. Default 250 ms.
    pub timeout: Duration,
    /// Linear memory of one instance. Default 64 MiB.
    pub memory_bytes: usize,
    /// Findings one call may return; more are dropped with a diagnostic. Default 1000.
    pub max_findings: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_millis(250),
            memory_bytes: 64 << 20,
            max_findings: 1000,
        }
    }
}

/// How a [`Runtime`] is set up.
#[derive(Debug, Default, Clone)]
pub struct RuntimeOptions {
    /// The plugins compiled into the binary (`kube_devops_builtins::BUILTINS`); every catalog
    /// loads them first.
    pub builtins: &'static [Builtin],
    /// Compiled custom plugins kept on disk between runs; none: compile every time.
    pub cache_dir: Option<PathBuf>,
}

/// The engine and linker every plugin shares.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    builtins: &'static [Builtin],
    cache: Option<ModuleCache>,
    _ticker: EpochTicker,
}

impl Runtime {
    /// A runtime whose time limits hold: it fails, rather than run without them, when the epoch
    /// ticker cannot start.
    pub fn new(options: RuntimeOptions) -> Result<Arc<Self>, LoadError> {
        Self::with_ticker(options, ticker_thread())
    }

    fn with_ticker(
        options: RuntimeOptions,
        ticker: std::thread::Builder,
    ) -> Result<Arc<Self>, LoadError> {
        let engine = Engine::new(&engine_config::engine_config()).map_err(LoadError::engine)?;
        let linker = grants::linker(&engine).map_err(LoadError::engine)?;
        let ticker = EpochTicker::start(engine.clone(), ticker).map_err(LoadError::Ticker)?;
        Ok(Arc::new(Runtime {
            cache: options.cache_dir.map(|dir| ModuleCache::new(dir, &engine)),
            builtins: options.builtins,
            engine,
            linker,
            _ticker: ticker,
        }))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The built-in plugins this runtime loads into every catalog.
    pub fn builtins(&self) -> &'static [Builtin] {
        self.builtins
    }
}

fn ticker_thread() -> std::thread::Builder {
    std::thread::Builder::new().name("wasm-epoch".to_owned())
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine, builder: std::thread::Builder) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = builder.spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Lower-case hex, as digests are shown and pinned.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Epoch ticks that cover `timeout`, rounded up, plus one because the current tick may be
/// nearly over when the call starts.
fn deadline_ticks(timeout: Duration) -> u64 {
    (timeout.as_micros().div_ceil(EPOCH_TICK.as_micros()) as u64).max(1) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticker_that_cannot_start_is_a_load_error() {
        // No machine has an exabyte of address space for a thread's stack: spawn fails.
        let unstartable = ticker_thread().stack_size(1 << 60);
        let error = Runtime::with_ticker(RuntimeOptions::default(), unstartable)
            .err()
            .expect("a runtime without time limits must not start");
        assert!(matches!(error, LoadError::Ticker(_)), "{error}");
        assert!(error.to_string().contains("time limits"), "{error}");
    }
}
