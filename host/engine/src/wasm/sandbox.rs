//! What a plugin instance can reach: the per-store state, the WASI stubs behind the grants of
//! [`super::grants`], and the limiter that bounds its resources.
//!
//! Plugins built for `wasm32-wasip2` import some WASI for their standard library; what is
//! linked is empty: no environment or arguments, no stdin, a monotonic clock that never moves.
//! Writes to stdout and stderr land in a small buffer that keeps the tail, so a panic message can
//! be shown in the diagnostic without a chatty plugin ever failing on a full pipe.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::random::WasiRandomCtx;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use crate::contract::{FixDefaults, PatchOperation, Pod};
use crate::pod::PodSource;

/// Bytes of a plugin's output kept for diagnostics.
const OUTPUT_TAIL: usize = 4096;

/// The data of one plugin instance's store.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limits: Limiter,
    output: TailBuffer,
    /// The pod of the call in progress, for the `pod` accessors and `pod-json`.
    pub(super) pod: Option<CallPod>,
    /// The fixes the call in progress proposes, when the caller asked for them.
    pub(super) fixes: Option<Proposals>,
    /// Unix seconds when the call in progress began, for `analysis-time`.
    pub(super) analysis_time: i64,
    /// When the call in progress began, for its time limit.
    pub(super) call_clock: super::instance::CallClock,
}

impl HostState {
    /// State for a fresh instance whose linear memory may grow to `memory_bytes`.
    pub fn new(memory_bytes: usize) -> Self {
        let output = TailBuffer::default();
        let wasi = WasiCtx::builder()
            .stdout(output.clone())
            .stderr(output.clone())
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let limits = Limiter {
            memory_bytes,
            breached: None,
        };
        HostState {
            wasi,
            table: ResourceTable::new(),
            limits,
            output,
            pod: None,
            fixes: None,
            analysis_time: 0,
            call_clock: super::instance::CallClock::start(Duration::ZERO),
        }
    }

    pub(super) fn random(&mut self) -> &mut WasiRandomCtx {
        self.wasi.random()
    }

    pub(super) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// The last lines the plugin wrote to stdout or stderr (a panic message, typically),
    /// without Rust's hint about RUST_BACKTRACE, which means nothing inside the sandbox.
    pub(crate) fn output_tail(&self) -> String {
        let text = self.output.text();
        let lines: Vec<&str> = text
            .lines()
            .filter(|line| !line.starts_with("note: run with `RUST_BACKTRACE"))
            .collect();
        lines.join("\n")
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The pod an `analyze` call is about: its record and the object it was read from.
#[derive(Debug, Clone)]
pub(super) struct CallPod {
    pub(super) record: Arc<Pod>,
    pub(super) source: Arc<PodSource>,
}

/// What one call proposed as fixes, bounded: a plugin cannot make the host hold more than
/// [`Proposals::MAX_BYTES`] of them.
#[derive(Debug)]
pub struct Proposals {
    pub(super) defaults: Arc<FixDefaults>,
    /// Per finding index, its operations; a later proposal for the same finding replaces it.
    pub by_finding: BTreeMap<u32, Vec<PatchOperation>>,
    bytes: usize,
    /// Proposals dropped for going over the bound.
    pub dropped: usize,
}

/// What an operation costs in [`Proposals::MAX_BYTES`] besides its path and value.
const OPERATION_OVERHEAD: usize = 64;

impl Proposals {
    /// Bytes of operations one call may propose: paths, values, and
    /// [`OPERATION_OVERHEAD`] each.
    pub const MAX_BYTES: usize = 1 << 20;

    pub(super) fn new(defaults: Arc<FixDefaults>) -> Self {
        Proposals {
            defaults,
            by_finding: BTreeMap::new(),
            bytes: 0,
            dropped: 0,
        }
    }

    pub(super) fn propose(&mut self, finding: u32, operations: Vec<PatchOperation>) {
        // Each operation counts for more than its text, so empty ones cannot pile up unbounded.
        let bytes: usize = operations
            .iter()
            .map(|op| OPERATION_OVERHEAD + op.path.len() + op.value.as_ref().map_or(0, String::len))
            .sum();
        if self.bytes + bytes > Self::MAX_BYTES {
            self.dropped += 1;
            return;
        }
        self.bytes += bytes;
        self.by_finding.insert(finding, operations);
    }
}

/// A resource limit an instance ran into: the typed cause of the trap that ended its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Breach {
    #[error("linear memory would grow to {desired} bytes, over the limit of {limit}")]
    Memory { desired: usize, limit: usize },
    #[error("a table would grow to {desired} elements, over the limit of {limit}")]
    Table { desired: usize, limit: usize },
}

/// Bounds an instance's memories and tables. Growth past a limit traps with a [`Breach`], which
/// the caller recognises by type, never by message.
pub(super) struct Limiter {
    memory_bytes: usize,
    pub(super) breached: Option<Breach>,
}

/// Table elements one instance may have: componentize-py's largest tables are well below.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            let breach = Breach::Memory {
                desired,
                limit: self.memory_bytes,
            };
            self.breached = Some(breach);
            return Err(breach.into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            let breach = Breach::Table {
                desired,
                limit: MAX_TABLE_ELEMENTS,
            };
            self.breached = Some(breach);
            return Err(breach.into());
        }
        Ok(true)
    }

    // A Rust plugin has 3 core instances; componentize-py's `--stub-wasi` components about 40
    // (one small module per stubbed interface).
    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        4
    }
}

/// Time stands still inside the sandbox: checks must not depend on when they run.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// An output stream that keeps only its last [`OUTPUT_TAIL`] bytes and never refuses a write.
#[derive(Clone, Default)]
struct TailBuffer(Arc<Mutex<Vec<u8>>>);

impl TailBuffer {
    fn push(&self, bytes: &[u8]) {
        let mut buffer = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bytes = &bytes[bytes.len().saturating_sub(OUTPUT_TAIL)..];
        let overflow = (buffer.len() + bytes.len()).saturating_sub(OUTPUT_TAIL);
        buffer.drain(..overflow);
        buffer.extend_from_slice(bytes);
    }

    fn text(&self) -> String {
        let buffer = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        String::from_utf8_lossy(&buffer).trim().to_owned()
    }
}

impl IsTerminal for TailBuffer {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for TailBuffer {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for TailBuffer {
    async fn ready(&mut self) {}
}

impl OutputStream for TailBuffer {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(OUTPUT_TAIL)
    }
}

impl tokio::io::AsyncWrite for TailBuffer {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_buffer_keeps_the_last_bytes() {
        let buffer = TailBuffer::default();
        buffer.push(&vec![b'a'; OUTPUT_TAIL]);
        buffer.push(b"panicked at the end");
        let text = buffer.text();
        assert_eq!(text.len(), OUTPUT_TAIL);
        assert!(text.ends_with("panicked at the end"));
    }
}
