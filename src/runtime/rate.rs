//! `spec.maxMessagesPerSecond`: a token bucket per producer task, each holding its share of the
//! global cap. The bucket holds at most a tenth of a second of tokens, so a task that was idle
//! cannot burst far above the cap afterwards.

use std::time::{Duration, Instant};

/// A token bucket of `per_second` messages per second. Time is passed in, so the bucket is
/// tested on a controlled clock.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// A limiter of `per_second` messages per second, empty now.
    pub fn new(per_second: f64) -> Self {
        Self {
            per_second,
            tokens: 0.0,
            last: Instant::now(),
        }
    }

    /// Refills the bucket up to `now`; returns how many whole messages may go.
    pub fn available(&mut self, now: Instant) -> usize {
        let burst = (self.per_second / 10.0).max(1.0);
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(burst);
        self.last = now;
        self.tokens as usize
    }

    /// Takes `n` messages out of the bucket (it may go below zero: the debt is paid first).
    pub fn spend(&mut self, n: u64) {
        self.tokens -= n as f64;
    }

    /// How long until one more message may go.
    pub fn wait_for_one(&self) -> Duration {
        Duration::from_secs_f64(((1.0 - self.tokens) / self.per_second).max(0.000_1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a task that sends everything it may every `step` for `run`; returns what it sent.
    fn sent_over(per_second: f64, step: Duration, run: Duration) -> u64 {
        let mut limiter = RateLimiter::new(per_second);
        let start = limiter.last;
        let mut sent = 0;
        let mut t = Duration::ZERO;
        while t < run {
            t += step;
            let n = limiter.available(start + t) as u64;
            limiter.spend(n);
            sent += n;
        }
        sent
    }

    #[test]
    fn a_greedy_task_is_held_to_the_cap_whatever_its_poll_period() {
        for (per_second, step_ms) in [(1000.0, 1), (1000.0, 7), (250.0, 50), (40_000.0, 3)] {
            let sent = sent_over(
                per_second,
                Duration::from_millis(step_ms),
                Duration::from_secs(10),
            );
            let expected = per_second * 10.0;
            let error = (sent as f64 - expected).abs() / expected;
            assert!(
                error < 0.01,
                "{per_second}/s polled every {step_ms} ms: sent {sent}, expected {expected}"
            );
        }
    }

    #[test]
    fn an_idle_task_bursts_at_most_a_tenth_of_a_second() {
        let mut limiter = RateLimiter::new(1000.0);
        let start = limiter.last;
        assert_eq!(limiter.available(start), 0, "a new bucket is empty");
        assert_eq!(limiter.available(start + Duration::from_secs(60)), 100);
        // A slow cap still lets one message through.
        let mut slow = RateLimiter::new(2.0);
        let start = slow.last;
        assert_eq!(slow.available(start + Duration::from_secs(60)), 1);
    }

    #[test]
    fn the_wait_for_the_next_message_follows_the_rate_and_any_debt() {
        let mut limiter = RateLimiter::new(100.0);
        let start = limiter.last;
        assert_eq!(limiter.available(start), 0);
        assert_eq!(limiter.wait_for_one(), Duration::from_millis(10));
        limiter.spend(4); // Overspent by a batch: four more periods to wait.
        assert_eq!(limiter.wait_for_one(), Duration::from_millis(50));
        assert_eq!(limiter.available(start + Duration::from_millis(50)), 1);
    }
}
