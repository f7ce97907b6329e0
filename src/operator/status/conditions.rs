//! The three conditions of a simulation (Ready, Progressing, Degraded) and their transition
//! times, which move only when a condition's status does.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::{Timestamp, Unit};

/// What a condition should say: its status, a PascalCase reason and a message for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// True or False.
    pub status: bool,
    /// PascalCase reason.
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
}

impl Verdict {
    /// A condition that holds.
    pub fn yes(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: true,
            reason,
            message: message.into(),
        }
    }

    /// A condition that does not hold.
    pub fn no(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: false,
            reason,
            message: message.into(),
        }
    }
}

/// The Degraded condition: Kafka errors reported by fresh shards, or fewer ready workers than a
/// running simulation wants.
pub fn degraded(errors: &[String], running: bool, ready_replicas: u32, replicas: u32) -> Verdict {
    if !errors.is_empty() {
        Verdict::yes("KafkaErrors", errors.join("; "))
    } else if running && ready_replicas < replicas {
        Verdict::yes(
            "ReplicasUnavailable",
            format!("{ready_replicas} of {replicas} workers ready"),
        )
    } else {
        Verdict::no("Healthy", "no errors reported")
    }
}

/// The condition of `type_` in a list, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// A condition from its verdict; its transition time is kept from `previous` while the status
/// is unchanged, and is `now` (to the second, as Kubernetes writes it) when it changes.
pub fn condition(
    previous: &[Condition],
    type_: &str,
    verdict: Verdict,
    generation: Option<i64>,
    now: Timestamp,
) -> Condition {
    let status = if verdict.status { "True" } else { "False" }.to_owned();
    let last_transition_time = find(previous, type_)
        .filter(|c| c.status == status)
        .map_or_else(
            || Time(now.round(Unit::Second).unwrap_or(now)),
            |c| c.last_transition_time.clone(),
        );
    Condition {
        type_: type_.to_owned(),
        status,
        reason: verdict.reason.to_owned(),
        message: verdict.message,
        observed_generation: generation,
        last_transition_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("time")
    }

    #[test]
    fn the_transition_time_stays_while_the_status_does_and_moves_when_it_changes() {
        let before = condition(
            &[],
            "Ready",
            Verdict::no("WaitingForWorkers", "0 of 2 workers ready"),
            Some(1),
            at("2026-11-25T10:00:00.700Z"),
        );
        assert_eq!(before.last_transition_time.0, at("2026-11-25T10:00:01Z"));
        // Same status, new reason and message: the time stays.
        let still = condition(
            std::slice::from_ref(&before),
            "Ready",
            Verdict::no("WaitingForWorkers", "1 of 2 workers ready"),
            Some(2),
            at("2026-11-25T11:00:00Z"),
        );
        assert_eq!(still.last_transition_time, before.last_transition_time);
        assert_eq!(
            (still.message.as_str(), still.observed_generation),
            ("1 of 2 workers ready", Some(2))
        );
        // New status: the time moves.
        let ready = condition(
            &[still],
            "Ready",
            Verdict::yes("AllShardsReady", "2 of 2 workers ready"),
            Some(2),
            at("2026-11-25T12:00:00Z"),
        );
        assert_eq!(
            (ready.status.as_str(), ready.last_transition_time.0),
            ("True", at("2026-11-25T12:00:00Z"))
        );
    }

    #[test]
    fn kafka_errors_come_before_missing_workers_in_degraded() {
        let errors = vec![
            "shard 0: broker down".to_owned(),
            "shard 1: timed out".to_owned(),
        ];
        assert_eq!(
            degraded(&errors, true, 1, 2),
            Verdict::yes("KafkaErrors", "shard 0: broker down; shard 1: timed out")
        );
        assert_eq!(
            degraded(&[], true, 1, 2),
            Verdict::yes("ReplicasUnavailable", "1 of 2 workers ready")
        );
        assert_eq!(
            degraded(&[], false, 0, 2).reason,
            "Healthy",
            "not running: nothing missing"
        );
        assert_eq!(degraded(&[], true, 2, 2).reason, "Healthy");
    }

    #[test]
    fn another_type_does_not_lend_its_time() {
        let degraded = condition(
            &[],
            "Degraded",
            Verdict::no("Healthy", ""),
            None,
            at("2026-11-25T10:00:00Z"),
        );
        let ready = condition(
            &[degraded],
            "Ready",
            Verdict::no("WaitingForWorkers", ""),
            None,
            at("2026-11-25T12:00:00Z"),
        );
        assert_eq!(ready.last_transition_time.0, at("2026-11-25T12:00:00Z"));
    }
}
