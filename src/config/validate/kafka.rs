//! The Kafka step: brokers, topic and producer settings, into the sink's [`KafkaPlan`].

use super::Validator;
use crate::crd::DeviceSimulationSpec;
use crate::crd::bounds;
use crate::crd::quantity::parse_quantity;
use crate::engine::plan::KafkaPlan;

impl Validator {
    pub(super) fn kafka(&mut self, s: &DeviceSimulationSpec) -> KafkaPlan {
        let k = &s.kafka;
        if let Some(servers) = &k.bootstrap_servers {
            let bad = servers.split(',').map(str::trim).find(|hp| {
                hp.rsplit_once(':')
                    .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
            });
            if servers.trim().is_empty() || bad.is_some() {
                self.fail(
                    "spec.kafka.bootstrapServers",
                    format!("must be a comma-separated list of host:port, got {servers:?}"),
                );
            }
        }
        if !bounds::TOPIC_LEN.contains(&k.topic.len())
            || k.topic == "."
            || k.topic == ".."
            || !k
                .topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            self.fail(
                "spec.kafka.topic",
                format!(
                    "must be {} to {} characters of A-Z a-z 0-9 . _ -, got {:?}",
                    bounds::TOPIC_LEN.min,
                    bounds::TOPIC_LEN.max,
                    k.topic
                ),
            );
        }
        self.range("spec.kafka.partitions", k.partitions, bounds::PARTITIONS);
        let linger = self.duration("spec.kafka.linger", &k.linger, bounds::LINGER);
        if let Some(batch) = k.batch_size {
            self.range("spec.kafka.batchSize", batch, bounds::BATCH_SIZE);
        }
        let buffer_memory = self.buffer_memory(&k.buffer_memory);
        if k.idempotence && k.acks != crate::crd::Acks::All {
            self.fail(
                "spec.kafka.idempotence",
                format!("requires acks: all, got acks: {}", k.acks.as_str()),
            );
        }
        if let Some(key) = k.properties.keys().find(|key| key.trim().is_empty()) {
            self.fail(
                "spec.kafka.properties",
                format!("property names must not be empty, got {key:?}"),
            );
        }
        let security = self.security(k);
        KafkaPlan {
            bootstrap_servers: k.bootstrap_servers.clone(),
            topic: k.topic.clone(),
            partitions: k.partitions,
            compression: k.compression.as_str(),
            acks: k.acks.as_str(),
            idempotence: k.idempotence,
            linger,
            batch_size: k.batch_size,
            partitioner: k.partitioner.as_str(),
            buffer_memory,
            properties: k.properties.clone(),
            security,
        }
    }
}

impl Validator {
    /// `spec.kafka.bufferMemory` in bytes: a whole number of bytes within bounds.
    fn buffer_memory(&mut self, text: &str) -> u64 {
        const FIELD: &str = "spec.kafka.bufferMemory";
        let limits = format!(
            "{} MiB to {} GiB",
            bounds::BUFFER_MEMORY.min >> 20,
            bounds::BUFFER_MEMORY.max >> 30
        );
        match parse_quantity(text) {
            Err(e) => self.fail(FIELD, format!("{e}; allowed: {limits}")),
            Ok(bytes) if bytes.fract() != 0.0 => self.fail(
                FIELD,
                format!("must be a whole number of bytes (for example \"32Mi\"), got {text:?}"),
            ),
            Ok(bytes) if !bounds::BUFFER_MEMORY.contains(&(bytes as u64)) || bytes < 0.0 => {
                self.fail(FIELD, format!("must be {limits}, got {text:?}"));
            }
            Ok(bytes) => return bytes as u64,
        }
        bounds::BUFFER_MEMORY.min
    }
}
