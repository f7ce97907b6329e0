//! `devsim run --metrics-addr`: /metrics (Prometheus text, `devsim_*` names, bounded labels),
//! /healthz and /readyz, served while a simulation runs.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the admin endpoint");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

#[test]
fn metrics_health_and_readiness_are_served_while_running() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("simulation.yaml");
    std::fs::write(
        &file,
        common::spec("devices: 50\ninterval: 100ms\nkafka:\n  partitions: 2\n"),
    )
    .expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_devsim"))
        .args([
            "run",
            "-f",
            file.to_str().expect("UTF-8"),
            "--duration",
            "4s",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start devsim run");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = common::metrics_address(&mut lines);
    // Let a report period pass so the counters have moved.
    for line in lines.by_ref().map_while(Result::ok) {
        if line.starts_with("[") {
            break;
        }
    }
    let (status, metrics) = get(&addr, "/metrics");
    assert_eq!(status, 200, "{metrics}");
    for name in [
        "devsim_messages_sent_total",
        "devsim_messages_delivered_total",
        "devsim_messages_per_second",
        "devsim_schedule_lag_seconds",
        "devsim_producer_queue_messages",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
    assert!(metrics.contains("simulation=\"test\""), "{metrics}");
    assert!(
        !metrics.contains("dev-0000"),
        "a device ID leaked into a label:\n{metrics}"
    );
    assert_eq!(get(&addr, "/healthz").0, 200);
    assert_eq!(get(&addr, "/readyz").0, 200);
    let _ = lines.count();
    assert!(child.wait().expect("devsim exits").success());
}
