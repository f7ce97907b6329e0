//! The three conditions of a simulation (Ready, Progressing, Degraded) and their transition
//! times, which move only when a condition's status does.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::{Timestamp, Unit};

use super::totals::ShardIssue;

/// What a condition should say: its status, a PascalCase reason and a message for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// True or False.
    pub status: bool,
    /// PascalCase reason.
    pub reason: Cow<'static, str>,
    /// Human-readable message.
    pub message: String,
}

impl Verdict {
    /// A condition that holds.
    pub fn yes(reason: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            status: true,
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// A condition that does not hold.
    pub fn no(reason: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            status: false,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// The Degraded condition: the problems fresh shards report (the most severe cause is the
/// reason; every shard's message is listed), or fewer ready workers than a running simulation
/// wants. Each worker keeps its problem until the cause has been gone a while, so this does not
/// flap while an outage lasts.
pub fn degraded(
    problems: &[ShardIssue],
    running: bool,
    ready_replicas: u32,
    replicas: u32,
) -> Verdict {
    // Known causes by severity; an unknown reason (a newer worker's) after them.
    let worst = problems
        .iter()
        .min_by_key(|p| p.cause.map_or(usize::MAX, |c| c as usize));
    if let Some(worst) = worst {
        let message = problems
            .iter()
            .map(|p| format!("shard {}: {}", p.shard, p.message))
            .collect::<Vec<_>>()
            .join("; ");
        Verdict::yes(worst.reason.clone(), message)
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
        reason: verdict.reason.into_owned(),
        message: verdict.message,
        observed_generation: generation,
        last_transition_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::health::Cause;

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
    fn the_most_severe_shard_problem_comes_before_missing_workers_in_degraded() {
        let issue = |shard, cause: Cause, message: &str| ShardIssue {
            shard,
            cause: Some(cause),
            reason: cause.reason().into(),
            message: message.into(),
        };
        let problems = vec![
            issue(0, Cause::CatchingUp, "12 s behind"),
            issue(1, Cause::KafkaUnreachable, "cannot reach Kafka at k:9092"),
        ];
        assert_eq!(
            degraded(&problems, true, 1, 2),
            Verdict::yes(
                "KafkaUnreachable",
                "shard 0: 12 s behind; shard 1: cannot reach Kafka at k:9092"
            )
        );
        let unknown = ShardIssue {
            cause: None,
            reason: "SomethingNew".into(),
            ..issue(2, Cause::CatchingUp, "news")
        };
        assert_eq!(
            degraded(&[unknown.clone(), problems[0].clone()], true, 2, 2).reason,
            "CatchingUp",
            "known causes rank first"
        );
        assert_eq!(degraded(&[unknown], true, 2, 2).reason, "SomethingNew");
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
