//! The `DeviceSimulation` custom resource: the single source of truth for a simulation's spec.
//!
//! The YAML a user `kubectl apply`s is the same file `devsim run -f` reads. Every field carries a
//! doc comment because it becomes `kubectl explain` output; bounds and enums live in the schema so
//! that the API server itself rejects a bad resource. Bounds are named once in [`bounds`] and
//! read by both the schema and [`crate::config::validate`], which adds the checks a schema cannot
//! express (min < max, duration ranges).

pub mod bounds;
mod duration;
mod kafka;
pub mod quantity;
mod reference;
mod security;
mod sensors;
mod status;
pub mod timestamps;
mod workers;

pub use duration::{
    DURATION_MAX_LENGTH, DURATION_PATTERN, Duration, DurationError, parse_duration,
};
pub use kafka::{Acks, Compression, KafkaSpec, Partitioner};
pub use reference::reference_markdown;
pub use security::{
    SaslMechanism, SaslSpec, SecretKeyRef, SecretSource, SecurityProtocol, SecuritySpec, TlsSpec,
};
pub use sensors::{DeviceProfileSpec, SensorSpec, SensorType};
pub use status::{DeviceSimulationStatus, Phase, ScheduleEpoch, ShardProblem, ShardStatus, Totals};
pub use workers::{
    OPERATOR_ENV, OPERATOR_ENV_PREFIX, OPERATOR_LABELS, WorkerTemplateSpec, is_operator_env,
};

use kube::{CustomResource, CustomResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of every devsim resource.
pub const GROUP: &str = "devsim.io";
/// API version of [`DeviceSimulation`].
pub const VERSION: &str = "v1alpha1";

/// The CustomResourceDefinition as YAML, exactly as checked in under `crds/`.
pub fn crd_yaml() -> Result<String, serde_saphyr::SerializeError> {
    serde_saphyr::to_string(&DeviceSimulation::crd())
}

/// Desired state of a simulated fleet of industrial IoT devices streaming into Kafka.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
// Several printer columns share a type; clippy reads the repeated `type_` as a duplicate.
#[allow(clippy::duplicated_attributes)]
#[kube(
    group = "devsim.io",
    version = "v1alpha1",
    kind = "DeviceSimulation",
    namespaced,
    shortname = "devsim",
    category = "devsim",
    status = "DeviceSimulationStatus",
    doc = "A simulated fleet of industrial IoT devices streaming sensor readings into Kafka.",
    derive = "PartialEq",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Devices", type_ = "integer", json_path = ".spec.devices"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyReplicas"),
    printcolumn(name = "Replicas", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(
        name = "Msg/s",
        type_ = "number",
        json_path = ".status.messagesPerSecond"
    ),
    printcolumn(name = "Sent", type_ = "integer", json_path = ".status.messagesSent"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct DeviceSimulationSpec {
    /// Number of simulated devices, 1 to 1,000,000,000. Device indices run from 0 to devices-1.
    #[schemars(range(min = bounds::DEVICES.min, max = bounds::DEVICES.max))]
    pub devices: u32,

    /// Prefix of every device ID; the ID is the prefix followed by the zero-padded 8-digit
    /// device index (for example `dev-00000042`). The ID is the Kafka message key.
    #[serde(default = "default_device_id_prefix")]
    #[schemars(
        length(min = bounds::DEVICE_ID_PREFIX_LEN.min, max = bounds::DEVICE_ID_PREFIX_LEN.max),
        regex(pattern = r"^[A-Za-z0-9._:/-]+$")
    )]
    pub device_id_prefix: String,

    /// Seed of every random draw. The same seed and spec give the same values for the same
    /// device and sequence number, in any process and after any restart or rescale.
    #[serde(default)]
    pub seed: u64,

    /// Time between two readings of one device, as a duration string such as `250ms`, `5s`,
    /// `1.5s` or `1h30m` (Go's duration syntax, as everywhere in Kubernetes); 10ms to 1h.
    #[serde(default = "default_interval")]
    pub interval: Duration,

    /// Random delay added to each reading, as a fraction of the interval (0 to 0.5). A device's
    /// readings never overtake each other.
    #[serde(default)]
    #[schemars(range(min = bounds::JITTER.min, max = bounds::JITTER.max))]
    pub jitter: f64,

    /// Kinds of device and how often each occurs. Empty means the default: five profiles,
    /// one per sensor type (temperature, humidity, pressure, switch, current), equally weighted.
    #[serde(default)]
    pub profiles: Vec<DeviceProfileSpec>,

    /// Fraction of readings that carry an injected anomaly (0 to 0.1). Each such reading is
    /// flagged with `anomaly: true` and its kind, as ground truth for a downstream detector.
    #[serde(default = "default_anomaly_rate")]
    #[schemars(range(min = bounds::ANOMALY_RATE.min, max = bounds::ANOMALY_RATE.max))]
    pub anomaly_rate: f64,

    /// Slow, deterministic changes of each sensor's mean: daily temperature cycle, seasonal
    /// humidity, weather-driven pressure, switch usage pattern, load-driven current.
    #[serde(default)]
    pub trend: TrendSpec,

    /// Weight of the previous value in each new one (0 to 0.95): new = s·last + (1-s)·sample.
    /// The sample's spread is widened so that the smoothed values keep the sensor's stddev.
    #[serde(default = "default_smoothing")]
    #[schemars(range(min = bounds::SMOOTHING.min, max = bounds::SMOOTHING.max))]
    pub smoothing: f64,

    /// Shape of the site the devices are placed in: building, floor, room.
    #[serde(default)]
    pub location: LocationSpec,

    /// Where and how readings are produced.
    #[serde(default)]
    pub kafka: KafkaSpec,

    /// Wire format of each message value.
    #[serde(default)]
    pub encoding: Encoding,

    /// What to do when the producer's local queue is full.
    #[serde(default)]
    pub overflow: OverflowPolicy,

    /// How far behind its schedule a reading may fall before it is skipped, as a duration
    /// string (at least 1s). Unset (the default): nothing is skipped, and after an outage the
    /// backlog is produced as fast as Kafka takes it (within `maxMessagesPerSecond`), each
    /// reading with the timestamp it was due at. Set: a device further behind jumps to its
    /// first reading due within `maxLag`; the readings passed over are counted in
    /// `status.messagesSkipped` and are gaps in its sequence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lag: Option<Duration>,

    /// Upper bound on messages per second across all replicas; unset means no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = bounds::MAX_MESSAGES_PER_SECOND_MIN))]
    pub max_messages_per_second: Option<u64>,

    /// Number of shards, one per worker replica; the device ID space is split across them.
    /// `kubectl scale` changes it while the simulation runs.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = bounds::REPLICAS.min, max = bounds::REPLICAS.max))]
    pub replicas: u32,

    /// In-process producer tasks per replica (1 to 64); each owns a slice of the shard's devices.
    #[serde(default = "default_workers_per_replica")]
    #[schemars(range(min = bounds::WORKERS_PER_REPLICA.min, max = bounds::WORKERS_PER_REPLICA.max))]
    pub workers_per_replica: u32,

    /// How long the simulation runs, as a duration string (for example `10m`); unset runs
    /// until deleted or stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,

    /// Stop producing without losing the totals; set back to false to resume.
    #[serde(default)]
    pub paused: bool,

    /// CPU and memory of each worker pod: `requests` and `limits`, each a map of resource name
    /// to quantity string (for example `cpu: "500m"`, `memory: 256Mi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "resources_schema")]
    pub worker_resources: Option<k8s_openapi::api::core::v1::ResourceRequirements>,

    /// Placement and dress of the worker pods: labels, annotations, node selector,
    /// tolerations, affinity, extra environment, priority class, pull secrets, host network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_template: Option<WorkerTemplateSpec>,
}

/// Slow changes of each sensor's mean over time.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrendSpec {
    /// Whether trends are applied at all.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Scale of every trend's amplitude, 0 (flat) to 1 (full amplitude).
    #[serde(default = "default_trend_strength")]
    #[schemars(range(min = bounds::TREND_STRENGTH.min, max = bounds::TREND_STRENGTH.max))]
    pub strength: f64,
}

impl Default for TrendSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            strength: default_trend_strength(),
        }
    }
}

/// Site layout; a device's place is derived from its index, so it never changes.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocationSpec {
    /// Number of buildings (1 to 10,000).
    #[serde(default = "default_buildings")]
    #[schemars(range(min = bounds::BUILDINGS.min, max = bounds::BUILDINGS.max))]
    pub buildings: u32,
    /// Floors in each building (1 to 1,000).
    #[serde(default = "default_floors")]
    #[schemars(range(min = bounds::FLOORS_PER_BUILDING.min, max = bounds::FLOORS_PER_BUILDING.max))]
    pub floors_per_building: u32,
    /// Rooms on each floor (1 to 10,000).
    #[serde(default = "default_rooms")]
    #[schemars(range(min = bounds::ROOMS_PER_FLOOR.min, max = bounds::ROOMS_PER_FLOOR.max))]
    pub rooms_per_floor: u32,
}

impl Default for LocationSpec {
    fn default() -> Self {
        Self {
            buildings: default_buildings(),
            floors_per_building: default_floors(),
            rooms_per_floor: default_rooms(),
        }
    }
}

/// Wire format of each message value.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// One JSON object per message (see the README for its fields).
    #[default]
    Json,
    /// `devsim.v1.Reading` from `proto/devsim.proto`.
    Protobuf,
}

/// What happens when the producer's local queue is full.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OverflowPolicy {
    /// Slow generation down until the queue drains; nothing is dropped.
    #[default]
    Block,
    /// Drop the reading and count it; its sequence number is skipped (a visible gap).
    Drop,
}

/// Quantities as plain strings: int-or-string would keep API servers before 1.21 from building
/// their server-side apply models for the whole resource.
fn resources_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let quantities =
        serde_json::json!({"type": "object", "additionalProperties": {"type": "string"}});
    schemars::json_schema!({
        "type": "object",
        "nullable": true,
        "properties": {"limits": quantities, "requests": quantities}
    })
}

fn default_device_id_prefix() -> String {
    "dev-".to_owned()
}
fn default_interval() -> Duration {
    "5s".parse().expect("a valid duration literal")
}
fn default_anomaly_rate() -> f64 {
    0.01
}
fn default_smoothing() -> f64 {
    0.7
}
fn default_trend_strength() -> f64 {
    0.5
}
fn default_true() -> bool {
    true
}
fn default_buildings() -> u32 {
    4
}
fn default_floors() -> u32 {
    5
}
fn default_rooms() -> u32 {
    20
}
fn default_replicas() -> u32 {
    1
}
fn default_workers_per_replica() -> u32 {
    2
}
