//! The status a simulation should have, computed from its spec, its validation and what was
//! observed of its workers: a pure function, unit-tested without a client.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::build::selector_string;
use crate::config::duration::parse_duration;
use crate::crd::{
    DeviceSimulation, DeviceSimulationStatus, Phase, ScheduleEpoch, ShardStatus, Totals,
};
use crate::engine::plan::SimulationPlan;
use crate::engine::schedule::next_epoch_first_seq;

/// A shard's figures older than this no longer count towards the message rate.
const RATE_FRESHNESS: Duration = Duration::from_secs(30);

/// A shard entry not updated for this long belongs to a worker that died without a final report.
const STALE_AFTER: Duration = Duration::from_secs(60);

/// What the controller saw of the workers.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// `spec.replicas` of the StatefulSet, if it exists.
    pub sts_spec_replicas: Option<u32>,
    /// Pods that exist.
    pub sts_replicas: u32,
    /// Pods that are ready.
    pub sts_ready_replicas: u32,
}

/// Severity of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Normal.
    Normal,
    /// Warning.
    Warning,
}

/// An event to publish: a transition a person cares about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// Severity.
    pub severity: Severity,
    /// PascalCase reason.
    pub reason: &'static str,
    /// Human-readable note.
    pub note: String,
}

/// Everything the controller should do after looking at a simulation.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The controller's part of the status (no `shards`: workers own those).
    pub status: DeviceSimulationStatus,
    /// Replicas the StatefulSet should have.
    pub replicas: u32,
    /// Shard entries to remove (their pods are gone); done before any status write, in one
    /// JSON patch that also sets `retired` to [`Decision::retired_after_prune`], so no figure
    /// is ever counted twice or lost.
    pub prune: Vec<u32>,
    /// `retired` once the entries in `prune` are gone.
    pub retired_after_prune: Totals,
    /// Events to publish.
    pub transitions: Vec<Transition>,
    /// When to look again without a change (None: wait for a change).
    pub requeue: Option<Duration>,
}

/// Decides the status and replicas of `sim`; `plan` is the validation result.
pub fn decide(
    sim: &DeviceSimulation,
    plan: Result<&SimulationPlan, String>,
    observed: &Observed,
    now: Timestamp,
) -> Decision {
    let previous = sim.status.clone().unwrap_or_default();
    let generation = sim.metadata.generation;
    let mut transitions = Vec::new();
    let mut status = DeviceSimulationStatus {
        observed_generation: generation,
        replicas: observed.sts_replicas,
        ready_replicas: observed.sts_ready_replicas,
        selector: Some(selector_string(sim)),
        devices: sim.spec.devices,
        start_time: previous.start_time.clone(),
        schedule: previous.schedule.clone(),
        retired: previous.retired.clone(),
        ..DeviceSimulationStatus::default()
    };

    let (phase, replicas, ready, progressing, requeue) = match plan {
        Err(message) => {
            transitions.push(Transition {
                severity: Severity::Warning,
                reason: "InvalidSpec",
                note: message.clone(),
            });
            (
                Phase::Failed,
                0,
                cond(false, "InvalidSpec", &message),
                cond(
                    false,
                    "InvalidSpec",
                    "fix the spec; the simulation waits for a change",
                ),
                None,
            )
        }
        Ok(plan) => {
            let start = parse_time(previous.start_time.as_deref());
            let ended = match (start, plan.duration) {
                (Some(start), Some(d)) => now >= start + signed(d),
                _ => false,
            };
            if ended {
                (
                    Phase::Completed,
                    0,
                    cond(false, "Completed", "the simulation's duration has elapsed"),
                    cond(false, "Completed", "nothing left to do"),
                    None,
                )
            } else if sim.spec.paused {
                (
                    Phase::Paused,
                    0,
                    cond(
                        false,
                        "Paused",
                        "spec.paused is true; set it to false to resume",
                    ),
                    cond(false, "Paused", "workers scaled to 0, totals kept"),
                    None,
                )
            } else {
                if status.start_time.is_none() {
                    status.start_time = Some(format_time(now));
                }
                status.schedule = next_epoch(
                    status.schedule.take(),
                    status.start_time.as_deref(),
                    &sim.spec.interval,
                    plan,
                    now,
                );
                let desired = plan.replicas;
                let requeue = plan
                    .duration
                    .zip(parse_time(status.start_time.as_deref()))
                    .map(|(d, start)| {
                        let left = (start + signed(d)).duration_since(now);
                        Duration::try_from(left)
                            .unwrap_or(Duration::ZERO)
                            .min(Duration::from_secs(10))
                            + Duration::from_millis(100)
                    })
                    .or(Some(Duration::from_secs(10)));
                if desired == 0 {
                    (
                        Phase::Pending,
                        0,
                        cond(
                            false,
                            "NoReplicas",
                            "spec.replicas is 0; scale up to produce",
                        ),
                        cond(false, "NoReplicas", "no workers wanted"),
                        requeue,
                    )
                } else if observed.sts_ready_replicas >= desired && observed.sts_replicas == desired
                {
                    (
                        Phase::Running,
                        desired,
                        cond(
                            true,
                            "AllShardsReady",
                            &format!("{desired} of {desired} workers ready"),
                        ),
                        cond(false, "Stable", "every shard is running"),
                        requeue,
                    )
                } else {
                    let phase = if previous.phase == Some(Phase::Running) {
                        Phase::Running
                    } else {
                        Phase::Pending
                    };
                    let message =
                        format!("{} of {desired} workers ready", observed.sts_ready_replicas);
                    (
                        phase,
                        desired,
                        cond(false, "WaitingForWorkers", &message),
                        cond(true, "Scaling", &message),
                        Some(Duration::from_secs(5)).min(requeue),
                    )
                }
            }
        }
    };
    status.phase = Some(phase);

    // Totals: live shard entries plus the retired ones; prune entries whose pods are gone.
    let keep_below = replicas.max(observed.sts_replicas);
    let mut totals = status.retired.clone().unwrap_or_default();
    let mut retired_after_prune = totals.clone();
    let mut prune = Vec::new();
    let mut rate = 0.0;
    let mut errors = Vec::new();
    for shard in &previous.shards {
        totals.add(&shard.totals);
        // A shard beyond the count whose worker has stopped (reported count 0) or gone silent
        // is gone for good; its figures move to `retired`.
        let stopped = shard.stopped || !is_recent(shard, now, STALE_AFTER);
        if shard.index >= keep_below && stopped {
            prune.push(shard.index);
            retired_after_prune.add(&shard.totals);
            continue;
        }
        if phase == Phase::Running && is_fresh(shard, now) {
            rate += shard.messages_per_second;
            if let Some(e) = &shard.last_error {
                errors.push(format!("shard {}: {e}", shard.index));
            }
        }
    }
    status.totals = totals;
    status.messages_per_second = (rate * 10.0).round() / 10.0;

    let degraded = if !errors.is_empty() {
        cond(true, "KafkaErrors", &errors.join("; "))
    } else if phase == Phase::Running && observed.sts_ready_replicas < replicas {
        cond(
            true,
            "ReplicasUnavailable",
            &format!(
                "{} of {replicas} workers ready",
                observed.sts_ready_replicas
            ),
        )
    } else {
        cond(false, "Healthy", "no errors reported")
    };

    // Events for the transitions a person cares about.
    let previous_phase = previous.phase;
    if previous_phase != Some(phase) {
        match phase {
            Phase::Running => transitions.push(normal(
                "Started",
                format!("{} devices across {replicas} shards", sim.spec.devices),
            )),
            Phase::Paused => {
                transitions.push(normal("Paused", "workers scaled to 0, totals kept".into()))
            }
            Phase::Completed => transitions.push(normal(
                "Completed",
                format!("{} messages sent", status.totals.messages_sent),
            )),
            Phase::Pending | Phase::Failed => {}
        }
    } else if phase == Phase::Failed {
        transitions.clear(); // already reported
    }
    if let Some(before) = observed.sts_spec_replicas
        && before != replicas
        && phase == Phase::Running
        && previous_phase == Some(Phase::Running)
    {
        transitions.push(normal("Scaled", format!("shards {before} -> {replicas}")));
    }
    let was_degraded_by_kafka = find(&previous.conditions, "Degraded")
        .is_some_and(|c| c.status == "True" && c.reason == "KafkaErrors");
    if degraded.0 && degraded.1 == "KafkaErrors" && !was_degraded_by_kafka {
        transitions.push(Transition {
            severity: Severity::Warning,
            reason: "KafkaUnreachable",
            note: degraded.2.clone(),
        });
    }

    status.conditions = vec![
        condition(&previous.conditions, "Ready", ready, generation, now),
        condition(
            &previous.conditions,
            "Progressing",
            progressing,
            generation,
            now,
        ),
        condition(&previous.conditions, "Degraded", degraded, generation, now),
    ];
    Decision {
        status,
        replicas,
        prune,
        retired_after_prune,
        transitions,
        requeue,
    }
}

/// How far ahead a new schedule epoch starts, so that every worker switches at the same moment.
const EPOCH_LEAD: Duration = Duration::from_secs(2);

/// The schedule epoch to follow: the first one from the start time, or a new one when the
/// interval was edited, numbered after every reading the old one can have produced by then.
fn next_epoch(
    current: Option<ScheduleEpoch>,
    start_time: Option<&str>,
    interval_text: &str,
    plan: &SimulationPlan,
    now: Timestamp,
) -> Option<ScheduleEpoch> {
    let Some(current) = current else {
        return start_time.map(|since| ScheduleEpoch {
            since: since.to_owned(),
            first_seq: 0,
            interval: interval_text.to_owned(),
        });
    };
    let old_interval = parse_duration(&current.interval)
        .ok()
        .filter(|d| !d.is_zero());
    if old_interval == Some(plan.interval) {
        return Some(current);
    }
    let (Some(old_interval), Some(old_since)) = (old_interval, parse_time(Some(&current.since)))
    else {
        return Some(current);
    };
    let since = (now + signed(EPOCH_LEAD)).max(old_since);
    let elapsed = Duration::try_from(since.duration_since(old_since)).unwrap_or(Duration::ZERO);
    Some(ScheduleEpoch {
        since: format_time(since),
        first_seq: next_epoch_first_seq(current.first_seq, old_interval, elapsed),
        interval: interval_text.to_owned(),
    })
}

type CondParts = (bool, &'static str, String);

fn cond(status: bool, reason: &'static str, message: &str) -> CondParts {
    (status, reason, message.to_owned())
}

fn normal(reason: &'static str, note: String) -> Transition {
    Transition {
        severity: Severity::Normal,
        reason,
        note,
    }
}

fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// A condition whose transition time only moves when its status does.
fn condition(
    previous: &[Condition],
    type_: &str,
    (status, reason, message): CondParts,
    generation: Option<i64>,
    now: Timestamp,
) -> Condition {
    let status = if status { "True" } else { "False" }.to_owned();
    let last_transition_time = find(previous, type_).filter(|c| c.status == status).map_or(
        Time(now.round(k8s_openapi::jiff::Unit::Second).unwrap_or(now)),
        |c| c.last_transition_time.clone(),
    );
    Condition {
        type_: type_.to_owned(),
        status,
        reason: reason.to_owned(),
        message,
        observed_generation: generation,
        last_transition_time,
    }
}

fn is_fresh(shard: &ShardStatus, now: Timestamp) -> bool {
    is_recent(shard, now, RATE_FRESHNESS)
}

fn is_recent(shard: &ShardStatus, now: Timestamp, within: Duration) -> bool {
    parse_time(shard.updated.as_deref()).is_some_and(|t| now.duration_since(t) <= signed(within))
}

fn signed(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

/// RFC 3339 with milliseconds, the precision schedules are anchored with.
pub fn format_time(t: Timestamp) -> String {
    t.round(k8s_openapi::jiff::Unit::Millisecond)
        .unwrap_or(t)
        .to_string()
}

/// Parses [`format_time`]'s output.
pub fn parse_time(text: Option<&str>) -> Option<Timestamp> {
    text?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_simulation, validate};

    const NOW: &str = "2026-11-25T12:00:00Z";

    fn sim(spec: &str, status: Option<DeviceSimulationStatus>) -> DeviceSimulation {
        let mut sim = parse_simulation(&format!(
            "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: plant\n  namespace: iot\n  generation: 3\nspec:\n  devices: 100\n  interval: 1s\n  replicas: 2\n{spec}"
        ))
        .expect("fixture parses");
        sim.status = status;
        sim
    }

    fn decide_now(sim: &DeviceSimulation, observed: &Observed) -> Decision {
        let validated = validate(sim).map_err(|e| e.to_string());
        decide(
            sim,
            validated.as_ref().map(|v| &v.plan).map_err(Clone::clone),
            observed,
            NOW.parse().expect("time"),
        )
    }

    fn ready(n: u32) -> Observed {
        Observed {
            sts_spec_replicas: Some(n),
            sts_replicas: n,
            sts_ready_replicas: n,
        }
    }

    fn condition<'a>(d: &'a Decision, type_: &str) -> &'a Condition {
        d.status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .expect("condition present")
    }

    fn shard(index: u32, sent: u64, stopped: bool) -> ShardStatus {
        ShardStatus {
            index,
            shard_count: 2,
            totals: Totals {
                messages_sent: sent,
                messages_delivered: sent,
                ..Totals::default()
            },
            messages_per_second: 50.0,
            stopped,
            updated: Some("2026-11-25T11:59:58Z".into()),
            ..ShardStatus::default()
        }
    }

    #[test]
    fn a_new_simulation_starts_its_schedule_and_waits_for_workers() {
        let d = decide_now(&sim("", None), &Observed::default());
        assert_eq!(d.status.phase, Some(Phase::Pending));
        assert_eq!(d.replicas, 2);
        assert_eq!(d.status.start_time.as_deref(), Some("2026-11-25T12:00:00Z"));
        let epoch = d.status.schedule.clone().expect("schedule epoch");
        assert_eq!((epoch.first_seq, epoch.interval.as_str()), (0, "1s"));
        assert_eq!(condition(&d, "Ready").reason, "WaitingForWorkers");
        assert_eq!(condition(&d, "Ready").observed_generation, Some(3));
        assert_eq!(d.status.observed_generation, Some(3));
    }

    #[test]
    fn all_workers_ready_is_running_with_the_summed_rate_and_a_started_event() {
        let pending = decide_now(&sim("", None), &Observed::default()).status;
        let mut status = pending.clone();
        status.shards = vec![shard(0, 100, false), shard(1, 200, false)];
        let d = decide_now(&sim("", Some(status)), &ready(2));
        assert_eq!(d.status.phase, Some(Phase::Running));
        assert_eq!(condition(&d, "Ready").status, "True");
        assert_eq!(d.status.totals.messages_sent, 300);
        assert_eq!(d.status.messages_per_second, 100.0);
        assert!(d.transitions.iter().any(|t| t.reason == "Started"));
        assert!(d.prune.is_empty());
    }

    #[test]
    fn paused_and_completed_scale_to_zero_and_keep_totals() {
        let mut status = decide_now(&sim("", None), &Observed::default()).status;
        status.shards = vec![shard(0, 100, false)];
        let paused = decide_now(&sim("  paused: true\n", Some(status.clone())), &ready(2));
        assert_eq!(
            (paused.status.phase, paused.replicas),
            (Some(Phase::Paused), 0)
        );
        assert_eq!(paused.status.totals.messages_sent, 100);
        assert!(paused.transitions.iter().any(|t| t.reason == "Paused"));
        status.start_time = Some("2026-11-25T11:00:00Z".into());
        let done = decide_now(&sim("  duration: 30m\n", Some(status)), &ready(2));
        assert_eq!(
            (done.status.phase, done.replicas, done.requeue),
            (Some(Phase::Completed), 0, None)
        );
    }

    #[test]
    fn an_invalid_spec_fails_with_the_field_named_and_waits_for_a_change() {
        let bad = "  profiles:\n    - name: p\n      sensors:\n        - type: current\n          min: 5\n          max: 1\n";
        let d = decide_now(&sim(bad, None), &Observed::default());
        assert_eq!(
            (d.status.phase, d.replicas, d.requeue),
            (Some(Phase::Failed), 0, None)
        );
        let ready = condition(&d, "Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "InvalidSpec")
        );
        assert!(
            ready.message.contains("spec.profiles[0].sensors[0].min"),
            "{}",
            ready.message
        );
        assert!(d.transitions.iter().any(|t| t.reason == "InvalidSpec"));
    }

    #[test]
    fn stopped_shards_beyond_the_count_are_pruned_into_retired_counted_once() {
        let mut status = decide_now(&sim("", None), &Observed::default()).status;
        status.phase = Some(Phase::Running);
        status.retired = Some(Totals {
            messages_sent: 10,
            messages_delivered: 10,
            ..Totals::default()
        });
        status.shards = vec![
            shard(0, 100, false),
            shard(1, 200, false),
            shard(2, 50, true),
            shard(3, 70, false),
        ];
        let d = decide_now(&sim("", Some(status)), &ready(2));
        assert_eq!(
            d.prune,
            vec![2],
            "stopped entries only; shard 3 is still reporting"
        );
        assert_eq!(d.retired_after_prune.messages_sent, 60);
        assert_eq!(d.status.totals.messages_sent, 10 + 100 + 200 + 50 + 70);
    }

    #[test]
    fn editing_the_interval_starts_a_later_epoch_numbered_after_the_old_one() {
        let mut status = decide_now(&sim("", None), &Observed::default()).status;
        status.start_time = Some("2026-11-25T11:59:00Z".into());
        status.schedule = Some(ScheduleEpoch {
            since: "2026-11-25T11:59:00Z".into(),
            first_seq: 0,
            interval: "1s".into(),
        });
        let d = decide_now(
            &sim("", Some(status.clone())).with_interval("250ms"),
            &ready(2),
        );
        let epoch = d.status.schedule.expect("epoch");
        assert_eq!(epoch.since, "2026-11-25T12:00:02Z");
        assert_eq!(
            epoch.first_seq,
            62 + 1,
            "62 s of 1 s readings, then one past them"
        );
        assert_eq!(epoch.interval, "250ms");
        // An unchanged interval keeps the epoch.
        let same = decide_now(&sim("", Some(status.clone())), &ready(2));
        assert_eq!(same.status.schedule, status.schedule);
    }

    #[test]
    fn conditions_keep_their_transition_time_while_unchanged() {
        let first = decide_now(&sim("", None), &Observed::default()).status;
        let mut later = first.clone();
        later.conditions[0].last_transition_time =
            Time("2026-11-25T10:00:00Z".parse().expect("time"));
        let d = decide_now(&sim("", Some(later.clone())), &Observed::default());
        assert_eq!(
            condition(&d, "Ready").last_transition_time,
            later.conditions[0].last_transition_time
        );
    }

    trait WithInterval {
        fn with_interval(self, interval: &str) -> Self;
    }

    impl WithInterval for DeviceSimulation {
        fn with_interval(mut self, interval: &str) -> Self {
            self.spec.interval = interval.to_owned();
            self
        }
    }
}
