//! Sharding of the device index space by jump consistent hash (Lamport & Veach, 2014):
//! going from R to R+1 shards moves only the ~1/(R+1) of the devices that the new shard takes.

use super::footprint::devices_per_shard_bound;
use super::rng::mix64;

/// Shard (0-based) that owns `device` when there are `shards` shards; `shards` must be > 0.
#[inline]
pub fn shard_of(device: u32, shards: u32) -> u32 {
    // Mixing first spreads consecutive indices; jump hash's LCG needs well-spread keys.
    jump_consistent_hash(mix64(u64::from(device)), shards)
}

/// Jump consistent hash: the bucket in [0, buckets) of `key`.
pub fn jump_consistent_hash(mut key: u64, buckets: u32) -> u32 {
    assert!(
        buckets > 0,
        "jump consistent hash needs at least one bucket"
    );
    let mut bucket: i64 = -1;
    let mut next: i64 = 0;
    while next < i64::from(buckets) {
        bucket = next;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        next = ((bucket + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    bucket as u32
}

/// The devices of shard `shard` out of `shards`, in ascending index order.
pub fn devices_of_shard(devices: u32, shard: u32, shards: u32) -> Vec<u32> {
    (0..devices)
        .filter(|&d| shard_of(d, shards) == shard)
        .collect()
}

/// The devices of each of `wanted` shards out of `shards`, in one pass over the index space
/// (one hash per device, however many shards are wanted).
pub fn group_by_shard(devices: u32, shards: u32, wanted: &[u32]) -> Vec<Vec<u32>> {
    let mut slot_of_shard = vec![usize::MAX; shards as usize];
    for (slot, &shard) in wanted.iter().enumerate() {
        slot_of_shard[shard as usize] = slot;
    }
    let mut groups: Vec<Vec<u32>> = wanted
        .iter()
        .map(|_| Vec::with_capacity((devices / shards.max(1)) as usize + 64))
        .collect();
    for d in 0..devices {
        let slot = slot_of_shard[shard_of(d, shards) as usize];
        if slot != usize::MAX {
            groups[slot].push(d);
        }
    }
    groups
}

/// The devices of each of `wanted` shards out of `shards`, already split across `tasks`
/// producer tasks: task `t` takes the shard's devices in the `t`-th of `tasks` equal ranges of
/// the index space. The ranges are scanned in parallel (one thread a core), each straight into
/// its task's own lists, so a fleet is built without a second copy of its devices. Capacities
/// are the largest likely share's, so no list is reallocated while it fills (capacity never
/// written to costs no memory).
pub fn group_by_shard_and_task(
    devices: u32,
    shards: u32,
    wanted: &[u32],
    tasks: u32,
) -> Vec<Vec<Vec<u32>>> {
    let tasks = tasks.max(1);
    let mut slot_of_shard = vec![usize::MAX; shards as usize];
    for (slot, &shard) in wanted.iter().enumerate() {
        slot_of_shard[shard as usize] = slot;
    }
    let scan = |task: u32| -> Vec<Vec<u32>> {
        let bound = |t: u32| (u64::from(devices) * u64::from(t) / u64::from(tasks)) as u32;
        let range = bound(task)..bound(task + 1);
        let capacity = devices_per_shard_bound(range.len() as u32, shards) as usize;
        let mut lists: Vec<Vec<u32>> = wanted
            .iter()
            .map(|_| Vec::with_capacity(capacity))
            .collect();
        for d in range {
            // One shard owns everything: no hash needed.
            let shard = if shards == 1 { 0 } else { shard_of(d, shards) };
            let slot = slot_of_shard[shard as usize];
            if slot != usize::MAX {
                lists[slot].push(d);
            }
        }
        lists
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let all: Vec<u32> = (0..tasks).collect();
    let mut by_task: Vec<Vec<Vec<u32>>> = Vec::with_capacity(tasks as usize);
    for batch in all.chunks(threads) {
        std::thread::scope(|scope| {
            let running: Vec<_> = batch
                .iter()
                .map(|&task| scope.spawn(move || scan(task)))
                .collect();
            for handle in running {
                by_task.push(handle.join().expect("a scan does not panic"));
            }
        });
    }
    let mut groups: Vec<Vec<Vec<u32>>> = wanted
        .iter()
        .map(|_| Vec::with_capacity(tasks as usize))
        .collect();
    for lists in by_task {
        for (slot, list) in lists.into_iter().enumerate() {
            groups[slot].push(list);
        }
    }
    groups
}

/// Splits a shard's devices across `workers` producer tasks, round robin, so each gets an even
/// share of every part of the index space.
pub fn split_for_workers(devices: &[u32], workers: u32) -> Vec<Vec<u32>> {
    let workers = workers.max(1) as usize;
    let mut parts: Vec<Vec<u32>> = (0..workers)
        .map(|_| Vec::with_capacity(devices.len() / workers + 1))
        .collect();
    for (i, &d) in devices.iter().enumerate() {
        parts[i % workers].push(d);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_device_is_in_exactly_one_shard(devices in 1u32..5_000, shards in 1u32..40) {
            let mut owners = vec![0u32; devices as usize];
            for shard in 0..shards {
                for d in devices_of_shard(devices, shard, shards) {
                    owners[d as usize] += 1;
                }
            }
            prop_assert!(owners.iter().all(|&n| n == 1));
        }

        /// The bound, R -> R+1 moves <= 1.2·N/(R+1), held strictly. N/(R+1) stays above
        /// ~480 expected moves here, where 20 % is more than 4σ of the binomial noise.
        #[test]
        fn adding_a_shard_moves_at_most_its_fair_share(devices in 20_000u32..100_000, shards in 1u32..40) {
            let mut moved = 0u32;
            for d in 0..devices {
                let (before, after) = (shard_of(d, shards), shard_of(d, shards + 1));
                if before != after {
                    // Jump hash only ever moves devices to the new shard.
                    prop_assert_eq!(after, shards);
                    moved += 1;
                }
            }
            let bound = 1.2 * f64::from(devices) / f64::from(shards + 1);
            prop_assert!(f64::from(moved) <= bound, "moved {} > bound {}", moved, bound);
        }

        #[test]
        fn grouping_agrees_with_per_shard_enumeration(devices in 1u32..3_000, shards in 1u32..12) {
            let wanted: Vec<u32> = (0..shards).rev().collect();
            let groups = group_by_shard(devices, shards, &wanted);
            for (group, &shard) in groups.iter().zip(&wanted) {
                prop_assert_eq!(group, &devices_of_shard(devices, shard, shards));
            }
        }

        #[test]
        fn grouping_by_task_gives_each_task_its_range_of_the_shard(devices in 1u32..3_000, shards in 1u32..12, tasks in 1u32..5) {
            let wanted: Vec<u32> = (0..shards).rev().collect();
            let groups = group_by_shard_and_task(devices, shards, &wanted, tasks);
            for (parts, &shard) in groups.iter().zip(&wanted) {
                prop_assert_eq!(parts.len(), tasks as usize);
                // In order, the tasks' lists are the shard's devices, each once.
                prop_assert_eq!(parts.concat(), devices_of_shard(devices, shard, shards));
                // Each task's devices lie in its own range of the index space.
                for (t, part) in parts.iter().enumerate() {
                    let lo = u64::from(devices) * t as u64 / u64::from(tasks);
                    let hi = u64::from(devices) * (t as u64 + 1) / u64::from(tasks);
                    prop_assert!(part.iter().all(|&d| (lo..hi).contains(&u64::from(d))));
                }
            }
        }

        #[test]
        fn workers_split_a_shard_without_overlap(n in 0usize..2_000, workers in 1u32..9) {
            let devices: Vec<u32> = (0..n as u32).map(|d| d * 3).collect();
            let parts = split_for_workers(&devices, workers);
            let mut all: Vec<u32> = parts.concat();
            all.sort_unstable();
            prop_assert_eq!(all, devices);
        }
    }

    #[test]
    fn large_fleet_moves_at_most_fair_share_for_small_shard_counts() {
        let n = 1_000_000u32;
        for r in 1..8 {
            let moved = (0..n)
                .filter(|&d| shard_of(d, r) != shard_of(d, r + 1))
                .count() as f64;
            assert!(
                moved <= 1.2 * f64::from(n) / f64::from(r + 1),
                "R={r}: moved {moved}"
            );
            assert!(
                moved >= 0.8 * f64::from(n) / f64::from(r + 1),
                "R={r}: moved {moved}"
            );
        }
    }
}
