//! The phases of the end-to-end run (see `tests/e2e.rs`), and what they share.

mod checks;
mod install;
mod monitoring;
mod outage;
mod refusals;
mod running;
mod setup;
mod sigterm;

pub use checks::{
    delete_collects_garbage, kafka_unreachable_from_the_start, verify_whole_run_and_events,
};
pub use install::{OPERATOR_NS, chart_install, rbac_least_privilege};
pub use monitoring::prometheus_dashboard;
pub use outage::kafka_outage_mid_run;
pub use refusals::invalid_resources;
pub use running::{
    operator_failover, pause_resume_interval, scale_with_exact_handoff, worker_crash,
};
pub use setup::{apply_and_run, crd_and_schema, operators_and_lease};
pub use sigterm::worker_sigterm_at_full_rate;

use std::path::PathBuf;

use devsim::crd::DeviceSimulation;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Service;
use kube::Client;
use kube::api::Api;

use crate::common;
pub use crate::e2e_support::status;
use crate::e2e_support::{Cluster, Kubelet, Process};

pub const NS: &str = "default";
pub const DEVICES: u32 = 200;
pub const INTERVAL_MS: u64 = 500;

pub fn simulation(name: &str, bootstrap: &str, extra: &str) -> String {
    format!(
        "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: {name}\n  namespace: {NS}\nspec:\n  devices: {DEVICES}\n  seed: 5\n  interval: {INTERVAL_MS}ms\n  replicas: 2\n  workersPerReplica: 1\n  anomalyRate: 0.01\n  kafka:\n    bootstrapServers: \"{bootstrap}\"\n    topic: e2e\n    partitions: 12\n    compression: lz4\n{extra}"
    )
}

/// `kubectl patch` of a simulation's spec, as a GitOps tool or a person would edit it in place.
pub fn patch_spec(cluster: &Cluster, name: &str, patch: &str) {
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
pub fn rate_ok(rate: f64, interval_ms: u64) -> bool {
    let expected = f64::from(DEVICES) * 1000.0 / interval_ms as f64;
    (rate - expected).abs() <= 0.1 * expected
}

/// Who holds the operators' Lease now.
pub fn lease_holder(cluster: &Cluster) -> String {
    cluster
        .kubectl(&[
            "get",
            "lease",
            "devsim-operator",
            "-n",
            OPERATOR_NS,
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
        .1
}

/// Everything the phases share: the cluster, the processes that run against it, the APIs.
pub struct E2e {
    pub cluster: Cluster,
    pub client: Client,
    pub logs: PathBuf,
    pub broker: common::BrokerProcess,
    pub sim_file: PathBuf,
    pub operator: Option<Process>,
    pub standby: Option<Process>,
    pub kubelet: Option<Kubelet>,
    pub sims: Api<DeviceSimulation>,
    pub sets: Api<StatefulSet>,
    pub services: Api<Service>,
}

/// The events about the object `name`, as `kubectl get events` lists them.
pub fn events_of(cluster: &Cluster, name: &str) -> String {
    cluster.kubectl_ok(&[
        "get",
        "events",
        "-n",
        NS,
        "--field-selector",
        &format!("involvedObject.name={name}"),
    ])
}

/// `devsim verify` of the `e2e` topic against the `plant` simulation, expecting every device,
/// with `extra` flags; returns (exit code, report, stderr).
pub fn verify_topic(e: &E2e, extra: &[&str]) -> (Option<i32>, String, String) {
    crate::e2e_support::verify(&e.broker.bootstrap, "e2e", &e.sim_file, DEVICES, extra)
}
