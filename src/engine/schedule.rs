//! When each reading is due: `phase(device) + seq·interval + jitter(device, seq)` nanoseconds
//! after the simulation's start `t0`. A pure function of seed, device and sequence number, so any
//! process that owns a device at a given moment emits the same sequence number for it, and a
//! restart or rescale continues the sequence instead of starting it over.

use std::time::Duration;

use super::rng::{Stream, hash, unit};

/// Due times of every device's readings, relative to the simulation's start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    seed: u64,
    interval_ns: u64,
    /// Largest jitter in nanoseconds; below half an interval, so readings never reorder.
    max_jitter_ns: f64,
}

impl Schedule {
    /// A schedule with the given interval and jitter fraction (0 to 0.5).
    pub fn new(seed: u64, interval: Duration, jitter: f64) -> Self {
        let interval_ns = u64::try_from(interval.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        Self {
            seed,
            interval_ns,
            max_jitter_ns: jitter.clamp(0.0, 0.5) * interval_ns as f64,
        }
    }

    /// The interval in nanoseconds.
    pub fn interval_ns(&self) -> u64 {
        self.interval_ns
    }

    /// Offset of `device`'s readings within each interval, spreading devices evenly over it.
    #[inline]
    pub fn phase_ns(&self, device: u32) -> u64 {
        let u = unit(hash(self.seed, Stream::Phase, u64::from(device), 0));
        (u * self.interval_ns as f64) as u64
    }

    /// Nanoseconds after `t0` at which reading `seq` of `device` is due.
    #[inline]
    pub fn due_ns(&self, device: u32, seq: u64) -> u64 {
        let jitter = if self.max_jitter_ns > 0.0 {
            (unit(hash(self.seed, Stream::Jitter, u64::from(device), seq)) * self.max_jitter_ns)
                as u64
        } else {
            0
        };
        self.phase_ns(device) + seq.saturating_mul(self.interval_ns) + jitter
    }

    /// The first sequence number of `device` due at or after `t_ns`: where a process that takes
    /// the device over at `t_ns` starts.
    pub fn first_seq_at_or_after(&self, device: u32, t_ns: u64) -> u64 {
        let phase = self.phase_ns(device);
        let mut seq = t_ns.saturating_sub(phase) / self.interval_ns;
        while seq > 0 && self.due_ns(device, seq - 1) >= t_ns {
            seq -= 1;
        }
        while self.due_ns(device, seq) < t_ns {
            seq += 1;
        }
        seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn due_times_increase_with_seq(seed: u64, device: u32, seq in 0u64..1_000_000, jitter in 0.0f64..=0.5) {
            let s = Schedule::new(seed, Duration::from_millis(250), jitter);
            prop_assert!(s.due_ns(device, seq) < s.due_ns(device, seq + 1));
        }

        #[test]
        fn takeover_starts_at_the_first_reading_not_yet_due(seed: u64, device: u32, t in 0u64..10_000_000_000_000, jitter in 0.0f64..=0.5) {
            let s = Schedule::new(seed, Duration::from_secs(5), jitter);
            let seq = s.first_seq_at_or_after(device, t);
            prop_assert!(s.due_ns(device, seq) >= t);
            if seq > 0 {
                prop_assert!(s.due_ns(device, seq - 1) < t);
            }
        }
    }

    #[test]
    fn phases_spread_devices_evenly_over_the_interval() {
        let s = Schedule::new(3, Duration::from_secs(1), 0.0);
        let mut bins = [0u32; 10];
        for d in 0..100_000 {
            bins[(s.phase_ns(d) / 100_000_000) as usize] += 1;
        }
        assert!(
            bins.iter().all(|&b| (9_500..=10_500).contains(&b)),
            "{bins:?}"
        );
    }
}
