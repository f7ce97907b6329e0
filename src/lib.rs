//! devsim: a Kubernetes operator and engine that streams simulated industrial IoT sensor
//! readings into Apache Kafka.
//!
//! # Layout
//! - [`crd`]: the `DeviceSimulation` custom resource, the single source of truth for a spec.
//! - [`config`]: loading a simulation file and validating it into plans, errors naming fields.
//! - [`engine`]: devices, sensors, schedule, sharding, encoding; pure (no `kube`, no `rdkafka`).
//! - [`runtime`]: drives the engine in real time on Tokio behind a `MessageSink` trait.
//! - [`kafka`]: the rdkafka producer sink and the embedded mock cluster (no `kube`).
//! - [`verify`]: consumes a topic and proves every device's stream is complete and unduplicated.
//! - [`metrics`]: Prometheus metrics and the `/metrics`, `/healthz`, `/readyz` endpoints.
//! - [`operator`]: the kube-runtime controller: StatefulSet, Service, status, events, lease.
//! - [`worker`]: one shard in a worker pod: hand-off on re-shard, its own status entry.
//! - [`shutdown`]: the one shutdown signal: the first SIGTERM/Ctrl-C drains, a second aborts.
//! - [`cli`]: the `devsim` subcommands; `main.rs` only dispatches to them.

#![forbid(unsafe_code)]

pub mod bench;
pub mod cli;
pub mod config;
pub mod crd;
pub mod engine;
pub mod kafka;
pub mod metrics;
pub mod operator;
pub mod runtime;
pub mod shutdown;
pub mod verify;
pub mod worker;
