//! `devsim run --shard N` runs one worker pod's share of the devices, and only that: the three
//! shards of a 3-replica simulation, each run alone against the same topic, add up to every
//! device exactly once. Run whole three times, every reading would be there three times.
//! Also: a fleet that cannot fit this machine's memory is refused before anything starts.

mod common;

use common::{BrokerProcess, devsim, report_value, spec};

/// 3,000 blocks of one device each (a fleet this small is cut that fine): each shard owns a
/// jump-hash share of them.
const DEVICES: u64 = 3_000;

#[test]
fn the_shards_run_one_by_one_cover_every_device_exactly_once() {
    let broker = BrokerProcess::start("shards", 3);
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("sim.yaml");
    std::fs::write(
        &file,
        spec(&format!(
            "devices: {DEVICES}\ninterval: 1s\nreplicas: 3\nworkersPerReplica: 2\n\
             kafka:\n  topic: shards\n  partitions: 3\n"
        )),
    )
    .expect("write the simulation");
    let path = file.to_str().expect("UTF-8 path").to_owned();
    let runs: Vec<_> = (0..3)
        .map(|shard| {
            let (path, brokers) = (path.clone(), broker.bootstrap.clone());
            std::thread::spawn(move || {
                let shard = shard.to_string();
                let args = [
                    "run",
                    "-f",
                    &path,
                    "--brokers",
                    &brokers,
                    "--shard",
                    &shard,
                    "--duration",
                    "2s",
                ];
                devsim(&args)
            })
        })
        .collect();
    let mut sent = 0;
    for (shard, run) in runs.into_iter().enumerate() {
        let (code, out, err) = run.join().expect("the run");
        assert_eq!(code, Some(0), "shard {shard}:\n{out}\n{err}");
        assert!(
            out.contains(&format!("shard {shard} of 3 x 2 worker(s)")),
            "{out}"
        );
        let this = report_value(&out, "sent");
        // Each shard holds about a third of the devices (a jump-hash share): 2 s of a reading a
        // second from ~1,000 devices, far from the ~6,000 of all of them.
        assert!(
            (800..=3_200).contains(&this),
            "shard {shard} sent {this}:\n{out}"
        );
        assert_eq!(report_value(&out, "delivered"), this, "{out}");
        sent += this;
    }
    let (code, report, err) = devsim(&[
        "verify",
        "--brokers",
        &broker.bootstrap,
        "-f",
        &path,
        "--expect-devices",
        &DEVICES.to_string(),
    ]);
    assert_eq!(code, Some(0), "{report}\n{err}");
    assert_eq!(report_value(&report, "devices"), DEVICES, "{report}");
    assert_eq!(report_value(&report, "messages"), sent, "{report}");
    assert_eq!(report_value(&report, "duplicates"), 0, "{report}");
}

#[test]
fn a_fleet_larger_than_this_machines_memory_is_refused_before_it_starts() {
    // A billion devices of 16 sensors: 64 bytes each (16 f32; a device's place costs nothing),
    // ~60 GiB.
    let sensors: String = (0..16)
        .map(|i| format!("      - type: current\n        name: c{i}\n"))
        .collect();
    let yaml = spec(&format!(
        "devices: 1000000000\ninterval: 1h\nreplicas: 1\nkafka:\n  topic: huge\n\
         profiles:\n  - name: big\n    sensors:\n{sensors}"
    ));
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .expect("MemAvailable")
        * 1024;
    assert!(
        available < 60 << 30,
        "this test needs a machine with less than 60 GiB available, not {available} bytes"
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("huge.yaml");
    std::fs::write(&file, yaml).expect("write the simulation");
    let started = std::time::Instant::now();
    // No --brokers: nothing may start, not even the embedded Kafka.
    let (code, out, err) = devsim(&[
        "run",
        "-f",
        file.to_str().expect("UTF-8"),
        "--duration",
        "1s",
    ]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    for words in [
        "spec.devices",
        "1000000000 devices",
        "64 bytes each",
        "--shard",
    ] {
        assert!(err.contains(words), "no {words:?} in:\n{err}");
    }
    assert!(!out.contains("embedded Kafka"), "{out}");
    assert!(
        started.elapsed().as_secs() < 5,
        "took {:?}",
        started.elapsed()
    );
}
