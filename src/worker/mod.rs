//! `devsim worker`: one StatefulSet pod, one shard. Derives its shard from its pod's ordinal,
//! watches its DeviceSimulation, runs the shard with the engine's producer tasks, re-shards
//! live with a confirmed hand-off, and reports its figures into `status.shards[]`.
//!
//! Each change of the simulation goes through three steps:
//! - [`desired`] (pure): what this shard should run, from the spec and the controller's epoch;
//! - [`producer`]: start, restart or stop the Kafka producer and its tasks;
//! - re-shard (rules in [`reshard`]): release lost devices at a cut, report the new count, wait
//!   for every shard to confirm it, then take gained devices over just after their old owners'
//!   cuts.

pub mod desired;
pub mod error;
mod latest;
pub mod problem;
pub mod producer;
pub mod report;
pub mod reshard;
mod stopping;
pub mod throughput;

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use kube::api::Api;
use tokio::sync::watch;

use crate::crd::{DeviceSimulation, ShardProblem, ShardStatus};
use crate::metrics::{Metrics, Observed};
use crate::runtime::{Report, unix_now_ms};
use crate::shutdown::Shutdown;
use desired::{Desired, desired, needs_restart};
use error::WorkerError;
use latest::watch_simulation;
use problem::{failure_problem, shard_problem};
use producer::Producer;
use report::{ShardReporter, ShardState};
use reshard::{TakeOverStarts, handoff_confirmed, previous_count};

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// The DeviceSimulation's name.
    pub simulation: String,
    /// Its namespace (the pod's).
    pub namespace: String,
    /// This pod's name; its ordinal is the shard index.
    pub pod_name: String,
    /// Admin endpoints.
    pub metrics_addr: std::net::SocketAddr,
    /// How often the worker reports into the status.
    pub report_every: Duration,
    /// How long it waits for the other shards to confirm a new shard count.
    pub handoff_timeout: Duration,
}

/// The latest version of the simulation, as the watch saw it.
type Latest = watch::Receiver<Option<Arc<DeviceSimulation>>>;

/// Runs the worker until SIGTERM: then stops producing, flushes, reports a final figure.
pub async fn run(client: Client, config: WorkerConfig, shutdown: Shutdown) -> anyhow::Result<()> {
    let index = reshard::ordinal(&config.pod_name).ok_or_else(|| {
        anyhow::anyhow!("pod name {:?} has no StatefulSet ordinal", config.pod_name)
    })?;
    let api: Api<DeviceSimulation> = Api::namespaced(client, &config.namespace);
    let metrics = Arc::new(Metrics::new(
        &config.simulation,
        &config.namespace,
        &index.to_string(),
    ));
    let bound = crate::metrics::serve(config.metrics_addr, Arc::clone(&metrics)).await?;
    tracing::info!(shard = index, %bound, "worker started");

    let mut latest = watch_simulation(api.clone(), &config.simulation);
    let first = loop {
        tokio::select! {
            changed = latest.changed() => changed?,
            () = shutdown.requested() => return Ok(()),
        }
        if let Some(sim) = latest.borrow_and_update().clone() {
            break sim;
        }
    };
    let existing = first
        .status
        .as_ref()
        .and_then(|s| s.shards.iter().find(|e| e.index == index));
    let mut worker = Worker {
        index,
        reporter: ShardReporter::new(api, &config.simulation, index, existing),
        fresh_shard: existing.is_none(),
        own_release: existing.and_then(reshard::clean_release),
        config,
        producer: None,
        reported_count: 0,
        last_error: None,
        failure: None,
        metrics,
        last_failed: 0,
        stopped: false,
        shutdown: shutdown.clone(),
        previous: None,
        released_at_ns: None,
        previous_count: 0,
    };
    worker.on_change(&first, &mut latest).await;

    let mut tick = tokio::time::interval(worker.config.report_every);
    loop {
        tokio::select! {
            () = shutdown.requested() => break,
            changed = latest.changed() => {
                if changed.is_err() {
                    break;
                }
                let sim = latest.borrow_and_update().clone();
                if let Some(sim) = sim {
                    worker.on_change(&sim, &mut latest).await;
                }
            }
            _ = tick.tick() => {
                // A producer that could not start (Kafka down) is retried here.
                if worker.producer.is_none() {
                    let sim = latest.borrow().clone();
                    if let Some(sim) = sim {
                        worker.on_change(&sim, &mut latest).await;
                    }
                }
                worker.report().await;
            }
        }
    }
    worker.finish().await;
    Ok(())
}

struct Worker {
    index: u32,
    config: WorkerConfig,
    reporter: ShardReporter,
    producer: Option<Producer>,
    /// The shard count reported in the status.
    reported_count: u32,
    last_error: Option<String>,
    /// Why the shard cannot run, while it cannot; reported as its problem.
    failure: Option<ShardProblem>,
    metrics: Arc<Metrics>,
    last_failed: u64,
    /// Set for the last report, after the producer has been flushed.
    stopped: bool,
    /// SIGTERM: a hand-off waiting for confirmation gives up at once.
    shutdown: Shutdown,
    /// The previous report's figures, for the rates on `/metrics`.
    previous: Option<crate::runtime::Snapshot>,
    /// The first instant (Unix ns) after this worker last let go of devices, reported so that
    /// their new owners start exactly there.
    released_at_ns: Option<i128>,
    /// No earlier process reported for this shard: its devices can only come from others.
    fresh_shard: bool,
    /// The earlier process of this shard stopped cleanly (SIGTERM): where it let go of its
    /// devices (Unix ns) and the shard count it ran under, so they resume exactly there.
    own_release: Option<(i128, u32)>,
    /// The shard count this worker ran under before its latest release, reported so that a
    /// new shard knows which shard each of its devices comes from.
    previous_count: u32,
}

impl Worker {
    /// Brings the producer in line with the simulation: desired -> producer -> re-shard.
    async fn on_change(&mut self, sim: &DeviceSimulation, latest: &mut Latest) {
        let want = match desired(sim) {
            Ok(Some(want)) => want,
            Ok(None) => return, // The controller has not started the simulation yet.
            Err(e) => {
                if matches!(e, WorkerError::InvalidSpec(_)) {
                    self.stop_producer().await;
                }
                self.fail(e).await;
                return;
            }
        };
        if let Err(e) = self.restart_if_changed(&want).await {
            self.fail(e).await;
            return;
        }
        if let Err(e) = self.reshard(&want, latest).await {
            self.fail(e).await;
        }
    }

    /// Logs why the shard cannot run and reports it in the shard's entry at once, so the
    /// simulation's conditions say so within seconds rather than at the next report tick.
    async fn fail(&mut self, error: WorkerError) {
        tracing::warn!(%error, category = error.category(), "cannot run the shard");
        self.failure = Some(failure_problem(self.failure.as_ref(), &error));
        self.last_error = Some(error.to_string());
        self.report().await;
    }

    /// The producer step: anything but the shard count changed, so restart the producer under
    /// the shard count it ran under (no hand-off: its devices are this shard's alone).
    async fn restart_if_changed(&mut self, want: &Desired) -> Result<(), WorkerError> {
        let Some(p) = &self.producer else {
            return Ok(());
        };
        if !needs_restart(&p.running, p.t0_ms, want) {
            return Ok(());
        }
        let shards = p.shards;
        // A new epoch starts a moment ahead: the old schedule produces everything due until
        // then, and the new one takes over exactly there.
        let wait_ms = (want.t0_ms - unix_now_ms()).clamp(0, 10_000);
        tokio::time::sleep(Duration::from_millis(wait_ms as u64)).await;
        tracing::info!("spec changed: restarting the producer with the new settings");
        self.stop_producer().await;
        self.start_producer(want, shards).await?;
        if let Some(p) = &mut self.producer {
            let now_ns = p.fleet.now_ns();
            p.fleet.take_over(0, shards, |_| now_ns);
            p.shards = shards;
        }
        Ok(())
    }

    /// The re-shard step: release lost devices at once, report the count, and take gained
    /// devices over once every shard has confirmed it.
    async fn reshard(&mut self, want: &Desired, latest: &mut Latest) -> Result<(), WorkerError> {
        let current = self.producer.as_ref().map(|p| p.shards);
        if current == Some(want.shards) {
            return Ok(());
        }
        if let Some(p) = &self.producer {
            self.previous_count = p.shards;
            self.released_at_ns = Some(p.release_for(want.shards).await);
        } else if want.shards > 0 {
            self.start_producer(want, want.shards).await?;
        }
        self.reported_count = want.shards;
        self.report().await;
        if want.shards == 0 || self.index >= want.shards {
            if let Some(p) = &mut self.producer {
                p.shards = want.shards;
            }
            return Ok(());
        }
        let Some((confirmed, entries)) = self.await_confirmation(want.shards, latest).await else {
            return Ok(()); // Shutting down.
        };
        let Some(p) = &mut self.producer else {
            return Ok(());
        };
        // Devices handed over by shards that confirmed start where those shards let go of them.
        // A restarted worker takes its own devices back where its previous process let go of
        // them if it stopped cleanly under the same count; else from now: what a process
        // produced before dying is unknown, and producing it again would duplicate it.
        let resumed = self
            .own_release
            .take()
            .filter(|&(_, count)| current.is_none() && count == want.shards)
            .map(|(cut, _)| cut);
        if resumed.is_some() {
            tracing::info!(
                shard = self.index,
                "resuming the shard's devices where its previous process let go of them"
            );
        }
        let handed_over = confirmed && (current.is_some() || self.fresh_shard || resumed.is_some());
        let starts = TakeOverStarts::new(
            &entries,
            self.index,
            handed_over,
            i128::from(p.t0_ms) * 1_000_000,
            p.fleet.now_ns(),
        )
        .resuming_at(resumed);
        // A new shard knows its devices' old owners from the count the others ran under before.
        // A resumed shard owned all of its devices itself (same count): every one starts at its
        // own cut, never at another shard's older one (that would repeat what it produced).
        let old = match current {
            Some(old) => old,
            None if resumed.is_some() => 0,
            None if handed_over => previous_count(&entries, self.index).unwrap_or(0),
            None => 0,
        };
        let taken = p
            .fleet
            .take_over(old, want.shards, |owner| starts.start_of(owner));
        p.shards = want.shards;
        self.fresh_shard = false;
        if !confirmed {
            self.reporter.handoff_timeouts += taken;
            tracing::warn!(
                taken,
                "hand-off not confirmed in time: took devices over anyway (possible gaps)"
            );
        }
        tracing::info!(
            shard = self.index,
            shards = want.shards,
            taken,
            "re-sharded"
        );
        self.report().await;
        Ok(())
    }

    /// Waits until every shard has confirmed `shards`, or the hand-off timeout; returns whether
    /// it was confirmed and the entries seen last. None on shutdown.
    async fn await_confirmation(
        &self,
        shards: u32,
        latest: &mut Latest,
    ) -> Option<(bool, Vec<ShardStatus>)> {
        let deadline = tokio::time::Instant::now() + self.config.handoff_timeout;
        loop {
            let entries = latest
                .borrow()
                .as_ref()
                .and_then(|s| s.status.as_ref().map(|st| st.shards.clone()))
                .unwrap_or_default();
            if handoff_confirmed(&entries, shards) {
                return Some((true, entries));
            }
            tokio::select! {
                changed = tokio::time::timeout_at(deadline, latest.changed()) => {
                    if !matches!(changed, Ok(Ok(()))) {
                        return Some((false, entries));
                    }
                }
                () = self.shutdown.requested() => return None,
            }
        }
    }

    async fn start_producer(&mut self, want: &Desired, shards: u32) -> Result<(), WorkerError> {
        let client_id = format!("devsim-{}-{}", self.config.simulation, self.index);
        let producer = Producer::start(want, self.index, shards, &client_id).await?;
        self.metrics.set_ready(true);
        self.last_error = None;
        self.failure = None;
        self.producer = Some(producer);
        Ok(())
    }

    async fn report(&mut self) {
        let snapshot = self
            .producer
            .as_ref()
            .map(|p| p.fleet.snapshot(p.sink.as_ref()));
        let mut last_error = self.last_error.clone();
        let mut problem = self.failure.clone();
        if let (Some(p), Some(s)) = (&mut self.producer, snapshot) {
            // Kafka errors count while deliveries keep failing, not forever.
            if s.failed > self.last_failed {
                last_error = last_error.or_else(|| p.sink.stats().last_error());
            }
            self.last_failed = s.failed;
            let faults = p.sink.stats().faults();
            let observed = p.health.observe(&p.sink.stats().observation(&s, &faults));
            problem = problem.or_else(|| observed.map(shard_problem));
            let before = self.previous.unwrap_or(s);
            self.metrics.record(&Observed {
                report: &Report::between(&before, s),
                sink: p.sink.stats(),
                lag_ns: &p.fleet.lag_histogram(),
                devices: p.fleet.devices(),
                buffer_limit: p.running.kafka.buffer_memory,
                new_producer: self.previous.is_none(),
            });
            self.previous = Some(s);
        }
        let state = ShardState {
            shard_count: self.reported_count,
            devices: self.producer.as_ref().map_or(0, |p| p.fleet.devices()),
            snapshot,
            last_error,
            problem,
            buffered_bytes: self.producer.as_ref().map_or(0, |p| {
                p.sink
                    .stats()
                    .buffered_bytes
                    .load(std::sync::atomic::Ordering::Relaxed)
            }),
            stopped: self.stopped,
            previous_shard_count: self.previous_count,
            // Full nanosecond precision: the hand-off is exact to the reading.
            released_at: self
                .released_at_ns
                .and_then(|ns| k8s_openapi::jiff::Timestamp::from_nanosecond(ns).ok())
                .map(|t| t.to_string()),
        };
        if let Err(e) = self.reporter.report(&state).await {
            tracing::warn!(error = %e, "cannot report the shard's figures");
        }
    }
}
