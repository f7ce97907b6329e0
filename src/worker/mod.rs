//! `devsim worker`: one StatefulSet pod, one shard. Derives its shard from its pod's ordinal,
//! watches its DeviceSimulation, runs the shard with the engine's producer tasks, re-shards
//! live with a confirmed hand-off, and reports its figures into `status.shards[]`.

pub mod handoff;
pub mod report;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::Client;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;

use crate::config::{self, ValidatedSimulation};
use crate::crd::{DeviceSimulation, Phase};
use crate::engine::plan::SimulationPlan;
use crate::kafka::{KafkaPlan, KafkaSink};
use crate::metrics::Metrics;
use crate::operator::status::parse_time;
use crate::runtime::{Fleet, FleetConfig, MessageSink, Report, unix_now_ms};
use handoff::handoff_confirmed;
use report::{ShardReporter, ShardState};

/// How long the producer gets to deliver what is queued when the worker stops.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(20);

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

/// The producer this worker runs now.
struct Producer {
    fleet: Fleet,
    sink: Arc<KafkaSink>,
    plan: Arc<SimulationPlan>,
    kafka: KafkaPlan,
    t0_ms: i64,
    /// The shard count it runs under.
    shards: u32,
}

/// Runs the worker until SIGTERM: then stops producing, flushes, reports a final figure.
pub async fn run(client: Client, config: WorkerConfig) -> anyhow::Result<()> {
    let index = handoff::ordinal(&config.pod_name).ok_or_else(|| {
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

    // Keep the latest version of the simulation in a watch channel.
    let (latest_tx, mut latest) = watch::channel::<Option<Arc<DeviceSimulation>>>(None);
    let watch_config =
        watcher::Config::default().fields(&format!("metadata.name={}", config.simulation));
    let stream = watcher(api.clone(), watch_config)
        .default_backoff()
        .applied_objects();
    tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(sim) => {
                    let _ = latest_tx.send(Some(Arc::new(sim)));
                }
                Err(e) => tracing::warn!(error = %e, "watching the simulation"),
            }
        }
    });

    let first = loop {
        latest.changed().await?;
        if let Some(sim) = latest.borrow_and_update().clone() {
            break sim;
        }
    };
    let existing = first
        .status
        .as_ref()
        .and_then(|s| s.shards.iter().find(|e| e.index == index));
    // SIGTERM flips this; a hand-off waiting for confirmation gives up at once.
    let (shutdown_tx, mut signal) = watch::channel(false);
    tokio::spawn(async move {
        crate::cli::termination_signal().await;
        let _ = shutdown_tx.send(true);
    });
    let mut worker = Worker {
        index,
        config: config.clone(),
        reporter: ShardReporter::new(api, &config.simulation, index, existing),
        producer: None,
        reported_count: 0,
        last_error: None,
        metrics,
        last_failed: 0,
        stopped: false,
        shutdown: signal.clone(),
        previous: None,
        released_at_ns: None,
        fresh_shard: existing.is_none(),
        previous_count: 0,
    };
    worker.on_change(&first, &mut latest).await;

    let mut tick = tokio::time::interval(config.report_every);
    loop {
        tokio::select! {
            _ = signal.wait_for(|stop| *stop) => break,
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
    tracing::info!(shard = index, "stopping: flushing the producer");
    worker.stop_producer().await;
    worker.reported_count = 0;
    worker.stopped = true;
    worker.report().await;
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
    metrics: Arc<Metrics>,
    last_failed: u64,
    /// Set for the last report, after the producer has been flushed.
    stopped: bool,
    /// Turns true on SIGTERM.
    shutdown: watch::Receiver<bool>,
    /// The previous report's figures, for the rates on `/metrics`.
    previous: Option<crate::runtime::Snapshot>,
    /// The first instant (Unix ns) after this worker last let go of devices, reported so that
    /// their new owners start exactly there.
    released_at_ns: Option<i128>,
    /// No earlier process reported for this shard: its devices can only come from others.
    fresh_shard: bool,
    /// The shard count this worker ran under before its latest release, reported so that a
    /// new shard knows which shard each of its devices comes from.
    previous_count: u32,
}

impl Worker {
    /// Brings the producer in line with the simulation.
    async fn on_change(
        &mut self,
        sim: &DeviceSimulation,
        latest: &mut watch::Receiver<Option<Arc<DeviceSimulation>>>,
    ) {
        let validated = match config::validate(sim) {
            Ok(v) => v,
            Err(e) => {
                self.last_error = Some(format!("invalid spec: {e}"));
                self.stop_producer().await;
                return;
            }
        };
        let status = sim.status.clone().unwrap_or_default();
        // The current schedule epoch: its start and the sequence number readings resume from.
        let Some(epoch) = status.schedule.clone() else {
            return; // The controller has not started the simulation yet.
        };
        let Some(t0) = parse_time(Some(&epoch.since)) else {
            self.last_error = Some(format!(
                "status.schedule.since is not a time: {:?}",
                epoch.since
            ));
            return;
        };
        let t0_ms = t0.as_millisecond();
        // The interval comes from the epoch, not the spec: an edited interval applies only once
        // the controller has opened its epoch, at the same moment in every worker.
        let mut validated = validated;
        validated.plan.first_seq = epoch.first_seq;
        match config::duration::parse_duration(&epoch.interval) {
            Ok(interval) if !interval.is_zero() => validated.plan.interval = interval,
            _ => {
                self.last_error = Some(format!(
                    "status.schedule.interval is not a duration: {:?}",
                    epoch.interval
                ));
                return;
            }
        }
        let stopped =
            sim.spec.paused || matches!(status.phase, Some(Phase::Completed | Phase::Failed));
        let desired = if stopped { 0 } else { validated.plan.replicas };

        // Anything but the shard count changed: restart the producer under the current count.
        let restart = self.producer.as_ref().is_some_and(|p| {
            p.t0_ms != t0_ms || p.kafka != validated.kafka || !same_plan(&p.plan, &validated.plan)
        });
        if restart {
            let shards = self.producer.as_ref().map_or(0, |p| p.shards);
            // A new epoch starts a moment ahead: the old schedule produces everything due until
            // then, and the new one takes over exactly there.
            let wait_ms = (t0_ms - unix_now_ms()).clamp(0, 10_000);
            tokio::time::sleep(Duration::from_millis(wait_ms as u64)).await;
            tracing::info!("spec changed: restarting the producer with the new settings");
            self.stop_producer().await;
            if let Err(e) = self.start_producer(&validated, t0_ms, shards).await {
                self.last_error = Some(e);
                return;
            }
            // The same shard count as before: its devices are this shard's alone, no hand-off.
            if let Some(p) = &mut self.producer {
                let now_ns = p.fleet.now_ns();
                p.fleet.take_over(0, shards, |_| now_ns);
                p.shards = shards;
            }
        }

        let current = self.producer.as_ref().map(|p| p.shards);
        if current == Some(desired) {
            return;
        }
        // Re-shard. First release, at once, every device this shard no longer owns.
        if let Some(p) = &self.producer {
            // The first instant after the cut: new owners start exactly there.
            self.previous_count = p.shards;
            let cut_ns = p.fleet.release_for(desired).await;
            self.released_at_ns = Some(i128::from(p.t0_ms) * 1_000_000 + i128::from(cut_ns) + 1);
        } else if desired > 0 {
            if let Err(e) = self.start_producer(&validated, t0_ms, desired).await {
                self.last_error = Some(e);
                return;
            }
        }
        self.reported_count = desired;
        self.report().await;
        if desired == 0 || self.index >= desired {
            if let Some(p) = &mut self.producer {
                p.shards = desired;
            }
            return;
        }
        // Then wait until every other shard has confirmed the count before taking devices over.
        let deadline = tokio::time::Instant::now() + self.config.handoff_timeout;
        let (confirmed, entries) = loop {
            let entries = latest
                .borrow()
                .as_ref()
                .and_then(|s| s.status.as_ref().map(|st| st.shards.clone()))
                .unwrap_or_default();
            if handoff_confirmed(&entries, desired) {
                break (true, entries);
            }
            let mut shutdown = self.shutdown.clone();
            tokio::select! {
                changed = tokio::time::timeout_at(deadline, latest.changed()) => {
                    if changed.is_err() {
                        break (false, entries);
                    }
                }
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        };
        // Devices handed over by shards that confirmed start where those shards let go of them,
        // so the hand-off leaves no gap: the readings due meanwhile are produced late, not lost.
        // A restarted worker takes its own devices back from now: what its previous process
        // produced before dying is unknown, and producing it again would duplicate it.
        let Some(p) = &mut self.producer else { return };
        let now_ns = p.fleet.now_ns();
        let handed_over = confirmed && (current.is_some() || self.fresh_shard);
        let t0_ns = i128::from(p.t0_ms) * 1_000_000;
        let now_unix_ns = i128::from(unix_now_ms()) * 1_000_000;
        let cuts = release_cuts(&entries, self.index, now_unix_ns);
        let latest_cut = cuts.values().copied().max();
        let start_of = |owner: Option<u32>| -> u64 {
            if !handed_over {
                return now_ns;
            }
            // The old owner's own cut when it is known; otherwise the latest cut of any shard,
            // which may leave a short gap but never a duplicate.
            owner
                .and_then(|o| cuts.get(&o).copied())
                .or(latest_cut)
                .map_or(now_ns, |ns| u64::try_from(ns - t0_ns).unwrap_or(0))
        };
        // A new shard knows its devices' old owners from the count the others ran under before.
        let old = match current {
            Some(old) => old,
            None if handed_over => previous_count(&entries, self.index).unwrap_or(0),
            None => 0,
        };
        let taken = p.fleet.take_over(old, desired, start_of);
        p.shards = desired;
        self.fresh_shard = false;
        if !confirmed {
            self.reporter.handoff_timeouts += taken;
            tracing::warn!(
                taken,
                "hand-off not confirmed in time: took devices over anyway (possible gaps)"
            );
        }
        tracing::info!(shard = self.index, shards = desired, taken, "re-sharded");
        self.report().await;
    }

    async fn start_producer(
        &mut self,
        validated: &ValidatedSimulation,
        t0_ms: i64,
        shards: u32,
    ) -> Result<(), String> {
        let kafka = validated.kafka.clone();
        let brokers = kafka
            .bootstrap_servers
            .clone()
            .ok_or("spec.kafka.bootstrapServers must be set for workers in a cluster")?;
        let client_id = format!("devsim-{}-{}", self.config.simulation, self.index);
        let sink =
            Arc::new(KafkaSink::new(&kafka, &brokers, &client_id).map_err(|e| e.to_string())?);
        let probe = Arc::clone(&sink);
        let reachable =
            tokio::task::spawn_blocking(move || probe.check_reachable(Duration::from_secs(10)))
                .await
                .map_err(|e| e.to_string())?;
        if let Err(e) = reachable {
            return Err(format!("Kafka at {brokers} is unreachable: {e}"));
        }
        let mut plan = validated.plan.clone();
        plan.replicas = shards.max(1);
        let plan = Arc::new(plan);
        let fleet = Fleet::start(
            &FleetConfig {
                plan: Arc::clone(&plan),
                shards: vec![self.index],
                unix_t0_ms: t0_ms,
                unix_start_ms: unix_now_ms(),
                exit_when_done: false,
                idle: true,
            },
            Arc::clone(&sink),
        );
        self.metrics.set_ready(true);
        self.last_error = None;
        self.producer = Some(Producer {
            fleet,
            sink,
            plan,
            kafka,
            t0_ms,
            shards: 0,
        });
        Ok(())
    }

    async fn stop_producer(&mut self) {
        let Some(mut p) = self.producer.take() else {
            return;
        };
        self.metrics.set_ready(false);
        p.fleet.stop();
        p.fleet.join().await;
        // No reading due after this instant came from this producer.
        self.released_at_ns = Some(i128::from(unix_now_ms() + 1) * 1_000_000);
        let sink = Arc::clone(&p.sink);
        let _ = tokio::task::spawn_blocking(move || sink.flush(FLUSH_TIMEOUT)).await;
        let snapshot = p.fleet.snapshot(p.sink.as_ref());
        self.reporter.retire(&snapshot);
        self.last_failed = 0;
        self.previous = None;
    }

    async fn report(&mut self) {
        let snapshot = self
            .producer
            .as_ref()
            .map(|p| p.fleet.snapshot(p.sink.as_ref()));
        let mut last_error = self.last_error.clone();
        if let (Some(p), Some(s)) = (&self.producer, snapshot) {
            // Kafka errors count while deliveries keep failing, not forever.
            if s.failed > self.last_failed {
                last_error = last_error.or_else(|| p.sink.stats().last_error());
            }
            self.last_failed = s.failed;
            let before = self.previous.unwrap_or(s);
            self.metrics
                .record(&Report::between(&before, s), p.sink.stats());
            self.previous = Some(s);
        }
        let state = ShardState {
            shard_count: self.reported_count,
            devices: self.producer.as_ref().map_or(0, |p| p.fleet.devices()),
            snapshot,
            last_error,
            stopped: self.stopped,
            // Full nanosecond precision: the hand-off is exact to the reading.
            previous_shard_count: self.previous_count,
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

/// The instants (Unix ns) at which the other shards last let go of devices, by shard index:
/// where their devices' new owners start. Cuts older than a minute are moved up to then
/// (older readings are not worth catching up on); a start is never before a cut, so never a
/// duplicate.
fn release_cuts(
    entries: &[crate::crd::ShardStatus],
    me: u32,
    now_ns: i128,
) -> std::collections::HashMap<u32, i128> {
    entries
        .iter()
        .filter(|e| e.index != me)
        .filter_map(|e| {
            Some((
                e.index,
                parse_time(e.released_at.as_deref())?.as_nanosecond(),
            ))
        })
        .map(|(index, ns)| (index, ns.max(now_ns - 60_000_000_000)))
        .collect()
}

/// The shard count every other live shard ran under before the current hand-off, if they
/// agree on one below `me` (a new shard's devices came from shards below it).
fn previous_count(entries: &[crate::crd::ShardStatus], me: u32) -> Option<u32> {
    let mut counts = entries
        .iter()
        .filter(|e| e.index != me && e.previous_shard_count > 0)
        .map(|e| e.previous_shard_count);
    let first = counts.next()?;
    (first <= me && counts.all(|c| c == first)).then_some(first)
}

/// Whether two plans differ only in their shard count.
fn same_plan(a: &SimulationPlan, b: &SimulationPlan) -> bool {
    let mut b = b.clone();
    b.replicas = a.replicas;
    *a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::ShardStatus;

    fn entry(index: u32, previous: u32, released_at: Option<&str>) -> ShardStatus {
        ShardStatus {
            index,
            shard_count: 3,
            previous_shard_count: previous,
            released_at: released_at.map(str::to_owned),
            ..ShardStatus::default()
        }
    }

    #[test]
    fn a_new_shard_learns_where_its_devices_come_from() {
        let entries = [entry(0, 2, None), entry(1, 2, None), entry(2, 0, None)];
        assert_eq!(previous_count(&entries, 2), Some(2));
        // Disagreement (an overlapping re-shard) gives no answer: fall back to the latest cut.
        let mixed = [entry(0, 2, None), entry(1, 4, None)];
        assert_eq!(previous_count(&mixed, 2), None);
        // A count above the new shard cannot be where its devices came from.
        assert_eq!(previous_count(&[entry(0, 5, None)], 2), None);
    }

    #[test]
    fn cuts_are_read_with_nanosecond_precision_and_bounded_to_a_minute() {
        let now = i128::from(1_764_000_000_000i64) * 1_000_000;
        let entries = [
            entry(0, 2, Some("2025-11-24T16:00:00.000000001Z")),
            entry(1, 2, Some("2025-11-24T15:00:00Z")),
            entry(2, 2, Some("2025-11-24T16:00:00Z")),
        ];
        let cuts = release_cuts(&entries, 2, now);
        assert_eq!(cuts.len(), 2, "a worker ignores its own cut");
        let exact: k8s_openapi::jiff::Timestamp =
            "2025-11-24T16:00:00.000000001Z".parse().expect("time");
        assert_eq!(cuts[&0], exact.as_nanosecond().max(now - 60_000_000_000));
        assert_eq!(
            cuts[&1],
            now - 60_000_000_000,
            "an hour-old cut is moved up to a minute ago"
        );
    }
}
