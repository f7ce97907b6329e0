//! `spec.workerTemplate`: how a simulation's worker pods are placed and dressed in the cluster,
//! for what a GitOps user sets on any workload (node placement, priority, extra environment,
//! labels and annotations for meshes and scrapers, the node's network).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, EnvVar, LocalObjectReference, Toleration};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Pod labels the operator sets on its workers (their selector): a template may not set them.
pub const OPERATOR_LABELS: [&str; 4] = [
    "app.kubernetes.io/name",
    "app.kubernetes.io/component",
    "app.kubernetes.io/instance",
    "devsim.io/simulation",
];
/// Environment variables the operator sets on its workers: a template may not set them.
pub const OPERATOR_ENV: [&str; 2] = ["POD_NAME", "POD_NAMESPACE"];
/// Prefix of the variables that carry `spec.kafka.security`'s secrets (filled from Secrets by
/// the operator): a template may not set them, so no secret is ever written in the resource.
pub const OPERATOR_ENV_PREFIX: &str = "DEVSIM_KAFKA_";

/// Whether the operator owns the worker environment variable `name`.
pub fn is_operator_env(name: &str) -> bool {
    OPERATOR_ENV.contains(&name) || name.starts_with(OPERATOR_ENV_PREFIX)
}

/// Overrides of the worker pods' template. The operator's own settings (image, arguments,
/// probes, security context, the selector's labels, `POD_NAME` and `POD_NAMESPACE`) cannot be
/// overridden: a field that tries is refused with its path.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = quantities_as_strings)]
pub struct WorkerTemplateSpec {
    /// Labels added to every worker pod.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,

    /// Annotations added to every worker pod (for example a service mesh's or a scraper's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,

    /// Run the workers in their node's network namespace, to reach a Kafka that only the nodes
    /// can reach. Each worker then takes its metrics port (9400) on the node, so at most one
    /// worker of a simulation runs per node: give the simulation as many schedulable nodes as
    /// replicas. DNS then follows `ClusterFirstWithHostNet`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub host_network: bool,

    /// Nodes the workers may run on, by label (as a pod's `nodeSelector`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,

    /// Taints the workers tolerate (as a pod's `tolerations`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,

    /// Node and pod affinity of the workers (as a pod's `affinity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// Environment variables added to the worker container, after the operator's own (for
    /// example `RUST_LOG`, or a proxy's address).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,

    /// PriorityClass of the worker pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,

    /// Secrets for pulling the worker image from a private registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
}

/// Kubernetes 1.20's API server cannot build the OpenAPI model of a CRD holding an
/// int-or-string field (`env[].valueFrom.resourceFieldRef.divisor` here) and then applies every
/// list of the resource as one atomic value, so that the workers' server-side applies of their
/// `status.shards` entries would replace each other's. Those fields are quantities, which are
/// written as strings anyway (`1Mi`): the schema says string.
fn quantities_as_strings(schema: &mut schemars::Schema) {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                if map.remove("x-kubernetes-int-or-string").is_some() {
                    map.remove("anyOf");
                    map.insert("type".to_owned(), "string".into());
                }
                map.values_mut().for_each(walk);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    if let Some(object) = schema.as_object_mut() {
        object.values_mut().for_each(walk);
    }
}
