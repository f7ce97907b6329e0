//! The one shutdown signal, on the real binary: the first SIGTERM drains (the run stops,
//! flushes, prints its summary and exits 0 with every message delivered); a second one aborts
//! at once with exit code 130, even while the drain waits for a broker that does not answer.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `devsim run` without a duration (runs until stopped), against `brokers` (its embedded Kafka
/// when None), once it has printed its first live line.
fn running(brokers: Option<&str>) -> (Child, BufReader<std::process::ChildStdout>) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("sim.yaml");
    std::fs::write(&file, common::spec("devices: 2000\ninterval: 100ms\n")).expect("write");
    let mut command = Command::new(env!("CARGO_BIN_EXE_devsim"));
    command.args(["run", "-f"]).arg(&file);
    if let Some(brokers) = brokers {
        command.args(["--brokers", brokers]);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start devsim run");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while out.read_line(&mut line).expect("read") > 0 && !line.contains("msg/s (sent") {
        line.clear();
    }
    assert!(
        line.contains("msg/s"),
        "devsim run never reported: {line:?}"
    );
    (child, out)
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} failed");
}

fn wait(child: &mut Child, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    panic!("devsim run did not exit within {within:?}");
}

#[test]
fn the_first_sigterm_drains_and_reports() {
    let (mut child, out) = running(None);
    signal(child.id(), "TERM");
    let code = wait(&mut child, Duration::from_secs(30));
    let rest: Vec<String> = out.lines().map_while(Result::ok).collect();
    let text = rest.join("\n");
    assert_eq!(code, Some(0), "a drained run exits 0:\n{text}");
    assert!(
        text.contains("interrupted: stopping the producers and flushing"),
        "{text}"
    );
    let figure = |name: &str| -> u64 {
        let line = rest
            .iter()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in the summary:\n{text}"));
        line.split_whitespace()
            .last()
            .and_then(|v| v.parse().ok())
            .expect("a number")
    };
    assert!(figure("sent") > 0);
    assert_eq!(
        figure("sent"),
        figure("delivered"),
        "everything sent was delivered:\n{text}"
    );
}

#[test]
fn a_second_signal_aborts_a_drain_that_would_wait_for_a_frozen_broker() {
    let broker = common::BrokerProcess::start("iot-sensor-data", 6);
    let (mut child, _out) = running(Some(&broker.bootstrap));
    // The broker stops answering: the drain's flush would now wait its full minute.
    signal(broker.pid(), "STOP");
    std::thread::sleep(Duration::from_millis(300));
    signal(child.id(), "TERM");
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().expect("wait").is_none(), "still draining");
    let asked = Instant::now();
    signal(child.id(), "INT");
    let code = wait(&mut child, Duration::from_secs(10));
    assert_eq!(code, Some(130), "a second signal aborts with 130");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "aborted at once: {:?}",
        asked.elapsed()
    );
}
