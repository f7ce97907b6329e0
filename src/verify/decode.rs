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

/// Why a message value is not a reading.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not the JSON shape of a reading.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Not a `devsim.v1.Reading`.
    #[error("protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A protobuf message without a device ID (an empty message decodes as one).
    #[error("protobuf: empty device_id")]
    NoDeviceId,
}

/// Decodes one message value.
pub fn decode(encoding: Encoding, payload: &[u8]) -> Result<DecodedReading, DecodeError> {
    match encoding {
        Encoding::Json => Ok(serde_json::from_slice(payload)?),
        Encoding::Protobuf => {
            let m = proto::Reading::decode(payload)?;
            if m.device_id.is_empty() {
                return Err(DecodeError::NoDeviceId);
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
