//! The Wasm plugin host: one wasmtime engine, plugins compiled once, instances per worker.
//!
//! - [`Runtime`] owns the engine, the linker (WASI, empty, plus the `host` interface) and the
//!   epoch ticker that enforces time limits.
//! - [`LoadedPlugin`] is a compiled, linked and validated plugin: its metadata was read and its
//!   settings accepted at load time.
//! - [`Instance`] is one live instance of a plugin, owned by one thread, reused pod after pod and
//!   replaced after a failure (a trapped store cannot be re-entered).

mod builtin;
mod cache;
mod engine_config;
mod inspect;
mod instance;
mod plugin;
mod sandbox;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

pub use builtin::{BUILTINS, Builtin};
pub use cache::{CacheOutcome, ModuleCache};
pub use inspect::{Access, Import, Shape, WORLD, access_of};
pub use instance::{CallError, Instance};
pub use plugin::{LoadError, LoadedPlugin, PluginOrigin, SettingsFor, sha256_hex};
use sandbox::HostState;

use crate::contract::Analyzer;

/// How often the epoch advances. Time limits are counted in these ticks, so a call is stopped
/// between its limit and one tick later.
const EPOCH_TICK: Duration = Duration::from_millis(2);

/// What one plugin may use per call and per instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall time of one `analyze` (or `configure`) call. Default 250 ms.
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

/// The engine and linker every plugin shares.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    /// Compiled custom plugins kept on disk between runs; none: compile every time.
    cache: Option<ModuleCache>,
    _ticker: EpochTicker,
}

impl Runtime {
    /// A runtime that compiles custom plugins on every load (no disk cache).
    pub fn new() -> Result<Arc<Self>, LoadError> {
        Self::with_cache(None)
    }

    /// A runtime that keeps compiled custom plugins in `cache_dir` (see [`ModuleCache`]).
    pub fn with_cache(cache_dir: Option<std::path::PathBuf>) -> Result<Arc<Self>, LoadError> {
        let engine = Engine::new(&engine_config::engine_config()).map_err(LoadError::engine)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(LoadError::engine)?;
        Analyzer::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(LoadError::engine)?;
        let ticker = EpochTicker::start(engine.clone());
        Ok(Arc::new(Runtime {
            cache: cache_dir.map(|dir| ModuleCache::new(dir, &engine)),
            engine,
            linker,
            _ticker: ticker,
        }))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wasm-epoch".to_owned())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .ok();
        EpochTicker { stop, thread }
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
