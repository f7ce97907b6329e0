//! How much memory a process needs to run its share of a simulation, from the engine's own
//! data layout: what the operator compares with a worker's memory limit before it starts any.
//! `tests/footprint.rs` measures the real figure and holds this model to it.

use super::layout::block_bits_for;
use super::plan::SimulationPlan;

/// Bytes a device costs whatever its sensors: nothing of its own (its place comes from the
/// layout). Its task's list of blocks is counted by the block, in [`process_bytes`].
const DEVICE_BYTES: u64 = 0;

/// Bytes a block costs its task: its number in the task's list.
const BLOCK_BYTES: u64 = 4;

/// Bytes a device costs per sensor of the largest profile: one `f32` of smoothed state.
const SENSOR_BYTES: u64 = 4;

/// Bytes a wheel entry costs with its slot's growth by doubling (4 to 8, rounded up). Entries
/// are the readings inside their jitter window: a fraction `jitter / 2` of the devices on
/// average (jitter is uniform up to `jitter` of the interval).
const WINDOW_ENTRY_BYTES: f64 = 8.0;

/// A worker process before any device: the runtime, the Kubernetes client, librdkafka's
/// threads and buffers beyond the producer queue, metrics. Measured at 20–30 MiB; rounded up.
pub const PROCESS_BYTES: u64 = 48 << 20;

/// Bytes of state each device of `plan` costs a process that runs it.
pub fn bytes_per_device(plan: &SimulationPlan) -> u64 {
    let window = (WINDOW_ENTRY_BYTES * plan.jitter / 2.0).ceil() as u64;
    DEVICE_BYTES + SENSOR_BYTES * plan.max_sensors() as u64 + window
}

/// The most devices one of `replicas` shards can hold. Jump consistent hashing gives each
/// shard a binomial share of the blocks; this is the mean plus five standard deviations (about
/// one fleet in three million has a shard above it), in whole blocks.
pub fn devices_per_shard_bound(devices: u32, replicas: u32) -> u64 {
    let replicas = replicas.max(1);
    let block = 1u32 << block_bits_for(devices);
    let n = f64::from(devices.div_ceil(block));
    let p = 1.0 / f64::from(replicas);
    let bound = n * p + 5.0 * (n * p * (1.0 - p)).sqrt();
    (bound.ceil() as u64 * u64::from(block)).min(u64::from(devices))
}

/// Memory one worker of `plan` needs: the process, its producer queue when full (`queue`
/// bytes: `kafka.bufferMemory`), and the devices of the largest shard.
pub fn worker_bytes(plan: &SimulationPlan, queue: u64) -> u64 {
    process_bytes(
        plan,
        devices_per_shard_bound(plan.devices, plan.replicas),
        queue,
    )
}

/// The fewest replicas (at most one a device) whose largest shard fits in `limit` bytes, or
/// `None` when even a shard of one device does not fit.
pub fn replicas_for_limit(plan: &SimulationPlan, queue: u64, limit: u64) -> Option<u32> {
    let fits = |replicas: u32| {
        process_bytes(plan, devices_per_shard_bound(plan.devices, replicas), queue) <= limit
    };
    let most = plan.devices.max(1);
    if !fits(most) {
        return None;
    }
    // `fits` is monotone in the replica count: search the smallest that fits.
    let (mut low, mut high) = (1u32, most);
    while low < high {
        let mid = low + (high - low) / 2;
        if fits(mid) {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    Some(low)
}

/// Memory `devices` devices of `plan` need in one process, with a producer queue of `queue`
/// bytes: what `devsim run` weighs against the memory the machine has.
pub fn process_bytes(plan: &SimulationPlan, devices: u64, queue: u64) -> u64 {
    let blocks = devices.div_ceil(1 << block_bits_for(plan.devices));
    PROCESS_BYTES + queue + devices * bytes_per_device(plan) + blocks * BLOCK_BYTES
}

/// Bytes as people read them: whole MiB below a GiB, GiB with two decimals above.
pub fn format_bytes(bytes: u64) -> String {
    const MIB: f64 = (1u64 << 20) as f64;
    const GIB: f64 = (1u64 << 30) as f64;
    let b = bytes as f64;
    if b >= GIB {
        format!("{:.2} GiB", b / GIB)
    } else {
        format!("{:.0} MiB", (b / MIB).ceil())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_bound_holds_for_jump_hash_shares() {
        // Count each shard's devices for real and compare with the bound.
        for (devices, replicas) in [(1_000_000u32, 7u32), (10_000_000, 10), (50_000, 1)] {
            let layout = super::super::layout::Layout::new(5, devices);
            let mut counts = vec![0u64; replicas as usize];
            for d in 0..devices {
                counts[super::super::shard::shard_of(&layout, d, replicas) as usize] += 1;
            }
            let largest = *counts.iter().max().expect("shards");
            let bound = devices_per_shard_bound(devices, replicas);
            assert!(
                largest <= bound,
                "{devices}/{replicas}: {largest} > {bound}"
            );
            // Tight: within 2 % of the mean plus a few standard deviations of whole blocks.
            let mean = f64::from(devices) / f64::from(replicas);
            let block = f64::from(1u32 << block_bits_for(devices));
            assert!(
                (bound as f64)
                    <= f64::from(devices).min(mean * 1.02 + 6.0 * (mean * block).sqrt() + block),
                "{devices}/{replicas}: bound {bound} is loose"
            );
        }
    }
}
