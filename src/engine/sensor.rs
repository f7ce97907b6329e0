//! Sensor models: the value distribution, clamp range, anomaly and trend of each sensor type.
//!
//! A normal sensor keeps one number of state: its smoothed deviation from the (trending) mean.
//! Each reading draws a fresh innovation and smooths it, `dev = s·dev + (1-s)·σ'·ε`, with
//! `σ' = σ·sqrt((1+s)/(1-s))` so that the smoothed deviation is stationary with exactly the
//! table's σ: smoothing makes neighbouring readings similar without shrinking the spread.
//! A switch keeps its last state, needed to make an anomalous reading toggle.

use rand_distr::{Distribution, StandardNormal};

use super::rng::CounterRng;
use super::trend::TrendShape;

/// The sensor types of the design table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SensorKind {
    /// Temperature in °C.
    Temperature,
    /// Relative humidity in %.
    Humidity,
    /// Air pressure in hPa.
    Pressure,
    /// An ON (1) / OFF (0) switch.
    Switch,
    /// Electric current in A.
    Current,
}

/// Which side of the threshold an anomalous value lands on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnomalySide {
    /// Above the threshold (high temperature, pressure, over-current).
    Above,
    /// Below the threshold (too dry).
    Below,
    /// Not a threshold: the switch toggles.
    Toggle,
}

impl SensorKind {
    /// Every sensor kind, in table order.
    pub const ALL: [SensorKind; 5] = [
        Self::Temperature,
        Self::Humidity,
        Self::Pressure,
        Self::Switch,
        Self::Current,
    ];

    /// Lower-case name used in messages and specs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Temperature => "temperature",
            Self::Humidity => "humidity",
            Self::Pressure => "pressure",
            Self::Switch => "switch",
            Self::Current => "current",
        }
    }

    /// Parses [`Self::as_str`] back.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Unit carried in each reading.
    pub fn unit(self) -> &'static str {
        match self {
            Self::Temperature => "°C",
            Self::Humidity => "%",
            Self::Pressure => "hPa",
            Self::Switch => "on/off",
            Self::Current => "A",
        }
    }

    /// Name of the anomaly an injected reading of this kind represents.
    pub fn anomaly_kind(self) -> &'static str {
        match self {
            Self::Temperature => "high_temperature",
            Self::Humidity => "too_dry",
            Self::Pressure => "high_pressure",
            Self::Switch => "rapid_toggling",
            Self::Current => "over_current",
        }
    }

    /// Side of the threshold anomalies land on.
    pub fn anomaly_side(self) -> AnomalySide {
        match self {
            Self::Humidity => AnomalySide::Below,
            Self::Switch => AnomalySide::Toggle,
            _ => AnomalySide::Above,
        }
    }

    /// The table's parameters for this kind.
    pub fn defaults(self) -> SensorDefaults {
        const HOUR: f64 = 3600.0;
        match self {
            Self::Temperature => SensorDefaults {
                mean: 25.0,
                stddev: 5.0,
                min: -10.0,
                max: 60.0,
                threshold: 50.0,
                trend_amplitude: 5.0,
                trend_period_secs: 24.0 * HOUR,
            },
            Self::Humidity => SensorDefaults {
                mean: 60.0,
                stddev: 10.0,
                min: 0.0,
                max: 100.0,
                threshold: 20.0,
                trend_amplitude: 10.0,
                trend_period_secs: 365.0 * 24.0 * HOUR,
            },
            Self::Pressure => SensorDefaults {
                mean: 1013.0,
                stddev: 20.0,
                min: 950.0,
                max: 1050.0,
                threshold: 1040.0,
                trend_amplitude: 8.0,
                trend_period_secs: 12.0 * HOUR,
            },
            Self::Switch => SensorDefaults {
                mean: 0.8,
                stddev: 0.0,
                min: 0.0,
                max: 1.0,
                threshold: 0.5,
                trend_amplitude: 0.15,
                trend_period_secs: 24.0 * HOUR,
            },
            Self::Current => SensorDefaults {
                mean: 2.5,
                stddev: 0.5,
                min: 0.0,
                max: 10.0,
                threshold: 8.0,
                trend_amplitude: 0.8,
                trend_period_secs: 8.0 * HOUR,
            },
        }
    }

    fn trend_shape(self) -> TrendShape {
        match self {
            Self::Temperature => TrendShape::DailyCycle,
            Self::Humidity => TrendShape::Seasonal,
            Self::Pressure => TrendShape::Weather,
            Self::Switch => TrendShape::UsagePattern,
            Self::Current => TrendShape::Load,
        }
    }
}

/// The table's parameters of one sensor kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SensorDefaults {
    /// Mean (for a switch, the probability of ON).
    pub mean: f64,
    /// Standard deviation.
    pub stddev: f64,
    /// Clamp minimum.
    pub min: f64,
    /// Clamp maximum.
    pub max: f64,
    /// Anomaly threshold.
    pub threshold: f64,
    /// Trend amplitude at full strength.
    pub trend_amplitude: f64,
    /// Trend period in seconds.
    pub trend_period_secs: f64,
}

/// One sensor of a profile, with every parameter resolved and validated.
#[derive(Clone, Debug, PartialEq)]
pub struct SensorModel {
    /// Name within the device (unique within its profile).
    pub name: String,
    /// Sensor type.
    pub kind: SensorKind,
    /// Resolved parameters; the trend amplitude is already scaled by the trend strength.
    pub params: SensorDefaults,
    /// σ of the innovation before smoothing, so that the smoothed value keeps `params.stddev`.
    innovation_stddev: f64,
    /// Weight of the previous deviation.
    smoothing: f64,
}

impl SensorModel {
    /// A model from resolved parameters; `trend_scale` is 0 when trends are off.
    pub fn new(
        name: String,
        kind: SensorKind,
        mut params: SensorDefaults,
        smoothing: f64,
        trend_scale: f64,
    ) -> Self {
        params.trend_amplitude *= trend_scale;
        let innovation_stddev = params.stddev * ((1.0 + smoothing) / (1.0 - smoothing)).sqrt();
        Self {
            name,
            kind,
            params,
            innovation_stddev,
            smoothing,
        }
    }

    /// State of a device whose history starts here: a draw from the stationary distribution.
    pub fn initial_state(&self, rng: &mut CounterRng) -> f32 {
        match self.kind {
            SensorKind::Switch => f32::from(u8::from(rng.unit() < self.params.mean)),
            _ => (self.params.stddev * standard_normal(rng)) as f32,
        }
    }

    /// Mean shift of the trend at `unix_secs` for a device in `building`.
    pub fn trend_offset(&self, seed: u64, building: u32, unix_secs: f64) -> f64 {
        if self.params.trend_amplitude == 0.0 {
            return 0.0;
        }
        self.kind
            .trend_shape()
            .offset(seed, building, unix_secs, self.params.trend_period_secs)
            * self.params.trend_amplitude
    }

    /// Advances the state by one reading and returns the reading's normal (clamped) value.
    pub fn step(&self, state: &mut f32, rng: &mut CounterRng, trend: f64) -> f64 {
        match self.kind {
            SensorKind::Switch => {
                let p_on = (self.params.mean + trend).clamp(0.0, 1.0);
                let on = rng.unit() < p_on;
                *state = f32::from(u8::from(on));
                f64::from(*state)
            }
            _ => {
                let innovation = self.innovation_stddev * standard_normal(rng);
                let deviation =
                    self.smoothing * f64::from(*state) + (1.0 - self.smoothing) * innovation;
                *state = deviation as f32;
                (self.params.mean + trend + deviation).clamp(self.params.min, self.params.max)
            }
        }
    }

    /// An injected anomalous value: strictly beyond the threshold (uniform up to the clamp
    /// bound), or for a switch the opposite of its previous state.
    pub fn anomalous_value(&self, rng: &mut CounterRng, previous_state: f32) -> f64 {
        let p = &self.params;
        // Keep clear of the threshold itself so that "beyond" is unambiguous after rounding.
        let margin = 0.02 + 0.98 * rng.unit();
        match self.kind.anomaly_side() {
            AnomalySide::Above => p.threshold + (p.max - p.threshold) * margin,
            AnomalySide::Below => p.threshold - (p.threshold - p.min) * margin,
            AnomalySide::Toggle => 1.0 - f64::from(previous_state),
        }
    }
}

#[inline]
fn standard_normal(rng: &mut CounterRng) -> f64 {
    StandardNormal.sample(rng)
}
