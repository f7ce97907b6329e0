//! Blocks of devices joining and leaving a worker: a restart, a rescale's hand-over, a stop.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{DeviceWorker, Pending};

/// Blocks taken over from another owner whose first readings the cursor has still to meet:
/// readings of theirs due before their start were the old owner's. Empty but for the interval
/// after a hand-over that a lagging worker takes to reach it.
#[derive(Debug, Default)]
pub(super) struct Handovers {
    /// (start, blocks in order).
    batches: Vec<(u64, Vec<u32>)>,
}

impl Handovers {
    /// Whether a reading of `block` due at `due_ns` is before the block became ours.
    pub(super) fn not_yet_ours(&self, block: u32, due_ns: u64) -> bool {
        !self.batches.is_empty()
            && self.batches.iter().any(|(start_ns, blocks)| {
                due_ns < *start_ns && blocks.binary_search(&block).is_ok()
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
    /// Owns `blocks` (in order) from `start_ns`, having owned nothing: the cursor starts just
    /// before `start_ns` and files only the readings due from then on.
    pub(super) fn start_with(&mut self, blocks: Vec<u32>, start_ns: u64) {
        debug_assert!(self.blocks.is_empty());
        self.handovers = Handovers::default();
        // Zeroed, so every device starts cold, and untouched until it is produced.
        self.state = vec![0.0; blocks.len() * self.layout().block_size() as usize * self.stride];
        self.blocks = blocks;
        self.filled = self.filled_slots();
        self.start_cursor_at(start_ns);
        self.meet_until(start_ns);
    }

    /// Takes the devices of `blocks` over at `start_ns`: each starts with its first reading due
    /// at or after that time, so a device handed over from another process continues its
    /// sequence.
    pub fn add_blocks(&mut self, blocks: &[u32], start_ns: u64) {
        let mut added: Vec<u32> = blocks
            .iter()
            .copied()
            .filter(|&b| b < self.layout().blocks() && self.blocks.binary_search(&b).is_err())
            .collect();
        added.sort_unstable();
        added.dedup();
        if added.is_empty() {
            return;
        }
        if self.blocks.is_empty() {
            self.start_with(added, start_ns);
            return;
        }
        let old_rank_to_new = self.merge_blocks(&added);
        let bits = self.layout().block_bits();
        let slot = |old: u32| {
            (old_rank_to_new[(old >> bits) as usize] << bits) | (old & ((1 << bits) - 1))
        };
        self.wheel.remap(|old| Some(slot(old)));
        self.remap_heap(|old| Some(slot(old)));
        // The cursor stays at its device (a cursor with devices never stands past the last).
        self.cursor.pos = slot(self.cursor.pos as u32) as usize;
        self.filled = self.filled_slots();
        self.time_cursor();
        let schedule = *self.generator.schedule();
        for &block in &added {
            let rank = self.blocks.binary_search(&block).expect("just merged") as u32;
            for offset in 0..schedule.layout().block_len(block) {
                let local = (rank << bits) | offset;
                let position = (block << bits) | offset;
                let device = schedule.layout().device_at(position);
                let phase = schedule.phase_of_position(position);
                let first = schedule.first_seq_at_or_after_with_phase(phase, device, start_ns);
                let next_met = self.next_met_seq(local);
                if first < next_met {
                    self.file_passed(local, device, first..next_met);
                }
            }
        }
        // Readings the cursor will meet that are due before `start_ns` were the old owner's.
        self.handovers.batches.push((start_ns, added));
    }

    /// Merges `added` (in order, none owned) into the blocks, moving the state along; returns
    /// the new rank of every old block.
    fn merge_blocks(&mut self, added: &[u32]) -> Vec<u32> {
        let old = std::mem::take(&mut self.blocks);
        let mut merged = Vec::with_capacity(old.len() + added.len());
        let mut old_rank_to_new = Vec::with_capacity(old.len());
        let (mut i, mut j) = (0, 0);
        while i < old.len() || j < added.len() {
            if j == added.len() || (i < old.len() && old[i] < added[j]) {
                old_rank_to_new.push(merged.len() as u32);
                merged.push(old[i]);
                i += 1;
            } else {
                merged.push(added[j]);
                j += 1;
            }
        }
        let block_state = self.layout().block_size() as usize * self.stride;
        // Exactly: growing by doubling would hold up to twice a large worker's state.
        self.state
            .reserve_exact(merged.len() * block_state - self.state.len());
        self.state.resize(merged.len() * block_state, 0.0);
        // Old blocks only move up: moving the last first never overwrites one still to move.
        for (rank, &new_rank) in old_rank_to_new.iter().enumerate().rev() {
            let (from, to) = (rank * block_state, new_rank as usize * block_state);
            if from != to {
                self.state.copy_within(from..from + block_state, to);
                self.state[from..from + block_state].fill(0.0);
            }
        }
        self.blocks = merged;
        old_rank_to_new
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
            let pending = Pending {
                due_ns,
                local,
                seq,
                device,
            };
            if seq == last {
                self.file(pending, self.cursor.at_ns.min(due_ns));
            } else {
                self.heap.push(Reverse(pending));
            }
        }
    }

    /// Stops producing the devices of every block for which `keep` is false, at once; returns
    /// how many devices were removed. The devices kept carry on with their sequence numbers and
    /// state untouched.
    pub fn retain_blocks(&mut self, keep: impl Fn(u32) -> bool) -> usize {
        let before = self.filled;
        let block_state = self.layout().block_size() as usize * self.stride;
        let mut removed: Vec<u32> = Vec::new();
        let mut kept = 0usize;
        for rank in 0..self.blocks.len() {
            let block = self.blocks[rank];
            if !keep(block) {
                removed.push(rank as u32);
                continue;
            }
            self.blocks[kept] = block;
            self.state.copy_within(
                rank * block_state..(rank + 1) * block_state,
                kept * block_state,
            );
            kept += 1;
        }
        if removed.is_empty() {
            return 0;
        }
        self.blocks.truncate(kept);
        self.blocks.shrink_to_fit();
        self.state.truncate(kept * block_state);
        self.state.shrink_to_fit();
        let bits = self.layout().block_bits();
        let new_slot = |old: u32| {
            let rank = old >> bits;
            match removed.binary_search(&rank) {
                Ok(_) => None,
                Err(removed_before) => {
                    Some(((rank - removed_before as u32) << bits) | (old & ((1 << bits) - 1)))
                }
            }
        };
        self.wheel.remap(new_slot);
        self.remap_heap(new_slot);
        let pos = self.cursor.pos as u32;
        self.cursor.pos = new_slot(pos).map_or_else(
            // The cursor's block left: it stands at the start of the next block kept.
            || {
                let rank = pos >> bits;
                let removed_before = removed.partition_point(|&r| r < rank) as u32;
                ((rank - removed_before) << bits) as usize
            },
            |slot| slot as usize,
        );
        self.filled = self.filled_slots();
        self.time_cursor();
        before - self.filled
    }

    fn remap_heap(&mut self, rename: impl Fn(u32) -> Option<u32>) {
        let heap = std::mem::take(&mut self.heap);
        self.heap = heap
            .into_iter()
            .filter_map(|Reverse(p)| rename(p.local).map(|local| Reverse(Pending { local, ..p })))
            .collect::<BinaryHeap<_>>();
    }
}
