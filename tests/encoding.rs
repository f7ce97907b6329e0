//! The wire formats: the JSON object's exact shape, and protobuf decoding back to the same reading.

mod common;

use devsim::engine::device::Location;
use devsim::engine::encode::{Encoder, proto};
use devsim::engine::plan::Encoding;
use devsim::engine::reading::{Anomaly, Reading};
use prost::Message;

fn sample_reading<'a>(
    plan: &'a devsim::engine::plan::SimulationPlan,
    values: &'a [f64],
) -> Reading<'a> {
    Reading {
        device_id: "dev-00000042",
        seq: 17,
        timestamp_ms: 1_764_093_600_123,
        simulation: "factory-floor",
        profile: &plan.profiles[0],
        location: Location {
            building: 1,
            floor: 2,
            room: 3,
        },
        values,
        anomaly: Some(Anomaly {
            sensor: 1,
            kind: "too_dry",
        }),
    }
}

fn climate_plan() -> devsim::engine::plan::SimulationPlan {
    common::simulation(&common::spec(
        "devices: 1\nprofiles:\n  - name: climate\n    sensors:\n      - type: temperature\n      - type: humidity\n        name: rh\n",
    ))
    .plan
}

#[test]
fn json_has_the_documented_shape() {
    let plan = climate_plan();
    let values = [24.61, 12.5];
    let mut out = Vec::new();
    Encoder::new(Encoding::Json).encode(&sample_reading(&plan, &values), &mut out);
    let text = String::from_utf8(out).expect("UTF-8");
    assert_eq!(
        text,
        r#"{"deviceId":"dev-00000042","seq":17,"timestamp":1764093600123,"simulation":"factory-floor","profile":"climate","location":{"building":1,"floor":2,"room":3},"values":[{"name":"temperature","type":"temperature","value":24.61,"unit":"°C"},{"name":"rh","type":"humidity","value":12.5,"unit":"%"}],"anomaly":true,"anomalyKind":"too_dry","anomalySensor":"rh"}"#
    );
}

#[test]
fn protobuf_decodes_to_the_same_reading_and_reuse_leaves_no_stale_fields() {
    let plan = climate_plan();
    let mut encoder = Encoder::new(Encoding::Protobuf);
    let mut out = Vec::new();
    let values = [24.61, 12.5];
    encoder.encode(&sample_reading(&plan, &values), &mut out);
    let first = proto::Reading::decode(out.as_slice()).expect("decodes");
    assert_eq!(first.device_id, "dev-00000042");
    assert_eq!(first.seq, 17);
    assert_eq!(first.values.len(), 2);
    assert_eq!(first.values[1].name, "rh");
    assert_eq!(first.values[1].value, 12.5);
    assert!(first.anomaly);
    assert_eq!(first.anomaly_kind, "too_dry");
    assert_eq!(
        first.location,
        Some(proto::Location {
            building: 1,
            floor: 2,
            room: 3
        })
    );

    // The encoder reuses its message: a later reading without an anomaly must not inherit one.
    let mut calm = sample_reading(&plan, &values);
    calm.anomaly = None;
    calm.seq = 18;
    encoder.encode(&calm, &mut out);
    let second = proto::Reading::decode(out.as_slice()).expect("decodes");
    assert!(!second.anomaly);
    assert!(second.anomaly_kind.is_empty() && second.anomaly_sensor.is_empty());
    assert_eq!(second.seq, 18);
}

proptest::proptest! {
    /// The hand-written JSON writer and the serde definition agree byte for byte.
    #[test]
    fn fast_json_matches_serde_json(
        cents in proptest::collection::vec(-1_000_000i64..1_000_000, 2),
        seq in proptest::num::u64::ANY,
        ts in proptest::num::i64::ANY,
        name in "[a-z\"\\\\\u{e9}\u{1}]{1,8}",
        anomalous in proptest::bool::ANY,
    ) {
        let mut plan = climate_plan();
        plan.profiles[0].name = name.clone();
        plan.profiles[0].sensors[1].name = name;
        let values: Vec<f64> = cents.iter().map(|c| devsim::engine::reading::round2(*c as f64 / 100.0)).collect();
        let mut reading = sample_reading(&plan, &values);
        reading.seq = seq;
        reading.timestamp_ms = ts;
        if !anomalous {
            reading.anomaly = None;
        }
        let mut fast = Vec::new();
        Encoder::new(Encoding::Json).encode(&reading, &mut fast);
        let reference = serde_json::to_vec(&reading).expect("serde serialises");
        proptest::prop_assert_eq!(String::from_utf8_lossy(&fast), String::from_utf8_lossy(&reference));
    }
}

/// Any value a sensor can be configured to report, rounded to two decimals as readings are:
/// every magnitude from 1e-16 to 1e16 of either sign, the half-cent rounding edges, and the
/// neighbourhoods of the fixed-point writer's limit (1e13) and of 1e15 (where `f64`s are more
/// than a cent apart).
fn any_reported_value() -> impl proptest::strategy::Strategy<Value = f64> {
    use proptest::prelude::*;
    prop_oneof![
        (-16i32..=16, 1.0f64..10.0, any::<bool>()).prop_map(|(exp, mantissa, negative)| {
            let v = mantissa * 10f64.powi(exp);
            if negative { -v } else { v }
        }),
        (-10_000_000_000i64..10_000_000_000).prop_map(|c| c as f64 / 100.0 + 0.005),
        (-10_000_000_000i64..10_000_000_000).prop_map(|c| c as f64 / 100.0 - 0.005),
        (0.99e13f64..1.01e13).prop_map(|v| v),
        (-1.01e13f64..-0.99e13).prop_map(|v| v),
        (0.999e15f64..1.001e15).prop_map(|v| v),
    ]
    .prop_map(devsim::engine::reading::round2)
}

fn fast_and_reference_json(value: f64) -> (String, String) {
    let plan = climate_plan();
    let values = [value, 50.0];
    let mut reading = sample_reading(&plan, &values);
    reading.anomaly = None;
    let mut fast = Vec::new();
    Encoder::new(Encoding::Json).encode(&reading, &mut fast);
    let reference = serde_json::to_vec(&reading).expect("serde serialises");
    (
        String::from_utf8(fast).expect("UTF-8"),
        String::from_utf8(reference).expect("UTF-8"),
    )
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(5_000))]
    /// Over the whole range of values, negative ones and the rounding edges included, the
    /// fixed-point writer emits exactly serde_json's digits.
    #[test]
    fn fast_json_writes_every_value_as_serde_json_does(value in any_reported_value()) {
        let (fast, reference) = fast_and_reference_json(value);
        proptest::prop_assert_eq!(fast, reference, "value {:?}", value);
    }
}

#[test]
fn signed_zero_tiny_and_huge_values_match_serde_json() {
    for value in [
        0.0,
        -0.0,
        0.01,
        -0.01,
        0.005,
        -0.005,
        1e-300,
        9.999_999_999_999_99e14,
        1e15,
        -1e15,
        1e300,
        f64::MAX,
    ] {
        let (fast, reference) = fast_and_reference_json(devsim::engine::reading::round2(value));
        assert_eq!(fast, reference, "value {value:?}");
    }
}
