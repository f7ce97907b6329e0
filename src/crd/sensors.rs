//! Device profiles and per-sensor overrides of the [`super::DeviceSimulationSpec`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bounds;

/// A kind of device: a named set of sensors and how often it occurs in the fleet.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceProfileSpec {
    /// Profile name, carried in every reading of a device with this profile.
    #[schemars(length(min = bounds::NAME_LEN.min, max = bounds::NAME_LEN.max))]
    pub name: String,
    /// Relative weight (1 to 1,000,000): a profile with weight 3 is three times as frequent as
    /// one with weight 1. A device's profile is derived from the seed and its index.
    #[serde(default = "default_weight")]
    #[schemars(range(min = bounds::PROFILE_WEIGHT.min, max = bounds::PROFILE_WEIGHT.max))]
    pub weight: u32,
    /// Sensors of a device with this profile (1 to 16); each reading carries all of them.
    #[schemars(length(min = bounds::SENSORS_PER_PROFILE.min, max = bounds::SENSORS_PER_PROFILE.max))]
    pub sensors: Vec<SensorSpec>,
}

/// One sensor of a profile; unset fields take the defaults of the sensor type.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SensorSpec {
    /// Sensor type: temperature, humidity, pressure, switch or current.
    #[serde(rename = "type")]
    pub kind: SensorType,
    /// Name of the sensor within the device; defaults to the type. Unique within a profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = bounds::NAME_LEN.min, max = bounds::NAME_LEN.max))]
    pub name: Option<String>,
    /// Mean of the normal distribution; for a switch, the probability of ON (0 to 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Standard deviation of the normal distribution (not used by a switch); at least 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = bounds::SENSOR_SPREAD_MIN))]
    pub stddev: Option<f64>,
    /// Lowest value ever reported; readings are clamped to [min, max].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Highest value ever reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Value beyond which a reading is anomalous: above it for temperature, pressure and
    /// current, below it for humidity. Injected anomalies land beyond it. Not used by a switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly_threshold: Option<f64>,
    /// Amplitude of the sensor's trend, in its unit (for a switch, in probability of ON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = bounds::SENSOR_SPREAD_MIN))]
    pub trend_amplitude: Option<f64>,
    /// Period of the sensor's trend as a duration string (for pressure, the time between two
    /// weather changes), 1s to 8760h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend_period: Option<super::Duration>,
}

/// The five sensor types of the design this project grew from.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SensorType {
    /// Normal μ=25 °C σ=5, clamp -10…60, anomaly above 50, daily cycle.
    #[default]
    Temperature,
    /// Normal μ=60 % σ=10, clamp 0…100, anomaly below 20, seasonal cycle.
    Humidity,
    /// Normal μ=1013 hPa σ=20, clamp 950…1050, anomaly above 1040, weather drift.
    Pressure,
    /// Bernoulli p=0.8 ON, anomaly rapid toggling, daily usage pattern.
    Switch,
    /// Normal μ=2.5 A σ=0.5, clamp 0…10, anomaly above 8 (over-current), load changes.
    Current,
}

fn default_weight() -> u32 {
    1
}
