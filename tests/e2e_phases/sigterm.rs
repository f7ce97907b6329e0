//! SIGTERM to a worker producing at full rate, as the kubelet sends it when a Pod goes: the
//! worker flushes, reports and exits 0 well within the Pod's grace period with everything it
//! sent delivered, its successor carries on, and the topic holds every reading exactly once. A
//! second signal during a drain exits at once. The worker signalled is shard 1 of a simulation
//! scaled from 1 to 2 replicas, so its successor must resume at its own cut, not at the older
//! one shard 0 made when it handed shard 1 its devices.

use std::time::Duration;

use super::{E2e, NS, patch_spec, status};
use crate::e2e_support::{Process, eventually};

const DEVICES: u32 = 15_000;
/// The Pods' terminationGracePeriodSeconds.
const GRACE: Duration = Duration::from_secs(30);

fn burst(bootstrap: &str) -> String {
    format!(
        "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: burst\n  namespace: {NS}\nspec:\n  devices: {DEVICES}\n  seed: 9\n  interval: 1s\n  replicas: 1\n  workersPerReplica: 2\n  kafka:\n    bootstrapServers: \"{bootstrap}\"\n    topic: e2e-burst\n    partitions: 24\n    compression: lz4\n    acks: all\n    idempotence: true\n"
    )
}

/// Waits until the worker of shard `shard` of `burst` that runs now has produced for three
/// seconds at `rate` msg/s, by its own `/metrics` (the status may still show its
/// predecessor's figures).
async fn full_rate(e: &E2e, shard: u32, rate: u32) {
    let kubelet = e.kubelet.as_ref().expect("the kubelet runs");
    let key = format!("{NS}/burst-workers-{shard}");
    eventually("burst at full rate", Duration::from_secs(60), || async {
        let addr = kubelet
            .workers
            .lock()
            .expect("lock")
            .get(&key)?
            .admin_addr()?;
        let metrics = crate::common::http_get(&addr, "/metrics")?;
        let value = |name: &str| -> Option<f64> {
            metrics
                .lines()
                .find(|l| l.starts_with(name))?
                .rsplit(' ')
                .next()?
                .parse()
                .ok()
        };
        let full = f64::from(rate);
        (value("devsim_messages_delivered_total")? >= 3.0 * full
            && value("devsim_messages_per_second")? >= 0.9 * full)
            .then_some(())
    })
    .await;
}

/// The figures of the worker's last "producer stopped and flushed" line: (sent, delivered,
/// failed).
fn stopped_figures(process: &Process) -> (u64, u64, u64) {
    let log = std::fs::read_to_string(&process.log).expect("worker log");
    let line = log
        .lines()
        .rfind(|l| l.contains("producer stopped and flushed"))
        .unwrap_or_else(|| panic!("no final figures in the worker's log:\n{log}"));
    let json: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    let figure = |name: &str| json["fields"][name].as_u64().expect("a number");
    (figure("sent"), figure("delivered"), figure("failed"))
}

pub async fn worker_sigterm_at_full_rate(e: &mut E2e) {
    let file = e.logs.join("burst.yaml");
    std::fs::write(&file, burst(&e.broker.bootstrap)).expect("write burst.yaml");
    e.cluster
        .kubectl_ok(&["apply", "-f", file.to_str().expect("UTF-8")]);

    full_rate(e, 0, DEVICES).await;
    patch_spec(&e.cluster, "burst", r#"{"spec":{"replicas":2}}"#);
    let half = DEVICES / 2;
    full_rate(e, 1, half).await;
    let kubelet = e.kubelet.as_ref().expect("the kubelet runs");
    let pod = format!("{NS}/burst-workers-1");
    let (code, took, worker) = kubelet.stop(&pod, &["TERM"], GRACE);
    let (sent, delivered, failed) = stopped_figures(&worker);
    eprintln!(
        "e2e: SIGTERM at {half} msg/s: exit {code:?} after {took:?}; sent {sent}, delivered {delivered}, failed {failed}"
    );
    assert_eq!(code, Some(0), "a drained worker exits 0");
    assert!(took < GRACE / 3, "the drain took {took:?}");
    assert!(
        sent >= 3 * u64::from(half),
        "it ran at full rate: {sent} sent"
    );
    assert_eq!(
        (delivered, failed),
        (sent, 0),
        "everything sent was delivered"
    );

    // The successor carries on; once it runs at full rate, pausing drains it too, and the topic
    // must hold every reading of both exactly once, with no gap at the hand-over.
    full_rate(e, 1, half).await;
    patch_spec(&e.cluster, "burst", r#"{"spec":{"paused":true}}"#);
    let sims = &e.sims;
    eventually("burst paused", Duration::from_secs(60), || async {
        (status(sims, "burst").await.replicas == 0).then_some(())
    })
    .await;
    let (code, report, stderr) =
        crate::e2e_support::verify(&e.broker.bootstrap, "e2e-burst", &file, DEVICES, &[]);
    eprintln!("e2e: verify of the burst topic:\n{report}{stderr}");
    assert_eq!(code, Some(0), "verify failed:\n{report}\n{stderr}");
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("missing (gaps)") && l.ends_with(" 0")),
        "readings missing across the SIGTERM:\n{report}"
    );

    // Resumed: a second signal during the drain exits at once.
    patch_spec(&e.cluster, "burst", r#"{"spec":{"paused":false}}"#);
    full_rate(e, 1, half).await;
    let kubelet = e.kubelet.as_ref().expect("the kubelet runs");
    let (code, took, _) = kubelet.stop(&pod, &["TERM", "INT"], Duration::from_secs(5));
    eprintln!("e2e: two signals: exit {code:?} after {took:?}");
    assert_eq!(code, Some(130), "a second signal aborts with 130");
    e.cluster
        .kubectl_ok(&["delete", "devsim", "burst", "-n", NS]);
}
