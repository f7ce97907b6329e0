//! The timestamp strings of the status (`startTime`, `schedule.since`, shard `updated` and
//! `releasedAt`): RFC 3339, written by the operator and read by the workers, so both sides use
//! these two functions.

use k8s_openapi::jiff::{Timestamp, Unit};

/// RFC 3339 with milliseconds, the precision schedules are anchored with.
pub fn format_time(t: Timestamp) -> String {
    t.round(Unit::Millisecond).unwrap_or(t).to_string()
}

/// Parses an RFC 3339 timestamp of the status (any precision, nanoseconds included); `None`
/// when absent or malformed.
pub fn parse_time(text: Option<&str>) -> Option<Timestamp> {
    text?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_to_the_millisecond_and_read_back_exactly() {
        let t: Timestamp = "2026-11-25T12:00:00.123456789Z".parse().expect("time");
        assert_eq!(format_time(t), "2026-11-25T12:00:00.123Z");
        let back = parse_time(Some(&format_time(t))).expect("parses");
        assert_eq!(back.as_millisecond(), t.as_millisecond());
        // Nanosecond cuts (`releasedAt`) keep their precision when read.
        let cut = parse_time(Some("2026-11-25T12:00:00.000000001Z")).expect("parses");
        assert_eq!(cut.subsec_nanosecond(), 1);
    }

    #[test]
    fn absent_or_malformed_times_read_as_none() {
        assert_eq!(parse_time(None), None);
        assert_eq!(parse_time(Some("yesterday")), None);
        assert_eq!(parse_time(Some("")), None);
    }
}
