//! One bounded pool of analysis threads, shared by the long-running modes: the operator queues
//! batches of pods, the webhook queues reviews with a deadline.
//!
//! Plugin calls are CPU work, so they run here and never on an async runtime's threads. The
//! queue is bounded ([`PoolOptions::queue_per_thread`] per thread): a caller that finds it full
//! is told at once instead of waiting behind work it cannot overtake. A job with a deadline is
//! refused when the work already queued would not let it start in time (estimated from the
//! recent run times), and dropped unrun if its deadline passed while it waited.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a [`Pool`] is sized.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Thread names are `{name}-{index}`.
    pub name: String,
    /// Threads; at least one. Usually one per core.
    pub threads: usize,
    /// Jobs that may wait per thread; at least one.
    pub queue_per_thread: usize,
}

/// Why a job was not queued; the job comes back so the caller can answer for it.
#[derive(Debug)]
pub enum Rejected<J> {
    /// The queue is full.
    Full(J),
    /// The work ahead of it would not let it start before its deadline.
    WouldMiss(J),
    /// The pool's threads have stopped.
    Stopped(J),
}

impl<J> Rejected<J> {
    /// Why, for logs and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejected::Full(_) => "queue_full",
            Rejected::WouldMiss(_) => "would_miss_deadline",
            Rejected::Stopped(_) => "stopped",
        }
    }
}

struct Queued<J> {
    job: J,
    deadline: Option<Instant>,
}

/// What the threads share with the submitters.
struct Shared {
    /// Jobs queued and not yet taken by a thread.
    waiting: AtomicUsize,
    /// Exponentially weighted mean run time of a job, in microseconds.
    mean_run_us: AtomicU64,
}

/// Threads running jobs of type `J` from a bounded queue.
pub struct Pool<J: Send + 'static> {
    sender: Option<SyncSender<Queued<J>>>,
    threads: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
    capacity: usize,
}

impl<J: Send + 'static> Pool<J> {
    /// Starts the threads: each runs `run` on the jobs it takes, and `expired` on a job whose
    /// deadline passed while it waited (instead of running it).
    pub fn start(
        options: PoolOptions,
        run: impl Fn(J) + Send + Sync + 'static,
        expired: impl Fn(J) + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let threads = options.threads.max(1);
        let capacity = threads * options.queue_per_thread.max(1);
        let (sender, receiver) = mpsc::sync_channel::<Queued<J>>(capacity);
        let receiver = Arc::new(Mutex::new(receiver));
        let shared = Arc::new(Shared {
            waiting: AtomicUsize::new(0),
            mean_run_us: AtomicU64::new(0),
        });
        let handlers = Arc::new((run, expired));
        let mut handles = Vec::with_capacity(threads);
        for index in 0..threads {
            let (receiver, shared, handlers) = (receiver.clone(), shared.clone(), handlers.clone());
            let handle = std::thread::Builder::new()
                .name(format!("{}-{index}", options.name))
                .spawn(move || {
                    serve(
                        &receiver,
                        &shared,
                        |job| (handlers.0)(job),
                        |job| (handlers.1)(job),
                    )
                })?;
            handles.push(handle);
        }
        Ok(Pool {
            sender: Some(sender),
            threads: handles,
            shared,
            capacity,
        })
    }

    /// Queues `job` without waiting; `deadline`, when given, is when it must have started.
    pub fn submit(&self, job: J, deadline: Option<Instant>) -> Result<(), Rejected<J>> {
        let Some(sender) = &self.sender else {
            return Err(Rejected::Stopped(job));
        };
        if let Some(deadline) = deadline
            && Instant::now() + self.expected_wait() >= deadline
        {
            return Err(Rejected::WouldMiss(job));
        }
        self.shared.waiting.fetch_add(1, Ordering::SeqCst);
        match sender.try_send(Queued { job, deadline }) {
            Ok(()) => Ok(()),
            Err(error) => {
                self.shared.waiting.fetch_sub(1, Ordering::SeqCst);
                Err(match error {
                    TrySendError::Full(queued) => Rejected::Full(queued.job),
                    TrySendError::Disconnected(queued) => Rejected::Stopped(queued.job),
                })
            }
        }
    }

    /// Jobs waiting for a thread.
    pub fn waiting(&self) -> usize {
        self.shared.waiting.load(Ordering::SeqCst)
    }

    /// Jobs that may wait at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How long a job queued now would wait: the jobs ahead of it, spread over the threads, at
    /// the recent mean run time.
    fn expected_wait(&self) -> Duration {
        let ahead = self.waiting() as u64;
        let mean = self.shared.mean_run_us.load(Ordering::Relaxed);
        let threads = self.threads.len().max(1) as u64;
        Duration::from_micros(ahead.saturating_mul(mean) / threads)
    }
}

fn serve<J>(
    receiver: &Mutex<Receiver<Queued<J>>>,
    shared: &Shared,
    run: impl Fn(J),
    expired: impl Fn(J),
) {
    loop {
        let queued = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(queued) = queued else { return };
        shared.waiting.fetch_sub(1, Ordering::SeqCst);
        if queued
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            expired(queued.job);
            continue;
        }
        let started = Instant::now();
        run(queued.job);
        let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        // Weight 1/8 for the newest sample: follows a change of load within a few jobs.
        let mean = shared.mean_run_us.load(Ordering::Relaxed);
        let updated = if mean == 0 {
            took
        } else {
            mean - mean / 8 + took / 8
        };
        shared.mean_run_us.store(updated, Ordering::Relaxed);
    }
}

impl<J: Send + 'static> Drop for Pool<J> {
    fn drop(&mut self) {
        // Closing the queue ends every thread after its current job.
        self.sender.take();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    fn options(threads: usize, queue_per_thread: usize) -> PoolOptions {
        PoolOptions {
            name: "test".to_owned(),
            threads,
            queue_per_thread,
        }
    }

    #[test]
    fn a_full_queue_refuses_at_once_and_gives_the_job_back() {
        let (gate_tx, gate) = channel::<()>();
        let gate = Mutex::new(gate);
        let (started_tx, started) = channel::<u32>();
        let pool = Pool::start(
            options(1, 2),
            move |job: u32| {
                started_tx.send(job).expect("test listens");
                // Holds the only thread until the test opens the gate.
                let _ = gate.lock().expect("gate").recv();
            },
            |_| {},
        )
        .expect("pool");
        pool.submit(1, None).expect("runs");
        assert_eq!(
            started
                .recv_timeout(Duration::from_secs(10))
                .expect("job 1 starts"),
            1
        );
        pool.submit(2, None).expect("queued");
        pool.submit(3, None).expect("queued");
        assert_eq!(pool.waiting(), 2);
        match pool.submit(4, None) {
            Err(Rejected::Full(4)) => {}
            other => panic!("expected Full(4), got {other:?}"),
        }
        for _ in 0..3 {
            gate_tx.send(()).expect("thread waits");
        }
        drop(pool);
    }

    #[test]
    fn a_job_whose_deadline_passed_while_waiting_is_not_run() {
        let (gate_tx, gate) = channel::<()>();
        let gate = Mutex::new(gate);
        let (ran_tx, ran) = channel::<&'static str>();
        let (expired_tx, expired) = channel::<&'static str>();
        let expired_tx = Mutex::new(expired_tx);
        let pool = Pool::start(
            options(1, 4),
            move |job: &'static str| {
                ran_tx.send(job).expect("test listens");
                if job == "blocker" {
                    let _ = gate.lock().expect("gate").recv();
                }
            },
            move |job| {
                expired_tx
                    .lock()
                    .expect("sender")
                    .send(job)
                    .expect("listens")
            },
        )
        .expect("pool");
        pool.submit("blocker", None).expect("runs");
        assert_eq!(ran.recv_timeout(Duration::from_secs(10)), Ok("blocker"));
        let deadline = Instant::now() + Duration::from_millis(20);
        pool.submit("late", Some(deadline)).expect("queued");
        // Wait on the condition (the deadline has passed), then release the thread.
        while Instant::now() < deadline {
            std::thread::yield_now();
        }
        gate_tx.send(()).expect("thread waits");
        assert_eq!(expired.recv_timeout(Duration::from_secs(10)), Ok("late"));
        drop(pool);
        assert_eq!(ran.try_recv(), Err(mpsc::TryRecvError::Disconnected));
    }

    #[test]
    fn a_job_that_cannot_start_in_time_is_refused_before_queueing() {
        let pool = Pool::start(options(1, 4), |_: u32| {}, |_| {}).expect("pool");
        // As if jobs took a second each and one were waiting.
        pool.shared.mean_run_us.store(1_000_000, Ordering::Relaxed);
        pool.shared.waiting.store(1, Ordering::SeqCst);
        let soon = Instant::now() + Duration::from_millis(100);
        assert!(matches!(
            pool.submit(7, Some(soon)),
            Err(Rejected::WouldMiss(7))
        ));
        pool.shared.waiting.store(0, Ordering::SeqCst);
        pool.submit(8, Some(soon)).expect("nothing ahead: queued");
    }
}
