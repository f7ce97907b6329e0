//! Kubernetes resource quantities (`500m`, `2`, `256Mi`, `1.5G`, `1e3`), as `workerResources`
//! holds them: checked here with the API server's grammar, so that a quantity the StatefulSet
//! would be refused for is an invalid spec instead.

use std::sync::LazyLock;

/// The API server's quantity grammar: a signed decimal, then a binary suffix (Ki … Ei), a
/// decimal suffix (n, u, m, k, M, G, T, P, E) or a decimal exponent (`e3`, `E-2`).
pub const QUANTITY_PATTERN: &str =
    r"^([+-]?)([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$";

static GRAMMAR: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(QUANTITY_PATTERN).expect("QUANTITY_PATTERN is a valid regex")
});

/// A string that is not a Kubernetes quantity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a quantity: expected a number with an optional suffix (m, k, M, G, Ki, Mi, Gi, \
     …), for example \"500m\" or \"256Mi\""
)]
pub struct QuantityError(String);

/// The value of a quantity (cores for CPU, bytes for memory), as a float: precise enough to
/// compare a request with its limit.
pub fn parse_quantity(text: &str) -> Result<f64, QuantityError> {
    let caps = GRAMMAR
        .captures(text)
        .ok_or_else(|| QuantityError(text.to_owned()))?;
    let number: f64 = caps[2]
        .parse()
        .map_err(|_| QuantityError(text.to_owned()))?;
    let sign = if &caps[1] == "-" { -1.0 } else { 1.0 };
    let scale = match caps.get(4).map_or("", |m| m.as_str()) {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent => 10f64.powi(
            exponent[1..]
                .parse::<i32>()
                .map_err(|_| QuantityError(text.to_owned()))?,
        ),
    };
    Ok(sign * number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_forms_kubernetes_writes() {
        for (text, value) in [
            ("2", 2.0),
            ("500m", 0.5),
            ("1.5", 1.5),
            (".5", 0.5),
            ("256Mi", 268_435_456.0),
            ("1Gi", 1_073_741_824.0),
            ("1G", 1e9),
            ("128974848", 128_974_848.0),
            ("129e6", 129e6),
            ("1E-3", 1e-3),
            ("100k", 1e5),
            ("-1", -1.0),
        ] {
            let got = parse_quantity(text).expect(text);
            assert!(
                (got - value).abs() <= value.abs() * 1e-12,
                "{text}: {got} vs {value}"
            );
        }
    }

    #[test]
    fn refuses_what_the_api_server_refuses() {
        for bad in [
            "lots", "", "1 Gi", "1gi", "1mi", "1KB", "Gi", "1.2.3", "1e", "0x10", "1Gi1",
        ] {
            let err = parse_quantity(bad).unwrap_err();
            assert!(
                err.to_string().contains("is not a quantity"),
                "{bad}: {err}"
            );
        }
    }
}
