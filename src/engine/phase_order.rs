//! A producer task's devices in the order of their phase: the order it walks them in every
//! interval, so that the walk itself is the schedule and no device needs a timer entry.
//!
//! Grouping happens in place: a 100 M-device list is 400 MB, and a copy of it, or a list of
//! (key, device) pairs beside it, would cost more than the devices' whole state.

/// Buckets of the phase keys: the walk meets a bucket's devices together, at the bucket's
/// start, so within a bucket their order does not matter and they need no exact sort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseBuckets {
    bits: u32,
}

impl PhaseBuckets {
    /// Buckets for a task expected to hold `devices`: about 16 devices each, at most 2^20,
    /// and at least 4, so a bucket spans at most a quarter of the interval (a reading is then
    /// due before the cursor meets its device again, even with the largest jitter).
    pub fn for_devices(devices: u64) -> Self {
        let buckets = (devices / 16).clamp(4, 1 << 20).next_power_of_two();
        Self {
            bits: buckets.trailing_zeros(),
        }
    }

    /// The bucket of phase key `key`; buckets follow the keys' order.
    #[inline]
    pub fn of(&self, key: u64) -> u64 {
        if self.bits == 0 {
            0
        } else {
            key >> (64 - self.bits)
        }
    }

    /// The least phase key of bucket `bucket`, or `None` past the last bucket.
    #[inline]
    pub fn first_key(&self, bucket: u64) -> Option<u64> {
        match self.bits {
            0 => (bucket == 0).then_some(0),
            bits => (bucket < 1 << bits).then(|| bucket << (64 - bits)),
        }
    }
}

/// Orders `devices` by the bucket of `key`, in place, with scratch space of a few kilobytes.
/// Two American-flag passes, by the top eight bits and then by the rest, so each pass writes
/// to a few hundred places at once and stays in cache.
pub fn sort_into_buckets(devices: &mut [u32], buckets: PhaseBuckets, key: impl Fn(u32) -> u64) {
    let bits = buckets.bits;
    if bits == 0 || devices.len() < 2 {
        return;
    }
    let high = bits.min(8);
    let low = bits - high;
    let starts = flag_pass(devices, 1 << high, |d| (key(d) >> (64 - high)) as usize);
    if low == 0 {
        return;
    }
    let mask = (1u64 << low) - 1;
    for window in starts.windows(2) {
        let part = &mut devices[window[0]..window[1]];
        flag_pass(part, 1 << low, |d| {
            ((key(d) >> (64 - bits)) & mask) as usize
        });
    }
}

/// One American-flag pass: groups `devices` by `digit` (below `radix`), in place; returns
/// where each group starts, and the end.
fn flag_pass(devices: &mut [u32], radix: usize, digit: impl Fn(u32) -> usize) -> Vec<usize> {
    let mut starts = vec![0usize; radix + 1];
    for &device in devices.iter() {
        starts[digit(device) + 1] += 1;
    }
    for b in 0..radix {
        starts[b + 1] += starts[b];
    }
    let mut next = starts[..radix].to_vec();
    for group in 0..radix {
        let end = starts[group + 1];
        while next[group] < end {
            let target = digit(devices[next[group]]);
            if target == group {
                next[group] += 1;
            } else {
                // Groups before this one are complete, so `target` lies after it.
                devices.swap(next[group], next[target]);
                next[target] += 1;
            }
        }
    }
    starts
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

/// Merges `added` (ordered by `key`) into `devices` (likewise ordered), in place from the
/// back; of equal keys, the old devices come first. `mv(from, to)` is called as each old device moves from one index to another,
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
        if i > 0 && key(devices[i - 1]) > key(new) {
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

    fn bucketed(devices: &[u32], buckets: PhaseBuckets) -> Vec<u32> {
        let mut v = devices.to_vec();
        v.sort_by_key(|&d| buckets.of(key(d)));
        v
    }

    fn buckets_of(devices: &[u32], buckets: PhaseBuckets) -> Vec<u64> {
        devices.iter().map(|&d| buckets.of(key(d))).collect()
    }

    proptest! {
        #[test]
        fn groups_like_a_plain_sort_by_bucket(devices in proptest::collection::vec(0u32..100_000, 0..5_000), expect in 0u64..100_000_000) {
            let buckets = PhaseBuckets::for_devices(expect);
            let mut v = devices.clone();
            sort_into_buckets(&mut v, buckets, key);
            prop_assert_eq!(buckets_of(&v, buckets), buckets_of(&bucketed(&devices, buckets), buckets));
            let (mut a, mut b) = (v.clone(), devices.clone());
            a.sort_unstable();
            b.sort_unstable();
            prop_assert_eq!(a, b, "the same devices");
        }

        #[test]
        fn merging_keeps_the_order_and_says_where_everything_went(
            old in proptest::collection::btree_set(0u32..50_000, 0..800),
            new in proptest::collection::btree_set(50_000u32..100_000, 0..800),
        ) {
            let buckets = PhaseBuckets::for_devices(200);
            let bucket = |d: u32| buckets.of(key(d));
            let old = bucketed(&old.into_iter().collect::<Vec<_>>(), buckets);
            let new = bucketed(&new.into_iter().collect::<Vec<_>>(), buckets);
            let mut merged = old.clone();
            let mut moves = vec![None; old.len()];
            let at = merge_sorted(&mut merged, &new, bucket, |from, to| moves[from] = Some(to));
            prop_assert!(merged.windows(2).all(|w| bucket(w[0]) <= bucket(w[1])));
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
    fn bucket_keys_bound_the_keys_of_their_devices() {
        let buckets = PhaseBuckets::for_devices(1_000_000);
        for d in 0..10_000u32 {
            let b = buckets.of(key(d));
            assert!(buckets.first_key(b).expect("a bucket") <= key(d));
            assert!(buckets.first_key(b + 1).is_none_or(|next| next > key(d)));
        }
        assert_eq!(PhaseBuckets::for_devices(0).first_key(4), None);
        assert!(PhaseBuckets::for_devices(0).first_key(3).is_some());
    }

    #[test]
    fn a_million_devices_group_in_place() {
        let buckets = PhaseBuckets::for_devices(1_000_000);
        let mut v: Vec<u32> = (0..1_000_000).rev().collect();
        sort_into_buckets(&mut v, buckets, key);
        assert!(
            v.windows(2)
                .all(|w| buckets.of(key(w[0])) <= buckets.of(key(w[1])))
        );
        assert_eq!(v.len(), 1_000_000);
    }
}
