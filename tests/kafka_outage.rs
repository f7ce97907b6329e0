//! Kafka going away under a running simulation: the brokers of a `devsim broker` process are
//! taken down (connections closed, new ones refused, the topic's data kept) and brought back
//! while `devsim run` produces 5,000 msg/s into them.
//!
//! - `overflow: block`: nothing is lost (`verify` finds every reading exactly once) and the
//!   process's memory stays within `bufferMemory` of where it was, where it used to grow by the
//!   whole backlog until librdkafka timed the messages out.
//! - `overflow: drop`: what overflows is dropped and counted, and exactly that is missing.
//! - `maxLag`: what falls too far behind is skipped and counted, and exactly that is missing.
//!
//! In every case the live line says Kafka is unreachable within seconds of the outage and keeps
//! saying so until it ends.

mod common;

use std::io::{BufRead, BufReader};
use std::ops::RangeInclusive;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The cases share two cores: one at a time, or each one's schedule suffers from the others.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// When the outage starts, after the run starts.
const OUTAGE_AT: Duration = Duration::from_secs(6);
/// How long it lasts.
const OUTAGE: Duration = Duration::from_secs(12);
/// How soon the live line must say Kafka is unreachable (a live line a second, plus the time
/// librdkafka takes to see its connections refused).
const REPORTED_WITHIN: Duration = Duration::from_secs(3);

/// A live line as received, with when.
struct Line {
    at: Instant,
    text: String,
}

/// What a run through an outage showed.
struct Outcome {
    code: Option<i32>,
    lines: Vec<Line>,
    down_at: Instant,
    up_at: Instant,
    /// Resident memory just before the outage, KiB.
    rss_before_kib: u64,
    /// Highest resident memory seen from the outage's start to the run's end, KiB.
    rss_peak_kib: u64,
    broker: common::BrokerProcess,
    file: tempfile::NamedTempFile,
}

impl Outcome {
    fn stdout(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn summary(&self, label: &str) -> u64 {
        common::report_value(&self.stdout(), label)
    }

    /// Live lines received while the outage had lasted at least `REPORTED_WITHIN`.
    fn during_outage(&self) -> impl Iterator<Item = &Line> {
        self.lines
            .iter()
            .filter(|l| l.at >= self.down_at + REPORTED_WITHIN && l.at < self.up_at)
            .filter(|l| l.text.starts_with('['))
    }

    /// `devsim verify` of the topic (the missing readings allowed): its report.
    fn verify(&self) -> String {
        let (code, report, stderr) = common::devsim(&[
            "verify",
            "--brokers",
            &self.broker.bootstrap,
            "-f",
            self.file.path().to_str().expect("UTF-8 path"),
            "--expect-devices",
            "500",
            "--max-missing",
            "10000000",
        ]);
        // 1: problems found (the duplicates that callers weigh themselves); anything else failed.
        assert!(
            matches!(code, Some(0 | 1)),
            "devsim verify failed:\n{report}\n{stderr}"
        );
        report
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Runs 500 devices every 100 ms for 30 s with `spec_extra` through an outage.
fn run_through_outage(topic: &str, spec_extra: &str) -> Outcome {
    let mut broker = common::BrokerProcess::start(topic, 6);
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    let yaml = common::spec(&format!(
        "devices: 500\nseed: 7\ninterval: 100ms\n{spec_extra}kafka:\n  topic: {topic}\n  partitions: 6\n  compression: zstd\n  acks: all\n  idempotence: true\n  bufferMemory: 2Mi\n"
    ));
    std::io::Write::write_all(&mut file, yaml.as_bytes()).expect("write the simulation");
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_devsim"))
        .args(["run", "-f"])
        .arg(file.path())
        .args(["--brokers", &broker.bootstrap, "--duration", "30s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start devsim run");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let lines = Arc::clone(&lines);
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for text in BufReader::new(stdout).lines().map_while(Result::ok) {
                let line = Line {
                    at: Instant::now(),
                    text,
                };
                lines.lock().expect("lines").push(line);
            }
        })
    };
    let started = Instant::now();
    std::thread::sleep(OUTAGE_AT);
    let rss_before_kib = rss_kib(child.id()).expect("the run's memory");
    let down_at = Instant::now();
    broker.set_brokers_up(false);
    let mut rss_peak_kib = rss_before_kib;
    let mut up_at = None;
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait for devsim run") {
            break status.code();
        }
        if let Some(rss) = rss_kib(child.id()) {
            rss_peak_kib = rss_peak_kib.max(rss);
        }
        if up_at.is_none() && down_at.elapsed() >= OUTAGE {
            broker.set_brokers_up(true);
            up_at = Some(Instant::now());
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "devsim run did not end"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    reader.join().expect("the reader");
    let lines = std::mem::take(&mut *lines.lock().expect("lines"));
    Outcome {
        code,
        lines,
        down_at,
        up_at: up_at.expect("the outage ended before the run"),
        rss_before_kib,
        rss_peak_kib,
        broker,
        file,
    }
}

/// The live line says Kafka is unreachable within `REPORTED_WITHIN` of the outage, and every
/// line after that until the brokers are back says so too.
fn assert_the_outage_is_reported(o: &Outcome) {
    let first = o
        .lines
        .iter()
        .find(|l| l.at >= o.down_at && l.text.contains("[KafkaUnreachable]"))
        .unwrap_or_else(|| panic!("the outage was never reported:\n{}", o.stdout()));
    let after = first.at.duration_since(o.down_at);
    eprintln!(
        "reported {after:?} after the brokers went down: {}",
        first.text
    );
    assert!(after <= REPORTED_WITHIN, "reported after {after:?}");
    let during: Vec<&Line> = o.during_outage().collect();
    assert!(
        during.len() >= 8,
        "{} live lines in the outage",
        during.len()
    );
    for line in during {
        assert!(
            line.text.contains("[KafkaUnreachable]"),
            "not reported as unreachable in the middle of the outage: {}",
            line.text
        );
    }
}

#[test]
fn with_block_nothing_is_lost_and_memory_stays_within_the_buffer() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let o = run_through_outage("outage-block", "overflow: block\n");
    assert_eq!(o.code, Some(0), "devsim run failed:\n{}", o.stdout());
    assert_the_outage_is_reported(&o);
    let sent = o.summary("sent");
    assert_eq!(o.summary("delivered"), sent, "{}", o.stdout());
    for nothing in ["failed", "dropped", "skipped"] {
        assert_eq!(o.summary(nothing), 0, "{nothing}:\n{}", o.stdout());
    }
    // Generation waited: the schedule fell behind by about the outage, then caught up, so the
    // run still produced every reading of its 30 s.
    let behind = o
        .during_outage()
        .filter_map(|l| l.text.split("behind ").nth(1))
        .filter_map(|rest| rest.split(' ').next()?.parse::<f64>().ok())
        .fold(0.0, f64::max);
    assert!(
        behind >= OUTAGE.as_secs_f64() - 4.0,
        "behind at most {behind} s"
    );
    assert_eq!(sent, 500 * 300, "every reading of the 30 s run");
    // The backlog waits in the schedule, not in memory: 2 MiB of buffer, where 60,000 queued
    // readings took ~45 MiB before.
    let growth_mib = (o.rss_peak_kib.saturating_sub(o.rss_before_kib)) as f64 / 1024.0;
    eprintln!(
        "resident memory {:.1} MiB before the outage, peak {:.1} MiB",
        o.rss_before_kib as f64 / 1024.0,
        o.rss_peak_kib as f64 / 1024.0
    );
    assert!(growth_mib < 12.0, "memory grew {growth_mib:.1} MiB");
    let report = o.verify();
    for clean in ["missing (gaps)", "undecodable"] {
        assert_eq!(
            common::report_value(&report, clean),
            0,
            "{clean}:\n{report}"
        );
    }
    assert_at_most_in_flight_duplicates(&report, sent);
}

/// Duplicates, if any, are copies of messages that were in flight when the connections broke:
/// a handful, never more than a request's worth. Even the idempotent producer re-sends those
/// under a new epoch once a request has timed out (librdkafka's "possibly persisted" messages).
fn assert_at_most_in_flight_duplicates(report: &str, sent: u64) {
    let duplicates = common::report_value(report, "duplicates");
    eprintln!("{duplicates} duplicate(s) after the outage");
    assert!(duplicates <= 500, "{duplicates} duplicates:\n{report}");
    assert_eq!(
        common::report_value(report, "messages"),
        sent + duplicates,
        "{report}"
    );
}

/// A run that loses readings on purpose (`drop`, `maxLag`): it succeeds, reports the outage,
/// fails nothing, counts `counted` within `expected`, and exactly that many are missing.
fn assert_losses_are_counted(
    topic: &str,
    spec: &str,
    counted: &str,
    expected: RangeInclusive<u64>,
) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let o = run_through_outage(topic, spec);
    assert_eq!(o.code, Some(0), "devsim run failed:\n{}", o.stdout());
    assert_the_outage_is_reported(&o);
    let lost = o.summary(counted);
    assert!(
        expected.contains(&lost),
        "{counted} {lost}:\n{}",
        o.stdout()
    );
    assert_eq!(o.summary("failed"), 0, "{}", o.stdout());
    let report = o.verify();
    assert_eq!(
        common::report_value(&report, "missing (gaps)"),
        lost,
        "{report}"
    );
    assert_at_most_in_flight_duplicates(&report, o.summary("sent"));
}

#[test]
fn with_drop_what_overflows_is_counted_and_is_exactly_what_is_missing() {
    // About the outage's readings (12 s at 5,000/s, plus up to 2 s to reconnect), less what the
    // buffer held.
    assert_losses_are_counted(
        "outage-drop",
        "overflow: drop\n",
        "dropped",
        40_000..=75_000,
    );
}

#[test]
fn with_max_lag_what_falls_too_far_behind_is_skipped_and_counted() {
    // The outage's readings, less the 3 s allowed to catch up and what the buffer held.
    assert_losses_are_counted(
        "outage-skip",
        "overflow: block\nmaxLag: 3s\n",
        "skipped",
        30_000..=70_000,
    );
}
