//! What a librdkafka error means for the simulation: which [`Cause`] it shows, if any.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::runtime::health::Cause;

/// The cause a client error (from librdkafka's error callback) shows; `None` for errors that
/// say nothing about Kafka's health on their own.
pub fn client_error_cause(error: &KafkaError) -> Option<Cause> {
    error.rdkafka_error_code().and_then(code_cause)
}

/// The cause a failed delivery shows: a specific one when the code tells, else
/// [`Cause::DeliveriesFailing`].
pub fn delivery_error_cause(error: &KafkaError) -> Cause {
    match error.rdkafka_error_code().and_then(code_cause) {
        Some(cause @ (Cause::AuthenticationFailed | Cause::TopicMissing)) => cause,
        _ => Cause::DeliveriesFailing,
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
    fn connection_authentication_and_topic_errors_have_their_own_causes() {
        let client = |code| client_error_cause(&KafkaError::Global(code));
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
