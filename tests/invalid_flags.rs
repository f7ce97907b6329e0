//! Every command's bad flags, on the real binary: exit 2 before anything starts (no Kafka, no
//! Kubernetes API is reached: KUBECONFIG points nowhere), an error naming the flag and saying
//! what is allowed, no panic, and a planted secret never repeated.

mod common;

use std::process::Command;

const PLANTED: &str = "hunter2-flag";

/// (arguments, words the error must contain).
const CASES: &[(&[&str], &[&str])] = &[
    (
        &["run", "-f", "SIM", "--duration", "5parsecs"],
        &["--duration", "ns, us, ms, s, m or h"],
    ),
    (
        &["run", "-f", "SIM", "--duration", "9999999999999999h"],
        &["--duration", "11 digits"],
    ),
    (
        &["run", "-f", "SIM", "--report-every", "often"],
        &["--report-every", "0 turns them off"],
    ),
    (
        &["run", "-f", "SIM", "--report-every=-1"],
        &["--report-every", "seconds"],
    ),
    (
        &["run", "-f", "SIM", "--metrics-addr", "nowhere"],
        &["--metrics-addr", "127.0.0.1:9400"],
    ),
    (
        &["run", "-f", "SIM", "--secrets-dir", "/nonexistent"],
        &["--secrets-dir", "not a directory"],
    ),
    (
        &["run", "-f", "SIM", "--frobnicate"],
        &["unexpected argument '--frobnicate'"],
    ),
    (&["run"], &["--file"]),
    (
        &["run", "-f", "SIM", "--shard", "1"],
        &["--shard", "spec.replicas is 1", "allowed 0 to 0"],
    ),
    (&["run", "-f", "SIM", "--shard", "first"], &["--shard"]),
    (
        &["verify", "--brokers", "B", "--encoding", "xml"],
        &["--encoding", "json, protobuf"],
    ),
    (
        &["verify", "--brokers", "B", "--until-idle", "forever"],
        &["--until-idle", "250ms"],
    ),
    (
        &["verify", "--brokers", "B", "--timeout", "1 minute"],
        &["--timeout"],
    ),
    (
        &["verify", "--brokers", "B", "--max-missing=-1"],
        &["--max-missing"],
    ),
    (
        &["verify", "--brokers", "B", "--secrets-dir", "/nonexistent"],
        &["--secrets-dir"],
    ),
    (&["verify"], &["--brokers"]),
    (&["operator", "--worker-env", "not json"], &["--worker-env"]),
    (
        &[
            "operator",
            "--worker-env",
            r#"[{"name":"DEVSIM_KAFKA_SASL_PASSWORD","value":"hunter2-flag"}]"#,
        ],
        &[
            "--worker-env",
            "DEVSIM_KAFKA_SASL_PASSWORD",
            "cannot be overridden",
        ],
    ),
    (
        &["operator", "--worker-env", r#"[{"nam":"A"}]"#],
        &["--worker-env", "name"],
    ),
    (
        &[
            "operator",
            "--worker-resources",
            r#"{"limits":{"cpu":"lots"}}"#,
        ],
        &["--worker-resources.limits.cpu", "quantity"],
    ),
    (
        &[
            "operator",
            "--worker-resources",
            r#"{"requests":{"memory":"2Gi"},"limits":{"memory":"1Gi"}}"#,
        ],
        &[
            "--worker-resources.requests.memory",
            "must not exceed the limit (1Gi)",
        ],
    ),
    (
        &["operator", "--worker-resources", r#"{"limitz":{}}"#],
        &["--worker-resources", "unknown field `limitz`"],
    ),
    (
        &[
            "operator",
            "--worker-security-context",
            r#"{"runAsUser":"root"}"#,
        ],
        &["--worker-security-context", "runAsUser"],
    ),
    (
        &["operator", "--worker-image-pull-policy", "Sometimes"],
        &["--worker-image-pull-policy", "IfNotPresent"],
    ),
    (
        &["operator", "--metrics-addr", "localhost:8080"],
        &["--metrics-addr", "host name"],
    ),
    (
        &[
            "worker",
            "--simulation",
            "s",
            "--namespace",
            "d",
            "--pod-name",
            "plant-workers-x",
        ],
        &["--pod-name", "ordinal"],
    ),
    (
        &[
            "worker",
            "--simulation",
            "s",
            "--namespace",
            "d",
            "--pod-name",
            "p-0",
            "--report-every",
            "10ms",
        ],
        &["--report-every", "100ms"],
    ),
    (
        &[
            "worker",
            "--simulation",
            "s",
            "--namespace",
            "d",
            "--pod-name",
            "p-0",
            "--handoff-timeout",
            "soon",
        ],
        &["--handoff-timeout"],
    ),
    (
        &["worker", "--simulation", "s", "--namespace", "d"],
        &["--pod-name"],
    ),
    (
        &["bench", "-f", "SIM", "--rounds", "0"],
        &["--rounds", "1..=20"],
    ),
    (
        &["bench", "-f", "SIM", "--duration", "500ms"],
        &["--duration", "1s or more"],
    ),
    (
        &["bench", "-f", "SIM", "--duration", "5parsecs"],
        &["--duration", "ns, us, ms, s, m or h"],
    ),
    (
        &["bench", "-f", "SIM", "--secrets-dir", "/nonexistent"],
        &["--secrets-dir", "not a directory"],
    ),
    (&["bench", "--rounds", "2"], &["--file"]),
    (
        &["broker", "--partitions", "0"],
        &["--partitions", "1..=1000"],
    ),
    (&["broker", "--brokers", "99"], &["--brokers", "1..=16"]),
    (
        &["crd", "--output", "x"],
        &["unexpected argument '--output'"],
    ),
];

#[test]
fn every_bad_flag_names_itself_and_exits_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = dir.path().join("sim.yaml");
    std::fs::write(&sim, common::spec("devices: 10\n")).expect("write");
    let sim = sim.to_str().expect("UTF-8");
    let mut failures = Vec::new();
    for (args, says) in CASES {
        let args: Vec<&str> = args
            .iter()
            .map(|a| match *a {
                "SIM" => sim,
                "B" => "127.0.0.1:1",
                other => other,
            })
            .collect();
        let started = std::time::Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_devsim"))
            .args(&args)
            .env("KUBECONFIG", "/nonexistent")
            .env_remove("POD_NAME")
            .env_remove("POD_NAMESPACE")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .output()
            .expect("run devsim");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let wrong = if output.status.code() != Some(2) {
            Some(format!("exit {:?}", output.status.code()))
        } else if let Some(missing) = says.iter().find(|s| !stderr.contains(*s)) {
            Some(format!("no `{missing}`"))
        } else if stderr.contains("panicked") {
            Some("panicked".to_owned())
        } else if stderr.contains(PLANTED) || stdout.contains(PLANTED) {
            Some("repeats the secret".to_owned())
        } else if started.elapsed() > std::time::Duration::from_secs(5) {
            Some(format!("took {:?}", started.elapsed()))
        } else {
            None
        };
        if let Some(wrong) = wrong {
            failures.push(format!("devsim {}: {wrong}:\n{stderr}", args.join(" ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("{} bad command lines refused", CASES.len());
}
