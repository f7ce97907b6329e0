//! The profiles step: each profile and its sensors, with the design's defaults for what a
//! sensor leaves unset.

use super::{FieldError, Validator};
use crate::crd::bounds::{self, Bounds};
use crate::crd::{DeviceSimulationSpec, SensorSpec, SensorType};
use crate::engine::plan::Profile;
use crate::engine::sensor::{SensorKind, SensorModel};

impl Validator {
    pub(super) fn profiles(&mut self, s: &DeviceSimulationSpec, trend_scale: f64) -> Vec<Profile> {
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
}
