//! Round trip across processes: `devsim broker` in one, `devsim run --brokers` in another, then
//! `devsim verify`: every (device, seq) exactly once, each device in one partition.

mod common;

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

fn round_trip(encoding: &str) {
    let topic = format!("round-trip-{encoding}");
    let broker = common::BrokerProcess::start(&topic, 6);
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("simulation.yaml");
    // 300 devices every 200 ms for 6 s: ~9,000 messages, well inside the mock broker's
    // per-partition log.
    let yaml = common::spec(&format!(
        "devices: 300\nseed: 17\ninterval: 200ms\njitter: 0.3\nanomalyRate: 0.05\nencoding: {encoding}\nreplicas: 3\nworkersPerReplica: 2\nkafka:\n  topic: {topic}\n  partitions: 6\n  compression: zstd\n"
    ));
    std::fs::write(&file, yaml).expect("write the simulation");
    let file = file.to_str().expect("UTF-8 path");

    let (code, stdout, stderr) = run_against(file, &broker.bootstrap, "6s");
    assert_eq!(code, Some(0), "devsim run failed:\n{stdout}\n{stderr}");
    let sent = common::report_value(&stdout, "sent");
    assert_eq!(sent, common::report_value(&stdout, "delivered"), "{stdout}");
    // 300 devices × 6 s / 200 ms = 9,000 readings, minus those whose phase and jitter push the
    // last one past the end.
    assert!((8_400..=9_000).contains(&sent), "sent {sent}:\n{stdout}");

    let (code, report, stderr) = common::devsim(&[
        "verify",
        "--brokers",
        &broker.bootstrap,
        "-f",
        file,
        "--expect-devices",
        "300",
        "--max-missing",
        "0",
    ]);
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
    round_trip("json");
}

#[test]
fn protobuf_round_trip_delivers_every_reading_exactly_once() {
    round_trip("protobuf");
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
