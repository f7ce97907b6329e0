//! Prometheus histograms fed from hdrhistograms: the producer tasks and librdkafka's delivery
//! callback record into hdrhistograms (cheap, no shared atomics per message), and each report
//! folds what they recorded since the last one into fixed buckets, which only ever grow.

use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use prometheus::core::{Collector, Desc};
use prometheus::proto;

/// A cumulative Prometheus histogram in seconds, with fixed buckets; clones share the counts
/// (one registers, the other folds).
#[derive(Clone)]
pub struct BucketHistogram {
    desc: Desc,
    /// Upper bounds, seconds, ascending (+Inf implied).
    bounds: &'static [f64],
    counts: Arc<Mutex<Counts>>,
}

#[derive(Default)]
struct Counts {
    /// Observations per bucket (not cumulative); the last one is +Inf.
    per_bucket: Vec<u64>,
    sum_seconds: f64,
}

impl BucketHistogram {
    /// An empty histogram called `name` with `help`, over `bounds` (seconds).
    pub fn new(name: &str, help: &str, bounds: &'static [f64]) -> Self {
        let desc = Desc::new(
            name.to_owned(),
            help.to_owned(),
            Vec::new(),
            Default::default(),
        )
        .expect("metric names are valid");
        Self {
            desc,
            bounds,
            counts: Arc::new(Mutex::new(Counts {
                per_bucket: vec![0; bounds.len() + 1],
                sum_seconds: 0.0,
            })),
        }
    }

    /// Adds every value of `delta`, which counts `units_per_second` units a second (division, so
    /// that 100 ms in nanoseconds is exactly the bound 0.1). The
    /// hdrhistogram keeps two significant digits, so a value's bucket is exact to 1 %: a value
    /// on a bound counts in that bound's bucket (`le` is inclusive), one up to 1 % above it may
    /// too. The sum takes each value's midpoint.
    pub fn fold(&self, delta: &Histogram<u64>, units_per_second: f64) {
        let mut counts = self
            .counts
            .lock()
            .expect("histogram lock is never poisoned");
        for value in delta.iter_recorded() {
            let recorded = value.value_iterated_to();
            let lowest = delta.lowest_equivalent(recorded) as f64 / units_per_second;
            let bucket = self.bounds.partition_point(|&bound| bound < lowest);
            let n = value.count_at_value();
            counts.per_bucket[bucket] += n;
            counts.sum_seconds +=
                delta.median_equivalent(recorded) as f64 / units_per_second * n as f64;
        }
    }
}

impl Collector for BucketHistogram {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        let counts = self
            .counts
            .lock()
            .expect("histogram lock is never poisoned");
        let mut cumulative = 0;
        let buckets = self
            .bounds
            .iter()
            .zip(&counts.per_bucket)
            .map(|(&bound, &n)| {
                cumulative += n;
                let mut b = proto::Bucket::default();
                b.set_upper_bound(bound);
                b.set_cumulative_count(cumulative);
                b
            })
            .collect();
        let mut histogram = proto::Histogram::default();
        histogram.set_bucket(buckets);
        histogram.set_sample_count(counts.per_bucket.iter().sum());
        histogram.set_sample_sum(counts.sum_seconds);
        let mut metric = proto::Metric::default();
        metric.set_histogram(histogram);
        let mut family = proto::MetricFamily::default();
        family.set_name(self.desc.fq_name.clone());
        family.set_help(self.desc.help.clone());
        family.set_field_type(proto::MetricType::HISTOGRAM);
        family.set_metric(vec![metric]);
        vec![family]
    }
}

/// What a cumulative hdrhistogram recorded since the previous call: the source only grows
/// until it is replaced, which [`Self::restart`] announces.
#[derive(Default)]
pub struct SinceLast {
    seen: Option<Histogram<u64>>,
}

impl SinceLast {
    /// The values `current` holds beyond those it held at the previous call.
    pub fn delta(&mut self, current: &Histogram<u64>) -> Histogram<u64> {
        let mut delta = current.clone();
        if let Some(seen) = &self.seen
            && delta.subtract(seen).is_err()
        {
            // A source that shrank was replaced without notice: all it holds is new.
            delta = current.clone();
        }
        self.seen = Some(current.clone());
        delta
    }

    /// The source is new: everything it holds next time is new.
    pub fn restart(&mut self) {
        self.seen = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::Encoder as _;

    const BOUNDS: &[f64] = &[0.001, 0.01, 0.1, 1.0];

    fn hdr(values_us: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("bounds");
        for &v in values_us {
            h.record(v).expect("in range");
        }
        h
    }

    fn text(h: &BucketHistogram) -> String {
        let mut out = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&h.collect(), &mut out)
            .expect("encode");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn values_land_in_cumulative_buckets_with_their_sum() {
        let h = BucketHistogram::new("t_seconds", "test", BOUNDS);
        // 0.5 ms, 1 ms (on a bound: le="0.001" includes it), 5 ms, 50 ms twice, 2 s.
        h.fold(&hdr(&[500, 1_000, 5_000, 50_000, 50_000, 2_000_000]), 1e6);
        let t = text(&h);
        for line in [
            "t_seconds_bucket{le=\"0.001\"} 2",
            "t_seconds_bucket{le=\"0.01\"} 3",
            "t_seconds_bucket{le=\"0.1\"} 5",
            "t_seconds_bucket{le=\"1\"} 5",
            "t_seconds_bucket{le=\"+Inf\"} 6",
            "t_seconds_count 6",
        ] {
            assert!(t.contains(line), "{line} missing:\n{t}");
        }
        let sum: f64 = t
            .lines()
            .find_map(|l| l.strip_prefix("t_seconds_sum "))
            .and_then(|v| v.parse().ok())
            .expect("a sum");
        let exact = 0.0005 + 0.001 + 0.005 + 0.05 + 0.05 + 2.0;
        assert!((sum - exact).abs() / exact < 0.01, "sum {sum} vs {exact}");
        assert!(t.contains("# TYPE t_seconds histogram"), "{t}");
    }

    #[test]
    fn folding_deltas_counts_each_value_once_and_a_replaced_source_from_zero() {
        let h = BucketHistogram::new("t_seconds", "test", BOUNDS);
        let mut since = SinceLast::default();
        let mut source = hdr(&[2_000, 2_000]);
        h.fold(&since.delta(&source), 1e6);
        source.record(200_000).expect("in range");
        h.fold(&since.delta(&source), 1e6);
        h.fold(&since.delta(&source), 1e6);
        since.restart();
        h.fold(&since.delta(&hdr(&[2_000])), 1e6);
        let t = text(&h);
        assert!(t.contains("t_seconds_bucket{le=\"0.01\"} 3"), "{t}");
        assert!(t.contains("t_seconds_bucket{le=\"1\"} 4"), "{t}");
        assert!(t.contains("t_seconds_count 4"), "{t}");
    }

    #[test]
    fn a_value_on_a_bound_counts_in_its_bucket_whatever_the_unit() {
        let h = BucketHistogram::new("t_seconds", "test", BOUNDS);
        let mut ns = Histogram::new_with_bounds(1_000, 3_600_000_000_000, 2).expect("bounds");
        // 100 ms and 10 ms in nanoseconds, exactly on bounds 0.1 and 0.01.
        ns.record(100_000_000).expect("in range");
        ns.record(10_000_000).expect("in range");
        h.fold(&ns, 1e9);
        let t = text(&h);
        assert!(t.contains("t_seconds_bucket{le=\"0.01\"} 1"), "{t}");
        assert!(t.contains("t_seconds_bucket{le=\"0.1\"} 2"), "{t}");
    }

    #[test]
    fn a_source_replaced_without_notice_is_taken_whole() {
        let mut since = SinceLast::default();
        assert_eq!(since.delta(&hdr(&[10, 20, 30])).len(), 3);
        assert_eq!(since.delta(&hdr(&[10])).len(), 1, "it shrank: a new source");
    }
}
