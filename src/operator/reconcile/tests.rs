//! Reconcile scenarios against a mocked API server, and the operator's validation.

use std::time::Duration;

use serde_json::json;

use super::super::fixtures::{Scenario, simulation, testcontext};
use super::*;

/// A running simulation's status with two shards that sent 200 and 300 messages.
fn running_two_shards() -> serde_json::Value {
    json!({
        "phase": "Running", "startTime": "2026-11-25T12:00:00Z",
        "schedule": {"since": "2026-11-25T12:00:00Z", "firstSeq": 0, "interval": "5s"},
        "shards": [{"index": 0, "shardCount": 2, "messagesSent": 200}, {"index": 1, "shardCount": 2, "messagesSent": 300}]
    })
}

/// Waits for the mocked API server to have answered every request its scenario lists.
async fn finish(verifier: tokio::task::JoinHandle<()>, what: &str) {
    tokio::time::timeout(Duration::from_secs(2), verifier)
        .await
        .expect("the scenario completed in time")
        .unwrap_or_else(|e| panic!("{what}: {e}"));
}

async fn run(sim: DeviceSimulation, scenario: Scenario) -> Action {
    let (ctx, server) = testcontext();
    let verifier = server.run(scenario, &sim);
    let action = reconcile(Arc::new(sim), ctx)
        .await
        .expect("reconcile succeeds");
    finish(verifier, "the scenario's expectations held").await;
    action
}

/// Runs two reconciles that must fail the same way; returns the error's category and what
/// the controller does after each (so a backoff shows).
async fn fail_twice(sim: DeviceSimulation, scenario: Scenario) -> (&'static str, Vec<Action>) {
    let (ctx, server) = testcontext();
    let verifier = server.run_each(vec![scenario, scenario], &sim);
    let mut category = "";
    let mut actions = Vec::new();
    for _ in 0..2 {
        let error = reconcile(Arc::new(sim.clone()), Arc::clone(&ctx))
            .await
            .expect_err("the reconcile fails");
        category = error.category();
        actions.push(super::super::error_policy(
            Arc::new(sim.clone()),
            &error,
            Arc::clone(&ctx),
        ));
    }
    finish(verifier, "the scenario's expectations held").await;
    (category, actions)
}

#[tokio::test]
async fn a_lost_status_write_is_retried_soon_without_backing_off() {
    let status = json!({"phase": "Running", "startTime": "2026-11-25T12:00:00Z"});
    let (category, actions) =
        fail_twice(simulation("", Some(status)), Scenario::StatusConflict).await;
    assert_eq!(category, "conflict");
    let soon = Action::requeue(crate::operator::retry::AFTER_CONFLICT);
    assert_eq!(actions, [soon.clone(), soon]);
}

#[tokio::test]
async fn workers_the_api_server_refuses_are_reported_then_retried_with_backoff() {
    let (ctx, server) = testcontext();
    let sim = simulation("", None);
    let verifier = server.run(Scenario::WorkersRejected, &sim);
    let error = reconcile(Arc::new(sim.clone()), Arc::clone(&ctx))
        .await
        .expect_err("the refusal is an error for the backoff");
    finish(verifier, "the scenario's expectations held").await;
    assert_eq!(error.category(), "rejected");
    let action = super::super::error_policy(Arc::new(sim), &error, ctx);
    assert_eq!(action, Action::requeue(Duration::from_secs(1)));
}

#[tokio::test]
async fn an_unavailable_api_server_is_retried_with_growing_delays() {
    let (category, actions) =
        fail_twice(simulation("", None), Scenario::ApiServerUnavailable).await;
    assert_eq!(category, "api_error");
    assert_eq!(
        actions,
        [
            Action::requeue(Duration::from_secs(1)),
            Action::requeue(Duration::from_secs(2))
        ]
    );
}

#[test]
fn a_property_librdkafka_does_not_know_is_an_invalid_spec() {
    let sim = simulation("", None);
    assert!(validate(&sim).is_ok());
    let mut bad = sim.clone();
    bad.spec
        .kafka
        .properties
        .insert("no.such.property".into(), "1".into());
    let err = validate(&bad).unwrap_err();
    assert_eq!(err.category(), "invalid_spec");
    let text = err.to_string();
    assert!(
        text.starts_with("spec.kafka.properties: ") && text.contains("no.such.property"),
        "{text}"
    );
}

#[tokio::test]
async fn new_simulation_gets_workers_a_service_and_a_pending_status() {
    let action = run(simulation("", None), Scenario::NewSimulation).await;
    assert_eq!(action, Action::requeue(Duration::from_secs(5)));
}

#[tokio::test]
async fn invalid_spec_is_reported_and_waits_for_a_change() {
    let bad = "  profiles:\n    - name: p\n      sensors:\n        - type: current\n          min: 5\n          max: 1\n";
    let action = run(simulation(bad, None), Scenario::InvalidSpec).await;
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn every_transition_is_an_event_of_its_own_even_with_the_same_reason() {
    // Two pauses in a row (each a transition from Running): kube-runtime's shared recorder
    // would turn the second into a series update (PATCH) of the first; each must be a POST.
    let status = running_two_shards();
    let sim = simulation("  paused: true\n", Some(status));
    let (ctx, server) = testcontext();
    let verifier = server.run_each(vec![Scenario::Paused, Scenario::Paused], &sim);
    for _ in 0..2 {
        reconcile(Arc::new(sim.clone()), Arc::clone(&ctx))
            .await
            .expect("reconcile succeeds");
    }
    finish(verifier, "both events were created, not merged").await;
}

#[tokio::test]
async fn pausing_scales_workers_to_zero_and_keeps_totals() {
    let status = running_two_shards();
    run(
        simulation("  paused: true\n", Some(status)),
        Scenario::Paused,
    )
    .await;
}

#[tokio::test]
async fn a_stopped_shard_beyond_the_count_is_pruned_first() {
    let status = json!({
        "phase": "Running", "startTime": "2026-11-25T12:00:00Z",
        "schedule": {"since": "2026-11-25T12:00:00Z", "firstSeq": 0, "interval": "5s"},
        "shards": [
            {"index": 0, "shardCount": 2, "messagesSent": 10, "updated": "2099-01-01T00:00:00Z"},
            {"index": 1, "shardCount": 2, "messagesSent": 20, "updated": "2099-01-01T00:00:00Z"},
            {"index": 2, "shardCount": 0, "messagesSent": 30, "stopped": true, "updated": "2026-11-25T12:00:00Z"}
        ]
    });
    let action = run(simulation("", Some(status)), Scenario::PruneStoppedShard).await;
    assert_eq!(action, Action::requeue(Duration::from_millis(200)));
}
