//! Scenario 5: a worker whose memory limit is too small for its shard. The kernel kills it
//! (OOMKilled), the kubelet restarts it; the status says so and what to change, instead of a
//! silent crash loop.

use std::time::{Duration, Instant};

use devsim::crd::DeviceSimulation;
use kube::api::{Api, DeleteParams};

use super::{Node, SIM_NS};
use crate::e2e_support::eventually;

/// The `hungry` simulation: four million devices of sixteen sensors in one worker limited to
/// 24Mi (their state is 256 MB at 64 bytes a device; the process needs ~20 MiB more), into a
/// topic of its own (plant's is verified against plant's devices). A device's state is zeroed
/// memory that becomes resident when the device first produces, so the worker outgrows its
/// limit as its devices come due: one reading each five minutes is ~13,000 msg/s, ~0.8 MiB
/// of new state a second, past the limit within seconds. Protobuf keeps the messages small.
fn hungry(bootstrap: &str) -> String {
    let sensors: String = (0..16)
        .map(|i| format!("{{name: s{i}, type: temperature}}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: hungry\n  namespace: {SIM_NS}\nspec:\n  devices: 4000000\n  interval: 300s\n  replicas: 1\n  encoding: protobuf\n  profiles:\n    - name: wide\n      sensors: [{sensors}]\n  kafka:\n    bootstrapServers: \"{bootstrap}\"\n    topic: hungry\n    partitions: 3\n  workerResources:\n    requests:\n      memory: 24Mi\n    limits:\n      memory: 24Mi\n"
    )
}

pub async fn memory_limit_too_small(n: &mut Node) {
    let (ok, text) = n.cluster.apply(&hungry(&n.broker.bootstrap));
    assert!(ok, "{text}");
    let applied = Instant::now();
    let sims: Api<DeviceSimulation> = Api::namespaced(n.client.clone(), SIM_NS);
    let degraded = eventually(
        "Degraded names the OOM kill and its remedy",
        Duration::from_secs(120),
        || async {
            let s = sims.get("hungry").await.ok()?.status?;
            s.conditions.into_iter().find(|c| {
                c.type_ == "Degraded" && c.status == "True" && c.reason == "WorkerOOMKilled"
            })
        },
    )
    .await;
    assert!(
        degraded
            .message
            .contains("hungry-workers-0 was killed for exceeding its memory limit (24Mi")
            && degraded
                .message
                .contains("spec.workerResources.limits.memory"),
        "{}",
        degraded.message
    );
    let pod = n
        .pods
        .get("hungry-workers-0")
        .await
        .expect("the worker pod");
    let container = pod
        .status
        .and_then(|s| s.container_statuses)
        .and_then(|c| c.into_iter().next())
        .expect("a container status");
    // Ended and not restarted yet, or restarted after it ended.
    let last = container
        .state
        .and_then(|s| s.terminated)
        .or_else(|| container.last_state.and_then(|s| s.terminated))
        .expect("the kubelet saw it end");
    assert_eq!(last.reason.as_deref(), Some("OOMKilled"));
    let events = n.cluster.kubectl_ok(&[
        "get",
        "events",
        "-n",
        SIM_NS,
        "--field-selector",
        "involvedObject.name=hungry",
    ]);
    assert!(events.contains("WorkerOOMKilled"), "{events}");
    eprintln!(
        "node: 24Mi for four million devices: OOMKilled (exit {}, {} restarts) and Degraded/WorkerOOMKilled {:.1} s after apply: {}",
        last.exit_code,
        container.restart_count,
        applied.elapsed().as_secs_f64(),
        degraded.message
    );
    sims.delete("hungry", &DeleteParams::default())
        .await
        .expect("delete hungry");
}
