//! End to end against a real Kubernetes API server and controller-manager (v1.20, built from
//! Debian's source by tests/env/build-kube.sh), with the operator, the workers and the embedded
//! Kafka as real processes. Ignored by plain `cargo test` because the first build of the API
//! server needs root and ~10 minutes; `.ci/run` runs it (`cargo test -- --include-ignored`).
//!
//! One cluster, named phases in order (`e2e_support::steps`: a failed phase skips only the
//! phases that need it; `DEVSIM_E2E_PHASES=a,b` runs only those and what they need). This is the
//! fast tier: the harness plays the kubelet. The real node, with the image, the scheduler and a
//! kubelet, is `tests/real_node.rs`.

mod common;
mod e2e_phases;
mod e2e_support;

use kube::api::Api;

use e2e_phases::*;
use e2e_support::{Cluster, assert_all_passed, phase, run_steps};

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
        phase!("chart-install", [], chart_install),
        phase!("crd-and-schema", ["chart-install"], crd_and_schema),
        phase!(
            "operators-and-lease",
            ["crd-and-schema"],
            operators_and_lease
        ),
        phase!("apply-and-run", ["operators-and-lease"], apply_and_run),
        phase!(
            "prometheus-dashboard",
            ["apply-and-run"],
            prometheus_dashboard
        ),
        phase!(
            "scale-with-exact-handoff",
            ["apply-and-run"],
            scale_with_exact_handoff
        ),
        phase!(
            "rbac-least-privilege",
            ["apply-and-run"],
            rbac_least_privilege
        ),
        phase!("worker-crash", ["apply-and-run"], worker_crash),
        phase!(
            "worker-sigterm-at-full-rate",
            ["apply-and-run"],
            worker_sigterm_at_full_rate
        ),
        phase!("operator-failover", ["apply-and-run"], operator_failover),
        phase!(
            "pause-resume-interval",
            ["apply-and-run"],
            pause_resume_interval
        ),
        phase!(
            "invalid-resources",
            ["operators-and-lease"],
            invalid_resources
        ),
        phase!(
            "kafka-unreachable-from-start",
            ["operators-and-lease"],
            kafka_unreachable_from_the_start
        ),
        phase!(
            "kafka-outage-mid-run",
            ["operators-and-lease"],
            kafka_outage_mid_run
        ),
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
    let outcomes = run_steps(&mut e2e, &phases).await;
    if let Some(kubelet) = e2e.kubelet.take() {
        kubelet.shutdown().await;
    }
    // Keep the logs of a failed run for the person reading the failure (Cluster's Drop does).
    assert_all_passed(&outcomes);
}
