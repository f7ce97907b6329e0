//! The message rate a shard reports: delivered messages per second over a sliding window of
//! several seconds. A rate taken between two reports milliseconds apart (a re-shard reports at
//! once) would show tens of thousands of messages a second for a moment; a rate of messages
//! merely handed to the producer would show full speed while Kafka is down.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The window the rate is averaged over.
pub const RATE_WINDOW: Duration = Duration::from_secs(5);
/// Below this much history the previous rate stands (a new producer reports 0 until then).
pub const MIN_SPAN: Duration = Duration::from_secs(1);

/// Delivered messages per second over [`RATE_WINDOW`].
#[derive(Debug, Default)]
pub struct DeliveredRate {
    /// (when, delivered so far), oldest first; the oldest is at most one point beyond the window.
    points: VecDeque<(Instant, u64)>,
    last: f64,
}

impl DeliveredRate {
    /// Records that `delivered` messages had been delivered by `now` (a running total that
    /// never goes back); returns the rate over the window ending now.
    pub fn observe(&mut self, now: Instant, delivered: u64) -> f64 {
        self.points.push_back((now, delivered));
        // Keep the newest point that is at least a window old, and everything after it.
        while self.points.len() > 2
            && now.saturating_duration_since(self.points[1].0) >= RATE_WINDOW
        {
            self.points.pop_front();
        }
        let (since, before) = self.points[0];
        let span = now.saturating_duration_since(since);
        if span >= MIN_SPAN {
            self.last = delivered.saturating_sub(before) as f64 / span.as_secs_f64();
        }
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_flow_reads_as_its_rate() {
        let t0 = Instant::now();
        let mut rate = DeliveredRate::default();
        let mut last = 0.0;
        for s in 0..=20u64 {
            last = rate.observe(t0 + Duration::from_secs(s), s * 2000);
        }
        assert_eq!(last, 2000.0);
    }

    #[test]
    fn two_reports_milliseconds_apart_do_not_spike() {
        let t0 = Instant::now();
        let mut rate = DeliveredRate::default();
        assert_eq!(rate.observe(t0, 0), 0.0, "no history yet");
        // A re-shard reports 25 ms after a report that carried 500 more deliveries.
        assert_eq!(rate.observe(t0 + Duration::from_millis(25), 500), 0.0);
        for s in 1..=10u64 {
            rate.observe(t0 + Duration::from_secs(s), 500 + s * 2000);
        }
        let spiky = rate.observe(t0 + Duration::from_millis(10_025), 500 + 10 * 2000 + 50);
        assert!((spiky - 2000.0).abs() < 100.0, "rate {spiky}");
    }

    #[test]
    fn deliveries_that_stop_read_as_zero_within_the_window() {
        let t0 = Instant::now();
        let mut rate = DeliveredRate::default();
        for s in 0..=10u64 {
            rate.observe(t0 + Duration::from_secs(s), s * 1000);
        }
        // Kafka goes away: the total stops growing, and within a window the rate is 0.
        let mut after = f64::MAX;
        for s in 11..=16u64 {
            after = rate.observe(t0 + Duration::from_secs(s), 10_000);
        }
        assert_eq!(after, 0.0);
    }
}
