//! What `devsim run` and `devsim bench` share: reading the simulation file, and the checks
//! before producing (does it fit this machine's memory, may the embedded Kafka serve it, are
//! the brokers reachable).

use std::time::Duration;

use super::{EXIT_FAILED, EXIT_INVALID};
use crate::config;
use crate::engine::footprint::{bytes_per_device, format_bytes, process_bytes};
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

/// Refuses to start `devices` devices of `plan` when they would not fit the memory this
/// process can have (the machine's available memory, or its cgroup's limit if lower): better
/// a clear refusal than the kernel's OOM killer half-way through the build.
pub(super) fn check_memory(
    plan: &SimulationPlan,
    kafka: &KafkaPlan,
    devices: u64,
) -> Result<(), u8> {
    let needed = process_bytes(plan, devices, kafka.buffer_memory);
    let Some(available) = available_memory() else {
        return Ok(());
    };
    if needed <= available {
        return Ok(());
    }
    Err(fail(
        EXIT_FAILED,
        format!(
            "spec.devices: {devices} devices here need about {} ({} bytes each, plus the process \
             and its {} producer queue), more than the {} this machine has available; run one \
             replica's share with --shard, or fewer devices",
            format_bytes(needed),
            bytes_per_device(plan),
            format_bytes(kafka.buffer_memory),
            format_bytes(available),
        ),
    ))
}

/// Bytes this process may still take: `MemAvailable`, capped by a cgroup v2 limit.
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let available = meminfo_bytes(&meminfo, "MemAvailable:")?;
    let cgroup_room = || {
        let read = |file: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/{file}")).ok();
        let max: u64 = read("memory.max")?.trim().parse().ok()?;
        let current: u64 = read("memory.current")?.trim().parse().ok()?;
        Some(max.saturating_sub(current))
    };
    Some(cgroup_room().map_or(available, |room| room.min(available)))
}

/// A `/proc/meminfo` figure (given in kB) in bytes.
fn meminfo_bytes(meminfo: &str, field: &str) -> Option<u64> {
    let kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_figures_are_read_in_bytes() {
        let meminfo = "MemTotal:       24610304 kB\nMemFree:        20000000 kB\nMemAvailable:   23000000 kB\n";
        assert_eq!(
            meminfo_bytes(meminfo, "MemAvailable:"),
            Some(23_000_000 * 1024)
        );
        assert_eq!(meminfo_bytes(meminfo, "SwapTotal:"), None);
    }

    #[test]
    fn this_machine_reports_some_memory_available() {
        let available = available_memory().expect("Linux has /proc/meminfo");
        assert!(available > 64 << 20, "{available}");
    }
}
