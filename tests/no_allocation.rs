//! The hot path allocates nothing per message: once a worker's buffers have grown to fit,
//! scheduling, generating and encoding readings performs no heap allocation at all.

mod common;

use std::sync::Arc;

use devsim::engine::encode::Encoder;
use devsim::engine::worker::{Delivery, DeviceWorker};

const MS: u64 = 1_000_000;

/// Allocations made while producing `rounds` intervals after `warm_up` intervals.
fn allocations(encoding: &str, jitter: f64, warm_up: u64, rounds: u64) -> (u64, u64) {
    let plan = Arc::new(
        common::simulation(&common::spec(&format!(
            "devices: 10000\ninterval: 100ms\njitter: {jitter}\nanomalyRate: 0.05\nencoding: {encoding}\nprofiles:\n  - name: climate\n    sensors: [{{type: temperature}}, {{type: humidity}}, {{type: pressure}}]\n  - name: machine\n    sensors: [{{type: current}}, {{type: switch}}]\n"
        )))
        .plan,
    );
    let mut worker = DeviceWorker::new(
        Arc::clone(&plan),
        1_750_000_000_000,
        (0..plan.layout().blocks()).collect(),
        0,
    );
    let mut encoder = Encoder::new(plan.encoding);
    let mut buffer = Vec::with_capacity(1024);
    let mut step = |worker: &mut DeviceWorker, now: u64| {
        worker.poll(now, usize::MAX, |r| {
            encoder.encode(r, &mut buffer);
            std::hint::black_box(&buffer);
            Delivery::Accepted
        });
    };
    let mut now = 0;
    while now < warm_up * 100 * MS {
        now += MS;
        step(&mut worker, now);
    }
    let before = worker.counts().sent;
    let info = allocation_counter::measure(|| {
        while now < (warm_up + rounds) * 100 * MS {
            now += MS;
            step(&mut worker, now);
        }
    });
    (info.count_total, worker.counts().sent - before)
}

#[test]
fn steady_state_json_allocates_nothing() {
    let (allocations, readings) = allocations("json", 0.0, 3, 5);
    assert!(readings >= 49_000, "{readings}");
    assert_eq!(
        allocations, 0,
        "{allocations} allocations for {readings} readings"
    );
}

#[test]
fn steady_state_protobuf_allocates_nothing() {
    let (allocations, readings) = allocations("protobuf", 0.0, 3, 5);
    assert!(readings >= 49_000, "{readings}");
    assert_eq!(
        allocations, 0,
        "{allocations} allocations for {readings} readings"
    );
}

#[test]
fn with_jitter_allocations_are_rare_slot_growth_only() {
    // Jitter moves readings between wheel slots, so a slot occasionally grows past its
    // high-water mark; that is amortised growth, not a per-message allocation.
    let (allocations, readings) = allocations("json", 0.3, 10, 5);
    assert!(
        allocations * 10_000 <= readings,
        "{allocations} allocations for {readings} readings"
    );
}
