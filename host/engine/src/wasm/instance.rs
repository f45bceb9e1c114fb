//! One live plugin instance and its calls, each under the plugin's time limit.
//!
//! The limit counts the CPU time the calling thread spends in the call, not wall time: on a
//! machine saturated by other work a call that needs 20 ms may take 300 ms of wall time, and
//! must not fail for it (results would depend on the load). The epoch ticker wakes the call every
//! tick once its deadline passes; the callback then compares the thread's CPU time with the
//! limit and lets the call go on while it is under. A wall-time cap (ten times the limit) still
//! bounds a call on a machine so loaded that the thread barely runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::Resource;
use wasmtime::{Store, Trap, UpdateDeadline};

use super::plugin::Pre;
use super::sandbox::{Breach, CallPod, Proposals};
use super::{HostState, Limits, LoadedPlugin, deadline_ticks};
use crate::contract::{Analyzer, Finding, FixDefaults, PluginMetadata, v0_1};
use crate::pod::PodInput;

/// Why a call into a plugin failed. The instance is unusable afterwards.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("timed out after {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("exceeded its memory limit of {} MiB", .0 >> 20)]
    Memory(usize),
    #[error("exceeded a resource limit")]
    Resource(#[source] Breach),
    #[error("overflowed its stack")]
    StackOverflow,
    #[error("trapped: {trap}{}", output_suffix(.output))]
    Trap { trap: String, output: String },
    #[error("rejected its settings: {0}")]
    Settings(String),
}

fn output_suffix(output: &str) -> String {
    if output.is_empty() {
        String::new()
    } else {
        format!(" (plugin output: {output})")
    }
}

/// A plugin instance with its own store: its memory, its limits, the pod being analysed.
pub struct Instance {
    store: Store<HostState>,
    bindings: Bindings,
    limits: Limits,
}

/// The exports of an instance, as the world of its contract version.
enum Bindings {
    V0_2(Analyzer),
    V0_1(v0_1::Analyzer),
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("limits", &self.limits)
            .finish()
    }
}

impl Instance {
    /// Instantiates `plugin` without configuring it (loading reads metadata first).
    pub(super) fn new(plugin: &LoadedPlugin) -> Result<Self, CallError> {
        let limits = plugin.limits;
        let mut store = Store::new(plugin.runtime.engine(), HostState::new(limits.memory_bytes));
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(deadline_ticks(limits.timeout));
        store.epoch_deadline_callback(move |store| {
            let clock = store.data().call_clock;
            if clock.within(limits.timeout) {
                Ok(UpdateDeadline::Continue(1))
            } else {
                Ok(UpdateDeadline::Interrupt)
            }
        });
        let instantiated = match &plugin.pre {
            Pre::V0_2(pre) => pre.instantiate(&mut store).map(Bindings::V0_2),
            Pre::V0_1(pre) => pre.instantiate(&mut store).map(Bindings::V0_1),
        };
        match instantiated {
            Ok(bindings) => Ok(Instance {
                store,
                bindings,
                limits,
            }),
            Err(error) => Err(classify(&store, limits, error)),
        }
    }

    /// A configured instance, ready to analyse pods.
    pub fn start(plugin: &LoadedPlugin) -> Result<Self, CallError> {
        let mut instance = Self::new(plugin)?;
        instance
            .configure(&plugin.settings)?
            .map_err(CallError::Settings)?;
        Ok(instance)
    }

    pub fn metadata(&mut self) -> Result<PluginMetadata, CallError> {
        self.arm();
        let result = match &self.bindings {
            Bindings::V0_2(bindings) => bindings.call_metadata(&mut self.store),
            Bindings::V0_1(bindings) => bindings.call_metadata(&mut self.store).map(Into::into),
        };
        result.map_err(|error| classify(&self.store, self.limits, error))
    }

    /// Passes the settings; the inner `Err` is the plugin's own refusal.
    pub fn configure(&mut self, settings: &str) -> Result<Result<(), String>, CallError> {
        self.arm();
        let result = match &self.bindings {
            Bindings::V0_2(bindings) => bindings.call_configure(&mut self.store, settings),
            Bindings::V0_1(bindings) => bindings.call_configure(&mut self.store, settings),
        };
        result.map_err(|error| classify(&self.store, self.limits, error))
    }

    /// The plugin's findings for `pod`.
    pub fn analyze(&mut self, pod: &PodInput) -> Result<Vec<Finding>, CallError> {
        self.call_analyze(pod, None).map(|(findings, _)| findings)
    }

    /// The plugin's findings for `pod` and the fixes it proposes for them, filled in with
    /// `defaults`. A 0.1.0 component, or one that proposes nothing, has no fixes.
    pub fn analyze_with_fixes(
        &mut self,
        pod: &PodInput,
        defaults: &Arc<FixDefaults>,
    ) -> Result<(Vec<Finding>, Proposals), CallError> {
        let (findings, fixes) = self.call_analyze(pod, Some(defaults))?;
        Ok((
            findings,
            fixes.unwrap_or_else(|| Proposals::new(defaults.clone())),
        ))
    }

    fn call_analyze(
        &mut self,
        pod: &PodInput,
        defaults: Option<&Arc<FixDefaults>>,
    ) -> Result<(Vec<Finding>, Option<Proposals>), CallError> {
        self.arm();
        let state = self.store.data_mut();
        state.fixes = defaults.map(|defaults| Proposals::new(defaults.clone()));
        state.pod = Some(CallPod {
            record: pod.record.clone(),
            source: pod.source.clone(),
        });
        state.analysis_time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
            });
        let result = match &self.bindings {
            // The handle's number is never read: the accessors serve the pod of the call.
            Bindings::V0_2(bindings) => {
                bindings.call_analyze(&mut self.store, Resource::new_borrow(0))
            }
            Bindings::V0_1(bindings) => bindings
                .call_analyze(&mut self.store, pod.legacy())
                .map(|findings| findings.into_iter().map(Into::into).collect()),
        };
        let state = self.store.data_mut();
        state.pod = None;
        let fixes = state.fixes.take();
        result
            .map(|findings| (findings, fixes))
            .map_err(|error| classify(&self.store, self.limits, error))
    }

    /// Restarts the time limit for the next call.
    fn arm(&mut self) {
        self.store.data_mut().call_clock = CallClock::start(self.limits.timeout);
        self.store
            .set_epoch_deadline(deadline_ticks(self.limits.timeout));
    }
}

/// When the call in progress began, in the thread's CPU time and in wall time.
#[derive(Debug, Clone, Copy)]
pub(super) struct CallClock {
    cpu: Option<Duration>,
    wall: Instant,
}

/// Wall time a call may take, in multiples of its CPU limit, however loaded the machine is.
const WALL_CAP: u32 = 10;

impl CallClock {
    /// The clock of a call with a CPU time limit of `limit`, starting now.
    pub(super) fn start(limit: Duration) -> Self {
        let wall = Instant::now();
        CallClock {
            cpu: recent_thread_cpu_time(wall, limit),
            wall,
        }
    }

    /// Whether the call is still within `limit`: CPU time under the limit, and wall time under
    /// the cap. Without a CPU clock, wall time under the limit.
    fn within(self, limit: Duration) -> bool {
        let wall = self.wall.elapsed();
        match (self.cpu, thread_cpu_time()) {
            (Some(start), Some(now)) => {
                now.saturating_sub(start) < limit && wall < limit * WALL_CAP
            }
            _ => wall < limit,
        }
    }
}

/// The calling thread's CPU time at most `limit / 50` (and at most 1 ms) of wall time ago.
///
/// Reading a thread's CPU clock is a system call (2-3 µs in this VM, more than many plugin
/// calls), so a call reuses the reading of a call that started just before it on the same
/// thread. A thread's CPU time grows no faster than wall time, so the reading is at most that
/// much below the true start: the call's CPU time is overcounted by at most 2 % of its limit,
/// never undercounted.
fn recent_thread_cpu_time(now: Instant, limit: Duration) -> Option<Duration> {
    thread_local! {
        static LAST: std::cell::Cell<Option<(Duration, Instant)>> = const { std::cell::Cell::new(None) };
    }
    let fresh_for = (limit / 50).min(Duration::from_millis(1));
    LAST.with(|last| {
        if let Some((cpu, read_at)) = last.get()
            && now.saturating_duration_since(read_at) <= fresh_for
        {
            return Some(cpu);
        }
        let cpu = thread_cpu_time()?;
        last.set(Some((cpu, now)));
        Some(cpu)
    })
}

/// CPU time the calling thread has used (the callback runs on the thread running the call).
fn thread_cpu_time() -> Option<Duration> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes one `timespec` we own and reads nothing else.
    let failed = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } != 0;
    if failed {
        return None;
    }
    let secs = u64::try_from(now.tv_sec).ok()?;
    let nanos = u32::try_from(now.tv_nsec).ok()?;
    Some(Duration::new(secs, nanos))
}

/// Names what went wrong in a failed call, by wasmtime's typed errors and the limiter's record,
/// with the plugin's last output for any other trap.
fn classify(store: &Store<HostState>, limits: Limits, error: wasmtime::Error) -> CallError {
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => return CallError::Timeout(limits.timeout),
        Some(Trap::StackOverflow) => return CallError::StackOverflow,
        _ => {}
    }
    let breach = error
        .downcast_ref::<Breach>()
        .copied()
        .or(store.data().limits.breached);
    match breach {
        Some(Breach::Memory { .. }) => return CallError::Memory(limits.memory_bytes),
        Some(breach) => return CallError::Resource(breach),
        None => {}
    }
    // The backtrace context says where; the root cause says what.
    let root = error.root_cause().to_string();
    let trap = error.downcast_ref::<Trap>().map_or(root, Trap::to_string);
    CallError::Trap {
        trap,
        output: store.data().output_tail(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recent_cpu_reading_is_reused_and_never_ahead_of_the_clock() {
        let Some(before) = thread_cpu_time() else {
            return; // no CPU clock here: calls count wall time instead
        };
        let now = Instant::now();
        let first = recent_thread_cpu_time(now, Duration::from_secs(1)).expect("a CPU clock");
        assert!(first >= before);
        // Burn CPU until the thread's clock has moved (a condition, with a deadline).
        let deadline = Instant::now() + Duration::from_secs(10);
        while thread_cpu_time().expect("a CPU clock") == first && Instant::now() < deadline {
            std::hint::black_box(0u64.wrapping_add(1));
        }
        let moved = thread_cpu_time().expect("a CPU clock");
        assert!(moved > first, "the CPU clock moved");
        // Within the window the earlier reading stands in: never ahead of the true time.
        let reused = recent_thread_cpu_time(now, Duration::from_secs(1)).expect("a CPU clock");
        assert_eq!(reused, first);
        assert!(reused <= moved);
        // A limit of zero leaves no window: the clock is read again.
        let fresh = recent_thread_cpu_time(Instant::now(), Duration::ZERO).expect("a CPU clock");
        assert!(fresh >= moved);
    }
}
