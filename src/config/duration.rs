//! Duration strings as Kubernetes and Go write them: `250ms`, `5s`, `1.5m`, `1h30m`.

use std::time::Duration;

/// Parses a duration string made of one or more `<number><unit>` parts, unit `ms`, `s`, `m` or
/// `h`. Returns a human-readable reason on failure.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let expected =
        "expected a number followed by ms, s, m or h, for example \"250ms\", \"5s\" or \"1h30m\"";
    if text.is_empty() {
        return Err(format!("empty duration: {expected}"));
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_len);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("invalid duration {text:?}: {expected}"))?;
        let (unit_secs, unit_len) = if tail.starts_with("ms") {
            (0.001, 2)
        } else if tail.starts_with('s') {
            (1.0, 1)
        } else if tail.starts_with('m') {
            (60.0, 1)
        } else if tail.starts_with('h') {
            (3600.0, 1)
        } else {
            return Err(format!("invalid duration {text:?}: {expected}"));
        };
        total += value * unit_secs;
        rest = &tail[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| format!("invalid duration {text:?}: {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_users_write() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in [
            "",
            "5",
            "5 parsecs",
            "5parsecs",
            "s",
            "-1s",
            "1.2.3s",
            "5 s",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("ms, s, m or h"), "{bad}: {err}");
        }
    }
}
