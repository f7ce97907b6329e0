//! A worker's own entry in `status.shards[]`, written with server-side apply under a field
//! manager of its own: replicas never overwrite each other, and the controller's status apply
//! never takes these fields.

use std::time::Instant;

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::throughput::DeliveredRate;
use crate::crd::timestamps::format_time;
use crate::crd::{DeviceSimulation, GROUP, ShardProblem, ShardStatus, Totals, VERSION};
use crate::runtime::Snapshot;

/// Writes one shard's figures, carrying totals across producer restarts.
pub struct ShardReporter {
    api: Api<DeviceSimulation>,
    simulation: String,
    index: u32,
    manager: String,
    /// Totals of producers this process (or an earlier one for this shard) has retired.
    baseline: Totals,
    /// Delivered messages per second over a window of several seconds.
    rate: DeliveredRate,
    /// Devices taken over after the hand-off timeout.
    pub handoff_timeouts: u64,
}

/// What the worker is doing, as reported.
#[derive(Clone, Debug, Default)]
pub struct ShardState {
    /// Shard count the worker runs under (0: stopped, owns nothing).
    pub shard_count: u32,
    /// Devices owned.
    pub devices: u64,
    /// Figures of the current producer.
    pub snapshot: Option<Snapshot>,
    /// Error to show, if any.
    pub last_error: Option<String>,
    /// Why the shard is not healthy, if it is not.
    pub problem: Option<ShardProblem>,
    /// Bytes waiting for Kafka's acknowledgement.
    pub buffered_bytes: u64,
    /// This is the worker's last report.
    pub stopped: bool,
    /// When the worker last let go of devices (RFC 3339).
    pub released_at: Option<String>,
    /// The shard count before the latest release.
    pub previous_shard_count: u32,
}

impl ShardReporter {
    /// A reporter for shard `index`, continuing from the totals of its existing entry, if any.
    pub fn new(
        api: Api<DeviceSimulation>,
        simulation: &str,
        index: u32,
        existing: Option<&ShardStatus>,
    ) -> Self {
        let baseline = existing.map_or_else(Totals::default, |e| e.totals.clone());
        Self {
            api,
            simulation: simulation.to_owned(),
            index,
            manager: format!("devsim-worker-{index}"),
            baseline,
            rate: DeliveredRate::default(),
            handoff_timeouts: existing.map_or(0, |e| e.handoff_timeouts),
        }
    }

    /// Folds a producer that is being replaced into the baseline.
    pub fn retire(&mut self, snapshot: &Snapshot) {
        self.baseline.messages_sent += snapshot.sent;
        self.baseline.messages_delivered += snapshot.delivered;
        self.baseline.messages_failed += snapshot.failed;
        self.baseline.messages_dropped += snapshot.dropped;
        self.baseline.messages_skipped += snapshot.skipped;
    }

    /// The entry for `state`.
    pub fn entry(&mut self, state: &ShardState) -> ShardStatus {
        let s = state.snapshot;
        let sent = self.baseline.messages_sent + s.map_or(0, |s| s.sent);
        let delivered = self.baseline.messages_delivered + s.map_or(0, |s| s.delivered);
        // The baseline carries totals across producer restarts, so the count never goes back.
        let rate = self.rate.observe(Instant::now(), delivered);
        ShardStatus {
            index: self.index,
            shard_count: state.shard_count,
            devices: state.devices as u32,
            totals: Totals {
                messages_sent: sent,
                messages_delivered: delivered,
                messages_failed: self.baseline.messages_failed + s.map_or(0, |s| s.failed),
                messages_dropped: self.baseline.messages_dropped + s.map_or(0, |s| s.dropped),
                messages_skipped: self.baseline.messages_skipped + s.map_or(0, |s| s.skipped),
            },
            messages_per_second: (rate * 10.0).round() / 10.0,
            schedule_lag_p99_ms: s.map_or(0.0, |s| (s.lag_p99_ms * 100.0).round() / 100.0),
            behind_schedule_ms: s.map_or(0.0, |s| s.behind_ms.round()),
            buffered_bytes: state.buffered_bytes,
            problem: state.problem.clone(),
            handoff_timeouts: self.handoff_timeouts,
            last_error: state.last_error.clone(),
            stopped: state.stopped,
            released_at: state.released_at.clone(),
            previous_shard_count: state.previous_shard_count,
            updated: Some(format_time(Timestamp::now())),
        }
    }

    /// Applies the entry for `state` to the resource's status.
    pub async fn report(&mut self, state: &ShardState) -> Result<(), kube::Error> {
        let entry = self.entry(state);
        let body = json!({
            "apiVersion": format!("{GROUP}/{VERSION}"),
            "kind": "DeviceSimulation",
            "status": { "shards": [entry] },
        });
        self.api
            .patch_status(
                &self.simulation,
                &PatchParams::apply(&self.manager).force(),
                &Patch::Apply(body),
            )
            .await
            .map(|_| ())
    }
}
