//! Drives the pure engine in real time: producer tasks on Tokio, a message sink behind a trait,
//! shared counters, and the periodic report. Imports neither `kube` nor `rdkafka`.

mod fleet;
pub mod health;
mod rate;
mod report;
mod task;

pub use fleet::{Fleet, FleetConfig, startup_allowance};
pub use report::{Report, Snapshot};

pub use task::{TaskCounters, unix_now_ms};

use std::time::Duration;

use crate::engine::worker::Delivery;

/// A sink that could not deliver (or fail) everything it was handed before the deadline.
#[derive(Debug, thiserror::Error)]
#[error("{in_flight} message(s) still in flight after {timeout:?}: {reason}")]
pub struct FlushError {
    /// Messages neither delivered nor failed when the deadline passed.
    pub in_flight: u64,
    /// The deadline.
    pub timeout: Duration,
    /// The sink's own words.
    pub reason: String,
}

/// Where produced messages go: Kafka in production, memory in tests.
pub trait MessageSink: Send + Sync + 'static {
    /// Hands one message over without blocking.
    fn try_send(&self, key: &[u8], payload: &[u8], timestamp_ms: i64) -> Delivery;
    /// Waits until every message handed over has been delivered or has failed.
    fn flush(&self, timeout: Duration) -> Result<(), FlushError>;
    /// Messages handed over but not yet delivered or failed.
    fn in_flight(&self) -> u64;
    /// Messages delivered so far.
    fn delivered(&self) -> u64;
    /// Messages whose delivery failed so far.
    fn failed(&self) -> u64;
    /// Handles the delivery reports waiting, without waiting for more. Producer tasks call it
    /// between batches, so that messages are released on the thread that made them; a sink
    /// that needs no serving does nothing.
    fn serve_deliveries(&self) {}
}
