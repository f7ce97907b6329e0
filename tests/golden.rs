//! Known-answer test: a fixed seed and spec produce exactly these first readings (device IDs,
//! sequence numbers, timestamps, values, anomalies, JSON bytes and protobuf bytes).
//!
//! Every stream is a pure function of (seed, spec, device, seq), and users rely on that to
//! compare runs. A dependency bump (rand_distr is pre-1.0) or a refactoring that changes any
//! reading fails here, not silently in a user's pipeline. If a change of the streams is
//! intended, regenerate the file with `DEVSIM_BLESS=1 cargo test --test golden` and say so in
//! the commit and the release notes.

mod common;

use std::fmt::Write as _;
use std::sync::Arc;

use devsim::engine::encode::Encoder;
use devsim::engine::plan::Encoding;
use devsim::engine::worker::{Delivery, DeviceWorker};

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/first-readings.txt"
);

/// 2025-11-24T16:00:00Z, the start of the schedule.
const T0_MS: i64 = 1_764_000_000_000;

/// Each reading of the first three seconds of a small, fully featured simulation: two lines,
/// its JSON and its protobuf encoding in hex.
fn first_readings() -> String {
    let plan = common::simulation(&common::spec(
        "devices: 6\nseed: 42\ninterval: 1s\njitter: 0.2\nanomalyRate: 0.1\ntrend:\n  strength: 1\nsmoothing: 0.5\nlocation:\n  buildings: 2\n  floorsPerBuilding: 3\n  roomsPerFloor: 4\n",
    ))
    .plan;
    let blocks = (0..plan.layout().blocks()).collect();
    let mut worker = DeviceWorker::new(Arc::new(plan), T0_MS, blocks, 0);
    let mut json = Encoder::new(Encoding::Json);
    let mut protobuf = Encoder::new(Encoding::Protobuf);
    let mut text = String::new();
    let mut bytes = Vec::new();
    let end_ms = 2_999;
    let mut send = |reading: &devsim::engine::reading::Reading<'_>| {
        bytes.clear();
        json.encode(reading, &mut bytes);
        text.push_str(std::str::from_utf8(&bytes).expect("JSON is UTF-8"));
        text.push('\n');
        bytes.clear();
        protobuf.encode(reading, &mut bytes);
        for b in &bytes {
            write!(text, "{b:02x}").expect("writing to a String");
        }
        text.push('\n');
        Delivery::Accepted
    };
    // Time advances in 1 ms steps, as under the runtime's clock.
    for now_ms in 0..=end_ms {
        worker.poll(now_ms * 1_000_000, usize::MAX, &mut send);
    }
    text
}

#[test]
fn a_fixed_seed_and_spec_produce_exactly_these_readings() {
    let produced = first_readings();
    if std::env::var_os("DEVSIM_BLESS").is_some() {
        std::fs::write(GOLDEN, &produced).expect("write the golden file");
    }
    let expected = std::fs::read_to_string(GOLDEN).expect("the golden file is checked in");
    // 6 devices over 3 s at 1 s, their phases 1/6 s apart, with up to 20 % jitter: 18
    // readings (the last device's third is due at 2.83 s plus its jitter, here under 0.17 s),
    // two lines each, two of them anomalies.
    assert_eq!(
        expected.lines().count(),
        36,
        "the golden file holds 18 readings"
    );
    assert_eq!(expected.matches(r#""anomaly":true"#).count(), 2);
    for (i, (got, want)) in produced.lines().zip(expected.lines()).enumerate() {
        assert_eq!(got, want, "line {} of {GOLDEN} differs", i + 1);
    }
    assert_eq!(produced.lines().count(), expected.lines().count());
}
