//! The engine's own, validated description of a simulation. Built from the custom resource by
//! [`crate::config::validate`]; nothing here can be invalid any more.

use std::collections::BTreeMap;
use std::time::Duration;

use super::layout::Layout;
use super::sensor::SensorModel;

/// Most sensors a profile may have (the CRD's bound); sizes stack scratch buffers.
pub const MAX_SENSORS: usize = 16;

/// Everything the engine needs to run a simulation, resolved and validated.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulationPlan {
    /// Name of the simulation, carried in every reading.
    pub name: String,
    /// Number of devices; indices run from 0 to `devices - 1`.
    pub devices: u32,
    /// Prefix of every device ID.
    pub device_id_prefix: String,
    /// Seed of every random draw.
    pub seed: u64,
    /// Time between two readings of one device.
    pub interval: Duration,
    /// Sequence number of every device's first reading at `t0`: 0 for a fresh simulation, more
    /// when the interval was edited and a new schedule epoch began (see `status.schedule`).
    pub first_seq: u64,
    /// Random delay of each reading, as a fraction of the interval, in [0, 0.5].
    pub jitter: f64,
    /// Device profiles; never empty.
    pub profiles: Vec<Profile>,
    /// Fraction of readings carrying an injected anomaly.
    pub anomaly_rate: f64,
    /// Site layout.
    pub location: LocationShape,
    /// Message encoding.
    pub encoding: Encoding,
    /// Queue-full policy.
    pub overflow: Overflow,
    /// How far behind schedule a reading may fall before it is skipped; `None`: never.
    pub max_lag: Option<Duration>,
    /// Global message rate cap, if any.
    pub max_messages_per_second: Option<u64>,
    /// Shard count.
    pub replicas: u32,
    /// Producer tasks per shard.
    pub workers_per_replica: u32,
    /// Run length, if bounded.
    pub duration: Option<Duration>,
    /// log2 of the positions a block holds, when not the device count's own
    /// ([`super::layout::block_bits_for`]): `None` in every plan built from a spec, so that
    /// every process of a simulation cuts it alike; tests set it to walk many-device blocks
    /// with few devices.
    pub block_bits: Option<u32>,
}

impl SimulationPlan {
    /// The devices' positions and blocks.
    pub fn layout(&self) -> Layout {
        let layout = Layout::new(self.seed, self.devices);
        match self.block_bits {
            Some(bits) => layout.with_block_bits(bits),
            None => layout,
        }
    }

    /// Largest number of sensors of any profile: the per-device state stride.
    pub fn max_sensors(&self) -> usize {
        self.profiles
            .iter()
            .map(|p| p.sensors.len())
            .max()
            .unwrap_or(0)
    }

    /// Messages per second the schedule asks for, over all shards.
    pub fn scheduled_rate(&self) -> f64 {
        f64::from(self.devices) / self.interval.as_secs_f64()
    }
}

/// A kind of device.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// Profile name.
    pub name: String,
    /// Relative weight.
    pub weight: u32,
    /// Sensors, in message order.
    pub sensors: Vec<SensorModel>,
}

/// Buildings, floors per building, rooms per floor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocationShape {
    /// Number of buildings.
    pub buildings: u32,
    /// Floors in each building.
    pub floors: u32,
    /// Rooms on each floor.
    pub rooms: u32,
}

/// Wire format of message values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// JSON object.
    Json,
    /// `devsim.v1.Reading` protobuf.
    Protobuf,
}

/// What to do with a reading when the producer queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Wait for room; nothing is lost.
    Block,
    /// Drop and count the reading.
    Drop,
}

/// Validated Kafka target of a simulation: plain settings, which the `kafka` module translates
/// into librdkafka properties.
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
    /// Bytes of messages awaiting acknowledgement, bookkeeping included, beyond which the
    /// producer reports its queue full.
    pub buffer_memory: u64,
    /// Further properties, applied last so that a user can override any of the above (but
    /// for the security properties, which validation keeps out of them).
    pub properties: BTreeMap<String, String>,
    /// Protocol, SASL and TLS settings, with references to the secrets they need.
    pub security: SecurityPlan,
}

/// Validated `spec.kafka.security`: librdkafka's words, and where each secret comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct SecurityPlan {
    /// `security.protocol`.
    pub protocol: &'static str,
    /// `sasl.mechanism`, with SASL.
    pub sasl_mechanism: Option<&'static str>,
    /// `enable.ssl.certificate.verification`, with TLS.
    pub verify_certificate: bool,
    /// Whether `ssl.endpoint.identification.algorithm` is `https` (else `none`), with TLS.
    pub verify_hostname: bool,
    /// The secrets the connection needs, in [`Credential`] order.
    pub secrets: Vec<SecretUse>,
}

impl Default for SecurityPlan {
    fn default() -> Self {
        Self {
            protocol: "plaintext",
            sasl_mechanism: None,
            verify_certificate: true,
            verify_hostname: true,
            secrets: Vec::new(),
        }
    }
}

impl SecurityPlan {
    /// Whether connections use TLS.
    pub fn uses_tls(&self) -> bool {
        self.protocol.ends_with("ssl")
    }
}

/// One secret a connection needs and the Secret key it is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretUse {
    /// What the value is for.
    pub credential: Credential,
    /// Name of the Secret.
    pub secret: String,
    /// Key within the Secret.
    pub key: String,
}

/// The secrets a Kafka connection may need. Each has one field of the resource, one environment
/// variable that carries it into a worker (filled by the kubelet from the Secret) and one
/// librdkafka property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Credential {
    /// SASL user name.
    SaslUsername,
    /// SASL password.
    SaslPassword,
    /// PEM CA certificates trusted for the brokers.
    CaCertificate,
    /// PEM client certificate (mTLS).
    ClientCertificate,
    /// PEM private key of the client certificate.
    ClientKey,
    /// Password of the private key.
    ClientKeyPassword,
}

impl Credential {
    /// The resource field that references it.
    pub fn field(self) -> &'static str {
        match self {
            Self::SaslUsername => "spec.kafka.security.sasl.username",
            Self::SaslPassword => "spec.kafka.security.sasl.password",
            Self::CaCertificate => "spec.kafka.security.tls.caCertificate",
            Self::ClientCertificate => "spec.kafka.security.tls.clientCertificate",
            Self::ClientKey => "spec.kafka.security.tls.clientKey",
            Self::ClientKeyPassword => "spec.kafka.security.tls.clientKeyPassword",
        }
    }

    /// The environment variable that carries the value into a worker, and that `devsim run`
    /// reads first.
    pub fn env(self) -> &'static str {
        match self {
            Self::SaslUsername => "DEVSIM_KAFKA_SASL_USERNAME",
            Self::SaslPassword => "DEVSIM_KAFKA_SASL_PASSWORD",
            Self::CaCertificate => "DEVSIM_KAFKA_TLS_CA_CERTIFICATE",
            Self::ClientCertificate => "DEVSIM_KAFKA_TLS_CLIENT_CERTIFICATE",
            Self::ClientKey => "DEVSIM_KAFKA_TLS_CLIENT_KEY",
            Self::ClientKeyPassword => "DEVSIM_KAFKA_TLS_CLIENT_KEY_PASSWORD",
        }
    }

    /// The librdkafka property it sets.
    pub fn property(self) -> &'static str {
        match self {
            Self::SaslUsername => "sasl.username",
            Self::SaslPassword => "sasl.password",
            Self::CaCertificate => "ssl.ca.pem",
            Self::ClientCertificate => "ssl.certificate.pem",
            Self::ClientKey => "ssl.key.pem",
            Self::ClientKeyPassword => "ssl.key.password",
        }
    }
}
