//! The Kafka sink through the in-process mock cluster: every compression codec, the fnv1a
//! partitioner keeping each device in one partition, and delivery counting.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use devsim::kafka::{Credentials, EmbeddedKafka, KafkaSink, client_config};
use devsim::runtime::{Fleet, FleetConfig, MessageSink};
use devsim::verify::{Ranges, StopAt, StreamChecker, consume_topic};

async fn produce_and_verify(compression: &str, acks: &str) {
    let topic = format!("codec-{compression}");
    let sim = common::simulation(&common::spec(&format!(
        "devices: 100\ninterval: 50ms\nduration: 1s\nreplicas: 2\nkafka:\n  topic: {topic}\n  partitions: 4\n  compression: {compression}\n  acks: {acks}\n"
    )));
    let cluster = EmbeddedKafka::start(3, &topic, 4).expect("embedded Kafka starts");
    let sink = Arc::new(
        KafkaSink::new(
            &sim.kafka,
            cluster.bootstrap_servers(),
            "test",
            &Credentials::none(),
        )
        .expect("producer"),
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let plan = Arc::new(sim.plan);
    let mut fleet = Fleet::start(
        &FleetConfig {
            plan: Arc::clone(&plan),
            shards: vec![0, 1],
            unix_t0_ms: now,
            unix_start_ms: now,
            exit_when_done: true,
            idle: false,
        },
        Arc::clone(&sink),
    );
    fleet.join().await;
    sink.flush(Duration::from_secs(30)).expect("flush");
    let snapshot = fleet.snapshot(sink.as_ref());
    assert!(
        snapshot.sent >= 1_800,
        "{compression}: sent {}",
        snapshot.sent
    );
    assert_eq!(snapshot.delivered, snapshot.sent, "{compression}");
    assert_eq!(snapshot.failed, 0, "{compression}");

    let bootstrap = cluster.bootstrap_servers().to_owned();
    let report = tokio::task::spawn_blocking(move || {
        let mut checker = StreamChecker::new(plan.encoding, Ranges::from_plan(&plan));
        consume_topic(
            client_config(&bootstrap, &Default::default(), &Credentials::none()),
            &topic,
            StopAt::EndOffsets,
            Duration::from_secs(30),
            &mut checker,
        )
        .expect("consume");
        checker.finish()
    })
    .await
    .expect("consumer task");
    assert_eq!(report.messages, snapshot.sent, "{compression}:\n{report}");
    assert!(report.is_clean(), "{compression}:\n{report}");
    assert_eq!(report.missing, 0, "{compression}:\n{report}");
    assert_eq!(report.devices, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_compression_codec_round_trips() {
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        produce_and_verify(codec, "all").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_one_and_zero_deliver_too() {
    produce_and_verify("lz4", "1").await;
    produce_and_verify("snappy", "0").await;
}

#[test]
fn an_unreachable_broker_is_reported_not_hung() {
    let sim = common::simulation(&common::spec("devices: 1"));
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let sink = KafkaSink::new(&sim.kafka, "127.0.0.1:1", "test", &Credentials::none())
        .expect("producer is created lazily");
    let started = std::time::Instant::now();
    assert!(sink.check_reachable(Duration::from_secs(2)).is_err());
    assert!(started.elapsed() < Duration::from_secs(5));
}
