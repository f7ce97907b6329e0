//! Scenario 1: `helm install`, then the quick-start shape of simulation, run by real pods.

use std::time::{Duration, Instant};

use devsim::crd::{DeviceSimulation, Phase};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

use super::{
    Node, OPERATOR_NS, PLANT_WORKERS, RELEASE, SIM_NS, names, plant, plant_settled, ready_pods,
    worker_pids,
};
use crate::common::tools;
use crate::e2e_support::eventually;

/// The chart's values for this node: the image as loaded (never pulled), and where pods reach
/// the API server, for the operator and, through the chart, for every worker.
fn values(n: &Node) -> String {
    format!(
        "image:\n  repository: devsim\n  pullPolicy: Never\nenv:\n{}workers:\n  env:\n{}",
        n.api_env_yaml("  "),
        n.api_env_yaml("    ")
    )
}

/// `helm` against the node's API server, from the repository's root.
pub fn helm(n: &Node, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend([
        "--kubeconfig",
        n.cluster.kubeconfig.to_str().expect("UTF-8"),
    ]);
    tools::run_ok("helm", &all)
}

pub async fn helm_install_and_run(n: &mut Node) {
    let values_file = n.cluster.dir.path().join("values.yaml");
    std::fs::write(&values_file, values(n)).expect("write values");
    let started = Instant::now();
    helm(
        n,
        &[
            "install",
            RELEASE,
            "charts/devsim",
            "--namespace",
            OPERATOR_NS,
            "--create-namespace",
            "--values",
            values_file.to_str().expect("UTF-8"),
        ],
    );
    n.cluster.kubectl_ok(&[
        "rollout",
        "status",
        "deployment/devsim",
        "-n",
        OPERATOR_NS,
        "--timeout=120s",
    ]);
    eprintln!(
        "node: helm install -> operator Deployment available in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    n.cluster.kubectl_ok(&["create", "namespace", SIM_NS]);
    let (ok, text) = n.cluster.apply(
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: devsim-workers\nvalue: 1000\ndescription: simulations\n",
    );
    assert!(ok, "{text}");
    quick_start(n).await;

    std::fs::write(&n.sim_file, plant(&n.broker.bootstrap)).expect("write simulation");
    let applied = Instant::now();
    n.cluster
        .kubectl_ok(&["apply", "-f", n.sim_file.to_str().expect("UTF-8")]);
    let workers = ready_pods(&n.pods, PLANT_WORKERS, 2, Duration::from_secs(90)).await;
    let pods_ready = applied.elapsed();
    plant_settled(&n.sims, 2, Duration::from_secs(90)).await;
    let s = super::status(&n.sims, "plant").await;
    assert_eq!(s.phase, Some(Phase::Running));
    eprintln!(
        "node: apply -> 2 worker pods Ready in {:.1} s, Running at {} msg/s (schedule 400) in {:.1} s",
        pods_ready.as_secs_f64(),
        s.messages_per_second,
        applied.elapsed().as_secs_f64()
    );
    for pod in &workers {
        what_the_kubelet_was_given(pod);
    }
    what_runc_enforces();
    eprintln!(
        "node: pods\n{}",
        n.cluster.kubectl_ok(&["get", "pods", "-A", "-o", "wide"])
    );
    eprintln!(
        "node: workers {:?} as the chart and the template ask",
        names(&workers)
    );
}

/// The README's quick-start simulation, as it is but for where Kafka is: Running at the
/// 2,000 msg/s it schedules, then deleted.
async fn quick_start(n: &Node) {
    let example = std::fs::read_to_string(tools::repo().join("examples/simulation.yaml"))
        .expect("examples/simulation.yaml");
    let commented = "    # bootstrapServers:";
    assert!(
        example.contains(commented),
        "the example's Kafka section changed"
    );
    let line = example
        .lines()
        .find(|l| l.starts_with(commented))
        .expect("the commented line");
    let file = n.cluster.dir.path().join("quick-start.yaml");
    let yaml = example.replace(
        line,
        &format!("    bootstrapServers: \"{}\"", n.broker.bootstrap),
    );
    std::fs::write(&file, yaml).expect("write quick start");
    let applied = Instant::now();
    let path = file.to_str().expect("UTF-8");
    n.cluster.kubectl_ok(&["apply", "-n", SIM_NS, "-f", path]);
    let sims: Api<DeviceSimulation> = Api::namespaced(n.client.clone(), SIM_NS);
    let rate = eventually(
        "the quick start Running at 2,000 msg/s ±10 %",
        Duration::from_secs(90),
        || async {
            let s = sims.get("factory-floor").await.ok()?.status?;
            (s.phase == Some(Phase::Running)
                && s.ready_replicas == 2
                && (s.messages_per_second - 2000.0).abs() <= 200.0)
                .then_some(s.messages_per_second)
        },
    )
    .await;
    eprintln!(
        "node: quick start (examples/simulation.yaml): Running at {rate} msg/s (schedule 2,000) {:.1} s after apply",
        applied.elapsed().as_secs_f64()
    );
    n.cluster
        .kubectl_ok(&["delete", "-n", SIM_NS, "-f", path, "--wait=true"]);
    let selector = "devsim.io/simulation=factory-floor";
    eventually(
        "the quick start's pods gone",
        Duration::from_secs(60),
        || async {
            super::pods(&n.pods, selector)
                .await
                .is_empty()
                .then_some(())
        },
    )
    .await;
}

/// The worker pod as the API server admitted it and the kubelet runs it: the template's
/// placement and dress, the simulation's own account with a token volume, the chart's limits.
fn what_the_kubelet_was_given(pod: &Pod) {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref().expect("spec");
    let name = meta.name.as_deref().unwrap_or_default();
    assert_eq!(
        meta.labels.as_ref().expect("labels")["team"],
        "iot",
        "{name}"
    );
    assert_eq!(
        meta.annotations.as_ref().expect("annotations")["example.com/owner"],
        "plant-team"
    );
    // The Priority admission plugin resolved the class the template named.
    assert_eq!(spec.priority, Some(1000), "{name}");
    assert_eq!(spec.node_name.as_deref(), Some("localhost"));
    assert_eq!(spec.service_account_name.as_deref(), Some("plant-workers"));
    let token_volume = spec
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name.starts_with("plant-workers-token"));
    assert!(
        token_volume.is_some(),
        "{name}: no ServiceAccount token volume"
    );
    let container = &spec.containers[0];
    let env: Vec<_> = container
        .env
        .iter()
        .flatten()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(
        env,
        [
            "POD_NAME",
            "POD_NAMESPACE",
            "KUBERNETES_SERVICE_HOST",
            "KUBERNETES_SERVICE_PORT",
            "RUST_LOG"
        ],
        "{name}"
    );
    let limits = container
        .resources
        .as_ref()
        .and_then(|r| r.limits.as_ref())
        .expect("limits from the chart's workers.resources");
    assert_eq!(limits["memory"].0, "256Mi");
    let security = container
        .security_context
        .as_ref()
        .expect("security context");
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .expect("container statuses");
    assert!(
        statuses[0].image.contains("devsim:0.1.0"),
        "{}",
        statuses[0].image
    );
}

/// What runc applied to the workers' processes, read from the host: user 65532, no
/// capabilities, no new privileges, the memory limit in the container's cgroup.
fn what_runc_enforces() {
    let pids = worker_pids("plant");
    assert_eq!(pids.len(), 2, "worker processes on the host: {pids:?}");
    for pid in pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
                .to_owned()
        };
        assert!(
            field("Uid:").starts_with("65532"),
            "pid {pid}: Uid {}",
            field("Uid:")
        );
        assert_eq!(field("CapEff:"), "0000000000000000", "pid {pid}");
        assert_eq!(field("NoNewPrivs:"), "1", "pid {pid}");
        assert_eq!(
            field("Seccomp:"),
            "2",
            "pid {pid}: RuntimeDefault is a filter"
        );
        let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
        let memory = cgroups
            .lines()
            .find_map(|l| l.split_once(":memory:").map(|(_, path)| path.to_owned()))
            .expect("a memory cgroup");
        let limit = std::fs::read_to_string(format!(
            "/sys/fs/cgroup/memory{memory}/memory.limit_in_bytes"
        ))
        .expect("memory.limit_in_bytes");
        assert_eq!(limit.trim(), (256u64 << 20).to_string(), "pid {pid}");
    }
}
