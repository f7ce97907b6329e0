//! The Kafka sink: a librdkafka producer keyed by device ID, with delivery reports counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::statistics::Statistics;

use super::config::producer_config;
use super::repeats::{REPEAT_PERIOD, Repeat, RepeatLimiter};
use crate::engine::plan::KafkaPlan;
use crate::engine::worker::Delivery;
use crate::runtime::{FlushError, MessageSink};
use rdkafka::config::RDKafkaLogLevel;

/// Delivery figures of one producer, written from librdkafka's callback thread.
#[derive(Debug)]
pub struct SinkStats {
    /// Messages acknowledged by the brokers.
    pub delivered: AtomicU64,
    /// Messages whose delivery failed.
    pub failed: AtomicU64,
    /// Messages waiting in librdkafka's queues, from its last statistics report.
    pub queued: AtomicU64,
    /// Bytes sent to brokers, from its last statistics report.
    pub tx_bytes: AtomicU64,
    /// Time from hand-over to acknowledgement, in microseconds.
    latency_us: Mutex<Histogram<u64>>,
    /// The most recent delivery or client error, for the status and the log.
    last_error: Mutex<Option<String>>,
}

impl Default for SinkStats {
    fn default() -> Self {
        Self {
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            tx_bytes: AtomicU64::new(0),
            latency_us: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("static bounds are valid"),
            ),
            last_error: Mutex::new(None),
        }
    }
}

impl SinkStats {
    /// Delivery latency percentile `q` (0..1) so far.
    pub fn latency_percentile(&self, q: f64) -> Duration {
        let h = self
            .latency_us
            .lock()
            .expect("latency lock is never poisoned");
        Duration::from_micros(h.value_at_quantile(q))
    }

    /// The most recent error, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .expect("error lock is never poisoned")
            .clone()
    }

    fn record_error(&self, error: String) {
        *self
            .last_error
            .lock()
            .expect("error lock is never poisoned") = Some(error);
    }
}

/// Receives librdkafka's callbacks. The delivery opaque is the hand-over time in microseconds
/// since `epoch`, so measuring latency needs no allocation per message.
struct SinkContext {
    stats: Arc<SinkStats>,
    epoch: Instant,
    /// Each distinct client problem is logged once, then once a period with its count.
    repeats: RepeatLimiter,
}

impl ClientContext for SinkContext {
    fn stats(&self, statistics: Statistics) {
        self.stats
            .queued
            .store(statistics.msg_cnt, Ordering::Relaxed);
        self.stats.tx_bytes.store(
            u64::try_from(statistics.tx_bytes).unwrap_or(0),
            Ordering::Relaxed,
        );
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.stats.record_error(format!("{error}: {reason}"));
        match self.repeats.occur(&error.to_string(), Instant::now()) {
            Repeat::Log => tracing::warn!(%error, reason, "kafka client error"),
            Repeat::LogAfter(repeats) => {
                tracing::warn!(%error, reason, repeats, "kafka client error, still")
            }
            Repeat::Hold => {}
        }
    }

    /// librdkafka's own log lines. Connection failures (`FAIL`) also arrive through `error`,
    /// which logs them; here they only go to debug, so each failure is logged once.
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        use RDKafkaLogLevel::{Alert, Critical, Debug, Emerg, Error, Info, Notice, Warning};
        match level {
            _ if facility == "FAIL" => tracing::debug!(facility, message, "librdkafka"),
            Emerg | Alert | Critical | Error | Warning => {
                match self
                    .repeats
                    .occur(&format!("log:{facility}"), Instant::now())
                {
                    Repeat::Log => tracing::warn!(facility, message, "librdkafka"),
                    Repeat::LogAfter(repeats) => {
                        tracing::warn!(facility, message, repeats, "librdkafka, still")
                    }
                    Repeat::Hold => {}
                }
            }
            Notice | Info => tracing::info!(facility, message, "librdkafka"),
            Debug => tracing::debug!(facility, message, "librdkafka"),
        }
    }
}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_at_us: usize) {
        match result {
            Ok(_) => {
                self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                let now_us = self.epoch.elapsed().as_micros() as u64;
                let latency = now_us.saturating_sub(sent_at_us as u64).max(1);
                let _ = self
                    .stats
                    .latency_us
                    .lock()
                    .expect("latency lock is never poisoned")
                    .record(latency);
            }
            Err((error, _)) => {
                // The first failures are worth a log line; after that the counter tells.
                if self.stats.failed.fetch_add(1, Ordering::Relaxed) < 10 {
                    tracing::warn!(%error, "message delivery failed");
                }
                self.stats.record_error(error.to_string());
            }
        }
    }
}

/// Produces messages to one topic.
pub struct KafkaSink {
    producer: ThreadedProducer<SinkContext>,
    topic: String,
    stats: Arc<SinkStats>,
    epoch: Instant,
}

/// Why the producer could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the Kafka producer: {0}")]
pub struct SinkError(#[from] KafkaError);

impl KafkaSink {
    /// A producer for `plan`'s topic on `bootstrap_servers`.
    pub fn new(
        plan: &KafkaPlan,
        bootstrap_servers: &str,
        client_id: &str,
    ) -> Result<Self, SinkError> {
        let stats = Arc::new(SinkStats::default());
        let epoch = Instant::now();
        let context = SinkContext {
            stats: Arc::clone(&stats),
            epoch,
            repeats: RepeatLimiter::new(REPEAT_PERIOD),
        };
        let producer =
            producer_config(plan, bootstrap_servers, client_id).create_with_context(context)?;
        Ok(Self {
            producer,
            topic: plan.topic.clone(),
            stats,
            epoch,
        })
    }

    /// Delivery figures.
    pub fn stats(&self) -> &Arc<SinkStats> {
        &self.stats
    }

    /// Asks the brokers for the topic's metadata: a quick check that they are reachable.
    pub fn check_reachable(&self, timeout: Duration) -> Result<usize, KafkaError> {
        let metadata = self
            .producer
            .client()
            .fetch_metadata(Some(&self.topic), timeout)?;
        Ok(metadata
            .topics()
            .first()
            .map_or(0, |t| t.partitions().len()))
    }
}

impl MessageSink for KafkaSink {
    #[inline]
    fn try_send(&self, key: &[u8], payload: &[u8], timestamp_ms: i64) -> Delivery {
        let sent_at_us = self.epoch.elapsed().as_micros() as usize;
        let record = BaseRecord::with_opaque_to(&self.topic, sent_at_us)
            .key(key)
            .payload(payload)
            .timestamp(timestamp_ms);
        match self.producer.send(record) {
            Ok(()) => Delivery::Accepted,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                Delivery::QueueFull
            }
            Err((error, _)) => {
                self.stats.record_error(error.to_string());
                Delivery::Rejected
            }
        }
    }

    fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        self.producer.flush(timeout).map_err(|e| FlushError {
            in_flight: self.in_flight(),
            timeout,
            reason: e.to_string(),
        })
    }

    fn in_flight(&self) -> u64 {
        self.producer.in_flight_count().max(0) as u64
    }

    fn delivered(&self) -> u64 {
        self.stats.delivered.load(Ordering::Relaxed)
    }

    fn failed(&self) -> u64 {
        self.stats.failed.load(Ordering::Relaxed)
    }
}
