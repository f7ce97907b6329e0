//! Prometheus metrics (`devsim_*`, labels bounded to simulation, namespace and shard) and the
//! admin endpoints `/metrics`, `/healthz`, `/readyz`.
//!
//! Hot paths never touch these: producer tasks keep plain counters, and the once-a-second
//! report folds their deltas in here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus::{
    Encoder as _, Gauge, GaugeVec, IntCounter, IntGauge, Opts, Registry, TextEncoder,
};

use crate::kafka::SinkStats;
use crate::runtime::Report;

/// The metrics of one process.
pub struct Metrics {
    registry: Registry,
    sent: IntCounter,
    delivered: IntCounter,
    failed: IntCounter,
    dropped: IntCounter,
    skipped: IntCounter,
    buffered: IntGauge,
    behind: Gauge,
    rate: Gauge,
    in_flight: IntGauge,
    queued: IntGauge,
    tx_bytes: IntGauge,
    lag: GaugeVec,
    latency: GaugeVec,
    resident_memory: IntGauge,
    ready: AtomicBool,
}

impl Metrics {
    /// Metrics labelled with the simulation, its namespace and this process's shard (or `all`).
    pub fn new(simulation: &str, namespace: &str, shard: &str) -> Self {
        let labels = [
            ("simulation", simulation),
            ("namespace", namespace),
            ("shard", shard),
        ];
        let registry = Registry::new_custom(
            None,
            Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
        )
        .expect("constant labels are valid");
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("metric names are valid");
            registry
                .register(Box::new(c.clone()))
                .expect("metric names are unique");
            c
        };
        let int_gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("metric names are valid");
            registry
                .register(Box::new(g.clone()))
                .expect("metric names are unique");
            g
        };
        let quantiles = |name: &str, help: &str| {
            let g = GaugeVec::new(Opts::new(name, help), &["quantile"])
                .expect("metric names are valid");
            registry
                .register(Box::new(g.clone()))
                .expect("metric names are unique");
            g
        };
        let gauge = |name: &str, help: &str| {
            let g = Gauge::new(name, help).expect("metric names are valid");
            registry
                .register(Box::new(g.clone()))
                .expect("metric names are unique");
            g
        };
        let rate = gauge(
            "devsim_messages_per_second",
            "Messages delivered (acknowledged by Kafka) per second over the last report period",
        );
        Self {
            sent: counter(
                "devsim_messages_sent_total",
                "Messages handed to the Kafka producer",
            ),
            delivered: counter(
                "devsim_messages_delivered_total",
                "Messages acknowledged by the brokers",
            ),
            failed: counter(
                "devsim_messages_failed_total",
                "Messages whose delivery failed",
            ),
            dropped: counter(
                "devsim_messages_dropped_total",
                "Readings dropped by the drop overflow policy",
            ),
            skipped: counter(
                "devsim_messages_skipped_total",
                "Readings skipped for falling more than spec.maxLag behind schedule",
            ),
            buffered: int_gauge(
                "devsim_buffered_bytes",
                "Bytes of messages awaiting Kafka's acknowledgement (bounded by spec.kafka.bufferMemory)",
            ),
            behind: gauge(
                "devsim_schedule_behind_seconds",
                "How far the oldest reading not yet produced is behind its due time",
            ),
            in_flight: int_gauge(
                "devsim_messages_in_flight",
                "Messages handed over but not yet acknowledged",
            ),
            queued: int_gauge(
                "devsim_producer_queue_messages",
                "Messages in librdkafka's queues (from its statistics)",
            ),
            tx_bytes: int_gauge(
                "devsim_producer_tx_bytes",
                "Bytes sent to the brokers (from librdkafka's statistics)",
            ),
            lag: quantiles(
                "devsim_schedule_lag_seconds",
                "Time from a reading's due time to its hand-over, by quantile",
            ),
            latency: quantiles(
                "devsim_delivery_latency_seconds",
                "Time from hand-over to acknowledgement, by quantile",
            ),
            resident_memory: int_gauge(
                "devsim_resident_memory_bytes",
                "Resident set size of this process",
            ),
            rate,
            registry,
            ready: AtomicBool::new(false),
        }
    }

    /// Folds one report period into the metrics.
    pub fn record(&self, report: &Report, sink: &SinkStats) {
        let now = &report.now;
        let catch_up = |c: &IntCounter, total: u64| c.inc_by(total.saturating_sub(c.get()));
        catch_up(&self.sent, now.sent);
        catch_up(&self.delivered, now.delivered);
        catch_up(&self.failed, now.failed);
        catch_up(&self.dropped, now.dropped);
        catch_up(&self.skipped, now.skipped);
        self.rate.set(report.delivered_per_second);
        self.buffered
            .set(sink.buffered_bytes.load(Ordering::Relaxed) as i64);
        self.behind.set(now.behind_ms / 1e3);
        self.in_flight.set(now.in_flight as i64);
        self.queued.set(sink.queued.load(Ordering::Relaxed) as i64);
        self.tx_bytes
            .set(sink.tx_bytes.load(Ordering::Relaxed) as i64);
        self.lag
            .with_label_values(&["0.5"])
            .set(now.lag_p50_ms / 1e3);
        self.lag
            .with_label_values(&["0.99"])
            .set(now.lag_p99_ms / 1e3);
        for (label, q) in [("0.5", 0.5), ("0.99", 0.99)] {
            self.latency
                .with_label_values(&[label])
                .set(sink.latency_percentile(q).as_secs_f64());
        }
        if let Some(rss) = resident_memory_bytes() {
            self.resident_memory.set(rss as i64);
        }
    }

    /// Marks the process ready (producing) or not, for `/readyz`.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("encoding into a Vec cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

/// What the admin endpoints expose: implemented by the simulation metrics and the operator's.
pub trait AdminState: Send + Sync + 'static {
    /// The metrics in Prometheus text format.
    fn render(&self) -> String;
    /// Whether `/readyz` answers 200.
    fn ready(&self) -> bool;
}

impl AdminState for Metrics {
    fn render(&self) -> String {
        Metrics::render(self)
    }
    fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `addr` in the background; returns the bound
/// address.
pub async fn serve<A: AdminState>(addr: SocketAddr, state: Arc<A>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route(
            "/metrics",
            get(|State(s): State<Arc<A>>| async move { s.render() }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(s): State<Arc<A>>| async move {
                if s.ready() {
                    (StatusCode::OK, "ready")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                }
            }),
        )
        .with_state(state);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "admin endpoint stopped");
        }
    });
    Ok(bound)
}

/// Resident set size of this process (Linux only).
pub fn resident_memory_bytes() -> Option<u64> {
    proc_status_kib("VmRSS:").map(|kib| kib * 1024)
}

/// Peak resident set size of this process (Linux only).
pub fn peak_resident_memory_bytes() -> Option<u64> {
    proc_status_kib("VmHWM:").map(|kib| kib * 1024)
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}
