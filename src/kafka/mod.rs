//! Kafka: the producer sink, its settings, and the embedded mock cluster.
//! Never imports `kube`.

mod config;
mod embedded;
mod fault;
mod repeats;
mod sink;

pub use config::{MESSAGE_OVERHEAD_BYTES, STATISTICS_INTERVAL, check_properties, producer_config};
pub use embedded::{EmbeddedKafka, EmbeddedKafkaError};
pub use sink::{KafkaSink, SinkError, SinkStats};
