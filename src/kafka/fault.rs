//! What a librdkafka error means for the simulation: which [`Cause`] it shows, if any.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::runtime::health::Cause;

/// The cause a client error (from librdkafka's error callback, with its `reason`) shows;
/// `None` for errors that say nothing about Kafka's health on their own.
pub fn client_error_cause(error: &KafkaError, reason: &str) -> Option<Cause> {
    let cause = error.rdkafka_error_code().and_then(code_cause);
    // A TLS refusal after the handshake began (TLS 1.3 sends "certificate required" once the
    // client has finished, so the client learns of it on its next read) comes as a transport
    // failure: OpenSSL's words say what it is.
    if cause == Some(Cause::KafkaUnreachable) && is_tls_refusal(reason) {
        return Some(Cause::AuthenticationFailed);
    }
    cause
}

/// Whether librdkafka's reason is OpenSSL refusing or being refused.
fn is_tls_refusal(reason: &str) -> bool {
    ["SSL routines", "SSL handshake failed", "SSL alert"]
        .iter()
        .any(|words| reason.contains(words))
}

/// The cause a failed delivery shows: a specific one when the code tells, else
/// [`Cause::DeliveriesFailing`].
pub fn delivery_error_cause(error: &KafkaError) -> Cause {
    match error.rdkafka_error_code().and_then(code_cause) {
        Some(cause @ (Cause::AuthenticationFailed | Cause::TopicMissing)) => cause,
        _ => Cause::DeliveriesFailing,
    }
}

/// Why a message failed, as the bounded `reason` label of `devsim_messages_failed_total`: what
/// a Kafka operator would do about it differs by reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailReason {
    /// No acknowledgement in time (brokers unreachable or too slow).
    TimedOut,
    /// The message or its batch exceeds what the broker or topic accepts.
    TooLarge,
    /// The credentials or the ACLs do not allow producing.
    NotAuthorized,
    /// The topic or partition does not exist.
    UnknownTopic,
    /// Too few in-sync replicas for `acks=all`.
    NotEnoughReplicas,
    /// Still unacknowledged when the producer stopped and its flush ran out of time.
    Unflushed,
    /// Anything else (the delivery log line and the status name the error).
    Other,
}

impl FailReason {
    /// Every reason, in the order of their counters.
    pub const ALL: [FailReason; 7] = [
        FailReason::TimedOut,
        FailReason::TooLarge,
        FailReason::NotAuthorized,
        FailReason::UnknownTopic,
        FailReason::NotEnoughReplicas,
        FailReason::Unflushed,
        FailReason::Other,
    ];

    /// The reason of a failed delivery or refused message.
    pub fn of(error: &KafkaError) -> Self {
        use RDKafkaErrorCode as C;
        match error.rdkafka_error_code() {
            Some(C::MessageTimedOut | C::RequestTimedOut) => Self::TimedOut,
            Some(C::MessageSizeTooLarge | C::MessageBatchTooLarge | C::InvalidMessageSize) => {
                Self::TooLarge
            }
            Some(
                C::TopicAuthorizationFailed
                | C::ClusterAuthorizationFailed
                | C::Authentication
                | C::SaslAuthenticationFailed
                | C::SSL,
            ) => Self::NotAuthorized,
            Some(C::UnknownTopic | C::UnknownTopicOrPartition | C::UnknownPartition) => {
                Self::UnknownTopic
            }
            Some(C::NotEnoughReplicas | C::NotEnoughReplicasAfterAppend) => Self::NotEnoughReplicas,
            _ => Self::Other,
        }
    }

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::TimedOut => "timed_out",
            Self::TooLarge => "too_large",
            Self::NotAuthorized => "not_authorized",
            Self::UnknownTopic => "unknown_topic",
            Self::NotEnoughReplicas => "not_enough_replicas",
            Self::Unflushed => "unflushed",
            Self::Other => "other",
        }
    }

    /// The position of this reason in [`Self::ALL`].
    pub fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|r| *r == self)
            .expect("ALL lists every reason")
    }
}

fn code_cause(code: RDKafkaErrorCode) -> Option<Cause> {
    use RDKafkaErrorCode as C;
    match code {
        C::AllBrokersDown | C::BrokerTransportFailure | C::Resolve | C::BrokerNotAvailable => {
            Some(Cause::KafkaUnreachable)
        }
        C::Authentication
        | C::SaslAuthenticationFailed
        | C::SSL
        | C::TopicAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::UnsupportedSASLMechanism
        | C::IllegalSASLState => Some(Cause::AuthenticationFailed),
        C::UnknownTopic | C::UnknownTopicOrPartition | C::UnknownPartition => {
            Some(Cause::TopicMissing)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_refusal_that_arrives_as_a_transport_failure_is_an_authentication_failure() {
        let transport = KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure);
        assert_eq!(
            client_error_cause(
                &transport,
                "ssl://127.0.0.1:9093/bootstrap: Receive failed: error:0A00045C:SSL routines::tlsv13 alert certificate required: SSL alert number 116"
            ),
            Some(Cause::AuthenticationFailed)
        );
        assert_eq!(
            client_error_cause(
                &transport,
                "ssl://127.0.0.1:9093/bootstrap: Connect to ipv4#127.0.0.1:9093 failed: Connection refused"
            ),
            Some(Cause::KafkaUnreachable)
        );
    }

    #[test]
    fn connection_authentication_and_topic_errors_have_their_own_causes() {
        let client = |code| client_error_cause(&KafkaError::Global(code), "");
        assert_eq!(
            client(RDKafkaErrorCode::AllBrokersDown),
            Some(Cause::KafkaUnreachable)
        );
        assert_eq!(
            client(RDKafkaErrorCode::BrokerTransportFailure),
            Some(Cause::KafkaUnreachable)
        );
        assert_eq!(
            client(RDKafkaErrorCode::SaslAuthenticationFailed),
            Some(Cause::AuthenticationFailed)
        );
        assert_eq!(
            client(RDKafkaErrorCode::SSL),
            Some(Cause::AuthenticationFailed)
        );
        assert_eq!(
            client(RDKafkaErrorCode::UnknownTopicOrPartition),
            Some(Cause::TopicMissing)
        );
        assert_eq!(client(RDKafkaErrorCode::MessageSizeTooLarge), None);
    }

    #[test]
    fn failure_reasons_are_few_and_name_what_an_operator_would_fix() {
        let reason = |code| FailReason::of(&KafkaError::MessageProduction(code));
        assert_eq!(
            reason(RDKafkaErrorCode::MessageTimedOut),
            FailReason::TimedOut
        );
        assert_eq!(
            reason(RDKafkaErrorCode::MessageSizeTooLarge),
            FailReason::TooLarge
        );
        assert_eq!(
            reason(RDKafkaErrorCode::TopicAuthorizationFailed),
            FailReason::NotAuthorized
        );
        assert_eq!(
            reason(RDKafkaErrorCode::UnknownTopicOrPartition),
            FailReason::UnknownTopic
        );
        assert_eq!(
            reason(RDKafkaErrorCode::NotEnoughReplicas),
            FailReason::NotEnoughReplicas
        );
        assert_eq!(reason(RDKafkaErrorCode::InvalidRecord), FailReason::Other);
        let labels: std::collections::BTreeSet<_> =
            FailReason::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), FailReason::ALL.len(), "labels are distinct");
        for (i, r) in FailReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
    }

    #[test]
    fn a_failed_delivery_is_specific_when_it_can_be() {
        let delivery = |code| delivery_error_cause(&KafkaError::MessageProduction(code));
        assert_eq!(
            delivery(RDKafkaErrorCode::TopicAuthorizationFailed),
            Cause::AuthenticationFailed
        );
        assert_eq!(
            delivery(RDKafkaErrorCode::UnknownTopic),
            Cause::TopicMissing
        );
        assert_eq!(
            delivery(RDKafkaErrorCode::MessageSizeTooLarge),
            Cause::DeliveriesFailing
        );
        // A delivery that failed because no broker answered is a failed delivery all the same.
        assert_eq!(
            delivery(RDKafkaErrorCode::MessageTimedOut),
            Cause::DeliveriesFailing
        );
    }
}
