//! End to end on a real node: the image built by image/build.sh, loaded into containerd; the
//! operator installed with the Helm chart and run by a real kubelet as the chart's Deployment
//! pod; the workers run as the StatefulSet pods it creates, scheduled by kube-scheduler, with
//! ServiceAccount tokens the API server issued and the restricted security context and limits
//! enforced by runc. Kafka is the embedded one (`devsim broker --listen` on the node's bridge,
//! which pods reach); `devsim verify` judges every scenario. The secured-Kafka scenario uses
//! tansu with SCRAM on the same bridge (tests/env/tansu.sh builds it once).
//!
//! The second tier of the end-to-end tests (tests/e2e.rs is the fast one, with the harness as
//! kubelet). Ignored by plain `cargo test`: it needs root, builds kubelet and kube-scheduler
//! (tests/env/build-kube.sh) and the release image; `.ci/run` runs it.

mod common;
mod e2e_support;
mod node_phases;

use e2e_support::{Cluster, assert_all_passed, phase, run_steps};
use node_phases::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, kubelet 1.20 and containerd (tests/env/start-node.sh) and the release image"]
async fn real_node_end_to_end() {
    let images = tempfile::tempdir().expect("temporary directory");
    let archive = build_image(images.path());
    let started = std::time::Instant::now();
    let cluster = Cluster::start_node(&[archive.as_path()]);
    eprintln!(
        "node: up and Ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut node = Node::new(cluster).await;
    let phases = [
        phase!("helm-install-and-run", [], helm_install_and_run),
        phase!(
            "scale-through-the-scheduler",
            ["helm-install-and-run"],
            scale_through_the_scheduler
        ),
        phase!(
            "worker-pod-deleted-and-container-killed",
            ["helm-install-and-run"],
            worker_pod_deleted_and_container_killed
        ),
        phase!(
            "operator-pod-deleted-and-two-replicas",
            ["helm-install-and-run"],
            operator_pod_deleted_and_two_replicas
        ),
        phase!(
            "memory-limit-too-small",
            ["helm-install-and-run"],
            memory_limit_too_small
        ),
        phase!("secured-kafka", ["helm-install-and-run"], secured_kafka),
        phase!(
            "delete-and-uninstall",
            ["helm-install-and-run"],
            delete_and_uninstall
        ),
    ];
    let outcomes = run_steps(&mut node, &phases).await;
    assert_all_passed(&outcomes);
}
