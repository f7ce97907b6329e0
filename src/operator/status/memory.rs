//! The MemoryFits condition: whether each worker's share of the devices, with its producer
//! queue, fits the memory limit its pod gets. A worker that does not fit will be OOM-killed and
//! restarted; the condition and a Warning event say so before it happens, and what would fit.
//! The workers are still started (the real-node OOM scenario proves what the kubelet then
//! reports); holding them back is the next step once it is tested on the real node.

use super::conditions::Verdict;
use crate::crd::DeviceSimulation;
use crate::crd::quantity::parse_quantity;
use crate::engine::footprint::{
    bytes_per_device, devices_per_shard_bound, format_bytes, replicas_for_limit, worker_bytes,
};
use crate::engine::plan::SimulationPlan;

/// Where a worker's memory limit comes from, as the condition names it.
const LIMIT_FIELD: &str = "spec.workerResources.limits.memory";

/// The verdict for `sim`, whose validated plan is `plan`, when each worker's limit is `limit`
/// bytes (`None`: no limit).
pub fn memory_fits(sim: &DeviceSimulation, plan: &SimulationPlan, limit: Option<f64>) -> Verdict {
    // Validated with the plan; the default if it were not.
    let queue = parse_quantity(&sim.spec.kafka.buffer_memory).map_or(32 << 20, |b| b as u64);
    let needed = worker_bytes(plan, queue);
    let share = format!(
        "each of {} replica(s) holds up to {} devices ({} bytes each): about {} with its {} \
         producer queue",
        plan.replicas.max(1),
        devices_per_shard_bound(plan.devices, plan.replicas),
        bytes_per_device(plan),
        format_bytes(needed),
        format_bytes(queue),
    );
    let Some(limit) = limit else {
        return Verdict::yes(
            "NoLimit",
            format!("{share}; no memory limit is set ({LIMIT_FIELD}), so none is checked"),
        );
    };
    // A quantity may be fractional or absurdly large; bytes are whole and fit a u64.
    let limit = limit.max(0.0).min(u64::MAX as f64) as u64;
    if needed <= limit {
        return Verdict::yes(
            "WithinLimit",
            format!("{share}, within the {} limit", format_bytes(limit)),
        );
    }
    let remedy = match replicas_for_limit(plan, queue, limit) {
        Some(replicas) => format!(
            "set spec.replicas to at least {replicas}, or the limit to at least {}",
            format_bytes(needed)
        ),
        None => format!(
            "not even one device per replica fits: raise the limit to at least {}",
            format_bytes(needed)
        ),
    };
    Verdict::no(
        "ShardExceedsMemoryLimit",
        format!(
            "{share}, more than the {} limit ({LIMIT_FIELD}): expect the workers to be \
             killed for want of memory; {remedy}",
            format_bytes(limit)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::validate;
    use crate::operator::status::tests::sim;

    fn plan(spec: &str) -> SimulationPlan {
        validate(&sim(spec, None)).expect("valid fixture").plan
    }

    /// A plan of `devices` on `replicas` with the default single-sensor profiles.
    fn fleet(devices: u32, replicas: u32) -> SimulationPlan {
        let mut plan = plan("");
        plan.devices = devices;
        plan.replicas = replicas;
        plan
    }

    /// The verdict for the fixture's simulation (its default 32 MiB queue) with `plan`.
    fn verdict(plan: &SimulationPlan, limit: Option<f64>) -> Verdict {
        memory_fits(&sim("", None), plan, limit)
    }

    #[test]
    fn without_a_limit_it_holds_and_gives_the_estimate() {
        let v = verdict(&fleet(10_000_000, 2), None);
        assert!(v.status);
        assert_eq!(v.reason, "NoLimit");
        assert!(v.message.contains("each of 2 replica(s)"), "{}", v.message);
        assert!(v.message.contains(LIMIT_FIELD), "{}", v.message);
    }

    #[test]
    fn a_shard_too_large_for_its_limit_is_refused_with_what_would_fit() {
        // 1 B devices on 10 replicas: ~100 M devices a replica, over 400 MB of state; a 128Mi
        // limit cannot hold it.
        let plan = fleet(1_000_000_000, 10);
        let v = verdict(&plan, Some(128.0 * 1024.0 * 1024.0));
        assert!(!v.status);
        assert_eq!(v.reason, "ShardExceedsMemoryLimit");
        let at_least: u32 = v
            .message
            .split("spec.replicas to at least ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no replica count in: {}", v.message));
        // What it proposes fits, and one replica fewer does not.
        let limit = 128 * 1024 * 1024;
        let mut proposed = plan.clone();
        proposed.replicas = at_least;
        assert!(worker_bytes(&proposed, 32 << 20) <= limit);
        proposed.replicas = at_least - 1;
        assert!(worker_bytes(&proposed, 32 << 20) > limit);
        // And it is a sensible figure: state beyond ~80 MiB of process and queue, per replica.
        let room = (limit - PROCESS_AND_QUEUE) as f64;
        let expected = (1e9 * bytes_per_device(&plan) as f64 / room).ceil() as u32;
        assert!(
            (expected..=expected + 2).contains(&at_least),
            "{at_least} vs {expected}"
        );
    }

    /// The fixture's process allowance plus its default 32 MiB queue.
    const PROCESS_AND_QUEUE: u64 = crate::engine::footprint::PROCESS_BYTES + (32 << 20);

    #[test]
    fn a_shard_within_its_limit_holds() {
        let v = verdict(&fleet(1_000_000, 4), Some(256.0 * 1024.0 * 1024.0));
        assert!(v.status, "{}", v.message);
        assert_eq!(v.reason, "WithinLimit");
        assert!(
            v.message.contains("within the 256 MiB limit"),
            "{}",
            v.message
        );
    }

    #[test]
    fn a_limit_below_the_process_itself_says_no_replica_count_helps() {
        let v = verdict(&fleet(1_000, 1), Some(16.0 * 1024.0 * 1024.0));
        assert!(!v.status);
        assert!(v.message.contains("not even one device"), "{}", v.message);
    }

    #[test]
    fn more_sensors_cost_more_per_device() {
        let one = fleet(1_000, 1);
        let four = plan(
            "  profiles:\n    - name: p\n      sensors:\n        - type: temperature\n        - type: humidity\n        - type: pressure\n        - type: current\n",
        );
        assert_eq!(bytes_per_device(&four), bytes_per_device(&one) + 12);
    }
}
