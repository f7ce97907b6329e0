//! Every metric devsim serves (the list itself is in `families.rs`), with its type, labels and
//! meaning: what the processes register from, and what the README's metrics reference is
//! generated from (a test checks both against real `/metrics` output).

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

/// Labels every simulation process puts on all its metrics.
pub const SIMULATION_LABELS: [&str; 3] = ["simulation", "namespace", "shard"];

pub use super::families::FAMILIES;

/// Bucket upper bounds (seconds) of the latency and lag histograms: 100 µs to 10 s in 1-2.5-5
/// steps, fine enough for a heatmap and with 0.1 s among them for the latency alert.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
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
