//! With Kafka unreachable, librdkafka reports the failure on every reconnect attempt through
//! two callbacks (about 400 lines in 10 s before). Each distinct problem must be logged once,
//! then at most once every 30 s with its count.

mod common;

#[test]
fn an_unreachable_kafka_is_logged_once_per_problem_not_per_attempt() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("sim.yaml");
    std::fs::write(&file, common::spec("devices: 10\n")).expect("write");
    let (code, _stdout, stderr) = common::devsim(&[
        "run",
        "-f",
        file.to_str().expect("UTF-8"),
        "--brokers",
        &format!("127.0.0.1:{port}"),
        "--duration",
        "5s",
    ]);
    assert_eq!(
        code,
        Some(1),
        "an unreachable Kafka fails the run:\n{stderr}"
    );
    assert!(stderr.contains("is unreachable"), "{stderr}");
    // Over the 10 s reachability check: the two distinct client errors and the final error,
    // with room for one more librdkafka warning; never a line per reconnect attempt.
    let lines = stderr.lines().count();
    assert!(
        lines <= 6,
        "{lines} log lines for one unreachable broker:\n{stderr}"
    );
}
