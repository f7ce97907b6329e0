//! One producer task's share of a shard: its devices, their state, and the walk that is their
//! schedule.
//!
//! Pure and synchronous: the caller passes the time and a function that hands a reading to the
//! sink, so the same code runs under Tokio, in tests with a fake clock, and in benchmarks.
//!
//! A task owns whole blocks of positions (see [`crate::engine::layout`]), and per device it keeps
//! one `f32` of smoothed state per sensor, nothing else. Its devices are the positions of its
//! blocks, which are in the order of their phases, so a cursor walking them interval after
//! interval meets each device just before its next reading's jitter window opens; the sequence
//! number is the cursor's interval count. Only readings inside their jitter window (a wheel
//! entry of 4 bytes) or due and waiting (a small heap) take space of their own.
//!
//! A device's *slot* is its place in the task: slot `s` is offset `s % B` of the task's
//! `s / B`-th block, `B` the simulation's block size. Slots past the end of the simulation's last, partly empty block hold
//! no device.

mod cursor;
mod membership;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use hdrhistogram::Histogram;

use super::device::write_device_id;
use super::layout::Layout;
use super::plan::{MAX_SENSORS, Overflow, SimulationPlan};
use super::reading::{Reading, ReadingGenerator};
use super::wheel::TimerWheel;

/// What the sink did with a reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Handed to the producer.
    Accepted,
    /// The producer's queue is full; try again later.
    QueueFull,
    /// The producer refused this message for good (too large, unknown topic, ...).
    Rejected,
}

/// Why [`DeviceWorker::poll`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollOutcome {
    /// Nothing is due before this time (nanoseconds after `t0`; `u64::MAX`: nothing scheduled).
    IdleUntil(u64),
    /// The message budget was used up; more readings are due now.
    BudgetSpent,
    /// The queue is full under the `block` policy; retry once it drains.
    Blocked,
}

/// Running counts of one worker. Plain integers: only the owning task writes them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerCounts {
    /// Readings handed to the sink.
    pub sent: u64,
    /// Readings dropped under the `drop` policy.
    pub dropped: u64,
    /// Readings the producer refused outright.
    pub rejected: u64,
    /// Readings passed over because they fell more than `maxLag` behind schedule.
    pub skipped: u64,
}

/// A reading taken out of the schedule and not yet produced. Ordered by due time, then device
/// slot, so readings leave in exactly the order they are due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    due_ns: u64,
    local: u32,
    seq: u64,
    device: u32,
}

/// The first state value of a device is stored xor these bits, so that zeroed memory reads as
/// NaN: the mark of a device whose smoothed state must be rebuilt before its next reading. No
/// real state is NaN; fresh state then costs no writes (the allocator hands out zeroed pages
/// lazily), and rebuilding lazily spreads the warm-up over the first interval.
const COLD_BITS: u32 = 0x7FC0_0000;

/// A first state value as stored from as used, or back: the xor with [`COLD_BITS`] is its own
/// inverse.
#[inline]
fn toggle_cold_mark(value: f32) -> f32 {
    f32::from_bits(value.to_bits() ^ COLD_BITS)
}

/// The devices of one producer task.
#[derive(Debug)]
pub struct DeviceWorker {
    plan: Arc<SimulationPlan>,
    generator: ReadingGenerator,
    /// The blocks, ascending: their slots are in the order the cursor meets them each interval.
    blocks: Vec<u32>,
    /// Slots that hold a device: all but the tail of the simulation's last block.
    filled: usize,
    /// `max_sensors` values per slot, the first stored xor [`COLD_BITS`].
    state: Vec<f32>,
    stride: usize,
    cursor: cursor::Cursor,
    /// Readings met by the cursor whose due time lies beyond the wheel's next slot.
    wheel: TimerWheel,
    /// Readings due, or due before the wheel's next slot opens; its least is produced next.
    heap: BinaryHeap<Reverse<Pending>>,
    opened: Vec<u32>,
    /// Devices taken over from another owner, whose readings before their start are not ours.
    handovers: membership::Handovers,
    device_id: String,
    values: Vec<f64>,
    lag_ns: Histogram<u64>,
    counts: WorkerCounts,
    /// Readings due at or after this time (ns after t0) are not produced.
    end_ns: u64,
    /// Readings further behind than this (ns) are skipped; `u64::MAX`: never.
    max_lag_ns: u64,
}

impl DeviceWorker {
    /// A worker for the devices of `blocks`, taking them over at `start_ns` after `t0`: each
    /// starts with its first reading due at or after that time, so a restarted process
    /// continues every sequence.
    pub fn new(
        plan: Arc<SimulationPlan>,
        unix_t0_ms: i64,
        mut blocks: Vec<u32>,
        start_ns: u64,
    ) -> Self {
        let generator = ReadingGenerator::new(&plan, unix_t0_ms);
        let stride = plan.max_sensors();
        let last_block = generator.schedule().layout().blocks();
        blocks.sort_unstable();
        blocks.dedup();
        blocks.retain(|&b| b < last_block);
        let end_ns = plan.duration.map_or(u64::MAX, |d| {
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
        });
        let mut worker = Self {
            state: Vec::new(),
            stride,
            blocks: Vec::new(),
            filled: 0,
            cursor: cursor::Cursor::default(),
            wheel: Self::empty_wheel(&generator, start_ns),
            heap: BinaryHeap::new(),
            opened: Vec::new(),
            handovers: membership::Handovers::default(),
            device_id: String::with_capacity(plan.device_id_prefix.len() + 16),
            values: Vec::with_capacity(stride),
            lag_ns: Histogram::new_with_bounds(1_000, 3_600_000_000_000, 2)
                .expect("static histogram bounds are valid"),
            counts: WorkerCounts::default(),
            end_ns,
            max_lag_ns: plan.max_lag.map_or(u64::MAX, |d| {
                u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
            }),
            generator,
            plan,
        };
        worker.start_with(blocks, start_ns);
        worker
    }

    /// A wheel spanning the jitter window and more, so no due time laps its cursor.
    fn empty_wheel(generator: &ReadingGenerator, start_ns: u64) -> TimerWheel {
        let schedule = generator.schedule();
        let span = schedule.max_jitter_ns() + schedule.interval_ns() / 8;
        TimerWheel::new(span, start_ns)
    }

    /// Number of devices this worker owns.
    pub fn device_count(&self) -> usize {
        self.filled
    }

    /// The position of the device in slot `local`.
    #[inline]
    fn position(&self, local: u32) -> u32 {
        let bits = self.layout().block_bits();
        (self.blocks[(local >> bits) as usize] << bits) | (local & ((1 << bits) - 1))
    }

    /// Slots that hold a device, given the blocks: all of theirs unless the simulation's last,
    /// partly empty block is among them (it is last, as the blocks are in order).
    fn filled_slots(&self) -> usize {
        let Some(&last) = self.blocks.last() else {
            return 0;
        };
        (self.blocks.len() - 1) * self.layout().block_size() as usize
            + self.layout().block_len(last) as usize
    }

    /// The simulation's positions and blocks (the schedule's).
    #[inline]
    fn layout(&self) -> &Layout {
        self.generator.schedule().layout()
    }

    /// Counts so far.
    pub fn counts(&self) -> &WorkerCounts {
        &self.counts
    }

    /// Schedule lag of every produced reading (ns); reset by the caller after reading it.
    pub fn lag_histogram(&mut self) -> &mut Histogram<u64> {
        &mut self.lag_ns
    }

    /// End of the run in nanoseconds after `t0`; `u64::MAX` when it runs until stopped.
    pub fn end_ns(&self) -> u64 {
        self.end_ns
    }

    /// Whether every reading before the end of the run has been produced.
    pub fn finished(&self) -> bool {
        self.blocks.is_empty()
            || (self.heap.is_empty() && self.wheel.is_empty() && self.cursor.at_ns >= self.end_ns)
    }

    /// Produces every reading due by `now_ns` (after t0), in due order, at most `budget` of
    /// them, by calling `send` with each; `send` reports whether the sink took it.
    pub fn poll<F>(&mut self, now_ns: u64, budget: usize, mut send: F) -> PollOutcome
    where
        F: FnMut(&Reading<'_>) -> Delivery,
    {
        let mut produced = 0;
        while let Some(next) = self.next_due(now_ns) {
            if produced == budget {
                return PollOutcome::BudgetSpent;
            }
            produced += 1;
            if now_ns - next.due_ns > self.max_lag_ns {
                self.heap.pop();
                self.counts.skipped += 1;
                // Its state skipped a reading: rebuild it to what it would have been anyway.
                self.state[next.local as usize * self.stride] = toggle_cold_mark(f32::NAN);
                continue;
            }
            match self.produce(next, &mut send) {
                Delivery::Accepted => {
                    self.counts.sent += 1;
                    // hdrhistogram cannot hold 0; sub-microsecond lag is recorded as 1 µs.
                    let _ = self.lag_ns.record((now_ns - next.due_ns).max(1_000));
                }
                Delivery::QueueFull if self.plan.overflow == Overflow::Block => {
                    return PollOutcome::Blocked;
                }
                Delivery::QueueFull => self.counts.dropped += 1,
                Delivery::Rejected => self.counts.rejected += 1,
            }
            self.heap.pop();
        }
        PollOutcome::IdleUntil(self.next_wake_ns())
    }

    /// How far the oldest reading not yet produced is behind its due time at `now_ns` (ns); 0
    /// when nothing due is waiting. Meaningful right after a [`Self::poll`] that returned
    /// anything but `IdleUntil`.
    pub fn behind_ns(&self, now_ns: u64) -> u64 {
        self.heap
            .peek()
            .map_or(0, |Reverse(p)| now_ns.saturating_sub(p.due_ns))
    }

    /// Generates and hands over one reading. The device's state is only committed when the
    /// sink accepts it (or the reading is dropped), so a blocked reading is regenerated identically.
    fn produce<F>(&mut self, next: Pending, send: &mut F) -> Delivery
    where
        F: FnMut(&Reading<'_>) -> Delivery,
    {
        let local = next.local as usize;
        let seq = next.seq;
        let device = next.device;
        let profile = &self.plan.profiles[self.generator.profile_of(device)];
        let location = self.plan.location.locate(device);
        let state = &mut self.state[local * self.stride..(local + 1) * self.stride];
        let mut scratch = [0f32; MAX_SENSORS];
        let scratch = &mut scratch[..self.stride];
        scratch.copy_from_slice(state);
        scratch[0] = toggle_cold_mark(scratch[0]);
        if scratch[0].is_nan() {
            self.generator
                .warm_up(profile, device, location.building, seq, scratch);
            // The warm state is kept even if the sink refuses the reading: it is the state
            // just before `seq` whatever happens to `seq`.
            state.copy_from_slice(scratch);
            state[0] = toggle_cold_mark(state[0]);
        }
        let anomaly = self.generator.generate(
            profile,
            device,
            location.building,
            seq,
            scratch,
            &mut self.values,
        );
        write_device_id(&mut self.device_id, &self.plan.device_id_prefix, device);
        let reading = Reading {
            device_id: &self.device_id,
            seq,
            timestamp_ms: self.generator.timestamp_ms(device, seq),
            simulation: &self.plan.name,
            profile,
            location,
            values: &self.values,
            anomaly,
        };
        let outcome = send(&reading);
        // A blocked reading keeps its state so that it is regenerated identically; anything
        // else has used its sequence number up.
        if outcome != Delivery::QueueFull || self.plan.overflow == Overflow::Drop {
            state.copy_from_slice(scratch);
            state[0] = toggle_cold_mark(state[0]);
        }
        outcome
    }
}

#[cfg(test)]
mod tests;
