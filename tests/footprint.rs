//! The memory model the operator checks a worker's limit with (`engine::footprint`), held to
//! the real figure: `devsim run` of the same simulation at two device counts, against a broker
//! in its own process, and the growth of its peak resident memory per added device.

mod common;

use common::{BrokerProcess, devsim, simulation, spec};
use devsim::engine::footprint::bytes_per_device;

/// Devices of the small and the large run: 6 M apart, so the devices' share (48–120 MB) stands
/// well clear of the process's own noise (a few MiB).
const SMALL: u32 = 200_000;
const LARGE: u32 = 6_200_000;

/// The simulation with `devices` devices and `profiles` (YAML under `profiles:`, or empty for
/// the default one-sensor profiles): one reading an hour, so few messages are in flight.
fn yaml(devices: u32, profiles: &str, topic: &str) -> String {
    let mut body = format!(
        "devices: {devices}\ninterval: 1h\nreplicas: 1\nworkersPerReplica: 2\n\
         kafka:\n  topic: {topic}\n  partitions: 3\n"
    );
    if !profiles.is_empty() {
        body.push_str("profiles:\n");
        body.push_str(profiles);
    }
    spec(&body)
}

/// Peak resident memory (bytes) of `devsim run` of `yaml` for 8 s against `brokers`: long
/// enough that a debug build has built every task's devices before the run ends (it takes ~3 s
/// for 6 M, and a task whose run is over frees its devices at once).
fn peak_rss(yaml: &str, brokers: &str) -> f64 {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("sim.yaml");
    std::fs::write(&file, yaml).expect("write the simulation");
    let path = file.to_str().expect("UTF-8 path");
    let (code, out, err) = devsim(&["run", "-f", path, "--brokers", brokers, "--duration", "8s"]);
    assert_eq!(code, Some(0), "devsim run failed:\n{out}\n{err}");
    let mib: f64 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("peak resident mem."))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no peak resident memory in:\n{out}"));
    mib * 1024.0 * 1024.0
}

/// Measured bytes per added device for `profiles`, and what the model says.
fn measured_and_modelled(profiles: &str, topic: &str) -> (f64, u64) {
    let broker = BrokerProcess::start(topic, 3);
    let small = peak_rss(&yaml(SMALL, profiles, topic), &broker.bootstrap);
    let large = peak_rss(&yaml(LARGE, profiles, topic), &broker.bootstrap);
    let measured = (large - small) / f64::from(LARGE - SMALL);
    let modelled = bytes_per_device(&simulation(&yaml(LARGE, profiles, topic)).plan);
    eprintln!("{topic}: measured {measured:.1} bytes a device, modelled {modelled}");
    (measured, modelled)
}

/// The model may overstate a device's cost by up to 25 % (it is a limit check: erring high
/// holds back a fleet that would have fitted) but never understate it by more than 5 %
/// (which would start workers that are then killed for want of memory).
fn assert_close(measured: f64, modelled: u64) {
    let m = modelled as f64;
    assert!(
        measured <= m * 1.05 && measured >= m / 1.25,
        "measured {measured:.1} bytes a device, the model says {modelled}"
    );
}

#[test]
fn the_memory_model_matches_a_real_process_with_one_sensor_a_device() {
    let (measured, modelled) = measured_and_modelled("", "footprint-one");
    assert_close(measured, modelled);
}

#[test]
fn the_memory_model_matches_a_real_process_with_four_sensors_a_device() {
    let profiles = "  - name: machine\n    sensors:\n      - type: temperature\n      \
                    - type: humidity\n      - type: pressure\n      - type: current\n";
    let (measured, modelled) = measured_and_modelled(profiles, "footprint-four");
    assert_close(measured, modelled);
}
