//! How `spec.kafka.security`'s secrets reach a worker: environment variables the kubelet fills
//! from the Secrets. The workers' service account reads no Secret itself, and a missing Secret
//! or key holds the container in `CreateContainerConfigError`, which the status reports with
//! the kubelet's words.

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, SecretKeySelector};

use crate::crd::DeviceSimulation;

/// The environment variables that carry `spec.kafka.security`'s secrets into a worker, each
/// filled by the kubelet from its Secret: the workers' service account reads no Secret itself.
/// A missing Secret or key holds the container in `CreateContainerConfigError`, which the
/// status reports with the kubelet's words.
pub(super) fn secret_env(sim: &DeviceSimulation) -> Vec<EnvVar> {
    sim.spec
        .kafka
        .security
        .references()
        .into_iter()
        .map(|(credential, reference)| EnvVar {
            name: credential.env().to_owned(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: reference.name.clone(),
                    key: reference.key.clone(),
                    optional: Some(false),
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {

    use crate::config::parse_simulation;
    use crate::operator::build::{BuildConfig, stateful_set};

    #[test]
    fn security_secrets_reach_the_worker_only_through_the_kubelet() {
        let secured = parse_simulation(
            "apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: plant\n  namespace: iot\nspec:\n  devices: 10\n  kafka:\n    security:\n      protocol: SASL_SSL\n      sasl:\n        mechanism: SCRAM-SHA-512\n        username: {secretKeyRef: {name: kafka-user, key: user}}\n        password: {secretKeyRef: {name: kafka-user, key: password}}\n      tls:\n        caCertificate: {secretKeyRef: {name: cluster-ca, key: ca.crt}}\n",
        )
        .expect("fixture parses");
        let sts = stateful_set(
            &secured,
            1,
            &BuildConfig::new("devsim:test", "IfNotPresent"),
        );
        let pod = sts.spec.expect("spec").template.spec.expect("pod");
        let env = pod.containers[0].env.clone().expect("env");
        let from_secret: Vec<(&str, &str, &str)> = env
            .iter()
            .filter_map(|e| {
                let r = e.value_from.as_ref()?.secret_key_ref.as_ref()?;
                assert_eq!(r.optional, Some(false), "{}", e.name);
                assert_eq!(e.value, None, "{}", e.name);
                Some((e.name.as_str(), r.name.as_str(), r.key.as_str()))
            })
            .collect();
        assert_eq!(
            from_secret,
            [
                ("DEVSIM_KAFKA_SASL_USERNAME", "kafka-user", "user"),
                ("DEVSIM_KAFKA_SASL_PASSWORD", "kafka-user", "password"),
                ("DEVSIM_KAFKA_TLS_CA_CERTIFICATE", "cluster-ca", "ca.crt"),
            ]
        );
        // No volume: nothing of the Secret lands on the pod's disk or in its spec.
        assert_eq!(pod.volumes, None);
    }
}
