//! One producer task: drives a [`DeviceWorker`] in real time and hands its readings to the sink.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::{mpsc, oneshot, watch};

use super::MessageSink;
use super::rate::RateLimiter;
use crate::engine::encode::Encoder;
use crate::engine::plan::Encoding;
use crate::engine::shard::shard_of_block;
use crate::engine::worker::{DeviceWorker, PollOutcome};

/// Readings produced between two yields to the scheduler: large enough to amortise the poll,
/// small enough that the metrics endpoint and other tasks stay responsive.
const BATCH: usize = 2048;
/// How long a task blocked by a full producer queue first waits before retrying; it doubles
/// while the queue stays full, up to [`BLOCKED_BACKOFF_MAX`], so a long outage costs no CPU.
const BLOCKED_BACKOFF: Duration = Duration::from_millis(1);
/// The longest wait between two retries of a blocked task: how late, at most, it notices room.
const BLOCKED_BACKOFF_MAX: Duration = Duration::from_millis(50);
/// How long after the end of a bounded run a task keeps producing readings that were due before
/// it. Below saturation that is all of them; a saturated run stops here instead of working off a
/// backlog, so each device's stream simply ends a little earlier (truncated, never gapped).
const END_GRACE: Duration = Duration::from_millis(500);
/// How long a task with nothing scheduled sleeps between checks; commands wake it earlier.
const IDLE_CHECK: Duration = Duration::from_secs(1);
/// How often a task folds its lag histogram into the shared one.
const LAG_MERGE_PERIOD: Duration = Duration::from_millis(250);

/// Figures one task publishes for reporting; written once per batch, not per message.
#[derive(Debug)]
pub struct TaskCounters {
    /// Readings handed to the sink.
    pub sent: AtomicU64,
    /// Readings dropped under the `drop` policy.
    pub dropped: AtomicU64,
    /// Readings the sink refused outright.
    pub rejected: AtomicU64,
    /// Readings skipped for falling more than `maxLag` behind.
    pub skipped: AtomicU64,
    /// How far the oldest reading not yet produced is behind its due time, ns.
    pub behind_ns: AtomicU64,
    /// The task waits for room in a full buffer (`overflow: block`).
    pub blocked: AtomicBool,
    /// Devices the task currently owns.
    pub devices: AtomicU64,
    /// Schedule lag in nanoseconds.
    pub lag_ns: Mutex<Histogram<u64>>,
}

impl Default for TaskCounters {
    fn default() -> Self {
        Self {
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            behind_ns: AtomicU64::new(0),
            blocked: AtomicBool::new(false),
            devices: AtomicU64::new(0),
            lag_ns: Mutex::new(
                Histogram::new_with_bounds(1_000, 3_600_000_000_000, 2)
                    .expect("static bounds are valid"),
            ),
        }
    }
}

/// Maps the engine's time (nanoseconds after the simulation's `t0`) to Tokio's clock.
#[derive(Clone, Copy, Debug)]
pub struct SimClock {
    /// The Tokio instant of `t0`; may lie in the future while a run is about to start.
    t0: tokio::time::Instant,
}

impl SimClock {
    /// A clock for a simulation that starts at `unix_t0_ms`.
    pub fn new(unix_t0_ms: i64) -> Self {
        let now = tokio::time::Instant::now();
        let offset_ms = unix_t0_ms - unix_now_ms();
        let t0 = if offset_ms >= 0 {
            now + Duration::from_millis(offset_ms as u64)
        } else {
            now.checked_sub(Duration::from_millis(offset_ms.unsigned_abs()))
                .unwrap_or(now)
        };
        Self { t0 }
    }

    /// Nanoseconds after `t0`; 0 before it.
    pub fn now_ns(&self) -> u64 {
        tokio::time::Instant::now()
            .saturating_duration_since(self.t0)
            .as_nanos() as u64
    }

    /// The Tokio instant of engine time `sim_ns`.
    pub fn instant_at(&self, sim_ns: u64) -> tokio::time::Instant {
        self.t0 + Duration::from_nanos(sim_ns)
    }
}

/// The current Unix time in milliseconds.
pub fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A change to a running task's devices.
#[derive(Debug)]
pub enum TaskCommand {
    /// Stop, at once, every device that `shard` no longer owns out of `shards`.
    Retain {
        /// The new shard count.
        shards: u32,
        /// The shard this task belongs to.
        shard: u32,
        /// The cut (ns after t0): readings due up to it are still produced here, none after.
        cut_ns: u64,
        /// Told, once the devices are gone, the cut actually applied: later than asked if the
        /// task had already produced past it (it was lagging).
        done: oneshot::Sender<u64>,
    },
    /// Take the devices of these blocks over, each from its first reading due at or after
    /// `start_ns`.
    Add {
        /// Block numbers (see [`crate::engine::layout`]).
        blocks: Vec<u32>,
        /// Take-over time, ns after t0.
        start_ns: u64,
    },
}

/// Everything a task needs besides its worker.
pub struct TaskContext<S> {
    /// Message encoding.
    pub encoding: Encoding,
    /// Where messages go.
    pub sink: Arc<S>,
    /// Engine time.
    pub clock: SimClock,
    /// This task's share of the rate cap.
    pub limiter: Option<RateLimiter>,
    /// Published figures.
    pub counters: Arc<TaskCounters>,
    /// Turns true when the fleet stops.
    pub shutdown: watch::Receiver<bool>,
    /// Device changes.
    pub commands: mpsc::UnboundedReceiver<TaskCommand>,
    /// End the task once a bounded run's last reading is produced (else wait for commands).
    pub exit_when_done: bool,
}

/// How long a task keeps trying to hand readings due before a cut to a full queue.
const CUT_FLUSH_LIMIT: Duration = Duration::from_secs(1);

/// A task's encoder, buffer and sink: what producing a reading needs.
struct Producer<'a, S> {
    encoder: &'a mut Encoder,
    payload: &'a mut Vec<u8>,
    sink: &'a S,
}

impl<S: MessageSink> Producer<'_, S> {
    /// Produces every reading due by `now_ns`, at most `budget`.
    fn poll(&mut self, worker: &mut DeviceWorker, now_ns: u64, budget: usize) -> PollOutcome {
        let (encoder, payload, sink) = (&mut *self.encoder, &mut *self.payload, self.sink);
        worker.poll(now_ns, budget, |reading| {
            encoder.encode(reading, payload);
            sink.try_send(reading.device_id.as_bytes(), payload, reading.timestamp_ms)
        })
    }
}

async fn apply<S: MessageSink>(
    worker: &mut DeviceWorker,
    command: TaskCommand,
    producer: &mut Producer<'_, S>,
    clock: &SimClock,
    counters: &TaskCounters,
    last_poll_ns: &mut u64,
) {
    match command {
        TaskCommand::Retain {
            shards,
            shard,
            cut_ns,
            done,
        } => {
            // Everything due up to the cut is still ours; the new owner starts just after it.
            // A lagging task may already have produced past the asked cut: cut later, then.
            let cut_ns = cut_ns.max(*last_poll_ns);
            tokio::time::sleep_until(clock.instant_at(cut_ns)).await;
            let deadline = Instant::now() + CUT_FLUSH_LIMIT;
            loop {
                match producer.poll(worker, cut_ns, BATCH) {
                    PollOutcome::IdleUntil(_) => break,
                    PollOutcome::BudgetSpent => tokio::task::yield_now().await,
                    PollOutcome::Blocked if Instant::now() < deadline => {
                        tokio::time::sleep(BLOCKED_BACKOFF).await;
                    }
                    PollOutcome::Blocked => break,
                }
            }
            // Zero shards: the simulation stopped, and nobody owns anything.
            worker.retain_blocks(|b| shards > 0 && shard_of_block(b, shards) == shard);
            *last_poll_ns = cut_ns;
            let _ = done.send(cut_ns);
        }
        TaskCommand::Add { blocks, start_ns } => worker.add_blocks(&blocks, start_ns),
    }
    counters
        .devices
        .store(worker.device_count() as u64, Ordering::Relaxed);
}

/// Runs `worker` until the fleet stops, or (with `exit_when_done`) until it has produced
/// everything before the end of a bounded run.
pub async fn run_task<S: MessageSink>(mut worker: DeviceWorker, context: TaskContext<S>) {
    let TaskContext {
        encoding,
        sink,
        clock,
        mut limiter,
        counters,
        mut shutdown,
        mut commands,
        exit_when_done,
    } = context;
    counters
        .devices
        .store(worker.device_count() as u64, Ordering::Relaxed);
    let mut encoder = Encoder::new(encoding);
    let mut payload = Vec::with_capacity(1024);
    let mut published = worker.counts().clone();
    let mut last_merge = Instant::now();
    let mut pending: Option<TaskCommand> = None;
    // The latest time readings were produced up to: a hand-off cut is never before it.
    let mut last_poll_ns = 0u64;
    let stop_at_ns = worker.end_ns().saturating_add(END_GRACE.as_nanos() as u64);
    let mut blocked_backoff = BLOCKED_BACKOFF;
    loop {
        if *shutdown.borrow() || (exit_when_done && clock.now_ns() >= stop_at_ns) {
            break;
        }
        while let Some(command) = pending.take().or_else(|| commands.try_recv().ok()) {
            let mut producer = Producer {
                encoder: &mut encoder,
                payload: &mut payload,
                sink: sink.as_ref(),
            };
            apply(
                &mut worker,
                command,
                &mut producer,
                &clock,
                &counters,
                &mut last_poll_ns,
            )
            .await;
        }
        let budget = match limiter.as_mut() {
            Some(l) => l.available(Instant::now()).min(BATCH),
            None => BATCH,
        };
        let outcome = if budget == 0 {
            None
        } else {
            let mut producer = Producer {
                encoder: &mut encoder,
                payload: &mut payload,
                sink: sink.as_ref(),
            };
            last_poll_ns = clock.now_ns();
            Some(producer.poll(&mut worker, last_poll_ns, budget))
        };
        sink.serve_deliveries();
        let counts = worker.counts();
        let produced = counts.sent + counts.dropped + counts.rejected
            - (published.sent + published.dropped + published.rejected);
        counters
            .skipped
            .fetch_add(counts.skipped - published.skipped, Ordering::Relaxed);
        let waiting = matches!(
            outcome,
            Some(PollOutcome::Blocked | PollOutcome::BudgetSpent) | None
        );
        counters.behind_ns.store(
            if waiting {
                worker.behind_ns(last_poll_ns)
            } else {
                0
            },
            Ordering::Relaxed,
        );
        let blocked = outcome == Some(PollOutcome::Blocked);
        counters.blocked.store(blocked, Ordering::Relaxed);
        blocked_backoff = if blocked {
            (blocked_backoff * 2).min(BLOCKED_BACKOFF_MAX)
        } else {
            BLOCKED_BACKOFF
        };
        counters
            .sent
            .fetch_add(counts.sent - published.sent, Ordering::Relaxed);
        counters
            .dropped
            .fetch_add(counts.dropped - published.dropped, Ordering::Relaxed);
        counters
            .rejected
            .fetch_add(counts.rejected - published.rejected, Ordering::Relaxed);
        published = counts.clone();
        if let Some(l) = limiter.as_mut() {
            l.spend(produced);
        }
        if last_merge.elapsed() >= LAG_MERGE_PERIOD {
            merge_lag(&mut worker, &counters);
            last_merge = Instant::now();
        }
        let wait = match outcome {
            None => limiter
                .as_ref()
                .map_or(BLOCKED_BACKOFF, RateLimiter::wait_for_one),
            Some(PollOutcome::BudgetSpent) => {
                tokio::task::yield_now().await;
                continue;
            }
            Some(PollOutcome::Blocked) => blocked_backoff,
            Some(PollOutcome::IdleUntil(_)) if exit_when_done && worker.finished() => break,
            Some(PollOutcome::IdleUntil(u64::MAX)) => IDLE_CHECK,
            Some(PollOutcome::IdleUntil(t)) => clock
                .instant_at(t)
                .saturating_duration_since(tokio::time::Instant::now()),
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
            Some(command) = commands.recv() => pending = Some(command),
        }
    }
    merge_lag(&mut worker, &counters);
}

fn merge_lag(worker: &mut DeviceWorker, counters: &TaskCounters) {
    let local = worker.lag_histogram();
    if local.is_empty() {
        return;
    }
    let mut shared = counters.lag_ns.lock().expect("lag lock is never poisoned");
    let _ = shared.add(&*local);
    local.reset();
}
