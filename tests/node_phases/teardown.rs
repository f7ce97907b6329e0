//! Scenario 6: `kubectl delete devsim` and `helm uninstall` leave nothing behind.

use std::time::{Duration, Instant};

use kube::api::{Api, ApiResource, DynamicObject, ListParams};

use super::install::helm;
use super::{Node, OPERATOR_NS, PLANT_WORKERS, RELEASE, SIM_NS, pods, worker_pids};
use crate::e2e_support::eventually;

/// Names of the objects of `kind` (api version, kind, plural) in `namespace` whose labels match
/// `selector` (all of them if empty).
async fn left(n: &Node, kind: (&str, &str, &str), namespace: &str, selector: &str) -> Vec<String> {
    let (version, kind, plural) = kind;
    let (group, version) = version.split_once('/').unwrap_or(("", version));
    let resource = ApiResource {
        group: group.to_owned(),
        version: version.to_owned(),
        api_version: if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        },
        kind: kind.to_owned(),
        plural: plural.to_owned(),
    };
    let api: Api<DynamicObject> = if namespace.is_empty() {
        Api::all_with(n.client.clone(), &resource)
    } else {
        Api::namespaced_with(n.client.clone(), namespace, &resource)
    };
    api.list(&ListParams::default().labels(selector))
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .map(|name| format!("{kind}/{name}"))
        .collect()
}

const STATEFULSETS: (&str, &str, &str) = ("apps/v1", "StatefulSet", "statefulsets");
const SERVICES: (&str, &str, &str) = ("v1", "Service", "services");
const ACCOUNTS: (&str, &str, &str) = ("v1", "ServiceAccount", "serviceaccounts");
const ROLES: (&str, &str, &str) = ("rbac.authorization.k8s.io/v1", "Role", "roles");
const BINDINGS: (&str, &str, &str) = (
    "rbac.authorization.k8s.io/v1",
    "RoleBinding",
    "rolebindings",
);
const DEPLOYMENTS: (&str, &str, &str) = ("apps/v1", "Deployment", "deployments");
const CLUSTER_ROLES: (&str, &str, &str) = (
    "rbac.authorization.k8s.io/v1",
    "ClusterRole",
    "clusterroles",
);
const CLUSTER_BINDINGS: (&str, &str, &str) = (
    "rbac.authorization.k8s.io/v1",
    "ClusterRoleBinding",
    "clusterrolebindings",
);
const LEASES: (&str, &str, &str) = ("coordination.k8s.io/v1", "Lease", "leases");

pub async fn delete_and_uninstall(n: &mut Node) {
    let started = Instant::now();
    n.cluster
        .kubectl_ok(&["delete", "devsim", "plant", "-n", SIM_NS, "--wait=true"]);
    let owned = "devsim.io/simulation=plant";
    let remaining = eventually(
        "everything plant owned is gone, its pods stopped",
        Duration::from_secs(90),
        || async {
            let mut remaining = Vec::new();
            for kind in [STATEFULSETS, SERVICES, ACCOUNTS, ROLES, BINDINGS] {
                remaining.extend(left(n, kind, SIM_NS, owned).await);
            }
            remaining.extend(super::names(&pods(&n.pods, PLANT_WORKERS).await));
            (remaining.is_empty() && worker_pids("plant").is_empty()).then_some(remaining)
        },
    )
    .await;
    assert!(remaining.is_empty());
    eprintln!(
        "node: kubectl delete devsim plant: StatefulSet, Service, ServiceAccount, Role, RoleBinding, pods and processes gone in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    helm(
        n,
        &["uninstall", RELEASE, "--namespace", OPERATOR_NS, "--wait"],
    );
    let release = "app.kubernetes.io/instance=devsim";
    let remaining = eventually(
        "everything the chart installed, and the operator's Lease, is gone",
        Duration::from_secs(90),
        || async {
            let mut remaining = Vec::new();
            for kind in [DEPLOYMENTS, SERVICES, ACCOUNTS, ROLES, BINDINGS] {
                remaining.extend(left(n, kind, OPERATOR_NS, release).await);
            }
            for kind in [CLUSTER_ROLES, CLUSTER_BINDINGS] {
                remaining.extend(left(n, kind, "", release).await);
            }
            remaining.extend(left(n, LEASES, OPERATOR_NS, "").await);
            let operators: Api<k8s_openapi::api::core::v1::Pod> =
                Api::namespaced(n.client.clone(), OPERATOR_NS);
            remaining.extend(super::names(&pods(&operators, release).await));
            remaining.is_empty().then_some(remaining)
        },
    )
    .await;
    assert!(remaining.is_empty());
    // Helm never deletes a chart's CRDs (nor, with them, every simulation in the cluster).
    n.cluster
        .kubectl_ok(&["get", "crd", "devicesimulations.devsim.io"]);
    eprintln!(
        "node: helm uninstall: Deployment, pods, ServiceAccount, RBAC, Service and Lease gone in {:.1} s; the CRD stays, as Helm keeps CRDs",
        started.elapsed().as_secs_f64()
    );
}
