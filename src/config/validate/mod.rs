//! Every rule a `DeviceSimulation` must follow, including those its schema cannot express,
//! and the translation into the engine's [`SimulationPlan`] and the sink's [`KafkaPlan`].
//!
//! One [`Validator`] collects the errors; each part of the spec has its step: the top-level
//! fields here, [`profiles`] (profiles and sensors), [`kafka`] (the producer), [`security`] (how it authenticates) and [`workers`]
//! (what the worker pods ask of the cluster).
//!
//! Errors name the field (`spec.profiles[0].sensors[1].min`), say what was wrong, and what is
//! allowed. All of them are collected, so a user fixes a file in one pass.

mod kafka;
mod profiles;
mod security;
mod workers;

pub use workers::resource_problems;

use std::fmt;
use std::time::Duration;

use super::ConfigError;
use crate::crd::bounds::{self, Bounds};
use crate::crd::{DeviceSimulation, DeviceSimulationSpec, Encoding, OverflowPolicy};
use crate::engine::plan::{self, KafkaPlan, LocationShape, SimulationPlan};

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
    } else if !bounds::SIMULATION_NAME_LEN.contains(&name.len()) {
        v.fail(
            "metadata.name",
            format!(
                "must be at most {} characters, got {}: the workers' StatefulSet `<name>-workers` \
                 must leave room for the revision label Kubernetes adds to its pods",
                bounds::SIMULATION_NAME_LEN.max,
                name.len()
            ),
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
        let max_lag = s
            .max_lag
            .as_ref()
            .map(|d| self.duration("spec.maxLag", d, bounds::MAX_LAG));
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
        self.worker_resources(s);
        self.worker_template(s);
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
                max_lag,
                max_messages_per_second: s.max_messages_per_second,
                replicas: s.replicas,
                workers_per_replica: s.workers_per_replica,
                duration,
                block_bits: None,
            },
            kafka,
        })
    }
}

#[cfg(test)]
mod tests;
