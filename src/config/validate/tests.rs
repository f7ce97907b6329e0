//! Rules the schema cannot express, each on the smallest spec that breaks it, and the plans a
//! valid spec turns into. (The same rules through the binary: `tests/invalid_simulations.rs`.)

use super::*;
use crate::config::parse_simulation;

pub(super) fn sim(spec: &str) -> DeviceSimulation {
    let mut yaml = String::from(
        "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: t\nspec:\n",
    );
    for line in spec.lines() {
        yaml.push_str("  ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    parse_simulation(&yaml).unwrap_or_else(|e| panic!("fixture does not parse: {e}"))
}

/// The field errors of an invalid spec, as `field: message` lines.
fn errors(spec: &str) -> Vec<String> {
    match validate(&sim(spec)) {
        Err(ConfigError::Invalid(errors)) => errors.iter().map(ToString::to_string).collect(),
        Err(other) => panic!("not a validation error: {other}"),
        Ok(_) => panic!("valid, but expected errors:\n{spec}"),
    }
}

fn one_error(spec: &str, field: &str, says: &str) {
    let errors = errors(spec);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with(&format!("{field}: ")) && errors[0].contains(says),
        "{spec}\n-> {}\nexpected {field}: …{says}…",
        errors[0]
    );
}

const SENSOR: &str = "devices: 1\nprofiles:\n  - name: p\n    sensors:\n";

#[test]
fn a_simulation_needs_a_name() {
    let mut nameless = sim("devices: 1");
    nameless.metadata.name = None;
    let Err(ConfigError::Invalid(errors)) = validate(&nameless) else {
        panic!("a nameless simulation passed");
    };
    assert_eq!(errors[0].field, "metadata.name");
}

#[test]
fn device_id_prefixes_are_limited_in_length_and_characters() {
    one_error(
        "devices: 1\ndeviceIdPrefix: \"a b\"",
        "spec.deviceIdPrefix",
        "A-Z a-z 0-9 . _ : / -",
    );
    let long = format!("devices: 1\ndeviceIdPrefix: {}", "x".repeat(65));
    one_error(&long, "spec.deviceIdPrefix", "must be 1 to 64 characters");
}

#[test]
fn names_of_profiles_and_sensors_are_bounded_and_unique() {
    let long = "n".repeat(65);
    one_error(
        &format!("devices: 1\nprofiles:\n  - name: {long}\n    sensors:\n      - type: current\n"),
        "spec.profiles[0].name",
        "must be 1 to 64 characters, got 65",
    );
    one_error(
        "devices: 1\nprofiles:\n  - name: p\n    sensors:\n      - type: current\n  - name: p\n    sensors:\n      - type: current\n",
        "spec.profiles[1].name",
        "used by an earlier profile",
    );
    one_error(
        &format!("{SENSOR}      - type: current\n      - type: current\n"),
        "spec.profiles[0].sensors[1].name",
        "used by an earlier sensor",
    );
    one_error(
        &format!("{SENSOR}      - type: current\n        name: {long}\n"),
        "spec.profiles[0].sensors[0].name",
        "must be 1 to 64 characters",
    );
}

#[test]
fn sensor_values_must_be_finite_and_consistent() {
    // YAML and JSON readers refuse `.nan` already; a spec built in code still meets the rule.
    let mut nan = sim(&format!("{SENSOR}      - type: current\n"));
    nan.spec.profiles[0].sensors[0].mean = Some(f64::NAN);
    let Err(ConfigError::Invalid(errors)) = validate(&nan) else {
        panic!("a NaN mean passed");
    };
    assert_eq!(errors[0].field, "spec.profiles[0].sensors[0].mean");
    assert!(
        errors[0].message.contains("must be a finite number"),
        "{}",
        errors[0]
    );
    one_error(
        &format!("{SENSOR}      - type: current\n        mean: 20\n"),
        "spec.profiles[0].sensors[0].mean",
        "must lie within [min, max] = [0, 10], got 20",
    );
    one_error(
        &format!("{SENSOR}      - type: temperature\n        trendAmplitude: -1\n"),
        "spec.profiles[0].sensors[0].trendAmplitude",
        "must be 0 or more",
    );
    one_error(
        &format!("{SENSOR}      - type: humidity\n        anomalyThreshold: 100\n"),
        "spec.profiles[0].sensors[0].anomalyThreshold",
        "strictly between min (0) and max (100)",
    );
}

#[test]
fn a_switch_takes_a_probability_and_nothing_of_a_normal_sensor() {
    one_error(
        &format!("{SENSOR}      - type: switch\n        mean: 1.5\n"),
        "spec.profiles[0].sensors[0].mean",
        "between 0 and 1",
    );
    one_error(
        &format!("{SENSOR}      - type: switch\n        stddev: 1\n"),
        "spec.profiles[0].sensors[0]",
        "a switch takes only mean",
    );
}

#[test]
fn trend_periods_are_bounded() {
    one_error(
        &format!("{SENSOR}      - type: pressure\n        trendPeriod: 500ms\n"),
        "spec.profiles[0].sensors[0].trendPeriod",
        "between 1s and 31536000s",
    );
    let ok = validate(&sim(&format!(
        "{SENSOR}      - type: pressure\n        trendPeriod: 6h\n"
    )))
    .expect("valid");
    assert_eq!(
        ok.plan.profiles[0].sensors[0].params.trend_period_secs,
        21_600.0
    );
}

#[test]
fn kafka_settings_are_checked_together() {
    let errors = errors(
        "devices: 1\nkafka:\n  bootstrapServers: \"kafka\"\n  topic: \"a topic\"\n  batchSize: 10\n  linger: 11s\n  acks: \"1\"\n  idempotence: true\n  properties:\n    \" \": x\n",
    );
    let fields: Vec<&str> = errors
        .iter()
        .map(|e| e.split(": ").next().unwrap_or(""))
        .collect();
    assert_eq!(
        fields,
        [
            "spec.kafka.bootstrapServers",
            "spec.kafka.topic",
            "spec.kafka.linger",
            "spec.kafka.batchSize",
            "spec.kafka.idempotence",
            "spec.kafka.properties",
        ]
    );
}

#[test]
fn a_valid_spec_becomes_the_engine_and_producer_plans() {
    let v = validate(&sim(
        "devices: 10\ninterval: 1.5s\nduration: 1h\nencoding: protobuf\noverflow: drop\nmaxMessagesPerSecond: 50\ntrend:\n  enabled: false\nkafka:\n  bootstrapServers: \"a:9092, b:9093\"\n  linger: 0s\n  batchSize: 2000\n  compression: zstd\n  properties:\n    socket.timeout.ms: \"1000\"\n",
    ))
    .expect("valid");
    assert_eq!(v.plan.interval, Duration::from_millis(1500));
    assert_eq!(v.plan.duration, Some(Duration::from_secs(3600)));
    assert_eq!(v.plan.encoding, plan::Encoding::Protobuf);
    assert_eq!(v.plan.overflow, plan::Overflow::Drop);
    assert_eq!(v.plan.max_messages_per_second, Some(50));
    assert_eq!(
        v.plan.profiles.len(),
        5,
        "one default profile per sensor type"
    );
    assert!(
        v.plan
            .profiles
            .iter()
            .all(|p| p.sensors[0].params.trend_amplitude == 0.0),
        "trend disabled"
    );
    assert_eq!(v.kafka.bootstrap_servers.as_deref(), Some("a:9092, b:9093"));
    assert_eq!(
        (v.kafka.linger, v.kafka.batch_size),
        (Duration::ZERO, Some(2000))
    );
    assert_eq!(v.kafka.compression, "zstd");
    assert_eq!(v.kafka.properties["socket.timeout.ms"], "1000");
}

#[test]
fn error_categories_are_fixed_words() {
    let invalid = validate(&sim("devices: 0")).unwrap_err();
    assert_eq!(invalid.category(), "invalid_spec");
    let unknown = parse_simulation(
        "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: t\nspec:\n  devices: 1\n  colour: red\n",
    )
    .unwrap_err();
    assert_eq!(unknown.category(), "unknown_field");
    assert!(
        unknown.to_string().contains("spec.colour: unknown field"),
        "{unknown}"
    );
    let parse = parse_simulation("spec: [").unwrap_err();
    assert_eq!(parse.category(), "parse");
    let read = crate::config::load_file(std::path::Path::new("/nonexistent/sim.yaml")).unwrap_err();
    assert_eq!(read.category(), "read");
    assert!(
        read.to_string()
            .starts_with("cannot read /nonexistent/sim.yaml"),
        "{read}"
    );
}

#[test]
fn an_empty_or_headerless_document_is_refused_as_a_whole() {
    for (text, says) in [
        ("", "(document)"),
        (
            "kind: DeviceSimulation\nmetadata:\n  name: t\nspec:\n  devices: 1\n",
            "apiVersion: must be devsim.io/v1alpha1",
        ),
        (
            "apiVersion: devsim.io/v1alpha1\nkind: Pod\nmetadata:\n  name: t\nspec:\n  devices: 1\n",
            "kind: must be DeviceSimulation",
        ),
    ] {
        let err = parse_simulation(text).unwrap_err();
        assert!(err.to_string().contains(says), "{text:?} -> {err}");
    }
}

#[test]
fn a_name_that_cannot_label_its_pods_is_refused() {
    let mut long = sim("devices: 1");
    long.metadata.name = Some("n".repeat(45));
    let Err(ConfigError::Invalid(errors)) = validate(&long) else {
        panic!("a 45-character name passed");
    };
    assert_eq!(errors[0].field, "metadata.name");
    assert!(
        errors[0].message.contains("at most 44 characters, got 45"),
        "{}",
        errors[0]
    );
    long.metadata.name = Some("n".repeat(44));
    assert!(validate(&long).is_ok(), "44 characters fit");
}

#[test]
fn worker_quantities_are_checked_as_the_api_server_checks_them() {
    one_error(
        "devices: 1\nworkerResources:\n  limits:\n    cpu: lots\n",
        "spec.workerResources.limits.cpu",
        "\"lots\" is not a quantity",
    );
    one_error(
        "devices: 1\nworkerResources:\n  requests:\n    memory: \"-1Mi\"\n",
        "spec.workerResources.requests.memory",
        "must not be negative",
    );
    one_error(
        "devices: 1\nworkerResources:\n  requests:\n    cpu: \"2\"\n  limits:\n    cpu: 1500m\n",
        "spec.workerResources.requests.cpu",
        "must not exceed the limit (1500m), got 2",
    );
    validate(&sim(
        "devices: 1\nworkerResources:\n  requests:\n    cpu: 250m\n    memory: 64Mi\n  limits:\n    cpu: \"1\"\n    memory: 256Mi\n",
    ))
    .expect("sound quantities are valid");
}

#[test]
fn a_worker_template_may_not_take_what_the_operator_owns() {
    one_error(
        "devices: 1\nworkerTemplate:\n  labels:\n    devsim.io/simulation: other\n",
        "spec.workerTemplate.labels.devsim.io/simulation",
        "the operator's own label",
    );
    one_error(
        "devices: 1\nworkerTemplate:\n  env:\n    - name: RUST_LOG\n      value: debug\n    - name: POD_NAME\n      value: x\n",
        "spec.workerTemplate.env[1].name",
        "POD_NAME is set by the operator",
    );
    one_error(
        "devices: 1\nworkerTemplate:\n  env:\n    - name: \"\"\n",
        "spec.workerTemplate.env[0].name",
        "must not be empty",
    );
    validate(&sim(
        "devices: 1\nworkerTemplate:\n  labels: {team: iot}\n  env:\n    - name: RUST_LOG\n      value: debug\n  hostNetwork: true\n",
    ))
    .expect("labels and variables of the user's own are valid");
}
