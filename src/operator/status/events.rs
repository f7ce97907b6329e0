//! The events step: the transitions a person watching `kubectl get events` cares about, each
//! published once, when it happens.

use super::conditions::{Verdict, find};
use super::phase::PhaseOutcome;
use super::{Observed, Severity, Transition, Trigger};
use crate::crd::{DeviceSimulation, DeviceSimulationStatus, Phase};
use crate::runtime::health::Cause;

/// The events that moving from `previous` to `outcome` (and `degraded`) calls for.
pub fn transitions(
    sim: &DeviceSimulation,
    previous: &DeviceSimulationStatus,
    outcome: &PhaseOutcome,
    degraded: &Verdict,
    observed: &Observed,
    messages_sent: u64,
) -> Vec<Transition> {
    let mut events = Vec::new();
    let replicas = outcome.replicas;
    // An invalid spec is reported once per distinct problem, not on every reconcile.
    let already_reported = find(&previous.conditions, "Ready")
        .is_some_and(|c| c.reason == outcome.ready.reason && c.message == outcome.ready.message);
    if outcome.ready.reason == "InvalidSpec" && !already_reported {
        events.push(warning("InvalidSpec", outcome.ready.message.clone()));
    }
    if previous.phase != Some(outcome.phase) {
        match outcome.phase {
            Phase::Running => events.push(normal(
                "Started",
                format!("{} devices across {replicas} shards", sim.spec.devices),
            )),
            Phase::Paused => events.push(normal("Paused", "workers scaled to 0, totals kept")),
            Phase::Completed => events.push(normal(
                "Completed",
                format!("{messages_sent} messages sent"),
            )),
            Phase::Pending | Phase::Failed => {}
        }
    }
    if let Some(before) = observed.sts_spec_replicas
        && before != replicas
        && outcome.phase == Phase::Running
        && previous.phase == Some(Phase::Running)
    {
        events.push(Transition {
            trigger: Trigger::Workers,
            ..normal("Scaled", format!("shards {before} -> {replicas}"))
        });
    }
    events.extend(shard_problem_event(previous, degraded));
    events.extend(worker_exit_event(previous, degraded));
    events
}

/// A Warning when Degraded starts to report workers that the kubelet saw die (OOM kills,
/// crash loops): they cannot report it themselves.
fn worker_exit_event(previous: &DeviceSimulationStatus, degraded: &Verdict) -> Option<Transition> {
    let reason = EXIT_REASONS
        .into_iter()
        .find(|r| degraded.status && degraded.reason == *r)?;
    let already = find(&previous.conditions, "Degraded")
        .is_some_and(|c| c.status == "True" && c.reason == reason);
    (!already).then(|| warning(reason, degraded.message.clone()))
}

/// A Warning when MemoryFits turns False, or its message changes: once per distinct verdict.
pub fn memory_event(previous: &DeviceSimulationStatus, fits: &Verdict) -> Option<Transition> {
    let reported = find(&previous.conditions, "MemoryFits")
        .is_some_and(|c| c.status == "False" && c.message == fits.message);
    (!fits.status && !reported).then(|| warning("ShardExceedsMemoryLimit", fits.message.clone()))
}

/// Degraded's reasons from [`super::exits`].
const EXIT_REASONS: [&str; 2] = ["WorkerOOMKilled", "WorkerCrashLooping"];

/// An event when the shards' problem changes cause (one per distinct cause, carrying its
/// message), and a `Recovered` event when the last problem clears.
fn shard_problem_event(
    previous: &DeviceSimulationStatus,
    degraded: &Verdict,
) -> Option<Transition> {
    let before = find(&previous.conditions, "Degraded")
        .filter(|c| c.status == "True")
        .and_then(|c| Cause::from_reason(&c.reason));
    let now = degraded
        .status
        .then(|| Cause::from_reason(&degraded.reason))
        .flatten();
    match (before, now) {
        (_, Some(cause)) if before != Some(cause) => Some(match cause {
            Cause::CatchingUp => normal(cause.reason(), degraded.message.clone()),
            _ => warning(cause.reason(), degraded.message.clone()),
        }),
        (Some(cause), None) if !degraded.status => Some(normal(
            "Recovered",
            format!(
                "no shard reports a problem any more (was {})",
                cause.reason()
            ),
        )),
        _ => None,
    }
}

fn normal(reason: &'static str, note: impl Into<String>) -> Transition {
    Transition {
        trigger: Trigger::Status,
        severity: Severity::Normal,
        reason,
        note: note.into(),
    }
}

fn warning(reason: &'static str, note: impl Into<String>) -> Transition {
    Transition {
        trigger: Trigger::Status,
        severity: Severity::Warning,
        reason,
        note: note.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::status::conditions::condition;
    use crate::operator::status::tests::{NOW, ready, sim, with_replicas};

    fn outcome(phase: Phase, replicas: u32, ready: Verdict) -> PhaseOutcome {
        PhaseOutcome {
            phase,
            replicas,
            ready,
            progressing: Verdict::no("Stable", ""),
            requeue: None,
            start_time: None,
            schedule: None,
        }
    }

    fn previous(phase: Option<Phase>, ready: Verdict, degraded: Verdict) -> DeviceSimulationStatus {
        let now = NOW.parse().expect("time");
        DeviceSimulationStatus {
            phase,
            conditions: vec![
                condition(&[], "Ready", ready, None, now),
                condition(&[], "Degraded", degraded, None, now),
            ],
            ..DeviceSimulationStatus::default()
        }
    }

    fn healthy() -> Verdict {
        Verdict::no("Healthy", "no errors reported")
    }

    fn reasons(events: &[Transition]) -> Vec<&'static str> {
        events.iter().map(|t| t.reason).collect()
    }

    #[test]
    fn starting_pausing_and_completing_are_announced_once() {
        let sim = sim("", None);
        let pending = previous(
            Some(Phase::Pending),
            Verdict::no("WaitingForWorkers", ""),
            healthy(),
        );
        let running = outcome(Phase::Running, 2, Verdict::yes("AllShardsReady", ""));
        let started = transitions(&sim, &pending, &running, &healthy(), &ready(2), 0);
        assert_eq!(reasons(&started), ["Started"]);
        assert_eq!(started[0].note, "100 devices across 2 shards");
        let was_running = previous(
            Some(Phase::Running),
            Verdict::yes("AllShardsReady", ""),
            healthy(),
        );
        assert!(transitions(&sim, &was_running, &running, &healthy(), &ready(2), 0).is_empty());
        let paused = outcome(Phase::Paused, 0, Verdict::no("Paused", ""));
        assert_eq!(
            reasons(&transitions(
                &sim,
                &was_running,
                &paused,
                &healthy(),
                &ready(2),
                0
            )),
            ["Paused"]
        );
        let completed = outcome(Phase::Completed, 0, Verdict::no("Completed", ""));
        let done = transitions(&sim, &was_running, &completed, &healthy(), &ready(2), 1234);
        assert_eq!(
            (reasons(&done), done[0].note.as_str()),
            (vec!["Completed"], "1234 messages sent")
        );
    }

    #[test]
    fn a_rescale_of_a_running_simulation_is_announced_with_both_counts() {
        let sim = with_replicas(3);
        let was_running = previous(
            Some(Phase::Running),
            Verdict::yes("AllShardsReady", ""),
            healthy(),
        );
        let scaled = transitions(
            &sim,
            &was_running,
            &outcome(Phase::Running, 3, Verdict::no("WaitingForWorkers", "")),
            &healthy(),
            &ready(2),
            0,
        );
        assert_eq!(
            (reasons(&scaled), scaled[0].note.as_str()),
            (vec!["Scaled"], "shards 2 -> 3")
        );
    }

    #[test]
    fn an_invalid_spec_is_reported_once_per_distinct_problem() {
        let sim = sim("", None);
        let invalid = |m: &str| Verdict::no("InvalidSpec", m);
        let fresh = previous(None, Verdict::no("WaitingForWorkers", ""), healthy());
        let failed = outcome(Phase::Failed, 0, invalid("spec.x: bad"));
        assert_eq!(
            reasons(&transitions(
                &sim,
                &fresh,
                &failed,
                &healthy(),
                &Observed::default(),
                0
            )),
            ["InvalidSpec"]
        );
        let reported = previous(Some(Phase::Failed), invalid("spec.x: bad"), healthy());
        assert!(
            transitions(
                &sim,
                &reported,
                &failed,
                &healthy(),
                &Observed::default(),
                0
            )
            .is_empty()
        );
        let other = outcome(Phase::Failed, 0, invalid("spec.y: bad"));
        assert_eq!(
            reasons(&transitions(
                &sim,
                &reported,
                &other,
                &healthy(),
                &Observed::default(),
                0
            )),
            ["InvalidSpec"]
        );
    }

    /// The status of a running simulation whose Degraded condition said `degraded`.
    fn was(degraded: Verdict) -> DeviceSimulationStatus {
        previous(
            Some(Phase::Running),
            Verdict::yes("AllShardsReady", ""),
            degraded,
        )
    }

    #[test]
    fn each_distinct_shard_problem_is_one_event_and_its_end_is_another() {
        let sim = sim("", None);
        let running = outcome(Phase::Running, 2, Verdict::yes("AllShardsReady", ""));
        let unreachable = Verdict::yes(
            "KafkaUnreachable",
            "shard 0: cannot reach Kafka at k:9092: Connection refused",
        );
        let first = transitions(&sim, &was(healthy()), &running, &unreachable, &ready(2), 0);
        assert_eq!(
            (reasons(&first), first[0].severity, first[0].note.as_str()),
            (
                vec!["KafkaUnreachable"],
                Severity::Warning,
                "shard 0: cannot reach Kafka at k:9092: Connection refused"
            )
        );
        // The same cause again, even with a new message: no new event.
        let still = Verdict::yes("KafkaUnreachable", "shard 0: no acknowledgement for 60 s");
        assert!(
            transitions(
                &sim,
                &was(unreachable.clone()),
                &running,
                &still,
                &ready(2),
                0
            )
            .is_empty()
        );
        // A new cause: its own event; catching up is normal news.
        let catching_up = Verdict::yes("CatchingUp", "shard 0: 40.0 s behind schedule");
        let next = transitions(&sim, &was(still), &running, &catching_up, &ready(2), 0);
        assert_eq!(
            (reasons(&next), next[0].severity),
            (vec!["CatchingUp"], Severity::Normal)
        );
        let recovered = transitions(&sim, &was(catching_up), &running, &healthy(), &ready(2), 0);
        assert_eq!(reasons(&recovered), ["Recovered"]);
        assert!(
            recovered[0].note.contains("CatchingUp"),
            "{}",
            recovered[0].note
        );
        // Missing workers are not a shard problem: no Recovered when they come back.
        let missing = Verdict::yes("ReplicasUnavailable", "1 of 2 workers ready");
        assert!(transitions(&sim, &was(missing), &running, &healthy(), &ready(2), 0).is_empty());
    }

    #[test]
    fn a_worker_the_kubelet_saw_killed_is_one_warning_until_it_clears() {
        let sim = sim("", None);
        let running = outcome(Phase::Running, 2, Verdict::yes("AllShardsReady", ""));
        let oom = Verdict::yes(
            "WorkerOOMKilled",
            "w-0 was killed for exceeding its memory limit",
        );
        let first = transitions(&sim, &was(healthy()), &running, &oom, &ready(2), 0);
        assert_eq!(
            (reasons(&first), first[0].severity, first[0].note.as_str()),
            (
                vec!["WorkerOOMKilled"],
                Severity::Warning,
                "w-0 was killed for exceeding its memory limit"
            )
        );
        assert!(transitions(&sim, &was(oom.clone()), &running, &oom, &ready(2), 0).is_empty());
    }
}
