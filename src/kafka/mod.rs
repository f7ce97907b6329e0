//! Kafka: the producer sink, its settings, the embedded mock cluster and its relay.
//! Never imports `kube`.

mod config;
mod embedded;
mod fault;
mod relay;
mod repeats;
mod sink;

pub use config::{MESSAGE_OVERHEAD_BYTES, STATISTICS_INTERVAL, check_properties, producer_config};
pub use embedded::{EmbeddedKafka, EmbeddedKafkaError};
pub use relay::Relay;
pub use sink::{KafkaSink, SinkError, SinkStats};
