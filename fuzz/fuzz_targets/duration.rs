//! Any text as a duration: a value or an error, never a panic; a value read back from its
//! own whole-nanosecond spelling is the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = devsim::crd::parse_duration(text)
        && d.as_nanos() <= i64::MAX as u128
    {
        let again = devsim::crd::parse_duration(&format!("{}ns", d.as_nanos()));
        assert_eq!(again.ok(), Some(d), "{text:?}");
    }
});
