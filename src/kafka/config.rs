//! The translation of a validated [`KafkaPlan`] into librdkafka producer properties.

use std::time::Duration;

use rdkafka::ClientConfig;

use super::credentials::{Credentials, client_config};
use crate::engine::plan::KafkaPlan;

/// How often librdkafka reports statistics into the metrics.
pub const STATISTICS_INTERVAL: Duration = Duration::from_secs(5);

/// What one queued message costs besides its key and value: librdkafka's per-message record and
/// the allocator's share (measured: see the README's memory figures). Counted against
/// `bufferMemory` so that the bound holds for small messages too.
pub const MESSAGE_OVERHEAD_BYTES: u64 = 256;

/// librdkafka producer properties for `plan`, the given brokers and the secrets `plan`'s
/// security needs.
pub fn producer_config(
    plan: &KafkaPlan,
    bootstrap_servers: &str,
    client_id: &str,
    credentials: &Credentials,
) -> ClientConfig {
    let mut config = client_config(bootstrap_servers, &plan.security, credentials);
    config
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
        // The sink bounds what waits for acknowledgement by `buffer_memory` itself, counting
        // librdkafka's bookkeeping too; librdkafka's own limits (which count only keys and
        // values) are set so that they are never reached first.
        .set(
            "queue.buffering.max.kbytes",
            plan.buffer_memory.div_ceil(1024).to_string(),
        )
        .set(
            "queue.buffering.max.messages",
            (plan.buffer_memory / MESSAGE_OVERHEAD_BYTES).to_string(),
        )
        // A message waits for Kafka as long as it takes: under `overflow: block` nothing may
        // be lost to a timeout, and under `drop` only what overflows the buffer is dropped.
        .set("message.timeout.ms", "0")
        // Back within 2 s of Kafka's return, not librdkafka's 10 s: a partition whose leader is
        // still waiting to reconnect holds its messages, and the buffer with them.
        .set("reconnect.backoff.max.ms", "2000");
    if let Some(batch) = plan.batch_size {
        config.set("batch.size", batch.to_string());
    }
    for (key, value) in &plan.properties {
        config.set(key, value);
    }
    config
}

/// Checks `plan`'s librdkafka properties the way librdkafka will, without creating a client:
/// an unknown key or a value of the wrong kind is an error naming it (for example
/// `No such configuration property: "no.such.property"`), and so is a security protocol or
/// SASL mechanism this build of librdkafka lacks.
pub fn check_properties(plan: &KafkaPlan) -> Result<(), String> {
    producer_config(plan, "localhost:9092", "devsim-check", &Credentials::none())
        .create_native_config()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn plan(batch_size: Option<u32>, properties: &[(&str, &str)]) -> KafkaPlan {
        KafkaPlan {
            bootstrap_servers: None,
            topic: "t".into(),
            partitions: 1,
            compression: "zstd",
            acks: "all",
            idempotence: true,
            linger: Duration::from_millis(7),
            batch_size,
            partitioner: "murmur2_random",
            buffer_memory: 32 << 20,
            properties: properties
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            security: Default::default(),
        }
    }

    #[test]
    fn the_plan_becomes_librdkafka_properties() {
        let config = producer_config(
            &plan(Some(65_536), &[]),
            "k:9092",
            "devsim-x",
            &Credentials::none(),
        );
        for (key, value) in [
            ("bootstrap.servers", "k:9092"),
            ("client.id", "devsim-x"),
            ("compression.codec", "zstd"),
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("linger.ms", "7"),
            ("partitioner", "murmur2_random"),
            ("statistics.interval.ms", "5000"),
            ("batch.size", "65536"),
            ("queue.buffering.max.kbytes", "32768"),
            ("queue.buffering.max.messages", "131072"),
            ("message.timeout.ms", "0"),
            ("reconnect.backoff.max.ms", "2000"),
        ] {
            assert_eq!(config.get(key), Some(value), "{key}");
        }
        assert_eq!(
            producer_config(&plan(None, &[]), "k:9092", "c", &Credentials::none())
                .get("batch.size"),
            None
        );
    }

    #[test]
    fn unknown_properties_and_bad_values_are_caught_before_any_client_exists() {
        assert_eq!(
            check_properties(&plan(None, &[("socket.timeout.ms", "1000")])),
            Ok(())
        );
        let unknown = check_properties(&plan(None, &[("no.such.property", "1")])).unwrap_err();
        assert!(unknown.contains("no.such.property"), "{unknown}");
        let bad = check_properties(&plan(None, &[("socket.timeout.ms", "soon")])).unwrap_err();
        assert!(bad.contains("socket.timeout.ms"), "{bad}");
    }

    #[test]
    fn user_properties_come_last_and_win() {
        let config = producer_config(
            &plan(None, &[("linger.ms", "50"), ("security.protocol", "ssl")]),
            "k:9092",
            "c",
            &Credentials::none(),
        );
        assert_eq!(config.get("linger.ms"), Some("50"));
        assert_eq!(config.get("security.protocol"), Some("ssl"));
    }
}
