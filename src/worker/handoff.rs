//! The re-shard hand-off rule, pure: when may a worker take over the devices it gains?
//!
//! A worker that sees a new shard count first releases every device it no longer owns, then
//! reports the count it now runs under. It takes its new devices only once every other shard has
//! confirmed that count, so no device is ever produced by two replicas. A shard that stopped
//! (SIGTERM, scale-down) reports count 0: it owns nothing, which releases everything too.

use crate::crd::ShardStatus;

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
}
