//! The worker's pure step: from the simulation as last seen, what this shard should run.
//!
//! The schedule comes from the controller's epoch (`status.schedule`), not from the spec: an
//! edited interval or device count applies only once the controller has opened its epoch, so
//! every worker switches at the same instant.

use crate::config::{self, ValidatedSimulation};
use crate::crd::timestamps::parse_time;
use crate::crd::{DeviceSimulation, Phase, parse_duration};
use crate::engine::plan::SimulationPlan;

use super::error::WorkerError;

/// What this shard should run now.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// The validated simulation, its schedule taken from the current epoch.
    pub validated: ValidatedSimulation,
    /// Start of the current epoch (Unix ms): every due time is anchored to it.
    pub t0_ms: i64,
    /// The shard count to run under; 0 while paused, completed or failed.
    pub shards: u32,
}

/// What this shard should run, or why it cannot run anything. `Ok(None)`: the controller has
/// not started the simulation yet, so there is nothing to run and nothing wrong.
pub fn desired(sim: &DeviceSimulation) -> Result<Option<Desired>, WorkerError> {
    let mut validated = config::validate(sim).map_err(WorkerError::InvalidSpec)?;
    let status = sim.status.clone().unwrap_or_default();
    // An epoch without a device count predates phases that depend on it: the controller
    // replaces it with one that has it, and until then there is no schedule to keep to.
    let Some((epoch, devices)) = status
        .schedule
        .and_then(|epoch| epoch.devices.map(|devices| (epoch, devices)))
    else {
        return Ok(None);
    };
    let t0 = parse_time(Some(&epoch.since)).ok_or_else(|| WorkerError::BadEpoch {
        field: "status.schedule.since",
        value: epoch.since.clone(),
    })?;
    let interval = parse_duration(&epoch.interval)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| WorkerError::BadEpoch {
            field: "status.schedule.interval",
            value: epoch.interval.clone(),
        })?;
    validated.plan.first_seq = epoch.first_seq;
    validated.plan.interval = interval;
    validated.plan.devices = devices;
    let stopped = sim.spec.paused || matches!(status.phase, Some(Phase::Completed | Phase::Failed));
    let shards = if stopped { 0 } else { validated.plan.replicas };
    Ok(Some(Desired {
        validated,
        t0_ms: t0.as_millisecond(),
        shards,
    }))
}

/// Whether a producer running `running` under epoch `t0_ms` must restart to run `desired`:
/// anything but the shard count changed (the shard count is re-sharded live instead).
pub fn needs_restart(running: &ValidatedSimulation, t0_ms: i64, desired: &Desired) -> bool {
    t0_ms != desired.t0_ms
        || running.kafka != desired.validated.kafka
        || !same_but_shard_count(&running.plan, &desired.validated.plan)
}

fn same_but_shard_count(a: &SimulationPlan, b: &SimulationPlan) -> bool {
    let mut b = b.clone();
    b.replicas = a.replicas;
    *a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_simulation;

    fn sim(spec: &str, status: &str) -> DeviceSimulation {
        parse_simulation(&format!(
            "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: plant\nspec:\n  devices: 100\n  interval: 1s\n  replicas: 3\n{spec}status:\n{status}"
        ))
        .expect("fixture parses")
    }

    const EPOCH: &str = "  phase: Running\n  schedule:\n    since: \"2026-11-25T12:00:00.250Z\"\n    firstSeq: 63\n    interval: 250ms\n    devices: 80\n";

    #[test]
    fn the_schedule_comes_from_the_epoch_not_the_spec() {
        let d = desired(&sim("", EPOCH))
            .expect("runnable")
            .expect("started");
        let t0: k8s_openapi::jiff::Timestamp = "2026-11-25T12:00:00.250Z".parse().expect("time");
        assert_eq!(d.t0_ms, t0.as_millisecond());
        assert_eq!(
            d.validated.plan.interval,
            std::time::Duration::from_millis(250)
        );
        assert_eq!((d.validated.plan.first_seq, d.shards), (63, 3));
        // The spec says 100 devices; the epoch the controller opened says 80, and rules.
        assert_eq!(d.validated.plan.devices, 80);
    }

    #[test]
    fn an_epoch_without_a_device_count_runs_nothing_until_replaced() {
        let legacy = EPOCH.replace("    devices: 80\n", "");
        assert!(matches!(desired(&sim("", &legacy)), Ok(None)));
    }

    #[test]
    fn nothing_runs_before_the_controller_opens_the_first_epoch() {
        assert!(matches!(desired(&sim("", "  phase: Pending\n")), Ok(None)));
    }

    #[test]
    fn paused_completed_and_failed_run_no_shard() {
        let paused = desired(&sim("  paused: true\n", EPOCH))
            .expect("ok")
            .expect("started");
        assert_eq!(paused.shards, 0);
        for phase in ["Completed", "Failed"] {
            let status = EPOCH.replace("Running", phase);
            assert_eq!(
                desired(&sim("", &status))
                    .expect("ok")
                    .expect("started")
                    .shards,
                0,
                "{phase}"
            );
        }
    }

    #[test]
    fn an_invalid_spec_or_a_broken_epoch_is_a_specific_error() {
        let invalid = desired(&sim("  jitter: 0.9\n", EPOCH)).unwrap_err();
        assert!(invalid.to_string().contains("spec.jitter"), "{invalid}");
        assert_eq!(invalid.category(), "invalid_spec");
        let since = desired(&sim(
            "",
            &EPOCH.replace("\"2026-11-25T12:00:00.250Z\"", "soon"),
        ))
        .unwrap_err();
        assert!(
            matches!(&since, WorkerError::BadEpoch { field: "status.schedule.since", value } if value == "soon"),
            "{since}"
        );
        let interval = desired(&sim("", &EPOCH.replace("250ms", "0s"))).unwrap_err();
        assert!(matches!(
            interval,
            WorkerError::BadEpoch {
                field: "status.schedule.interval",
                ..
            }
        ));
    }

    #[test]
    fn only_a_change_other_than_the_shard_count_restarts_the_producer() {
        let base = desired(&sim("", EPOCH)).expect("ok").expect("started");
        let rescaled = desired(&sim("", EPOCH).with_replicas(5))
            .expect("ok")
            .expect("started");
        assert!(!needs_restart(&base.validated, base.t0_ms, &rescaled));
        let reseeded = desired(&sim("  seed: 7\n", EPOCH))
            .expect("ok")
            .expect("started");
        assert!(needs_restart(&base.validated, base.t0_ms, &reseeded));
        let retopic = desired(&sim("  kafka:\n    topic: other\n", EPOCH))
            .expect("ok")
            .expect("started");
        assert!(needs_restart(&base.validated, base.t0_ms, &retopic));
        assert!(
            needs_restart(&base.validated, base.t0_ms + 1, &base),
            "a new epoch"
        );
    }

    trait WithReplicas {
        fn with_replicas(self, n: u32) -> Self;
    }

    impl WithReplicas for DeviceSimulation {
        fn with_replicas(mut self, n: u32) -> Self {
            self.spec.replicas = n;
            self
        }
    }
}
