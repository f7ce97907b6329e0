//! Every rule a `DeviceSimulation` must follow, including those its schema cannot express,
//! and the translation into the engine's [`SimulationPlan`] and the sink's [`KafkaPlan`].
//!
//! Errors name the field (`spec.profiles[0].sensors[1].min`), say what was wrong, and what is
//! allowed. All of them are collected, so a user fixes a file in one pass.

use std::fmt;
use std::time::Duration;

use super::ConfigError;
use crate::crd::bounds::{self, Bounds};
use crate::crd::{
    DeviceSimulation, DeviceSimulationSpec, Encoding, OverflowPolicy, SensorSpec, SensorType,
};
use crate::engine::plan::{self, KafkaPlan, LocationShape, Profile, SimulationPlan};
use crate::engine::sensor::{SensorKind, SensorModel};

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, for example `spec.interval`.
    pub field: String,
    /// What was wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A simulation that passed validation, split into what the engine and the sink need.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedSimulation {
    /// The engine's plan.
    pub plan: SimulationPlan,
    /// The producer's plan.
    pub kafka: KafkaPlan,
}

/// Validates a resource and builds its plans.
pub fn validate(sim: &DeviceSimulation) -> Result<ValidatedSimulation, ConfigError> {
    let mut v = Validator::default();
    let name = sim.metadata.name.clone().unwrap_or_default();
    if name.is_empty() {
        v.fail(
            "metadata.name",
            "is required: the simulation's name, carried in every reading",
        );
    }
    let spec = &sim.spec;
    let result = v.spec(name, spec);
    if v.errors.is_empty() {
        Ok(result.expect("a plan is built whenever no rule failed"))
    } else {
        Err(ConfigError::Invalid(v.errors))
    }
}

#[derive(Default)]
struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn range<T: PartialOrd + fmt::Display + Copy>(&mut self, field: &str, value: T, b: Bounds<T>) {
        if !b.contains(&value) {
            self.fail(
                field,
                format!("must be between {} and {}, got {value}", b.min, b.max),
            );
        }
    }

    /// A length (of a name, a list) within bounds.
    fn length(&mut self, field: &str, len: usize, what: &str, b: Bounds<usize>) {
        if !b.contains(&len) {
            self.fail(
                field,
                format!("must be {} to {} {what}, got {len}", b.min, b.max),
            );
        }
    }

    /// A duration within bounds (its syntax was checked when it was read).
    fn duration(&mut self, field: &str, d: &crate::crd::Duration, b: Bounds<Duration>) -> Duration {
        if !b.contains(&d.get()) {
            self.fail(
                field,
                format!(
                    "must be between {:?} and {:?}, got {:?}",
                    b.min,
                    b.max,
                    d.as_str()
                ),
            );
        }
        d.get()
    }

    fn spec(&mut self, name: String, s: &DeviceSimulationSpec) -> Option<ValidatedSimulation> {
        self.range("spec.devices", s.devices, bounds::DEVICES);
        if !bounds::DEVICE_ID_PREFIX_LEN.contains(&s.device_id_prefix.len())
            || !s
                .device_id_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._:/-".contains(c))
        {
            self.fail(
                "spec.deviceIdPrefix",
                format!(
                    "must be {} to {} characters of A-Z a-z 0-9 . _ : / -, got {:?}",
                    bounds::DEVICE_ID_PREFIX_LEN.min,
                    bounds::DEVICE_ID_PREFIX_LEN.max,
                    s.device_id_prefix
                ),
            );
        }
        let interval = self.duration("spec.interval", &s.interval, bounds::INTERVAL);
        self.range("spec.jitter", s.jitter, bounds::JITTER);
        self.range("spec.anomalyRate", s.anomaly_rate, bounds::ANOMALY_RATE);
        self.range(
            "spec.trend.strength",
            s.trend.strength,
            bounds::TREND_STRENGTH,
        );
        self.range("spec.smoothing", s.smoothing, bounds::SMOOTHING);
        self.range(
            "spec.location.buildings",
            s.location.buildings,
            bounds::BUILDINGS,
        );
        self.range(
            "spec.location.floorsPerBuilding",
            s.location.floors_per_building,
            bounds::FLOORS_PER_BUILDING,
        );
        self.range(
            "spec.location.roomsPerFloor",
            s.location.rooms_per_floor,
            bounds::ROOMS_PER_FLOOR,
        );
        self.range("spec.replicas", s.replicas, bounds::REPLICAS);
        self.range(
            "spec.workersPerReplica",
            s.workers_per_replica,
            bounds::WORKERS_PER_REPLICA,
        );
        if let Some(cap) = s.max_messages_per_second
            && cap < bounds::MAX_MESSAGES_PER_SECOND_MIN
        {
            self.fail(
                "spec.maxMessagesPerSecond",
                format!(
                    "must be at least {}, or unset for no cap, got {cap}",
                    bounds::MAX_MESSAGES_PER_SECOND_MIN
                ),
            );
        }
        let duration = s
            .duration
            .as_ref()
            .map(|d| self.duration("spec.duration", d, bounds::DURATION));
        let trend_scale = if s.trend.enabled {
            s.trend.strength
        } else {
            0.0
        };
        let profiles = self.profiles(s, trend_scale);
        let kafka = self.kafka(s);
        if !self.errors.is_empty() {
            return None;
        }
        Some(ValidatedSimulation {
            plan: SimulationPlan {
                name,
                devices: s.devices,
                device_id_prefix: s.device_id_prefix.clone(),
                seed: s.seed,
                interval,
                first_seq: 0,
                jitter: s.jitter,
                profiles,
                anomaly_rate: s.anomaly_rate,
                location: LocationShape {
                    buildings: s.location.buildings,
                    floors: s.location.floors_per_building,
                    rooms: s.location.rooms_per_floor,
                },
                encoding: match s.encoding {
                    Encoding::Json => plan::Encoding::Json,
                    Encoding::Protobuf => plan::Encoding::Protobuf,
                },
                overflow: match s.overflow {
                    OverflowPolicy::Block => plan::Overflow::Block,
                    OverflowPolicy::Drop => plan::Overflow::Drop,
                },
                max_messages_per_second: s.max_messages_per_second,
                replicas: s.replicas,
                workers_per_replica: s.workers_per_replica,
                duration,
            },
            kafka,
        })
    }

    fn profiles(&mut self, s: &DeviceSimulationSpec, trend_scale: f64) -> Vec<Profile> {
        if s.profiles.is_empty() {
            return SensorKind::ALL
                .into_iter()
                .map(|kind| Profile {
                    name: kind.as_str().to_owned(),
                    weight: 1,
                    sensors: vec![SensorModel::new(
                        kind.as_str().to_owned(),
                        kind,
                        kind.defaults(),
                        s.smoothing,
                        trend_scale,
                    )],
                })
                .collect();
        }
        let mut names = std::collections::HashSet::new();
        let mut profiles = Vec::with_capacity(s.profiles.len());
        for (i, p) in s.profiles.iter().enumerate() {
            let at = format!("spec.profiles[{i}]");
            if !bounds::NAME_LEN.contains(&p.name.len()) {
                self.length(
                    &format!("{at}.name"),
                    p.name.len(),
                    "characters",
                    bounds::NAME_LEN,
                );
            } else if !names.insert(p.name.as_str()) {
                self.fail(
                    format!("{at}.name"),
                    format!(
                        "{:?} is used by an earlier profile; names must be unique",
                        p.name
                    ),
                );
            }
            self.range(&format!("{at}.weight"), p.weight, bounds::PROFILE_WEIGHT);
            self.length(
                &format!("{at}.sensors"),
                p.sensors.len(),
                "sensors",
                bounds::SENSORS_PER_PROFILE,
            );
            let mut sensor_names = std::collections::HashSet::new();
            let mut sensors = Vec::with_capacity(p.sensors.len());
            for (j, sensor) in p.sensors.iter().enumerate() {
                let at = format!("{at}.sensors[{j}]");
                let model = self.sensor(&at, sensor, s.smoothing, trend_scale);
                if !sensor_names.insert(model.name.clone()) {
                    self.fail(
                        format!("{at}.name"),
                        format!("{:?} is used by an earlier sensor of this profile; give each sensor a unique name", model.name),
                    );
                }
                sensors.push(model);
            }
            profiles.push(Profile {
                name: p.name.clone(),
                weight: p.weight,
                sensors,
            });
        }
        profiles
    }

    fn sensor(
        &mut self,
        at: &str,
        s: &SensorSpec,
        smoothing: f64,
        trend_scale: f64,
    ) -> SensorModel {
        let kind = match s.kind {
            SensorType::Temperature => SensorKind::Temperature,
            SensorType::Humidity => SensorKind::Humidity,
            SensorType::Pressure => SensorKind::Pressure,
            SensorType::Switch => SensorKind::Switch,
            SensorType::Current => SensorKind::Current,
        };
        let mut p = kind.defaults();
        for (field, value, target) in [
            ("mean", s.mean, &mut p.mean),
            ("stddev", s.stddev, &mut p.stddev),
            ("min", s.min, &mut p.min),
            ("max", s.max, &mut p.max),
            ("anomalyThreshold", s.anomaly_threshold, &mut p.threshold),
            ("trendAmplitude", s.trend_amplitude, &mut p.trend_amplitude),
        ] {
            if let Some(value) = value {
                if value.is_finite() {
                    *target = value;
                } else {
                    self.errors.push(FieldError {
                        field: format!("{at}.{field}"),
                        message: format!("must be a finite number, got {value}"),
                    });
                }
            }
        }
        if let Some(period) = &s.trend_period {
            p.trend_period_secs = self
                .duration(&format!("{at}.trendPeriod"), period, bounds::TREND_PERIOD)
                .as_secs_f64();
        }
        for (field, value) in [("stddev", p.stddev), ("trendAmplitude", p.trend_amplitude)] {
            if value < bounds::SENSOR_SPREAD_MIN {
                self.fail(
                    format!("{at}.{field}"),
                    format!("must be {} or more, got {value}", bounds::SENSOR_SPREAD_MIN),
                );
            }
        }
        if kind == SensorKind::Switch {
            let probability = Bounds { min: 0.0, max: 1.0 };
            self.range(&format!("{at}.mean"), p.mean, probability);
            if s.min.is_some()
                || s.max.is_some()
                || s.stddev.is_some()
                || s.anomaly_threshold.is_some()
            {
                self.fail(at, "a switch takes only mean (probability of ON), trendAmplitude and trendPeriod; remove stddev, min, max and anomalyThreshold");
            }
        } else if p.min >= p.max {
            self.fail(
                format!("{at}.min"),
                format!("must be less than max ({}), got {}", p.max, p.min),
            );
        } else {
            if !(p.min..=p.max).contains(&p.mean) {
                self.fail(
                    format!("{at}.mean"),
                    format!(
                        "must lie within [min, max] = [{}, {}], got {}",
                        p.min, p.max, p.mean
                    ),
                );
            }
            if !(p.min < p.threshold && p.threshold < p.max) {
                self.fail(
                    format!("{at}.anomalyThreshold"),
                    format!(
                        "must lie strictly between min ({}) and max ({}), got {}",
                        p.min, p.max, p.threshold
                    ),
                );
            }
        }
        let name = s.name.clone().unwrap_or_else(|| kind.as_str().to_owned());
        self.length(
            &format!("{at}.name"),
            name.len(),
            "characters",
            bounds::NAME_LEN,
        );
        SensorModel::new(name, kind, p, smoothing, trend_scale)
    }

    fn kafka(&mut self, s: &DeviceSimulationSpec) -> KafkaPlan {
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
            properties: k.properties.clone(),
        }
    }
}
