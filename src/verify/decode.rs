//! Decoding messages back into readings, for verification.

use prost::Message;
use serde::Deserialize;

use crate::engine::encode::proto;
use crate::engine::plan::Encoding;

/// The fields of a reading that verification checks.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecodedReading {
    /// Device ID.
    pub device_id: String,
    /// Sequence number.
    pub seq: u64,
    /// Timestamp, Unix ms.
    pub timestamp: i64,
    /// Profile name.
    pub profile: String,
    /// Sensor values.
    pub values: Vec<DecodedValue>,
    /// Anomaly flag.
    pub anomaly: bool,
    /// Anomaly kind, if flagged.
    #[serde(default)]
    pub anomaly_kind: Option<String>,
}

/// One sensor value of a decoded reading.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct DecodedValue {
    /// Sensor name.
    pub name: String,
    /// Sensor type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Value.
    pub value: f64,
}

/// Decodes one message value.
pub fn decode(encoding: Encoding, payload: &[u8]) -> Result<DecodedReading, String> {
    match encoding {
        Encoding::Json => serde_json::from_slice(payload).map_err(|e| format!("JSON: {e}")),
        Encoding::Protobuf => {
            let m = proto::Reading::decode(payload).map_err(|e| format!("protobuf: {e}"))?;
            if m.device_id.is_empty() {
                return Err("protobuf: empty device_id".into());
            }
            Ok(DecodedReading {
                device_id: m.device_id,
                seq: m.seq,
                timestamp: m.timestamp_ms,
                profile: m.profile,
                values: m
                    .values
                    .into_iter()
                    .map(|v| DecodedValue {
                        name: v.name,
                        kind: v.r#type,
                        value: v.value,
                    })
                    .collect(),
                anomaly: m.anomaly,
                anomaly_kind: (!m.anomaly_kind.is_empty()).then_some(m.anomaly_kind),
            })
        }
    }
}
