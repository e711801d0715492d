//! Which producer errors a retry may cure and which it never will.

use rdkafka::error::{KafkaError, RDKafkaErrorCode as Code};

use crate::error::RequestError;

/// Maps a producer error for a record to the client-facing error.
pub fn classify(error: &KafkaError, topic: &str, partition: Option<i32>) -> RequestError {
    let detail = error.to_string();
    match error.rdkafka_error_code() {
        Some(Code::QueueFull) => RequestError::QueueFull(
            "librdkafka's queue is at queue.buffering.max.messages or .max.kbytes".into(),
        ),
        Some(Code::MessageTimedOut | Code::RequestTimedOut) => RequestError::KafkaTimeout(detail),
        Some(Code::MessageSizeTooLarge | Code::InvalidMessageSize) => {
            RequestError::RecordTooLarge(detail)
        }
        Some(Code::UnknownTopicOrPartition | Code::UnknownTopic) if partition.is_none() => {
            RequestError::TopicNotFound(topic.to_owned())
        }
        Some(Code::UnknownPartition | Code::UnknownTopicOrPartition) => {
            RequestError::PartitionNotFound {
                topic: topic.to_owned(),
                partition: partition.unwrap_or(-1),
            }
        }
        Some(
            Code::AllBrokersDown
            | Code::BrokerTransportFailure
            | Code::LeaderNotAvailable
            | Code::NotLeaderForPartition
            | Code::NotEnoughReplicas
            | Code::NotEnoughReplicasAfterAppend
            | Code::NetworkException
            | Code::PurgeQueue
            | Code::PurgeInflight,
        ) => RequestError::KafkaUnavailable(detail),
        _ => RequestError::KafkaRejected(detail),
    }
}

/// True for errors that say Kafka is unreachable or too slow, which a later attempt may cure;
/// false for refusals that will repeat (too large, unknown topic, not authorized...).
pub fn is_retriable(error: &RequestError) -> bool {
    matches!(
        error,
        RequestError::KafkaUnavailable(_)
            | RequestError::KafkaTimeout(_)
            | RequestError::QueueFull(_)
            | RequestError::CircuitOpen { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_and_transient_errors_differ() {
        let e = |c| KafkaError::MessageProduction(c);
        assert_eq!(
            classify(&e(Code::QueueFull), "t", None).code(),
            "queue_full"
        );
        assert_eq!(
            classify(&e(Code::MessageTimedOut), "t", None).code(),
            "kafka_timeout"
        );
        assert_eq!(
            classify(&e(Code::MessageSizeTooLarge), "t", None).code(),
            "record_too_large"
        );
        assert_eq!(
            classify(&e(Code::UnknownTopic), "t", None).code(),
            "topic_not_found"
        );
        assert_eq!(
            classify(&e(Code::UnknownPartition), "t", Some(9)).code(),
            "partition_not_found"
        );
        assert_eq!(
            classify(&e(Code::TopicAuthorizationFailed), "t", None).code(),
            "kafka_rejected"
        );
    }
}
