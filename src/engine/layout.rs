//! Where each device stands in the interval, and which shard owns it, without a list of either.
//!
//! A keyed permutation of the device indices gives every device a *position*: positions run
//! from 0 to `devices - 1` and space the devices' phases evenly over the interval, in position
//! order. Positions are grouped in blocks (of 1 to 256 positions, by the device count: see
//! [`block_bits_for`]); a shard owns whole blocks (jump
//! consistent hash of the block number), so a producer task's devices are its list of blocks,
//! and walking their positions in order is walking its devices in order of phase. Nothing per
//! device is stored to know either, which is what lets a process hold 100 M devices and start
//! a billion-device simulation's shard in well under a second.
//!
//! The permutation is a four-round balanced Feistel network over the smallest even power of two
//! that holds every index, walked in cycles until it lands inside the index space (Black &
//! Rogaway's cycle walking: fewer than four steps on average, as the domain is below four times
//! the devices).

use super::rng::mix64;

/// log2 of the most positions a block holds: 256, so that listing a billion-device
/// simulation's blocks (4 M of them) takes a fraction of a second.
pub const MAX_BLOCK_BITS: u32 = 8;

/// log2 of the fewest blocks a simulation is cut into (unless it has fewer devices): 65,536,
/// so that jump hashing deals every shard an even share of the devices (with 100 replicas, a
/// shard's share is within 4 % of the mean at one standard deviation) however small the fleet.
const MIN_BLOCKS_BITS: u32 = 16;

/// log2 of the positions a block of a `devices`-device simulation holds: one position per
/// block up to 131,071 devices, doubling with the device count up to 256 from 16.8 M devices.
/// A function of the device count alone, which every epoch records, so every process of a
/// simulation cuts it the same way.
pub fn block_bits_for(devices: u32) -> u32 {
    let floor_log2 = 31 - devices.max(1).leading_zeros();
    floor_log2
        .saturating_sub(MIN_BLOCKS_BITS)
        .min(MAX_BLOCK_BITS)
}

const ROUNDS: usize = 4;

/// The permutation of a simulation's device indices, and its blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    devices: u32,
    /// log2 of the positions a block holds ([`block_bits_for`]).
    block_bits: u32,
    /// Bits of each half of the Feistel network's domain.
    half_bits: u32,
    keys: [u64; ROUNDS],
}

impl Layout {
    /// The layout of `devices` devices under `seed`.
    pub fn new(seed: u64, devices: u32) -> Self {
        let bits = 32 - devices.saturating_sub(1).leading_zeros();
        let half_bits = bits.div_ceil(2).max(1);
        let mut keys = [0u64; ROUNDS];
        for (round, key) in keys.iter_mut().enumerate() {
            *key = mix64(seed ^ mix64(0x4C41_594F_5554_0000 + round as u64));
        }
        Self {
            devices,
            block_bits: block_bits_for(devices),
            half_bits,
            keys,
        }
    }

    /// The same permutation cut into blocks of `2^bits` positions (at most 256) instead of the
    /// device count's own ([`block_bits_for`]): tests walk many-device blocks with few devices.
    pub fn with_block_bits(self, bits: u32) -> Self {
        Self {
            block_bits: bits.min(MAX_BLOCK_BITS),
            ..self
        }
    }

    /// Number of devices (and of positions).
    pub fn devices(&self) -> u32 {
        self.devices
    }

    /// log2 of the positions a block holds.
    #[inline]
    pub fn block_bits(&self) -> u32 {
        self.block_bits
    }

    /// Positions a block holds (the last block may hold fewer devices).
    #[inline]
    pub fn block_size(&self) -> u32 {
        1 << self.block_bits
    }

    /// Number of blocks; the last may be partly empty.
    pub fn blocks(&self) -> u32 {
        self.devices.div_ceil(self.block_size())
    }

    /// Devices in `block` (fewer than [`Self::block_size`] only in the last).
    pub fn block_len(&self, block: u32) -> u32 {
        let start = block.saturating_mul(self.block_size());
        self.devices.saturating_sub(start).min(self.block_size())
    }

    /// The position of `device` (below [`Self::devices`]).
    #[inline]
    pub fn position(&self, device: u32) -> u32 {
        debug_assert!(device < self.devices, "device {device} of {}", self.devices);
        let mut x = device;
        loop {
            x = self.encrypt(x);
            if x < self.devices {
                return x;
            }
        }
    }

    /// The device at `position` (below [`Self::devices`]): the inverse of [`Self::position`].
    #[inline]
    pub fn device_at(&self, position: u32) -> u32 {
        debug_assert!(
            position < self.devices,
            "position {position} of {}",
            self.devices
        );
        let mut x = position;
        loop {
            x = self.decrypt(x);
            if x < self.devices {
                return x;
            }
        }
    }

    /// The block `device` belongs to.
    #[inline]
    pub fn block_of(&self, device: u32) -> u32 {
        self.position(device) >> self.block_bits
    }

    #[inline]
    fn round(&self, round: usize, half: u32) -> u32 {
        let mask = (1u64 << self.half_bits) - 1;
        (mix64(u64::from(half) ^ self.keys[round]) & mask) as u32
    }

    #[inline]
    fn encrypt(&self, x: u32) -> u32 {
        let mask = (1u32 << self.half_bits) - 1;
        let (mut left, mut right) = (x >> self.half_bits, x & mask);
        for round in 0..ROUNDS {
            (left, right) = (right, left ^ self.round(round, right));
        }
        (left << self.half_bits) | right
    }

    #[inline]
    fn decrypt(&self, x: u32) -> u32 {
        let mask = (1u32 << self.half_bits) - 1;
        let (mut left, mut right) = (x >> self.half_bits, x & mask);
        for round in (0..ROUNDS).rev() {
            (left, right) = (right ^ self.round(round, left), left);
        }
        (left << self.half_bits) | right
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn positions_are_a_permutation_of_the_indices() {
        for devices in [1u32, 2, 3, 5, 255, 256, 257, 1000, 4096, 70_001] {
            let layout = Layout::new(42, devices);
            let mut seen = vec![false; devices as usize];
            for d in 0..devices {
                let p = layout.position(d);
                assert!(p < devices, "{devices} devices: position {p} of {d}");
                assert!(!seen[p as usize], "{devices} devices: position {p} twice");
                seen[p as usize] = true;
                assert_eq!(layout.device_at(p), d);
            }
        }
    }

    #[test]
    fn the_largest_fleet_maps_its_edges_inside_the_index_space() {
        let layout = Layout::new(7, 1_000_000_000);
        for d in [0, 1, 999_999_998, 999_999_999] {
            let p = layout.position(d);
            assert!(p < 1_000_000_000);
            assert_eq!(layout.device_at(p), d);
        }
        assert_eq!(layout.blocks(), 3_906_250);
        assert_eq!(layout.block_len(3_906_249), 256);
    }

    #[test]
    fn the_last_block_holds_the_remainder() {
        let layout = Layout::new(1, 20_000_000);
        assert_eq!(layout.block_size(), 256);
        assert_eq!(layout.blocks(), 78_125);
        let layout = Layout::new(1, 20_000_100);
        assert_eq!(layout.blocks(), 78_126);
        assert_eq!(layout.block_len(78_125), 100);
        assert_eq!(layout.block_len(78_126), 0);
    }

    /// Small fleets are cut into blocks of one device, so that every replica of a 200-device
    /// simulation gets its share; blocks grow with the fleet, keeping at least 65,536 of them,
    /// up to 256 positions.
    #[test]
    fn blocks_are_small_for_small_fleets_and_never_fewer_than_65536_for_large() {
        let sizes = [
            (1u32, 1u32),
            (200, 1),
            (131_071, 1),
            (131_072, 2),
            (1_000_000, 8),
            (16_777_215, 128),
            (16_777_216, 256),
            (1_000_000_000, 256),
        ];
        for (devices, size) in sizes {
            let layout = Layout::new(0, devices);
            assert_eq!(layout.block_size(), size, "{devices} devices");
            assert!(
                layout.blocks() >= devices.min(65_536),
                "{devices} devices: {} blocks",
                layout.blocks()
            );
        }
    }

    /// Consecutive indices must not keep neighbouring positions, or a shard's blocks would hold
    /// runs of consecutive device IDs. Over 10,000 devices, the positions of devices d and d+1
    /// should differ by about a third of the range on average (|U1 - U2| has mean 1/3); the
    /// tolerance is ±0.02, about ten standard errors.
    #[test]
    fn neighbouring_indices_land_far_apart() {
        let devices = 10_000u32;
        let layout = Layout::new(3, devices);
        let mean = (0..devices - 1)
            .map(|d| f64::from(layout.position(d).abs_diff(layout.position(d + 1))))
            .sum::<f64>()
            / f64::from(devices - 1)
            / f64::from(devices);
        assert!((mean - 1.0 / 3.0).abs() < 0.02, "mean distance {mean}");
    }

    proptest! {
        #[test]
        fn device_at_inverts_position(seed: u64, devices in 1u32..=1_000_000_000, pick: u32) {
            let layout = Layout::new(seed, devices);
            let d = pick % devices;
            prop_assert_eq!(layout.device_at(layout.position(d)), d);
        }

        #[test]
        fn different_seeds_give_different_orders(seed: u64) {
            let a = Layout::new(seed, 1000);
            let b = Layout::new(seed.wrapping_add(1), 1000);
            prop_assert!((0..1000).any(|d| a.position(d) != b.position(d)));
        }
    }
}
