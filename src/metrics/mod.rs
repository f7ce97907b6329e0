//! Prometheus metrics of a simulation process (`devsim worker`, `devsim run`) and the admin
//! endpoints every devsim process serves. [`catalog`] lists every metric.
//!
//! Hot paths never touch these: producer tasks and librdkafka's callbacks keep plain counters
//! and hdrhistograms, and the once-a-second report folds what changed since the last one in
//! here, so counters survive a producer being replaced (a spec change, a pause).

pub mod catalog;
mod families;
mod histogram;
mod serve;
mod system;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use hdrhistogram::Histogram;
use prometheus::core::Collector;
use prometheus::{
    Gauge, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::kafka::{ClientFigures, FailReason, SinkStats};
use crate::runtime::Report;
pub use catalog::{FAMILIES, Family, Kind, Served};
pub use histogram::{BucketHistogram, SinceLast};
pub use serve::{AdminState, render_registry, serve};
pub use system::{memory_limit_bytes, peak_resident_memory_bytes, status_bytes};

/// What one report period observed of the producer.
pub struct Observed<'a> {
    /// Totals (since the producer started) and rates.
    pub report: &'a Report,
    /// The sink's delivery figures.
    pub sink: &'a SinkStats,
    /// Schedule lag of every reading the producer handed over, in nanoseconds.
    pub lag_ns: &'a Histogram<u64>,
    /// Devices the producer owns.
    pub devices: u64,
    /// `spec.kafka.bufferMemory`.
    pub buffer_limit: u64,
    /// These are the first figures of a new producer: its totals start from 0.
    pub new_producer: bool,
}

/// The metrics of one simulation process.
pub struct Metrics {
    registry: Registry,
    sent: IntCounter,
    delivered: IntCounter,
    failed: IntCounterVec,
    dropped: IntCounter,
    skipped: IntCounter,
    bytes_sent: IntCounter,
    bytes_delivered: IntCounter,
    bytes_failed: IntCounter,
    latency: BucketHistogram,
    lag: BucketHistogram,
    rate: Gauge,
    devices: IntGauge,
    in_flight: IntGauge,
    buffered: IntGauge,
    buffer_limit: IntGauge,
    behind: Gauge,
    queue_messages: IntGauge,
    queue_bytes: IntGauge,
    kafka: KafkaMetrics,
    seen: Mutex<Seen>,
    ready: AtomicBool,
}

/// librdkafka's statistics as metrics.
struct KafkaMetrics {
    tx_bytes: IntCounter,
    up: IntGaugeVec,
    requests: IntCounterVec,
    request_errors: IntCounterVec,
    retries: IntCounterVec,
    timeouts: IntCounterVec,
    connects: IntCounterVec,
    disconnects: IntCounterVec,
    waiting: IntGaugeVec,
    rtt: GaugeVec,
    batch_bytes: GaugeVec,
    batch_messages: GaugeVec,
}

/// The producer's totals at the previous report, to fold in only what changed since.
#[derive(Default)]
struct Seen {
    totals: HashMap<String, u64>,
    latency: SinceLast,
    lag: SinceLast,
}

impl Seen {
    /// Adds to `counter` what the producer's total `key` gained since the last call (all of it
    /// when the total went down: the producer was replaced).
    fn advance(&mut self, key: &str, counter: &IntCounter, total: u64) {
        let before = self.totals.insert(key.to_owned(), total).unwrap_or(0);
        counter.inc_by(if total >= before {
            total - before
        } else {
            total
        });
    }
}

/// Registers the metrics of the catalog on one registry.
struct Registrar<'a>(&'a Registry);

impl Registrar<'_> {
    fn add<C: Collector + Clone + 'static>(&self, c: C) -> C {
        self.0
            .register(Box::new(c.clone()))
            .expect("metric names are unique");
        c
    }
    fn opts(name: &str) -> Opts {
        Opts::new(name, catalog::lookup(name).help)
    }
    fn counter(&self, name: &str) -> IntCounter {
        self.add(IntCounter::with_opts(Self::opts(name)).expect("metric names are valid"))
    }
    fn counter_vec(&self, name: &str) -> IntCounterVec {
        let labels = catalog::lookup(name).labels;
        self.add(IntCounterVec::new(Self::opts(name), labels).expect("metric names are valid"))
    }
    fn int_gauge(&self, name: &str) -> IntGauge {
        self.add(IntGauge::with_opts(Self::opts(name)).expect("metric names are valid"))
    }
    fn int_gauge_vec(&self, name: &str) -> IntGaugeVec {
        let labels = catalog::lookup(name).labels;
        self.add(IntGaugeVec::new(Self::opts(name), labels).expect("metric names are valid"))
    }
    fn gauge(&self, name: &str) -> Gauge {
        self.add(Gauge::with_opts(Self::opts(name)).expect("metric names are valid"))
    }
    fn gauge_vec(&self, name: &str) -> GaugeVec {
        let labels = catalog::lookup(name).labels;
        self.add(GaugeVec::new(Self::opts(name), labels).expect("metric names are valid"))
    }
    fn histogram(&self, name: &str) -> BucketHistogram {
        self.add(BucketHistogram::new(
            name,
            catalog::lookup(name).help,
            &catalog::LATENCY_BUCKETS,
        ))
    }
    /// The standard `process_*` metrics.
    fn process(&self) {
        self.0
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("metric names are unique");
    }
}

/// A registry with the process metrics, whose every metric carries `labels`.
pub fn process_registry(labels: &[(&str, &str)]) -> Registry {
    let labels = (!labels.is_empty()).then(|| {
        labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    });
    let registry = Registry::new_custom(None, labels).expect("constant labels are valid");
    Registrar(&registry).process();
    registry
}

impl Metrics {
    /// Metrics labelled with the simulation, its namespace and this process's shard (or `all`).
    pub fn new(simulation: &str, namespace: &str, shard: &str) -> Self {
        let [s, n, h] = catalog::SIMULATION_LABELS;
        let registry = process_registry(&[(s, simulation), (n, namespace), (h, shard)]);
        let r = Registrar(&registry);
        if let Some(limit) = memory_limit_bytes() {
            r.int_gauge("devsim_memory_limit_bytes")
                .set(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        let failed = r.counter_vec("devsim_messages_failed_total");
        // Every reason is served from the start, at 0: a rate over a series that appears only
        // at the first failure misses that failure.
        for reason in FailReason::ALL {
            failed.with_label_values(&[reason.label()]);
        }
        Self {
            sent: r.counter("devsim_messages_sent_total"),
            delivered: r.counter("devsim_messages_delivered_total"),
            failed,
            dropped: r.counter("devsim_messages_dropped_total"),
            skipped: r.counter("devsim_messages_skipped_total"),
            bytes_sent: r.counter("devsim_bytes_sent_total"),
            bytes_delivered: r.counter("devsim_bytes_delivered_total"),
            bytes_failed: r.counter("devsim_bytes_failed_total"),
            latency: r.histogram("devsim_delivery_latency_seconds"),
            lag: r.histogram("devsim_schedule_lag_seconds"),
            rate: r.gauge("devsim_messages_per_second"),
            devices: r.int_gauge("devsim_devices"),
            in_flight: r.int_gauge("devsim_messages_in_flight"),
            buffered: r.int_gauge("devsim_buffered_bytes"),
            buffer_limit: r.int_gauge("devsim_buffer_limit_bytes"),
            behind: r.gauge("devsim_schedule_behind_seconds"),
            queue_messages: r.int_gauge("devsim_producer_queue_messages"),
            queue_bytes: r.int_gauge("devsim_producer_queue_bytes"),
            kafka: KafkaMetrics {
                tx_bytes: r.counter("devsim_kafka_tx_bytes_total"),
                up: r.int_gauge_vec("devsim_kafka_broker_up"),
                requests: r.counter_vec("devsim_kafka_broker_requests_total"),
                request_errors: r.counter_vec("devsim_kafka_broker_request_errors_total"),
                retries: r.counter_vec("devsim_kafka_broker_retries_total"),
                timeouts: r.counter_vec("devsim_kafka_broker_timeouts_total"),
                connects: r.counter_vec("devsim_kafka_broker_connects_total"),
                disconnects: r.counter_vec("devsim_kafka_broker_disconnects_total"),
                waiting: r.int_gauge_vec("devsim_kafka_broker_waiting_requests"),
                rtt: r.gauge_vec("devsim_kafka_broker_rtt_seconds"),
                batch_bytes: r.gauge_vec("devsim_kafka_batch_bytes"),
                batch_messages: r.gauge_vec("devsim_kafka_batch_messages"),
            },
            registry,
            seen: Mutex::new(Seen::default()),
            ready: AtomicBool::new(false),
        }
    }

    /// Folds one report period into the metrics.
    pub fn record(&self, o: &Observed<'_>) {
        let mut seen = self.seen.lock().expect("metrics lock is never poisoned");
        if o.new_producer {
            *seen = Seen::default();
        }
        let now = &o.report.now;
        seen.advance("sent", &self.sent, now.sent);
        seen.advance("delivered", &self.delivered, now.delivered);
        seen.advance("dropped", &self.dropped, now.dropped);
        seen.advance("skipped", &self.skipped, now.skipped);
        // The reasons add up to the failed total: what the sink did not see fail (messages
        // still unacknowledged when a stopping producer's flush ran out) is `unflushed`.
        let mut attributed = 0;
        for reason in FailReason::ALL {
            let count = match reason {
                FailReason::Unflushed => now.failed.saturating_sub(attributed),
                _ => o.sink.failed_of(reason),
            };
            attributed += count;
            let counter = self.failed.with_label_values(&[reason.label()]);
            seen.advance(reason.label(), &counter, count);
        }
        let bytes = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        seen.advance("bytes_sent", &self.bytes_sent, bytes(&o.sink.sent_bytes));
        seen.advance(
            "bytes_delivered",
            &self.bytes_delivered,
            bytes(&o.sink.delivered_bytes),
        );
        seen.advance(
            "bytes_failed",
            &self.bytes_failed,
            bytes(&o.sink.failed_bytes),
        );
        let latency = seen.latency.delta(&o.sink.latency_histogram());
        self.latency.fold(&latency, 1e6);
        let lag = seen.lag.delta(o.lag_ns);
        self.lag.fold(&lag, 1e9);

        self.rate.set(o.report.delivered_per_second);
        self.devices.set(gauge_value(o.devices));
        self.in_flight.set(gauge_value(now.in_flight));
        self.buffered
            .set(gauge_value(bytes(&o.sink.buffered_bytes)));
        self.buffer_limit.set(gauge_value(o.buffer_limit));
        self.behind.set(now.behind_ms / 1e3);
        if let Some(client) = o.sink.client_figures() {
            self.record_client(&mut seen, &client);
        }
    }

    fn record_client(&self, seen: &mut Seen, client: &ClientFigures) {
        let k = &self.kafka;
        self.queue_messages.set(gauge_value(client.queued_messages));
        self.queue_bytes.set(gauge_value(client.queued_bytes));
        seen.advance("tx_bytes", &k.tx_bytes, client.tx_bytes);
        for b in &client.brokers {
            let label = [b.name.as_str()];
            k.up.with_label_values(&label).set(i64::from(b.up));
            k.waiting
                .with_label_values(&label)
                .set(gauge_value(b.waiting_requests));
            for (what, counter, total) in [
                ("requests", &k.requests, b.requests),
                ("request_errors", &k.request_errors, b.request_errors),
                ("retries", &k.retries, b.retries),
                ("timeouts", &k.timeouts, b.timeouts),
                ("connects", &k.connects, b.connects),
                ("disconnects", &k.disconnects, b.disconnects),
            ] {
                let key = format!("{what}/{}", b.name);
                seen.advance(&key, &counter.with_label_values(&label), total);
            }
            if let Some(rtt) = b.rtt_seconds {
                k.rtt.with_label_values(&[&b.name, "0.5"]).set(rtt.p50);
                k.rtt.with_label_values(&[&b.name, "0.99"]).set(rtt.p99);
            }
        }
        for (gauge, window) in [
            (&k.batch_bytes, client.batch_bytes),
            (&k.batch_messages, client.batch_messages),
        ] {
            if let Some(p) = window {
                gauge.with_label_values(&["0.5"]).set(p.p50);
                gauge.with_label_values(&["0.99"]).set(p.p99);
            }
        }
    }

    /// Marks the process ready (producing) or not, for `/readyz`.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        render_registry(&self.registry)
    }
}

/// A count as an integer gauge's value.
fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl AdminState for Metrics {
    fn render(&self) -> String {
        Metrics::render(self)
    }
    fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Snapshot;

    fn snapshot(sent: u64, delivered: u64, failed: u64) -> Snapshot {
        Snapshot {
            at: std::time::Instant::now(),
            sent,
            delivered,
            failed,
            dropped: 0,
            skipped: 0,
            behind_ms: 0.0,
            blocked: false,
            in_flight: sent - delivered - failed,
            lag_p50_ms: 0.0,
            lag_p99_ms: 0.0,
            lag_max_ms: 0.0,
        }
    }

    fn record(metrics: &Metrics, now: Snapshot, new_producer: bool) {
        let lag = Histogram::new_with_bounds(1_000, 3_600_000_000_000, 2).expect("bounds");
        metrics.record(&Observed {
            report: &Report::between(&now, now),
            sink: &SinkStats::default(),
            lag_ns: &lag,
            devices: 10,
            buffer_limit: 1 << 20,
            new_producer,
        });
    }

    /// The value of sample `name` carrying `labels` (among others, in any order).
    fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
        text.lines()
            .find_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let (sample, rest) = series.split_once('{')?;
                let pairs = rest.strip_suffix('}')?;
                let has =
                    |(k, v): &(&str, &str)| pairs.split(',').any(|p| p == format!("{k}=\"{v}\""));
                (sample == name && labels.iter().all(has)).then(|| value.parse().ok())?
            })
            .unwrap_or_else(|| panic!("{name} {labels:?} missing:\n{text}"))
    }

    #[test]
    fn counters_keep_counting_when_the_producer_is_replaced() {
        let metrics = Metrics::new("line-1", "plant", "0");
        record(&metrics, snapshot(100, 90, 0), true);
        record(&metrics, snapshot(150, 140, 0), false);
        // A new producer (a spec change, a resume) counts from 0 again, and may have counted
        // past the old one's totals by its first report.
        record(&metrics, snapshot(200, 190, 0), true);
        record(&metrics, snapshot(230, 220, 0), false);
        let text = metrics.render();
        let labels = [
            ("namespace", "plant"),
            ("shard", "0"),
            ("simulation", "line-1"),
        ];
        assert_eq!(value(&text, "devsim_messages_sent_total", &labels), 380.0);
        assert_eq!(
            value(&text, "devsim_messages_delivered_total", &labels),
            360.0
        );
    }

    #[test]
    fn failures_the_sink_did_not_see_are_unflushed_and_every_reason_is_served_from_the_start() {
        let metrics = Metrics::new("line-1", "plant", "0");
        let text = metrics.render();
        let failed = "devsim_messages_failed_total";
        for reason in FailReason::ALL {
            let labels = [("simulation", "line-1"), ("reason", reason.label())];
            assert_eq!(value(&text, failed, &labels), 0.0);
        }
        // A stopping producer whose flush ran out counts what was never acknowledged as failed.
        record(&metrics, snapshot(10, 7, 3), true);
        let text = metrics.render();
        assert_eq!(value(&text, failed, &[("reason", "unflushed")]), 3.0);
        assert_eq!(value(&text, failed, &[("reason", "timed_out")]), 0.0);
        assert!(text.contains("process_start_time_seconds"), "{text}");
        assert_eq!(value(&text, "devsim_devices", &[("shard", "0")]), 10.0);
    }
}
