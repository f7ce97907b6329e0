//! Point-in-time figures and the rates between two of them.

use std::time::Instant;

/// Totals at one moment.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    /// When the figures were taken.
    pub at: Instant,
    /// Messages handed to the producer.
    pub sent: u64,
    /// Messages acknowledged.
    pub delivered: u64,
    /// Messages failed (delivery failures and outright refusals).
    pub failed: u64,
    /// Readings dropped by the overflow policy.
    pub dropped: u64,
    /// Readings skipped for falling more than `maxLag` behind schedule.
    pub skipped: u64,
    /// How far the oldest reading not yet produced is behind its due time (the worst task), ms.
    pub behind_ms: f64,
    /// Some task waits for room in a full buffer.
    pub blocked: bool,
    /// Messages handed over and not yet acknowledged.
    pub in_flight: u64,
    /// Median schedule lag so far, ms.
    pub lag_p50_ms: f64,
    /// 99th percentile schedule lag so far, ms.
    pub lag_p99_ms: f64,
    /// Largest schedule lag so far, ms.
    pub lag_max_ms: f64,
}

/// Rates between two snapshots.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// The later snapshot.
    pub now: Snapshot,
    /// Messages sent per second between the two.
    pub sent_per_second: f64,
    /// Messages delivered per second between the two.
    pub delivered_per_second: f64,
}

impl Report {
    /// Rates from `before` to `now`.
    pub fn between(before: &Snapshot, now: Snapshot) -> Self {
        let secs = now.at.duration_since(before.at).as_secs_f64().max(1e-9);
        Self {
            now,
            sent_per_second: (now.sent - before.sent) as f64 / secs,
            delivered_per_second: (now.delivered - before.delivered) as f64 / secs,
        }
    }
}
