//! What librdkafka reports when Kafka misbehaves, read the way a worker reads it: the sink's
//! faults and delivery counts fed to [`Health`], against the in-process mock cluster with its
//! fault injection (a topic the brokers do not have, produce requests refused, brokers down).
//! The causes come from librdkafka's real error codes, not from a table the test restates.

mod common;

use std::time::{Duration, Instant};

use devsim::kafka::{Credentials, KafkaSink};
use devsim::runtime::MessageSink;
use devsim::runtime::health::{Cause, Health, Observation, Problem};
use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

const BUFFER: u64 = 32 << 20;

fn sink(bootstrap: &str, topic: &str, properties: &str) -> KafkaSink {
    let sim = common::simulation(&common::spec(&format!(
        "devices: 10\nkafka:\n  topic: {topic}\n  partitions: 1\n  linger: 0s\n{properties}"
    )));
    KafkaSink::new(&sim.kafka, bootstrap, "faults", &Credentials::none()).expect("producer")
}

fn send(sink: &KafkaSink, count: usize) {
    for i in 0..count {
        let key = format!("dev-{i:08}");
        let _ = sink.try_send(key.as_bytes(), b"{\"v\":1}", 0);
    }
}

/// Observes `sink` every 200 ms, `at` shifted by `skew`, until `done` holds of the problem
/// reported, or `within` passes; returns the problem and when it was first seen.
fn observe_until(
    health: &mut Health,
    sink: &KafkaSink,
    within: Duration,
    skew: Duration,
    done: impl Fn(Option<&Problem>) -> bool,
) -> (Option<Problem>, Duration) {
    let started = Instant::now();
    loop {
        let faults = sink.stats().faults();
        let observation = Observation {
            at: Instant::now() + skew,
            failed: sink.failed(),
            in_flight: sink.in_flight(),
            last_delivery: sink.stats().last_delivery(),
            behind: Duration::ZERO,
            blocked: false,
            faults: &faults,
        };
        let problem = health.observe(&observation).cloned();
        if done(problem.as_ref()) || started.elapsed() >= within {
            return (problem, started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One observation now, the clock shifted by `skew`.
fn observe_once(health: &mut Health, sink: &KafkaSink, skew: Duration) -> Option<Problem> {
    observe_until(health, sink, Duration::ZERO, skew, |_| true).0
}

fn is(cause: Cause) -> impl Fn(Option<&Problem>) -> bool {
    move |p| p.is_some_and(|p| p.cause == cause)
}

#[test]
fn a_topic_the_brokers_do_not_have_is_topic_missing() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster
        .topic_error(
            "absent",
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
        )
        .expect("topic error");
    // librdkafka waits this long for a topic to appear before failing its messages.
    let sink = sink(
        &cluster.bootstrap_servers(),
        "absent",
        "  properties:\n    topic.metadata.propagation.max.ms: \"1000\"\n",
    );
    send(&sink, 5);
    let mut health = Health::new("mock", BUFFER);
    let (problem, after) = observe_until(
        &mut health,
        &sink,
        Duration::from_secs(20),
        Duration::ZERO,
        is(Cause::TopicMissing),
    );
    let problem = problem.expect("a problem");
    assert_eq!(problem.cause, Cause::TopicMissing, "{problem:?}");
    assert!(problem.message.contains("topic"), "{}", problem.message);
    eprintln!("TopicMissing after {after:?}: {}", problem.message);
}

#[test]
fn refused_produce_requests_are_deliveries_failing_with_their_rate() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("big", 1, 1).expect("topic");
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE; 50],
    );
    let sink = sink(&cluster.bootstrap_servers(), "big", "");
    let mut health = Health::new("mock", BUFFER);
    // A first observation with nothing failed, then the failures.
    observe_once(&mut health, &sink, Duration::ZERO);
    send(&sink, 20);
    let (problem, _) = observe_until(
        &mut health,
        &sink,
        Duration::from_secs(20),
        Duration::ZERO,
        is(Cause::DeliveriesFailing),
    );
    let problem = problem.expect("a problem");
    assert_eq!(problem.cause, Cause::DeliveriesFailing, "{problem:?}");
    assert!(
        problem.message.contains("deliveries failed") && problem.message.contains("/s)"),
        "{}",
        problem.message
    );
    assert!(sink.failed() > 0);
}

#[test]
fn brokers_down_are_unreachable_until_deliveries_resume_then_clear_after_the_hold() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("down", 1, 1).expect("topic");
    let sink = sink(&cluster.bootstrap_servers(), "down", "");
    send(&sink, 10);
    sink.flush(Duration::from_secs(10)).expect("delivered");
    let mut health = Health::new("mock-brokers", BUFFER);
    let healthy = observe_once(&mut health, &sink, Duration::ZERO);
    assert_eq!(healthy, None);

    cluster.broker_down(1).expect("broker down");
    send(&sink, 10);
    let (problem, after) = observe_until(
        &mut health,
        &sink,
        Duration::from_secs(20),
        Duration::ZERO,
        is(Cause::KafkaUnreachable),
    );
    let problem = problem.expect("a problem");
    assert_eq!(problem.cause, Cause::KafkaUnreachable, "{problem:?}");
    assert!(
        problem.message.contains("mock-brokers"),
        "{}",
        problem.message
    );
    assert!(after <= Duration::from_secs(5), "reported after {after:?}");

    cluster.broker_up(1).expect("broker up");
    sink.flush(Duration::from_secs(30))
        .expect("the backlog delivered");
    // Still held just after: the cause is gone but not for long enough.
    let held = observe_once(&mut health, &sink, Duration::ZERO);
    let held = held.expect("held for a while");
    assert!(held.message.contains("not seen for"), "{}", held.message);
    // Fifteen seconds on (the clock skewed rather than waited), it clears.
    let cleared = observe_once(&mut health, &sink, Duration::from_secs(16));
    assert_eq!(cleared, None);
    assert_eq!(sink.failed(), 0, "nothing failed through the outage");
}
