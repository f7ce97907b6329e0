//! End to end against a real Kubernetes API server and controller-manager (v1.20, built from
//! Debian's source by tests/env/build-kube.sh), with the operator, the workers and the embedded
//! Kafka as real processes. Ignored by plain `cargo test` because the first build of the API
//! server needs root and ~10 minutes; `.ci/run` runs it (`cargo test -- --include-ignored`).
//!
//! One cluster, named phases in order. A failed phase does not stop the run: the phases that
//! do not need it still run, those that do are skipped, and the summary lists every outcome,
//! so the first failure does not hide the rest.

mod common;
mod e2e_support;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use futures::FutureExt;

use devsim::crd::{DeviceSimulation, DeviceSimulationStatus, Phase};
use e2e_support::{Cluster, Kubelet, Process, eventually};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Service;
use kube::Client;
use kube::api::Api;

const NS: &str = "default";
const DEVICES: u32 = 200;
const INTERVAL_MS: u64 = 500;

fn simulation(name: &str, bootstrap: &str, extra: &str) -> String {
    format!(
        "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: {name}\n  namespace: {NS}\nspec:\n  devices: {DEVICES}\n  seed: 5\n  interval: {INTERVAL_MS}ms\n  replicas: 2\n  workersPerReplica: 1\n  anomalyRate: 0.01\n  kafka:\n    bootstrapServers: \"{bootstrap}\"\n    topic: e2e\n    partitions: 12\n    compression: lz4\n{extra}"
    )
}

async fn status(sims: &Api<DeviceSimulation>, name: &str) -> DeviceSimulationStatus {
    sims.get(name)
        .await
        .expect("simulation exists")
        .status
        .unwrap_or_default()
}

/// `kubectl patch` of a simulation's spec, as a GitOps tool or a person would edit it in place.
fn patch_spec(cluster: &Cluster, name: &str, patch: &str) {
    cluster.kubectl_ok(&[
        "patch",
        &format!("devsim/{name}"),
        "-n",
        NS,
        "--type=merge",
        "-p",
        patch,
    ]);
}

/// Msg/s the schedule asks for, and whether `rate` is within ±10 % of it.
fn rate_ok(rate: f64, interval_ms: u64) -> bool {
    let expected = f64::from(DEVICES) * 1000.0 / interval_ms as f64;
    (rate - expected).abs() <= 0.1 * expected
}

/// Everything the phases share: the cluster, the processes that run against it, the APIs.
struct E2e {
    cluster: Cluster,
    client: Client,
    logs: PathBuf,
    broker: common::BrokerProcess,
    sim_file: PathBuf,
    operator: Option<Process>,
    standby: Option<Process>,
    kubelet: Option<Kubelet>,
    sims: Api<DeviceSimulation>,
    sets: Api<StatefulSet>,
    services: Api<Service>,
}

type StepFuture<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// A phase of the run: its name, the phases it needs, and what it does.
struct Step {
    name: &'static str,
    needs: &'static [&'static str],
    run: for<'a> fn(&'a mut E2e) -> StepFuture<'a>,
}

macro_rules! phase {
    ($name:literal, [$($need:literal),*], $f:ident) => {
        Step { name: $name, needs: &[$($need),*], run: |e| Box::pin($f(e)) }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs kube-apiserver 1.20 from tests/env/build-kube.sh (root, ~10 min the first time)"]
async fn operator_end_to_end() {
    let cluster = Cluster::start();
    let client = cluster.client().await;
    let logs = cluster.dir.path().to_path_buf();
    let broker = common::BrokerProcess::start("e2e", 12);
    let sim_file = logs.join("plant.yaml");
    let mut e2e = E2e {
        sims: Api::namespaced(client.clone(), NS),
        sets: Api::namespaced(client.clone(), NS),
        services: Api::namespaced(client.clone(), NS),
        cluster,
        client,
        logs,
        broker,
        sim_file,
        operator: None,
        standby: None,
        kubelet: None,
    };
    let phases = [
        phase!("crd-and-schema", [], crd_and_schema),
        phase!(
            "operators-and-lease",
            ["crd-and-schema"],
            operators_and_lease
        ),
        phase!("apply-and-run", ["operators-and-lease"], apply_and_run),
        phase!(
            "scale-with-exact-handoff",
            ["apply-and-run"],
            scale_with_exact_handoff
        ),
        phase!("worker-crash", ["apply-and-run"], worker_crash),
        phase!("operator-failover", ["apply-and-run"], operator_failover),
        phase!(
            "pause-resume-interval",
            ["apply-and-run"],
            pause_resume_interval
        ),
        phase!("invalid-spec", ["operators-and-lease"], invalid_spec),
        phase!(
            "verify-whole-run-and-events",
            ["apply-and-run"],
            verify_whole_run_and_events
        ),
        phase!(
            "delete-collects-garbage",
            ["crd-and-schema"],
            delete_collects_garbage
        ),
    ];
    let mut outcomes: Vec<(&str, Result<(), String>)> = Vec::new();
    for phase in &phases {
        let missing = phase.needs.iter().find(|need| {
            !outcomes
                .iter()
                .any(|(name, outcome)| name == *need && outcome.is_ok())
        });
        if let Some(need) = missing {
            outcomes.push((phase.name, Err(format!("skipped: needs {need}"))));
            continue;
        }
        eprintln!("e2e: == {}", phase.name);
        let outcome = AssertUnwindSafe((phase.run)(&mut e2e))
            .catch_unwind()
            .await
            .map_err(|panic| {
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "panicked".to_owned())
            });
        outcomes.push((phase.name, outcome));
    }
    if let Some(kubelet) = e2e.kubelet.take() {
        kubelet.shutdown().await;
    }
    let summary: Vec<String> = outcomes
        .iter()
        .map(|(name, outcome)| match outcome {
            Ok(()) => format!("  ok      {name}"),
            Err(why) => format!("  FAILED  {name}: {why}"),
        })
        .collect();
    eprintln!("e2e: phases\n{}", summary.join("\n"));
    // Keep the logs of a failed run for the person reading the failure (Cluster's Drop does).
    assert!(
        outcomes.iter().all(|(_, outcome)| outcome.is_ok()),
        "e2e phases failed:\n{}",
        summary.join("\n")
    );
}

/// The CRD installs; the API server itself refuses out-of-schema resources, naming the field,
/// and checks durations with the grammar devsim uses.
async fn crd_and_schema(e: &mut E2e) {
    let cluster = &e.cluster;
    cluster.kubectl_ok(&["apply", "-f", concat!(env!("CARGO_MANIFEST_DIR"), "/crds/")]);
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

/// Two operator replicas: one holds the Lease and reconciles, the other stands by.
async fn operators_and_lease(e: &mut E2e) {
    let kubeconfig = e.cluster.kubeconfig.to_str().expect("UTF-8").to_owned();
    let env = [("KUBECONFIG", kubeconfig.as_str()), ("RUST_LOG", "info")];
    let args = |identity| {
        [
            "operator",
            "--metrics-addr",
            "127.0.0.1:0",
            "--lease-namespace",
            NS,
            "--identity",
            identity,
        ]
    };
    e.operator = Some(Process::spawn(
        &args("operator-a"),
        &env,
        e.logs.join("operator-a.log"),
    ));
    e2e_support::wait_until(
        "operator-a holds the lease",
        Duration::from_secs(20),
        || lease_holder(&e.cluster) == "operator-a",
    );
    e.standby = Some(Process::spawn(
        &args("operator-b"),
        &env,
        e.logs.join("operator-b.log"),
    ));
    e.kubelet = Some(Kubelet::start(
        e.client.clone(),
        e.cluster.kubeconfig.clone(),
        e.logs.clone(),
    ));
}

fn lease_holder(cluster: &Cluster) -> String {
    cluster
        .kubectl(&[
            "get",
            "lease",
            "devsim-operator",
            "-n",
            NS,
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
        .1
}

/// Apply: Running within 30 s, msg/s within ±10 % of devices ÷ interval, sent growing.
async fn apply_and_run(e: &mut E2e) {
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

/// Scale 2 -> 3 -> 2 while running: status follows, and the hand-offs lose and repeat nothing.
async fn scale_with_exact_handoff(e: &mut E2e) {
    let sims = &e.sims;
    for replicas in [3u32, 2] {
        e.cluster.kubectl_ok(&[
            "scale",
            "devsim/plant",
            "-n",
            NS,
            &format!("--replicas={replicas}"),
        ]);
        eventually(
            &format!("{replicas} shards confirmed and the full rate back"),
            Duration::from_secs(60),
            || async {
                let s = status(sims, "plant").await;
                let live: Vec<_> = s.shards.iter().filter(|e| e.index < replicas).collect();
                let settled = s.replicas == replicas
                    && s.ready_replicas == replicas
                    && live.len() == replicas as usize
                    && live
                        .iter()
                        .all(|e| e.shard_count == replicas && e.devices > 0)
                    && s.shards
                        .iter()
                        .all(|e| e.index < replicas || e.devices == 0);
                if !settled {
                    let shards: Vec<_> = s
                        .shards
                        .iter()
                        .map(|e| (e.index, e.shard_count, e.devices, e.messages_per_second))
                        .collect();
                    eprintln!(
                        "e2e: waiting: replicas {} ready {} rate {} shards {shards:?}",
                        s.replicas, s.ready_replicas, s.messages_per_second
                    );
                }
                (settled && rate_ok(s.messages_per_second, INTERVAL_MS)).then_some(())
            },
        )
        .await;
        eprintln!(
            "e2e: scaled to {replicas}:\n{}",
            e.cluster.kubectl_ok(&["get", "devsim", "-n", NS])
        );
    }
    // Every device's stream so far is complete (each partition is read up to its end offset
    // now, so each device's prefix).
    let (code, report, stderr) = common::devsim(&[
        "verify",
        "--brokers",
        &e.broker.bootstrap,
        "--topic",
        "e2e",
        "-f",
        e.sim_file.to_str().expect("UTF-8"),
        "--expect-devices",
        &DEVICES.to_string(),
        "--max-missing",
        "0",
    ]);
    assert_eq!(
        code,
        Some(0),
        "gaps or duplicates after re-sharding:\n{report}\n{stderr}"
    );
    eprintln!(
        "e2e: after 2 -> 3 -> 2, {} messages, 0 duplicates, 0 missing",
        common::report_value(&report, "messages")
    );
}

/// A worker crashes; the kubelet restarts it; its totals continue.
async fn worker_crash(e: &mut E2e) {
    let sims = &e.sims;
    let kubelet = e.kubelet.as_ref().expect("the kubelet runs");
    let before = status(sims, "plant").await;
    kubelet.crash(&format!("{NS}/plant-workers-1"));
    eventually(
        "worker 1 restarted and producing",
        Duration::from_secs(40),
        || async {
            let s = status(sims, "plant").await;
            let restarted = !kubelet.log.lock().expect("lock").restarted.is_empty();
            let shard = s.shards.iter().find(|e| e.index == 1)?;
            (restarted
                && shard.messages_per_second > 0.0
                && s.totals.messages_sent > before.totals.messages_sent
                && rate_ok(s.messages_per_second, INTERVAL_MS))
            .then_some(())
        },
    )
    .await;
    eprintln!("e2e: worker 1 crashed and recovered");
}

/// The leading operator stops mid-run: the standby takes the lease over and carries on; no
/// second StatefulSet, totals continue.
async fn operator_failover(e: &mut E2e) {
    assert_eq!(
        lease_holder(&e.cluster),
        "operator-a",
        "the standby must not have taken the lease"
    );
    e.operator
        .as_mut()
        .expect("operator-a runs")
        .terminate(Duration::from_secs(10));
    let sims = &e.sims;
    let before = status(sims, "plant").await;
    e2e_support::wait_until(
        "operator-b took the lease over",
        Duration::from_secs(30),
        || lease_holder(&e.cluster) == "operator-b",
    );
    eventually(
        "totals continue after the operator restart",
        Duration::from_secs(40),
        || async {
            let s = status(sims, "plant").await;
            (s.totals.messages_sent > before.totals.messages_sent + u64::from(DEVICES)
                && s.phase == Some(Phase::Running))
            .then_some(())
        },
    )
    .await;
    let all_sets = e
        .sets
        .list(&Default::default())
        .await
        .expect("list StatefulSets");
    assert_eq!(all_sets.items.len(), 1, "exactly one StatefulSet");
    eprintln!("e2e: operator-a stopped, operator-b took the lease over, totals continue");
}

/// Pause (totals kept), resume, and edit the interval in place (500ms -> 250ms -> 1s).
async fn pause_resume_interval(e: &mut E2e) {
    let sims = &e.sims;
    let before = status(sims, "plant").await;
    patch_spec(&e.cluster, "plant", r#"{"spec":{"paused":true}}"#);
    let paused = eventually("Paused, workers at 0", Duration::from_secs(40), || async {
        let s = status(sims, "plant").await;
        (s.phase == Some(Phase::Paused) && s.replicas == 0).then_some(s)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = status(sims, "plant").await;
    assert!(
        still.totals.messages_sent >= paused.totals.messages_sent
            && paused.totals.messages_sent >= before.totals.messages_sent,
        "totals lost on pause"
    );
    eprintln!(
        "e2e: paused with {} messages sent",
        paused.totals.messages_sent
    );
    patch_spec(&e.cluster, "plant", r#"{"spec":{"paused":false}}"#);
    eventually(
        "Running again after resume",
        Duration::from_secs(40),
        || async {
            let s = status(sims, "plant").await;
            (s.phase == Some(Phase::Running)
                && s.totals.messages_sent > paused.totals.messages_sent
                && rate_ok(s.messages_per_second, INTERVAL_MS))
            .then_some(())
        },
    )
    .await;
    // Shortening, then lengthening the interval: each new epoch's sequence numbers follow the
    // old ones, and the rate follows the interval.
    for (interval, interval_ms) in [("250ms", 250u64), ("1s", 1000)] {
        patch_spec(
            &e.cluster,
            "plant",
            &format!(r#"{{"spec":{{"interval":"{interval}"}}}}"#),
        );
        eventually(
            &format!("the rate of interval {interval}"),
            Duration::from_secs(40),
            || async {
                let s = status(sims, "plant").await;
                rate_ok(s.messages_per_second, interval_ms).then_some(())
            },
        )
        .await;
    }
    eprintln!(
        "e2e: paused, resumed, interval edited in place (500ms -> 250ms -> 1s):\n{}",
        e.cluster.kubectl_ok(&["get", "devsim", "-n", NS])
    );
}

/// An invalid but schema-valid spec: Ready=False/InvalidSpec naming the field, while the
/// operator keeps reconciling the others.
async fn invalid_spec(e: &mut E2e) {
    let broken = simulation("broken", &e.broker.bootstrap, "  profiles:\n    - name: p\n      sensors:\n        - type: current\n          min: 5\n          max: 1\n").replace("topic: e2e", "topic: e2e-broken");
    let (ok, text) = e.cluster.apply(&broken);
    assert!(ok, "schema-valid spec refused:\n{text}");
    let sims = &e.sims;
    eventually(
        "InvalidSpec naming the field",
        Duration::from_secs(30),
        || async {
            let s = status(sims, "broken").await;
            let ready = s.conditions.iter().find(|c| c.type_ == "Ready")?;
            (ready.status == "False"
                && ready.reason == "InvalidSpec"
                && ready.message.contains("spec.profiles[0].sensors[0].min")
                && s.phase == Some(Phase::Failed))
            .then_some(())
        },
    )
    .await;
    let events = e.cluster.kubectl_ok(&[
        "get",
        "events",
        "-n",
        NS,
        "--field-selector",
        "involvedObject.name=broken",
    ]);
    assert!(
        events.contains("InvalidSpec"),
        "no InvalidSpec event:\n{events}"
    );
    // The running simulation, if any, keeps being reconciled.
    if let Ok(plant) = sims.get("plant").await
        && plant.status.as_ref().and_then(|s| s.phase) == Some(Phase::Running)
    {
        let sent = status(sims, "plant").await.totals.messages_sent;
        eventually(
            "the valid simulation keeps being reconciled",
            Duration::from_secs(20),
            || async { (status(sims, "plant").await.totals.messages_sent > sent).then_some(()) },
        )
        .await;
    }
    eprintln!("e2e: invalid spec reported as InvalidSpec, others unaffected");
}

/// The whole run: no (device, seq) twice; every delivered message in the topic; the events a
/// person looks for.
async fn verify_whole_run_and_events(e: &mut E2e) {
    let sims = &e.sims;
    patch_spec(&e.cluster, "plant", r#"{"spec":{"paused":true}}"#);
    eventually(
        "paused before verifying",
        Duration::from_secs(40),
        || async {
            let s = status(sims, "plant").await;
            (s.phase == Some(Phase::Paused)
                && s.replicas == 0
                && s.shards
                    .iter()
                    .all(|e| e.shard_count == 0 || e.devices == 0))
            .then_some(())
        },
    )
    .await;
    let final_status = status(sims, "plant").await;
    let (code, report, stderr) = common::devsim(&[
        "verify",
        "--brokers",
        &e.broker.bootstrap,
        "--topic",
        "e2e",
        "-f",
        e.sim_file.to_str().expect("UTF-8"),
        "--expect-devices",
        &DEVICES.to_string(),
    ]);
    eprintln!("e2e: verify over the whole run:\n{report}{stderr}");
    assert_eq!(code, Some(0), "verify failed:\n{report}\n{stderr}");
    assert_eq!(common::report_value(&report, "duplicates"), 0);
    // Every delivered message counted in the status is in the topic. The topic may hold a few
    // more: the worker killed with SIGKILL could not report its last second of deliveries.
    let in_topic = common::report_value(&report, "messages");
    let delivered = final_status.totals.messages_delivered;
    assert!(
        in_topic >= delivered,
        "status counts {delivered} delivered, topic holds {in_topic}"
    );
    assert!(
        in_topic - delivered <= 2 * u64::from(DEVICES) * 1000 / INTERVAL_MS,
        "{} delivered messages unaccounted for",
        in_topic - delivered
    );
    // Gaps are counted; they come from pause, the interval edit and hand-offs, never from loss
    // of a delivered message (the topic holds them all).
    eprintln!(
        "e2e: status delivered {delivered}, topic {in_topic}, status sent {}",
        final_status.totals.messages_sent
    );
    let events = e.cluster.kubectl_ok(&[
        "get",
        "events",
        "-n",
        NS,
        "--field-selector",
        "involvedObject.name=plant",
    ]);
    for reason in ["Started", "Scaled", "Paused"] {
        assert!(events.contains(reason), "no {reason} event:\n{events}");
    }
}

/// Delete: the controller-manager's garbage collector removes what the simulations owned.
async fn delete_collects_garbage(e: &mut E2e) {
    let (sets, services) = (&e.sets, &e.services);
    e.cluster
        .kubectl_ok(&["delete", "devsim", "--all", "-n", NS, "--ignore-not-found"]);
    eventually(
        "StatefulSet and Service garbage-collected",
        Duration::from_secs(60),
        || async {
            let sts = sets.get_opt("plant-workers").await.ok()?;
            let svc = services.get_opt("plant-workers").await.ok()?;
            (sts.is_none() && svc.is_none()).then_some(())
        },
    )
    .await;
    eprintln!("e2e: deleted; StatefulSet and Service garbage-collected");
}
