//! The full pipeline at saturation: the simulation's own devices, profiles and encoding, with
//! far more readings due than one replica can produce, so that it runs flat out.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::plan::{Overflow, SimulationPlan};
use crate::runtime::{Fleet, FleetConfig, MessageSink, startup_allowance, unix_now_ms};

/// Readings per second the saturating schedule asks for: beyond any one process.
const SATURATING_RATE: f64 = 20e6;
/// Fewest devices the saturating schedule runs: enough for [`SATURATING_RATE`] at the
/// shortest interval the schedule allows.
const MIN_DEVICES: u32 = 20_000;
/// Most devices it runs: more only cost start-up time and memory, not messages.
const MAX_DEVICES: u32 = 1_000_000;
/// The shortest interval the CRD allows.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// `plan` as one replica of it runs flat out: one shard of `workersPerReplica` tasks, the same
/// profiles, encoding and device IDs (zero-padded, so their size does not change), but an
/// interval short enough that readings are always due, blocking on a full buffer (nothing
/// dropped or skipped), no rate cap and no end.
pub fn saturating(plan: &SimulationPlan) -> SimulationPlan {
    let devices = plan.devices.clamp(MIN_DEVICES, MAX_DEVICES);
    let interval = Duration::from_secs_f64(f64::from(devices) / SATURATING_RATE).max(MIN_INTERVAL);
    SimulationPlan {
        devices,
        interval,
        first_seq: 0,
        overflow: Overflow::Block,
        max_lag: None,
        max_messages_per_second: None,
        replicas: 1,
        duration: None,
        ..plan.clone()
    }
}

/// Runs `plan` (see [`saturating`]) into `sink` for `phase` after its start-up, calling
/// `on_start` when the first readings fall due (to start clocks there); returns what it
/// returned.
pub async fn produce_pipeline<S: MessageSink, T>(
    plan: &Arc<SimulationPlan>,
    sink: &Arc<S>,
    phase: Duration,
    on_start: impl FnOnce() -> T,
) -> T {
    let allowance = startup_allowance(plan, u64::from(plan.devices));
    let t0 = unix_now_ms() + allowance.as_millis() as i64;
    let mut fleet = Fleet::start(
        &FleetConfig {
            plan: Arc::clone(plan),
            shards: vec![0],
            unix_t0_ms: t0,
            unix_start_ms: t0,
            exit_when_done: true,
            idle: false,
        },
        Arc::clone(sink),
    );
    tokio::time::sleep(allowance).await;
    let started = on_start();
    tokio::time::sleep(phase).await;
    fleet.stop();
    fleet.join().await;
    started
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_simulation, validate};

    fn plan(devices: u32, interval: &str) -> SimulationPlan {
        let yaml = format!(
            "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: s\n\
             spec:\n  devices: {devices}\n  interval: {interval}\n  duration: 1m\n  \
             maxMessagesPerSecond: 100\n  replicas: 4\n  workersPerReplica: 3\n  \
             overflow: drop\n  maxLag: 1s\n  kafka:\n    topic: t\n"
        );
        validate(&parse_simulation(&yaml).unwrap()).unwrap().plan
    }

    #[test]
    fn the_saturating_schedule_always_has_readings_due() {
        for (devices, interval) in [(10, "1h"), (50_000, "1s"), (5_000_000, "10m")] {
            let user = plan(devices, interval);
            let flat_out = saturating(&user);
            assert!(
                flat_out.scheduled_rate() >= 5e6,
                "{devices} devices: {} msg/s scheduled",
                flat_out.scheduled_rate()
            );
            assert!(flat_out.interval >= MIN_INTERVAL);
            assert_eq!(flat_out.overflow, Overflow::Block);
            assert_eq!(
                (
                    flat_out.max_lag,
                    flat_out.max_messages_per_second,
                    flat_out.duration
                ),
                (None, None, None)
            );
            // One replica, with the simulation's own tasks, encoding and profiles.
            assert_eq!(flat_out.replicas, 1);
            assert_eq!(flat_out.workers_per_replica, 3);
            assert_eq!(flat_out.encoding, user.encoding);
            assert_eq!(flat_out.profiles.len(), user.profiles.len());
        }
    }
}
