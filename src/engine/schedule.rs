//! When each reading is due: `phase(device) + (seq - first_seq)·interval + jitter(device, seq)`
//! nanoseconds after the start `t0` of the current schedule epoch (`first_seq` is 0 until the
//! interval or the device count is edited; an edit starts a new epoch whose sequence numbers
//! follow the old ones). The phase spaces the devices evenly over the interval in the order of
//! their positions (see [`Layout`]). A pure function of seed, device count, device and
//! sequence number, so any process that owns a device at a given moment emits the same sequence
//! number for it, and a restart or rescale continues the sequence instead of starting it over.

use std::time::Duration;

use super::layout::Layout;
use super::rng::{Stream, hash, unit};

/// Due times of every device's readings, relative to the simulation's start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    seed: u64,
    layout: Layout,
    interval_ns: u64,
    /// Largest jitter in nanoseconds; below half an interval, so readings never reorder.
    max_jitter_ns: f64,
    /// Sequence number of each device's first reading of this epoch.
    first_seq: u64,
}

impl Schedule {
    /// A schedule of `devices` devices with the given interval and jitter fraction (0 to 0.5),
    /// whose readings are numbered from `first_seq`.
    pub fn new(seed: u64, devices: u32, interval: Duration, jitter: f64, first_seq: u64) -> Self {
        let interval_ns = u64::try_from(interval.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        Self {
            seed,
            layout: Layout::new(seed, devices),
            interval_ns,
            max_jitter_ns: jitter.clamp(0.0, 0.5) * interval_ns as f64,
            first_seq,
        }
    }

    /// The same schedule with `layout`, which must place the same devices (as
    /// [`Layout::with_block_bits`] does): only its blocks differ.
    pub fn with_layout(self, layout: Layout) -> Self {
        debug_assert_eq!(layout.devices(), self.layout.devices());
        Self { layout, ..self }
    }

    /// The interval in nanoseconds.
    pub fn interval_ns(&self) -> u64 {
        self.interval_ns
    }

    /// The largest jitter a reading can get, in whole nanoseconds (rounded up).
    pub fn max_jitter_ns(&self) -> u64 {
        self.max_jitter_ns.ceil() as u64
    }

    /// The devices' positions and blocks.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Offset within each interval of the readings of the device at `position`: positions
    /// share the interval evenly, in order.
    #[inline]
    pub fn phase_of_position(&self, position: u32) -> u64 {
        let devices = u128::from(self.layout.devices().max(1));
        (u128::from(position) * u128::from(self.interval_ns) / devices) as u64
    }

    /// Offset of `device`'s readings within each interval.
    #[inline]
    pub fn phase_ns(&self, device: u32) -> u64 {
        self.phase_of_position(self.layout.position(device))
    }

    /// Nanoseconds after `t0` at which reading `seq` of `device` is due.
    #[inline]
    pub fn due_ns(&self, device: u32, seq: u64) -> u64 {
        self.due_with_phase_ns(self.phase_ns(device), device, seq)
    }

    /// [`Self::due_ns`] for a caller that has `device`'s phase at hand already.
    #[inline]
    pub fn due_with_phase_ns(&self, phase_ns: u64, device: u32, seq: u64) -> u64 {
        let jitter = if self.max_jitter_ns > 0.0 {
            (unit(hash(self.seed, Stream::Jitter, u64::from(device), seq)) * self.max_jitter_ns)
                as u64
        } else {
            0
        };
        phase_ns
            + seq
                .saturating_sub(self.first_seq)
                .saturating_mul(self.interval_ns)
            + jitter
    }

    /// The first sequence number of `device` due at or after `t_ns`: where a process that takes
    /// the device over at `t_ns` starts.
    pub fn first_seq_at_or_after(&self, device: u32, t_ns: u64) -> u64 {
        self.first_seq_at_or_after_with_phase(self.phase_ns(device), device, t_ns)
    }

    /// [`Self::first_seq_at_or_after`] for a caller that has `device`'s phase at hand already.
    pub fn first_seq_at_or_after_with_phase(&self, phase: u64, device: u32, t_ns: u64) -> u64 {
        let mut seq = self.first_seq + t_ns.saturating_sub(phase) / self.interval_ns;
        while seq > self.first_seq && self.due_with_phase_ns(phase, device, seq - 1) >= t_ns {
            seq -= 1;
        }
        while self.due_with_phase_ns(phase, device, seq) < t_ns {
            seq += 1;
        }
        seq
    }
}

/// First sequence number of a new epoch that starts `elapsed` after the old one began: one past
/// the highest sequence number the old epoch can have produced by then, whatever the phase and
/// jitter. So an interval edit never makes a (device, seq) repeat.
pub fn next_epoch_first_seq(old_first_seq: u64, old_interval: Duration, elapsed: Duration) -> u64 {
    let readings = elapsed.as_nanos().div_ceil(old_interval.as_nanos().max(1));
    old_first_seq + u64::try_from(readings).unwrap_or(u64::MAX / 2) + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn due_times_increase_with_seq(seed: u64, device in 0u32..1000, seq in 0u64..1_000_000, jitter in 0.0f64..=0.5) {
            let s = Schedule::new(seed, 1000, Duration::from_millis(250), jitter, 0);
            prop_assert!(s.due_ns(device, seq) < s.due_ns(device, seq + 1));
        }

        #[test]
        fn takeover_starts_at_the_first_reading_not_yet_due(seed: u64, device in 0u32..1000, t in 0u64..10_000_000_000_000, jitter in 0.0f64..=0.5) {
            let s = Schedule::new(seed, 1000, Duration::from_secs(5), jitter, 0);
            let seq = s.first_seq_at_or_after(device, t);
            prop_assert!(s.due_ns(device, seq) >= t);
            if seq > 0 {
                prop_assert!(s.due_ns(device, seq - 1) < t);
            }
        }

        #[test]
        fn a_later_epoch_numbers_readings_from_its_first_seq(seed: u64, device in 0u32..1000, first in 0u64..1_000_000, t in 0u64..10_000_000_000_000) {
            let s = Schedule::new(seed, 1000, Duration::from_secs(2), 0.3, first);
            let seq = s.first_seq_at_or_after(device, t);
            prop_assert!(seq >= first);
            prop_assert!(s.due_ns(device, seq) >= t);
            if seq > first {
                prop_assert!(s.due_ns(device, seq - 1) < t);
            }
        }
    }

    proptest! {
        #[test]
        fn a_new_epoch_numbers_after_everything_the_old_one_produced(
            seed: u64, device in 0u32..1000, old_ms in 10u64..10_000, new_ms in 10u64..10_000,
            elapsed_ms in 0u64..1_000_000, old_first in 0u64..1_000,
        ) {
            let old = Schedule::new(seed, 1000, Duration::from_millis(old_ms), 0.5, old_first);
            let elapsed = Duration::from_millis(elapsed_ms);
            let first = next_epoch_first_seq(old_first, Duration::from_millis(old_ms), elapsed);
            // The last reading of the old epoch due before the switch...
            let last_old = old.first_seq_at_or_after(device, elapsed_ms * 1_000_000).saturating_sub(1);
            // ...is numbered below every reading of the new epoch.
            let new = Schedule::new(seed, 1000, Duration::from_millis(new_ms), 0.5, first);
            prop_assert!(last_old < first);
            prop_assert!(new.first_seq_at_or_after(device, 0) >= first);
        }
    }

    #[test]
    fn phases_spread_devices_evenly_over_the_interval() {
        // Positions share the interval exactly: every tenth of it holds a tenth of the devices.
        let s = Schedule::new(3, 100_000, Duration::from_secs(1), 0.0, 0);
        let mut bins = [0u32; 10];
        for d in 0..100_000 {
            bins[(s.phase_ns(d) / 100_000_000) as usize] += 1;
        }
        assert_eq!(bins, [10_000; 10]);
    }
}
