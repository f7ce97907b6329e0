use super::*;

const BROKERS: &str = "k1:9092,k2:9092";

/// A producer observed at `secs` after a fixed origin: everything delivered up to `delivered_at`,
/// nothing behind, nothing in flight, no faults.
struct At {
    origin: Instant,
}

impl At {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    fn t(&self, secs: f64) -> Instant {
        self.origin + Duration::from_secs_f64(secs)
    }

    fn flowing(&self, secs: f64) -> Observation<'static> {
        Observation {
            at: self.t(secs),
            failed: 0,
            in_flight: 10,
            last_delivery: Some(self.t((secs - 0.01).max(0.0))),
            behind: Duration::ZERO,
            blocked: false,
            faults: &[],
        }
    }

    fn fault(&self, cause: Cause, message: &str, secs: f64) -> Fault {
        Fault {
            cause,
            message: message.to_owned(),
            at: self.t(secs),
        }
    }
}

#[test]
fn deliveries_flowing_are_healthy() {
    let at = At::new();
    let mut health = Health::new(BROKERS, 32 << 20);
    for s in 0..60 {
        assert_eq!(health.observe(&at.flowing(f64::from(s))), None);
    }
}

/// A broker killed at 10 s and back at 70 s; the producer is blocked meanwhile, and catches up
/// by 80 s.
#[test]
fn an_outage_is_reported_at_once_stays_while_it_lasts_and_clears_after_the_catch_up() {
    let at = At::new();
    let mut health = Health::new(BROKERS, 32 << 20);
    let refused = [at.fault(
        Cause::KafkaUnreachable,
        "Connect to 127.0.0.1:9092 failed: Connection refused",
        10.2,
    )];
    for s in 0..=10 {
        health.observe(&at.flowing(f64::from(s)));
    }
    let last_delivery = Some(at.t(10.1));
    let mut first_reported = None;
    // During the outage: the fault is never repeated (librdkafka suppresses identical errors),
    // deliveries stop, the buffer fills and generation blocks.
    for tenth in 105..700 {
        let secs = f64::from(tenth) / 10.0;
        let behind = Duration::from_secs_f64((secs - 20.0).max(0.0));
        let o = Observation {
            at: at.t(secs),
            failed: 0,
            in_flight: 50_000,
            last_delivery,
            behind,
            blocked: secs > 20.0,
            faults: &refused,
        };
        let problem = health.observe(&o).cloned();
        let problem = problem.unwrap_or_else(|| panic!("healthy at {secs} s during the outage"));
        assert_eq!(problem.cause, Cause::KafkaUnreachable, "at {secs} s");
        first_reported.get_or_insert(secs);
        assert!(
            problem.message.contains(BROKERS) && problem.message.contains("Connection refused"),
            "{}",
            problem.message
        );
        assert_eq!(problem.since, at.t(10.5), "the problem keeps its start");
    }
    assert_eq!(
        first_reported,
        Some(10.5),
        "reported at the first observation"
    );
    // Back at 70 s: deliveries succeed again, the backlog (49.5 s) drains; it is under the
    // 5 s limit from 79 s on, so 78 s is the last observation with a cause.
    for s in 70..80 {
        let secs = f64::from(s);
        let o = Observation {
            at: at.t(secs),
            failed: 0,
            in_flight: 50_000,
            last_delivery: Some(at.t(secs - 0.1)),
            behind: Duration::from_secs_f64(49.5 - (secs - 70.0) * 5.0),
            blocked: false,
            faults: &refused,
        };
        let problem = health.observe(&o).map(|p| p.cause);
        assert_eq!(problem, Some(Cause::CatchingUp), "at {s} s");
    }
    // Caught up: still reported for CLEAR_AFTER after the last cause, saying it is over, then
    // healthy.
    for s in 80..120 {
        let problem = health.observe(&at.flowing(f64::from(s))).cloned();
        let quiet = f64::from(s) - 78.0;
        if quiet < CLEAR_AFTER.as_secs_f64() {
            let problem = problem.unwrap_or_else(|| panic!("cleared early, at {s} s"));
            assert_eq!(problem.cause, Cause::CatchingUp, "at {s} s");
            assert!(
                problem
                    .message
                    .ends_with(&format!("(not seen for {quiet:.0} s; clears after 15 s)")),
                "{}",
                problem.message
            );
        } else {
            assert_eq!(problem, None, "at {s} s");
        }
    }
}

#[test]
fn waiting_without_any_fault_is_an_outage_once_it_lasts() {
    let at = At::new();
    let mut health = Health::new(BROKERS, 32 << 20);
    health.observe(&at.flowing(0.0));
    let silent = |secs: f64| Observation {
        at: at.t(secs),
        failed: 0,
        in_flight: 100,
        last_delivery: Some(at.t(0.0)),
        behind: Duration::ZERO,
        blocked: false,
        faults: &[],
    };
    for s in 1..15 {
        assert_eq!(health.observe(&silent(f64::from(s))), None, "{s} s");
    }
    let problem = health.observe(&silent(15.0)).cloned().expect("stalled");
    assert_eq!(problem.cause, Cause::KafkaUnreachable);
    assert!(
        problem.message.contains("no acknowledgement") && problem.message.contains("100 message"),
        "{}",
        problem.message
    );
}

#[test]
fn the_first_message_after_an_idle_hour_is_not_a_stall() {
    let at = At::new();
    let mut health = Health::new(BROKERS, 32 << 20);
    let idle = Observation {
        in_flight: 0,
        last_delivery: Some(at.t(0.0)),
        ..at.flowing(3600.0)
    };
    health.observe(&idle);
    let waiting = |secs: f64| Observation {
        in_flight: 1,
        last_delivery: Some(at.t(0.0)),
        ..at.flowing(secs)
    };
    assert_eq!(health.observe(&waiting(3601.0)), None);
    assert_eq!(health.observe(&waiting(3610.0)), None);
    assert_eq!(
        health.observe(&waiting(3616.0)).map(|p| p.cause),
        Some(Cause::KafkaUnreachable)
    );
}

#[test]
fn the_most_severe_cause_is_reported() {
    let at = At::new();
    let mut health = Health::new(BROKERS, 32 << 20);
    let faults = [
        at.fault(Cause::KafkaUnreachable, "all brokers down", 1.0),
        at.fault(
            Cause::AuthenticationFailed,
            "SASL authentication error: Authentication failed",
            1.5,
        ),
    ];
    let o = Observation {
        at: at.t(2.0),
        failed: 0,
        in_flight: 1,
        last_delivery: None,
        behind: Duration::from_secs(6),
        blocked: true,
        faults: &faults,
    };
    let problem = health.observe(&o).cloned().expect("a problem");
    assert_eq!(problem.cause, Cause::AuthenticationFailed);
    assert!(
        problem.message.contains("refuses the client"),
        "{}",
        problem.message
    );
}

#[test]
fn failing_deliveries_are_reported_with_their_rate() {
    let at = At::new();
    let mut health = Health::new(BROKERS, 32 << 20);
    health.observe(&at.flowing(0.0));
    let faults = [at.fault(
        Cause::DeliveriesFailing,
        "Broker: Message size too large",
        1.0,
    )];
    let o = Observation {
        failed: 40,
        faults: &faults,
        last_delivery: Some(at.t(1.5)),
        ..at.flowing(2.0)
    };
    let problem = health.observe(&o).cloned().expect("a problem");
    assert_eq!(problem.cause, Cause::DeliveriesFailing);
    assert_eq!(
        problem.message,
        "40 deliveries failed in the last 2 s (20.0/s): Broker: Message size too large"
    );
}

#[test]
fn a_backlog_grows_while_blocked_and_is_caught_up_once_it_shrinks() {
    let at = At::new();
    let mut health = Health::new(BROKERS, 32 << 20);
    let behind = |secs: f64, behind: f64, blocked: bool| Observation {
        behind: Duration::from_secs_f64(behind),
        blocked,
        ..at.flowing(secs)
    };
    assert_eq!(
        health.observe(&behind(0.0, 4.9, true)),
        None,
        "under the limit"
    );
    let growing = health
        .observe(&behind(1.0, 5.5, true))
        .cloned()
        .expect("backlog");
    assert_eq!(growing.cause, Cause::BacklogGrowing);
    assert!(growing.message.contains("32 MiB"), "{}", growing.message);
    assert_eq!(
        health.observe(&behind(2.0, 6.5, false)).map(|p| p.cause),
        Some(Cause::BacklogGrowing),
        "slower than the schedule without blocking"
    );
    assert_eq!(
        health.observe(&behind(3.0, 6.0, false)).map(|p| p.cause),
        Some(Cause::CatchingUp)
    );
}

#[test]
fn every_reason_maps_back_to_its_cause() {
    for cause in Cause::ALL {
        assert_eq!(Cause::from_reason(cause.reason()), Some(cause));
    }
    assert_eq!(Cause::from_reason("Healthy"), None);
    let mut sorted = Cause::ALL;
    sorted.sort();
    assert_eq!(sorted, Cause::ALL, "ALL lists the causes most severe first");
}
