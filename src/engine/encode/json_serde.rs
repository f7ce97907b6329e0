//! `serde::Serialize` for readings: the reference definition of the JSON format, for library
//! users who serialise readings themselves. [`super::JsonEncoder`] must produce the same bytes
//! (a differential test holds it to that) while skipping serde's per-field dispatch.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::engine::device::Location;
use crate::engine::plan::Profile;
use crate::engine::reading::Reading;

impl Serialize for Reading<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(11))?;
        map.serialize_entry("deviceId", self.device_id)?;
        map.serialize_entry("seq", &self.seq)?;
        map.serialize_entry("timestamp", &self.timestamp_ms)?;
        map.serialize_entry("simulation", self.simulation)?;
        map.serialize_entry("profile", &self.profile.name)?;
        map.serialize_entry("location", &LocationView(self.location))?;
        map.serialize_entry("values", &ValuesView(self.profile, self.values))?;
        map.serialize_entry("anomaly", &self.anomaly.is_some())?;
        map.serialize_entry("anomalyKind", &self.anomaly.map(|a| a.kind))?;
        map.serialize_entry(
            "anomalySensor",
            &self
                .anomaly
                .map(|a| self.profile.sensors[a.sensor].name.as_str()),
        )?;
        map.end()
    }
}

struct LocationView(Location);

impl Serialize for LocationView {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("building", &self.0.building)?;
        map.serialize_entry("floor", &self.0.floor)?;
        map.serialize_entry("room", &self.0.room)?;
        map.end()
    }
}

struct ValuesView<'a>(&'a Profile, &'a [f64]);

impl Serialize for ValuesView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.1.len()))?;
        for (sensor, value) in self.0.sensors.iter().zip(self.1) {
            seq.serialize_element(&SensorValueView {
                name: &sensor.name,
                kind: sensor.kind.as_str(),
                value: *value,
                unit: sensor.kind.unit(),
            })?;
        }
        seq.end()
    }
}

struct SensorValueView<'a> {
    name: &'a str,
    kind: &'static str,
    value: f64,
    unit: &'static str,
}

impl Serialize for SensorValueView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("name", self.name)?;
        map.serialize_entry("type", self.kind)?;
        map.serialize_entry("value", &self.value)?;
        map.serialize_entry("unit", self.unit)?;
        map.end()
    }
}
