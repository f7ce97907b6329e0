//! `decide` as a whole, and the fixtures the step tests share.

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
        worker_exits: Vec::new(),
        worker_memory_limit: None,
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
    assert_eq!(types, ["Ready", "Progressing", "Degraded", "MemoryFits"]);
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
    failing.problem = Some(crate::crd::ShardProblem {
        reason: "KafkaUnreachable".into(),
        message: "Kafka at 127.0.0.1:1 is unreachable: all brokers down".into(),
        since: None,
    });
    status.shards = vec![failing];
    let not_ready = Observed {
        sts_spec_replicas: Some(2),
        sts_replicas: 2,
        sts_ready_replicas: 0,
        worker_exits: Vec::new(),
        worker_memory_limit: None,
    };
    let d = decide_now(&sim("", Some(status)), &not_ready);
    assert_eq!(d.status.phase, Some(Phase::Pending));
    let degraded = condition(&d, "Degraded");
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "KafkaUnreachable")
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
    let refused = "applying the StatefulSet: spec.template.spec.containers[0].resources: invalid";
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
        worker_exits: Vec::new(),
        worker_memory_limit: None,
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
    later.conditions[0].last_transition_time = Time("2026-11-25T10:00:00Z".parse().expect("time"));
    let d = decide_now(&sim("", Some(later.clone())), &Observed::default());
    assert_eq!(
        condition(&d, "Ready").last_transition_time,
        later.conditions[0].last_transition_time
    );
}

#[test]
fn workers_that_will_not_fit_their_memory_limit_are_warned_of_once() {
    // 30 M devices on 2 replicas need ~120 MB of state each beyond the process and its
    // queue (~80 MiB); the limit is 128Mi.
    let mut sim = sim("", None);
    sim.spec.devices = 30_000_000;
    let mut observed = ready(2);
    observed.worker_memory_limit = Some(128.0 * 1024.0 * 1024.0);
    let d = decide_now(&sim, &observed);
    // Still started: the kubelet's OOM kill is then reported by Degraded.
    assert_eq!(d.replicas, 2);
    let fits = condition(&d, "MemoryFits");
    assert_eq!(fits.status, "False");
    assert_eq!(fits.reason, "ShardExceedsMemoryLimit");
    assert!(
        fits.message.contains("spec.replicas to at least"),
        "{}",
        fits.message
    );
    let warnings: Vec<_> = d
        .transitions
        .iter()
        .map(|t| (t.severity, t.reason))
        .collect();
    assert!(
        warnings.contains(&(Severity::Warning, "ShardExceedsMemoryLimit")),
        "{warnings:?}"
    );
    // Reported once: the next reconcile, from the written status, adds no second event.
    sim.status = Some(d.status.clone());
    let again = decide_now(&sim, &observed);
    assert!(
        again
            .transitions
            .iter()
            .all(|t| t.reason != "ShardExceedsMemoryLimit"),
        "{:?}",
        again.transitions
    );
    // The same fleet with room for it fits.
    observed.worker_memory_limit = Some(1024.0 * 1024.0 * 1024.0);
    let d = decide_now(&sim, &observed);
    assert_eq!(condition(&d, "MemoryFits").status, "True");
}

#[test]
fn an_invalid_spec_has_no_memory_condition() {
    let mut sim = sim("", None);
    sim.spec.devices = 0;
    let d = decide_now(&sim, &Observed::default());
    assert_eq!(d.status.phase, Some(Phase::Failed));
    assert!(conditions::find(&d.status.conditions, "MemoryFits").is_none());
}
