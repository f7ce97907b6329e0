//! Any text as a duration: a value or an error, never a panic. A value is one the API server's
//! schema admits (at most DURATION_MAX_LENGTH characters) and far below what a clock can hold,
//! and it reads back the same from a short spelling of its own (whole nanoseconds, or whole
//! seconds).
#![no_main]

use libfuzzer_sys::fuzz_target;

/// A spelling of `d` within the grammar's 11 digits before a point, if it has one.
fn spelling(d: std::time::Duration) -> Option<String> {
    let digits = |n: u128| n.to_string().len();
    if digits(d.as_nanos()) <= 11 {
        Some(format!("{}ns", d.as_nanos()))
    } else if d.subsec_nanos() == 0 && digits(u128::from(d.as_secs())) <= 11 {
        Some(format!("{}s", d.as_secs()))
    } else {
        None
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = devsim::crd::parse_duration(text) {
        assert!(text.chars().count() <= devsim::crd::DURATION_MAX_LENGTH, "{text:?}");
        assert!(d.as_secs() < 1_000_000_000_000_000, "{text:?}: {d:?}");
        if let Some(again) = spelling(d) {
            let read = devsim::crd::parse_duration(&again);
            assert_eq!(read.ok(), Some(d), "{text:?} spelt {again:?}");
        }
    }
});
