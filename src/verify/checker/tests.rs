//! The checker on hand-made message sequences: every kind of problem it must find, and none
//! it must not.

use super::*;

/// A reading of `device` number `seq`, as `devsim run` encodes it, with one temperature value.
fn reading(device: u32, seq: u64, temperature: f64) -> (String, Vec<u8>) {
    let id = format!("dev-{device:08}");
    let json = format!(
        r#"{{"deviceId":"{id}","seq":{seq},"timestamp":{},"simulation":"t","profile":"temperature","location":{{"building":0,"floor":0,"room":0}},"values":[{{"name":"temperature","type":"temperature","value":{temperature},"unit":"°C"}}],"anomaly":false,"anomalyKind":null,"anomalySensor":null}}"#,
        1_764_000_000_000u64 + seq * 1000
    );
    (id, json.into_bytes())
}

/// Feeds `(partition, device, seq)` messages with in-range values and keys equal to the IDs.
fn check(messages: &[(i32, u32, u64)]) -> VerifyReport {
    let mut checker = StreamChecker::new(Encoding::Json, Ranges::default());
    for &(partition, device, seq) in messages {
        let (key, payload) = reading(device, seq, 21.5);
        checker.observe(partition, Some(key.as_bytes()), &payload);
    }
    checker.finish()
}

#[test]
fn a_complete_stream_of_several_devices_is_clean() {
    let messages: Vec<_> = (0..5)
        .flat_map(|seq| (0..3).map(move |d| (d as i32, d, seq)))
        .collect();
    let report = check(&messages);
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        (report.messages, report.devices, report.missing),
        (15, 3, 0)
    );
    assert!(report.examples.is_empty() && report.gap_examples.is_empty());
}

#[test]
fn a_repeated_sequence_number_is_a_duplicate() {
    let report = check(&[(0, 1, 0), (0, 1, 1), (0, 1, 1), (0, 1, 2)]);
    assert_eq!(
        (report.duplicates, report.missing, report.reordered),
        (1, 0, 0)
    );
    assert!(!report.is_clean());
    assert_eq!(report.examples, ["dev-00000001 seq 1 seen twice"]);
}

#[test]
fn gaps_are_counted_and_listed_but_do_not_make_a_stream_unclean() {
    let report = check(&[(0, 7, 0), (0, 7, 1), (0, 7, 5), (0, 7, 6), (0, 7, 9)]);
    assert_eq!(report.missing, 3 + 2);
    assert_eq!(
        report.gap_examples,
        [
            "dev-00000007: seq 2..=4 (3 missing)",
            "dev-00000007: seq 7..=8 (2 missing)"
        ]
    );
    assert!(
        report.is_clean(),
        "a gap alone is what a drop policy or a crash leaves"
    );
}

#[test]
fn a_late_message_filling_a_gap_is_reordered_not_duplicated() {
    let report = check(&[(0, 2, 0), (0, 2, 4), (0, 2, 2)]);
    assert_eq!((report.reordered, report.duplicates), (1, 0));
    // 1 and 3 remain missing: the late 2 split the gap in two.
    assert_eq!(report.missing, 2);
    assert_eq!(
        report.gap_examples,
        [
            "dev-00000002: seq 1..=1 (1 missing)",
            "dev-00000002: seq 3..=3 (1 missing)"
        ]
    );
}

#[test]
fn a_message_before_the_first_seen_is_reordered_and_the_span_between_is_missing() {
    let report = check(&[(0, 3, 5), (0, 3, 6), (0, 3, 2)]);
    assert_eq!(report.reordered, 1);
    assert_eq!(report.missing, 2, "3 and 4 were never seen");
    // Seen once more, the early one is a duplicate.
    let again = check(&[(0, 3, 5), (0, 3, 2), (0, 3, 2)]);
    assert_eq!((again.reordered, again.duplicates), (1, 1));
}

#[test]
fn a_device_moving_between_partitions_is_a_violation() {
    let report = check(&[(0, 4, 0), (1, 4, 1), (1, 4, 2)]);
    assert_eq!(report.partition_violations, 2);
    assert_eq!(report.examples[0], "dev-00000004 in partition 1 and 0");
    assert!(!report.is_clean());
}

#[test]
fn undecodable_messages_wrong_keys_and_values_out_of_range_are_reported() {
    let mut checker = StreamChecker::new(Encoding::Json, Ranges::default());
    checker.observe(0, Some(b"x"), b"not json");
    let (_, payload) = reading(5, 0, 21.5);
    checker.observe(0, Some(b"dev-99999999"), &payload);
    let (key, too_hot) = reading(6, 0, 61.0);
    checker.observe(0, Some(key.as_bytes()), &too_hot);
    let report = checker.finish();
    assert_eq!(
        (
            report.undecodable,
            report.key_mismatches,
            report.out_of_range
        ),
        (1, 1, 1)
    );
    assert!(report.examples[0].starts_with("partition 0: undecodable message: JSON:"));
    assert!(
        report.examples[2].contains("temperature = 61 outside [-10, 60]"),
        "{:?}",
        report.examples
    );
    assert_eq!(report.messages, 3);
}

#[test]
fn ranges_come_from_the_plan_before_the_table() {
    let plan = crate::config::validate(
        &crate::config::parse_simulation(
            "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: t\nspec:\n  devices: 1\n  profiles:\n    - name: temperature\n      sensors:\n        - type: temperature\n          min: 0\n          max: 30\n          mean: 20\n          anomalyThreshold: 28\n",
        )
        .expect("parses"),
    )
    .expect("valid")
    .plan;
    let mut checker = StreamChecker::new(Encoding::Json, Ranges::from_plan(&plan));
    let (key, warm) = reading(0, 0, 45.0); // within the table's range, beyond this plan's
    checker.observe(0, Some(key.as_bytes()), &warm);
    assert_eq!(checker.finish().out_of_range, 1);
}

#[test]
fn examples_are_capped_whatever_the_number_of_problems() {
    let messages: Vec<_> = (0..100).map(|_| (0, 1, 0)).collect();
    let report = check(&messages);
    assert_eq!(report.duplicates, 99);
    assert_eq!(report.examples.len(), EXAMPLES);
}
