//! `devsim verify`: proves a topic holds every device's stream once, in order, in one partition.

mod checker;
mod consume;
mod decode;

pub use checker::{Ranges, StreamChecker, VerifyReport};
pub use consume::{ConsumeError, StopAt, consume_topic};
pub use decode::{DecodedReading, DecodedValue, decode};
