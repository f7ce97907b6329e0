//! A hashed timing wheel of device slots: one per producer task, never a timer per device.
//!
//! Every device sits in exactly one slot, the one of its next due time, as a 4-byte entry. The
//! wheel spans more than one interval plus jitter, so a due time never laps the cursor. Slots keep
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

    /// Moves the entries of every slot that has started by `now_ns` into `out`, in slot order.
    pub fn drain_started(&mut self, now_ns: u64, out: &mut Vec<u32>) {
        let n = self.slots.len() as u64;
        // Skipping empty rounds keeps a long sleep from walking every slot.
        let last = now_ns / self.tick_ns;
        if self.len == 0 && last >= self.cursor {
            self.cursor = last + 1;
            return;
        }
        while self.cursor <= last && self.len > 0 {
            let slot = &mut self.slots[(self.cursor % n) as usize];
            self.len -= slot.len();
            out.append(slot);
            self.cursor += 1;
        }
        if self.len == 0 && last >= self.cursor {
            self.cursor = last + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            wheel.drain_started(now, &mut out);
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
    fn overdue_entries_come_out_at_the_next_drain() {
        let mut wheel = TimerWheel::new(1_000_000_000, 0);
        let mut out = Vec::new();
        wheel.drain_started(500_000_000, &mut out);
        wheel.insert(7, 100);
        wheel.drain_started(500_000_000, &mut out);
        assert!(out.is_empty(), "the cursor slot opens once now reaches it");
        wheel.drain_started(501_000_000, &mut out);
        assert_eq!(out, vec![7]);
    }

    #[test]
    fn coarse_ticks_for_long_intervals_keep_the_wheel_small() {
        let wheel = TimerWheel::new(3_600_000_000_000, 0);
        assert!(wheel.slots.len() as u64 <= MAX_SLOTS + 2);
        assert!(wheel.tick_ns() > MIN_TICK_NS);
    }
}
