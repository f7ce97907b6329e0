//! Whether a producer is healthy, judged from what it observes: a pure state machine, fed one
//! [`Observation`] per report, with hysteresis. A problem is raised at the first observation
//! that shows its cause (a client fault counts until a delivery succeeds after it), follows the cause while it persists (the most severe one, when there
//! are several), and clears only after [`CLEAR_AFTER`] without any cause: a condition built on
//! it neither lags behind an outage nor flaps while one lasts.

use std::time::{Duration, Instant};

/// A cause stays visible this long after the last observation that showed it.
pub const CLEAR_AFTER: Duration = Duration::from_secs(15);
/// Messages waiting with no acknowledgement for this long mean Kafka is not answering, whatever
/// the client reports (longer than the longest `linger`).
pub const STALL_AFTER: Duration = Duration::from_secs(15);
/// Readings this far behind their schedule are a backlog worth reporting.
pub const BEHIND_LIMIT: Duration = Duration::from_secs(5);

/// Why a producer is not healthy, most severe first: when several hold, the first is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// The producer cannot be created from the settings (a librdkafka property is refused).
    ProducerConfigInvalid,
    /// The shard cannot run for another reason (its spec or schedule cannot be read).
    WorkerFailed,
    /// The brokers refuse the credentials or the access (SASL, TLS, ACLs).
    AuthenticationFailed,
    /// The topic does not exist and is not created automatically.
    TopicMissing,
    /// No broker answers.
    KafkaUnreachable,
    /// Deliveries fail.
    DeliveriesFailing,
    /// Readings fall further behind their schedule (the buffer is full, or Kafka is slower
    /// than the schedule).
    BacklogGrowing,
    /// Readings are behind their schedule and catching up.
    CatchingUp,
}

impl Cause {
    /// Every cause, most severe first.
    pub const ALL: [Cause; 8] = [
        Cause::ProducerConfigInvalid,
        Cause::WorkerFailed,
        Cause::AuthenticationFailed,
        Cause::TopicMissing,
        Cause::KafkaUnreachable,
        Cause::DeliveriesFailing,
        Cause::BacklogGrowing,
        Cause::CatchingUp,
    ];

    /// The PascalCase reason shown in conditions and events.
    pub fn reason(self) -> &'static str {
        match self {
            Cause::ProducerConfigInvalid => "ProducerConfigInvalid",
            Cause::WorkerFailed => "WorkerFailed",
            Cause::AuthenticationFailed => "AuthenticationFailed",
            Cause::TopicMissing => "TopicMissing",
            Cause::KafkaUnreachable => "KafkaUnreachable",
            Cause::DeliveriesFailing => "DeliveriesFailing",
            Cause::BacklogGrowing => "BacklogGrowing",
            Cause::CatchingUp => "CatchingUp",
        }
    }

    /// The cause whose reason is `reason`, if any.
    pub fn from_reason(reason: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.reason() == reason)
    }
}

/// A problem the Kafka client reported, as the sink keeps it: the latest of each cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// What it means.
    pub cause: Cause,
    /// The client's words.
    pub message: String,
    /// When it was reported.
    pub at: Instant,
}

/// What a producer looks like at one moment.
#[derive(Clone, Copy, Debug)]
pub struct Observation<'a> {
    /// When.
    pub at: Instant,
    /// Messages failed so far.
    pub failed: u64,
    /// Messages handed over and not yet acknowledged.
    pub in_flight: u64,
    /// When the latest delivery succeeded.
    pub last_delivery: Option<Instant>,
    /// How far the oldest reading not yet produced is behind its due time.
    pub behind: Duration,
    /// Generation is held back because the buffer is full.
    pub blocked: bool,
    /// The latest fault of each cause the client reported.
    pub faults: &'a [Fault],
}

/// A problem being reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Its cause.
    pub cause: Cause,
    /// What to tell a person.
    pub message: String,
    /// When this cause was first observed (it stays while the cause does).
    pub since: Instant,
}

/// The state machine. `brokers` and `buffer` only shape the messages.
#[derive(Debug)]
pub struct Health {
    brokers: String,
    buffer_bytes: u64,
    active: Option<Problem>,
    /// The message of the last observation that showed a cause.
    last_message: Option<String>,
    /// The last observation that showed a cause.
    last_cause_at: Option<Instant>,
    previous: Option<Previous>,
    /// The first observation of the current stretch with messages in flight.
    in_flight_since: Option<Instant>,
}

#[derive(Clone, Copy, Debug)]
struct Previous {
    at: Instant,
    failed: u64,
    behind: Duration,
}

impl Health {
    /// A healthy producer to `brokers` with a buffer of `buffer_bytes`.
    pub fn new(brokers: &str, buffer_bytes: u64) -> Self {
        Self {
            brokers: brokers.to_owned(),
            buffer_bytes,
            active: None,
            last_message: None,
            last_cause_at: None,
            previous: None,
            in_flight_since: None,
        }
    }

    /// The problem being reported, if any.
    pub fn problem(&self) -> Option<&Problem> {
        self.active.as_ref()
    }

    /// Takes one observation in; returns the problem to report now.
    pub fn observe(&mut self, o: &Observation<'_>) -> Option<&Problem> {
        let previous = self.previous.unwrap_or(Previous {
            at: o.at,
            failed: o.failed,
            behind: o.behind,
        });
        self.in_flight_since = match (o.in_flight, self.in_flight_since) {
            (0, _) => None,
            (_, None) => Some(o.at),
            (_, since) => since,
        };
        let found = self.causes(o, &previous);
        self.previous = Some(Previous {
            at: o.at,
            failed: o.failed,
            behind: o.behind,
        });
        match found {
            Some((cause, message)) => {
                self.last_cause_at = Some(o.at);
                self.last_message = Some(message.clone());
                let since = match &self.active {
                    Some(p) if p.cause == cause => p.since,
                    _ => o.at,
                };
                self.active = Some(Problem {
                    cause,
                    message,
                    since,
                });
            }
            None => {
                let quiet_for = self
                    .last_cause_at
                    .map_or(CLEAR_AFTER, |t| o.at.saturating_duration_since(t));
                if quiet_for >= CLEAR_AFTER {
                    self.active = None;
                    self.last_message = None;
                } else if let (Some(p), Some(last)) = (&mut self.active, &self.last_message) {
                    // Held, not current: say so, rather than repeat a figure that is over.
                    p.message = format!(
                        "{last} (not seen for {:.0} s; clears after {} s)",
                        quiet_for.as_secs_f64(),
                        CLEAR_AFTER.as_secs()
                    );
                }
            }
        }
        self.active.as_ref()
    }

    /// The most severe cause this observation shows, with its message.
    fn causes(&self, o: &Observation<'_>, previous: &Previous) -> Option<(Cause, String)> {
        let mut found: Vec<(Cause, String)> = Vec::new();
        // First, so that it wins over a bare delivery fault of the same cause: it has the rate.
        if o.failed > previous.failed {
            let secs = o.at.saturating_duration_since(previous.at).as_secs_f64();
            let failed = o.failed - previous.failed;
            let last = o
                .faults
                .iter()
                .find(|f| f.cause == Cause::DeliveriesFailing)
                .map_or(String::new(), |f| format!(": {}", f.message));
            found.push((
                Cause::DeliveriesFailing,
                format!(
                    "{failed} deliveries failed in the last {secs:.0} s ({:.1}/s){last}",
                    failed as f64 / secs.max(1.0)
                ),
            ));
        }
        for fault in o.faults {
            // A delivery after the fault shows it is over.
            if o.last_delivery.is_none_or(|d| d < fault.at) {
                found.push((fault.cause, self.describe(fault.cause, &fault.message)));
            }
        }
        // Waiting since the later of the last acknowledgement and the start of this stretch
        // of messages in flight (after an idle hour, the last acknowledgement is old news).
        let waiting_since = match (self.in_flight_since, o.last_delivery) {
            (Some(since), Some(delivery)) => Some(since.max(delivery)),
            (since, _) => since,
        };
        let stalled = waiting_since.map_or(Duration::ZERO, |t| o.at.saturating_duration_since(t));
        if stalled >= STALL_AFTER {
            let last = o
                .faults
                .iter()
                .max_by_key(|f| f.at)
                .map_or("no error reported".to_owned(), |f| f.message.clone());
            found.push((
                Cause::KafkaUnreachable,
                format!(
                    "no acknowledgement from Kafka at {} for {:.0} s, {} message(s) waiting (last error: {last})",
                    self.brokers,
                    stalled.as_secs_f64(),
                    o.in_flight
                ),
            ));
        }
        if o.behind >= BEHIND_LIMIT {
            let behind = o.behind.as_secs_f64();
            if o.blocked || o.behind > previous.behind {
                let why = if o.blocked {
                    format!(
                        "the buffer ({} MiB) is full, so generation waits for Kafka",
                        self.buffer_bytes >> 20
                    )
                } else {
                    "the producer cannot keep up with the schedule".to_owned()
                };
                found.push((
                    Cause::BacklogGrowing,
                    format!(
                        "readings are {behind:.1} s behind schedule and falling further: {why}"
                    ),
                ));
            } else {
                found.push((
                    Cause::CatchingUp,
                    format!("readings are {behind:.1} s behind schedule, catching up"),
                ));
            }
        }
        found.into_iter().min_by_key(|(cause, _)| *cause)
    }

    fn describe(&self, cause: Cause, message: &str) -> String {
        match cause {
            Cause::KafkaUnreachable => {
                format!("cannot reach Kafka at {}: {message}", self.brokers)
            }
            Cause::AuthenticationFailed => {
                format!("Kafka at {} refuses the client: {message}", self.brokers)
            }
            Cause::TopicMissing => format!("the topic is missing: {message}"),
            _ => message.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests;
