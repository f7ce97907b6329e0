//! A producer task's devices in the order of their phase: the order it walks them in every
//! interval, so that the walk itself is the schedule and no device needs a timer entry.
//!
//! Sorting happens in place: a 100 M-device list is 400 MB, and a copy of it, or a list of
//! (key, device) pairs beside it, would cost more than the devices' whole state.

/// Sorts `devices` by `key` (ties by index), in place, with scratch space of a few bytes a
/// device. An American-flag pass by the key's top bits puts each device in its bucket, then each
/// bucket, a few dozen devices, is sorted exactly.
pub fn sort_by_key_in_place(devices: &mut [u32], key: impl Fn(u32) -> u64) {
    let n = devices.len();
    if n < 2 {
        return;
    }
    let bits = (n / 32)
        .clamp(1, 1 << 20)
        .next_power_of_two()
        .trailing_zeros();
    let bucket_of = |device: u32| {
        if bits == 0 {
            0
        } else {
            (key(device) >> (64 - bits)) as usize
        }
    };
    let buckets = 1usize << bits;
    let mut starts = vec![0usize; buckets + 1];
    for &device in devices.iter() {
        starts[bucket_of(device) + 1] += 1;
    }
    for b in 0..buckets {
        starts[b + 1] += starts[b];
    }
    let mut next = starts[..buckets].to_vec();
    for bucket in 0..buckets {
        let end = starts[bucket + 1];
        while next[bucket] < end {
            let target = bucket_of(devices[next[bucket]]);
            if target == bucket {
                next[bucket] += 1;
            } else {
                // Buckets before this one are complete, so `target` lies after it.
                devices.swap(next[bucket], next[target]);
                next[target] += 1;
            }
        }
    }
    drop(next);
    let mut scratch: Vec<(u64, u32)> = Vec::new();
    for bucket in 0..buckets {
        let part = &mut devices[starts[bucket]..starts[bucket + 1]];
        scratch.clear();
        scratch.extend(part.iter().map(|&d| (key(d), d)));
        scratch.sort_unstable();
        for (slot, &(_, device)) in part.iter_mut().zip(&scratch) {
            *slot = device;
        }
    }
}

/// Where a merge put things, to move indices into the merged list.
#[derive(Debug, Default)]
pub struct Merged {
    /// For each added device, in order, how many of the old devices precede it.
    old_before: Vec<u32>,
}

impl Merged {
    /// The new index of the old device at `old`.
    pub fn old_to_new(&self, old: u32) -> u32 {
        old + self.old_before.partition_point(|&b| b <= old) as u32
    }

    /// The new index of the cursor that stood before the old device at `old` (or at the end):
    /// devices added right there go after it, since their phase is not behind the cursor's.
    pub fn cursor_to_new(&self, old: u32) -> u32 {
        old + self.old_before.partition_point(|&b| b < old) as u32
    }

    /// The new indices of the added devices, in order.
    pub fn added(&self) -> impl Iterator<Item = u32> + '_ {
        self.old_before
            .iter()
            .enumerate()
            .map(|(rank, &before)| before + rank as u32)
    }
}

/// Merges `added` (sorted by `key`, ties by index) into `devices` (likewise sorted), in place
/// from the back. `mv(from, to)` is called as each old device moves from one index to another,
/// so the caller can move whatever it keeps beside it.
pub fn merge_sorted(
    devices: &mut Vec<u32>,
    added: &[u32],
    key: impl Fn(u32) -> u64,
    mut mv: impl FnMut(usize, usize),
) -> Merged {
    let old_len = devices.len();
    devices.resize(old_len + added.len(), 0);
    let mut old_before = vec![0u32; added.len()];
    let (mut i, mut j, mut k) = (old_len, added.len(), old_len + added.len());
    while j > 0 {
        k -= 1;
        let new = added[j - 1];
        if i > 0 && (key(devices[i - 1]), devices[i - 1]) > (key(new), new) {
            devices[k] = devices[i - 1];
            mv(i - 1, k);
            i -= 1;
        } else {
            devices[k] = new;
            old_before[j - 1] = i as u32;
            j -= 1;
        }
    }
    Merged { old_before }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::mix64;
    use proptest::prelude::*;

    fn key(d: u32) -> u64 {
        mix64(u64::from(d) / 3)
    }

    fn sorted(devices: &[u32]) -> Vec<u32> {
        let mut v = devices.to_vec();
        v.sort_unstable_by_key(|&d| (key(d), d));
        v
    }

    proptest! {
        #[test]
        fn sorts_like_a_plain_sort(devices in proptest::collection::vec(0u32..100_000, 0..5_000)) {
            let mut v = devices.clone();
            sort_by_key_in_place(&mut v, key);
            prop_assert_eq!(v, sorted(&devices));
        }

        #[test]
        fn merging_keeps_the_order_and_says_where_everything_went(
            old in proptest::collection::btree_set(0u32..50_000, 0..800),
            new in proptest::collection::btree_set(50_000u32..100_000, 0..800),
        ) {
            let old = sorted(&old.into_iter().collect::<Vec<_>>());
            let new = sorted(&new.into_iter().collect::<Vec<_>>());
            let mut merged = old.clone();
            let mut moves = vec![None; old.len()];
            let at = merge_sorted(&mut merged, &new, key, |from, to| moves[from] = Some(to));
            prop_assert_eq!(&merged, &sorted(&[old.clone(), new.clone()].concat()));
            for (o, &device) in old.iter().enumerate() {
                let n = at.old_to_new(o as u32) as usize;
                prop_assert_eq!(merged[n], device);
                prop_assert_eq!(moves[o].unwrap_or(o), n);
            }
            for (index, &device) in at.added().zip(&new) {
                prop_assert_eq!(merged[index as usize], device);
            }
            // The cursor before old device `o` keeps old devices < o before it.
            for o in 0..=old.len() as u32 {
                let c = at.cursor_to_new(o);
                let before = (0..o).filter(|&x| at.old_to_new(x) < c).count() as u32;
                prop_assert_eq!(before, o);
            }
        }
    }

    #[test]
    fn a_million_devices_sort_with_small_scratch() {
        let mut v: Vec<u32> = (0..1_000_000).rev().collect();
        sort_by_key_in_place(&mut v, key);
        assert!(v.windows(2).all(|w| (key(w[0]), w[0]) < (key(w[1]), w[1])));
        assert_eq!(v.len(), 1_000_000);
    }
}
