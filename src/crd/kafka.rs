//! Kafka target of a simulation: brokers, topic and producer settings.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where readings go and how the producer behaves.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaSpec {
    /// Comma-separated `host:port` list of brokers. Unset with `devsim run` (and no `--brokers`)
    /// starts an embedded Kafka (librdkafka's mock cluster) in the process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub bootstrap_servers: Option<String>,
    /// Topic every reading is produced to.
    #[serde(default = "default_topic")]
    #[schemars(
        length(min = super::bounds::TOPIC_LEN.min, max = super::bounds::TOPIC_LEN.max),
        regex(pattern = r"^[A-Za-z0-9._-]+$")
    )]
    pub topic: String,
    /// Partitions of the topic when devsim creates it (embedded broker), 1 to 1,000.
    #[serde(default = "default_partitions")]
    #[schemars(range(min = super::bounds::PARTITIONS.min, max = super::bounds::PARTITIONS.max))]
    pub partitions: u32,
    /// Compression codec of produced batches.
    #[serde(default)]
    pub compression: Compression,
    /// Acknowledgements the leader waits for: 0, 1 or all. With 0 the brokers confirm nothing:
    /// a message counts as delivered once written to a connection, and one lost on the way is
    /// counted nowhere (`devsim verify` finds it as a gap). With 1 a leader that fails before
    /// its followers copy a message loses it after confirming it.
    #[serde(default)]
    pub acks: Acks,
    /// Enable the idempotent producer (no duplicates on retry; requires acks all).
    #[serde(default)]
    pub idempotence: bool,
    /// Time the producer waits to fill a batch, as a duration string (0ms to 10s).
    #[serde(default = "default_linger")]
    pub linger: super::Duration,
    /// Largest batch in bytes (1,000 to 100,000,000); unset keeps librdkafka's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = super::bounds::BATCH_SIZE.min, max = super::bounds::BATCH_SIZE.max))]
    pub batch_size: Option<u32>,
    /// How a key picks its partition. The default, `fnv1a`, hashes the device ID as the
    /// design this project grew from does; `murmur2_random` matches the Java client.
    #[serde(default)]
    pub partitioner: Partitioner,
    /// Memory, per worker, for messages waiting for Kafka's acknowledgement, as a quantity
    /// (default `32Mi`, 1Mi to 4Gi). Each message counts its key, its value and librdkafka's
    /// bookkeeping. When it is full (Kafka down or slower than the schedule), `overflow`
    /// decides: `block` holds generation back, `drop` drops and counts. No message times out
    /// while it waits.
    #[serde(default = "default_buffer_memory")]
    pub buffer_memory: String,
    /// Further librdkafka producer properties, passed through unchanged (for example
    /// `queue.buffering.max.messages`, `socket.timeout.ms`). Security properties are refused
    /// here: they belong in `security`, whose secrets come from Secrets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
    /// How the producer authenticates and encrypts (default: `PLAINTEXT`, neither).
    #[serde(default, skip_serializing_if = "is_default")]
    pub security: super::SecuritySpec,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

impl Default for KafkaSpec {
    fn default() -> Self {
        Self {
            bootstrap_servers: None,
            topic: default_topic(),
            partitions: default_partitions(),
            compression: Compression::default(),
            acks: Acks::default(),
            idempotence: false,
            linger: default_linger(),
            batch_size: None,
            partitioner: Partitioner::default(),
            buffer_memory: default_buffer_memory(),
            properties: BTreeMap::new(),
            security: super::SecuritySpec::default(),
        }
    }
}

/// Compression codec of produced batches.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// No compression.
    #[default]
    None,
    /// gzip.
    Gzip,
    /// Snappy.
    Snappy,
    /// LZ4.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// The librdkafka `compression.codec` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }
}

/// Partitioner names as librdkafka spells them.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Partitioner {
    /// FNV-1a hash of the key (the seed design's partitioner, and Sarama's FNV-1a choice).
    #[default]
    Fnv1a,
    /// FNV-1a hash of the key; keyless messages spread randomly.
    Fnv1aRandom,
    /// Java client compatible murmur2 hash of the key.
    Murmur2,
    /// Java client compatible murmur2 hash of the key; keyless messages spread randomly.
    Murmur2Random,
    /// CRC32 hash of the key.
    Consistent,
    /// CRC32 hash of the key; keyless messages spread randomly.
    ConsistentRandom,
}

impl Partitioner {
    /// The librdkafka `partitioner` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fnv1a => "fnv1a",
            Self::Fnv1aRandom => "fnv1a_random",
            Self::Murmur2 => "murmur2",
            Self::Murmur2Random => "murmur2_random",
            Self::Consistent => "consistent",
            Self::ConsistentRandom => "consistent_random",
        }
    }
}

/// Acknowledgements the partition leader waits for before answering a produce request.
///
/// Written `0`, `1` or `all` (`-1` is read as `all`); YAML's unquoted `1` is accepted too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Acks {
    /// Fire and forget.
    None,
    /// The leader has written the batch.
    Leader,
    /// Every in-sync replica has written the batch.
    #[default]
    All,
}

impl Acks {
    /// The librdkafka `acks` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "0",
            Self::Leader => "1",
            Self::All => "all",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "0" => Some(Self::None),
            "1" => Some(Self::Leader),
            "all" | "-1" => Some(Self::All),
            _ => None,
        }
    }
}

impl Serialize for Acks {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Acks {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AcksVisitor;
        impl serde::de::Visitor<'_> for AcksVisitor {
            type Value = Acks;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("one of 0, 1, all")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Acks, E> {
                Acks::parse(v).ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Acks, E> {
                Acks::parse(&v.to_string())
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Acks, E> {
                Acks::parse(&v.to_string())
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
        }
        deserializer.deserialize_any(AcksVisitor)
    }
}

impl JsonSchema for Acks {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Acks".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // A string enum, not int-or-string: API servers before 1.21 cannot build server-side
        // apply models from int-or-string (anyOf) and fall back to treating every list as
        // atomic. Files read by `devsim run` may still write `acks: 1` unquoted.
        schemars::json_schema!({
            "type": "string",
            "enum": ["0", "1", "all"],
            "description": "Acknowledgements: \"0\" (none: a message counts as delivered once written to a connection, and a broken connection loses it unseen; devsim verify finds such losses), \"1\" or \"all\" (quote the numbers in YAML)."
        })
    }
}

fn default_topic() -> String {
    "iot-sensor-data".to_owned()
}
fn default_partitions() -> u32 {
    12
}
fn default_buffer_memory() -> String {
    "32Mi".to_owned()
}

fn default_linger() -> super::Duration {
    "5ms".parse().expect("a valid duration literal")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_read_as_quoted_strings_and_as_bare_numbers_from_a_file() {
        for (yaml, acks) in [
            ("\"0\"", Acks::None),
            ("1", Acks::Leader),
            ("all", Acks::All),
            ("0", Acks::None),
        ] {
            let spec: KafkaSpec = serde_json::from_value(serde_json::json!({
                "acks": serde_saphyr::from_str::<serde_json::Value>(yaml).expect("yaml")
            }))
            .expect("acks parses");
            assert_eq!(spec.acks, acks, "{yaml}");
        }
        let err = serde_json::from_value::<KafkaSpec>(serde_json::json!({"acks": 2})).unwrap_err();
        assert!(err.to_string().contains("one of 0, 1, all"), "{err}");
        let err =
            serde_json::from_value::<KafkaSpec>(serde_json::json!({"acks": "most"})).unwrap_err();
        assert!(err.to_string().contains("one of 0, 1, all"), "{err}");
    }

    #[test]
    fn partitioners_are_named_as_librdkafka_names_them() {
        let names: Vec<&str> = [
            Partitioner::Fnv1a,
            Partitioner::Fnv1aRandom,
            Partitioner::Murmur2,
            Partitioner::Murmur2Random,
            Partitioner::Consistent,
            Partitioner::ConsistentRandom,
        ]
        .into_iter()
        .map(Partitioner::as_str)
        .collect();
        assert_eq!(
            names,
            [
                "fnv1a",
                "fnv1a_random",
                "murmur2",
                "murmur2_random",
                "consistent",
                "consistent_random"
            ]
        );
    }
}
