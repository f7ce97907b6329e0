//! The simulation engine: devices, sensors, schedule, sharding and encoding.
//!
//! Pure: it imports neither `kube` nor `rdkafka`, so the operator, the worker, `devsim run`,
//! tests and benchmarks all drive the same code.

pub mod device;
pub mod encode;
pub mod footprint;
pub mod layout;
pub mod plan;
pub mod reading;
pub mod rng;
pub mod schedule;
pub mod sensor;
pub mod shard;
pub mod trend;
pub mod wheel;
pub mod worker;
