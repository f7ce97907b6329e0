//! What the walk keeps besides the devices: the jitter window the memory model counts on.

use std::sync::Arc;

use super::{Delivery, DeviceWorker};
use crate::config::validate;
use crate::engine::footprint::bytes_per_device;
use crate::engine::plan::SimulationPlan;
use crate::operator::status::tests::sim;

const MS: u64 = 1_000_000;

fn plan(devices: u32, jitter: f64) -> SimulationPlan {
    let mut plan = validate(&sim("", None)).expect("valid fixture").plan;
    plan.devices = devices;
    plan.jitter = jitter;
    plan.interval = std::time::Duration::from_secs(1);
    plan
}

/// The most readings the worker holds filed (wheel and heap) over three intervals, polled
/// every millisecond.
fn largest_window(plan: SimulationPlan) -> usize {
    let blocks = (0..plan.layout().blocks()).collect();
    let mut worker = DeviceWorker::new(Arc::new(plan), 0, blocks, 0);
    let mut largest = 0;
    for now in (0..3_000).map(|ms| ms * MS) {
        worker.poll(now, usize::MAX, |_| Delivery::Accepted);
        largest = largest.max(worker.wheel.len() + worker.heap.len());
    }
    largest
}

/// Jitter uniform up to half the interval keeps a quarter of the devices' readings filed on
/// average; the largest count stays within a few standard deviations of it (binomial, n =
/// 100,000: 0.14 % of the fleet each), and the model's window share covers it with slot growth.
#[test]
fn the_jitter_window_holds_a_quarter_of_the_devices_at_half_an_interval_of_jitter() {
    let n = 100_000u32;
    let largest = largest_window(plan(n, 0.5)) as f64 / f64::from(n);
    assert!((0.24..=0.26).contains(&largest), "largest window {largest}");
    let model = bytes_per_device(&plan(n, 0.5)) - bytes_per_device(&plan(n, 0.0));
    assert!(model as f64 >= 4.0 * largest * 1.5, "window bytes {model}");
}

/// Without jitter a reading is due when the cursor meets its device: nothing waits filed
/// beyond the millisecond being produced.
#[test]
fn without_jitter_nothing_waits_in_a_window() {
    let n = 100_000u32;
    let largest = largest_window(plan(n, 0.0));
    // One millisecond of a 100,000-device, 1 s fleet is 100 readings.
    assert!(largest <= 150, "largest window {largest}");
}
