//! Sharding of the simulation's blocks (see [`super::layout`]) by jump consistent hash
//! (Lamport & Veach, 2014): going from R to R+1 shards moves only the ~1/(R+1) of the blocks
//! that the new shard takes.

use super::layout::Layout;
use super::rng::mix64;

/// Shard (0-based) that owns `block` when there are `shards` shards; `shards` must be > 0.
#[inline]
pub fn shard_of_block(block: u32, shards: u32) -> u32 {
    // Mixing first spreads consecutive blocks; jump hash's LCG needs well-spread keys.
    jump_consistent_hash(mix64(u64::from(block)), shards)
}

/// Shard that owns `device` of `layout` when there are `shards` shards.
#[inline]
pub fn shard_of(layout: &Layout, device: u32, shards: u32) -> u32 {
    shard_of_block(layout.block_of(device), shards)
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

/// The blocks of shard `shard` out of `shards`, in ascending order.
pub fn blocks_of_shard(blocks: u32, shard: u32, shards: u32) -> Vec<u32> {
    (0..blocks)
        .filter(|&b| shard_of_block(b, shards) == shard)
        .collect()
}

/// The blocks of each of `wanted` shards out of `shards`, in one pass over the blocks (one
/// hash a block, however many shards are wanted; none when one shard owns everything).
pub fn group_by_shard(blocks: u32, shards: u32, wanted: &[u32]) -> Vec<Vec<u32>> {
    let mut slot_of_shard = vec![usize::MAX; shards as usize];
    for (slot, &shard) in wanted.iter().enumerate() {
        slot_of_shard[shard as usize] = slot;
    }
    let mut groups: Vec<Vec<u32>> = wanted
        .iter()
        .map(|_| Vec::with_capacity((blocks / shards.max(1)) as usize + 64))
        .collect();
    for b in 0..blocks {
        let shard = if shards == 1 {
            0
        } else {
            shard_of_block(b, shards)
        };
        let slot = slot_of_shard[shard as usize];
        if slot != usize::MAX {
            groups[slot].push(b);
        }
    }
    groups
}

/// The blocks of each of `wanted` shards out of `shards`, split across `tasks` producer tasks
/// of each (see [`split_for_workers`]).
pub fn group_by_shard_and_task(
    blocks: u32,
    shards: u32,
    wanted: &[u32],
    tasks: u32,
) -> Vec<Vec<Vec<u32>>> {
    group_by_shard(blocks, shards, wanted)
        .into_iter()
        .map(|blocks| split_for_workers(&blocks, tasks))
        .collect()
}

/// Splits a shard's blocks across `workers` producer tasks, round robin, so each gets an even
/// share of every part of the interval.
pub fn split_for_workers(blocks: &[u32], workers: u32) -> Vec<Vec<u32>> {
    let workers = workers.max(1) as usize;
    let mut parts: Vec<Vec<u32>> = (0..workers)
        .map(|_| Vec::with_capacity(blocks.len() / workers + 1))
        .collect();
    for (i, &b) in blocks.iter().enumerate() {
        parts[i % workers].push(b);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The devices of shard `shard` out of `shards`, in ascending index order.
    pub fn devices_of_shard(layout: &Layout, shard: u32, shards: u32) -> Vec<u32> {
        let mut devices: Vec<u32> = blocks_of_shard(layout.blocks(), shard, shards)
            .into_iter()
            .flat_map(|b| {
                let start = b * layout.block_size();
                (start..start + layout.block_len(b)).map(|p| layout.device_at(p))
            })
            .collect();
        devices.sort_unstable();
        devices
    }

    proptest! {
        #[test]
        fn every_device_is_in_exactly_one_shard(devices in 1u32..5_000, shards in 1u32..40) {
            let layout = Layout::new(9, devices);
            let mut owners = vec![0u32; devices as usize];
            for shard in 0..shards {
                for d in devices_of_shard(&layout, shard, shards) {
                    owners[d as usize] += 1;
                    prop_assert_eq!(shard_of(&layout, d, shards), shard);
                }
            }
            prop_assert!(owners.iter().all(|&n| n == 1));
        }

        /// The bound R -> R+1 moves <= 1.2·B/(R+1) of B blocks, held strictly. B/(R+1) stays
        /// above ~480 expected moves here, where 20 % is more than 4σ of the binomial noise.
        #[test]
        fn adding_a_shard_moves_at_most_its_fair_share(blocks in 20_000u32..100_000, shards in 1u32..40) {
            let mut moved = 0u32;
            for b in 0..blocks {
                let (before, after) = (shard_of_block(b, shards), shard_of_block(b, shards + 1));
                if before != after {
                    // Jump hash only ever moves blocks to the new shard.
                    prop_assert_eq!(after, shards);
                    moved += 1;
                }
            }
            let bound = 1.2 * f64::from(blocks) / f64::from(shards + 1);
            prop_assert!(f64::from(moved) <= bound, "moved {} > bound {}", moved, bound);
        }

        #[test]
        fn grouping_agrees_with_per_shard_enumeration(blocks in 1u32..3_000, shards in 1u32..12) {
            let wanted: Vec<u32> = (0..shards).rev().collect();
            let groups = group_by_shard(blocks, shards, &wanted);
            for (group, &shard) in groups.iter().zip(&wanted) {
                prop_assert_eq!(group, &blocks_of_shard(blocks, shard, shards));
            }
        }

        #[test]
        fn grouping_by_task_splits_each_shard_without_overlap(blocks in 1u32..3_000, shards in 1u32..12, tasks in 1u32..5) {
            let wanted: Vec<u32> = (0..shards).rev().collect();
            let groups = group_by_shard_and_task(blocks, shards, &wanted, tasks);
            for (parts, &shard) in groups.iter().zip(&wanted) {
                prop_assert_eq!(parts.len(), tasks as usize);
                let mut all = parts.concat();
                all.sort_unstable();
                prop_assert_eq!(all, blocks_of_shard(blocks, shard, shards));
                // Round robin: no task holds more than one block over another.
                let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
                prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
            }
        }

        #[test]
        fn workers_split_a_shard_without_overlap(n in 0usize..2_000, workers in 1u32..9) {
            let blocks: Vec<u32> = (0..n as u32).map(|b| b * 3).collect();
            let parts = split_for_workers(&blocks, workers);
            let mut all: Vec<u32> = parts.concat();
            all.sort_unstable();
            prop_assert_eq!(all, blocks);
        }
    }

    /// A small fleet is spread over every replica, not kept whole in one block: with 200
    /// devices each of 2 to 5 shards holds 200/R ± 50 % (the binomial spread is under 20 % of
    /// the mean: this is over 2.5 standard deviations, for these fixed seeds).
    #[test]
    fn every_replica_of_a_small_fleet_gets_its_share() {
        for seed in [1u64, 2, 3] {
            let layout = Layout::new(seed, 200);
            for shards in 2..=5u32 {
                let fair = 200.0 / f64::from(shards);
                for shard in 0..shards {
                    let n = devices_of_shard(&layout, shard, shards).len() as f64;
                    assert!(
                        (0.5 * fair..=1.5 * fair).contains(&n),
                        "seed {seed}: shard {shard} of {shards} holds {n} of 200"
                    );
                }
            }
        }
    }

    #[test]
    fn a_large_fleet_moves_about_its_fair_share_for_small_shard_counts() {
        let blocks = 1_000_000u32;
        for r in 1..8 {
            let moved = (0..blocks)
                .filter(|&b| shard_of_block(b, r) != shard_of_block(b, r + 1))
                .count() as f64;
            let fair = f64::from(blocks) / f64::from(r + 1);
            assert!(
                (0.8 * fair..=1.2 * fair).contains(&moved),
                "R={r}: moved {moved}"
            );
        }
    }
}
