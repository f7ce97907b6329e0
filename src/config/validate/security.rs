//! The security step: protocol, SASL and TLS agree with each other, every Secret reference is
//! well formed, and no security property slips in through `spec.kafka.properties`.

use super::Validator;
use crate::crd::{KafkaSpec, SecretKeyRef, SecuritySpec};
use crate::engine::plan::{Credential, SecretUse, SecurityPlan};

/// librdkafka properties that `spec.kafka.security` owns: secrets (which must come from a
/// Secret, never from the resource) and the settings that must agree with them.
const OWNED_PROPERTIES: &[&str] = &[
    "security.protocol",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "sasl.oauthbearer.config",
    "sasl.oauthbearer.client.secret",
    "enable.ssl.certificate.verification",
    "ssl.endpoint.identification.algorithm",
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl_ca",
    "ssl.certificate.location",
    "ssl.certificate.pem",
    "ssl_certificate",
    "ssl.key.location",
    "ssl.key.pem",
    "ssl_key",
    "ssl.key.password",
    "ssl.keystore.location",
    "ssl.keystore.password",
];

impl Validator {
    pub(super) fn security(&mut self, k: &KafkaSpec) -> SecurityPlan {
        let s = &k.security;
        for key in k.properties.keys() {
            if OWNED_PROPERTIES.contains(&key.as_str()) {
                self.fail(
                    format!("spec.kafka.properties.{key}"),
                    "is set through spec.kafka.security (secrets by reference to a Secret, \
                     never written in the resource), not through properties",
                );
            }
        }
        self.protocol_agrees(s);
        let tls = s.tls.clone().unwrap_or_default();
        if tls.client_certificate.is_some() != tls.client_key.is_some() {
            self.fail(
                "spec.kafka.security.tls",
                "clientCertificate and clientKey go together (mutual TLS needs both), got one",
            );
        }
        if tls.client_key_password.is_some() && tls.client_key.is_none() {
            self.fail(
                "spec.kafka.security.tls.clientKeyPassword",
                "is the password of clientKey, which is not set",
            );
        }
        let secrets = s
            .references()
            .into_iter()
            .map(|(credential, reference)| self.secret(credential, reference))
            .collect();
        SecurityPlan {
            protocol: s.protocol.as_str(),
            sasl_mechanism: s.sasl.as_ref().map(|sasl| sasl.mechanism.as_str()),
            verify_certificate: tls.verify_server_certificate,
            verify_hostname: tls.verify_hostname,
            secrets,
        }
    }

    /// SASL settings exactly with a SASL protocol, TLS settings only with a TLS one.
    fn protocol_agrees(&mut self, s: &SecuritySpec) {
        let protocol = s.protocol;
        if protocol.uses_sasl() && s.sasl.is_none() {
            self.fail(
                "spec.kafka.security.sasl",
                format!(
                    "is required with protocol {}: mechanism (PLAIN, SCRAM-SHA-256 or \
                     SCRAM-SHA-512), username and password",
                    protocol.name()
                ),
            );
        }
        if !protocol.uses_sasl() && s.sasl.is_some() {
            self.fail(
                "spec.kafka.security.sasl",
                format!(
                    "is used only with protocol SASL_PLAINTEXT or SASL_SSL, got {}",
                    protocol.name()
                ),
            );
        }
        if !protocol.uses_tls() && s.tls.is_some() {
            self.fail(
                "spec.kafka.security.tls",
                format!(
                    "is used only with protocol SSL or SASL_SSL, got {}",
                    protocol.name()
                ),
            );
        }
    }

    /// A Secret reference: a Secret's name and a key as Kubernetes allows them.
    fn secret(&mut self, credential: Credential, reference: &SecretKeyRef) -> SecretUse {
        let field = credential.field();
        if !is_dns_subdomain(&reference.name) {
            self.fail(
                format!("{field}.secretKeyRef.name"),
                format!(
                    "must be a Secret's name (1 to 253 characters of a-z 0-9 - ., starting and \
                     ending with a letter or digit), got {:?}",
                    reference.name
                ),
            );
        }
        let key_ok = (1..=253).contains(&reference.key.len())
            && reference
                .key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
        if !key_ok {
            self.fail(
                format!("{field}.secretKeyRef.key"),
                format!(
                    "must be a Secret's key (1 to 253 characters of A-Z a-z 0-9 - . _), got {:?}",
                    reference.key
                ),
            );
        }
        SecretUse {
            credential,
            secret: reference.name.clone(),
            key: reference.key.clone(),
        }
    }
}

/// A Kubernetes object name (RFC 1123 subdomain).
fn is_dns_subdomain(name: &str) -> bool {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (1..=253).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && edge_ok(name.chars().next())
        && edge_ok(name.chars().last())
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigError, validate};
    use crate::engine::plan::{Credential, SecretUse};

    /// The Kafka plan of a one-device simulation whose `spec.kafka` is `block`, or its errors.
    fn kafka(block: &str) -> Result<crate::engine::plan::KafkaPlan, Vec<String>> {
        let indented: String = block.lines().map(|l| format!("  {l}\n")).collect();
        let sim = super::super::tests::sim(&format!("devices: 1\nkafka:\n{indented}"));
        match validate(&sim) {
            Ok(v) => Ok(v.kafka),
            Err(ConfigError::Invalid(errors)) => {
                Err(errors.iter().map(ToString::to_string).collect())
            }
            Err(other) => panic!("not a validation error: {other}"),
        }
    }

    fn refused(block: &str, field: &str, says: &str) {
        let errors = kafka(block).expect_err(block);
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(&format!("{field}: ")) && e.contains(says)),
            "{block}\n-> {errors:#?}\nexpected {field}: …{says}…"
        );
    }

    const SASL: &str = "sasl:\n    mechanism: SCRAM-SHA-512\n    username: {secretKeyRef: {name: kafka-user, key: username}}\n    password: {secretKeyRef: {name: kafka-user, key: password}}\n";

    #[test]
    fn sasl_over_tls_becomes_librdkafka_words_and_secret_references() {
        let plan = kafka(&format!(
            "security:\n  protocol: SASL_SSL\n  {SASL}  tls:\n    caCertificate: {{secretKeyRef: {{name: cluster-ca, key: ca.crt}}}}\n    verifyHostname: false\n"
        ))
        .expect("valid");
        let s = &plan.security;
        assert_eq!(s.protocol, "sasl_ssl");
        assert_eq!(s.sasl_mechanism, Some("SCRAM-SHA-512"));
        assert!(s.verify_certificate);
        assert!(!s.verify_hostname);
        let used = |credential, secret: &str, key: &str| SecretUse {
            credential,
            secret: secret.into(),
            key: key.into(),
        };
        assert_eq!(
            s.secrets,
            [
                used(Credential::SaslUsername, "kafka-user", "username"),
                used(Credential::SaslPassword, "kafka-user", "password"),
                used(Credential::CaCertificate, "cluster-ca", "ca.crt"),
            ]
        );
    }

    #[test]
    fn no_security_is_plaintext_without_secrets() {
        let plan = kafka("topic: t").expect("valid");
        assert_eq!(plan.security.protocol, "plaintext");
        assert!(plan.security.secrets.is_empty());
    }

    #[test]
    fn protocol_sasl_and_tls_must_agree() {
        refused(
            "security:\n  protocol: SASL_SSL",
            "spec.kafka.security.sasl",
            "is required with protocol SASL_SSL",
        );
        refused(
            &format!("security:\n  protocol: SSL\n  {SASL}"),
            "spec.kafka.security.sasl",
            "only with protocol SASL_PLAINTEXT or SASL_SSL, got SSL",
        );
        refused(
            "security:\n  protocol: SASL_PLAINTEXT\n  tls: {verifyHostname: false}\n  sasl: {mechanism: PLAIN, username: {secretKeyRef: {name: a, key: u}}, password: {secretKeyRef: {name: a, key: p}}}",
            "spec.kafka.security.tls",
            "only with protocol SSL or SASL_SSL, got SASL_PLAINTEXT",
        );
        refused(
            "security:\n  protocol: SSL\n  tls:\n    clientCertificate: {secretKeyRef: {name: a, key: tls.crt}}",
            "spec.kafka.security.tls",
            "clientCertificate and clientKey go together",
        );
        refused(
            "security:\n  protocol: SSL\n  tls:\n    clientKeyPassword: {secretKeyRef: {name: a, key: pw}}",
            "spec.kafka.security.tls.clientKeyPassword",
            "clientKey, which is not set",
        );
    }

    #[test]
    fn secret_names_and_keys_are_checked_as_kubernetes_checks_them() {
        refused(
            "security:\n  protocol: SASL_PLAINTEXT\n  sasl: {mechanism: PLAIN, username: {secretKeyRef: {name: Kafka_User, key: u}}, password: {secretKeyRef: {name: a, key: p}}}",
            "spec.kafka.security.sasl.username.secretKeyRef.name",
            "must be a Secret's name",
        );
        refused(
            "security:\n  protocol: SASL_PLAINTEXT\n  sasl: {mechanism: PLAIN, username: {secretKeyRef: {name: a, key: u}}, password: {secretKeyRef: {name: a, key: 'pass word'}}}",
            "spec.kafka.security.sasl.password.secretKeyRef.key",
            "must be a Secret's key",
        );
        refused(
            "security:\n  protocol: SSL\n  tls:\n    caCertificate: {secretKeyRef: {name: -ca, key: ca.crt}}",
            "spec.kafka.security.tls.caCertificate.secretKeyRef.name",
            "got \"-ca\"",
        );
    }

    #[test]
    fn secrets_cannot_come_in_through_properties() {
        for key in [
            "sasl.password",
            "ssl.key.pem",
            "security.protocol",
            "ssl.ca.location",
        ] {
            refused(
                &format!("properties:\n  {key}: x"),
                &format!("spec.kafka.properties.{key}"),
                "is set through spec.kafka.security",
            );
        }
        // Tuning that is not a secret passes through.
        let plan =
            kafka("properties:\n  ssl.cipher.suites: ECDHE-RSA-AES128-GCM-SHA256").expect("valid");
        assert_eq!(plan.properties.len(), 1);
    }
}
