//! `devsim bench` on the real binary: both modes measured, round after round, against an
//! embedded Kafka it starts in a process of its own and against brokers given with
//! `--brokers`; its recommendation follows from the rate it printed; unreachable brokers end
//! it at once with a reason.

mod common;

/// 100,000 devices every second: 100,000 msg/s scheduled.
const SCHEDULED: f64 = 100_000.0;

fn simulation_file(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("sim.yaml");
    std::fs::write(
        &path,
        "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: bench-test\n\
         spec:\n  devices: 100000\n  interval: 1s\n  kafka:\n    topic: bench\n    \
         partitions: 4\n    compression: lz4\n",
    )
    .expect("write the simulation");
    path.to_str().expect("UTF-8 path").to_owned()
}

/// One row of the phase table.
struct Row {
    round: u32,
    mode: String,
    rate: f64,
    megabytes: f64,
    broker_cpu: String,
}

fn rows(stdout: &str) -> Vec<Row> {
    stdout
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Row {
                round: f[0].parse().expect("round"),
                mode: f[1].to_owned(),
                rate: f[2].parse().expect("msg/s"),
                megabytes: f[3].parse().expect("MB/s"),
                broker_cpu: f.last().expect("broker CPU").to_string(),
            }
        })
        .collect()
}

/// The number after `label` on the line holding it.
fn number_after(stdout: &str, label: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no {label:?} in:\n{stdout}"));
    let rest = &line[line.find(label).expect("found") + label.len()..];
    rest.split_whitespace()
        .next()
        .and_then(|n| {
            n.trim_end_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no number after {label:?} in {line:?}"))
}

#[test]
fn bench_alternates_raw_and_pipeline_against_an_embedded_kafka_of_its_own() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = simulation_file(&dir);
    let (code, stdout, stderr) =
        common::devsim(&["bench", "-f", &sim, "--duration", "1s", "--rounds", "2"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let rows = rows(&stdout);
    let order: Vec<(u32, &str)> = rows.iter().map(|r| (r.round, r.mode.as_str())).collect();
    assert_eq!(
        order,
        [(1, "raw"), (1, "pipeline"), (2, "raw"), (2, "pipeline")],
        "{stdout}"
    );
    for row in &rows {
        // Far below what any machine does; the point is that each phase delivered.
        assert!(row.rate > 5_000.0, "{stdout}");
        assert!(row.megabytes > 0.5, "{stdout}");
        // The broker ran in a process of its own, whose CPU is measured apart.
        assert!(row.broker_cpu.ends_with('%'), "{stdout}");
    }
    // The summary is the median of the rows (two phases: their mean), and the recommendation
    // follows from it: 100,000 msg/s over 70 % of one replica's rate.
    let pipeline: Vec<f64> = rows
        .iter()
        .filter(|r| r.mode == "pipeline")
        .map(|r| r.rate)
        .collect();
    let median = (pipeline[0] + pipeline[1]) / 2.0;
    let printed = number_after(&stdout, "one replica sustains about");
    assert!((printed - median).abs() <= 1.0, "{printed} vs {median}");
    let replicas = number_after(&stdout, "recommended replicas:");
    assert_eq!(
        replicas,
        (SCHEDULED / (0.7 * printed)).ceil().max(1.0),
        "{stdout}"
    );
    assert!(stdout.contains("schedules 100000 msg/s"), "{stdout}");
}

#[test]
fn bench_measures_brokers_given_with_brokers() {
    let broker = common::BrokerProcess::start("bench", 4);
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = simulation_file(&dir);
    let (code, stdout, stderr) = common::devsim(&[
        "bench",
        "-f",
        &sim,
        "--brokers",
        &broker.bootstrap,
        "--duration",
        "1s",
        "--rounds",
        "1",
    ]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains(&broker.bootstrap), "{stdout}");
    assert!(stdout.contains("its CPU is not measured here"), "{stdout}");
    let rows = rows(&stdout);
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(
        rows.iter().all(|r| r.rate > 5_000.0 && r.broker_cpu == "-"),
        "{stdout}"
    );
}

#[test]
fn bench_ends_at_once_when_kafka_is_unreachable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = simulation_file(&dir);
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = common::devsim(&[
        "bench",
        "-f",
        &sim,
        "--brokers",
        "127.0.0.1:1",
        "--duration",
        "1s",
    ]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("Kafka at 127.0.0.1:1 is unreachable"),
        "{stderr}"
    );
    assert!(!stdout.contains("round"), "no phase may start: {stdout}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
