//! Counter-based randomness: every draw is a pure function of (seed, purpose, device, sequence).
//!
//! We define our own generator rather than seeding `rand`'s `SmallRng` because the streams must be
//! reproducible across processes, restarts and crate upgrades, and `SmallRng` is documented as
//! not portable. SplitMix64 is tiny, passes BigCrush, and seeding it costs one multiply-xorshift.

use std::convert::Infallible;

/// Distinguishes independent random streams derived from the same seed and device.
#[derive(Clone, Copy, Debug)]
#[repr(u64)]
pub enum Stream {
    /// Sensor noise of one reading.
    Reading = 0x5EED_0001,
    /// Whether a reading is anomalous, and the anomalous value.
    Anomaly = 0x5EED_0002,
    /// A device's profile.
    Profile = 0x5EED_0003,
    /// Per-reading schedule jitter.
    Jitter = 0x5EED_0005,
    /// Initial smoothing state when a device's history starts.
    Init = 0x5EED_0006,
    /// Weather knots of the pressure trend.
    Weather = 0x5EED_0007,
}

/// SplitMix64's finaliser: a bijective 64-bit mix with full avalanche.
#[inline]
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hash of (seed, stream, a, b); independent for every distinct input.
#[inline]
pub fn hash(seed: u64, stream: Stream, a: u64, b: u64) -> u64 {
    mix64(mix64(mix64(seed ^ stream as u64).wrapping_add(a)).wrapping_add(b))
}

/// Maps 64 random bits to a uniform `f64` in [0, 1).
#[inline]
pub fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// SplitMix64 generator started from one hash; cheap enough to create per reading.
#[derive(Clone, Debug)]
pub struct CounterRng {
    state: u64,
}

impl CounterRng {
    /// Generator for the given (seed, stream, a, b) coordinates.
    #[inline]
    pub fn new(seed: u64, stream: Stream, a: u64, b: u64) -> Self {
        Self {
            state: hash(seed, stream, a, b),
        }
    }

    /// Next 64 random bits.
    #[inline]
    pub fn next_bits(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.state)
    }

    /// Uniform `f64` in [0, 1).
    #[inline]
    pub fn unit(&mut self) -> f64 {
        unit(self.next_bits())
    }

    /// Uniform integer in [0, n); `n` must be non-zero.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        // Lemire's multiply-shift; the bias is below 2^-32 for the small n used here.
        ((u128::from(self.next_bits()) * u128::from(n)) >> 64) as u64
    }
}

impl rand::TryRng for CounterRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.next_bits() >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.next_bits())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next_bits().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_coordinates_give_same_stream_and_different_ones_differ() {
        let mut a = CounterRng::new(7, Stream::Reading, 1, 2);
        let mut b = CounterRng::new(7, Stream::Reading, 1, 2);
        let mut c = CounterRng::new(7, Stream::Reading, 1, 3);
        let mut d = CounterRng::new(7, Stream::Jitter, 1, 2);
        let xs: Vec<u64> = (0..4).map(|_| a.next_bits()).collect();
        assert_eq!(xs, (0..4).map(|_| b.next_bits()).collect::<Vec<_>>());
        assert_ne!(xs, (0..4).map(|_| c.next_bits()).collect::<Vec<_>>());
        assert_ne!(xs, (0..4).map(|_| d.next_bits()).collect::<Vec<_>>());
    }

    #[test]
    fn as_a_rand_generator_it_yields_the_same_stream() {
        use rand::TryRng;
        let bits: Vec<u64> = {
            let mut r = CounterRng::new(3, Stream::Reading, 4, 5);
            (0..3).map(|_| r.next_bits()).collect()
        };
        let mut r = CounterRng::new(3, Stream::Reading, 4, 5);
        assert_eq!(r.try_next_u64(), Ok(bits[0]));
        assert_eq!(
            r.try_next_u32(),
            Ok((bits[1] >> 32) as u32),
            "the high half"
        );
        // 12 bytes: one whole draw and the first 4 bytes of the next, little-endian.
        let mut bytes = [0u8; 12];
        r.try_fill_bytes(&mut bytes).expect("infallible");
        assert_eq!(&bytes[..8], &bits[2].to_le_bytes());
        let mut again = CounterRng::new(3, Stream::Reading, 4, 5);
        (0..3).for_each(|_| {
            again.next_bits();
        });
        let next = again.next_bits();
        assert_eq!(&bytes[8..], &next.to_le_bytes()[..4]);
    }

    #[test]
    fn unit_is_uniform_within_tolerance() {
        // 10 equal bins over 1M draws: each expects 100,000 with σ ≈ 300; allow 5σ.
        let mut rng = CounterRng::new(42, Stream::Reading, 0, 0);
        let mut bins = [0u32; 10];
        for _ in 0..1_000_000 {
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
            bins[(u * 10.0) as usize] += 1;
        }
        for count in bins {
            assert!((98_500..=101_500).contains(&count), "bin count {count}");
        }
    }
}
