//! The memory model the operator checks a worker's limit with (`engine::footprint`), held to
//! the real figure: the resident memory a producer task's devices take once every one of them
//! has produced (state is zeroed memory, touched only when a device first produces), measured
//! at two device counts, as growth per added device.
//!
//! Measured in this process, which does nothing else meanwhile (its tests take turns), so the
//! growth is the engine's: a `devsim run` of a 1 h interval would have touched almost none of
//! its devices' state within a test's time, and one of a short interval would measure its
//! producer queue along with it.

mod common;

use std::sync::Arc;

use common::{simulation, spec};
use devsim::engine::footprint::bytes_per_device;
use devsim::engine::worker::{Delivery, DeviceWorker};

/// Devices of the small and the large worker: 2 M apart, so that even one sensor's share
/// (8 MB) stands well clear of the test process's own noise (well under a MiB).
const SMALL: u32 = 100_000;
const LARGE: u32 = 2_100_000;

const MS: u64 = 1_000_000;

/// The simulation with `devices` devices and `profiles` (YAML under `profiles:`, or empty for
/// the default one-sensor profiles), a reading a second.
fn yaml(devices: u32, profiles: &str) -> String {
    let mut body = format!("devices: {devices}\ninterval: 1s\n");
    if !profiles.is_empty() {
        body.push_str("profiles:\n");
        body.push_str(profiles);
    }
    spec(&body)
}

/// This process's resident memory now, in bytes.
fn resident_bytes() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("resident pages");
    pages * 4096.0
}

/// Resident growth (bytes) of a worker of `devices` devices once all of them have produced:
/// one whole interval, polled every 10 ms, plus the largest jitter.
fn worker_growth(devices: u32, profiles: &str) -> f64 {
    let plan = Arc::new(simulation(&yaml(devices, profiles)).plan);
    let before = resident_bytes();
    let blocks = (0..plan.layout().blocks()).collect();
    let mut worker = DeviceWorker::new(Arc::clone(&plan), 0, blocks, 0);
    let mut produced = 0u64;
    for now in (0..=1_600).step_by(10).map(|ms| ms * MS) {
        worker.poll(now, usize::MAX, |_| {
            produced += 1;
            Delivery::Accepted
        });
    }
    assert!(
        produced >= u64::from(devices),
        "{produced} readings of {devices} devices"
    );
    let grown = resident_bytes() - before;
    drop(worker);
    grown
}

/// Measured bytes per added device for `profiles`, and what the model says.
fn measured_and_modelled(profiles: &str) -> (f64, u64) {
    // Resident memory is the process's: one measurement at a time.
    static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _alone = ALONE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let small = worker_growth(SMALL, profiles);
    let large = worker_growth(LARGE, profiles);
    let measured = (large - small) / f64::from(LARGE - SMALL);
    let modelled = bytes_per_device(&simulation(&yaml(LARGE, profiles)).plan);
    eprintln!("measured {measured:.2} bytes a device, modelled {modelled}");
    (measured, modelled)
}

/// The model may overstate a device's cost by up to 25 % (it is a limit check: erring high
/// holds back a fleet that would have fitted) but never understate it by more than 5 %
/// (which would start workers that are then killed for want of memory).
fn assert_close(measured: f64, modelled: u64) {
    let m = modelled as f64;
    assert!(
        measured <= m * 1.05 && measured >= m / 1.25,
        "measured {measured:.2} bytes a device, the model says {modelled}"
    );
}

#[test]
fn the_memory_model_matches_a_real_worker_with_one_sensor_a_device() {
    let (measured, modelled) = measured_and_modelled("");
    assert_close(measured, modelled);
}

#[test]
fn the_memory_model_matches_a_real_worker_with_four_sensors_a_device() {
    let profiles = "  - name: machine\n    sensors:\n      - type: temperature\n      \
                    - type: humidity\n      - type: pressure\n      - type: current\n";
    let (measured, modelled) = measured_and_modelled(profiles);
    assert_close(measured, modelled);
}
