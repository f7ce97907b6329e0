//! The totals step: the simulation's figures are the retired ones plus every shard entry's.
//! Entries of shards that are gone for good are pruned into `retired`, in one guarded patch, so
//! no figure is counted twice or lost; the message rate sums the entries that are fresh.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::signed;
use crate::crd::timestamps::parse_time;
use crate::crd::{ShardStatus, Totals};
use crate::runtime::health::Cause;

/// A shard's figures older than this no longer count towards the message rate.
pub const RATE_FRESHNESS: Duration = Duration::from_secs(30);

/// A shard entry not updated for this long belongs to a worker that died without a final report.
pub const STALE_AFTER: Duration = Duration::from_secs(60);

/// The shard entries, summed up.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShardFold {
    /// Retired figures plus every entry's.
    pub totals: Totals,
    /// Indices of entries to prune: beyond the shard count, and stopped or silent.
    pub prune: Vec<u32>,
    /// `retired` once the entries in `prune` are gone.
    pub retired_after_prune: Totals,
    /// Messages per second of the fresh entries, to one decimal.
    pub messages_per_second: f64,
    /// The problem of every fresh entry that reports one, in shard order.
    pub problems: Vec<ShardIssue>,
}

/// One shard's problem, as the Degraded condition reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardIssue {
    /// The shard's index.
    pub shard: u32,
    /// Its cause; `None` for a reason this operator does not know (a newer worker's).
    pub cause: Option<Cause>,
    /// The reason as reported.
    pub reason: String,
    /// What the worker says.
    pub message: String,
}

/// Sums `shards` onto `retired`. Entries at or beyond `keep_below` whose worker has stopped or
/// gone silent are pruned; rates and errors count only while `counting` (the phase is Running).
pub fn fold_shards(
    shards: &[ShardStatus],
    retired: Totals,
    keep_below: u32,
    counting: bool,
    now: Timestamp,
) -> ShardFold {
    let mut fold = ShardFold {
        totals: retired.clone(),
        retired_after_prune: retired,
        ..ShardFold::default()
    };
    let mut rate = 0.0;
    for shard in shards {
        fold.totals.add(&shard.totals);
        let gone = shard.stopped || !updated_within(shard, now, STALE_AFTER);
        if shard.index >= keep_below && gone {
            fold.prune.push(shard.index);
            fold.retired_after_prune.add(&shard.totals);
            continue;
        }
        if counting && updated_within(shard, now, RATE_FRESHNESS) {
            rate += shard.messages_per_second;
            if let Some(p) = &shard.problem {
                fold.problems.push(ShardIssue {
                    shard: shard.index,
                    cause: Cause::from_reason(&p.reason),
                    reason: p.reason.clone(),
                    message: p.message.clone(),
                });
            }
        }
    }
    fold.messages_per_second = (rate * 10.0).round() / 10.0;
    fold
}

fn updated_within(shard: &ShardStatus, now: Timestamp, within: Duration) -> bool {
    parse_time(shard.updated.as_deref()).is_some_and(|t| now.duration_since(t) <= signed(within))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const NOW: &str = "2026-11-25T12:00:00Z";

    /// A shard entry of 2 with `sent` messages, all delivered, reporting 50.04 msg/s.
    pub fn shard(index: u32, sent: u64, stopped: bool, updated: &str) -> ShardStatus {
        ShardStatus {
            index,
            shard_count: 2,
            totals: Totals {
                messages_sent: sent,
                messages_delivered: sent,
                ..Totals::default()
            },
            messages_per_second: 50.04,
            stopped,
            updated: Some(updated.into()),
            ..ShardStatus::default()
        }
    }

    fn sent(n: u64) -> Totals {
        Totals {
            messages_sent: n,
            messages_delivered: n,
            ..Totals::default()
        }
    }

    fn fold(shards: &[ShardStatus], keep_below: u32) -> ShardFold {
        fold_shards(
            shards,
            sent(10),
            keep_below,
            true,
            NOW.parse().expect("time"),
        )
    }

    #[test]
    fn totals_are_retired_plus_every_entry_and_the_rate_sums_fresh_entries() {
        let f = fold(
            &[
                shard(0, 100, false, "2026-11-25T11:59:58Z"),
                shard(1, 200, false, "2026-11-25T11:59:58Z"),
            ],
            2,
        );
        assert_eq!(f.totals.messages_sent, 310);
        assert_eq!(f.messages_per_second, 100.1, "rounded to one decimal");
        assert!(f.prune.is_empty());
    }

    #[test]
    fn stopped_or_silent_entries_beyond_the_count_are_pruned_into_retired_once() {
        let f = fold(
            &[
                shard(0, 100, false, "2026-11-25T11:59:58Z"),
                shard(2, 50, true, "2026-11-25T11:59:58Z"),
                shard(3, 70, false, "2026-11-25T11:59:58Z"),
                shard(4, 20, false, "2026-11-25T11:58:00Z"),
            ],
            2,
        );
        assert_eq!(
            f.prune,
            vec![2, 4],
            "shard 3 still reports; shard 4 has been silent 2 min"
        );
        assert_eq!(f.retired_after_prune.messages_sent, 10 + 50 + 20);
        // Until the prune lands, the totals still count every entry exactly once.
        assert_eq!(f.totals.messages_sent, 10 + 100 + 50 + 70 + 20);
    }

    #[test]
    fn a_stopped_entry_within_the_count_is_kept_for_its_restarted_worker() {
        let f = fold(&[shard(1, 100, true, "2026-11-25T11:59:58Z")], 2);
        assert!(f.prune.is_empty());
    }

    #[test]
    fn stale_figures_and_problems_do_not_count_towards_rate_and_problems() {
        let problem = |reason: &str, message: &str| {
            Some(crate::crd::ShardProblem {
                reason: reason.into(),
                message: message.into(),
                since: None,
            })
        };
        let mut stale = shard(0, 100, false, "2026-11-25T11:59:00Z");
        stale.problem = problem("KafkaUnreachable", "broker down");
        let mut fresh = shard(1, 100, false, "2026-11-25T11:59:59Z");
        fresh.problem = problem("DeliveriesFailing", "timed out");
        let f = fold(&[stale, fresh], 2);
        assert_eq!(f.messages_per_second, 50.0);
        assert_eq!(
            f.problems,
            vec![ShardIssue {
                shard: 1,
                cause: Some(Cause::DeliveriesFailing),
                reason: "DeliveriesFailing".into(),
                message: "timed out".into(),
            }]
        );
    }

    #[test]
    fn nothing_is_counted_towards_the_rate_unless_asked() {
        let f = fold_shards(
            &[shard(0, 100, false, "2026-11-25T11:59:59Z")],
            Totals::default(),
            1,
            false,
            NOW.parse().expect("time"),
        );
        assert_eq!((f.messages_per_second, f.totals.messages_sent), (0.0, 100));
    }
}
