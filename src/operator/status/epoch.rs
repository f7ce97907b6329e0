//! Schedule epochs: every worker anchors its schedule to `status.schedule`. Editing the
//! interval or the device count (the phases depend on both) opens a new epoch a moment ahead,
//! numbered after every reading the old one can have produced by then, so that no (device, seq)
//! is ever produced twice.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::signed;
use crate::crd::ScheduleEpoch;
use crate::crd::parse_duration;
use crate::crd::timestamps::{format_time, parse_time};
use crate::engine::schedule::next_epoch_first_seq;

/// How far ahead a new schedule epoch starts, so that every worker switches at the same moment.
pub const EPOCH_LEAD: Duration = Duration::from_secs(2);

/// The schedule epoch to follow: the first one from the start time, or a new one when the
/// interval or the device count was edited (or the epoch predates recording the count).
/// `interval` is the spec's interval (its text is what the status shows).
pub fn next_epoch(
    current: Option<ScheduleEpoch>,
    start_time: Option<&str>,
    interval: &crate::crd::Duration,
    devices: u32,
    now: Timestamp,
) -> Option<ScheduleEpoch> {
    let Some(current) = current else {
        return start_time.map(|since| ScheduleEpoch {
            since: since.to_owned(),
            first_seq: 0,
            interval: interval.to_string(),
            devices: Some(devices),
        });
    };
    let old_interval = parse_duration(&current.interval)
        .ok()
        .filter(|d| !d.is_zero());
    if old_interval == Some(interval.get()) && current.devices == Some(devices) {
        return Some(current);
    }
    // An epoch the operator cannot read (edited by hand) is left alone rather than guessed at.
    let (Some(old_interval), Some(old_since)) = (old_interval, parse_time(Some(&current.since)))
    else {
        return Some(current);
    };
    let since = (now + signed(EPOCH_LEAD)).max(old_since);
    let elapsed = Duration::try_from(since.duration_since(old_since)).unwrap_or(Duration::ZERO);
    Some(ScheduleEpoch {
        since: format_time(since),
        first_seq: next_epoch_first_seq(current.first_seq, old_interval, elapsed),
        interval: interval.to_string(),
        devices: Some(devices),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("time")
    }

    fn every(text: &str) -> crate::crd::Duration {
        text.parse().expect("duration")
    }

    /// An epoch of 100 devices.
    fn epoch(since: &str, first_seq: u64, interval: &str) -> ScheduleEpoch {
        ScheduleEpoch {
            since: since.into(),
            first_seq,
            interval: interval.into(),
            devices: Some(100),
        }
    }

    #[test]
    fn the_first_epoch_starts_at_the_start_time_from_zero() {
        let first = next_epoch(
            None,
            Some("2026-11-25T12:00:00Z"),
            &every("1s"),
            100,
            at("2026-11-25T12:00:00Z"),
        );
        assert_eq!(first, Some(epoch("2026-11-25T12:00:00Z", 0, "1s")));
        assert_eq!(
            next_epoch(None, None, &every("1s"), 100, at("2026-11-25T12:00:00Z")),
            None,
            "no start, no epoch"
        );
    }

    #[test]
    fn an_edited_interval_starts_a_later_epoch_numbered_after_the_old_one() {
        let old = epoch("2026-11-25T11:59:00Z", 0, "1s");
        let new = next_epoch(
            Some(old.clone()),
            None,
            &every("250ms"),
            100,
            at("2026-11-25T12:00:00Z"),
        )
        .expect("epoch");
        // 62 s of 1 s readings (0..=62 may be due by the switch), so the new epoch starts at 63.
        assert_eq!(new, epoch("2026-11-25T12:00:02Z", 63, "250ms"));
        // The same interval written differently is no edit.
        let same = next_epoch(
            Some(old.clone()),
            None,
            &every("1000ms"),
            100,
            at("2026-11-25T12:00:00Z"),
        );
        assert_eq!(same, Some(old));
    }

    #[test]
    fn an_epoch_that_cannot_be_read_is_kept_as_it_is() {
        let broken = epoch("not a time", 7, "1s");
        let kept = next_epoch(
            Some(broken.clone()),
            None,
            &every("2s"),
            100,
            at("2026-11-25T12:00:00Z"),
        );
        assert_eq!(kept, Some(broken));
        let bad_interval = epoch("2026-11-25T11:59:00Z", 7, "soon");
        let kept = next_epoch(
            Some(bad_interval.clone()),
            None,
            &every("2s"),
            100,
            at("2026-11-25T12:00:00Z"),
        );
        assert_eq!(kept, Some(bad_interval));
    }

    #[test]
    fn a_new_epoch_never_starts_before_the_current_one() {
        // The current epoch itself starts in the future (an edit right after another).
        let pending = epoch("2026-11-25T12:00:10Z", 40, "1s");
        let new = next_epoch(
            Some(pending),
            None,
            &every("2s"),
            100,
            at("2026-11-25T12:00:00Z"),
        )
        .expect("epoch");
        assert_eq!(new.since, "2026-11-25T12:00:10Z");
        assert!(
            new.first_seq > 40,
            "numbered after the pending epoch: {}",
            new.first_seq
        );
    }

    #[test]
    fn an_edited_device_count_starts_a_later_epoch_numbered_after_the_old_one() {
        let old = epoch("2026-11-25T11:59:00Z", 0, "1s");
        let new = next_epoch(
            Some(old),
            None,
            &every("1s"),
            250,
            at("2026-11-25T12:00:00Z"),
        )
        .expect("epoch");
        let mut want = epoch("2026-11-25T12:00:02Z", 63, "1s");
        want.devices = Some(250);
        assert_eq!(new, want);
    }

    #[test]
    fn an_epoch_that_predates_the_device_count_is_replaced() {
        let mut legacy = epoch("2026-11-25T11:59:00Z", 0, "1s");
        legacy.devices = None;
        let new = next_epoch(
            Some(legacy),
            None,
            &every("1s"),
            100,
            at("2026-11-25T12:00:00Z"),
        )
        .expect("epoch");
        assert_eq!(new, epoch("2026-11-25T12:00:02Z", 63, "1s"));
    }
}
