//! Streams as a consumer sees them: reproducible from the seed, continued across restarts and
//! rescales with every (device, seq) exactly once, and intact under back-pressure.
//! Driven with a fake clock; no Kafka needed.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use devsim::engine::encode::Encoder;
use devsim::engine::plan::SimulationPlan;
use devsim::engine::shard::{blocks_of_shard, shard_of_block, split_for_workers};
use devsim::engine::worker::{Delivery, DeviceWorker, PollOutcome};
use devsim::verify::decode;
use proptest::prelude::*;

const T0_MS: i64 = 1_750_000_000_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000 * MS;

fn plan(extra: &str) -> SimulationPlan {
    plan_of(300, extra)
}

/// A plan of `devices` devices.
fn plan_of(devices: u32, extra: &str) -> SimulationPlan {
    common::simulation(&common::spec(&format!(
        "devices: {devices}\ninterval: 100ms\njitter: 0.2\nanomalyRate: 0.05\n{extra}"
    )))
    .plan
}

/// The blocks of `shard` out of `shards`, split over `tasks` tasks; every shard must own some,
/// or the hand-over under test would move nothing.
fn blocks_of(p: &SimulationPlan, shard: u32, shards: u32, tasks: u32) -> Vec<Vec<u32>> {
    let blocks = blocks_of_shard(p.layout().blocks(), shard, shards);
    assert!(
        !blocks.is_empty(),
        "shard {shard} of {shards} owns no block"
    );
    split_for_workers(&blocks, tasks)
}

/// Runs `worker` from `from` to `to` (ns after t0) in 5 ms steps; returns every message as
/// (key, payload) in production order.
fn drive(
    worker: &mut DeviceWorker,
    plan: &SimulationPlan,
    from: u64,
    to: u64,
) -> Vec<(String, Vec<u8>)> {
    let mut encoder = Encoder::new(plan.encoding);
    let mut out = Vec::new();
    for now in poll_times(from, to) {
        loop {
            let outcome = worker.poll(now, usize::MAX, |r| {
                let mut payload = Vec::new();
                encoder.encode(r, &mut payload);
                out.push((r.device_id.to_owned(), payload));
                Delivery::Accepted
            });
            if outcome != PollOutcome::BudgetSpent {
                break;
            }
        }
    }
    out
}

/// Every 5 ms from `from`, and a last poll just before `to`: everything due before `to` is
/// produced, so a worker taking devices over at `to` starts exactly where this one stopped.
fn poll_times(from: u64, to: u64) -> impl Iterator<Item = u64> {
    (from..to)
        .step_by(5 * MS as usize)
        .chain(std::iter::once(to - 1))
}

/// (device, seq) -> values, from JSON payloads.
fn index(messages: &[(String, Vec<u8>)]) -> BTreeMap<(String, u64), Vec<f64>> {
    let mut map = BTreeMap::new();
    for (key, payload) in messages {
        let r = decode(devsim::engine::plan::Encoding::Json, payload).expect("payload decodes");
        assert_eq!(&r.device_id, key);
        let previous = map.insert(
            (r.device_id, r.seq),
            r.values.iter().map(|v| v.value).collect(),
        );
        assert!(previous.is_none(), "(device, seq) produced twice");
    }
    map
}

fn all_devices(plan: &Arc<SimulationPlan>, start: u64) -> DeviceWorker {
    DeviceWorker::new(
        Arc::clone(plan),
        T0_MS,
        (0..plan.layout().blocks()).collect(),
        start,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Same seed and spec: byte-identical streams; another seed: a different one.
    #[test]
    fn same_seed_gives_an_identical_stream(seed in any::<u32>()) {
        let p = Arc::new(plan(&format!("seed: {seed}")));
        let a = drive(&mut all_devices(&p, 0), &p, 0, 2 * SEC);
        let b = drive(&mut all_devices(&p, 0), &p, 0, 2 * SEC);
        prop_assert!(a.len() > 5_000);
        prop_assert_eq!(&a, &b);
        let other = Arc::new(plan(&format!("seed: {}", u64::from(seed) + 1)));
        let c = drive(&mut all_devices(&other, 0), &other, 0, 2 * SEC);
        prop_assert_ne!(a, c);
    }
}

#[test]
fn a_restarted_worker_continues_every_sequence_with_the_same_values() {
    let p = Arc::new(plan("seed: 9"));
    let continuous = index(&drive(&mut all_devices(&p, 0), &p, 0, 60 * SEC));
    // A process that takes over at 30 s, after the first one is gone.
    let restarted = index(&drive(
        &mut all_devices(&p, 30 * SEC),
        &p,
        30 * SEC,
        60 * SEC,
    ));
    let mut exact = 0usize;
    for ((device, seq), values) in &restarted {
        let before = continuous.get(&(device.clone(), *seq)).unwrap_or_else(|| {
            panic!("{device} seq {seq} was never produced by the continuous run")
        });
        if before == values {
            exact += 1;
        } else {
            // Only the 256-reading warm-up's rounding can differ, by one unit of 0.01.
            for (a, b) in before.iter().zip(values) {
                assert!((a - b).abs() <= 0.010_001, "{device} seq {seq}: {a} vs {b}");
            }
        }
    }
    // The restarted process starts at the first reading due at or after 30 s.
    for device in 0..p.devices {
        let id = format!("dev-{device:08}");
        let first = restarted
            .range((id.clone(), 0)..(id.clone(), u64::MAX))
            .next()
            .map(|(k, _)| k.1);
        let last_before = continuous
            .range((id.clone(), 0)..(id.clone(), u64::MAX))
            .filter(|(k, _)| !restarted.contains_key(k))
            .map(|(k, _)| k.1)
            .max();
        assert_eq!(
            first,
            last_before.map(|s| s + 1),
            "{id}: sequence does not continue"
        );
    }
    assert!(restarted.len() > 80_000);
    assert!(
        exact as f64 >= 0.999 * restarted.len() as f64,
        "only {exact} of {} identical",
        restarted.len()
    );
}

#[test]
fn rescaling_from_two_to_three_shards_produces_every_reading_exactly_once() {
    let p = plan_of(2_600, "seed: 4\nreplicas: 2\nworkersPerReplica: 2");
    let switch_at = 10 * SEC;
    let end = 20 * SEC;
    let mut before = p.clone();
    before.duration = Some(std::time::Duration::from_nanos(switch_at));
    let (before, after) = (
        Arc::new(before),
        Arc::new({
            let mut q = p.clone();
            q.replicas = 3;
            q
        }),
    );
    let mut messages = Vec::new();
    for shard in 0..2 {
        for part in blocks_of(&p, shard, 2, 2) {
            let mut w = DeviceWorker::new(Arc::clone(&before), T0_MS, part, 0);
            messages.extend(drive(&mut w, &before, 0, switch_at + SEC));
        }
    }
    for shard in 0..3 {
        for part in blocks_of(&p, shard, 3, 2) {
            let mut w = DeviceWorker::new(Arc::clone(&after), T0_MS, part, switch_at);
            messages.extend(drive(&mut w, &after, switch_at, end));
        }
    }
    let produced = index(&messages); // panics on any duplicate
    for device in 0..p.devices {
        let id = format!("dev-{device:08}");
        let seqs: Vec<u64> = produced
            .range((id.clone(), 0)..(id.clone(), u64::MAX))
            .map(|(k, _)| k.1)
            .collect();
        let expected: Vec<u64> = (0..seqs.len() as u64).collect();
        assert_eq!(seqs, expected, "{id}: not a gap-free sequence from 0");
        assert!(
            seqs.len() >= 190,
            "{id}: only {} readings in 20 s at 100 ms",
            seqs.len()
        );
    }
}

#[test]
fn a_full_queue_under_block_loses_and_duplicates_nothing() {
    let p = Arc::new(plan("seed: 2"));
    let reference = drive(&mut all_devices(&p, 0), &p, 0, 3 * SEC);
    let mut worker = all_devices(&p, 0);
    let mut encoder = Encoder::new(p.encoding);
    let mut out = Vec::new();
    let mut calls = 0u64;
    for now in poll_times(0, 3 * SEC) {
        // Every third hand-over finds the queue full; the worker must retry the same reading.
        loop {
            let outcome = worker.poll(now, usize::MAX, |r| {
                calls += 1;
                if calls % 3 == 0 {
                    return Delivery::QueueFull;
                }
                let mut payload = Vec::new();
                encoder.encode(r, &mut payload);
                out.push((r.device_id.to_owned(), payload));
                Delivery::Accepted
            });
            if matches!(outcome, PollOutcome::IdleUntil(_)) {
                break;
            }
        }
    }
    // Blocked readings are produced later, but the set of messages is identical.
    let (mut a, mut b) = (reference, out);
    a.sort();
    b.sort();
    assert_eq!(a.len(), b.len());
    assert_eq!(a, b);
    assert_eq!(worker.counts().dropped, 0);
}

#[test]
fn a_full_queue_under_drop_counts_what_it_skips() {
    let p = Arc::new(plan("seed: 2\noverflow: drop"));
    let mut worker = all_devices(&p, 0);
    let mut calls = 0u64;
    let mut accepted = 0u64;
    let mut now = 0;
    while now < 2 * SEC {
        worker.poll(now, usize::MAX, |_| {
            calls += 1;
            if calls % 4 == 0 {
                Delivery::QueueFull
            } else {
                accepted += 1;
                Delivery::Accepted
            }
        });
        now += 5 * MS;
    }
    assert_eq!(worker.counts().sent, accepted);
    assert_eq!(worker.counts().dropped, calls - accepted);
    assert!(worker.counts().dropped > 1_000);
}

#[test]
fn live_resharding_inside_one_worker_keeps_every_sequence_exactly_once() {
    live_resharding_keeps_every_sequence_exactly_once(None);
}

/// As above, with blocks of 256 devices as a large fleet has: blocks move whole, devices and
/// their state with them.
#[test]
fn live_resharding_of_many_device_blocks_keeps_every_sequence_exactly_once() {
    live_resharding_keeps_every_sequence_exactly_once(Some(8));
}

/// One worker per shard that drops and takes blocks in place as the count goes 2 -> 3 -> 2,
/// the simulation cut into blocks of `2^block_bits` (its own size when `None`).
fn live_resharding_keeps_every_sequence_exactly_once(block_bits: Option<u32>) {
    let mut p = plan_of(2_600, "seed: 8\nreplicas: 2");
    p.block_bits = block_bits;
    let p = Arc::new(p);
    let mut workers: Vec<DeviceWorker> = (0..3)
        .map(|shard| {
            let blocks = if shard < 2 {
                blocks_of(&p, shard, 2, 1).concat()
            } else {
                Vec::new()
            };
            DeviceWorker::new(Arc::clone(&p), T0_MS, blocks, 0)
        })
        .collect();
    let mut messages = Vec::new();
    let mut counts = 2u32;
    for (phase, next) in [(0u64, 3u32), (1, 2), (2, 2)] {
        let (from, to) = (phase * 5 * SEC, (phase + 1) * 5 * SEC);
        for w in &mut workers {
            messages.extend(drive(w, &p, from, to));
        }
        // Drop first everywhere, then take: nobody ever owns a device twice.
        for (shard, w) in workers.iter_mut().enumerate() {
            w.retain_blocks(|b| shard_of_block(b, next) == shard as u32);
        }
        for (shard, w) in workers.iter_mut().enumerate() {
            let taken: Vec<u32> = (0..p.layout().blocks())
                .filter(|&b| shard_of_block(b, next) == shard as u32)
                .filter(|&b| shard_of_block(b, counts) != shard as u32)
                .collect();
            w.add_blocks(&taken, to);
        }
        counts = next;
    }
    let produced = index(&messages); // panics on any duplicate
    for device in 0..p.devices {
        let id = format!("dev-{device:08}");
        let seqs: Vec<u64> = produced
            .range((id.clone(), 0)..(id.clone(), u64::MAX))
            .map(|(k, _)| k.1)
            .collect();
        assert_eq!(
            seqs,
            (0..seqs.len() as u64).collect::<Vec<_>>(),
            "{id}: gap or disorder"
        );
        assert!(seqs.len() >= 145, "{id}: {} readings", seqs.len());
    }
}

/// Polls `worker` at `now` until it has nothing more due, `send` deciding each reading's fate;
/// returns the outcome of the last poll and what was accepted.
fn poll_all(
    worker: &mut DeviceWorker,
    now: u64,
    budget: usize,
    mut send: impl FnMut(&devsim::engine::reading::Reading<'_>) -> Delivery,
) -> PollOutcome {
    loop {
        let outcome = worker.poll(now, budget, &mut send);
        if outcome != PollOutcome::BudgetSpent {
            return outcome;
        }
    }
}

/// A queue full for 10 s under `block`: the schedule falls behind by the outage and says so,
/// catches up with every reading once the queue takes them, and nothing is skipped.
#[test]
fn blocked_readings_wait_and_the_lag_is_reported_until_caught_up() {
    let p = Arc::new(plan("seed: 3"));
    let mut worker = all_devices(&p, 0);
    let mut seen = BTreeMap::new();
    let mut accept = |r: &devsim::engine::reading::Reading<'_>| {
        assert!(
            seen.insert((r.device_id.to_owned(), r.seq), ()).is_none(),
            "produced twice"
        );
        Delivery::Accepted
    };
    for now in poll_times(0, SEC) {
        poll_all(&mut worker, now, usize::MAX, &mut accept);
    }
    let mut last = None;
    for now in poll_times(SEC, 11 * SEC) {
        last = Some(worker.poll(now, usize::MAX, |_| Delivery::QueueFull));
    }
    assert_eq!(last, Some(PollOutcome::Blocked));
    let behind = worker.behind_ns(11 * SEC);
    assert!(
        (9 * SEC..=10 * SEC).contains(&behind),
        "behind {behind} ns after 10 s blocked"
    );
    // Catching up a batch at a time: still behind, by less, while it lasts.
    assert_eq!(
        worker.poll(11 * SEC, 1_000, &mut accept),
        PollOutcome::BudgetSpent
    );
    let catching_up = worker.behind_ns(11 * SEC);
    assert!(
        catching_up > 5 * SEC && catching_up <= behind,
        "behind {catching_up} ns while catching up"
    );
    poll_all(&mut worker, 11 * SEC, 1_000, &mut accept);
    assert_eq!(worker.behind_ns(11 * SEC), 0, "caught up");
    assert_eq!(worker.counts().skipped, 0);
    // Every reading due in the 11 s, each once (the outage cost time, not readings).
    let schedule =
        devsim::engine::schedule::Schedule::new(p.seed, p.devices, p.interval, p.jitter, 0);
    let due = (0..p.devices)
        .map(|d| schedule.first_seq_at_or_after(d, 11 * SEC))
        .sum::<u64>();
    assert_eq!(seen.len() as u64, due);
}

/// `maxLag: 2s` through a 10 s blocked queue: readings more than 2 s late are skipped and
/// counted, each device jumps ahead, and the values it produces after the jump are the ones an
/// uninterrupted worker produces for the same (device, seq).
#[test]
fn readings_later_than_max_lag_are_skipped_counted_and_the_values_stay_true() {
    let p = Arc::new(plan("seed: 4\nmaxLag: 2s"));
    let mut worker = all_devices(&p, 0);
    let mut produced: BTreeMap<(String, u64), (u64, Vec<f64>)> = BTreeMap::new();
    let mut accept = |r: &devsim::engine::reading::Reading<'_>, now: u64| {
        let previous = produced.insert((r.device_id.to_owned(), r.seq), (now, r.values.to_vec()));
        assert!(previous.is_none(), "produced twice");
        Delivery::Accepted
    };
    for now in poll_times(0, SEC) {
        poll_all(&mut worker, now, usize::MAX, |r| accept(r, now));
    }
    for now in poll_times(SEC, 11 * SEC) {
        worker.poll(now, usize::MAX, |_| Delivery::QueueFull);
    }
    for now in std::iter::once(11 * SEC).chain(poll_times(11 * SEC, 12 * SEC)) {
        poll_all(&mut worker, now, usize::MAX, |r| accept(r, now));
    }
    let skipped = worker.counts().skipped;
    let schedule =
        devsim::engine::schedule::Schedule::new(p.seed, p.devices, p.interval, p.jitter, 0);
    let due: u64 = (0..p.devices)
        .map(|d| schedule.first_seq_at_or_after(d, 12 * SEC))
        .sum();
    assert_eq!(
        produced.len() as u64 + skipped,
        due,
        "every reading produced or skipped"
    );
    // About 8 s of 300 devices at 10 readings/s: everything more than 2 s late when the queue
    // reopened.
    assert!((23_500..=24_500).contains(&skipped), "skipped {skipped}");
    let mut reference = all_devices(&p, 0);
    let mut truth = BTreeMap::new();
    for t in poll_times(0, 12 * SEC) {
        poll_all(&mut reference, t, usize::MAX, |r| {
            truth.insert((r.device_id.to_owned(), r.seq), r.values.to_vec());
            Delivery::Accepted
        });
    }
    for ((device, seq), (at, values)) in &produced {
        let due_ns = schedule.due_ns(device[4..].parse().expect("device index"), *seq);
        assert!(
            at.saturating_sub(due_ns) <= 2 * SEC,
            "{device} seq {seq} produced {} ms late",
            (at - due_ns) / MS
        );
        let expected = &truth[&(device.clone(), *seq)];
        for (v, e) in values.iter().zip(expected) {
            assert!((v - e).abs() < 0.01, "{device} seq {seq}: {v} vs {e}");
        }
    }
}
