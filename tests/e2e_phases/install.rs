//! The Helm chart on the real API server: its render through the server's own dry run, a real
//! `helm install`, and what the chart's RBAC refuses to the operator and to a worker.

use std::path::PathBuf;

use devsim::crd::DeviceSimulation;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Pod, PodSpec, Secret};
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};

use super::{E2e, NS, simulation};
use crate::common::tools;
use crate::e2e_support::{client_from, kubeconfig_for};

/// Namespace of the operator, its ServiceAccount and its Lease.
pub const OPERATOR_NS: &str = "devsim-system";
/// The Helm release, and so the operator's Deployment and ServiceAccount.
pub const RELEASE: &str = "devsim";

/// `kubectl apply --dry-run=server` of the render, then `helm install`: the CRD, the RBAC and
/// the Deployment are in the API server, as a cluster admin would put them there.
pub async fn chart_install(e: &mut E2e) {
    e.cluster.kubectl_ok(&["create", "namespace", OPERATOR_NS]);
    let render = e.logs.join("chart-render.yaml");
    std::fs::write(&render, tools::render(OPERATOR_NS, &["--include-crds"])).expect("write render");
    let dry_run = e.cluster.kubectl_ok(&[
        "apply",
        "--dry-run=server",
        "-f",
        render.to_str().expect("UTF-8"),
    ]);
    eprintln!("e2e: server dry run of the chart:\n{dry_run}");
    let kubeconfig = e.cluster.kubeconfig.to_str().expect("UTF-8");
    let installed = tools::run_ok(
        "helm",
        &[
            "install",
            RELEASE,
            "charts/devsim",
            "--namespace",
            OPERATOR_NS,
            "--kubeconfig",
            kubeconfig,
        ],
    );
    // NOTES.txt: what to type next.
    assert!(
        installed.contains("rollout status deployment/devsim")
            && installed.contains("kubectl apply -f examples/simulation.yaml"),
        "{installed}"
    );
    let listed = tools::run_ok(
        "helm",
        &[
            "list",
            "--namespace",
            OPERATOR_NS,
            "--kubeconfig",
            kubeconfig,
        ],
    );
    assert!(
        listed.contains(RELEASE) && listed.contains("deployed"),
        "{listed}"
    );
    let account = deployed_pod(e).await.service_account_name;
    assert_eq!(account.as_deref(), Some(RELEASE));
    eprintln!("e2e: helm install done:\n{listed}");

    // The GitOps kustomization, built as users build it, through the server's dry run too:
    // its simulation against the CRD the chart has just installed.
    let kustomized = e.logs.join("kustomize-build.yaml");
    std::fs::write(
        &kustomized,
        tools::stdout_of("kubectl", &["kustomize", "examples/kustomize"]),
    )
    .expect("write kustomize build");
    let dry_run = e.cluster.kubectl_ok(&[
        "apply",
        "--dry-run=server",
        "-f",
        kustomized.to_str().expect("UTF-8"),
    ]);
    assert!(
        dry_run.contains("devicesimulation.devsim.io/factory-floor created (server dry run)"),
        "{dry_run}"
    );
}

/// The pod template of the chart's operator Deployment, as the API server holds it.
async fn deployed_pod(e: &E2e) -> PodSpec {
    Api::<Deployment>::namespaced(e.client.clone(), OPERATOR_NS)
        .get(RELEASE)
        .await
        .expect("the chart's Deployment")
        .spec
        .and_then(|s| s.template.spec)
        .expect("a pod template")
}

/// The operator as the chart's Deployment runs it: its container's args and environment, with
/// a token of the chart's ServiceAccount (there is no kubelet to run the pod itself).
pub async fn operator_as_deployed(e: &E2e, identity: &str) -> (Vec<String>, Vec<(String, String)>) {
    let pod = deployed_pod(e).await;
    let account = pod.service_account_name.clone().expect("a ServiceAccount");
    let kubeconfig = operator_kubeconfig(e, &account).await;
    let container = &pod.containers[0];
    let args = container
        .args
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            // The pod's own port would clash between two replicas on one machine.
            if a.starts_with("--metrics-addr") {
                "--metrics-addr=127.0.0.1:0".to_owned()
            } else {
                a
            }
        })
        .collect();
    let mut env: Vec<(String, String)> = container
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|var| {
            let from_field = var
                .value_from
                .and_then(|f| f.field_ref)
                .map(|f| f.field_path);
            let value = match from_field.as_deref() {
                Some("metadata.name") => identity.to_owned(),
                Some("metadata.namespace") => OPERATOR_NS.to_owned(),
                Some(other) => panic!("a field the harness cannot fill: {other}"),
                None => var.value.unwrap_or_default(),
            };
            (var.name, value)
        })
        .collect();
    env.push((
        "KUBECONFIG".to_owned(),
        kubeconfig.to_str().expect("UTF-8").to_owned(),
    ));
    (args, env)
}

/// A kubeconfig with a token of the operator's ServiceAccount.
pub async fn operator_kubeconfig(e: &E2e, account: &str) -> PathBuf {
    kubeconfig_for(
        &e.client,
        &e.cluster.kubeconfig,
        OPERATOR_NS,
        account,
        None,
        &e.logs.join("kubeconfig-operator"),
    )
    .await
    .expect("a token for the operator's ServiceAccount")
}

fn refused<T: std::fmt::Debug>(what: &str, result: Result<T, kube::Error>) {
    match result {
        Err(kube::Error::Api(status)) if status.code == 403 => {}
        other => panic!("{what}: expected 403 Forbidden, got {other:?}"),
    }
}

/// The operator and a worker, each with its own token, are refused everything the chart did
/// not grant: reading Secrets, deleting a namespace, deleting pods, granting itself more; a
/// worker cannot read or write another simulation, nor edit its own spec or workers.
pub async fn rbac_least_privilege(e: &mut E2e) {
    let admin = e.client.clone();
    let probe_ns = "rbac-probe";
    e.cluster.kubectl_ok(&["create", "namespace", probe_ns]);

    let operator = client_from(&operator_kubeconfig(e, RELEASE).await).await;
    let sims: Api<DeviceSimulation> = Api::all(operator.clone());
    sims.list(&ListParams::default())
        .await
        .expect("positive control: the operator lists simulations");
    refused(
        "operator lists Secrets",
        Api::<Secret>::namespaced(operator.clone(), NS)
            .list(&ListParams::default())
            .await,
    );
    refused(
        "operator reads Secrets of its own namespace",
        Api::<Secret>::namespaced(operator.clone(), OPERATOR_NS)
            .list(&ListParams::default())
            .await,
    );
    refused(
        "operator deletes a namespace",
        Api::<Namespace>::all(operator.clone())
            .delete(probe_ns, &DeleteParams::default())
            .await,
    );
    Api::<Pod>::all(operator.clone())
        .list(&ListParams::default())
        .await
        .expect("positive control: the operator lists pods (how workers ended)");
    refused(
        "operator deletes a pod",
        Api::<Pod>::namespaced(operator.clone(), NS)
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await,
    );
    let grab: ClusterRole = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "devsim-escalation"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
    }))
    .expect("ClusterRole");
    refused(
        "operator creates a ClusterRole",
        Api::<ClusterRole>::all(operator.clone())
            .create(&PostParams::default(), &grab)
            .await,
    );
    let probe = Api::<Namespace>::all(admin.clone())
        .get(probe_ns)
        .await
        .expect("the probe namespace still exists");
    assert!(probe.metadata.deletion_timestamp.is_none());

    // A second simulation in the same namespace, which plant's workers must not touch.
    let (ok, text) = e.cluster.apply(&simulation(
        "neighbour",
        &e.broker.bootstrap,
        "  paused: true\n",
    ));
    assert!(ok, "neighbour refused:\n{text}");
    let worker_kubeconfig = kubeconfig_for(
        &admin,
        &e.cluster.kubeconfig,
        NS,
        "plant-workers",
        None,
        &e.logs.join("kubeconfig-plant-worker-probe"),
    )
    .await
    .expect("a token for plant's workers");
    let worker = client_from(&worker_kubeconfig).await;
    let sims: Api<DeviceSimulation> = Api::namespaced(worker.clone(), NS);
    sims.get("plant")
        .await
        .expect("positive control: a worker reads its own simulation");
    refused(
        "worker reads another simulation",
        sims.get("neighbour").await,
    );
    refused(
        "worker lists every simulation",
        sims.list(&ListParams::default()).await,
    );
    let status = serde_json::json!({"status": {"phase": "Failed"}});
    refused(
        "worker writes another simulation's status",
        sims.patch_status("neighbour", &PatchParams::default(), &Patch::Merge(&status))
            .await,
    );
    refused(
        "worker edits its own simulation's spec",
        sims.patch(
            "plant",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"devices": 1}})),
        )
        .await,
    );
    refused(
        "worker deletes its own StatefulSet",
        Api::<StatefulSet>::namespaced(worker.clone(), NS)
            .delete("plant-workers", &DeleteParams::default())
            .await,
    );
    refused(
        "worker lists Secrets",
        Api::<Secret>::namespaced(worker, NS)
            .list(&ListParams::default())
            .await,
    );
    e.cluster
        .kubectl_ok(&["delete", "devsim/neighbour", "-n", NS, "--wait=false"]);
    eprintln!(
        "e2e: the operator's and a worker's tokens are refused Secrets, namespace deletion, pod deletion, escalation, other simulations and their own spec"
    );
}
