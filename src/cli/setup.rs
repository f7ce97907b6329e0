//! What `devsim run` and `devsim bench` share: reading the simulation file, and the checks
//! before producing (may the embedded Kafka serve it, are the brokers reachable).

use std::time::Duration;

use super::{EXIT_FAILED, EXIT_INVALID};
use crate::config;
use crate::engine::plan::{KafkaPlan, SimulationPlan};
use crate::kafka::KafkaSink;

/// Reads and validates a simulation file; an `Err` is the exit code, the problem printed.
pub(super) fn read_simulation(file: &std::path::Path) -> Result<(SimulationPlan, KafkaPlan), u8> {
    let sim = config::load_file(file)
        .and_then(|sim| config::validate(&sim))
        .map_err(|e| {
            fail(
                EXIT_INVALID,
                format!("{}: invalid simulation:\n{e}", file.display()),
            )
        })?;
    Ok((sim.plan, sim.kafka))
}

/// Prints an error and gives the exit code to return.
pub(super) fn fail(code: u8, message: String) -> u8 {
    eprintln!("error: {message}");
    code
}

/// Refuses a secured simulation without brokers: the embedded Kafka speaks PLAINTEXT only.
pub(super) fn embedded_can_serve(kafka: &KafkaPlan) -> Result<(), u8> {
    if kafka.security.protocol == "plaintext" {
        return Ok(());
    }
    Err(fail(
        EXIT_INVALID,
        "spec.kafka.security: the embedded Kafka speaks PLAINTEXT only; give --brokers or \
         spec.kafka.bootstrapServers to reach a secured Kafka"
            .into(),
    ))
}

/// Asks `brokers` for the topic's metadata through `sink`; an `Err` is the exit code, the
/// reason printed: librdkafka's words for refused credentials or TLS, else unreachable.
pub(super) fn check_reachable(sink: &KafkaSink, brokers: &str) -> Result<(), u8> {
    sink.check_reachable(Duration::from_secs(10))
        .map(|_| ())
        .map_err(|e| match sink.refusal() {
            Some(reason) => fail(
                EXIT_FAILED,
                format!("Kafka at {brokers} refused the connection: {reason}"),
            ),
            None => fail(
                EXIT_FAILED,
                format!("Kafka at {brokers} is unreachable: {e}"),
            ),
        })
}
