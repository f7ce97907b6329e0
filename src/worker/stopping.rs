//! The stopping step: a producer stopped and flushed (on a spec change, a pause or SIGTERM),
//! and the worker's last report, whose cut lets a successor resume exactly where it let go.

use super::Worker;
use crate::metrics::Observed;
use crate::runtime::{Report, unix_now_ms};

impl Worker {
    /// SIGTERM: releases every device this shard still owns at one cut, as a re-shard does (so
    /// a restart under the same count resumes them exactly there, see `own_release`), stops
    /// and flushes the producer, and reports the final figures.
    pub(super) async fn finish(&mut self) {
        tracing::info!(shard = self.index, "stopping: flushing the producer");
        let mut cut = None;
        if let Some(p) = self.producer.as_ref().filter(|p| p.shards > self.index) {
            self.previous_count = p.shards;
            cut = Some(p.release_for(0).await);
        }
        self.stop_producer().await;
        if cut.is_some() {
            self.released_at_ns = cut;
        }
        self.reported_count = 0;
        self.stopped = true;
        self.report().await;
    }

    /// Stops the producer tasks, flushes, and folds the producer's last figures into the
    /// metrics and the shard's retired totals.
    pub(super) async fn stop_producer(&mut self) {
        let Some(p) = self.producer.take() else {
            return;
        };
        self.metrics.set_ready(false);
        let stopped = p.stop().await;
        let snapshot = stopped.snapshot;
        // What the producer did since the last report counts too.
        self.metrics.record(&Observed {
            report: &Report::between(&self.previous.unwrap_or(snapshot), snapshot),
            sink: &stopped.sink,
            lag_ns: &stopped.lag_ns,
            devices: 0,
            buffer_limit: stopped.buffer_limit,
            new_producer: self.previous.is_none(),
        });
        // No reading due after this instant came from this producer.
        self.released_at_ns = Some(i128::from(unix_now_ms() + 1) * 1_000_000);
        self.reporter.retire(&snapshot);
        tracing::info!(
            shard = self.index,
            sent = snapshot.sent,
            delivered = snapshot.delivered,
            failed = snapshot.failed,
            "producer stopped and flushed"
        );
        self.last_failed = 0;
        self.previous = None;
    }
}
