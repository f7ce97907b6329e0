//! Duration fields (`interval`, `duration`, `kafka.linger`, `trendPeriod`) in Go's
//! `time.ParseDuration` grammar, the one Kubernetes users write everywhere (`250ms`, `1.5s`,
//! `1h30m`).
//!
//! One grammar for both readers of a spec: [`DURATION_PATTERN`] is the schema's `pattern`, so
//! the API server refuses what `devsim run -f` refuses, and the same pattern gates parsing here.
//! The value itself comes from [`kube::core::Duration`] (Go's units and arithmetic). Negative
//! durations, which Go allows, are not in the pattern: no devsim field can be negative.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// Go's duration grammar without a sign: `0`, or one or more `<decimal><unit>` parts, where a
/// decimal has digits before or after its point and the unit is ns, us, µs, μs, ms, s, m or h.
/// At most 11 digits before a point (and [`DURATION_MAX_LENGTH`] characters in all) bound the
/// value, below 10^15 s (about 31.7 million years): kube's parser, which does the reading, panics
/// on a value too large for `std::time::Duration` (found by fuzzing:
/// `27777777777777777777777777777777h`), and the operator cannot read a simulation whose
/// duration it cannot parse, so the API server must refuse what the parser would.
pub const DURATION_PATTERN: &str =
    r"^(0|(([0-9]{1,11}(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$";

/// Longest duration text, in characters: with 11 digits before a point, two `h` parts of 12
/// characters and one of 8 at most, 7.2·10^14 s in all.
pub const DURATION_MAX_LENGTH: usize = 32;

static GRAMMAR: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(DURATION_PATTERN).expect("DURATION_PATTERN is a valid regex")
});

/// A duration as written in a spec: the user's text, kept for display and round trips, and its
/// value.
#[derive(Clone, PartialEq, Eq)]
pub struct Duration {
    text: String,
    value: std::time::Duration,
}

/// A string that is not a duration in [`DURATION_PATTERN`]'s grammar.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {0:?}: expected a number followed by a unit (ns, us, ms, s, m or h), \
     for example \"250ms\", \"1.5s\" or \"1h30m\", at most 32 characters and 11 digits \
     before a point"
)]
pub struct DurationError(String);

/// Parses a duration string (a spec field, a status field or a command-line flag) into its
/// value, in the one grammar of [`DURATION_PATTERN`].
pub fn parse_duration(text: &str) -> Result<std::time::Duration, DurationError> {
    text.parse::<Duration>().map(|d| d.get())
}

impl Duration {
    /// The value.
    pub fn get(&self) -> std::time::Duration {
        self.value
    }

    /// The text as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.chars().count() > DURATION_MAX_LENGTH || !GRAMMAR.is_match(text) {
            return Err(DurationError(text.to_owned()));
        }
        let value = text
            .parse::<kube::core::Duration>()
            .map_err(|_| DurationError(text.to_owned()))?;
        Ok(Self {
            text: text.to_owned(),
            value: value.into(),
        })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

impl schemars::JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "maxLength": DURATION_MAX_LENGTH,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration as Std;

    /// Fuzzing found these: kube's parser panicked on them. Refused now, with the usual error.
    #[test]
    fn durations_too_long_for_any_clock_are_refused_not_a_panic() {
        for text in [
            "27777777777777777777777777777777h",
            "99999999999999999999999999999999999999999s",
            "1000000000000h",
            "600000000000000000m",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
        assert_eq!(parse("1000000h"), Ok(Std::from_secs(3_600_000_000)));
    }

    fn parse(text: &str) -> Result<Std, DurationError> {
        text.parse::<Duration>().map(|d| d.get())
    }

    #[test]
    fn reads_what_go_reads() {
        for (text, expected) in [
            ("250ms", Std::from_millis(250)),
            ("5s", Std::from_secs(5)),
            ("1.5m", Std::from_secs(90)),
            ("1h30m", Std::from_secs(5400)),
            (".5s", Std::from_millis(500)),
            ("1.s", Std::from_secs(1)),
            ("1us", Std::from_micros(1)),
            ("1µs", Std::from_micros(1)),
            ("1μs", Std::from_micros(1)),
            ("100ns", Std::from_nanos(100)),
            ("2h45m30.5s", Std::from_millis(9_930_500)),
            ("0", Std::ZERO),
            ("0s", Std::ZERO),
        ] {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn refuses_what_go_refuses_and_negatives() {
        for bad in [
            "", "5", "00", "5 s", "5parsecs", "s", ".s", "1.2.3s", "1s0", "1e3s", "-1s", "+1s",
            "+-1s", "1_000s", " 5s", "5s ", "1d", "infs", "NaNs",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.to_string().contains("ns, us, ms, s, m or h"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn keeps_the_text_as_written_through_serde() {
        let d: Duration = serde_json::from_str("\"1h30m\"").expect("parses");
        assert_eq!(d.as_str(), "1h30m");
        assert_eq!(serde_json::to_string(&d).expect("serialises"), "\"1h30m\"");
        let err = serde_json::from_str::<Duration>("\"1 hour\"").unwrap_err();
        assert!(
            err.to_string().contains("invalid duration \"1 hour\""),
            "{err}"
        );
    }

    #[test]
    fn the_schema_carries_the_pattern_the_parser_uses() {
        let schema = schemars::schema_for!(Duration);
        assert_eq!(
            schema.get("pattern"),
            Some(&serde_json::json!(DURATION_PATTERN))
        );
        assert_eq!(
            schema.get("maxLength"),
            Some(&serde_json::json!(DURATION_MAX_LENGTH))
        );
    }

    /// A duration written part by part, with the value each part should contribute.
    fn written() -> impl Strategy<Value = (String, Std)> {
        let unit = prop_oneof![
            Just(("ns", 1u64)),
            Just(("us", 1_000)),
            Just(("ms", 1_000_000)),
            Just(("s", 1_000_000_000)),
            Just(("m", 60_000_000_000)),
            Just(("h", 3_600_000_000_000)),
        ];
        prop::collection::vec((0u64..10_000, 0u64..1000, unit), 1..4).prop_map(|parts| {
            let mut text = String::new();
            // Exact, in thousandths of a nanosecond.
            let mut milli_nanos = 0u128;
            for (whole, millis, (unit, scale)) in parts {
                text.push_str(&format!("{whole}.{millis:03}{unit}"));
                milli_nanos += u128::from(whole * 1000 + millis) * u128::from(scale);
            }
            let nanos = (milli_nanos + 500) / 1000;
            (text, Std::from_nanos(u64::try_from(nanos).expect("fits")))
        })
    }

    proptest! {
        #[test]
        fn any_well_formed_duration_parses_to_the_sum_of_its_parts((text, expected) in written()) {
            let got = parse(&text).expect("well formed");
            let diff = got.abs_diff(expected);
            // Each part is multiplied and summed in floating point, as Go does: a few ns, or a
            // few parts in 10^16 of the value (an f64 holds 53 bits; 10^-15 is 4.5 of its ulps).
            let tolerance = Std::from_nanos(8).max(expected.mul_f64(1e-15));
            prop_assert!(diff <= tolerance, "{text}: {got:?} vs {expected:?}");
        }

        #[test]
        fn whatever_the_api_server_lets_through_devsim_can_read(
            text in "([0-9]{0,13}[.]?[0-9]{0,3}(ns|us|µs|ms|s|m|h|0)?){1,4}"
        ) {
            // The API server checks the pattern and the length; the parser must then accept it,
            // or the operator could not read the simulation at all.
            if GRAMMAR.is_match(&text) && text.chars().count() <= DURATION_MAX_LENGTH {
                prop_assert!(text.parse::<Duration>().is_ok(), "{}", text);
            }
        }

        #[test]
        fn the_longest_durations_the_schema_admits_are_read(
            parts in prop::collection::vec(1usize..=11, 1..4)
        ) {
            let text: String = parts.iter().map(|digits| "9".repeat(*digits) + "h").collect();
            if text.len() <= DURATION_MAX_LENGTH {
                prop_assert!(text.parse::<Duration>().is_ok(), "{}", text);
            }
        }
    }
}
