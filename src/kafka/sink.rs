//! The Kafka sink: a librdkafka producer keyed by device ID, with delivery reports counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rdkafka::ClientContext;
use rdkafka::Message;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::statistics::Statistics;

use super::config::{MESSAGE_OVERHEAD_BYTES, producer_config};
use super::credentials::Credentials;
use super::fault::{FailReason, client_error_cause, delivery_error_cause};
use super::pump::{self, DeliveryPump};
use super::repeats::{REPEAT_PERIOD, Repeat, RepeatLimiter};
use super::statistics::ClientFigures;
use crate::engine::plan::KafkaPlan;
use crate::engine::worker::Delivery;
use crate::runtime::health::{Cause, Fault, Observation};
use crate::runtime::{FlushError, MessageSink, Snapshot};
use rdkafka::config::RDKafkaLogLevel;

/// Delivery figures of one producer, written from librdkafka's callback thread.
#[derive(Debug)]
pub struct SinkStats {
    /// Messages acknowledged by the brokers.
    pub delivered: AtomicU64,
    /// Messages whose delivery failed.
    pub failed: AtomicU64,
    /// Failed messages (failed deliveries and refusals) by [`FailReason::index`].
    failed_by_reason: [AtomicU64; FailReason::ALL.len()],
    /// Bytes (keys and values) of messages handed to librdkafka.
    pub sent_bytes: AtomicU64,
    /// Bytes (keys and values) of messages acknowledged.
    pub delivered_bytes: AtomicU64,
    /// Bytes (keys and values) of messages failed.
    pub failed_bytes: AtomicU64,
    /// librdkafka's figures from its latest statistics report.
    client: Mutex<Option<ClientFigures>>,
    /// Bytes of messages awaiting acknowledgement, librdkafka's bookkeeping included: what
    /// `bufferMemory` bounds.
    pub buffered_bytes: AtomicU64,
    /// Microseconds after the sink's epoch of the latest successful delivery, plus one
    /// (0: none yet).
    last_delivery_us: AtomicU64,
    /// Time from hand-over to acknowledgement, in microseconds.
    latency_us: Mutex<Histogram<u64>>,
    /// The most recent delivery or client error, for the status and the log.
    last_error: Mutex<Option<String>>,
    /// The latest fault of each cause.
    faults: Mutex<Vec<Fault>>,
    /// The instant `last_delivery_us` counts from.
    epoch: Instant,
}

impl Default for SinkStats {
    fn default() -> Self {
        Self {
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            failed_by_reason: Default::default(),
            sent_bytes: AtomicU64::new(0),
            delivered_bytes: AtomicU64::new(0),
            failed_bytes: AtomicU64::new(0),
            client: Mutex::new(None),
            buffered_bytes: AtomicU64::new(0),
            last_delivery_us: AtomicU64::new(0),
            latency_us: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("static bounds are valid"),
            ),
            last_error: Mutex::new(None),
            faults: Mutex::new(Vec::new()),
            epoch: Instant::now(),
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

    /// Every delivery latency so far, in microseconds.
    pub fn latency_histogram(&self) -> Histogram<u64> {
        self.latency_us
            .lock()
            .expect("latency lock is never poisoned")
            .clone()
    }

    /// Failed messages so far of `reason`.
    pub fn failed_of(&self, reason: FailReason) -> u64 {
        self.failed_by_reason[reason.index()].load(Ordering::Relaxed)
    }

    /// librdkafka's figures from its latest statistics report, once one has come.
    pub fn client_figures(&self) -> Option<ClientFigures> {
        self.client
            .lock()
            .expect("statistics lock is never poisoned")
            .clone()
    }

    /// The most recent error, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .expect("error lock is never poisoned")
            .clone()
    }

    /// The latest fault of each cause the client reported.
    pub fn faults(&self) -> Vec<Fault> {
        self.faults
            .lock()
            .expect("fault lock is never poisoned")
            .clone()
    }

    /// Delivery reports served so far, successes and failures.
    fn reports_served(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }

    /// What [`Health`](crate::runtime::health::Health) needs to judge the producer, from the
    /// fleet's `snapshot` and these figures; `faults` is [`Self::faults`].
    pub fn observation<'a>(&self, snapshot: &Snapshot, faults: &'a [Fault]) -> Observation<'a> {
        Observation {
            at: snapshot.at,
            failed: snapshot.failed,
            in_flight: snapshot.in_flight,
            last_delivery: self.last_delivery(),
            behind: Duration::from_secs_f64(snapshot.behind_ms / 1e3),
            blocked: snapshot.blocked,
            faults,
        }
    }

    /// When the latest delivery succeeded.
    pub fn last_delivery(&self) -> Option<Instant> {
        match self.last_delivery_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(self.epoch + Duration::from_micros(us - 1)),
        }
    }

    fn record_error(&self, error: String) {
        *self
            .last_error
            .lock()
            .expect("error lock is never poisoned") = Some(error);
    }

    /// Records a fault of `cause`. A `summary` (librdkafka's "N/M brokers are down", whose
    /// counts include bootstrap entries and can read "0/6") only refreshes the time of a fault
    /// already known, keeping its more specific message (which broker, what failed).
    fn record_fault(&self, cause: Cause, message: String, summary: bool) {
        let at = Instant::now();
        let mut faults = self.faults.lock().expect("fault lock is never poisoned");
        match faults.iter_mut().find(|f| f.cause == cause) {
            Some(latest) if summary => latest.at = at,
            Some(latest) => *latest = Fault { cause, message, at },
            None => faults.push(Fault { cause, message, at }),
        }
    }

    fn count_failure(&self, error: &KafkaError, bytes: usize) {
        self.failed_by_reason[FailReason::of(error).index()].fetch_add(1, Ordering::Relaxed);
        self.failed_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    fn delivered_at(&self, now: Instant) {
        let us = now.saturating_duration_since(self.epoch).as_micros() as u64 + 1;
        self.last_delivery_us.fetch_max(us, Ordering::Relaxed);
    }
}

/// What a message weighs against `bufferMemory`.
fn buffer_cost(key_len: usize, payload_len: usize) -> u64 {
    (key_len + payload_len) as u64 + MESSAGE_OVERHEAD_BYTES
}

/// Receives librdkafka's callbacks. The delivery opaque is the hand-over time in microseconds
/// since `epoch`, so measuring latency needs no allocation per message.
struct SinkContext {
    stats: Arc<SinkStats>,
    /// The topic whose batch figures the statistics keep.
    topic: String,
    epoch: Instant,
    /// Each distinct client problem is logged once, then once a period with its count.
    repeats: RepeatLimiter,
}

impl ClientContext for SinkContext {
    fn stats(&self, statistics: Statistics) {
        let figures = ClientFigures::from_statistics(&statistics, &self.topic);
        *self
            .stats
            .client
            .lock()
            .expect("statistics lock is never poisoned") = Some(figures);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.stats.record_error(format!("{error}: {reason}"));
        if let Some(cause) = client_error_cause(&error, reason) {
            let summary = error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown);
            self.stats.record_fault(cause, reason.to_owned(), summary);
        }
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
        let message = match result {
            Ok(message) | Err((_, message)) => message,
        };
        let bytes = message.key().map_or(0, <[u8]>::len) + message.payload_len();
        self.stats
            .buffered_bytes
            .fetch_sub(buffer_cost(bytes, 0), Ordering::Relaxed);
        match result {
            Ok(_) => {
                self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .delivered_bytes
                    .fetch_add(bytes as u64, Ordering::Relaxed);
                let now = Instant::now();
                self.stats.delivered_at(now);
                let now_us = now.saturating_duration_since(self.epoch).as_micros() as u64;
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
                self.stats.count_failure(error, bytes);
                self.stats.record_error(error.to_string());
                self.stats
                    .record_fault(delivery_error_cause(error), error.to_string(), false);
            }
        }
    }
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
