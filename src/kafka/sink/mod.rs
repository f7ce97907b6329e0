//! The Kafka sink: a librdkafka producer keyed by device ID, with delivery reports counted.

mod context;
mod stats;

pub use stats::SinkStats;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use super::config::{MESSAGE_OVERHEAD_BYTES, producer_config};
use super::credentials::Credentials;
use super::fault::delivery_error_cause;
use super::pump::{self, DeliveryPump};
use super::repeats::{REPEAT_PERIOD, RepeatLimiter};
use crate::engine::plan::KafkaPlan;
use crate::engine::worker::Delivery;
use crate::runtime::health::Cause;
use crate::runtime::{FlushError, MessageSink};
use context::SinkContext;

/// What a message weighs against `bufferMemory`.
fn buffer_cost(key_len: usize, payload_len: usize) -> u64 {
    (key_len + payload_len) as u64 + MESSAGE_OVERHEAD_BYTES
}

/// Produces messages to one topic.
pub struct KafkaSink {
    producer: Arc<BaseProducer<SinkContext>>,
    /// Serves delivery reports while no producer task does; stopped when the sink goes.
    _pump: DeliveryPump,
    topic: String,
    stats: Arc<SinkStats>,
    epoch: Instant,
    /// `bufferMemory`: what `buffered_bytes` may reach.
    buffer_limit: u64,
}

/// Why the producer could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// librdkafka refused the settings.
    #[error("cannot create the Kafka producer: {0}")]
    Client(#[from] KafkaError),
    /// The thread that serves delivery reports could not start.
    #[error("cannot create the Kafka producer: cannot start its delivery thread: {0}")]
    Thread(#[from] std::io::Error),
}

impl KafkaSink {
    /// A producer for `plan`'s topic on `bootstrap_servers`, with the secrets `plan`'s security
    /// needs.
    pub fn new(
        plan: &KafkaPlan,
        bootstrap_servers: &str,
        client_id: &str,
        credentials: &Credentials,
    ) -> Result<Self, SinkError> {
        let stats = Arc::new(SinkStats::default());
        let epoch = Instant::now();
        let context = SinkContext {
            stats: Arc::clone(&stats),
            topic: plan.topic.clone(),
            epoch,
            repeats: RepeatLimiter::new(REPEAT_PERIOD),
        };
        let producer: Arc<BaseProducer<SinkContext>> = Arc::new(
            producer_config(plan, bootstrap_servers, client_id, credentials)
                .create_with_context(context)?,
        );
        let served = Arc::clone(&stats);
        let pump = DeliveryPump::start(Arc::clone(&producer), move || served.reports_served())?;
        Ok(Self {
            producer,
            _pump: pump,
            topic: plan.topic.clone(),
            stats,
            epoch,
            buffer_limit: plan.buffer_memory,
        })
    }

    /// Delivery figures.
    pub fn stats(&self) -> &Arc<SinkStats> {
        &self.stats
    }

    /// What the client reported when a broker refused its credentials or its TLS handshake,
    /// if one did: the reason behind a failed [`Self::check_reachable`].
    pub fn refusal(&self) -> Option<String> {
        self.stats
            .faults()
            .into_iter()
            .find(|f| f.cause == Cause::AuthenticationFailed)
            .map(|f| f.message)
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
        // Room is reserved first, so producer tasks sharing the sink never overshoot together;
        // an empty buffer takes any message, however large.
        let cost = buffer_cost(key.len(), payload.len());
        let buffered = &self.stats.buffered_bytes;
        let before = buffered.fetch_add(cost, Ordering::Relaxed);
        if before > 0 && before + cost > self.buffer_limit {
            buffered.fetch_sub(cost, Ordering::Relaxed);
            return Delivery::QueueFull;
        }
        let sent_at_us = self.epoch.elapsed().as_micros() as usize;
        let record = BaseRecord::with_opaque_to(&self.topic, sent_at_us)
            .key(key)
            .payload(payload)
            .timestamp(timestamp_ms);
        match self.producer.send(record) {
            Ok(()) => {
                self.stats
                    .sent_bytes
                    .fetch_add((key.len() + payload.len()) as u64, Ordering::Relaxed);
                Delivery::Accepted
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                buffered.fetch_sub(cost, Ordering::Relaxed);
                Delivery::QueueFull
            }
            Err((error, _)) => {
                buffered.fetch_sub(cost, Ordering::Relaxed);
                self.stats.count_failure(&error, key.len() + payload.len());
                self.stats.record_error(error.to_string());
                self.stats
                    .record_fault(delivery_error_cause(&error), error.to_string(), false);
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

    fn serve_deliveries(&self) {
        pump::serve(&self.producer, || self.stats.reports_served());
    }

    fn failed(&self) -> u64 {
        self.stats.failed.load(Ordering::Relaxed)
    }
}
