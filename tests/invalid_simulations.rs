//! Invalid simulation files: each must fail `devsim run` with exit code 2 and an error that
//! names the field and what is allowed, never a panic.

mod common;

use std::process::Command;

/// (case, spec fragment replacing the valid default, field named, words saying what is allowed)
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "zero devices",
        "devices: 0",
        "spec.devices",
        "between 1 and 1000000000",
    ),
    (
        "too many devices",
        "devices: 1000000001",
        "spec.devices",
        "between 1 and 1000000000",
    ),
    (
        "zero interval",
        "devices: 10\ninterval: 0s",
        "spec.interval",
        "between 10ms and 3600s",
    ),
    (
        "interval in parsecs",
        "devices: 10\ninterval: 5 parsecs",
        "spec.interval",
        "ms, s, m or h",
    ),
    (
        "interval too long",
        "devices: 10\ninterval: 2h",
        "spec.interval",
        "between 10ms and 3600s",
    ),
    (
        "unknown sensor",
        "devices: 10\nprofiles:\n  - name: p\n    sensors:\n      - type: vibration",
        "spec.profiles[0].sensors[0].type",
        "expected one of temperature, humidity, pressure, switch, current",
    ),
    (
        "negative stddev",
        "devices: 10\nprofiles:\n  - name: p\n    sensors:\n      - type: temperature\n        stddev: -1",
        "spec.profiles[0].sensors[0].stddev",
        "0 or more",
    ),
    (
        "min above max",
        "devices: 10\nprofiles:\n  - name: p\n    sensors:\n      - type: current\n        min: 5\n        max: 1",
        "spec.profiles[0].sensors[0].min",
        "less than max",
    ),
    (
        "threshold outside range",
        "devices: 10\nprofiles:\n  - name: p\n    sensors:\n      - type: temperature\n        anomalyThreshold: 80",
        "spec.profiles[0].sensors[0].anomalyThreshold",
        "strictly between min",
    ),
    (
        "switch probability above one",
        "devices: 10\nprofiles:\n  - name: p\n    sensors:\n      - type: switch\n        mean: 1.5",
        "spec.profiles[0].sensors[0].mean",
        "between 0 and 1",
    ),
    (
        "anomaly rate 2",
        "devices: 10\nanomalyRate: 2",
        "spec.anomalyRate",
        "between 0 and 0.1",
    ),
    (
        "unknown compression",
        "devices: 10\nkafka:\n  compression: brotli",
        "spec.kafka.compression",
        "expected one of none, gzip, snappy, lz4, zstd",
    ),
    (
        "unknown encoding",
        "devices: 10\nencoding: avro",
        "spec.encoding",
        "expected one of json, protobuf",
    ),
    (
        "empty topic",
        "devices: 10\nkafka:\n  topic: \"\"",
        "spec.kafka.topic",
        "1 to 249 characters",
    ),
    (
        "bad acks",
        "devices: 10\nkafka:\n  acks: 2",
        "spec.kafka.acks",
        "one of 0, 1, all",
    ),
    (
        "idempotence without acks all",
        "devices: 10\nkafka:\n  acks: 1\n  idempotence: true",
        "spec.kafka.idempotence",
        "requires acks: all",
    ),
    (
        "jitter above half",
        "devices: 10\njitter: 0.9",
        "spec.jitter",
        "between 0 and 0.5",
    ),
    (
        "smoothing of one",
        "devices: 10\nsmoothing: 1",
        "spec.smoothing",
        "between 0 and 0.95",
    ),
    (
        "zero workers",
        "devices: 10\nworkersPerReplica: 0",
        "spec.workersPerReplica",
        "between 1 and 64",
    ),
    (
        "devices as text",
        "devices: many",
        "spec.devices",
        "must be a whole number from 0 to 4294967295",
    ),
    (
        "jitter as text",
        "devices: 10\njitter: lots",
        "spec.jitter",
        "must be a number",
    ),
    (
        "paused as maybe",
        "devices: 10\npaused: maybe",
        "spec.paused",
        "must be true or false",
    ),
    (
        "profiles not a list",
        "devices: 10\nprofiles: 5",
        "spec.profiles",
        "must be a list",
    ),
    (
        "a field given twice",
        "devices: 10\ndevices: 20",
        "spec",
        "duplicate mapping key: devices",
    ),
    (
        "trailing number after a duration (Go refuses it)",
        "devices: 10\ninterval: 1s0",
        "spec.interval",
        "ms, s, m or h",
    ),
    (
        "negative duration",
        "devices: 10\nduration: -5m",
        "spec.duration",
        "ms, s, m or h",
    ),
    (
        "misspelt field",
        "devices: 10\nintervall: 5s",
        "spec.intervall",
        "unknown field",
    ),
    (
        "duplicate profile names",
        "devices: 10\nprofiles:\n  - name: p\n    sensors: [{type: current}]\n  - name: p\n    sensors: [{type: switch}]",
        "spec.profiles[1].name",
        "must be unique",
    ),
    (
        "bad bootstrap servers",
        "devices: 10\nkafka:\n  bootstrapServers: \"kafka\"",
        "spec.kafka.bootstrapServers",
        "host:port",
    ),
    (
        "bad linger",
        "devices: 10\nkafka:\n  linger: 1 fortnight",
        "spec.kafka.linger",
        "ms, s, m or h",
    ),
    (
        "zero rate cap",
        "devices: 10\nmaxMessagesPerSecond: 0",
        "spec.maxMessagesPerSecond",
        "at least 1",
    ),
    (
        "SASL protocol without credentials",
        "devices: 10\nkafka:\n  security:\n    protocol: SASL_SSL",
        "spec.kafka.security.sasl",
        "is required with protocol SASL_SSL",
    ),
    (
        "unknown security protocol",
        "devices: 10\nkafka:\n  security:\n    protocol: TLS",
        "spec.kafka.security.protocol",
        "SASL_PLAINTEXT",
    ),
    (
        "unknown SASL mechanism",
        "devices: 10\nkafka:\n  security:\n    protocol: SASL_SSL\n    sasl:\n      mechanism: GSSAPI\n      username: {secretKeyRef: {name: u, key: u}}\n      password: {secretKeyRef: {name: u, key: p}}",
        "spec.kafka.security.sasl.mechanism",
        "SCRAM-SHA-512",
    ),
    (
        "a password written in the properties",
        "devices: 10\nkafka:\n  properties:\n    sasl.password: hunter2",
        "spec.kafka.properties.sasl.password",
        "is set through spec.kafka.security",
    ),
    (
        "a password written in the resource",
        "devices: 10\nkafka:\n  security:\n    protocol: SASL_SSL\n    sasl:\n      mechanism: PLAIN\n      username: {secretKeyRef: {name: u, key: u}}\n      password: hunter2",
        "spec.kafka.security.sasl.password",
        "must be a map of fields",
    ),
    (
        "a Secret name Kubernetes would refuse",
        "devices: 10\nkafka:\n  security:\n    protocol: SSL\n    tls:\n      caCertificate: {secretKeyRef: {name: Cluster_CA, key: ca.crt}}",
        "spec.kafka.security.tls.caCertificate.secretKeyRef.name",
        "must be a Secret's name",
    ),
    (
        "a client certificate without its key",
        "devices: 10\nkafka:\n  security:\n    protocol: SSL\n    tls:\n      clientCertificate: {secretKeyRef: {name: tls, key: tls.crt}}",
        "spec.kafka.security.tls",
        "clientCertificate and clientKey go together",
    ),
    (
        "a secret variable in the worker template",
        "devices: 10\nworkerTemplate:\n  env:\n    - {name: DEVSIM_KAFKA_SASL_PASSWORD, value: hunter2}",
        "spec.workerTemplate.env[0].name",
        "cannot be set here",
    ),
    (
        "an interval too long for any clock (a fuzzing finding: it used to panic)",
        "devices: 10\ninterval: 27777777777777777777777777777777h",
        "spec.interval",
        "ms, s, m or h",
    ),
    (
        "a negative interval",
        "devices: 10\ninterval: -5s",
        "spec.interval",
        "ms, s, m or h",
    ),
    (
        "a number too large for any field",
        "devices: 99999999999999999999999",
        "spec.devices",
        "must be a whole number",
    ),
];

#[test]
fn every_invalid_file_names_its_field_and_exits_2() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (case, body, field, allowed) in CASES {
        let path = dir.path().join("simulation.yaml");
        std::fs::write(&path, common::spec(body)).expect("write the case");
        let output = Command::new(env!("CARGO_BIN_EXE_devsim"))
            .args(["run", "-f"])
            .arg(&path)
            .output()
            .expect("run devsim");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{case}: exit code {:?}, stderr:\n{stderr}",
            output.status.code()
        );
        assert!(!stderr.contains("panicked"), "{case}: panicked:\n{stderr}");
        // A secret written where it does not belong is refused without being repeated.
        assert!(
            !stderr.contains("hunter2"),
            "{case}: the value shows:\n{stderr}"
        );
        assert!(
            stderr.contains(field),
            "{case}: error does not name {field}:\n{stderr}"
        );
        assert!(
            stderr.contains(allowed),
            "{case}: error does not say {allowed:?}:\n{stderr}"
        );
    }
}

#[test]
fn a_wrong_kind_or_api_version_is_refused() {
    for (yaml, field) in [
        (
            common::spec("devices: 1").replace("kind: DeviceSimulation", "kind: Deployment"),
            "kind",
        ),
        (
            common::spec("devices: 1").replace("devsim.io/v1alpha1", "devsim.io/v2"),
            "apiVersion",
        ),
    ] {
        let err = devsim::config::parse_simulation(&yaml).expect_err("must be refused");
        assert!(err.to_string().starts_with(field), "{err}");
    }
}

#[test]
fn a_file_that_is_not_utf8_or_is_huge_is_refused_without_reading_it_all() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let binary = dir.path().join("binary.yaml");
    let mut bytes = common::spec("devices: 1").into_bytes();
    bytes.extend_from_slice(&[0xff, 0xfe, 0x00]);
    std::fs::write(&binary, &bytes).expect("write");
    let huge = dir.path().join("huge.yaml");
    let file = std::fs::File::create(&huge).expect("create");
    // 100 MB, sparse: nothing is written to the disk.
    file.set_len(100_000_000).expect("size");
    for (path, says) in [
        (&binary, "is not UTF-8 text (invalid byte at offset"),
        (&huge, "is larger than 1536 KiB"),
    ] {
        let started = std::time::Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_devsim"))
            .args(["run", "-f"])
            .arg(path)
            .output()
            .expect("run devsim");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_devsim"))
        .args(["run", "-f", "/nonexistent/simulation.yaml"])
        .output()
        .expect("run devsim");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("cannot read /nonexistent/simulation.yaml")
    );
}

#[test]
fn several_errors_are_reported_together() {
    let sim =
        devsim::config::parse_simulation(&common::spec("devices: 0\njitter: 3\nanomalyRate: 1"))
            .expect("parses");
    let err = devsim::config::validate(&sim)
        .expect_err("invalid")
        .to_string();
    for field in ["spec.devices", "spec.jitter", "spec.anomalyRate"] {
        assert!(err.contains(field), "{field} missing from:\n{err}");
    }
}
