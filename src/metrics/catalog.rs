//! Every metric devsim serves, with its type, labels and meaning: what the processes register
//! from, and what the README's metrics reference is generated from (a test checks both against
//! real `/metrics` output).

/// A Prometheus metric type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (restarts at 0 with the process).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations counted into buckets (`_bucket`, `_sum`, `_count`).
    Histogram,
}

impl Kind {
    /// The name Prometheus gives the type (`# TYPE` lines, the metadata API).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Which processes serve a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// `devsim worker` and `devsim run`, labelled `simulation`, `namespace` and `shard`.
    Simulation,
    /// `devsim operator`.
    Operator,
    /// Every devsim process.
    Every,
}

/// One metric family.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Its own labels (a simulation process's `simulation`, `namespace`, `shard` not included).
    pub labels: &'static [&'static str],
    /// What it measures (the `# HELP` text).
    pub help: &'static str,
    /// Who serves it.
    pub served: Served,
}

const fn family(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    help: &'static str,
    served: Served,
) -> Family {
    Family {
        name,
        kind,
        labels,
        help,
        served,
    }
}

use Kind::{Counter, Gauge, Histogram};
use Served::{Every, Operator, Simulation};

/// Labels every simulation process puts on all its metrics.
pub const SIMULATION_LABELS: [&str; 3] = ["simulation", "namespace", "shard"];

/// Bucket upper bounds (seconds) of the latency and lag histograms: 100 µs to 10 s in 1-2.5-5
/// steps, fine enough for a heatmap and with 0.1 s among them for the latency alert.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Every family, simulation processes' first.
pub const FAMILIES: &[Family] = &[
    family(
        "devsim_messages_sent_total",
        Counter,
        &[],
        "Messages handed to the Kafka producer",
        Simulation,
    ),
    family(
        "devsim_messages_delivered_total",
        Counter,
        &[],
        "Messages acknowledged by the brokers",
        Simulation,
    ),
    family(
        "devsim_messages_failed_total",
        Counter,
        &["reason"],
        "Messages that failed: refused by the producer or the brokers, or never acknowledged; reason is one of timed_out, too_large, not_authorized, unknown_topic, not_enough_replicas, unflushed, other",
        Simulation,
    ),
    family(
        "devsim_messages_dropped_total",
        Counter,
        &[],
        "Readings dropped because the producer buffer was full (spec.overflow: drop)",
        Simulation,
    ),
    family(
        "devsim_messages_skipped_total",
        Counter,
        &[],
        "Readings skipped for falling more than spec.maxLag behind schedule",
        Simulation,
    ),
    family(
        "devsim_bytes_sent_total",
        Counter,
        &[],
        "Bytes (keys and values, before compression) of messages handed to the producer",
        Simulation,
    ),
    family(
        "devsim_bytes_delivered_total",
        Counter,
        &[],
        "Bytes (keys and values, before compression) of messages acknowledged",
        Simulation,
    ),
    family(
        "devsim_bytes_failed_total",
        Counter,
        &[],
        "Bytes (keys and values, before compression) of messages that failed",
        Simulation,
    ),
    family(
        "devsim_delivery_latency_seconds",
        Histogram,
        &[],
        "Time from hand-over to the producer to the brokers' acknowledgement",
        Simulation,
    ),
    family(
        "devsim_schedule_lag_seconds",
        Histogram,
        &[],
        "Time from a reading's due time to its hand-over to the producer",
        Simulation,
    ),
    family(
        "devsim_messages_per_second",
        Gauge,
        &[],
        "Messages delivered per second over the last report period (the figure the status shows)",
        Simulation,
    ),
    family(
        "devsim_devices",
        Gauge,
        &[],
        "Devices this process produces readings for",
        Simulation,
    ),
    family(
        "devsim_messages_in_flight",
        Gauge,
        &[],
        "Messages handed to the producer and not yet acknowledged or failed",
        Simulation,
    ),
    family(
        "devsim_buffered_bytes",
        Gauge,
        &[],
        "Bytes of messages awaiting acknowledgement, librdkafka's bookkeeping included (bounded by spec.kafka.bufferMemory)",
        Simulation,
    ),
    family(
        "devsim_buffer_limit_bytes",
        Gauge,
        &[],
        "spec.kafka.bufferMemory: what devsim_buffered_bytes may reach",
        Simulation,
    ),
    family(
        "devsim_schedule_behind_seconds",
        Gauge,
        &[],
        "How far the oldest reading not yet produced is behind its due time",
        Simulation,
    ),
    family(
        "devsim_producer_queue_messages",
        Gauge,
        &[],
        "Messages in librdkafka's queues, in flight included (its statistics, every 5 s)",
        Simulation,
    ),
    family(
        "devsim_producer_queue_bytes",
        Gauge,
        &[],
        "Bytes of the messages in librdkafka's queues (its statistics, every 5 s)",
        Simulation,
    ),
    family(
        "devsim_kafka_tx_bytes_total",
        Counter,
        &[],
        "Bytes sent to the brokers, protocol framing and compression included (librdkafka's statistics)",
        Simulation,
    ),
    family(
        "devsim_kafka_broker_up",
        Gauge,
        &["broker"],
        "1 while the producer's connection to the broker is up (broker: librdkafka's host:port/id)",
        Simulation,
    ),
    family(
        "devsim_kafka_broker_requests_total",
        Counter,
        &["broker"],
        "Requests sent to the broker",
        Simulation,
    ),
    family(
        "devsim_kafka_broker_request_errors_total",
        Counter,
        &["broker"],
        "Requests to the broker that failed or got an error back",
        Simulation,
    ),
    family(
        "devsim_kafka_broker_retries_total",
        Counter,
        &["broker"],
        "Requests sent to the broker again",
        Simulation,
    ),
    family(
        "devsim_kafka_broker_timeouts_total",
        Counter,
        &["broker"],
        "Requests to the broker that timed out",
        Simulation,
    ),
    family(
        "devsim_kafka_broker_connects_total",
        Counter,
        &["broker"],
        "Connections made to the broker",
        Simulation,
    ),
    family(
        "devsim_kafka_broker_disconnects_total",
        Counter,
        &["broker"],
        "Connections to the broker lost",
        Simulation,
    ),
    family(
        "devsim_kafka_broker_waiting_requests",
        Gauge,
        &["broker"],
        "Requests sent to the broker and waiting for their response",
        Simulation,
    ),
    family(
        "devsim_kafka_broker_rtt_seconds",
        Gauge,
        &["broker", "quantile"],
        "Round-trip time of requests to the broker over the last statistics window (quantile 0.5 or 0.99)",
        Simulation,
    ),
    family(
        "devsim_kafka_batch_bytes",
        Gauge,
        &["quantile"],
        "Bytes per produce batch over the last statistics window (quantile 0.5 or 0.99)",
        Simulation,
    ),
    family(
        "devsim_kafka_batch_messages",
        Gauge,
        &["quantile"],
        "Messages per produce batch over the last statistics window (quantile 0.5 or 0.99)",
        Simulation,
    ),
    family(
        "devsim_memory_limit_bytes",
        Gauge,
        &[],
        "The memory limit of this process's cgroup (absent when unlimited)",
        Simulation,
    ),
    family(
        "devsim_reconciles_total",
        Counter,
        &["outcome"],
        "Reconciles run (outcome: ok or error)",
        Operator,
    ),
    family(
        "devsim_reconcile_errors_total",
        Counter,
        &["category"],
        "Reconciles that failed, by fixed category",
        Operator,
    ),
    family(
        "devsim_reconcile_duration_seconds",
        Histogram,
        &[],
        "Time one reconcile takes",
        Operator,
    ),
    family(
        "devsim_operator_leader",
        Gauge,
        &[],
        "1 while this replica holds the lease and reconciles, 0 while it stands by",
        Operator,
    ),
    family(
        "devsim_simulation_phase",
        Gauge,
        &["namespace", "simulation", "phase"],
        "1 for the simulation's current status.phase, 0 for the others (served by the leader)",
        Operator,
    ),
    family(
        "devsim_simulation_condition",
        Gauge,
        &["namespace", "simulation", "type", "reason"],
        "1 while the condition's status is True, 0 while False (served by the leader)",
        Operator,
    ),
    family(
        "devsim_simulation_messages_per_second",
        Gauge,
        &["namespace", "simulation"],
        "status.messagesPerSecond: messages delivered per second, all shards (served by the leader)",
        Operator,
    ),
    family(
        "process_cpu_seconds_total",
        Counter,
        &[],
        "CPU time (user and system) this process used",
        Every,
    ),
    family(
        "process_resident_memory_bytes",
        Gauge,
        &[],
        "Resident memory of this process",
        Every,
    ),
    family(
        "process_virtual_memory_bytes",
        Gauge,
        &[],
        "Virtual memory of this process",
        Every,
    ),
    family(
        "process_open_fds",
        Gauge,
        &[],
        "Open file descriptors",
        Every,
    ),
    family(
        "process_max_fds",
        Gauge,
        &[],
        "The limit on open file descriptors",
        Every,
    ),
    family(
        "process_threads",
        Gauge,
        &[],
        "Threads of this process",
        Every,
    ),
    family(
        "process_start_time_seconds",
        Gauge,
        &[],
        "When this process started, in seconds since the Unix epoch",
        Every,
    ),
];

/// The family named `name`.
///
/// # Panics
/// When no family has that name: a metric registered without an entry here is a bug the
/// unit tests catch.
pub fn lookup(name: &str) -> &'static Family {
    FAMILIES
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("metric {name} is not in the catalog"))
}

/// The README's metrics reference: one Markdown table row per family.
pub fn reference_table() -> String {
    let mut out =
        String::from("| Metric | Type | Labels | Served by | Meaning |\n|---|---|---|---|---|\n");
    for f in FAMILIES {
        let labels = if f.labels.is_empty() {
            "–".to_owned()
        } else {
            f.labels
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let served = match f.served {
            Served::Simulation => "worker, run",
            Served::Operator => "operator",
            Served::Every => "all",
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            f.name,
            f.kind.name(),
            labels,
            served,
            f.help
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let mut seen = std::collections::BTreeSet::new();
        for f in FAMILIES {
            assert!(seen.insert(f.name), "{} twice", f.name);
            assert_eq!(
                f.kind == Kind::Counter,
                f.name.ends_with("_total"),
                "{}: counters and only counters end in _total",
                f.name
            );
            assert!(
                f.name.starts_with("devsim_") || f.name.starts_with("process_"),
                "{}",
                f.name
            );
            for unit in ["_ms", "_milliseconds", "_kb", "_mb"] {
                assert!(!f.name.contains(unit), "{}: base units only", f.name);
            }
        }
    }

    #[test]
    fn buckets_span_100_microseconds_to_10_seconds_in_order() {
        assert_eq!(LATENCY_BUCKETS.first(), Some(&0.0001));
        assert_eq!(LATENCY_BUCKETS.last(), Some(&10.0));
        assert!(LATENCY_BUCKETS.windows(2).all(|w| w[0] < w[1]));
        assert!(
            LATENCY_BUCKETS.contains(&0.1),
            "the latency alert's threshold"
        );
    }
}
