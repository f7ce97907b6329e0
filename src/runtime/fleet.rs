//! A set of shards running in this process, each split over its producer tasks.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use hdrhistogram::Histogram;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::MessageSink;
use super::rate::RateLimiter;
use super::report::Snapshot;
use super::task::{SimClock, TaskCommand, TaskContext, TaskCounters, run_task};
use crate::engine::plan::SimulationPlan;
use crate::engine::shard::{
    group_by_shard, group_by_shard_and_task, shard_of_block, split_for_workers,
};
use crate::engine::worker::DeviceWorker;

/// What to run.
#[derive(Clone, Debug)]
pub struct FleetConfig {
    /// The validated simulation.
    pub plan: Arc<SimulationPlan>,
    /// Shards this process runs, each out of `plan.replicas`.
    pub shards: Vec<u32>,
    /// The simulation's start, in Unix milliseconds; every schedule is anchored to it.
    pub unix_t0_ms: i64,
    /// When this process takes its devices over, in Unix milliseconds: each device starts with
    /// its first reading due at or after it. Leave the tasks time to build their state (see
    /// [`startup_allowance`]), or the first readings are late.
    pub unix_start_ms: i64,
    /// End each task once a bounded run's last reading is produced (`devsim run`); a worker
    /// process keeps its tasks waiting for devices instead.
    pub exit_when_done: bool,
    /// Start owning no device; devices come later through [`Fleet::take_over`] (a worker
    /// process, which must wait for the other shards to release them).
    pub idle: bool,
}

/// Finding the shards' blocks: a jump hash a block, ns (one thread).
const SCAN_BLOCK_NS: f64 = 60.0;
/// Meeting a device the cursor passes before the start (ns a device and thread): finding it
/// from its position, and filing its reading if it is due from the start on.
const MEET_NS: f64 = 150.0;
/// The margin over the estimated costs.
const ALLOWANCE_MARGIN: f64 = 2.0;

/// Time to leave between starting a fleet and its first readings, so that building the
/// workers does not make them late. Two steps cost it: listing the shards' blocks (every block
/// of the simulation is hashed once), and each worker's cursor meeting the devices whose
/// reading may fall due within one largest jitter before the start (a `jitter` share of the
/// process's devices; the workers are built one thread a core). Device state costs nothing
/// up front: it is zeroed memory, touched only when a device produces. `devices_here` is how
/// many devices this process will own (at most).
pub fn startup_allowance(plan: &SimulationPlan, devices_here: u64) -> std::time::Duration {
    let threads = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
    let scan_ns = SCAN_BLOCK_NS * f64::from(plan.layout().blocks());
    let meet_ns = MEET_NS * plan.jitter * devices_here as f64 / threads;
    std::time::Duration::from_millis(100)
        + std::time::Duration::from_nanos((ALLOWANCE_MARGIN * (scan_ns + meet_ns)) as u64)
}

/// Builds the tasks' workers, one thread a core: each meets the devices due just before the
/// start, the bulk of a large fleet's start-up.
fn build_workers(
    plan: &Arc<SimulationPlan>,
    unix_t0_ms: i64,
    by_shard: Vec<Vec<Vec<u32>>>,
    start_ns: u64,
) -> Vec<Vec<DeviceWorker>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let mut parts: Vec<(usize, Vec<u32>)> = by_shard
        .into_iter()
        .enumerate()
        .flat_map(|(shard, parts)| parts.into_iter().map(move |part| (shard, part)))
        .collect();
    let shards = parts.last().map_or(0, |(shard, _)| shard + 1);
    let mut built: Vec<(usize, DeviceWorker)> = Vec::with_capacity(parts.len());
    while !parts.is_empty() {
        let batch: Vec<(usize, Vec<u32>)> = parts.drain(..threads.min(parts.len())).collect();
        std::thread::scope(|scope| {
            let running: Vec<_> = batch
                .into_iter()
                .map(|(shard, blocks)| {
                    let plan = Arc::clone(plan);
                    scope.spawn(move || {
                        (shard, DeviceWorker::new(plan, unix_t0_ms, blocks, start_ns))
                    })
                })
                .collect();
            for handle in running {
                let (shard, worker) = handle.join().expect("building a worker does not panic");
                built.push((shard, worker));
            }
        });
    }
    let mut workers: Vec<Vec<DeviceWorker>> = (0..shards).map(|_| Vec::new()).collect();
    for (shard, worker) in built {
        workers[shard].push(worker);
    }
    workers
}

/// How far ahead of a release its cut lies: time for every task to receive the command before
/// the cut, so all of them stop at the same reading.
pub const RELEASE_LEAD: std::time::Duration = std::time::Duration::from_millis(5);

/// One producer task as the fleet sees it.
struct TaskHandle {
    shard: u32,
    commands: mpsc::UnboundedSender<TaskCommand>,
    counters: Arc<TaskCounters>,
}

/// Running producer tasks and their counters.
pub struct Fleet {
    plan: Arc<SimulationPlan>,
    tasks: JoinSet<()>,
    handles: Vec<TaskHandle>,
    clock: SimClock,
    shutdown: watch::Sender<bool>,
    /// Tasks still running; lets a caller wait for the end without owning the join set.
    running: watch::Sender<usize>,
}

impl Fleet {
    /// Spawns `workersPerReplica` tasks for every shard of `config` on the current runtime.
    pub fn start<S: MessageSink>(config: &FleetConfig, sink: Arc<S>) -> Self {
        let plan = &config.plan;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (running, _) = watch::channel(0usize);
        let start_ns =
            u64::try_from(config.unix_start_ms - config.unix_t0_ms).unwrap_or(0) * 1_000_000;
        let clock = SimClock::new(config.unix_t0_ms);
        let mut tasks = JoinSet::new();
        let mut handles = Vec::new();
        let per_shard = plan.workers_per_replica;
        let by_shard = if config.idle {
            vec![vec![Vec::new(); per_shard as usize]; config.shards.len()]
        } else {
            let blocks = plan.layout().blocks();
            group_by_shard_and_task(blocks, plan.replicas, &config.shards, per_shard)
        };
        let workers = build_workers(plan, config.unix_t0_ms, by_shard, start_ns);
        for (&shard, shard_workers) in config.shards.iter().zip(workers) {
            for worker in shard_workers {
                let counters = Arc::new(TaskCounters::default());
                let (commands, commands_rx) = mpsc::unbounded_channel();
                // Each task gets an equal share of the global cap; shares of all replicas add up to it.
                let limiter = plan.max_messages_per_second.map(|cap| {
                    let replicas_total =
                        f64::from(plan.replicas.max(1)) * f64::from(plan.workers_per_replica);
                    RateLimiter::new(cap as f64 / replicas_total)
                });
                let task = run_task(
                    worker,
                    TaskContext {
                        encoding: plan.encoding,
                        sink: Arc::clone(&sink),
                        clock,
                        limiter,
                        counters: Arc::clone(&counters),
                        shutdown: shutdown_rx.clone(),
                        commands: commands_rx,
                        exit_when_done: config.exit_when_done,
                    },
                );
                handles.push(TaskHandle {
                    shard,
                    commands,
                    counters,
                });
                let running = running.clone();
                running.send_modify(|n| *n += 1);
                tasks.spawn(async move {
                    task.await;
                    running.send_modify(|n| *n -= 1);
                });
            }
        }
        Self {
            plan: Arc::clone(plan),
            tasks,
            handles,
            clock,
            shutdown,
            running,
        }
    }

    /// Devices the tasks currently own.
    pub fn devices(&self) -> u64 {
        self.handles
            .iter()
            .map(|h| h.counters.devices.load(Ordering::Relaxed))
            .sum()
    }

    /// Engine time now: nanoseconds after `t0`.
    pub fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }

    /// Stops every device that its shard no longer owns with `shards` shards: the first half of
    /// a re-shard, done before anyone takes those devices over. All tasks cut at the same moment,
    /// [`RELEASE_LEAD`] ahead: readings due up to the cut are produced here, none after it.
    /// Returns the latest cut applied (ns after t0; later than asked only for a task that was
    /// lagging), once every task has let go: a new owner starting just after it duplicates
    /// nothing.
    pub async fn release_for(&self, shards: u32) -> u64 {
        let cut_ns = self.clock.now_ns() + RELEASE_LEAD.as_nanos() as u64;
        let mut acknowledgements = Vec::with_capacity(self.handles.len());
        for h in &self.handles {
            let (done, acknowledged) = oneshot::channel();
            let command = TaskCommand::Retain {
                shards,
                shard: h.shard,
                cut_ns,
                done,
            };
            if h.commands.send(command).is_ok() {
                acknowledgements.push(acknowledged);
            }
        }
        let mut applied = cut_ns;
        for acknowledged in acknowledgements {
            // A task that has ended holds no device either.
            if let Ok(cut) = acknowledged.await {
                applied = applied.max(cut);
            }
        }
        applied
    }

    /// Takes over the devices each shard gains going from `old_shards` to `new_shards` (all of
    /// its devices when `old_shards` is 0): the second half of a re-shard, once their old owners
    /// have released them. Each device starts at `start_of(old owner)` (ns after t0; the owner is
    /// `None` when unknown), so it continues exactly where its old owner cut it. Returns how many
    /// devices were taken over.
    pub fn take_over(
        &self,
        old_shards: u32,
        new_shards: u32,
        start_of: impl Fn(Option<u32>) -> u64,
    ) -> u64 {
        let mut taken = 0;
        let shards: Vec<u32> = {
            let mut s: Vec<u32> = self.handles.iter().map(|h| h.shard).collect();
            s.dedup();
            s
        };
        let layout = self.plan.layout();
        let gained = group_by_shard(layout.blocks(), new_shards, &shards);
        for (&shard, blocks) in shards.iter().zip(gained) {
            // Blocks grouped by their start, i.e. by their old owner's cut.
            let mut by_start: std::collections::BTreeMap<u64, Vec<u32>> = Default::default();
            for b in blocks {
                let owner = (old_shards > 0).then(|| shard_of_block(b, old_shards));
                if owner != Some(shard) {
                    by_start.entry(start_of(owner)).or_default().push(b);
                }
            }
            let handles: Vec<&TaskHandle> =
                self.handles.iter().filter(|h| h.shard == shard).collect();
            for (start_ns, blocks) in by_start {
                taken += blocks
                    .iter()
                    .map(|&b| u64::from(layout.block_len(b)))
                    .sum::<u64>();
                for (handle, part) in handles
                    .iter()
                    .zip(split_for_workers(&blocks, handles.len() as u32))
                {
                    let _ = handle.commands.send(TaskCommand::Add {
                        blocks: part,
                        start_ns,
                    });
                }
            }
        }
        taken
    }

    /// Asks every task to stop after its current batch.
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Waits until every task has ended (the run's duration is over, or after [`Self::stop`]).
    pub async fn join(&mut self) {
        while let Some(result) = self.tasks.join_next().await {
            if let Err(e) = result {
                tracing::error!(error = %e, "producer task ended abnormally");
            }
        }
    }

    /// Resolves once every task has ended; usable while other methods take `&self`.
    pub fn all_done(&self) -> impl std::future::Future<Output = ()> + use<> {
        let mut running = self.running.subscribe();
        async move {
            let _ = running.wait_for(|&n| n == 0).await;
        }
    }

    /// Schedule lag (ns) of every reading the tasks handed over so far (merged every
    /// 250 ms by each task).
    pub fn lag_histogram(&self) -> Histogram<u64> {
        let mut lag = Histogram::<u64>::new_with_bounds(1_000, 3_600_000_000_000, 2)
            .expect("static bounds are valid");
        for c in self.handles.iter().map(|h| &h.counters) {
            let _ = lag.add(&*c.lag_ns.lock().expect("lag lock is never poisoned"));
        }
        lag
    }

    /// Current totals over every task, plus the sink's delivery figures.
    pub fn snapshot<S: MessageSink>(&self, sink: &S) -> Snapshot {
        let lag = self.lag_histogram();
        let (mut sent, mut dropped, mut rejected, mut skipped) = (0, 0, 0, 0);
        let (mut behind_ns, mut blocked) = (0, false);
        for c in self.handles.iter().map(|h| &h.counters) {
            sent += c.sent.load(Ordering::Relaxed);
            dropped += c.dropped.load(Ordering::Relaxed);
            rejected += c.rejected.load(Ordering::Relaxed);
            skipped += c.skipped.load(Ordering::Relaxed);
            behind_ns = behind_ns.max(c.behind_ns.load(Ordering::Relaxed));
            blocked |= c.blocked.load(Ordering::Relaxed);
        }
        Snapshot {
            at: std::time::Instant::now(),
            sent,
            delivered: sink.delivered(),
            failed: sink.failed() + rejected,
            dropped,
            skipped,
            behind_ms: behind_ns as f64 / 1e6,
            blocked,
            in_flight: sink.in_flight(),
            lag_p50_ms: lag.value_at_quantile(0.5) as f64 / 1e6,
            lag_p99_ms: lag.value_at_quantile(0.99) as f64 / 1e6,
            lag_max_ms: lag.max() as f64 / 1e6,
        }
    }
}
