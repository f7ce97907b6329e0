//! Every numeric bound of the spec, named once. The schema (`#[schemars(range(...))]`, so the
//! API server refuses a value out of bounds) and [`crate::config::validate`] (so `devsim run -f`
//! refuses the same value, with the same limits in its message) both read these constants.

use std::time::Duration;

/// An inclusive range a field must lie in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds<T> {
    /// Smallest allowed value.
    pub min: T,
    /// Largest allowed value.
    pub max: T,
}

impl<T: PartialOrd> Bounds<T> {
    /// Whether `value` lies within the bounds, both ends included.
    pub fn contains(&self, value: &T) -> bool {
        self.min <= *value && *value <= self.max
    }
}

/// Length of a simulation's name. Its StatefulSet is `<name>-workers`, and Kubernetes labels
/// each pod with `<statefulset>-<10-character hash>`, which a label value caps at 63.
pub const SIMULATION_NAME_LEN: Bounds<usize> = Bounds { min: 1, max: 44 };
/// `spec.devices`.
pub const DEVICES: Bounds<u32> = Bounds {
    min: 1,
    max: 1_000_000_000,
};
/// Length of `spec.deviceIdPrefix`.
pub const DEVICE_ID_PREFIX_LEN: Bounds<usize> = Bounds { min: 1, max: 64 };
/// `spec.interval`.
pub const INTERVAL: Bounds<Duration> = Bounds {
    min: Duration::from_millis(10),
    max: Duration::from_secs(3600),
};
/// `spec.jitter`, a fraction of the interval.
pub const JITTER: Bounds<f64> = Bounds { min: 0.0, max: 0.5 };
/// `spec.anomalyRate`.
pub const ANOMALY_RATE: Bounds<f64> = Bounds { min: 0.0, max: 0.1 };
/// `spec.trend.strength`.
pub const TREND_STRENGTH: Bounds<f64> = Bounds { min: 0.0, max: 1.0 };
/// `spec.smoothing`.
pub const SMOOTHING: Bounds<f64> = Bounds {
    min: 0.0,
    max: 0.95,
};
/// `spec.location.buildings`.
pub const BUILDINGS: Bounds<u32> = Bounds {
    min: 1,
    max: 10_000,
};
/// `spec.location.floorsPerBuilding`.
pub const FLOORS_PER_BUILDING: Bounds<u32> = Bounds { min: 1, max: 1_000 };
/// `spec.location.roomsPerFloor`.
pub const ROOMS_PER_FLOOR: Bounds<u32> = Bounds {
    min: 1,
    max: 10_000,
};
/// Smallest `spec.maxMessagesPerSecond` (unset means no cap).
pub const MAX_MESSAGES_PER_SECOND_MIN: u64 = 1;
/// `spec.replicas`.
pub const REPLICAS: Bounds<u32> = Bounds { min: 0, max: 1000 };
/// `spec.workersPerReplica`.
pub const WORKERS_PER_REPLICA: Bounds<u32> = Bounds { min: 1, max: 64 };
/// `spec.duration`: from a blink to ten years.
pub const DURATION: Bounds<Duration> = Bounds {
    min: Duration::from_millis(1),
    max: Duration::from_secs(10 * 365 * 86_400),
};
/// Length of a profile's or a sensor's name.
pub const NAME_LEN: Bounds<usize> = Bounds { min: 1, max: 64 };
/// `spec.profiles[].weight`.
pub const PROFILE_WEIGHT: Bounds<u32> = Bounds {
    min: 1,
    max: 1_000_000,
};
/// Sensors in one profile; the engine sizes its scratch buffers by the maximum.
pub const SENSORS_PER_PROFILE: Bounds<usize> = Bounds {
    min: 1,
    max: crate::engine::plan::MAX_SENSORS,
};
/// `spec.profiles[].sensors[].trendPeriod`: a second to a year.
pub const TREND_PERIOD: Bounds<Duration> = Bounds {
    min: Duration::from_secs(1),
    max: Duration::from_secs(8760 * 3600),
};
/// Smallest `stddev` and `trendAmplitude` of a sensor.
pub const SENSOR_SPREAD_MIN: f64 = 0.0;
/// Length of `spec.kafka.topic` (Kafka's own limit).
pub const TOPIC_LEN: Bounds<usize> = Bounds { min: 1, max: 249 };
/// `spec.kafka.partitions`.
pub const PARTITIONS: Bounds<u32> = Bounds { min: 1, max: 1000 };
/// `spec.kafka.linger`.
pub const LINGER: Bounds<Duration> = Bounds {
    min: Duration::ZERO,
    max: Duration::from_secs(10),
};
/// `spec.kafka.batchSize`, in bytes.
pub const BATCH_SIZE: Bounds<u32> = Bounds {
    min: 1_000,
    max: 100_000_000,
};
/// `spec.kafka.bufferMemory`, in bytes: at least room for a burst of messages, at most what
/// librdkafka's own queue limit can express comfortably.
pub const BUFFER_MEMORY: Bounds<u64> = Bounds {
    min: 1 << 20,
    max: 4 << 30,
};
/// `spec.maxLag`.
pub const MAX_LAG: Bounds<Duration> = Bounds {
    min: Duration::from_secs(1),
    max: Duration::from_secs(10 * 365 * 86_400),
};
