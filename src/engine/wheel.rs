//! A hashed timing wheel of device slots: one per producer task, never a timer per device.
//!
//! It holds the readings whose device's phase has passed but whose jitter has not: the jitter
//! window, a fraction of the devices, each a 4-byte entry in the slot of its due time. The
//! wheel spans the largest jitter and more, so a due time never laps the cursor. Slots keep
//! their capacity when drained, so after the first round the wheel allocates nothing.

/// Finest slot width: the granularity of the Tokio timer that wakes the task.
const MIN_TICK_NS: u64 = 1_000_000;
/// Upper bound on slot count, keeping the empty wheel small for hour-long intervals.
const MAX_SLOTS: u64 = 1 << 16;

/// Slots of device entries keyed by due time.
#[derive(Debug)]
pub struct TimerWheel {
    slots: Vec<Vec<u32>>,
    tick_ns: u64,
    /// Absolute index of the next slot to open; every slot before it has been drained.
    cursor: u64,
    len: usize,
}

impl TimerWheel {
    /// A wheel whose due times lie within `span_ns` of the cursor, starting at time `start_ns`.
    pub fn new(span_ns: u64, start_ns: u64) -> Self {
        let tick_ns = (span_ns / MAX_SLOTS).max(MIN_TICK_NS);
        let slots = span_ns / tick_ns + 2;
        Self {
            slots: (0..slots).map(|_| Vec::new()).collect(),
            tick_ns,
            cursor: start_ns / tick_ns,
            len: 0,
        }
    }

    /// Slot width in nanoseconds; drained batches are only ordered to this precision.
    pub fn tick_ns(&self) -> u64 {
        self.tick_ns
    }

    /// Entries in the wheel.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the wheel holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Files `entry` under `due_ns`. A due time before the cursor goes to the next slot to open;
    /// one beyond the span goes to the last slot, and its owner re-files it when drained early.
    pub fn insert(&mut self, entry: u32, due_ns: u64) {
        let n = self.slots.len() as u64;
        let tick = (due_ns / self.tick_ns).clamp(self.cursor, self.cursor + n - 1);
        self.slots[(tick % n) as usize].push(entry);
        self.len += 1;
    }

    /// Start of the next slot to open: when there may next be work.
    pub fn next_slot_start_ns(&self) -> u64 {
        self.cursor * self.tick_ns
    }

    /// Moves the entries of the next slot to open into `out` and opens the one after it.
    pub fn open_next_slot(&mut self, out: &mut Vec<u32>) {
        let n = self.slots.len() as u64;
        let slot = &mut self.slots[(self.cursor % n) as usize];
        self.len -= slot.len();
        out.append(slot);
        self.cursor += 1;
    }

    /// Moves the cursor of an empty wheel past `now_ns`, so that due times after it are filed
    /// where they belong rather than clamped to a stale cursor.
    pub fn skip_idle_to(&mut self, now_ns: u64) {
        if self.len == 0 {
            self.cursor = self.cursor.max(now_ns / self.tick_ns + 1);
        }
    }

    /// Renames every entry by `rename`, dropping those it maps to `None`; each stays in its slot.
    pub fn remap(&mut self, mut rename: impl FnMut(u32) -> Option<u32>) {
        for slot in &mut self.slots {
            slot.retain_mut(|entry| match rename(*entry) {
                Some(new) => {
                    *entry = new;
                    true
                }
                None => false,
            });
        }
        self.len = self.slots.iter().map(Vec::len).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens every slot started by `now`, as the worker does.
    fn open_started(wheel: &mut TimerWheel, now: u64, out: &mut Vec<u32>) {
        while !wheel.is_empty() && wheel.next_slot_start_ns() <= now {
            wheel.open_next_slot(out);
        }
        wheel.skip_idle_to(now);
    }

    #[test]
    fn entries_come_out_once_and_not_before_their_slot_starts() {
        let mut wheel = TimerWheel::new(5_000_000_000, 0);
        for e in 0..1000u32 {
            wheel.insert(e, u64::from(e) * 4_000_000);
        }
        let mut out = Vec::new();
        let mut now = 0;
        let mut seen = vec![false; 1000];
        while !wheel.is_empty() {
            now += 1_000_000;
            out.clear();
            open_started(&mut wheel, now, &mut out);
            for &e in &out {
                assert!(!seen[e as usize]);
                seen[e as usize] = true;
                // Opened no earlier than one tick before due.
                assert!(u64::from(e) * 4_000_000 < now + wheel.tick_ns());
            }
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn an_idle_wheel_files_later_entries_in_their_own_slot() {
        let mut wheel = TimerWheel::new(1_000_000_000, 0);
        let mut out = Vec::new();
        open_started(&mut wheel, 5_000_000_000, &mut out);
        assert!(wheel.next_slot_start_ns() > 5_000_000_000);
        wheel.insert(7, 5_400_000_000);
        open_started(&mut wheel, 5_399_000_000, &mut out);
        assert!(out.is_empty(), "not before its slot");
        open_started(&mut wheel, 5_400_000_000, &mut out);
        assert_eq!(out, vec![7]);
    }

    #[test]
    fn remapping_renames_and_drops_entries_in_place() {
        let mut wheel = TimerWheel::new(1_000_000_000, 0);
        for e in 0..10u32 {
            wheel.insert(e, u64::from(e) * 50_000_000);
        }
        wheel.remap(|e| (e % 2 == 0).then_some(e * 10));
        assert_eq!(wheel.len(), 5);
        let mut out = Vec::new();
        open_started(&mut wheel, 1_000_000_000, &mut out);
        assert_eq!(out, vec![0, 20, 40, 60, 80]);
    }

    #[test]
    fn coarse_ticks_for_long_intervals_keep_the_wheel_small() {
        let wheel = TimerWheel::new(3_600_000_000_000, 0);
        assert!(wheel.slots.len() as u64 <= MAX_SLOTS + 2);
        assert!(wheel.tick_ns() > MIN_TICK_NS);
    }
}
