//! Protobuf encoding with prost, reusing one message and its strings for every reading.

use prost::Message;

use crate::engine::reading::Reading;

/// Types generated from `proto/devsim.proto`.
#[allow(missing_docs)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/devsim.v1.rs"));
}

/// Encodes readings as `devsim.v1.Reading`. Keeps the last message so that its strings and
/// value list are overwritten in place instead of reallocated.
#[derive(Debug, Default)]
pub struct ProtobufEncoder {
    message: proto::Reading,
    /// Sensor entries not needed by the current reading, kept with their strings' capacity for
    /// the next reading of a profile with more sensors.
    spare_values: Vec<proto::SensorValue>,
}

impl ProtobufEncoder {
    /// Appends the reading's protobuf encoding to `out`.
    pub fn encode(&mut self, reading: &Reading<'_>, out: &mut Vec<u8>) {
        let m = &mut self.message;
        set(&mut m.device_id, reading.device_id);
        m.seq = reading.seq;
        m.timestamp_ms = reading.timestamp_ms;
        set(&mut m.simulation, reading.simulation);
        set(&mut m.profile, &reading.profile.name);
        m.location = Some(proto::Location {
            building: reading.location.building,
            floor: reading.location.floor,
            room: reading.location.room,
        });
        let sensors = &reading.profile.sensors;
        if m.values.len() > sensors.len() {
            self.spare_values.extend(m.values.drain(sensors.len()..));
        }
        while m.values.len() < sensors.len() {
            m.values.push(self.spare_values.pop().unwrap_or_default());
        }
        for ((slot, sensor), value) in m.values.iter_mut().zip(sensors).zip(reading.values) {
            set(&mut slot.name, &sensor.name);
            set(&mut slot.r#type, sensor.kind.as_str());
            slot.value = *value;
            set(&mut slot.unit, sensor.kind.unit());
        }
        m.anomaly = reading.anomaly.is_some();
        match reading.anomaly {
            Some(a) => {
                set(&mut m.anomaly_kind, a.kind);
                set(&mut m.anomaly_sensor, &sensors[a.sensor].name);
            }
            None => {
                m.anomaly_kind.clear();
                m.anomaly_sensor.clear();
            }
        }
        m.encode(out)
            .expect("a Vec grows as needed, so encoding cannot run out of room");
    }
}

#[inline]
fn set(field: &mut String, value: &str) {
    if field != value {
        field.clear();
        field.push_str(value);
    }
}
