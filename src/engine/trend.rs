//! Trend shapes: deterministic functions of wall-clock time, so that every process agrees on
//! them without sharing state. Each returns a value in about [-1, 1], scaled by the sensor's
//! amplitude.

use std::f64::consts::TAU;

use super::rng::{CounterRng, Stream};

const HOUR: f64 = 3600.0;

/// The trend of each sensor type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrendShape {
    /// Sine over the period, warmest at 15:00 UTC for a daily period.
    DailyCycle,
    /// Sine over the period (a year by default), peaking mid-year.
    Seasonal,
    /// Smooth random weather per building: value noise with one knot per period.
    Weather,
    /// Switch usage: more often ON in the working day, peaking at 12:00 UTC.
    UsagePattern,
    /// Load changes: a sine over the period (shift length by default).
    Load,
}

impl TrendShape {
    /// The shape's value at `unix_secs`.
    pub fn offset(self, seed: u64, building: u32, unix_secs: f64, period_secs: f64) -> f64 {
        match self {
            Self::DailyCycle => (TAU * (unix_secs - 9.0 * HOUR) / period_secs).sin(),
            Self::Seasonal => (TAU * (unix_secs / period_secs - 0.25)).sin(),
            Self::UsagePattern => (TAU * (unix_secs - 6.0 * HOUR) / period_secs).sin(),
            Self::Load => (TAU * unix_secs / period_secs).sin(),
            Self::Weather => weather(seed, building, unix_secs / period_secs),
        }
    }
}

/// Value noise: a standard-normal-ish knot at every integer position, smoothly interpolated.
fn weather(seed: u64, building: u32, position: f64) -> f64 {
    let knot_index = position.floor();
    let t = position - knot_index;
    let knot = |i: f64| {
        let mut rng = CounterRng::new(seed, Stream::Weather, u64::from(building), i as i64 as u64);
        // Sum of three uniforms, centred and scaled to unit variance: bell-shaped and bounded.
        (rng.unit() + rng.unit() + rng.unit() - 1.5) * 2.0
    };
    let (a, b) = (knot(knot_index), knot(knot_index + 1.0));
    let smooth = t * t * (3.0 - 2.0 * t);
    a + (b - a) * smooth
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_cycle_peaks_mid_afternoon_and_bottoms_early_morning() {
        let day = 24.0 * HOUR;
        let at = |h: f64| TrendShape::DailyCycle.offset(1, 0, 20_000.0 * day + h * HOUR, day);
        assert!((at(15.0) - 1.0).abs() < 1e-9);
        assert!((at(3.0) + 1.0).abs() < 1e-9);
    }

    #[test]
    fn weather_is_continuous_differs_between_buildings_and_actually_changes() {
        let period = 12.0 * HOUR;
        let w = |b: u32, t: f64| TrendShape::Weather.offset(9, b, t, period);
        let t = 1.7e9;
        assert_ne!(w(3, t), w(4, t));
        assert_ne!(
            w(3, t),
            TrendShape::Weather.offset(10, 3, t, period),
            "another seed, other weather"
        );
        // Over a week the weather of one building swings, it is no constant.
        let week: Vec<f64> = (0..7 * 24).map(|h| w(3, t + f64::from(h) * HOUR)).collect();
        let (lo, hi) = week
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        assert!(hi - lo > 0.5, "weather range over a week: {lo} .. {hi}");
        // One second later the weather has barely moved.
        assert!((w(3, t) - w(3, t + 1.0)).abs() < 1e-3);
        // Knots stay within the bounded bell shape.
        for i in 0..1000 {
            assert!(w(1, t + f64::from(i) * 3000.0).abs() <= 3.0);
        }
    }
}
