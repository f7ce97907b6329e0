//! Bringing the cluster up: the CRD and its schema, the operators and their Lease, the first
//! simulation running.

use std::time::Duration;

use devsim::crd::Phase;

use super::install::operator_as_deployed;
use super::{DEVICES, E2e, INTERVAL_MS, NS, lease_holder, rate_ok, simulation, status};
use crate::e2e_support::{self, Kubelet, Process, eventually};

/// The CRD the chart installed is established; the API server itself refuses out-of-schema
/// resources, naming the field, and checks durations with the grammar devsim uses.
pub async fn crd_and_schema(e: &mut E2e) {
    let cluster = &e.cluster;
    cluster.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "crd/devicesimulations.devsim.io",
        "--timeout=30s",
    ]);
    let bad = |from: &str, to: &str| {
        cluster.apply(&simulation("bad", &e.broker.bootstrap, "").replace(from, to))
    };
    let (ok, text) = bad(&format!("devices: {DEVICES}"), "devices: 0");
    assert!(
        !ok && text.contains("spec.devices"),
        "devices: 0 accepted or unnamed:\n{text}"
    );
    let (ok, text) = bad("compression: lz4", "compression: brotli");
    assert!(
        !ok && text.contains("spec.kafka.compression") && text.contains("brotli"),
        "brotli accepted or unnamed:\n{text}"
    );
    // Go's duration grammar on both sides: `1s0` refused by the server as by `devsim run`.
    let (ok, text) = bad(&format!("interval: {INTERVAL_MS}ms"), "interval: 1s0");
    assert!(
        !ok && text.contains("spec.interval"),
        "interval 1s0 accepted:\n{text}"
    );
    let (ok, text) = cluster.apply(
        &simulation("dotted", &e.broker.bootstrap, "  paused: true\n")
            .replace(&format!("interval: {INTERVAL_MS}ms"), "interval: .5s"),
    );
    assert!(ok, "interval .5s (valid Go) refused:\n{text}");
    cluster.kubectl_ok(&["delete", "devsim/dotted", "-n", NS]);
    eprintln!("e2e: CRD installed; devices: 0, brotli and 1s0 refused, .5s accepted");
}

/// Two operator replicas, each run exactly as the chart's Deployment runs it (args,
/// environment, the chart's ServiceAccount): one holds the Lease and reconciles, the other
/// stands by.
pub async fn operators_and_lease(e: &mut E2e) {
    let spawn = async |e: &E2e, identity: &str| {
        let (args, env) = operator_as_deployed(e, identity).await;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Process::spawn(&args, &env, e.logs.join(format!("{identity}.log")))
    };
    e.operator = Some(spawn(e, "operator-a").await);
    e2e_support::wait_until(
        "operator-a holds the lease",
        Duration::from_secs(20),
        || lease_holder(&e.cluster) == "operator-a",
    );
    e.standby = Some(spawn(e, "operator-b").await);
    e.kubelet = Some(Kubelet::start(
        e.client.clone(),
        e.cluster.kubeconfig.clone(),
        e.logs.clone(),
    ));
}

/// Apply: Running within 30 s, msg/s within ±10 % of devices ÷ interval, sent growing.
pub async fn apply_and_run(e: &mut E2e) {
    std::fs::write(&e.sim_file, simulation("plant", &e.broker.bootstrap, ""))
        .expect("write simulation");
    e.cluster
        .kubectl_ok(&["apply", "-f", e.sim_file.to_str().expect("UTF-8")]);
    let started = std::time::Instant::now();
    let sims = &e.sims;
    eventually(
        "phase Running with the scheduled msg/s",
        Duration::from_secs(30),
        || async {
            let s = status(sims, "plant").await;
            (s.phase == Some(Phase::Running) && rate_ok(s.messages_per_second, INTERVAL_MS))
                .then_some(())
        },
    )
    .await;
    let table = e.cluster.kubectl_ok(&["get", "devsim", "-n", NS]);
    eprintln!("e2e: Running after {:?}:\n{table}", started.elapsed());
    assert!(
        table.contains("plant") && table.contains("Running"),
        "{table}"
    );
    let sent_a = status(sims, "plant").await.totals.messages_sent;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sent_b = status(sims, "plant").await.totals.messages_sent;
    assert!(
        sent_b > sent_a,
        "messages sent did not grow: {sent_a} -> {sent_b}"
    );
}
