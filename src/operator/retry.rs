//! When a failed reconcile is tried again, by the error's category: a conflict at once, a
//! transient failure (API server unreachable, 5xx, throttled) with exponential backoff, and a
//! request the API server refuses (4xx) or an object that cannot be reconciled with a slow
//! backoff until the object changes (kube-runtime reconciles again on any change anyway).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::runtime::reflector::ObjectRef;

use crate::crd::DeviceSimulation;

/// First delay after a transient failure; doubled on each further one.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest delay between two tries of a transient failure.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Delay after a write lost to a concurrent one (409): the next read sees the winner.
pub const AFTER_CONFLICT: Duration = Duration::from_millis(500);

/// How an error category is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryPolicy {
    /// Try again after a short, fixed delay.
    Soon(Duration),
    /// Try again with exponential backoff from [`FIRST_BACKOFF`] to [`MAX_BACKOFF`].
    Backoff,
    /// Do not try again until the object changes.
    AwaitChange,
}

/// The policy of an error category (see [`super::error::Error::category`]).
pub fn policy(category: &str) -> RetryPolicy {
    match category {
        "conflict" => RetryPolicy::Soon(AFTER_CONFLICT),
        // Nothing a retry can fix: the object itself is broken, or devsim has a bug.
        "invalid_object" | "serialize" => RetryPolicy::AwaitChange,
        // Unreachable, 5xx, throttled, refused: may pass (an outage, a missing RBAC rule that an
        // admin adds, a quota freed), so keep trying, ever more slowly.
        _ => RetryPolicy::Backoff,
    }
}

/// The delay before try number `failures + 1` under exponential backoff.
pub fn backoff(failures: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(
            1u32.checked_shl(failures.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .min(MAX_BACKOFF)
}

/// Consecutive failures of each simulation, reset by a successful reconcile.
#[derive(Debug, Default)]
pub struct FailureCounts {
    // A std Mutex: it is never held across an await.
    counts: Mutex<HashMap<ObjectRef<DeviceSimulation>, u32>>,
}

impl FailureCounts {
    /// Records a failure of `sim`; returns how many in a row it has now had.
    pub fn failed(&self, sim: ObjectRef<DeviceSimulation>) -> u32 {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(sim).or_default();
        *n = n.saturating_add(1);
        *n
    }

    /// Forgets the failures of `sim` after it reconciled.
    pub fn succeeded(&self, sim: &ObjectRef<DeviceSimulation>) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.remove(sim);
    }
}

/// The delay before `sim` is reconciled again after an error of `category`; None: wait for a
/// change.
pub fn retry_after(
    failures: &FailureCounts,
    sim: ObjectRef<DeviceSimulation>,
    category: &str,
) -> Option<Duration> {
    match policy(category) {
        RetryPolicy::Soon(delay) => Some(delay),
        RetryPolicy::Backoff => Some(backoff(failures.failed(sim))),
        RetryPolicy::AwaitChange => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim(name: &str) -> ObjectRef<DeviceSimulation> {
        ObjectRef::new(name).within("iot")
    }

    #[test]
    fn backoff_doubles_from_one_second_up_to_five_minutes() {
        let delays: Vec<u64> = (1..=11).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(
            backoff(u32::MAX),
            MAX_BACKOFF,
            "no overflow, however long it fails"
        );
    }

    #[test]
    fn categories_map_to_policies() {
        assert_eq!(policy("conflict"), RetryPolicy::Soon(AFTER_CONFLICT));
        for transient in ["api_unreachable", "api_error", "not_found", "rejected"] {
            assert_eq!(policy(transient), RetryPolicy::Backoff, "{transient}");
        }
        for hopeless in ["invalid_object", "serialize"] {
            assert_eq!(policy(hopeless), RetryPolicy::AwaitChange, "{hopeless}");
        }
    }

    #[test]
    fn each_simulation_backs_off_on_its_own_and_success_resets_it() {
        let failures = FailureCounts::default();
        let delays: Vec<_> = (0..3)
            .map(|_| retry_after(&failures, sim("a"), "api_unreachable"))
            .collect();
        assert_eq!(
            delays,
            [
                Some(Duration::from_secs(1)),
                Some(Duration::from_secs(2)),
                Some(Duration::from_secs(4))
            ]
        );
        assert_eq!(
            retry_after(&failures, sim("b"), "api_error"),
            Some(Duration::from_secs(1))
        );
        failures.succeeded(&sim("a"));
        assert_eq!(
            retry_after(&failures, sim("a"), "api_error"),
            Some(Duration::from_secs(1))
        );
        // Conflicts and broken objects do not count towards the backoff.
        assert_eq!(
            retry_after(&failures, sim("c"), "conflict"),
            Some(AFTER_CONFLICT)
        );
        assert_eq!(retry_after(&failures, sim("c"), "invalid_object"), None);
        assert_eq!(
            retry_after(&failures, sim("c"), "api_error"),
            Some(Duration::from_secs(1))
        );
    }
}
