//! JSON encoding written directly into the output buffer.
//!
//! serde_json costs about 230 ns a reading here, more than generating it; this writer emits the
//! same bytes as the serde definition in `json_serde.rs` at a fraction of that, because the shape
//! is fixed, integers go through `itoa`, and values (already rounded to two decimals) are written
//! as fixed-point decimals instead of through a general float formatter.

use crate::engine::reading::Reading;

/// Writes a reading as one JSON object:
/// `{"deviceId","seq","timestamp","simulation","profile","location":{..},"values":[..],
/// "anomaly","anomalyKind","anomalySensor"}`.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonEncoder;

impl JsonEncoder {
    /// Appends the reading's JSON to `out`.
    pub fn encode(&self, r: &Reading<'_>, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"deviceId\":");
        push_string(out, r.device_id);
        out.extend_from_slice(b",\"seq\":");
        push_integer(out, r.seq);
        out.extend_from_slice(b",\"timestamp\":");
        push_integer(out, r.timestamp_ms);
        out.extend_from_slice(b",\"simulation\":");
        push_string(out, r.simulation);
        out.extend_from_slice(b",\"profile\":");
        push_string(out, &r.profile.name);
        out.extend_from_slice(b",\"location\":{\"building\":");
        push_integer(out, r.location.building);
        out.extend_from_slice(b",\"floor\":");
        push_integer(out, r.location.floor);
        out.extend_from_slice(b",\"room\":");
        push_integer(out, r.location.room);
        out.extend_from_slice(b"},\"values\":[");
        for (i, (sensor, value)) in r.profile.sensors.iter().zip(r.values).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"name\":");
            push_string(out, &sensor.name);
            out.extend_from_slice(b",\"type\":");
            push_string(out, sensor.kind.as_str());
            out.extend_from_slice(b",\"value\":");
            push_value(out, *value);
            out.extend_from_slice(b",\"unit\":");
            push_string(out, sensor.kind.unit());
            out.push(b'}');
        }
        match r.anomaly {
            None => out.extend_from_slice(
                b"],\"anomaly\":false,\"anomalyKind\":null,\"anomalySensor\":null}",
            ),
            Some(a) => {
                out.extend_from_slice(b"],\"anomaly\":true,\"anomalyKind\":");
                push_string(out, a.kind);
                out.extend_from_slice(b",\"anomalySensor\":");
                push_string(out, &r.profile.sensors[a.sensor].name);
                out.push(b'}');
            }
        }
    }
}

#[inline]
fn push_integer(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A JSON string; names almost never need escaping, so check first and copy.
#[inline]
fn push_string(out: &mut Vec<u8>, s: &str) {
    if s.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b != 0x7f)
    {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).expect("writing a string into a Vec cannot fail");
    }
}

/// Largest magnitude written as fixed point. Below it, neighbouring `f64`s lie less than half a
/// cent apart (the spacing at 1e13 is 2^-9), so the two-decimal form is the one shortest
/// decimal that reads back to the value, which is what serde_json writes. Above it a value may
/// not have two exact decimals (999999999999999.04 reads back as 999999999999999.0), so the
/// general formatter takes over; the differential test in `tests/encoding.rs` covers both.
const FIXED_POINT_LIMIT: f64 = 1e13;

/// A value rounded to two decimals, written as the shortest decimal that reads back to it,
/// which is what serde_json writes for such a value: `24.61`, `12.5`, `3.0`, `-0.05`.
#[inline]
fn push_value(out: &mut Vec<u8>, value: f64) {
    if !value.is_finite() || value.abs() >= FIXED_POINT_LIMIT {
        serde_json::to_writer(&mut *out, &value).expect("writing a number into a Vec cannot fail");
        return;
    }
    let cents = (value * 100.0).round() as i64;
    if cents < 0 || (cents == 0 && value.is_sign_negative()) {
        out.push(b'-');
    }
    let cents = cents.unsigned_abs();
    push_integer(out, cents / 100);
    let fraction = cents % 100;
    out.push(b'.');
    if fraction == 0 {
        out.push(b'0');
    } else {
        out.push(b'0' + (fraction / 10) as u8);
        if fraction % 10 != 0 {
            out.push(b'0' + (fraction % 10) as u8);
        }
    }
}
