//! The objects a simulation owns, built from its spec alone: pure, unit-tested without a client.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction,
    ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, SeccompProfile,
    SecurityContext, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource, ResourceExt};

use crate::crd::DeviceSimulation;

/// Port of each worker's `/metrics`, `/healthz` and `/readyz`.
pub const WORKER_METRICS_PORT: i32 = 9400;
/// Label carrying the simulation's name on everything it owns.
pub const SIMULATION_LABEL: &str = "devsim.io/simulation";

/// Settings of the operator that shape what it builds.
#[derive(Clone, Debug)]
pub struct BuildConfig {
    /// Image of the worker pods: the operator's own image.
    pub worker_image: String,
    /// Pull policy of that image.
    pub image_pull_policy: String,
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

fn owned_meta(sim: &DeviceSimulation) -> ObjectMeta {
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
        env: Some(vec![
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
        ]),
        ports: Some(vec![ContainerPort {
            name: Some("metrics".to_owned()),
            container_port: WORKER_METRICS_PORT,
            // Part of the list's merge key: server-side apply on older API servers needs it set.
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(probe("/readyz")),
        liveness_probe: Some(probe("/healthz")),
        resources: sim.spec.worker_resources.clone(),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    };
    StatefulSet {
        metadata: owned_meta(sim),
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas as i32),
            service_name: Some(workers_name(sim)),
            // Shards are independent: start and stop them all at once, not one by one.
            pod_management_policy: Some("Parallel".to_owned()),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    // Long enough for a worker to flush its producer and report its totals.
                    termination_grace_period_seconds: Some(30),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(65532),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".to_owned(),
                            ..SeccompProfile::default()
                        }),
                        ..PodSecurityContext::default()
                    }),
                    ..PodSpec::default()
                }),
            },
            ..StatefulSetSpec::default()
        }),
        status: None,
    }
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
        BuildConfig {
            worker_image: "devsim:test".into(),
            image_pull_policy: "IfNotPresent".into(),
        }
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
