//! The producer's settings, validated, and their librdkafka properties.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;

/// How often librdkafka reports statistics into the metrics.
pub const STATISTICS_INTERVAL: Duration = Duration::from_secs(5);

/// Validated Kafka target of a simulation.
#[derive(Clone, Debug, PartialEq)]
pub struct KafkaPlan {
    /// Brokers; `None` means "start an embedded broker" in `devsim run`.
    pub bootstrap_servers: Option<String>,
    /// Topic of every reading.
    pub topic: String,
    /// Partitions when devsim creates the topic.
    pub partitions: u32,
    /// `compression.codec`.
    pub compression: &'static str,
    /// `acks`.
    pub acks: &'static str,
    /// `enable.idempotence`.
    pub idempotence: bool,
    /// `linger.ms`.
    pub linger: Duration,
    /// `batch.size`, if set.
    pub batch_size: Option<u32>,
    /// `partitioner`.
    pub partitioner: &'static str,
    /// Further properties, applied last so that a user can override any of the above.
    pub properties: BTreeMap<String, String>,
}

impl KafkaPlan {
    /// Producer properties for the given brokers.
    pub fn producer_config(&self, bootstrap_servers: &str, client_id: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", bootstrap_servers)
            .set("client.id", client_id)
            .set("compression.codec", self.compression)
            .set("acks", self.acks)
            .set("enable.idempotence", self.idempotence.to_string())
            .set("linger.ms", self.linger.as_millis().to_string())
            .set("partitioner", self.partitioner)
            .set(
                "statistics.interval.ms",
                STATISTICS_INTERVAL.as_millis().to_string(),
            )
            // A deep local queue lets a burst of due readings wait in librdkafka rather than
            // stall the schedule; the overflow policy decides what happens beyond it.
            .set("queue.buffering.max.messages", "1000000");
        if let Some(batch) = self.batch_size {
            config.set("batch.size", batch.to_string());
        }
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }
}
