//! Kafka: the producer sink, its settings, the embedded mock cluster and its relay.
//! Never imports `kube`.

mod config;
mod credentials;
mod embedded;
mod fault;
mod pump;
mod relay;
mod repeats;
mod sink;
mod statistics;

pub use config::{MESSAGE_OVERHEAD_BYTES, STATISTICS_INTERVAL, check_properties, producer_config};
pub use credentials::{
    CredentialError, Credentials, Sensitive, client_config, resolve as resolve_credentials,
};
pub use embedded::{EmbeddedKafka, EmbeddedKafkaError, Fault, REFUSALS, TransientError};
pub use fault::FailReason;
pub use relay::Relay;
pub use sink::{KafkaSink, SinkError, SinkStats};
pub use statistics::{BrokerFigures, ClientFigures, Percentiles};
