//! The status a simulation should have, computed from its spec, its validation and what was
//! observed of its workers: pure functions, unit-tested without a client.
//!
//! [`decide`] runs the steps in order, each a module with its tests beside it:
//! - [`phase`]: phase, desired workers, Ready and Progressing, start time, when to look again;
//! - [`epoch`]: the schedule epoch the workers follow;
//! - [`totals`]: totals, retired figures, entries to prune, message rate, shard errors;
//! - [`conditions`]: the conditions with their transition times, and Degraded;
//! - [`events`]: the transitions to publish as Events.

pub mod conditions;
pub mod epoch;
pub mod events;
pub mod phase;
pub mod totals;

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::build::selector_string;
use crate::config::ConfigError;
use crate::crd::{DeviceSimulation, DeviceSimulationStatus, Phase, Totals};
use crate::engine::plan::SimulationPlan;
use conditions::{condition, degraded};

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

/// Decides the status and replicas of `sim`; `plan` is the result of its validation.
pub fn decide(
    sim: &DeviceSimulation,
    plan: Result<&SimulationPlan, &ConfigError>,
    observed: &Observed,
    now: Timestamp,
) -> Decision {
    let previous = sim.status.clone().unwrap_or_default();
    let generation = sim.metadata.generation;
    let outcome = phase::decide_phase(sim, plan, observed, &previous, now);
    let running = outcome.phase == Phase::Running;
    // Workers are wanted while pending too: their errors (Kafka unreachable from the start)
    // and their figures count as soon as they report, not only once all of them are ready.
    let producing =
        outcome.replicas > 0 && matches!(outcome.phase, Phase::Pending | Phase::Running);

    // Entries of pods that are still there (or wanted) stay; the others are pruned.
    let keep_below = outcome.replicas.max(observed.sts_replicas);
    let fold = totals::fold_shards(
        &previous.shards,
        previous.retired.clone().unwrap_or_default(),
        keep_below,
        producing,
        now,
    );
    let degraded = degraded(
        &fold.errors,
        running,
        observed.sts_ready_replicas,
        outcome.replicas,
    );
    let transitions = events::transitions(
        sim,
        &previous,
        &outcome,
        &degraded,
        observed,
        fold.totals.messages_sent,
    );
    let conditions = vec![
        condition(
            &previous.conditions,
            "Ready",
            outcome.ready.clone(),
            generation,
            now,
        ),
        condition(
            &previous.conditions,
            "Progressing",
            outcome.progressing.clone(),
            generation,
            now,
        ),
        condition(&previous.conditions, "Degraded", degraded, generation, now),
    ];
    let status = DeviceSimulationStatus {
        phase: Some(outcome.phase),
        conditions,
        observed_generation: generation,
        start_time: outcome.start_time,
        replicas: observed.sts_replicas,
        ready_replicas: observed.sts_ready_replicas,
        selector: Some(selector_string(sim)),
        devices: sim.spec.devices,
        totals: fold.totals,
        messages_per_second: fold.messages_per_second,
        schedule: outcome.schedule,
        retired: previous.retired.clone(),
        shards: Vec::new(),
    };
    Decision {
        status,
        replicas: outcome.replicas,
        prune: fold.prune,
        retired_after_prune: fold.retired_after_prune,
        transitions,
        requeue: outcome.requeue,
    }
}

/// The decision once the API server has refused the workers' objects (`reason` is its
/// message, naming the field): Ready and Progressing say so, and a Warning event goes out once
/// per distinct reason. The phase stays as decided; the controller retries with backoff.
pub fn workers_rejected(
    mut decision: Decision,
    sim: &DeviceSimulation,
    reason: &str,
    now: Timestamp,
) -> Decision {
    let previous = sim.status.clone().unwrap_or_default();
    let generation = sim.metadata.generation;
    let ready = conditions::Verdict::no("WorkersRejected", reason);
    let already_reported = conditions::find(&previous.conditions, "Ready")
        .is_some_and(|c| c.reason == ready.reason && c.message == ready.message);
    for c in &mut decision.status.conditions {
        let verdict = match c.type_.as_str() {
            "Ready" => ready.clone(),
            "Progressing" => conditions::Verdict::no(
                "WorkersRejected",
                "the API server refused the workers; fix the spec, retrying with backoff",
            ),
            _ => continue,
        };
        *c = condition(
            &previous.conditions,
            &c.type_.clone(),
            verdict,
            generation,
            now,
        );
    }
    if !already_reported {
        decision.transitions.push(Transition {
            severity: Severity::Warning,
            reason: "WorkersRejected",
            note: reason.to_owned(),
        });
    }
    decision
}

/// A std duration as jiff's signed one, saturating (a ten-year run still compares correctly).
fn signed(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{parse_simulation, validate};
    use crate::crd::{ShardStatus, Totals};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    pub const NOW: &str = "2026-11-25T12:00:00Z";

    /// A simulation `plant` in `iot`, generation 3, 100 devices every second on 2 replicas,
    /// plus the given spec lines.
    pub fn sim(spec: &str, status: Option<DeviceSimulationStatus>) -> DeviceSimulation {
        let mut sim = parse_simulation(&format!(
            "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: plant\n  namespace: iot\n  generation: 3\nspec:\n  devices: 100\n  interval: 1s\n  replicas: 2\n{spec}"
        ))
        .expect("fixture parses");
        sim.status = status;
        sim
    }

    /// The fixture with `spec.replicas` set to `n`.
    pub fn with_replicas(n: u32) -> DeviceSimulation {
        let mut sim = sim("", None);
        sim.spec.replicas = n;
        sim
    }

    /// A StatefulSet of `n` replicas, all ready.
    pub fn ready(n: u32) -> Observed {
        Observed {
            sts_spec_replicas: Some(n),
            sts_replicas: n,
            sts_ready_replicas: n,
        }
    }

    fn decide_now(sim: &DeviceSimulation, observed: &Observed) -> Decision {
        let validated = validate(sim);
        decide(
            sim,
            validated.as_ref().map(|v| &v.plan),
            observed,
            NOW.parse().expect("time"),
        )
    }

    fn condition<'a>(d: &'a Decision, type_: &str) -> &'a Condition {
        conditions::find(&d.status.conditions, type_).expect("condition present")
    }

    fn shard(index: u32, sent: u64, stopped: bool) -> ShardStatus {
        totals::tests::shard(index, sent, stopped, "2026-11-25T11:59:58Z")
    }

    #[test]
    fn a_new_simulation_gets_a_full_status_for_its_generation() {
        let d = decide_now(&sim("", None), &Observed::default());
        assert_eq!(d.status.phase, Some(Phase::Pending));
        assert_eq!(d.status.observed_generation, Some(3));
        assert_eq!(
            d.status.selector.as_deref(),
            Some(
                "app.kubernetes.io/component=worker,app.kubernetes.io/instance=plant,app.kubernetes.io/name=devsim,devsim.io/simulation=plant"
            )
        );
        assert_eq!(d.status.devices, 100);
        let types: Vec<_> = d
            .status
            .conditions
            .iter()
            .map(|c| c.type_.as_str())
            .collect();
        assert_eq!(types, ["Ready", "Progressing", "Degraded"]);
        assert!(
            d.status
                .conditions
                .iter()
                .all(|c| c.observed_generation == Some(3))
        );
        assert!(d.transitions.is_empty(), "pending is not news");
    }

    #[test]
    fn all_workers_ready_is_running_with_the_summed_rate_and_a_started_event() {
        let mut status = decide_now(&sim("", None), &Observed::default()).status;
        status.shards = vec![shard(0, 100, false), shard(1, 200, false)];
        let d = decide_now(&sim("", Some(status)), &ready(2));
        assert_eq!(d.status.phase, Some(Phase::Running));
        assert_eq!(condition(&d, "Ready").status, "True");
        assert_eq!(condition(&d, "Degraded").reason, "Healthy");
        assert_eq!(d.status.totals.messages_sent, 300);
        assert_eq!(d.status.messages_per_second, 100.1);
        assert!(d.transitions.iter().any(|t| t.reason == "Started"));
        assert!(d.prune.is_empty());
        assert!(
            d.status.shards.is_empty(),
            "the workers own the shard entries"
        );
    }

    #[test]
    fn paused_keeps_the_totals_and_the_rate_stops_counting() {
        let mut status = decide_now(&sim("", None), &Observed::default()).status;
        status.shards = vec![shard(0, 100, false)];
        let paused = decide_now(&sim("  paused: true\n", Some(status)), &ready(2));
        assert_eq!(
            (paused.status.phase, paused.replicas),
            (Some(Phase::Paused), 0)
        );
        assert_eq!(paused.status.totals.messages_sent, 100);
        assert_eq!(paused.status.messages_per_second, 0.0);
    }

    #[test]
    fn a_pending_simulation_whose_worker_cannot_reach_kafka_is_degraded_at_once() {
        let mut status = decide_now(&sim("", None), &Observed::default()).status;
        let mut failing = shard(0, 0, false);
        failing.last_error = Some("Kafka at 127.0.0.1:1 is unreachable: all brokers down".into());
        status.shards = vec![failing];
        let not_ready = Observed {
            sts_spec_replicas: Some(2),
            sts_replicas: 2,
            sts_ready_replicas: 0,
        };
        let d = decide_now(&sim("", Some(status)), &not_ready);
        assert_eq!(d.status.phase, Some(Phase::Pending));
        let degraded = condition(&d, "Degraded");
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", "KafkaErrors")
        );
        assert!(
            degraded
                .message
                .contains("shard 0: Kafka at 127.0.0.1:1 is unreachable"),
            "{}",
            degraded.message
        );
        let event = d
            .transitions
            .iter()
            .find(|t| t.reason == "KafkaUnreachable")
            .expect("an event");
        assert_eq!(event.note, degraded.message);
    }

    #[test]
    fn workers_the_api_server_refuses_are_reported_once_per_reason() {
        let sim_ = sim("", None);
        let now = NOW.parse().expect("time");
        let refused =
            "applying the StatefulSet: spec.template.spec.containers[0].resources: invalid";
        let d = workers_rejected(decide_now(&sim_, &Observed::default()), &sim_, refused, now);
        let ready = condition(&d, "Ready");
        assert_eq!(
            (
                ready.status.as_str(),
                ready.reason.as_str(),
                ready.message.as_str()
            ),
            ("False", "WorkersRejected", refused)
        );
        assert_eq!(condition(&d, "Progressing").reason, "WorkersRejected");
        assert_eq!(
            d.transitions
                .iter()
                .filter(|t| t.reason == "WorkersRejected")
                .count(),
            1
        );
        // The next reconcile meets the same refusal: no second event.
        let again = sim("", Some(d.status.clone()));
        let d2 = workers_rejected(
            decide_now(&again, &Observed::default()),
            &again,
            refused,
            now,
        );
        assert!(d2.transitions.iter().all(|t| t.reason != "WorkersRejected"));
    }

    #[test]
    fn a_running_simulation_missing_a_worker_is_degraded() {
        let mut status = decide_now(&sim("", None), &ready(2)).status;
        status.phase = Some(Phase::Running);
        let observed = Observed {
            sts_spec_replicas: Some(2),
            sts_replicas: 2,
            sts_ready_replicas: 1,
        };
        let d = decide_now(&sim("", Some(status)), &observed);
        assert_eq!(d.status.phase, Some(Phase::Running));
        let degraded = condition(&d, "Degraded");
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", "ReplicasUnavailable")
        );
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
        ];
        let d = decide_now(&sim("", Some(status)), &ready(2));
        assert_eq!(d.prune, vec![2]);
        assert_eq!(d.retired_after_prune.messages_sent, 60);
        assert_eq!(d.status.totals.messages_sent, 10 + 100 + 200 + 50);
        assert_eq!(
            d.status.retired.map(|r| r.messages_sent),
            Some(10),
            "retired moves only with the prune"
        );
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
}
