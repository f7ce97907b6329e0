//! The objects a simulation owns, built from its spec alone: pure, unit-tested without a client.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction,
    ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    SeccompProfile, SecurityContext, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource, ResourceExt};

use super::secret_env::secret_env;
use crate::crd::DeviceSimulation;

/// Port of each worker's `/metrics`, `/healthz` and `/readyz`.
pub const WORKER_METRICS_PORT: i32 = 9400;
/// Label carrying the simulation's name on everything it owns.
pub const SIMULATION_LABEL: &str = "devsim.io/simulation";

/// Settings of the operator that shape what it builds: the worker defaults an installation
/// (the Helm chart's `workers.*` values) passes to every StatefulSet.
#[derive(Clone, Debug)]
pub struct BuildConfig {
    /// Image of the worker pods: the operator's own image.
    pub worker_image: String,
    /// Pull policy of that image.
    pub image_pull_policy: String,
    /// Resources of a worker container whose simulation sets no `spec.workerResources`.
    pub worker_resources: Option<ResourceRequirements>,
    /// Security context of the worker container.
    pub worker_security_context: SecurityContext,
    /// Security context of the worker pod.
    pub worker_pod_security_context: PodSecurityContext,
    /// Environment of every worker container, after the operator's own variables and before
    /// a simulation's `spec.workerTemplate.env` (for what holds in the whole cluster, such as
    /// a proxy, or where pods reach the API server).
    pub worker_env: Vec<EnvVar>,
}

impl BuildConfig {
    /// Workers of `image` under the restricted Pod Security Standard, with no default resources.
    pub fn new(image: impl Into<String>, pull_policy: impl Into<String>) -> Self {
        Self {
            worker_image: image.into(),
            image_pull_policy: pull_policy.into(),
            worker_resources: None,
            worker_security_context: restricted_security_context(),
            worker_pod_security_context: restricted_pod_security_context(),
            worker_env: Vec::new(),
        }
    }
}

/// The container security context of the restricted Pod Security Standard, with a read-only
/// root filesystem (a worker writes nothing to disk).
pub fn restricted_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            ..Capabilities::default()
        }),
        ..SecurityContext::default()
    }
}

/// The pod security context of the restricted Pod Security Standard: the image's nonroot user
/// (65532, as in distroless) and the runtime's default seccomp profile.
pub fn restricted_pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(65532),
        run_as_group: Some(65532),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

/// Name of the StatefulSet and headless Service of a simulation's workers.
pub fn workers_name(sim: &DeviceSimulation) -> String {
    format!("{}-workers", sim.name_any())
}

/// Labels of the worker pods; also their selector.
pub fn worker_labels(sim: &DeviceSimulation) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "devsim".to_owned()),
        (
            "app.kubernetes.io/component".to_owned(),
            "worker".to_owned(),
        ),
        ("app.kubernetes.io/instance".to_owned(), sim.name_any()),
        (SIMULATION_LABEL.to_owned(), sim.name_any()),
    ])
}

/// The selector as the scale subresource reports it (`key=value,...`).
pub fn selector_string(sim: &DeviceSimulation) -> String {
    worker_labels(sim)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Metadata of an object a simulation owns: its workers' name and labels, and a controller
/// reference so that it is deleted with the simulation.
pub(super) fn owned_meta(sim: &DeviceSimulation) -> ObjectMeta {
    ObjectMeta {
        name: Some(workers_name(sim)),
        namespace: sim.namespace(),
        labels: Some(worker_labels(sim)),
        owner_references: sim.controller_owner_ref(&()).map(|r| vec![r]),
        ..ObjectMeta::default()
    }
}

/// The workers' StatefulSet: one pod per shard, `replicas` of them (0 while paused or done).
pub fn stateful_set(sim: &DeviceSimulation, replicas: u32, config: &BuildConfig) -> StatefulSet {
    let labels = worker_labels(sim);
    let field = |path: &str| EnvVarSource {
        field_ref: Some(ObjectFieldSelector {
            field_path: path.to_owned(),
            ..ObjectFieldSelector::default()
        }),
        ..EnvVarSource::default()
    };
    let probe = |path: &str| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("metrics".to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(5),
        ..Probe::default()
    };
    let container = Container {
        name: "worker".to_owned(),
        image: Some(config.worker_image.clone()),
        image_pull_policy: Some(config.image_pull_policy.clone()),
        args: Some(vec![
            "worker".to_owned(),
            "--simulation".to_owned(),
            sim.name_any(),
        ]),
        env: Some(
            [
                EnvVar {
                    name: "POD_NAME".to_owned(),
                    value_from: Some(field("metadata.name")),
                    ..EnvVar::default()
                },
                EnvVar {
                    name: "POD_NAMESPACE".to_owned(),
                    value_from: Some(field("metadata.namespace")),
                    ..EnvVar::default()
                },
            ]
            .into_iter()
            .chain(secret_env(sim))
            .chain(config.worker_env.iter().cloned())
            .collect(),
        ),
        ports: Some(vec![ContainerPort {
            name: Some("metrics".to_owned()),
            container_port: WORKER_METRICS_PORT,
            // Part of the list's merge key: server-side apply on older API servers needs it set.
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(probe("/readyz")),
        liveness_probe: Some(probe("/healthz")),
        resources: worker_resources(sim, config).cloned(),
        security_context: Some(config.worker_security_context.clone()),
        ..Container::default()
    };
    let mut template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container],
            // The account whose Role names this simulation only (see `access`).
            service_account_name: Some(super::access::access_name(sim)),
            // Long enough for a worker to flush its producer and report its totals.
            termination_grace_period_seconds: Some(30),
            security_context: Some(config.worker_pod_security_context.clone()),
            ..PodSpec::default()
        }),
    };
    if let Some(overrides) = &sim.spec.worker_template {
        super::template::overlay(&mut template, overrides);
    }
    StatefulSet {
        metadata: owned_meta(sim),
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas as i32),
            service_name: Some(workers_name(sim)),
            // Shards are independent: start and stop them all at once, not one by one.
            pod_management_policy: Some("Parallel".to_owned()),
            selector: LabelSelector {
                match_labels: Some(labels),
                ..LabelSelector::default()
            },
            template,
            ..StatefulSetSpec::default()
        }),
        status: None,
    }
}

/// Resources of `sim`'s worker container: its own `workerResources`, else the operator's.
fn worker_resources<'a>(
    sim: &'a DeviceSimulation,
    config: &'a BuildConfig,
) -> Option<&'a ResourceRequirements> {
    sim.spec
        .worker_resources
        .as_ref()
        .or(config.worker_resources.as_ref())
}

/// Bytes of memory a worker container of `sim` may use (the limit of its resources), if any.
pub fn worker_memory_limit(sim: &DeviceSimulation, config: &BuildConfig) -> Option<f64> {
    let limit = worker_resources(sim, config)?
        .limits
        .as_ref()?
        .get("memory")?;
    crate::crd::quantity::parse_quantity(&limit.0).ok()
}

/// The headless Service through which the workers' metrics are scraped.
pub fn service(sim: &DeviceSimulation) -> Service {
    Service {
        metadata: owned_meta(sim),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            selector: Some(worker_labels(sim)),
            ports: Some(vec![ServicePort {
                name: Some("metrics".to_owned()),
                port: WORKER_METRICS_PORT,
                protocol: Some("TCP".to_owned()),
                target_port: Some(IntOrString::String("metrics".to_owned())),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The API version and kind a typed object is applied with.
pub fn type_header<K: Resource<DynamicType = ()>>() -> (String, String) {
    (K::api_version(&()).into_owned(), K::kind(&()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_simulation;

    fn sim() -> DeviceSimulation {
        let mut sim = parse_simulation(
            "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: plant\n  namespace: iot\nspec:\n  devices: 10\n  replicas: 3\n  workerResources:\n    limits:\n      cpu: 500m\n",
        )
        .expect("fixture parses");
        sim.metadata.uid = Some("uid-1".into());
        sim
    }

    fn config() -> BuildConfig {
        BuildConfig::new("devsim:test", "IfNotPresent")
    }

    #[test]
    fn stateful_set_runs_one_worker_per_shard_owned_by_the_simulation() {
        let sts = stateful_set(&sim(), 3, &config());
        assert_eq!(sts.metadata.name.as_deref(), Some("plant-workers"));
        assert_eq!(sts.metadata.namespace.as_deref(), Some("iot"));
        let owner = &sts.metadata.owner_references.as_ref().expect("owned")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.controller),
            ("DeviceSimulation", "plant", Some(true))
        );
        let spec = sts.spec.expect("spec");
        assert_eq!(spec.replicas, Some(3));
        assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
        let pod = spec.template.spec.expect("pod spec");
        let c = &pod.containers[0];
        assert_eq!(
            c.args.as_deref(),
            Some(
                &[
                    "worker".to_owned(),
                    "--simulation".to_owned(),
                    "plant".to_owned()
                ][..]
            )
        );
        let env: Vec<_> = c
            .env
            .as_ref()
            .expect("env")
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(env, ["POD_NAME", "POD_NAMESPACE"]);
        assert_eq!(
            c.resources
                .as_ref()
                .and_then(|r| r.limits.as_ref())
                .map(|l| l["cpu"].0.as_str()),
            Some("500m")
        );
        let sc = c
            .security_context
            .as_ref()
            .expect("restricted security context");
        assert_eq!(
            (
                sc.allow_privilege_escalation,
                sc.run_as_non_root,
                sc.read_only_root_filesystem
            ),
            (Some(false), Some(true), Some(true))
        );
        assert_eq!(
            spec.selector.match_labels,
            spec.template.metadata.and_then(|m| m.labels)
        );
    }

    #[test]
    fn installation_defaults_apply_unless_the_simulation_sets_its_own_resources() {
        let mut config = config();
        config.worker_resources = Some(
            serde_json::from_str(r#"{"requests":{"cpu":"100m","memory":"64Mi"}}"#)
                .expect("resources"),
        );
        config.worker_security_context.run_as_user = Some(1000);
        let cpu = |sts: StatefulSet| {
            let pod = sts.spec.and_then(|s| s.template.spec).expect("pod spec");
            let container = &pod.containers[0];
            assert_eq!(pod.service_account_name.as_deref(), Some("plant-workers"));
            assert_eq!(
                container
                    .security_context
                    .as_ref()
                    .and_then(|c| c.run_as_user),
                Some(1000)
            );
            let resources = container.resources.clone().expect("resources");
            resources
                .limits
                .or(resources.requests)
                .map(|r| r["cpu"].0.clone())
        };
        assert_eq!(
            cpu(stateful_set(&sim(), 1, &config)),
            Some("500m".to_owned()),
            "the simulation's own workerResources win"
        );
        let mut bare = sim();
        bare.spec.worker_resources = None;
        assert_eq!(
            cpu(stateful_set(&bare, 1, &config)),
            Some("100m".to_owned())
        );
    }

    #[test]
    fn the_memory_limit_checked_is_the_one_the_worker_container_gets() {
        let mut config = config();
        config.worker_resources =
            Some(serde_json::from_str(r#"{"limits":{"memory":"256Mi"}}"#).expect("resources"));
        // The fixture's own resources set only a CPU limit, and they win whole: no limit.
        assert_eq!(worker_memory_limit(&sim(), &config), None);
        let mut bare = sim();
        bare.spec.worker_resources = None;
        assert_eq!(
            worker_memory_limit(&bare, &config),
            Some(256.0 * 1024.0 * 1024.0)
        );
        bare.spec.worker_resources =
            Some(serde_json::from_str(r#"{"limits":{"memory":"1G"}}"#).expect("resources"));
        assert_eq!(worker_memory_limit(&bare, &config), Some(1e9));
    }

    #[test]
    fn paused_simulations_get_zero_replicas_and_the_service_is_headless() {
        assert_eq!(
            stateful_set(&sim(), 0, &config())
                .spec
                .and_then(|s| s.replicas),
            Some(0)
        );
        let svc = service(&sim());
        assert_eq!(
            svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()),
            Some("None")
        );
        assert_eq!(svc.metadata.owner_references.map(|o| o.len()), Some(1));
    }

    #[test]
    fn selector_string_matches_the_pod_labels() {
        assert_eq!(
            selector_string(&sim()),
            "app.kubernetes.io/component=worker,app.kubernetes.io/instance=plant,app.kubernetes.io/name=devsim,devsim.io/simulation=plant"
        );
    }
}
