//! The secret values a Kafka connection needs, read where they are given, and kept out of every
//! log line, error, status and metric.
//!
//! A worker reads each from the environment variable the operator filled from the Secret
//! (`valueFrom.secretKeyRef`, so the kubelet reads the Secret, not the worker). `devsim run` and
//! `devsim verify` read the same variables first, else `SECRETS_DIR/<secret>/<key>`: the layout
//! of a Secret mounted as a volume, or of `kubectl get secret -o json` unpacked by hand.

use std::fmt;
use std::path::{Path, PathBuf};

use rdkafka::ClientConfig;

use crate::engine::plan::{Credential, SecretUse, SecurityPlan};

/// A secret value. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive(String);

impl Sensitive {
    /// The value itself, for the one place that needs it: librdkafka's configuration.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sensitive(<redacted>)")
    }
}

impl fmt::Display for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The secret values of one [`SecurityPlan`], resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    values: Vec<(Credential, Sensitive)>,
}

impl Credentials {
    /// No secrets: a plaintext connection, or one that needs none.
    pub fn none() -> Self {
        Self::default()
    }

    /// The value given for `credential`.
    pub fn get(&self, credential: Credential) -> Option<&Sensitive> {
        self.values
            .iter()
            .find(|(c, _)| *c == credential)
            .map(|(_, v)| v)
    }
}

/// Why a secret value could not be read. Names the field, the Secret and key, and where it was
/// looked for; never the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} (Secret {secret:?}, key {key:?}): {reason}")]
pub struct CredentialError {
    /// The resource field that references the secret.
    pub field: &'static str,
    /// Name of the Secret.
    pub secret: String,
    /// Key within it.
    pub key: String,
    /// What went wrong.
    pub reason: String,
}

/// Reads every secret `security` needs: each from its environment variable, else from
/// `secrets_dir/<secret>/<key>` when a directory is given.
pub fn resolve(
    security: &SecurityPlan,
    secrets_dir: Option<&Path>,
) -> Result<Credentials, CredentialError> {
    let mut values = Vec::with_capacity(security.secrets.len());
    for used in &security.secrets {
        let value = read_one(used, secrets_dir)
            .and_then(tidy)
            .map_err(|reason| CredentialError {
                field: used.credential.field(),
                secret: used.secret.clone(),
                key: used.key.clone(),
                reason,
            })?;
        values.push((used.credential, Sensitive(value)));
    }
    Ok(Credentials { values })
}

fn read_one(used: &SecretUse, secrets_dir: Option<&Path>) -> Result<String, String> {
    let var = used.credential.env();
    match std::env::var(var) {
        Ok(value) => return Ok(value),
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(format!("{var} is not UTF-8 text"));
        }
        Err(std::env::VarError::NotPresent) => {}
    }
    let Some(dir) = secrets_dir else {
        return Err(format!(
            "{var} is not set (in a worker the operator sets it from the Secret; with devsim \
             run or verify set it, or give --secrets-dir with {}/{} in it)",
            used.secret, used.key
        ));
    };
    let path: PathBuf = dir.join(&used.secret).join(&used.key);
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "{var} is not set and {} cannot be read: {e}",
            path.display()
        )
    })?;
    String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))
}

/// Drops the one trailing newline that `echo` and editors leave in a file (a password never
/// ends in one, and PEM does not care), and refuses what librdkafka's C strings cannot hold.
fn tidy(raw: String) -> Result<String, String> {
    let value = raw
        .strip_suffix("\r\n")
        .or_else(|| raw.strip_suffix('\n'))
        .unwrap_or(&raw);
    if value.is_empty() {
        Err("the value is empty".to_owned())
    } else if value.contains('\0') {
        Err("the value contains a NUL byte".to_owned())
    } else {
        Ok(value.to_owned())
    }
}

/// A client configuration that reaches `brokers` with `security`: the start of every producer
/// and consumer devsim makes.
pub fn client_config(
    brokers: &str,
    security: &SecurityPlan,
    credentials: &Credentials,
) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    apply_security(&mut config, security, credentials);
    config
}

/// Sets librdkafka's security properties for `security`, with `credentials`' values.
fn apply_security(config: &mut ClientConfig, security: &SecurityPlan, credentials: &Credentials) {
    config.set("security.protocol", security.protocol);
    if let Some(mechanism) = security.sasl_mechanism {
        config.set("sasl.mechanism", mechanism);
    }
    if security.uses_tls() {
        config
            .set(
                "enable.ssl.certificate.verification",
                security.verify_certificate.to_string(),
            )
            .set(
                "ssl.endpoint.identification.algorithm",
                if security.verify_hostname {
                    "https"
                } else {
                    "none"
                },
            );
        if credentials.get(Credential::CaCertificate).is_none() {
            // The system's CAs wherever this distribution keeps them: the runtime image has
            // Debian's bundle but not OpenSSL's default directory.
            config.set("ssl.ca.location", "probe");
        }
    }
    for (credential, value) in &credentials.values {
        config.set(credential.property(), value.expose());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(uses: &[(Credential, &str, &str)]) -> SecurityPlan {
        SecurityPlan {
            protocol: "sasl_ssl",
            sasl_mechanism: Some("SCRAM-SHA-256"),
            secrets: uses
                .iter()
                .map(|(credential, secret, key)| SecretUse {
                    credential: *credential,
                    secret: (*secret).into(),
                    key: (*key).into(),
                })
                .collect(),
            ..SecurityPlan::default()
        }
    }

    fn secrets_dir(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, bytes) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, bytes).expect("write");
        }
        dir
    }

    #[test]
    fn values_come_from_secret_key_files_with_one_trailing_newline_dropped() {
        let dir = secrets_dir(&[
            ("kafka-user/username", b"devsim\n"),
            ("kafka-user/password", b"s3cret  \r\n"),
            (
                "ca/ca.crt",
                b"-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----\n\n",
            ),
        ]);
        let security = plan(&[
            (Credential::SaslUsername, "kafka-user", "username"),
            (Credential::SaslPassword, "kafka-user", "password"),
            (Credential::CaCertificate, "ca", "ca.crt"),
        ]);
        let credentials = resolve(&security, Some(dir.path())).expect("resolved");
        let value = |c| credentials.get(c).expect("present").expose().to_owned();
        assert_eq!(value(Credential::SaslUsername), "devsim");
        assert_eq!(value(Credential::SaslPassword), "s3cret  ");
        assert!(value(Credential::CaCertificate).ends_with("-----\n"));

        let config = client_config("k:9093", &security, &credentials);
        assert_eq!(config.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(config.get("sasl.mechanism"), Some("SCRAM-SHA-256"));
        assert_eq!(config.get("sasl.username"), Some("devsim"));
        assert_eq!(config.get("sasl.password"), Some("s3cret  "));
        assert_eq!(
            config.get("enable.ssl.certificate.verification"),
            Some("true")
        );
        assert_eq!(
            config.get("ssl.endpoint.identification.algorithm"),
            Some("https")
        );
        assert!(config.get("ssl.ca.pem").is_some());
        assert_eq!(config.get("ssl.ca.location"), None);
    }

    #[test]
    fn tls_without_a_ca_probes_the_systems_and_plaintext_sets_nothing_of_tls() {
        let tls = SecurityPlan {
            protocol: "ssl",
            verify_hostname: false,
            ..SecurityPlan::default()
        };
        let config = client_config("k:9093", &tls, &Credentials::none());
        assert_eq!(config.get("ssl.ca.location"), Some("probe"));
        assert_eq!(
            config.get("ssl.endpoint.identification.algorithm"),
            Some("none")
        );
        let plain = client_config("k:9092", &SecurityPlan::default(), &Credentials::none());
        assert_eq!(plain.get("security.protocol"), Some("plaintext"));
        assert_eq!(plain.get("ssl.ca.location"), None);
        assert_eq!(plain.get("sasl.mechanism"), None);
    }

    #[test]
    fn an_unreadable_value_names_field_secret_key_and_place_never_a_value() {
        let dir = secrets_dir(&[
            ("a/empty", b"\n"),
            ("a/binary", &[0xff, 0xfe, b'x']),
            ("a/nul", b"pass\0word"),
        ]);
        let error = |key: &str| {
            resolve(
                &plan(&[(Credential::SaslPassword, "a", key)]),
                Some(dir.path()),
            )
            .expect_err(key)
            .to_string()
        };
        let missing = error("missing");
        assert!(
            missing.starts_with("spec.kafka.security.sasl.password (Secret \"a\", key \"missing\"): DEVSIM_KAFKA_SASL_PASSWORD is not set and ")
                && missing.contains("a/missing cannot be read"),
            "{missing}"
        );
        assert!(error("empty").ends_with("the value is empty"));
        assert!(error("binary").ends_with("is not UTF-8 text"));
        assert!(
            error("nul").ends_with("contains a NUL byte"),
            "{}",
            error("nul")
        );
        let no_dir = resolve(&plan(&[(Credential::ClientKey, "tls", "tls.key")]), None)
            .expect_err("no source")
            .to_string();
        assert!(
            no_dir.contains("DEVSIM_KAFKA_TLS_CLIENT_KEY is not set")
                && no_dir.contains("--secrets-dir"),
            "{no_dir}"
        );
    }

    #[test]
    fn a_sensitive_value_never_prints() {
        let dir = secrets_dir(&[("a/p", b"hunter2")]);
        let credentials = resolve(
            &plan(&[(Credential::SaslPassword, "a", "p")]),
            Some(dir.path()),
        )
        .expect("ok");
        let shown = format!(
            "{credentials:?} {} {:?}",
            credentials.get(Credential::SaslPassword).expect("p"),
            credentials.get(Credential::SaslPassword)
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
