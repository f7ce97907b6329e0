//! Dropped connections judged by a broker that checks an idempotent producer's sequence
//! numbers. librdkafka's mock cluster checks them only for transactional producers, so after a
//! dropped connection it appends every retried batch twice (see `delivery_under_faults.rs`).
//! tansu 0.6.0 checks them for every idempotent producer (a retried batch is answered
//! DUPLICATE_SEQUENCE_NUMBER and not appended). `devsim run` produces 2,000 msg/s with
//! acks=all and idempotence through a relay that drops every open connection eight times;
//! the run must deliver everything it sent and `devsim verify` must find every (device, seq)
//! exactly once: what was in flight at each cut is retried, never lost, never doubled.
//!
//! Named `tansu_*` so that `cargo test` (test files in name order) reaches it late: by then
//! `.ci/run`'s background build of tansu is done, and nothing waits for it.

mod common;

use std::time::{Duration, Instant};

use common::cutter::Cutter;
use common::tansu::{Storage, Tansu, free_port};

#[test]
#[ignore = "builds tansu the first time (about 10 minutes); run with --include-ignored"]
fn idempotent_delivery_survives_dropped_connections_on_a_broker_that_checks_sequences() {
    let relay_port = free_port();
    let tansu = Tansu::start(&Storage::Memory, Some(relay_port), false);
    tansu.create_topic("cuts", 6);
    let relay = Cutter::start(relay_port, &tansu.listener);
    let bootstrap = format!("127.0.0.1:{relay_port}");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("cuts.yaml");
    std::fs::write(
        &file,
        common::spec(
            "devices: 200\nseed: 12\ninterval: 100ms\nkafka:\n  topic: cuts\n  partitions: 6\n  acks: all\n  idempotence: true\n  compression: lz4\n",
        ),
    )
    .expect("write the simulation");
    let path = file.to_str().expect("UTF-8").to_owned();
    let brokers = bootstrap.clone();
    let run = std::thread::spawn(move || {
        common::devsim(&[
            "run",
            "-f",
            &path,
            "--brokers",
            &brokers,
            "--duration",
            "16s",
            "--report-every",
            "0",
        ])
    });
    let started = Instant::now();
    for cut in 0..8 {
        let at = Duration::from_millis(3_000 + cut * 1_500);
        if let Some(wait) = at.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        relay.cut();
    }
    let (code, summary, stderr) = run.join().expect("the run");
    let dropped = relay.dropped();
    assert_eq!(code, Some(0), "devsim run failed:\n{summary}\n{stderr}");
    // tansu's latest offset can be short of the last message: read until idle.
    let (code, report, stderr) = common::devsim(&[
        "verify",
        "--brokers",
        &bootstrap,
        "-f",
        file.to_str().expect("UTF-8"),
        "--expect-devices",
        "200",
        "--until-idle",
        "5s",
    ]);
    eprintln!("8 cuts on tansu, {dropped} connections dropped:\n{summary}\n{report}");
    assert!(dropped >= 8, "only {dropped} connections were dropped");
    assert_eq!(code, Some(0), "verify failed:\n{report}\n{stderr}");
    let value = |text: &str, label: &str| common::report_value(text, label);
    let sent = value(&summary, "sent");
    assert!(sent > 25_000, "sent only {sent}:\n{summary}");
    assert_eq!(value(&summary, "delivered"), sent, "{summary}");
    assert_eq!(value(&summary, "failed"), 0, "{summary}");
    assert_eq!(value(&report, "messages"), sent, "{report}");
    assert_eq!(value(&report, "duplicates"), 0, "{report}");
    assert_eq!(value(&report, "missing (gaps)"), 0, "{report}");
    tansu.stop();
}
