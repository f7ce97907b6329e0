//! librdkafka's callbacks into a sink: delivery reports counted, client errors and log lines
//! recorded as faults and logged without repeating themselves.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use rdkafka::ClientContext;
use rdkafka::Message;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::ProducerContext;
use rdkafka::statistics::Statistics;

use super::super::fault::{client_error_cause, delivery_error_cause};
use super::super::repeats::{Repeat, RepeatLimiter};
use super::super::statistics::ClientFigures;
use super::buffer_cost;
use super::stats::SinkStats;

/// Receives librdkafka's callbacks. The delivery opaque is the hand-over time in microseconds
/// since `epoch`, so measuring latency needs no allocation per message.
pub(super) struct SinkContext {
    pub(super) stats: Arc<SinkStats>,
    /// The topic whose batch figures the statistics keep.
    pub(super) topic: String,
    pub(super) epoch: Instant,
    /// Each distinct client problem is logged once, then once a period with its count.
    pub(super) repeats: RepeatLimiter,
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
