//! Observed state of a [`super::DeviceSimulation`], written by the operator and its workers.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a simulation: phase, conditions, totals and per-shard figures.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceSimulationStatus {
    /// Lifecycle phase: Pending, Running, Paused, Completed or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Ready, Progressing and Degraded conditions, each with the generation it describes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the simulation started (RFC 3339); every schedule is anchored to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Worker replicas that exist (the scale subresource's status replicas).
    #[serde(default)]
    pub replicas: u32,
    /// Worker replicas that are ready.
    #[serde(default)]
    pub ready_replicas: u32,
    /// Label selector of the worker pods (the scale subresource's selector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Devices simulated.
    #[serde(default)]
    pub devices: u32,
    /// Message counts over all shards, retired ones included.
    #[serde(flatten)]
    pub totals: Totals,
    /// Messages delivered per second (acknowledged by Kafka, not merely handed to the producer),
    /// over the last 5 seconds, summed over the shards that reported in the last 30 seconds.
    #[serde(default)]
    pub messages_per_second: f64,
    /// The schedule every worker follows. Editing the interval starts a new epoch a moment
    /// ahead, whose sequence numbers continue after the old epoch's, so no (device, seq) repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleEpoch>,
    /// Totals of shards that no longer exist (their entries were pruned after a scale-down),
    /// so that the simulation's totals never go backwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired: Option<Totals>,
    /// Figures reported by each worker, keyed by shard index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["index"]))]
    pub shards: Vec<ShardStatus>,
}

/// One schedule epoch: from `since`, reading `firstSeq + k` of a device is due at
/// `since + phase(device) + k·interval + jitter`; the phases space `devices` devices over the
/// interval.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleEpoch {
    /// When the epoch starts (RFC 3339, milliseconds).
    pub since: String,
    /// Sequence number of every device's first reading in this epoch.
    pub first_seq: u64,
    /// The interval of this epoch.
    pub interval: String,
    /// The device count of this epoch: the phases depend on it, so editing it opens a new
    /// epoch. Absent in epochs written before phases depended on it; workers wait for the
    /// controller to replace such an epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<u32>,
}

/// Message counts.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Messages handed to the producer.
    #[serde(default)]
    pub messages_sent: u64,
    /// Messages acknowledged by the brokers (with `acks: 0` nothing is acknowledged: written to
    /// a connection; only `devsim verify` can tell what arrived).
    #[serde(default)]
    pub messages_delivered: u64,
    /// Messages that failed delivery.
    #[serde(default)]
    pub messages_failed: u64,
    /// Readings dropped by the `drop` overflow policy.
    #[serde(default)]
    pub messages_dropped: u64,
    /// Readings skipped for falling more than `spec.maxLag` behind schedule.
    #[serde(default)]
    pub messages_skipped: u64,
}

impl Totals {
    /// Adds another set of counts to these.
    pub fn add(&mut self, other: &Totals) {
        self.messages_sent += other.messages_sent;
        self.messages_delivered += other.messages_delivered;
        self.messages_failed += other.messages_failed;
        self.messages_dropped += other.messages_dropped;
        self.messages_skipped += other.messages_skipped;
    }
}

/// Why a shard is not healthy. The worker raises it as soon as it observes the cause and clears
/// it only after the cause has been gone for 15 s, so it does not flap.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShardProblem {
    /// PascalCase cause: ProducerConfigInvalid, WorkerFailed, AuthenticationFailed,
    /// TopicMissing, KafkaUnreachable, DeliveriesFailing, BacklogGrowing or CatchingUp.
    pub reason: String,
    /// What happened, with the brokers and the client's own words.
    pub message: String,
    /// When the cause was first observed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// Lifecycle phase of a simulation.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Accepted, workers not yet producing.
    Pending,
    /// Workers are producing.
    Running,
    /// `spec.paused` is set; totals are kept.
    Paused,
    /// `spec.duration` has elapsed.
    Completed,
    /// The spec is invalid or the simulation cannot run; see the conditions.
    Failed,
}

impl Phase {
    /// Every phase.
    pub const ALL: [Phase; 5] = [
        Phase::Pending,
        Phase::Running,
        Phase::Paused,
        Phase::Completed,
        Phase::Failed,
    ];

    /// The name the status shows.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Paused => "Paused",
            Phase::Completed => "Completed",
            Phase::Failed => "Failed",
        }
    }
}

/// Figures one worker reports for its shard.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShardStatus {
    /// Shard index (the worker pod's ordinal).
    pub index: u32,
    /// Shard count the worker currently runs under.
    #[serde(default)]
    pub shard_count: u32,
    /// Devices in this shard.
    #[serde(default)]
    pub devices: u32,
    /// Message counts of this shard.
    #[serde(flatten)]
    pub totals: Totals,
    /// Messages delivered per second (acknowledged by Kafka) over the last 5 seconds.
    #[serde(default)]
    pub messages_per_second: f64,
    /// 99th percentile of the schedule lag, in milliseconds.
    #[serde(default)]
    pub schedule_lag_p99_ms: f64,
    /// How far the oldest reading not yet produced is behind its due time, in milliseconds:
    /// 0 on schedule; grows while `overflow: block` holds generation back.
    #[serde(default)]
    pub behind_schedule_ms: f64,
    /// Bytes of messages waiting for Kafka's acknowledgement (bounded by
    /// `spec.kafka.bufferMemory`).
    #[serde(default)]
    pub buffered_bytes: u64,
    /// Why the shard is not healthy, while it is not (see the Degraded condition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<ShardProblem>,
    /// Devices taken over after the hand-off timeout instead of on confirmation: each may have
    /// a short gap in its sequence.
    #[serde(default)]
    pub handoff_timeouts: u64,
    /// The worker has stopped, flushed and made its last report: its figures are final and the
    /// controller may fold them into `retired` once its pod is gone.
    #[serde(default)]
    pub stopped: bool,
    /// When the worker last let go of devices (RFC 3339, rounded up to the millisecond): their
    /// new owners start them there, so a hand-off produces late readings rather than gaps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<String>,
    /// The shard count the worker ran under before its latest release: tells a new shard which
    /// shard each of its devices comes from.
    #[serde(default)]
    pub previous_shard_count: u32,
    /// The latest Kafka or configuration error the worker saw, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the worker last reported (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
}
