//! One reading: what a device reports at one sequence number, and how it is generated.

use super::device::{Location, ProfilePicker};
use super::plan::{MAX_SENSORS, Profile, SimulationPlan};
use super::rng::{CounterRng, Stream};
use super::schedule::Schedule;
use super::sensor::SensorKind;

/// Readings replayed to rebuild a device's smoothing state when its history is picked up
/// mid-stream (after a restart or rescale). The state forgets its past as `s^n`; 0.95^256 is
/// below 2e-6 of a σ, far under the two decimals a value is reported with.
pub const WARM_UP_READINGS: u64 = 256;

/// An injected anomaly: which sensor of the reading, and what kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anomaly {
    /// Index of the anomalous sensor within the profile.
    pub sensor: usize,
    /// Anomaly kind, for example `high_temperature`.
    pub kind: &'static str,
}

/// A reading ready to encode; borrows the generator's scratch buffers, so building one
/// allocates nothing.
#[derive(Clone, Copy, Debug)]
pub struct Reading<'a> {
    /// Device ID, also the Kafka key.
    pub device_id: &'a str,
    /// Sequence number of the reading within its device's stream.
    pub seq: u64,
    /// When the reading was taken (its due time), milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Simulation name.
    pub simulation: &'a str,
    /// The device's profile; `values[i]` belongs to `profile.sensors[i]`.
    pub profile: &'a Profile,
    /// Where the device is.
    pub location: Location,
    /// One value per sensor, rounded to two decimals.
    pub values: &'a [f64],
    /// The injected anomaly, if this reading carries one.
    pub anomaly: Option<Anomaly>,
}

/// Generates readings: the pure core shared by every worker, test and tool.
#[derive(Clone, Debug)]
pub struct ReadingGenerator {
    seed: u64,
    anomaly_rate: f64,
    unix_t0_ms: i64,
    schedule: Schedule,
    picker: ProfilePicker,
}

impl ReadingGenerator {
    /// A generator for `plan`, whose schedule starts at `unix_t0_ms`.
    pub fn new(plan: &SimulationPlan, unix_t0_ms: i64) -> Self {
        Self {
            seed: plan.seed,
            anomaly_rate: plan.anomaly_rate,
            unix_t0_ms,
            schedule: Schedule::new(
                plan.seed,
                plan.devices,
                plan.interval,
                plan.jitter,
                plan.first_seq,
            )
            .with_layout(plan.layout()),
            picker: ProfilePicker::new(plan),
        }
    }

    /// The schedule readings follow.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Index of the profile of `device`.
    pub fn profile_of(&self, device: u32) -> usize {
        self.picker.profile_of(device)
    }

    /// Unix milliseconds at which reading `seq` of `device` is due.
    pub fn timestamp_ms(&self, device: u32, seq: u64) -> i64 {
        self.unix_t0_ms + (self.schedule.due_ns(device, seq) / 1_000_000) as i64
    }

    /// Sets `state` to what it is just before reading `seq`: a stationary draw followed by the
    /// last [`WARM_UP_READINGS`] readings replayed.
    pub fn warm_up(
        &self,
        profile: &Profile,
        device: u32,
        building: u32,
        seq: u64,
        state: &mut [f32],
    ) {
        let start = seq.saturating_sub(WARM_UP_READINGS);
        let mut rng = CounterRng::new(self.seed, Stream::Init, u64::from(device), start);
        for (sensor, slot) in profile.sensors.iter().zip(state.iter_mut()) {
            *slot = sensor.initial_state(&mut rng);
        }
        // Replayed with anomalies, since a switch remembers an injected toggle.
        let mut values = [0f64; MAX_SENSORS];
        for s in start..seq {
            self.generate_into(
                profile,
                device,
                building,
                s,
                state,
                &mut values[..profile.sensors.len()],
            );
        }
    }

    /// Advances `state` by reading `seq` and writes the reading's values into `values`.
    /// Returns the injected anomaly, if any (its value already replaced in `values`).
    pub fn generate(
        &self,
        profile: &Profile,
        device: u32,
        building: u32,
        seq: u64,
        state: &mut [f32],
        values: &mut Vec<f64>,
    ) -> Option<Anomaly> {
        values.clear();
        values.resize(profile.sensors.len(), 0.0);
        self.generate_into(profile, device, building, seq, state, values)
    }

    /// [`Self::generate`] into a slice of exactly one value per sensor.
    pub fn generate_into(
        &self,
        profile: &Profile,
        device: u32,
        building: u32,
        seq: u64,
        state: &mut [f32],
        values: &mut [f64],
    ) -> Option<Anomaly> {
        // A separate stream: injecting anomalies never changes the other values.
        let drawn = self.draw_anomaly(profile, device, seq);
        // The toggle anomaly needs the switch's state before this reading advances it.
        let previous = drawn.as_ref().map_or(0.0, |(a, _)| state[a.sensor]);
        self.step_sensors(profile, device, building, seq, state, values);
        let (a, mut rng) = drawn?;
        let sensor = &profile.sensors[a.sensor];
        values[a.sensor] = round2(sensor.anomalous_value(&mut rng, previous));
        // A switch reports its state, so the toggle is its new state; a measuring sensor's
        // state is its underlying signal, which a spike leaves untouched.
        if sensor.kind == SensorKind::Switch {
            state[a.sensor] = values[a.sensor] as f32;
        }
        Some(a)
    }

    /// Whether reading `seq` is anomalous, and if so the anomaly and the generator positioned to
    /// draw its value.
    fn draw_anomaly(
        &self,
        profile: &Profile,
        device: u32,
        seq: u64,
    ) -> Option<(Anomaly, CounterRng)> {
        if self.anomaly_rate <= 0.0 {
            return None;
        }
        let mut rng = CounterRng::new(self.seed, Stream::Anomaly, u64::from(device), seq);
        if rng.unit() >= self.anomaly_rate {
            return None;
        }
        let sensor = rng.below(profile.sensors.len() as u64) as usize;
        let anomaly = Anomaly {
            sensor,
            kind: profile.sensors[sensor].kind.anomaly_kind(),
        };
        Some((anomaly, rng))
    }

    fn step_sensors(
        &self,
        profile: &Profile,
        device: u32,
        building: u32,
        seq: u64,
        state: &mut [f32],
        values: &mut [f64],
    ) {
        let unix_secs = self.timestamp_ms(device, seq) as f64 / 1000.0;
        let mut rng = CounterRng::new(self.seed, Stream::Reading, u64::from(device), seq);
        for (i, sensor) in profile.sensors.iter().enumerate() {
            let trend = sensor.trend_offset(self.seed, building, unix_secs);
            let value = sensor.step(&mut state[i], &mut rng, trend);
            values[i] = round2(value);
        }
    }
}

/// Rounds to two decimals, the precision every value is reported with. Adding 0.0 turns a
/// rounded `-0.0` into `0.0`, so a reading never says `-0.0`.
#[inline]
pub fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0 + 0.0
}
