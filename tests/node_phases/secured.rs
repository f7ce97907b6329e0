//! Scenario: a simulation that authenticates to Kafka with SCRAM-SHA-512, its password in a
//! Secret. tansu (with authentication, on the node's bridge) is the broker. The kubelet fills
//! the workers' environment from the Secret; a reference to a missing key and a wrong password
//! each make the status say so; the planted password appears in no status, event, log line or
//! /metrics answer.

use std::time::{Duration, Instant};

use devsim::crd::DeviceSimulation;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};

use super::{Node, OPERATOR_NS, SIM_NS};
use crate::common::http_get;
use crate::common::tansu::{Storage, Tansu};
use crate::e2e_support::eventually;

/// The password in the Secret: recognisable, so that a leak anywhere is found.
const PLANTED: &str = "planted-node-Pa55-4b1d9e";
const TOPIC: &str = "secured";

/// A simulation of 50 devices every 200 ms into TOPIC, authenticating with the Secret
/// `secret`'s keys `username` and `password_key`.
fn secured(name: &str, bootstrap: &str, secret: &str, password_key: &str) -> String {
    format!(
        "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: {name}\n  namespace: {SIM_NS}\nspec:\n  devices: 50\n  interval: 200ms\n  replicas: 1\n  kafka:\n    bootstrapServers: \"{bootstrap}\"\n    topic: {TOPIC}\n    partitions: 3\n    security:\n      protocol: SASL_PLAINTEXT\n      sasl:\n        mechanism: SCRAM-SHA-512\n        username: {{secretKeyRef: {{name: {secret}, key: username}}}}\n        password: {{secretKeyRef: {{name: {secret}, key: {password_key}}}}}\n"
    )
}

/// tansu on the node's bridge with TOPIC and the user `devsim` (password PLANTED), restarted
/// with authentication on (its CLI cannot authenticate, so users come first).
fn scram_broker(gateway: &str, data: &std::path::Path) -> Tansu {
    let storage = Storage::Sqlite(data.to_owned());
    let open = Tansu::start_on(gateway, &storage, None, false);
    open.create_topic(TOPIC, 3);
    open.create_user("devsim", PLANTED, "scram512");
    open.stop();
    Tansu::start_on(gateway, &storage, None, true)
}

pub async fn secured_kafka(n: &mut Node) {
    let gateway = std::fs::read_to_string(n.cluster.dir.path().join("gateway"))
        .expect("start-node.sh wrote the bridge's address");
    let data = tempfile::tempdir().expect("tansu's folder");
    let tansu = scram_broker(gateway.trim(), data.path());
    let bootstrap = tansu.listener.clone();
    n.cluster.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "kafka-user",
        "-n",
        SIM_NS,
        "--from-literal=username=devsim",
        &format!("--from-literal=password={PLANTED}"),
        "--from-literal=wrong=not-the-password",
    ]);
    let sims: Api<DeviceSimulation> = Api::namespaced(n.client.clone(), SIM_NS);
    let applied = Instant::now();
    for (name, key) in [
        ("secured", "password"),
        ("no-such-key", "nope"),
        ("wrong-password", "wrong"),
    ] {
        let (ok, text) = n
            .cluster
            .apply(&secured(name, &bootstrap, "kafka-user", key));
        assert!(ok, "{text}");
    }

    let delivered = eventually(
        "the SCRAM-authenticated simulation delivers",
        Duration::from_secs(120),
        || async {
            let s = sims.get("secured").await.ok()?.status?;
            (s.totals.messages_delivered >= 500).then_some(s.totals.messages_delivered)
        },
    )
    .await;
    let missing = condition(&sims, "no-such-key", "WorkerConfigError").await;
    assert!(
        missing.contains("couldn't find key nope in Secret iot/kafka-user"),
        "{missing}"
    );
    let refused = condition(&sims, "wrong-password", "AuthenticationFailed").await;
    assert!(refused.contains("SASL"), "{refused}");
    eprintln!(
        "node: SCRAM-SHA-512 from a Secret: {delivered} delivered; missing key -> {missing}; wrong password -> {refused} ({:.0} s)",
        applied.elapsed().as_secs_f64()
    );

    // Everything a user or an attacker with read access could look at.
    let mut seen = vec![
        n.cluster
            .kubectl_ok(&["get", "devicesimulations", "-n", SIM_NS, "-o", "yaml"]),
        n.cluster
            .kubectl_ok(&["get", "events", "--all-namespaces", "-o", "yaml"]),
        n.cluster.kubectl_ok(&[
            "logs",
            "-n",
            OPERATOR_NS,
            "-l",
            "app.kubernetes.io/component=operator",
            "--tail=-1",
        ]),
    ];
    let pods: Api<Pod> = Api::namespaced(n.client.clone(), SIM_NS);
    for pod in ["secured-workers-0", "wrong-password-workers-0"] {
        seen.push(n.cluster.kubectl_ok(&["logs", "-n", SIM_NS, pod]));
        let ip = pods
            .get(pod)
            .await
            .ok()
            .and_then(|p| p.status?.pod_ip)
            .unwrap_or_else(|| panic!("{pod} has an IP"));
        let metrics = eventually("a worker's /metrics", Duration::from_secs(20), || {
            let ip = ip.clone();
            async move { http_get(&format!("{ip}:9400"), "/metrics") }
        })
        .await;
        seen.push(metrics);
    }
    for text in &seen {
        assert!(
            !text.contains(PLANTED),
            "the planted password leaked:\n{text}"
        );
    }
    for name in ["secured", "no-such-key", "wrong-password"] {
        sims.delete(name, &DeleteParams::default())
            .await
            .unwrap_or_else(|e| panic!("delete {name}: {e}"));
    }
    n.cluster
        .kubectl_ok(&["delete", "secret", "kafka-user", "-n", SIM_NS]);
    drop(tansu);
}

/// The message of the first condition of `name` whose reason is `reason`, once there is one.
async fn condition(sims: &Api<DeviceSimulation>, name: &str, reason: &str) -> String {
    eventually(
        &format!("{name}: a condition with reason {reason}"),
        Duration::from_secs(120),
        || async {
            let sim = sims.get(name).await.ok()?;
            let status = sim.status?;
            let found = status
                .conditions
                .into_iter()
                .find(|c| c.reason == reason && c.status == "True")
                .map(|c| c.message);
            if found.is_none() {
                eprintln!(
                    "node: {} waits: {:?}",
                    sim.metadata.name.unwrap_or_default(),
                    status.phase
                );
            }
            found
        },
    )
    .await
}
