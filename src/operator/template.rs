//! A simulation's `spec.workerTemplate` laid over the worker pod template the operator builds.
//! Validation (`config::validate`) has already refused overrides of what the operator owns, so
//! here the operator's labels and environment are simply kept first.

use k8s_openapi::api::core::v1::PodTemplateSpec;

use crate::crd::WorkerTemplateSpec;

/// Adds the user's placement and dress to `template`, keeping what the operator set.
pub(super) fn overlay(template: &mut PodTemplateSpec, overrides: &WorkerTemplateSpec) {
    let meta = template.metadata.get_or_insert_with(Default::default);
    if !overrides.labels.is_empty() {
        let labels = meta.labels.get_or_insert_with(Default::default);
        for (key, value) in &overrides.labels {
            labels.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    if !overrides.annotations.is_empty() {
        meta.annotations
            .get_or_insert_with(Default::default)
            .extend(overrides.annotations.clone());
    }
    let Some(pod) = template.spec.as_mut() else {
        return;
    };
    if overrides.host_network {
        pod.host_network = Some(true);
        // Without it a host-network pod resolves with the node's resolver, not the cluster's.
        pod.dns_policy = Some("ClusterFirstWithHostNet".to_owned());
    }
    if !overrides.node_selector.is_empty() {
        pod.node_selector = Some(overrides.node_selector.clone());
    }
    if !overrides.tolerations.is_empty() {
        pod.tolerations = Some(overrides.tolerations.clone());
    }
    pod.affinity.clone_from(&overrides.affinity);
    pod.priority_class_name
        .clone_from(&overrides.priority_class_name);
    if !overrides.image_pull_secrets.is_empty() {
        pod.image_pull_secrets = Some(overrides.image_pull_secrets.clone());
    }
    if !overrides.env.is_empty() {
        for container in &mut pod.containers {
            container
                .env
                .get_or_insert_with(Default::default)
                .extend(overrides.env.iter().cloned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_simulation;
    use crate::operator::build::{BuildConfig, stateful_set};
    use k8s_openapi::api::core::v1::EnvVar;

    fn pod_template(extra: &str) -> PodTemplateSpec {
        pod_template_with(extra, BuildConfig::new("devsim:test", "IfNotPresent"))
    }

    fn pod_template_with(extra: &str, config: BuildConfig) -> PodTemplateSpec {
        let sim = parse_simulation(&format!(
            "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: plant\n  namespace: iot\n  uid: u1\nspec:\n  devices: 10\n{extra}"
        ))
        .expect("fixture parses");
        let sts = stateful_set(&sim, 2, &config);
        sts.spec.expect("spec").template
    }

    #[test]
    fn no_template_leaves_the_operators_pod_alone() {
        let pod = pod_template("").spec.expect("pod");
        assert_eq!(pod.host_network, None);
        assert_eq!(pod.dns_policy, None);
        assert_eq!(pod.node_selector, None);
        assert_eq!(pod.tolerations, None);
        assert_eq!(pod.affinity, None);
        assert_eq!(pod.priority_class_name, None);
        let env = pod.containers[0].env.clone().expect("env");
        let names: Vec<_> = env.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["POD_NAME", "POD_NAMESPACE"]);
    }

    #[test]
    fn every_override_reaches_the_pod_and_the_operators_own_fields_stay() {
        let template = pod_template(concat!(
            "  workerTemplate:\n",
            "    labels: {team: iot, app.kubernetes.io/name: other}\n",
            "    annotations: {sidecar.istio.io/inject: \"false\"}\n",
            "    hostNetwork: true\n",
            "    nodeSelector: {kubernetes.io/os: linux}\n",
            "    tolerations: [{key: dedicated, operator: Equal, value: sim, effect: NoSchedule}]\n",
            "    affinity:\n",
            "      podAntiAffinity:\n",
            "        requiredDuringSchedulingIgnoredDuringExecution:\n",
            "        - topologyKey: kubernetes.io/hostname\n",
            "          labelSelector: {matchLabels: {devsim.io/simulation: plant}}\n",
            "    env: [{name: RUST_LOG, value: debug}]\n",
            "    priorityClassName: simulations\n",
            "    imagePullSecrets: [{name: registry}]\n",
        ));
        let labels = template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .expect("labels");
        assert_eq!(labels["team"], "iot");
        // The selector's labels are the operator's: a user's value never replaces them.
        assert_eq!(labels["app.kubernetes.io/name"], "devsim");
        let annotations = template
            .metadata
            .and_then(|m| m.annotations)
            .expect("annotations");
        assert_eq!(annotations["sidecar.istio.io/inject"], "false");
        let pod = template.spec.expect("pod");
        assert_eq!(pod.host_network, Some(true));
        assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirstWithHostNet"));
        assert_eq!(
            pod.node_selector.expect("selector")["kubernetes.io/os"],
            "linux"
        );
        assert_eq!(
            pod.tolerations.expect("tolerations")[0].key.as_deref(),
            Some("dedicated")
        );
        let anti = pod
            .affinity
            .and_then(|a| a.pod_anti_affinity)
            .expect("anti-affinity");
        assert_eq!(
            anti.required_during_scheduling_ignored_during_execution
                .expect("rule")[0]
                .topology_key,
            "kubernetes.io/hostname"
        );
        assert_eq!(pod.priority_class_name.as_deref(), Some("simulations"));
        assert_eq!(pod.image_pull_secrets.expect("secrets")[0].name, "registry");
        let env = pod.containers[0].env.clone().expect("env");
        let names: Vec<_> = env.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["POD_NAME", "POD_NAMESPACE", "RUST_LOG"]);
        // What the operator owns is untouched.
        assert_eq!(pod.containers[0].image.as_deref(), Some("devsim:test"));
        assert_eq!(pod.service_account_name.as_deref(), Some("plant-workers"));
    }

    #[test]
    fn the_installations_worker_env_comes_before_the_simulations() {
        let mut config = BuildConfig::new("devsim:test", "IfNotPresent");
        config.worker_env = vec![EnvVar {
            name: "KUBERNETES_SERVICE_HOST".to_owned(),
            value: Some("10.0.0.1".to_owned()),
            ..EnvVar::default()
        }];
        let template = pod_template_with(
            "  workerTemplate:\n    env: [{name: RUST_LOG, value: debug}]\n",
            config,
        );
        let env = template.spec.expect("pod").containers[0]
            .env
            .clone()
            .expect("env");
        let names: Vec<_> = env.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "POD_NAME",
                "POD_NAMESPACE",
                "KUBERNETES_SERVICE_HOST",
                "RUST_LOG"
            ]
        );
    }
}
