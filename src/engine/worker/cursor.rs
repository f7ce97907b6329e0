//! The walk through a worker's slots that is their schedule.
//!
//! The slots are in the order of their positions, hence of their phases. The cursor meets slot
//! `i` of interval `k` at `phase(i) + k·interval`, no later than its reading `first_seq + k`
//! can be due; the reading is then filed by its due time, in the heap if it is due soon, in the
//! wheel otherwise. Everything not yet met is due no earlier than the cursor, so the least of
//! the heap, the wheel's next slot and the cursor is what comes next.

use std::cmp::Reverse;

use super::{DeviceWorker, Pending};

/// Where the walk stands: at slot `pos` of interval `cycle`, met at `at_ns`.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Cursor {
    pub(super) pos: usize,
    pub(super) cycle: u64,
    /// When the cursor meets the device at `pos` (ns after t0); `u64::MAX` with no devices.
    pub(super) at_ns: u64,
    /// The device at `pos` and its phase, found once for both the meeting and the due time.
    device: u32,
    phase_ns: u64,
}

impl DeviceWorker {
    /// Puts the cursor where it meets no reading due before `start_ns` that it could still
    /// miss: one largest jitter before it, at the first slot whose phase is not yet passed.
    pub(super) fn start_cursor_at(&mut self, start_ns: u64) {
        let schedule = *self.generator.schedule();
        let from = start_ns.saturating_sub(schedule.max_jitter_ns() + 1);
        let interval = schedule.interval_ns();
        let within = from % interval;
        // A slot whose phase is before `within` has this interval's reading due before
        // `start_ns` (its jitter is at most the largest), so it is passed.
        let (mut low, mut high) = (0usize, self.filled);
        while low < high {
            let mid = low + (high - low) / 2;
            if schedule.phase_of_position(self.position(mid as u32)) < within {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        self.cursor = Cursor {
            pos: low,
            cycle: from / interval,
            ..Cursor::default()
        };
        self.time_cursor();
    }

    /// Moves past the last device into the next interval, and works out when the cursor meets
    /// the device it now stands at.
    pub(super) fn time_cursor(&mut self) {
        if self.filled == 0 {
            self.cursor.at_ns = u64::MAX;
            return;
        }
        if self.cursor.pos >= self.filled {
            self.cursor.pos = 0;
            self.cursor.cycle += 1;
        }
        let schedule = self.generator.schedule();
        let position = self.position(self.cursor.pos as u32);
        self.cursor.device = self.layout().device_at(position);
        self.cursor.phase_ns = schedule.phase_of_position(position);
        self.cursor.at_ns = self
            .cursor
            .phase_ns
            .saturating_add(self.cursor.cycle.saturating_mul(schedule.interval_ns()));
    }
}

impl DeviceWorker {
    /// Files readings until the heap's least is the earliest reading not yet produced, and
    /// returns it if it is due by `now_ns`.
    pub(super) fn next_due(&mut self, now_ns: u64) -> Option<Pending> {
        loop {
            let least = self.heap.peek().map_or(u64::MAX, |Reverse(p)| p.due_ns);
            let horizon = least.min(now_ns);
            if !self.wheel.is_empty() && self.wheel.next_slot_start_ns() <= horizon {
                self.open_next_slot();
            } else if self.cursor.at_ns <= horizon {
                self.meet_next(0);
            } else {
                return (least <= now_ns).then(|| self.heap.peek().map(|Reverse(p)| *p))?;
            }
        }
    }

    /// When there may next be work: the least of the heap, the wheel's next slot, the cursor.
    pub(super) fn next_wake_ns(&self) -> u64 {
        let least = self.heap.peek().map_or(u64::MAX, |Reverse(p)| p.due_ns);
        let slot = if self.wheel.is_empty() {
            u64::MAX
        } else {
            self.wheel.next_slot_start_ns()
        };
        let next = least.min(slot).min(self.cursor.at_ns);
        if next >= self.end_ns && self.heap.is_empty() && self.wheel.is_empty() {
            return u64::MAX;
        }
        next
    }

    /// Meets every device the cursor reaches before `start_ns`, filing only their readings due
    /// at or after it: a worker built at `start_ns` owns nothing before it. Done once, at
    /// construction, so no floor lingers for devices added later with an earlier start.
    pub(super) fn meet_until(&mut self, start_ns: u64) {
        while self.cursor.at_ns < start_ns {
            self.meet_next(start_ns);
        }
    }

    /// Meets the device at the cursor: files its reading of this interval unless it is due
    /// before `floor_ns` or is otherwise not ours to produce, and moves on.
    fn meet_next(&mut self, floor_ns: u64) {
        let met_ns = self.cursor.at_ns;
        let local = self.cursor.pos;
        let seq = self.plan.first_seq + self.cursor.cycle;
        let device = self.cursor.device;
        let due_ns = self
            .generator
            .schedule()
            .due_with_phase_ns(self.cursor.phase_ns, device, seq);
        let block = self.blocks[local >> self.layout().block_bits()];
        self.cursor.pos += 1;
        self.time_cursor();
        self.handovers.forget_before(met_ns);
        if due_ns >= self.end_ns || due_ns < floor_ns || self.handovers.not_yet_ours(block, due_ns)
        {
            return;
        }
        self.file(
            Pending {
                due_ns,
                local: local as u32,
                seq,
                device,
            },
            met_ns,
        );
    }

    /// Files a reading the cursor has met (at `met_ns`): in the wheel when its slot opens after
    /// the next, in the heap otherwise. `pending.seq` must be the one [`Self::met_seq`] gives.
    pub(super) fn file(&mut self, pending: Pending, met_ns: u64) {
        // An empty wheel's cursor may be far behind; opening its stale slots would be wasted work.
        self.wheel.skip_idle_to(met_ns);
        // Due within the next slot: straight to the heap. Without jitter that is nearly every
        // reading (a bucket spans less than a slot), so the wheel stays out of the hot path.
        let heap_until = self.wheel.next_slot_start_ns() + self.wheel.tick_ns();
        if pending.due_ns >= heap_until {
            self.wheel.insert(pending.local, pending.due_ns);
        } else {
            self.heap.push(Reverse(pending));
        }
    }

    /// The sequence number of the reading of device slot `local` the cursor met last: in this
    /// interval if the cursor has passed it, else in the previous one. A wheel entry is opened
    /// before the cursor meets its device again, so this is the reading the entry stands for.
    pub(super) fn met_seq(&self, local: u32) -> u64 {
        self.next_met_seq(local).saturating_sub(1)
    }

    /// The sequence number of the next reading of device slot `local` the cursor will meet.
    pub(super) fn next_met_seq(&self, local: u32) -> u64 {
        let passed = u64::from((local as usize) < self.cursor.pos);
        self.plan.first_seq + self.cursor.cycle + passed
    }

    fn open_next_slot(&mut self) {
        self.opened.clear();
        self.wheel.open_next_slot(&mut self.opened);
        for i in 0..self.opened.len() {
            let local = self.opened[i];
            let seq = self.met_seq(local);
            let position = self.position(local);
            let device = self.layout().device_at(position);
            let schedule = self.generator.schedule();
            let due_ns =
                schedule.due_with_phase_ns(schedule.phase_of_position(position), device, seq);
            self.heap.push(Reverse(Pending {
                due_ns,
                local,
                seq,
                device,
            }));
        }
    }
}
