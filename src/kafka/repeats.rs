//! librdkafka reports a broker that is down on every reconnect attempt, through two callbacks
//! at once: hundreds of identical lines a minute. Each distinct problem is logged once, then at
//! most once a period with the number of repeats in between.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a problem that keeps happening is logged again.
pub const REPEAT_PERIOD: Duration = Duration::from_secs(30);

/// Whether to write a log line for one more occurrence of a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Log it: the first time, or the first time in a period with nothing held back.
    Log,
    /// Log it, saying it happened this many more times since the last line.
    LogAfter(u64),
    /// Do not log it; it is counted for the next line.
    Hold,
}

/// Decides, per problem key, which occurrences are logged. Keys are error kinds or librdkafka
/// log facilities: a small, bounded set.
#[derive(Debug)]
pub struct RepeatLimiter {
    period: Duration,
    // A std Mutex: held for a map lookup only, never across an await.
    seen: Mutex<HashMap<String, (Instant, u64)>>,
}

impl RepeatLimiter {
    /// A limiter that logs each problem at most once per `period`.
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            seen: Mutex::default(),
        }
    }

    /// Records one occurrence of `key` at `now`.
    pub fn occur(&self, key: &str, now: Instant) -> Repeat {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let Some((last, held)) = seen.get_mut(key) else {
            seen.insert(key.to_owned(), (now, 0));
            return Repeat::Log;
        };
        if now.saturating_duration_since(*last) < self.period {
            *held += 1;
            return Repeat::Hold;
        }
        let repeats = std::mem::take(held);
        *last = now;
        if repeats == 0 {
            Repeat::Log
        } else {
            Repeat::LogAfter(repeats)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_is_logged_once_then_once_a_period_with_its_count() {
        let limiter = RepeatLimiter::new(Duration::from_secs(30));
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(limiter.occur("AllBrokersDown", at(0)), Repeat::Log);
        // A reconnect attempt every 100 ms for 30 s: all held back.
        let held = (1..300)
            .filter(|i| limiter.occur("AllBrokersDown", at(i * 100)) == Repeat::Hold)
            .count();
        assert_eq!(held, 299);
        assert_eq!(
            limiter.occur("AllBrokersDown", at(30_000)),
            Repeat::LogAfter(299)
        );
        // Another problem is its own.
        assert_eq!(
            limiter.occur("BrokerTransportFailure", at(30_001)),
            Repeat::Log
        );
        // Quiet for a period, then once more: logged plainly.
        assert_eq!(limiter.occur("AllBrokersDown", at(90_000)), Repeat::Log);
    }
}
