//! The phase step: from the spec, its validation and the StatefulSet, the phase, how many
//! workers should run, the Ready and Progressing conditions, and when to look again.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::conditions::Verdict;
use super::epoch::next_epoch;
use super::{Observed, signed};
use crate::config::ConfigError;
use crate::crd::timestamps::{format_time, parse_time};
use crate::crd::{DeviceSimulation, DeviceSimulationStatus, Phase, ScheduleEpoch};
use crate::engine::plan::SimulationPlan;

/// The longest a running simulation waits before the controller looks again without a change
/// (rates and stale shards are recomputed then).
pub const RESYNC: Duration = Duration::from_secs(10);

/// How soon the controller looks again while workers are starting or stopping.
pub const WHILE_SCALING: Duration = Duration::from_secs(5);

/// The outcome of the phase step.
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseOutcome {
    /// The phase.
    pub phase: Phase,
    /// Worker replicas the StatefulSet should have.
    pub replicas: u32,
    /// The Ready condition.
    pub ready: Verdict,
    /// The Progressing condition.
    pub progressing: Verdict,
    /// When to look again without a change (None: wait for a change).
    pub requeue: Option<Duration>,
    /// `status.startTime`: set when the simulation first runs, then kept.
    pub start_time: Option<String>,
    /// `status.schedule`: the schedule epoch workers follow.
    pub schedule: Option<ScheduleEpoch>,
}

/// Decides the phase of `sim`; `plan` is the result of its validation.
pub fn decide_phase(
    sim: &DeviceSimulation,
    plan: Result<&SimulationPlan, &ConfigError>,
    observed: &Observed,
    previous: &DeviceSimulationStatus,
    now: Timestamp,
) -> PhaseOutcome {
    let stopped = |phase, replicas, ready, progressing| PhaseOutcome {
        phase,
        replicas,
        ready,
        progressing,
        requeue: None,
        start_time: previous.start_time.clone(),
        schedule: previous.schedule.clone(),
    };
    let plan = match plan {
        Err(error) => {
            return stopped(
                Phase::Failed,
                0,
                Verdict::no("InvalidSpec", error.to_string()),
                Verdict::no(
                    "InvalidSpec",
                    "fix the spec; the simulation waits for a change",
                ),
            );
        }
        Ok(plan) => plan,
    };
    let end = |start: &Option<String>| {
        plan.duration
            .zip(parse_time(start.as_deref()))
            .map(|(d, start)| start + signed(d))
    };
    if end(&previous.start_time).is_some_and(|end| now >= end) {
        return stopped(
            Phase::Completed,
            0,
            Verdict::no("Completed", "the simulation's duration has elapsed"),
            Verdict::no("Completed", "nothing left to do"),
        );
    }
    if sim.spec.paused {
        return stopped(
            Phase::Paused,
            0,
            Verdict::no("Paused", "spec.paused is true; set it to false to resume"),
            Verdict::no("Paused", "workers scaled to 0, totals kept"),
        );
    }

    let start_time = previous
        .start_time
        .clone()
        .or_else(|| Some(format_time(now)));
    let schedule = next_epoch(
        previous.schedule.clone(),
        start_time.as_deref(),
        &sim.spec.interval,
        sim.spec.devices,
        now,
    );
    // Look again at the end of a bounded run, or at the next resync, whichever comes first.
    let requeue = end(&start_time).map_or(RESYNC, |end| {
        Duration::try_from(end.duration_since(now))
            .unwrap_or(Duration::ZERO)
            .min(RESYNC)
            + Duration::from_millis(100)
    });
    let desired = plan.replicas;
    let running = |phase, ready, progressing, requeue| PhaseOutcome {
        phase,
        replicas: desired,
        ready,
        progressing,
        requeue: Some(requeue),
        start_time: start_time.clone(),
        schedule: schedule.clone(),
    };
    if desired == 0 {
        return running(
            Phase::Pending,
            Verdict::no("NoReplicas", "spec.replicas is 0; scale up to produce"),
            Verdict::no("NoReplicas", "no workers wanted"),
            requeue,
        );
    }
    if observed.sts_ready_replicas >= desired && observed.sts_replicas == desired {
        return running(
            Phase::Running,
            Verdict::yes(
                "AllShardsReady",
                format!("{desired} of {desired} workers ready"),
            ),
            Verdict::no("Stable", "every shard is running"),
            requeue,
        );
    }
    // A running simulation that is rescaling keeps running; a new one is pending.
    let phase = if previous.phase == Some(Phase::Running) {
        Phase::Running
    } else {
        Phase::Pending
    };
    let message = format!("{} of {desired} workers ready", observed.sts_ready_replicas);
    running(
        phase,
        Verdict::no("WaitingForWorkers", message.clone()),
        Verdict::yes("Scaling", message),
        requeue.min(WHILE_SCALING),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::status::tests::{NOW, ready, sim, with_replicas};

    fn phase_of(
        spec: &str,
        previous: &DeviceSimulationStatus,
        observed: &Observed,
    ) -> PhaseOutcome {
        phase_with(sim(spec, None), previous, observed)
    }

    fn phase_with(
        sim: DeviceSimulation,
        previous: &DeviceSimulationStatus,
        observed: &Observed,
    ) -> PhaseOutcome {
        let validated = crate::config::validate(&sim);
        decide_phase(
            &sim,
            validated.as_ref().map(|v| &v.plan),
            observed,
            previous,
            NOW.parse().expect("time"),
        )
    }

    #[test]
    fn a_new_simulation_is_pending_starts_its_schedule_and_looks_again_soon() {
        let p = phase_of("", &DeviceSimulationStatus::default(), &Observed::default());
        assert_eq!((p.phase, p.replicas), (Phase::Pending, 2));
        assert_eq!(p.start_time.as_deref(), Some("2026-11-25T12:00:00Z"));
        assert_eq!(
            p.schedule.map(|e| (e.first_seq, e.interval)),
            Some((0, "1s".into()))
        );
        assert_eq!(
            p.ready,
            Verdict::no("WaitingForWorkers", "0 of 2 workers ready")
        );
        assert_eq!(p.progressing.reason, "Scaling");
        assert_eq!(p.requeue, Some(WHILE_SCALING));
    }

    #[test]
    fn all_workers_ready_is_running_and_stable() {
        let p = phase_of("", &DeviceSimulationStatus::default(), &ready(2));
        assert_eq!((p.phase, p.replicas), (Phase::Running, 2));
        assert_eq!(
            p.ready,
            Verdict::yes("AllShardsReady", "2 of 2 workers ready")
        );
        assert_eq!(p.progressing.reason, "Stable");
        assert_eq!(p.requeue, Some(RESYNC));
    }

    #[test]
    fn a_running_simulation_that_rescales_stays_running() {
        let previous = DeviceSimulationStatus {
            phase: Some(Phase::Running),
            ..DeviceSimulationStatus::default()
        };
        let p = phase_with(with_replicas(3), &previous, &ready(2));
        assert_eq!((p.phase, p.replicas), (Phase::Running, 3));
        assert_eq!(p.ready.reason, "WaitingForWorkers");
    }

    #[test]
    fn zero_replicas_is_pending_with_no_workers() {
        let p = phase_with(
            with_replicas(0),
            &DeviceSimulationStatus::default(),
            &Observed::default(),
        );
        assert_eq!(
            (p.phase, p.replicas, p.ready.reason.as_ref()),
            (Phase::Pending, 0, "NoReplicas")
        );
    }

    #[test]
    fn paused_stops_the_workers_and_keeps_the_start() {
        let previous = DeviceSimulationStatus {
            phase: Some(Phase::Running),
            start_time: Some("2026-11-25T11:00:00Z".into()),
            ..DeviceSimulationStatus::default()
        };
        let p = phase_of("  paused: true\n", &previous, &ready(2));
        assert_eq!((p.phase, p.replicas, p.requeue), (Phase::Paused, 0, None));
        assert_eq!(p.start_time, previous.start_time);
    }

    #[test]
    fn a_bounded_run_completes_at_its_end_and_looks_again_right_then() {
        let started = |at: &str| DeviceSimulationStatus {
            phase: Some(Phase::Running),
            start_time: Some(at.into()),
            ..DeviceSimulationStatus::default()
        };
        let done = phase_of(
            "  duration: 30m\n",
            &started("2026-11-25T11:00:00Z"),
            &ready(2),
        );
        assert_eq!(
            (done.phase, done.replicas, done.requeue),
            (Phase::Completed, 0, None)
        );
        // Three seconds before the end it looks again just after the end, not at the resync.
        let ending = phase_of(
            "  duration: 30m\n",
            &started("2026-11-25T11:30:03Z"),
            &ready(2),
        );
        assert_eq!(ending.phase, Phase::Running);
        assert_eq!(ending.requeue, Some(Duration::from_millis(3100)));
    }

    #[test]
    fn an_invalid_spec_fails_naming_the_field_and_waits_for_a_change() {
        let bad = "  profiles:\n    - name: p\n      sensors:\n        - type: current\n          min: 5\n          max: 1\n";
        let p = phase_of(
            bad,
            &DeviceSimulationStatus::default(),
            &Observed::default(),
        );
        assert_eq!((p.phase, p.replicas, p.requeue), (Phase::Failed, 0, None));
        assert_eq!(p.ready.reason, "InvalidSpec");
        assert!(
            p.ready.message.contains("spec.profiles[0].sensors[0].min"),
            "{}",
            p.ready.message
        );
    }
}
