//! Why a worker cannot run its shard, each with a fixed category for logs and metric labels.
//! The message (`Display`) is what the worker reports as its shard's `lastError`.

use crate::config::ConfigError;
use crate::kafka::{CredentialError, SinkError};
use crate::runtime::health::Cause;

/// Why a worker cannot run its shard (it keeps watching, and tries again on the next change
/// or report tick).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The spec breaks a rule the schema cannot express.
    #[error("invalid spec: {0}")]
    InvalidSpec(#[source] ConfigError),
    /// The controller's schedule epoch cannot be read (it was edited by hand).
    #[error("{field} is not valid: {value:?}")]
    BadEpoch {
        /// The status field.
        field: &'static str,
        /// What it holds.
        value: String,
    },
    /// A worker in a cluster has no embedded Kafka to fall back on.
    #[error("spec.kafka.bootstrapServers must be set for workers in a cluster")]
    NoBootstrapServers,
    /// librdkafka refused the producer settings (an unknown property, a bad value).
    #[error("cannot create the Kafka producer: {0}")]
    Producer(#[source] SinkError),
    /// A secret the security settings need is not in this worker's environment (the pod was
    /// made before the spec named it) or cannot be used.
    #[error("{0}")]
    Credentials(#[source] CredentialError),
    /// A broker answered but refused the credentials or the TLS handshake.
    #[error("Kafka at {brokers} refused the connection: {reason}")]
    Refused {
        /// The bootstrap servers tried.
        brokers: String,
        /// librdkafka's reason.
        reason: String,
    },
    /// No broker answered.
    #[error("Kafka at {brokers} is unreachable: {reason}")]
    Unreachable {
        /// The bootstrap servers tried.
        brokers: String,
        /// librdkafka's reason.
        reason: String,
    },
}

impl WorkerError {
    /// Fixed category, for logs and metric labels.
    pub fn category(&self) -> &'static str {
        match self {
            Self::InvalidSpec(_) => "invalid_spec",
            Self::BadEpoch { .. } => "bad_epoch",
            Self::NoBootstrapServers => "no_bootstrap_servers",
            Self::Producer(_) => "producer_config",
            Self::Credentials(_) => "credentials",
            Self::Refused { .. } => "kafka_refused",
            Self::Unreachable { .. } => "kafka_unreachable",
        }
    }

    /// The cause the shard's problem reports.
    pub fn cause(&self) -> Cause {
        match self {
            Self::Producer(_) | Self::Credentials(_) => Cause::ProducerConfigInvalid,
            Self::Refused { .. } => Cause::AuthenticationFailed,
            Self::Unreachable { .. } => Cause::KafkaUnreachable,
            Self::InvalidSpec(_) | Self::BadEpoch { .. } | Self::NoBootstrapServers => {
                Cause::WorkerFailed
            }
        }
    }
}
