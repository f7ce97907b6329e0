//! The re-shard step's rules, pure: when may a worker take over the devices it gains, and
//! where does each of them start?
//!
//! A worker that sees a new shard count first releases every device it no longer owns, then
//! reports the count it now runs under. It takes its new devices only once every other shard has
//! confirmed that count, so no device is ever produced by two replicas. A shard that stopped
//! (SIGTERM, scale-down) reports count 0: it owns nothing, which releases everything too.
//!
//! Each release is a cut at one instant, reported as `releasedAt`: the old owner produced every
//! reading due up to it and none after. A device's new owner starts just after its old owner's
//! cut, so a hand-off delays readings by the confirmation round trip but loses and repeats none.

use std::collections::HashMap;

use crate::crd::ShardStatus;
use crate::crd::timestamps::parse_time;

/// Cuts older than this are moved up to it: older readings are not worth catching up on.
const CATCH_UP_LIMIT_NS: i128 = 60_000_000_000;

/// Whether every shard has released the devices it does not own under `shards`.
///
/// Shards below `shards` must report exactly `shards`; any other entry (a shard being scaled
/// away) must report `shards` or 0, or be gone.
pub fn handoff_confirmed(entries: &[ShardStatus], shards: u32) -> bool {
    let below_confirmed = (0..shards).all(|i| {
        entries
            .iter()
            .any(|e| e.index == i && e.shard_count == shards)
    });
    let others_released = entries
        .iter()
        .filter(|e| e.index >= shards)
        .all(|e| e.shard_count == shards || e.shard_count == 0);
    below_confirmed && others_released
}

/// The shard index of a StatefulSet pod: the ordinal after the last `-` of its name.
pub fn ordinal(pod_name: &str) -> Option<u32> {
    pod_name.rsplit_once('-')?.1.parse().ok()
}

/// The instants (Unix ns) at which the other shards last let go of devices, by shard index.
/// Cuts older than [`CATCH_UP_LIMIT_NS`] are moved up to then; a start is never before a cut,
/// so never a duplicate.
pub fn release_cuts(entries: &[ShardStatus], me: u32, now_unix_ns: i128) -> HashMap<u32, i128> {
    entries
        .iter()
        .filter(|e| e.index != me)
        .filter_map(|e| {
            Some((
                e.index,
                parse_time(e.released_at.as_deref())?.as_nanosecond(),
            ))
        })
        .map(|(index, ns)| (index, ns.max(now_unix_ns - CATCH_UP_LIMIT_NS)))
        .collect()
}

/// Where a shard's earlier process let go of its devices (Unix ns) and the count it ran under,
/// if it stopped cleanly: its last report is final (`stopped`), so it produced every reading due
/// up to `releasedAt` and none after.
pub fn clean_release(entry: &ShardStatus) -> Option<(i128, u32)> {
    let cut = parse_time(entry.released_at.as_deref())?.as_nanosecond();
    (entry.stopped && entry.previous_shard_count > 0).then_some((cut, entry.previous_shard_count))
}

/// The shard count every other live shard ran under before the current hand-off, if they
/// agree on one at or below `me` (a new shard's devices came from shards below it).
pub fn previous_count(entries: &[ShardStatus], me: u32) -> Option<u32> {
    let mut counts = entries
        .iter()
        .filter(|e| e.index != me && e.previous_shard_count > 0)
        .map(|e| e.previous_shard_count);
    let first = counts.next()?;
    (first <= me && counts.all(|c| c == first)).then_some(first)
}

/// Where each device a shard takes over starts, in ns since the producer's epoch start.
#[derive(Clone, Debug)]
pub struct TakeOverStarts {
    /// Whether the devices were handed over by confirmed releases (else they start now).
    handed_over: bool,
    cuts: HashMap<u32, i128>,
    latest_cut: Option<i128>,
    /// This shard's own earlier cut: a restart under the same count takes its devices back.
    own_cut: Option<i128>,
    t0_unix_ns: i128,
    now_ns: u64,
}

impl TakeOverStarts {
    /// Starts for a take-over by shard `me` at `now_ns` (since the epoch start `t0_unix_ns`).
    /// Without a confirmed hand-off, every device starts now: what its old owner produced is
    /// unknown, and producing it again would duplicate it.
    pub fn new(
        entries: &[ShardStatus],
        me: u32,
        handed_over: bool,
        t0_unix_ns: i128,
        now_ns: u64,
    ) -> Self {
        let cuts = release_cuts(entries, me, t0_unix_ns + i128::from(now_ns));
        Self {
            handed_over,
            latest_cut: cuts.values().copied().max(),
            own_cut: None,
            cuts,
            t0_unix_ns,
            now_ns,
        }
    }

    /// Devices without a known owner start at `cut` (this shard's own earlier cut, Unix ns;
    /// at most [`CATCH_UP_LIMIT_NS`] back): a restarted shard resumes its own devices.
    pub fn resuming_at(mut self, cut: Option<i128>) -> Self {
        let now = self.t0_unix_ns + i128::from(self.now_ns);
        self.own_cut = cut.map(|ns| ns.max(now - CATCH_UP_LIMIT_NS));
        self
    }

    /// Where a device that `owner` used to produce starts: just after its owner's cut when it
    /// is known, else after the latest cut of any shard (a short gap, never a duplicate).
    pub fn start_of(&self, owner: Option<u32>) -> u64 {
        if !self.handed_over {
            return self.now_ns;
        }
        owner
            .and_then(|o| self.cuts.get(&o).copied())
            .or(self.own_cut)
            .or(self.latest_cut)
            .map_or(self.now_ns, |ns| {
                u64::try_from(ns - self.t0_unix_ns).unwrap_or(0)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u32, shard_count: u32) -> ShardStatus {
        ShardStatus {
            index,
            shard_count,
            ..ShardStatus::default()
        }
    }

    #[test]
    fn scale_up_waits_for_every_old_shard_and_the_new_one() {
        let before = [entry(0, 2), entry(1, 2)];
        assert!(!handoff_confirmed(&before, 3));
        assert!(!handoff_confirmed(
            &[entry(0, 3), entry(1, 2), entry(2, 3)],
            3
        ));
        assert!(
            !handoff_confirmed(&[entry(0, 3), entry(1, 3)], 3),
            "shard 2 has not reported"
        );
        assert!(handoff_confirmed(
            &[entry(0, 3), entry(1, 3), entry(2, 3)],
            3
        ));
    }

    #[test]
    fn scale_down_waits_for_the_departing_shard_to_release_or_vanish() {
        assert!(!handoff_confirmed(
            &[entry(0, 2), entry(1, 2), entry(2, 3)],
            2
        ));
        assert!(handoff_confirmed(
            &[entry(0, 2), entry(1, 2), entry(2, 0)],
            2
        ));
        assert!(handoff_confirmed(
            &[entry(0, 2), entry(1, 2), entry(2, 2)],
            2
        ));
        assert!(handoff_confirmed(&[entry(0, 2), entry(1, 2)], 2));
    }

    #[test]
    fn ordinals_come_from_the_pod_name() {
        assert_eq!(ordinal("plant-workers-0"), Some(0));
        assert_eq!(ordinal("plant-workers-12"), Some(12));
        assert_eq!(ordinal("plant"), None);
        assert_eq!(ordinal("plant-workers-x"), None);
    }

    fn released(index: u32, previous: u32, released_at: Option<&str>) -> ShardStatus {
        ShardStatus {
            index,
            shard_count: 3,
            previous_shard_count: previous,
            released_at: released_at.map(str::to_owned),
            ..ShardStatus::default()
        }
    }

    #[test]
    fn a_new_shard_learns_where_its_devices_come_from() {
        let entries = [
            released(0, 2, None),
            released(1, 2, None),
            released(2, 0, None),
        ];
        assert_eq!(previous_count(&entries, 2), Some(2));
        // Disagreement (an overlapping re-shard) gives no answer: fall back to the latest cut.
        let mixed = [released(0, 2, None), released(1, 4, None)];
        assert_eq!(previous_count(&mixed, 2), None);
        // A count above the new shard cannot be where its devices came from.
        assert_eq!(previous_count(&[released(0, 5, None)], 2), None);
        assert_eq!(previous_count(&[], 2), None);
    }

    #[test]
    fn cuts_are_read_with_nanosecond_precision_and_bounded_to_a_minute() {
        let now = i128::from(1_764_000_000_000i64) * 1_000_000;
        let entries = [
            released(0, 2, Some("2025-11-24T16:00:00.000000001Z")),
            released(1, 2, Some("2025-11-24T15:00:00Z")),
            released(2, 2, Some("2025-11-24T16:00:00Z")),
        ];
        let cuts = release_cuts(&entries, 2, now);
        assert_eq!(cuts.len(), 2, "a worker ignores its own cut");
        let exact: k8s_openapi::jiff::Timestamp =
            "2025-11-24T16:00:00.000000001Z".parse().expect("time");
        assert_eq!(cuts[&0], exact.as_nanosecond().max(now - 60_000_000_000));
        assert_eq!(
            cuts[&1],
            now - 60_000_000_000,
            "an hour-old cut is moved up to a minute ago"
        );
    }

    #[test]
    fn a_shard_that_stopped_cleanly_resumes_its_own_devices_at_its_cut() {
        let t0: k8s_openapi::jiff::Timestamp = "2026-11-25T12:00:00Z".parse().expect("time");
        let t0_ns = t0.as_nanosecond();
        let mut own = released(0, 1, Some("2026-11-25T12:00:10.25Z"));
        assert_eq!(
            clean_release(&own),
            None,
            "not final: it may have produced more"
        );
        own.stopped = true;
        let (cut, count) = clean_release(&own).expect("a clean release");
        assert_eq!((cut - t0_ns, count), (10_250_000_000, 1));
        let now_ns = 12_000_000_000;
        let starts = TakeOverStarts::new(&[], 0, true, t0_ns, now_ns).resuming_at(Some(cut));
        assert_eq!(starts.start_of(None), 10_250_000_000);
        // A cut long past is caught up on for a minute at most.
        let late = TakeOverStarts::new(&[], 0, true, t0_ns, 600_000_000_000);
        assert_eq!(late.resuming_at(Some(cut)).start_of(None), 540_000_000_000);
        // A shard that never owned devices (or ran under no count) has nothing to resume.
        own.previous_shard_count = 0;
        assert_eq!(clean_release(&own), None);
    }

    #[test]
    fn gained_devices_start_just_after_their_old_owners_cut() {
        let t0: k8s_openapi::jiff::Timestamp = "2026-11-25T12:00:00Z".parse().expect("time");
        let t0_ns = t0.as_nanosecond();
        let entries = [
            released(0, 2, Some("2026-11-25T12:00:10.000000001Z")),
            released(1, 2, Some("2026-11-25T12:00:10.5Z")),
        ];
        let now_ns = 11_000_000_000;
        let starts = TakeOverStarts::new(&entries, 2, true, t0_ns, now_ns);
        assert_eq!(starts.start_of(Some(0)), 10_000_000_001);
        assert_eq!(starts.start_of(Some(1)), 10_500_000_000);
        // Owner unknown or without a cut: after the latest cut of any shard.
        assert_eq!(starts.start_of(None), 10_500_000_000);
        assert_eq!(starts.start_of(Some(7)), 10_500_000_000);
        // Not handed over (a restarted worker, an unconfirmed hand-off): from now.
        let unconfirmed = TakeOverStarts::new(&entries, 2, false, t0_ns, now_ns);
        assert_eq!(unconfirmed.start_of(Some(0)), now_ns);
        // Nobody reported a cut: from now.
        assert_eq!(
            TakeOverStarts::new(&[], 2, true, t0_ns, now_ns).start_of(Some(0)),
            now_ns
        );
    }
}
