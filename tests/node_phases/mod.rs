//! The scenarios of the real-node run (see `tests/real_node.rs`), and what they share.

mod install;
mod limits;
mod restarts;
mod secured;
mod teardown;

pub use install::helm_install_and_run;
pub use limits::memory_limit_too_small;
pub use restarts::{
    operator_pod_deleted_and_two_replicas, scale_through_the_scheduler,
    worker_pod_deleted_and_container_killed,
};
pub use secured::secured_kafka;
pub use teardown::delete_and_uninstall;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use devsim::crd::DeviceSimulation;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use crate::common::{self, BrokerProcess};
pub use crate::e2e_support::status;
use crate::e2e_support::{self, Cluster, eventually};

/// Namespace of the simulations.
pub const SIM_NS: &str = "iot";
/// Namespace of the operator, and its Helm release.
pub const OPERATOR_NS: &str = "devsim-system";
pub const RELEASE: &str = "devsim";
pub const TOPIC: &str = "node";
pub const DEVICES: u32 = 200;
pub const INTERVAL_MS: u64 = 500;
/// Selector of every worker pod the operator creates for `plant`.
pub const PLANT_WORKERS: &str = "app.kubernetes.io/component=worker,devsim.io/simulation=plant";

/// Builds the image with image/build.sh into `out`; returns the OCI archive's path.
pub fn build_image(out: &Path) -> PathBuf {
    let started = std::time::Instant::now();
    let build = Command::new("bash")
        .arg(common::tools::repo().join("image/build.sh"))
        .arg(out)
        .output()
        .expect("run image/build.sh");
    assert!(
        build.status.success(),
        "image/build.sh:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    eprintln!(
        "node: image built in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    PathBuf::from(String::from_utf8_lossy(&build.stdout).trim())
}

/// Everything the scenarios share.
pub struct Node {
    pub cluster: Cluster,
    pub client: Client,
    /// The embedded Kafka, serving the pods on the node's bridge.
    pub broker: BrokerProcess,
    /// The API server's address and port, which pods are told (no kube-proxy here).
    pub api: (String, String),
    pub sims: Api<DeviceSimulation>,
    pub pods: Api<Pod>,
    /// The `plant` simulation as applied, for `devsim verify`.
    pub sim_file: PathBuf,
}

impl Node {
    pub async fn new(cluster: Cluster) -> Self {
        let client = cluster.client().await;
        let gateway = std::fs::read_to_string(cluster.dir.path().join("gateway"))
            .expect("start-node.sh wrote the bridge's address");
        let broker = BrokerProcess::start_with(TOPIC, 12, &["--listen", gateway.trim()]);
        let kubeconfig = std::fs::read_to_string(&cluster.kubeconfig).expect("kubeconfig");
        let server = kubeconfig
            .lines()
            .find_map(|l| l.trim().strip_prefix("server: https://"))
            .expect("a server in the kubeconfig");
        let (host, port) = server.rsplit_once(':').expect("host:port");
        Self {
            api: (host.to_owned(), port.to_owned()),
            sims: Api::namespaced(client.clone(), SIM_NS),
            pods: Api::namespaced(client.clone(), SIM_NS),
            sim_file: cluster.dir.path().join("plant.yaml"),
            broker,
            client,
            cluster,
        }
    }

    /// The environment that tells a pod where the API server is: what the kubelet would take
    /// from the `kubernetes` Service, whose IP has no kube-proxy to route it here.
    pub fn api_env_yaml(&self, indent: &str) -> String {
        format!(
            "{indent}- {{name: KUBERNETES_SERVICE_HOST, value: \"{}\"}}\n{indent}- {{name: KUBERNETES_SERVICE_PORT, value: \"{}\"}}\n",
            self.api.0, self.api.1
        )
    }

    /// `devsim verify` of the topic against `plant`; returns (exit code, report, stderr).
    pub fn verify(&self, extra: &[&str]) -> (Option<i32>, String, String) {
        e2e_support::verify(
            &self.broker.bootstrap,
            TOPIC,
            &self.sim_file,
            DEVICES,
            extra,
        )
    }

    /// Runs `ctr` against the node's containerd, in the namespace the kubelet uses.
    pub fn ctr(&self, args: &[&str]) -> String {
        let socket = self.cluster.dir.path().join("containerd/containerd.sock");
        let output = Command::new("ctr")
            .arg("-a")
            .arg(socket)
            .args(["-n", "k8s.io"])
            .args(args)
            .output()
            .expect("run ctr");
        assert!(
            output.status.success(),
            "ctr {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// The `plant` simulation: `replicas` shards of DEVICES devices every INTERVAL_MS, into the
/// embedded Kafka through its relay, with a worker template a GitOps user would write.
pub fn plant(bootstrap: &str) -> String {
    format!(
        "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: plant\n  namespace: {SIM_NS}\nspec:\n  devices: {DEVICES}\n  seed: 9\n  interval: {INTERVAL_MS}ms\n  replicas: 2\n  workersPerReplica: 1\n  kafka:\n    bootstrapServers: \"{bootstrap}\"\n    topic: {TOPIC}\n    partitions: 12\n    compression: lz4\n  workerTemplate:\n    labels: {{team: iot}}\n    annotations: {{example.com/owner: plant-team}}\n    priorityClassName: devsim-workers\n    nodeSelector: {{kubernetes.io/os: linux}}\n    tolerations:\n      - {{key: dedicated, operator: Equal, value: simulation, effect: NoSchedule}}\n    env:\n      - {{name: RUST_LOG, value: \"info,devsim=info\"}}\n"
    )
}

/// Whether `rate` is within ±10 % of what the schedule asks for.
pub fn rate_ok(rate: f64) -> bool {
    let expected = f64::from(DEVICES) * 1000.0 / INTERVAL_MS as f64;
    (rate - expected).abs() <= 0.1 * expected
}

/// The pods matching `selector`, as the API server lists them.
pub async fn pods(api: &Api<Pod>, selector: &str) -> Vec<Pod> {
    api.list(&ListParams::default().labels(selector))
        .await
        .expect("list pods")
        .items
}

/// Whether the kubelet reports `pod` Running with every container ready.
pub fn running_and_ready(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && pod.metadata.deletion_timestamp.is_none()
        && status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Waits until exactly `count` pods match `selector`, all Running and Ready; returns them.
pub async fn ready_pods(
    api: &Api<Pod>,
    selector: &str,
    count: usize,
    within: Duration,
) -> Vec<Pod> {
    eventually(
        &format!("{count} pods Running and Ready ({selector})"),
        within,
        || async {
            let pods = pods(api, selector).await;
            (pods.len() == count && pods.iter().all(running_and_ready)).then_some(pods)
        },
    )
    .await
}

/// Waits until `plant` runs `replicas` confirmed shards at the scheduled rate.
pub async fn plant_settled(sims: &Api<DeviceSimulation>, replicas: u32, within: Duration) {
    eventually(
        &format!("plant: {replicas} shards confirmed and the full rate"),
        within,
        || async {
            let s = status(sims, "plant").await;
            let settled = e2e_support::shards_settled(&s, replicas);
            (settled && rate_ok(s.messages_per_second)).then_some(())
        },
    )
    .await;
}

/// The host PIDs of the processes running `devsim worker --simulation NAME` (the containers'
/// processes, as the host sees them).
pub fn worker_pids(simulation: &str) -> Vec<u32> {
    let needle = format!("worker\0--simulation\0{simulation}\0");
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .collect()
}

/// The name of a pod, for messages.
pub fn names(pods: &[Pod]) -> Vec<String> {
    pods.iter().map(ResourceExt::name_any).collect()
}
