//! The problem a shard reports in its status entry: the worker's own failure to run the shard,
//! or what its producer's [`Health`](crate::runtime::health::Health) judges.

use k8s_openapi::jiff::Timestamp;

use super::error::WorkerError;
use crate::crd::ShardProblem;
use crate::crd::timestamps::format_time;
use crate::runtime::health::Problem;

/// A problem as the shard's status entry shows it. `since` is converted from the monotonic
/// clock by its age, so it is right to the report period.
pub fn shard_problem(problem: &Problem) -> ShardProblem {
    let age = problem.since.elapsed();
    let since = Timestamp::now()
        .checked_sub(k8s_openapi::jiff::SignedDuration::try_from(age).unwrap_or_default())
        .unwrap_or_else(|_| Timestamp::now());
    ShardProblem {
        reason: problem.cause.reason().to_owned(),
        message: problem.message.clone(),
        since: Some(format_time(since)),
    }
}

/// Why the shard cannot run, as its problem; `previous` keeps its `since` while the cause stays.
pub fn failure_problem(previous: Option<&ShardProblem>, error: &WorkerError) -> ShardProblem {
    let reason = error.cause().reason();
    let since = match previous {
        Some(p) if p.reason == reason => p.since.clone(),
        _ => Some(format_time(Timestamp::now())),
    };
    ShardProblem {
        reason: reason.to_owned(),
        message: error.to_string(),
        since,
    }
}
