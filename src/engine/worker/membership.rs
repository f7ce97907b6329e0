//! Devices joining and leaving a worker: a restart, a rescale's hand-over, a stop.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::cursor::Cursor;
use super::{COLD, DeviceWorker, Pending};
use crate::engine::phase_order::{merge_sorted, sort_into_buckets};

/// Devices taken over from another owner whose first readings the cursor has still to meet:
/// readings of theirs due before their start were the old owner's. Empty but for the interval
/// after a hand-over that a lagging worker takes to reach it.
#[derive(Debug, Default)]
pub(super) struct Handovers {
    /// (start, devices sorted by index).
    batches: Vec<(u64, Vec<u32>)>,
}

impl Handovers {
    /// Whether `device`'s reading due at `due_ns` is before the device became ours.
    pub(super) fn not_yet_ours(&self, device: u32, due_ns: u64) -> bool {
        !self.batches.is_empty()
            && self.batches.iter().any(|(start_ns, devices)| {
                due_ns < *start_ns && devices.binary_search(&device).is_ok()
            })
    }

    /// Forgets the batches whose start the cursor has reached (it meets a reading at
    /// `cursor_ns`): every reading it meets from now on is due at or after their start.
    pub(super) fn forget_before(&mut self, cursor_ns: u64) {
        if !self.batches.is_empty() {
            self.batches.retain(|&(start_ns, _)| start_ns > cursor_ns);
        }
    }
}

impl DeviceWorker {
    /// Takes `devices` over at `start_ns`: each starts with its first reading due at or after
    /// that time, so a device handed over from another process continues its sequence.
    pub fn add_devices(&mut self, devices: &[u32], start_ns: u64) {
        if devices.is_empty() {
            return;
        }
        let schedule = *self.generator.schedule();
        let buckets = self.buckets;
        let bucket = |d: u32| buckets.of(schedule.phase_key(d));
        let mut added = devices.to_vec();
        sort_into_buckets(&mut added, buckets, |d| schedule.phase_key(d));
        let was_empty = self.devices.is_empty();
        let stride = self.stride;
        let state = &mut self.state;
        state.reserve_exact(added.len() * stride);
        state.resize(state.len() + added.len() * stride, 0.0);
        self.devices.reserve_exact(added.len());
        let merged = merge_sorted(&mut self.devices, &added, bucket, |from, to| {
            state.copy_within(from * stride..(from + 1) * stride, to * stride)
        });
        for index in merged.added() {
            let values = &mut state[index as usize * stride..(index as usize + 1) * stride];
            values.fill(0.0);
            values[0] = COLD;
        }
        self.wheel.remap(|old| Some(merged.old_to_new(old)));
        self.remap_heap(|old| Some(merged.old_to_new(old)));
        self.cursor = if was_empty {
            Cursor::starting_at(&schedule, buckets, &self.devices, start_ns)
        } else {
            let mut cursor = self.cursor;
            cursor.pos = merged.cursor_to_new(cursor.pos as u32) as usize;
            cursor.wrap_and_time(&schedule, buckets, &self.devices);
            cursor
        };
        let mut ahead_of_cursor = Vec::new();
        for (index, &device) in merged.added().zip(&added) {
            let first = schedule.first_seq_at_or_after(device, start_ns);
            let next_met = self.next_met_seq(index);
            if first > next_met {
                ahead_of_cursor.push(device);
            } else if first < next_met {
                self.file_passed(index, device, first..next_met);
            }
        }
        if !ahead_of_cursor.is_empty() {
            ahead_of_cursor.sort_unstable();
            self.handovers.batches.push((start_ns, ahead_of_cursor));
        }
    }

    /// Files readings `seqs` of a device the cursor has already passed: the last in the wheel
    /// or heap as if met, any earlier ones (the cursor is ahead of the device's start by more
    /// than an interval) straight into the heap.
    fn file_passed(&mut self, local: u32, device: u32, seqs: std::ops::Range<u64>) {
        let last = seqs.end - 1;
        for seq in seqs {
            let due_ns = self.generator.schedule().due_ns(device, seq);
            if due_ns >= self.end_ns {
                continue;
            }
            let pending = Pending { due_ns, local, seq };
            if seq == last {
                self.file(pending, self.cursor.at_ns.min(due_ns));
            } else {
                self.heap.push(Reverse(pending));
            }
        }
    }

    /// Stops producing every device for which `keep` is false, at once; returns how many were
    /// removed. The devices kept carry on with their sequence numbers and state untouched.
    pub fn retain_devices(&mut self, keep: impl Fn(u32) -> bool) -> usize {
        let before = self.devices.len();
        let stride = self.stride;
        let mut removed: Vec<u32> = Vec::new();
        let mut kept = 0usize;
        for local in 0..before {
            let device = self.devices[local];
            if !keep(device) {
                removed.push(local as u32);
                continue;
            }
            self.devices[kept] = device;
            self.state
                .copy_within(local * stride..(local + 1) * stride, kept * stride);
            kept += 1;
        }
        if removed.is_empty() {
            return 0;
        }
        self.devices.truncate(kept);
        self.state.truncate(kept * stride);
        let new_index = |old: u32| match removed.binary_search(&old) {
            Ok(_) => None,
            Err(removed_before) => Some(old - removed_before as u32),
        };
        self.wheel.remap(new_index);
        self.remap_heap(new_index);
        let schedule = *self.generator.schedule();
        self.cursor.pos -= removed.partition_point(|&r| (r as usize) < self.cursor.pos);
        self.cursor
            .wrap_and_time(&schedule, self.buckets, &self.devices);
        before - kept
    }

    fn remap_heap(&mut self, rename: impl Fn(u32) -> Option<u32>) {
        let heap = std::mem::take(&mut self.heap);
        self.heap = heap
            .into_iter()
            .filter_map(|Reverse(p)| rename(p.local).map(|local| Reverse(Pending { local, ..p })))
            .collect::<BinaryHeap<_>>();
    }
}
