//! Message encodings. Each encoder writes into a caller-owned buffer that is reused for every
//! message, so encoding allocates nothing once the buffer has grown to fit.

mod json;
mod json_serde;
mod protobuf;

pub use json::JsonEncoder;
pub use protobuf::{ProtobufEncoder, proto};

use super::plan::Encoding;
use super::reading::Reading;

/// Turns readings into message values.
#[derive(Debug)]
pub enum Encoder {
    /// JSON objects.
    Json(JsonEncoder),
    /// `devsim.v1.Reading` protobuf messages.
    Protobuf(Box<ProtobufEncoder>),
}

impl Encoder {
    /// An encoder for the given format.
    pub fn new(encoding: Encoding) -> Self {
        match encoding {
            Encoding::Json => Self::Json(JsonEncoder),
            Encoding::Protobuf => Self::Protobuf(Box::default()),
        }
    }

    /// Replaces the contents of `out` with the encoded reading.
    #[inline]
    pub fn encode(&mut self, reading: &Reading<'_>, out: &mut Vec<u8>) {
        out.clear();
        match self {
            Self::Json(e) => e.encode(reading, out),
            Self::Protobuf(e) => e.encode(reading, out),
        }
    }
}
