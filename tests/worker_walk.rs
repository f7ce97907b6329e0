//! The walk that schedules a worker's devices, held to an oracle computed from the schedule
//! alone: whatever the polling pattern (late, in small batches, or far behind), and however
//! blocks of devices leave and rejoin, a worker produces exactly the readings due while it owns
//! the device, each once, in due order, with the values an uninterrupted worker gives them.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use devsim::engine::device::parse_device_index;
use devsim::engine::plan::SimulationPlan;
use devsim::engine::schedule::Schedule;
use devsim::engine::worker::{Delivery, DeviceWorker, PollOutcome};
use proptest::prelude::*;

const T0_MS: i64 = 1_750_000_000_000;
const MS: u64 = 1_000_000;

/// A simulation of two sensors a device, cut into blocks of `2^block_bits` positions, or its
/// own block size when `None`.
fn plan(
    devices: u32,
    seed: u64,
    jitter: f64,
    interval_ms: u64,
    block_bits: Option<u32>,
) -> Arc<SimulationPlan> {
    let mut plan = common::simulation(&common::spec(&format!(
        "devices: {devices}\ninterval: {interval_ms}ms\njitter: {jitter}\nseed: {seed}\nanomalyRate: 0.05\nprofiles:\n  - name: climate\n    sensors: [{{type: temperature}}, {{type: humidity}}]\n"
    )))
    .plan;
    plan.block_bits = block_bits;
    Arc::new(plan)
}

/// (device, seq) -> (due, values), in the order produced.
type Produced = Vec<((u32, u64), Vec<f64>)>;

/// Polls `worker` at each of `times` with `budget` readings a poll.
fn drive(worker: &mut DeviceWorker, times: &[u64], budget: usize, out: &mut Produced) {
    for &now in times {
        let _ = worker.poll(now, budget, |r| {
            let device = parse_device_index(r.device_id, "dev-").expect("our own ID");
            out.push(((device, r.seq), r.values.to_vec()));
            Delivery::Accepted
        });
    }
}

/// Polls until nothing due by `now` is left.
fn drain(worker: &mut DeviceWorker, now: u64, out: &mut Produced) {
    loop {
        let mut batch = Vec::new();
        let outcome = worker.poll(now, 64, |r| {
            let device = parse_device_index(r.device_id, "dev-").expect("our own ID");
            batch.push(((device, r.seq), r.values.to_vec()));
            Delivery::Accepted
        });
        out.extend(batch);
        if outcome != PollOutcome::BudgetSpent {
            return;
        }
    }
}

/// Every reading of `device` due in `[from, to]`.
fn due_between(s: &Schedule, device: u32, from: u64, to: u64) -> Vec<(u32, u64)> {
    let mut seq = s.first_seq_at_or_after(device, from);
    let mut out = Vec::new();
    while s.due_ns(device, seq) <= to {
        out.push((device, seq));
        seq += 1;
    }
    out
}

/// Every block of `p`.
fn all_blocks(p: &SimulationPlan) -> Vec<u32> {
    (0..p.layout().blocks()).collect()
}

/// A simulation of 1 to 1,300 devices, any seed, jitter from none to the most, an interval
/// from the shortest to 400 ms, in blocks of one device (its own size: small fleets are cut
/// that fine) or of 2 to 256 (as large fleets are: up to six blocks, the last partly empty).
fn any_plan() -> impl Strategy<Value = Arc<SimulationPlan>> {
    (
        prop_oneof![1u32..8, 8u32..300, 300u32..1_300],
        0u64..1_000,
        prop_oneof![Just(0.0), 0.0f64..=0.5, Just(0.5)],
        prop_oneof![Just(10u64), 10u64..400],
        prop_oneof![Just(None), (1u32..=8).prop_map(Some)],
    )
        .prop_map(|(devices, seed, jitter, interval_ms, block_bits)| {
            plan(devices, seed, jitter, interval_ms, block_bits)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Devices leave at a cut and come back at a later start, which may lie ahead of the
    /// worker's own progress (it is behind) or behind it (the cut is already past).
    #[test]
    fn leaving_and_rejoining_keeps_exactly_the_owned_readings(
        p in any_plan(),
        step_ms in 1u64..120,
        budget in prop_oneof![Just(usize::MAX), 1usize..40],
        cut_ms in 0u64..1_500,
        rejoin_after_ms in 0u64..1_500,
        worker_lead_ms in 0u64..1_500,
        leaving in 2u32..5,
        start_ms in 0u64..300,
    ) {
        let devices = p.devices;
        let s = Schedule::new(p.seed, devices, p.interval, p.jitter, 0);
        let layout = p.layout();
        let start = start_ms * MS;
        let mut worker = DeviceWorker::new(Arc::clone(&p), T0_MS, all_blocks(&p), start);
        let mut produced = Produced::new();
        let steps = |from: u64, to: u64| -> Vec<u64> {
            (from..to).step_by((step_ms * MS) as usize).collect()
        };
        let cut = start + cut_ms * MS;
        drive(&mut worker, &steps(start, cut), budget, &mut produced);
        drain(&mut worker, cut, &mut produced);
        let leaves_block = |b: u32| b % leaving == 0;
        let leaves = |d: u32| leaves_block(layout.block_of(d));
        worker.retain_blocks(|b| !leaves_block(b));
        // The worker runs on (or not), then takes the devices back from `rejoin`.
        let rejoin = cut + 1 + rejoin_after_ms * MS;
        let worker_at = cut + worker_lead_ms * MS;
        drive(&mut worker, &steps(cut, worker_at), budget, &mut produced);
        let back: Vec<u32> = all_blocks(&p).into_iter().filter(|&b| leaves_block(b)).collect();
        worker.add_blocks(&back, rejoin);
        let end = rejoin.max(worker_at) + 2 * p.interval.as_nanos() as u64;
        drive(&mut worker, &steps(worker_at, end), budget, &mut produced);
        drain(&mut worker, end, &mut produced);

        let mut expected: Vec<(u32, u64)> = Vec::new();
        for d in 0..devices {
            if leaves(d) {
                expected.extend(due_between(&s, d, start, cut));
                expected.extend(due_between(&s, d, rejoin, end));
            } else {
                expected.extend(due_between(&s, d, start, end));
            }
        }
        expected.sort_unstable();
        let mut got: Vec<(u32, u64)> = produced.iter().map(|(k, _)| *k).collect();
        got.sort_unstable();
        prop_assert_eq!(&got, &expected);
        // In due order, up to readings taken back after the worker had already passed them.
        let dues: Vec<u64> = produced.iter().map(|((d, q), _)| s.due_ns(*d, *q)).collect();
        let late_rejoin = rejoin < worker_at;
        if !late_rejoin {
            prop_assert!(dues.windows(2).all(|w| w[0] <= w[1]), "out of due order");
        }
        // The values are an uninterrupted worker's.
        let mut reference = DeviceWorker::new(Arc::clone(&p), T0_MS, all_blocks(&p), start);
        let mut truth = Produced::new();
        drain(&mut reference, end, &mut truth);
        let truth: BTreeMap<(u32, u64), Vec<f64>> = truth.into_iter().collect();
        for (key, values) in &produced {
            prop_assert_eq!(Some(values), truth.get(key), "{:?}", key);
        }
    }

    /// A worker built at `built` (a restarted or new process) with devices of its own, then
    /// handed devices whose old owner let go of them earlier, at `cut`, and others later: it
    /// produces its own from `built`, the others from where they were let go, each once.
    #[test]
    fn a_worker_built_after_the_cut_takes_devices_over_from_the_cut(
        p in any_plan(),
        step_ms in 1u64..50,
        built_ms in 0u64..1_500,
        cut_before_ms in 0u64..1_000,
        later_ms in 0u64..1_000,
        own_every in 1u32..4,
    ) {
        let devices = p.devices;
        let s = Schedule::new(p.seed, devices, p.interval, p.jitter, 0);
        let layout = p.layout();
        let built = 1_000 * MS + built_ms * MS;
        let cut = built.saturating_sub(cut_before_ms * MS);
        let later = built + later_ms * MS;
        let own_block = |b: u32| b % own_every == 0;
        let early_block = |b: u32| !own_block(b) && b % 2 == 0;
        let own = |d: u32| own_block(layout.block_of(d));
        let early = |d: u32| early_block(layout.block_of(d));
        let blocks_where = |f: &dyn Fn(u32) -> bool| -> Vec<u32> {
            all_blocks(&p).into_iter().filter(|&b| f(b)).collect()
        };
        let mut worker = DeviceWorker::new(Arc::clone(&p), T0_MS, blocks_where(&own_block), built);
        let mut produced = Produced::new();
        worker.add_blocks(&blocks_where(&early_block), cut);
        let steps: Vec<u64> = (built..later).step_by((step_ms * MS) as usize).collect();
        drive(&mut worker, &steps, usize::MAX, &mut produced);
        worker.add_blocks(&blocks_where(&|b| !own_block(b) && !early_block(b)), later);
        let end = later + 2 * p.interval.as_nanos() as u64;
        drain(&mut worker, end, &mut produced);
        let mut expected: Vec<(u32, u64)> = (0..devices)
            .flat_map(|d| {
                let from = if own(d) { built } else if early(d) { cut } else { later };
                due_between(&s, d, from, end)
            })
            .collect();
        expected.sort_unstable();
        let mut got: Vec<(u32, u64)> = produced.iter().map(|(k, _)| *k).collect();
        got.sort_unstable();
        prop_assert_eq!(got, expected);
    }
}

/// A worker that lags its schedule by many intervals catches up through every reading, in due
/// order.
#[test]
fn a_worker_far_behind_catches_up_in_due_order() {
    const DEVICES: u32 = 120;
    let p = plan(DEVICES, 5, 0.5, 10, None);
    let s = Schedule::new(p.seed, DEVICES, p.interval, p.jitter, 0);
    let mut worker = DeviceWorker::new(Arc::clone(&p), T0_MS, all_blocks(&p), 0);
    let mut produced = Produced::new();
    drain(&mut worker, 3_000 * MS, &mut produced);
    let dues: Vec<u64> = produced
        .iter()
        .map(|((d, q), _)| s.due_ns(*d, *q))
        .collect();
    assert!(dues.windows(2).all(|w| w[0] <= w[1]));
    let expected: usize = (0..DEVICES)
        .map(|d| due_between(&s, d, 0, 3_000 * MS).len())
        .sum();
    assert_eq!(produced.len(), expected);
    assert!(expected > 35_000, "{expected}");
}
