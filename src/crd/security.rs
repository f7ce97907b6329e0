//! How the producer authenticates to Kafka and encrypts its connections.
//!
//! Credentials and certificates are never written in the resource: each is a reference to a key
//! of a Secret in the simulation's namespace. The operator hands them to the worker containers
//! as environment variables filled by the kubelet (`valueFrom.secretKeyRef`), so the workers'
//! service account needs no access to Secrets at all; `devsim run` reads them from files or the
//! same environment variables.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::engine::plan::Credential;

/// Security of the connections to Kafka: protocol, SASL and TLS.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecuritySpec {
    /// Kafka's `security.protocol`: `PLAINTEXT` (default), `SSL`, `SASL_PLAINTEXT` or
    /// `SASL_SSL`.
    #[serde(default)]
    pub protocol: SecurityProtocol,
    /// SASL authentication; required with `SASL_PLAINTEXT` and `SASL_SSL`, refused otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sasl: Option<SaslSpec>,
    /// TLS settings; only with `SSL` and `SASL_SSL` (which work without it: the system's
    /// trusted CAs, the server's certificate and host name verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,
}

impl SecuritySpec {
    /// Every Secret reference, with what its value is for, in [`Credential`] order.
    pub fn references(&self) -> Vec<(Credential, &SecretKeyRef)> {
        let sasl = self.sasl.as_ref();
        let tls = self.tls.as_ref();
        [
            (Credential::SaslUsername, sasl.map(|s| &s.username)),
            (Credential::SaslPassword, sasl.map(|s| &s.password)),
            (
                Credential::CaCertificate,
                tls.and_then(|t| t.ca_certificate.as_ref()),
            ),
            (
                Credential::ClientCertificate,
                tls.and_then(|t| t.client_certificate.as_ref()),
            ),
            (
                Credential::ClientKey,
                tls.and_then(|t| t.client_key.as_ref()),
            ),
            (
                Credential::ClientKeyPassword,
                tls.and_then(|t| t.client_key_password.as_ref()),
            ),
        ]
        .into_iter()
        .filter_map(|(credential, source)| Some((credential, &source?.secret_key_ref)))
        .collect()
    }
}

/// Kafka's security protocols, spelled as Kafka spells them.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SecurityProtocol {
    /// No encryption, no authentication.
    #[default]
    Plaintext,
    /// TLS, with a client certificate if one is given (mTLS).
    Ssl,
    /// SASL authentication over an unencrypted connection.
    SaslPlaintext,
    /// SASL authentication over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// The librdkafka `security.protocol` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plaintext => "plaintext",
            Self::Ssl => "ssl",
            Self::SaslPlaintext => "sasl_plaintext",
            Self::SaslSsl => "sasl_ssl",
        }
    }

    /// As written in the resource.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether connections use TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    /// Whether connections authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// SASL mechanism and the credentials it presents.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SaslSpec {
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub mechanism: SaslMechanism,
    /// The user name, from a Secret.
    pub username: SecretSource,
    /// The password, from a Secret.
    pub password: SecretSource,
}

/// SASL mechanisms, spelled as Kafka spells them.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SaslMechanism {
    /// User name and password sent as they are (use it over TLS only).
    #[serde(rename = "PLAIN")]
    Plain,
    /// Salted challenge-response with SHA-256.
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    /// Salted challenge-response with SHA-512.
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    /// The librdkafka `sasl.mechanism` value (the same words Kafka uses).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// TLS trust and client identity.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsSpec {
    /// PEM certificates of the CAs that sign the brokers' certificates; unset trusts the
    /// system's CAs (enough for managed Kafka services with public certificates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<SecretSource>,
    /// PEM client certificate for mutual TLS (with `clientKey`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<SecretSource>,
    /// PEM private key of the client certificate (with `clientCertificate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<SecretSource>,
    /// Password of an encrypted `clientKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_password: Option<SecretSource>,
    /// Verify the brokers' certificate chain (default true). Turning it off accepts any
    /// server: for a throwaway test cluster only.
    #[serde(default = "default_true")]
    pub verify_server_certificate: bool,
    /// Verify that the broker's certificate names the host dialled (default true).
    #[serde(default = "default_true")]
    pub verify_hostname: bool,
}

impl Default for TlsSpec {
    fn default() -> Self {
        Self {
            ca_certificate: None,
            client_certificate: None,
            client_key: None,
            client_key_password: None,
            verify_server_certificate: true,
            verify_hostname: true,
        }
    }
}

/// A value taken from a Secret, never written in the resource itself.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretSource {
    /// The Secret and key holding the value.
    pub secret_key_ref: SecretKeyRef,
}

/// A key of a Secret in the simulation's namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct SecretKeyRef {
    /// Name of the Secret (same namespace as the simulation).
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
    /// Key within the Secret's data.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

fn default_true() -> bool {
    true
}
