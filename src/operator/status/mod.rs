//! The status a simulation should have, computed from its spec, its validation and what was
//! observed of its workers: pure functions, unit-tested without a client.
//!
//! [`decide`] runs the steps in order, each a module with its tests beside it:
//! - [`phase`]: phase, desired workers, Ready and Progressing, start time, when to look again;
//! - [`epoch`]: the schedule epoch the workers follow;
//! - [`totals`]: totals, retired figures, entries to prune, message rate, shard errors;
//! - [`conditions`]: the conditions with their transition times, and Degraded;
//! - [`memory`]: MemoryFits, whether each worker's share fits its memory limit;
//! - [`exits`]: workers the kubelet saw killed (OOM) or crash-looping, which Degraded names;
//! - [`events`]: the transitions to publish as Events.

pub mod conditions;
pub mod epoch;
pub mod events;
pub mod exits;
pub mod memory;
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
    /// How worker containers last ended, from their pods.
    pub worker_exits: Vec<exits::WorkerExit>,
    /// Bytes of memory each worker container may use: the limit of the simulation's
    /// `workerResources`, else of the operator's default; `None` when neither sets one.
    pub worker_memory_limit: Option<f64>,
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
    /// What the event reports, and so when it is published.
    pub trigger: Trigger,
}

/// What an event reports. A status transition is found again by the next reconcile until the
/// status is written, so its event goes out after the write; a change of the workers is found
/// only until the workers are applied, so its event goes out right then, whether or not the
/// status write that follows succeeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A change of the workers' StatefulSet (a rescale).
    Workers,
    /// A change of the status (phase, conditions).
    Status,
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
    // A worker the kubelet saw killed cannot report why; that cause comes first.
    let degraded = exits::exits_verdict(&observed.worker_exits, now).unwrap_or_else(|| {
        degraded(
            &fold.problems,
            running,
            observed.sts_ready_replicas,
            outcome.replicas,
        )
    });
    let mut transitions = events::transitions(
        sim,
        &previous,
        &outcome,
        &degraded,
        observed,
        fold.totals.messages_sent,
    );
    let mut conditions = vec![
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
    // Only a valid spec has a footprint to weigh.
    if let Ok(plan) = plan {
        let fits = memory::memory_fits(sim, plan, observed.worker_memory_limit);
        transitions.extend(events::memory_event(&previous, &fits));
        conditions.push(condition(
            &previous.conditions,
            "MemoryFits",
            fits,
            generation,
            now,
        ));
    }
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
            trigger: Trigger::Status,
        });
    }
    decision
}

/// A std duration as jiff's signed one, saturating (a ten-year run still compares correctly).
fn signed(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

#[cfg(test)]
pub(crate) mod tests;
