//! The worker's producer step: a Kafka sink and the engine's producer tasks for this shard,
//! started once Kafka answers, and stopped with a flush.

use std::sync::Arc;
use std::time::Duration;

use super::desired::Desired;
use super::error::WorkerError;
use crate::config::ValidatedSimulation;
use crate::kafka::{KafkaSink, SinkStats, resolve_credentials};
use crate::runtime::health::Health;
use crate::runtime::{Fleet, FleetConfig, MessageSink, Snapshot, unix_now_ms};
use hdrhistogram::Histogram;

/// How long a new producer waits for a broker to answer before the worker reports Kafka as
/// unreachable (and tries again on its next tick).
const REACHABLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the producer gets to deliver what is queued when it stops.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(20);

/// The producer a worker runs now.
pub struct Producer {
    /// The producer tasks.
    pub fleet: Fleet,
    /// Their Kafka sink.
    pub sink: Arc<KafkaSink>,
    /// What it runs (its plan's shard count is the one it was started under).
    pub running: ValidatedSimulation,
    /// Start of the schedule epoch it runs in (Unix ms).
    pub t0_ms: i64,
    /// The shard count it runs under now; 0 until its first take-over.
    pub shards: u32,
    /// Whether Kafka takes what it produces, judged at every report.
    pub health: Health,
}

/// A stopped producer's final figures.
pub struct Stopped {
    /// Its totals; what was never acknowledged counts as failed.
    pub snapshot: Snapshot,
    /// Schedule lag of every reading it handed over (ns).
    pub lag_ns: Histogram<u64>,
    /// Its sink's delivery figures.
    pub sink: Arc<SinkStats>,
    /// The `bufferMemory` it ran with.
    pub buffer_limit: u64,
}

impl Producer {
    /// Lets go of every device the shard loses going to `shards` shards (0: all of them) at
    /// one cut; returns the first instant (Unix ns) after it, where their new owners start.
    pub async fn release_for(&self, shards: u32) -> i128 {
        let cut_ns = self.fleet.release_for(shards).await;
        i128::from(self.t0_ms) * 1_000_000 + i128::from(cut_ns) + 1
    }

    /// Starts shard `index` of `desired` under `shards` shards (owning no device yet: the
    /// caller takes devices over), once a broker answers.
    pub async fn start(
        desired: &Desired,
        index: u32,
        shards: u32,
        client_id: &str,
    ) -> Result<Self, WorkerError> {
        let kafka = &desired.validated.kafka;
        let brokers = kafka
            .bootstrap_servers
            .clone()
            .ok_or(WorkerError::NoBootstrapServers)?;
        // From the environment the operator filled from the simulation's Secrets.
        let credentials =
            resolve_credentials(&kafka.security, None).map_err(WorkerError::Credentials)?;
        let sink = Arc::new(
            KafkaSink::new(kafka, &brokers, client_id, &credentials)
                .map_err(WorkerError::Producer)?,
        );
        let probe = Arc::clone(&sink);
        // librdkafka's metadata call blocks; keep it off the async threads.
        let reachable =
            tokio::task::spawn_blocking(move || probe.check_reachable(REACHABLE_TIMEOUT)).await;
        match reachable {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                // A broker that refused the credentials or the TLS handshake answered, but
                // the metadata call only says it failed: the client's own report says why.
                return Err(match sink.refusal() {
                    Some(reason) => WorkerError::Refused { brokers, reason },
                    None => WorkerError::Unreachable {
                        brokers,
                        reason: e.to_string(),
                    },
                });
            }
            Err(e) => {
                return Err(WorkerError::Unreachable {
                    brokers,
                    reason: format!("the reachability check did not finish: {e}"),
                });
            }
        }
        let mut running = desired.validated.clone();
        running.plan.replicas = shards.max(1);
        let fleet = Fleet::start(
            &FleetConfig {
                plan: Arc::new(running.plan.clone()),
                shards: vec![index],
                unix_t0_ms: desired.t0_ms,
                unix_start_ms: unix_now_ms(),
                exit_when_done: false,
                idle: true,
            },
            Arc::clone(&sink),
        );
        Ok(Self {
            fleet,
            sink,
            health: Health::new(&brokers, kafka.buffer_memory),
            running,
            t0_ms: desired.t0_ms,
            shards: 0,
        })
    }

    /// Stops the producer tasks, flushes what is queued, and returns the final figures. What
    /// Kafka has not acknowledged by the flush deadline is lost with the producer: it is
    /// counted as failed, so the totals still add up.
    pub async fn stop(mut self) -> Stopped {
        self.fleet.stop();
        self.fleet.join().await;
        let sink = Arc::clone(&self.sink);
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || sink.flush(FLUSH_TIMEOUT)).await {
            tracing::warn!(
                error = %e,
                lost = e.in_flight,
                "the producer stopped before Kafka acknowledged everything: counted as failed"
            );
        }
        let mut last = self.fleet.snapshot(self.sink.as_ref());
        last.failed += last.in_flight;
        last.in_flight = 0;
        Stopped {
            snapshot: last,
            lag_ns: self.fleet.lag_histogram(),
            sink: Arc::clone(self.sink.stats()),
            buffer_limit: self.running.kafka.buffer_memory,
        }
    }
}
