//! Round trip across processes: `devsim broker` in one, `devsim run --brokers` in another, then
//! `devsim verify`: every (device, seq) exactly once, each device in one partition. The same
//! against tansu, a broker that shares no code with devsim's client (librdkafka), so that the
//! client and the broker cannot agree on a mistake.

mod common;

use common::tansu::{Storage, Tansu};

/// `devsim run` of `file` against `brokers` for `duration`, without live lines.
fn run_against(file: &str, brokers: &str, duration: &str) -> (Option<i32>, String, String) {
    common::devsim(&[
        "run",
        "-f",
        file,
        "--brokers",
        brokers,
        "--duration",
        duration,
        "--report-every",
        "0",
    ])
}

/// The broker a round trip runs against.
enum Broker {
    /// `devsim broker` (librdkafka's mock cluster).
    Mock,
    /// tansu, in memory.
    Tansu,
}

fn round_trip(encoding: &str, kind: Broker) {
    let topic = format!("round-trip-{encoding}");
    let (bootstrap, _mock, _tansu, verify_flags): (String, _, _, &[&str]) = match kind {
        Broker::Mock => {
            let broker = common::BrokerProcess::start(&topic, 6);
            (broker.bootstrap.clone(), Some(broker), None, &[])
        }
        Broker::Tansu => {
            let tansu = Tansu::start(&Storage::Memory, None, false);
            tansu.create_topic(&topic, 6);
            // tansu's latest offset can be short of the last message: read until idle.
            (
                tansu.listener.clone(),
                None,
                Some(tansu),
                &["--until-idle", "5s"],
            )
        }
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("simulation.yaml");
    // 300 devices every 200 ms for 6 s: ~9,000 messages, well inside the mock broker's
    // per-partition log.
    let yaml = common::spec(&format!(
        "devices: 300\nseed: 17\ninterval: 200ms\njitter: 0.3\nanomalyRate: 0.05\nencoding: {encoding}\nreplicas: 3\nworkersPerReplica: 2\nkafka:\n  topic: {topic}\n  partitions: 6\n  compression: zstd\n"
    ));
    std::fs::write(&file, yaml).expect("write the simulation");
    let file = file.to_str().expect("UTF-8 path");

    let (code, stdout, stderr) = run_against(file, &bootstrap, "6s");
    assert_eq!(code, Some(0), "devsim run failed:\n{stdout}\n{stderr}");
    let sent = common::report_value(&stdout, "sent");
    assert_eq!(sent, common::report_value(&stdout, "delivered"), "{stdout}");
    // 300 devices × 6 s / 200 ms = 9,000 readings, minus those whose phase and jitter push the
    // last one past the end.
    assert!((8_400..=9_000).contains(&sent), "sent {sent}:\n{stdout}");

    let mut verify = vec![
        "verify",
        "--brokers",
        &bootstrap,
        "-f",
        file,
        "--expect-devices",
        "300",
        "--max-missing",
        "0",
    ];
    verify.extend_from_slice(verify_flags);
    let (code, report, stderr) = common::devsim(&verify);
    assert_eq!(code, Some(0), "devsim verify failed:\n{report}\n{stderr}");
    assert_eq!(common::report_value(&report, "messages"), sent, "{report}");
    for clean in [
        "undecodable",
        "duplicates",
        "reordered",
        "missing (gaps)",
        "partition violations",
        "out of range",
        "key mismatches",
    ] {
        assert_eq!(
            common::report_value(&report, clean),
            0,
            "{clean}:\n{report}"
        );
    }
}

#[test]
fn json_round_trip_delivers_every_reading_exactly_once() {
    round_trip("json", Broker::Mock);
}

#[test]
fn protobuf_round_trip_delivers_every_reading_exactly_once() {
    round_trip("protobuf", Broker::Mock);
}

#[test]
#[ignore = "builds tansu the first time (about 10 minutes); run with --include-ignored"]
fn json_round_trip_on_tansu_delivers_every_reading_exactly_once() {
    round_trip("json", Broker::Tansu);
}

#[test]
#[ignore = "builds tansu the first time (about 10 minutes); run with --include-ignored"]
fn protobuf_round_trip_on_tansu_delivers_every_reading_exactly_once() {
    round_trip("protobuf", Broker::Tansu);
}

#[test]
fn verify_fails_on_a_topic_with_duplicates() {
    // Two runs with the same seed and start produce the same (device, seq) pairs twice.
    let broker = common::BrokerProcess::start("dups", 2);
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("simulation.yaml");
    std::fs::write(
        &file,
        common::spec("devices: 20\ninterval: 100ms\nkafka:\n  topic: dups\n  partitions: 2\n"),
    )
    .expect("write");
    let file = file.to_str().expect("UTF-8 path");
    for _ in 0..2 {
        let (code, stdout, stderr) = run_against(file, &broker.bootstrap, "1s");
        assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    }
    let (code, report, _) = common::devsim(&["verify", "--brokers", &broker.bootstrap, "-f", file]);
    assert_eq!(code, Some(1), "verify must fail:\n{report}");
    assert!(common::report_value(&report, "duplicates") > 0, "{report}");
}
