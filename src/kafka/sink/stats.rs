//! Delivery figures of one producer: counts, bytes, latency, the latest faults.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rdkafka::error::KafkaError;

use super::super::fault::FailReason;
use super::super::statistics::ClientFigures;
use crate::runtime::Snapshot;
use crate::runtime::health::{Cause, Fault, Observation};

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
    pub(super) client: Mutex<Option<ClientFigures>>,
    /// Bytes of messages awaiting acknowledgement, librdkafka's bookkeeping included: what
    /// `bufferMemory` bounds.
    pub buffered_bytes: AtomicU64,
    /// Microseconds after the sink's epoch of the latest successful delivery, plus one
    /// (0: none yet).
    last_delivery_us: AtomicU64,
    /// Time from hand-over to acknowledgement, in microseconds.
    pub(super) latency_us: Mutex<Histogram<u64>>,
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
    pub(super) fn reports_served(&self) -> u64 {
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

    pub(super) fn record_error(&self, error: String) {
        *self
            .last_error
            .lock()
            .expect("error lock is never poisoned") = Some(error);
    }

    /// Records a fault of `cause`. A `summary` (librdkafka's "N/M brokers are down", whose
    /// counts include bootstrap entries and can read "0/6") only refreshes the time of a fault
    /// already known, keeping its more specific message (which broker, what failed).
    pub(super) fn record_fault(&self, cause: Cause, message: String, summary: bool) {
        let at = Instant::now();
        let mut faults = self.faults.lock().expect("fault lock is never poisoned");
        match faults.iter_mut().find(|f| f.cause == cause) {
            Some(latest) if summary => latest.at = at,
            Some(latest) => *latest = Fault { cause, message, at },
            None => faults.push(Fault { cause, message, at }),
        }
    }

    pub(super) fn count_failure(&self, error: &KafkaError, bytes: usize) {
        self.failed_by_reason[FailReason::of(error).index()].fetch_add(1, Ordering::Relaxed);
        self.failed_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(super) fn delivered_at(&self, now: Instant) {
        let us = now.saturating_duration_since(self.epoch).as_micros() as u64 + 1;
        self.last_delivery_us.fetch_max(us, Ordering::Relaxed);
    }
}
