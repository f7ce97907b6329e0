//! The translation of a validated [`KafkaPlan`] into librdkafka producer properties.

use std::time::Duration;

use rdkafka::ClientConfig;

use crate::engine::plan::KafkaPlan;

/// How often librdkafka reports statistics into the metrics.
pub const STATISTICS_INTERVAL: Duration = Duration::from_secs(5);

/// librdkafka producer properties for `plan` and the given brokers.
pub fn producer_config(plan: &KafkaPlan, bootstrap_servers: &str, client_id: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap_servers)
        .set("client.id", client_id)
        .set("compression.codec", plan.compression)
        .set("acks", plan.acks)
        .set("enable.idempotence", plan.idempotence.to_string())
        .set("linger.ms", plan.linger.as_millis().to_string())
        .set("partitioner", plan.partitioner)
        .set(
            "statistics.interval.ms",
            STATISTICS_INTERVAL.as_millis().to_string(),
        )
        // A deep local queue lets a burst of due readings wait in librdkafka rather than
        // stall the schedule; the overflow policy decides what happens beyond it.
        .set("queue.buffering.max.messages", "1000000");
    if let Some(batch) = plan.batch_size {
        config.set("batch.size", batch.to_string());
    }
    for (key, value) in &plan.properties {
        config.set(key, value);
    }
    config
}
