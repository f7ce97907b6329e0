//! One producer task's share of a shard: its devices, their state and their timer wheel.
//!
//! Pure and synchronous: the caller passes the time and a function that hands a reading to the
//! sink, so the same code runs under Tokio, in tests with a fake clock, and in benchmarks.
//! Per device it keeps the next sequence number, one `f32` of state per sensor, and a 4-byte
//! wheel entry; everything else is derived from the seed and the device index.

use std::sync::Arc;

use hdrhistogram::Histogram;

use super::device::write_device_id;
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

/// The devices of one producer task.
#[derive(Debug)]
pub struct DeviceWorker {
    plan: Arc<SimulationPlan>,
    generator: ReadingGenerator,
    devices: Vec<u32>,
    next_seq: Vec<u64>,
    state: Vec<f32>,
    stride: usize,
    wheel: TimerWheel,
    /// Entries whose slot has opened, with their exact due time, oldest first.
    ready: std::collections::VecDeque<(u64, u32)>,
    drained: Vec<u32>,
    device_id: String,
    values: Vec<f64>,
    lag_ns: Histogram<u64>,
    counts: WorkerCounts,
    /// Readings due at or after this time (ns after t0) are not produced.
    end_ns: u64,
    /// Readings further behind than this (ns) are skipped; `u64::MAX`: never.
    max_lag_ns: u64,
    /// `ready` may be out of due-time order (a caught-up reading was filed behind a later one).
    ready_unsorted: bool,
}

impl DeviceWorker {
    /// A worker for `devices`, taking them over at `start_ns` after `t0`: each starts with its
    /// first reading due at or after that time, so a restarted process continues every sequence.
    pub fn new(
        plan: Arc<SimulationPlan>,
        unix_t0_ms: i64,
        devices: Vec<u32>,
        start_ns: u64,
    ) -> Self {
        let generator = ReadingGenerator::new(&plan, unix_t0_ms);
        let stride = plan.max_sensors();
        let end_ns = plan.duration.map_or(u64::MAX, |d| {
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
        });
        let mut worker = Self {
            state: Vec::with_capacity(devices.len() * stride),
            stride,
            next_seq: Vec::with_capacity(devices.len()),
            devices: Vec::with_capacity(devices.len()),
            wheel: Self::empty_wheel(&generator, start_ns),
            ready: std::collections::VecDeque::new(),
            drained: Vec::new(),
            device_id: String::with_capacity(plan.device_id_prefix.len() + 16),
            values: Vec::with_capacity(stride),
            lag_ns: Histogram::new_with_bounds(1_000, 3_600_000_000_000, 2)
                .expect("static histogram bounds are valid"),
            counts: WorkerCounts::default(),
            end_ns,
            ready_unsorted: false,
            max_lag_ns: plan.max_lag.map_or(u64::MAX, |d| {
                u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
            }),
            generator,
            plan,
        };
        worker.add_devices(&devices, start_ns);
        worker
    }

    /// A wheel spanning an interval plus the largest jitter, so no due time laps its cursor.
    fn empty_wheel(generator: &ReadingGenerator, start_ns: u64) -> TimerWheel {
        let interval_ns = generator.schedule().interval_ns();
        TimerWheel::new(interval_ns + interval_ns / 2, start_ns)
    }

    /// Takes `devices` over at `start_ns`: each starts with its first reading due at or after
    /// that time, so a device handed over from another process continues its sequence.
    pub fn add_devices(&mut self, devices: &[u32], start_ns: u64) {
        for &device in devices {
            let local = self.devices.len() as u32;
            let seq = self
                .generator
                .schedule()
                .first_seq_at_or_after(device, start_ns);
            let due = self.generator.schedule().due_ns(device, seq);
            if due < self.end_ns {
                self.wheel.insert(local, due);
            }
            self.devices.push(device);
            // Flagged until the device's state is rebuilt, lazily at its first reading, which
            // spreads the warm-up cost over the first interval instead of the start-up.
            self.next_seq.push(seq | WARM_FLAG);
            self.state.extend(std::iter::repeat_n(0.0, self.stride));
        }
    }

    /// Stops producing every device for which `keep` is false, at once; returns how many were
    /// removed. The devices kept carry on with their sequence numbers and state untouched.
    pub fn retain_devices(&mut self, keep: impl Fn(u32) -> bool) -> usize {
        let before = self.devices.len();
        let cursor_ns = self.wheel.next_slot_start_ns();
        let mut wheel = Self::empty_wheel(&self.generator, cursor_ns);
        let mut kept = 0usize;
        for local in 0..before {
            let device = self.devices[local];
            if !keep(device) {
                continue;
            }
            self.devices[kept] = device;
            self.next_seq[kept] = self.next_seq[local];
            self.state.copy_within(
                local * self.stride..(local + 1) * self.stride,
                kept * self.stride,
            );
            let due = self
                .generator
                .schedule()
                .due_ns(device, self.next_seq[kept] & !WARM_FLAG);
            if due < self.end_ns {
                wheel.insert(kept as u32, due);
            }
            kept += 1;
        }
        self.devices.truncate(kept);
        self.next_seq.truncate(kept);
        self.state.truncate(kept * self.stride);
        // Entries already opened are re-filed in the new wheel, whose cursor slot holds
        // everything overdue.
        self.ready.clear();
        self.ready_unsorted = false;
        self.wheel = wheel;
        before - kept
    }

    /// Number of devices this worker owns.
    pub fn device_count(&self) -> usize {
        self.devices.len()
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
        self.devices.is_empty() || (self.wheel.is_empty() && self.ready.is_empty())
    }

    /// Produces every reading due by `now_ns` (after t0), at most `budget` of them, by calling
    /// `send` with each; `send` reports whether the sink took it.
    pub fn poll<F>(&mut self, now_ns: u64, budget: usize, mut send: F) -> PollOutcome
    where
        F: FnMut(&Reading<'_>) -> Delivery,
    {
        self.open_started_slots(now_ns);
        let mut produced = 0;
        while let Some(&(due_ns, local)) = self.ready.front() {
            if due_ns > now_ns {
                if std::mem::take(&mut self.ready_unsorted) {
                    // Readings filed behind this one may be due: order them and go on.
                    self.ready.make_contiguous().sort_unstable();
                    continue;
                }
                return PollOutcome::IdleUntil(due_ns.min(self.wheel.next_slot_start_ns()));
            }
            if produced == budget {
                return PollOutcome::BudgetSpent;
            }
            if now_ns - due_ns > self.max_lag_ns {
                self.ready.pop_front();
                self.skip_to(local, now_ns - self.max_lag_ns, now_ns);
                produced += 1;
                continue;
            }
            match self.produce(local, &mut send) {
                Delivery::Accepted => {
                    self.counts.sent += 1;
                    // hdrhistogram cannot hold 0; sub-microsecond lag is recorded as 1 µs.
                    let _ = self.lag_ns.record((now_ns - due_ns).max(1_000));
                }
                Delivery::QueueFull if self.plan.overflow == Overflow::Block => {
                    return PollOutcome::Blocked;
                }
                Delivery::QueueFull => self.counts.dropped += 1,
                Delivery::Rejected => self.counts.rejected += 1,
            }
            self.ready.pop_front();
            self.reschedule_at(local, now_ns);
            produced += 1;
        }
        if self.wheel.is_empty() {
            // Nothing is scheduled at all: only new devices can bring work.
            return PollOutcome::IdleUntil(u64::MAX);
        }
        PollOutcome::IdleUntil(self.wheel.next_slot_start_ns())
    }

    /// How far the oldest reading not yet produced is behind its due time at `now_ns` (ns); 0
    /// when nothing due is waiting. Meaningful right after a [`Self::poll`] that returned
    /// anything but `IdleUntil`.
    pub fn behind_ns(&self, now_ns: u64) -> u64 {
        self.ready
            .front()
            .map_or(0, |&(due_ns, _)| now_ns.saturating_sub(due_ns))
    }

    /// Orders every reading due by `cut_ns` exactly, so that the next `poll(cut_ns)` produces
    /// all of them and nothing after. Slots of 1 ms are otherwise only ordered to the
    /// millisecond, which is fine for timing but not for a hand-off cut.
    pub fn prepare_cut(&mut self, cut_ns: u64) {
        self.open_started_slots(cut_ns);
        self.ready.make_contiguous().sort_unstable();
        self.ready_unsorted = false;
    }

    fn open_started_slots(&mut self, now_ns: u64) {
        self.drained.clear();
        self.wheel.drain_started(now_ns, &mut self.drained);
        let start = self.ready.len();
        for &local in &self.drained {
            let device = self.devices[local as usize];
            let seq = self.next_seq[local as usize] & !WARM_FLAG;
            self.ready
                .push_back((self.generator.schedule().due_ns(device, seq), local));
        }
        // Coarse slots (long intervals) hold a wide range of due times: order them exactly.
        if self.wheel.tick_ns() > 1_000_000 {
            self.ready.make_contiguous()[start..].sort_unstable();
        }
    }

    /// Generates and hands over one reading. The device's state is only committed when the
    /// sink accepts it (or the reading is dropped), so a blocked reading is regenerated identically.
    fn produce<F>(&mut self, local: u32, send: &mut F) -> Delivery
    where
        F: FnMut(&Reading<'_>) -> Delivery,
    {
        let local = local as usize;
        let device = self.devices[local];
        let profile = &self.plan.profiles[self.generator.profile_of(device)];
        let location = self.plan.location.locate(device);
        let state = &mut self.state[local * self.stride..(local + 1) * self.stride];
        let mut seq = self.next_seq[local];
        if seq & WARM_FLAG != 0 {
            seq &= !WARM_FLAG;
            self.generator
                .warm_up(profile, device, location.building, seq, state);
            self.next_seq[local] = seq;
        }
        let mut scratch = [0f32; MAX_SENSORS];
        let scratch = &mut scratch[..self.stride];
        scratch.copy_from_slice(state);
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
        // A blocked reading keeps its state and sequence number so that it is regenerated
        // identically; anything else has used its sequence number up.
        if outcome != Delivery::QueueFull || self.plan.overflow == Overflow::Drop {
            state.copy_from_slice(scratch);
            self.next_seq[local] = seq + 1;
        }
        outcome
    }

    /// Passes over every reading of `local` due before `from_ns`, counting them as skipped:
    /// the device goes on with its first reading due at or after it, its state rebuilt so that
    /// its values are those it would have had anyway.
    fn skip_to(&mut self, local: u32, from_ns: u64, now_ns: u64) {
        let device = self.devices[local as usize];
        let seq = self.next_seq[local as usize] & !WARM_FLAG;
        let next = self
            .generator
            .schedule()
            .first_seq_at_or_after(device, from_ns)
            .max(seq + 1);
        self.counts.skipped += next - seq;
        self.next_seq[local as usize] = next | WARM_FLAG;
        self.reschedule_at(local, now_ns);
    }

    /// Files `local`'s next reading: straight into the ready queue when it is already due (a
    /// worker catching up after being blocked), so the backlog is worked off in this poll
    /// rather than a reading per device per wheel tick; into the wheel otherwise.
    fn reschedule_at(&mut self, local: u32, now_ns: u64) {
        let device = self.devices[local as usize];
        let seq = self.next_seq[local as usize] & !WARM_FLAG;
        let due = self.generator.schedule().due_ns(device, seq);
        if due >= self.end_ns {
            return;
        }
        if due <= now_ns {
            // Behind a later reading (one due within this tick), order is lost until sorted.
            self.ready_unsorted |= self.ready.back().is_some_and(|&(last, _)| last > due);
            self.ready.push_back((due, local));
        } else {
            self.wheel.insert(local, due);
        }
    }
}

/// High bit of a stored sequence number: the device still needs its warm-up.
const WARM_FLAG: u64 = 1 << 63;
