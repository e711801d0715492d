//! REST Proxy's error codes, `{"error_code": 40401, "message": "…"}`: the HTTP status times
//! 100 plus a number, on REST Proxy paths only (the routes keep Wafka's shape;
//! `server::dialect` renders both). The codes are Confluent's (`io.confluent.kafkarest.Errors`);
//! errors it has no code for get the bare status (`400`, `415`), as REST Proxy's generic
//! answers do, and answers made by filters the status times 100 plus 1 (`40101`, `40301`), as
//! Kafka's own authentication failures.

use http::StatusCode;

use crate::error::RequestError;

/// The HTTP status and REST Proxy `error_code` for `error`. v3 says 40403 for an unknown
/// topic (Kafka's `UnknownTopicOrPartition`), v2 40401.
pub fn code(error: &RequestError, v3: bool) -> (StatusCode, u32) {
    let kafka = StatusCode::INTERNAL_SERVER_ERROR;
    match error {
        RequestError::TopicNotFound(_) if v3 => (StatusCode::NOT_FOUND, 40403),
        RequestError::TopicNotFound(_) => (StatusCode::NOT_FOUND, 40401),
        RequestError::PartitionNotFound { .. } => (StatusCode::NOT_FOUND, 40402),
        RequestError::ConsumerNotFound { .. } => (StatusCode::NOT_FOUND, 40403),
        RequestError::ConsumerState(_) => (StatusCode::CONFLICT, 40903),
        RequestError::ConsumerExists { .. } => (StatusCode::CONFLICT, 40902),
        RequestError::SchemaMissing { key: true } => (StatusCode::UNPROCESSABLE_ENTITY, 42201),
        RequestError::SchemaMissing { key: false } => (StatusCode::UNPROCESSABLE_ENTITY, 42202),
        RequestError::NoSchemaRegistry(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42206),
        RequestError::InvalidData(_) | RequestError::SchemaMismatch { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, 42203)
        }
        RequestError::SchemaNotFound(_) => (StatusCode::NOT_FOUND, 40403),
        RequestError::SchemaIdNotFound(_) => (StatusCode::UNPROCESSABLE_ENTITY, 40403),
        // Not a produce request, or no records: REST Proxy's validation answers 422.
        RequestError::InvalidBatch(_) if !v3 => (StatusCode::UNPROCESSABLE_ENTITY, 422),
        RequestError::NotAcceptable(_) => (StatusCode::NOT_ACCEPTABLE, 40601),
        RequestError::KafkaBadRequest(_) => (StatusCode::BAD_REQUEST, 40002),
        RequestError::InvalidParameter(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42204),
        RequestError::Forbidden(_) => (StatusCode::FORBIDDEN, 40301),
        RequestError::TooManyConsumers { .. } => (StatusCode::TOO_MANY_REQUESTS, 42901),
        RequestError::KafkaRejected(_) | RequestError::RecordTooLarge(_) => (kafka, 50002),
        RequestError::KafkaUnavailable(_)
        | RequestError::KafkaTimeout(_)
        | RequestError::QueueFull(_)
        | RequestError::CircuitOpen { .. } => (kafka, 50003),
        // Errors REST Proxy has no code for: the status, as its generic answers say it.
        other => (other.status(), u32::from(other.status().as_u16())),
    }
}

/// A per-record error code in a v2 produce answer: 50003 when a retry may succeed, else
/// 50002 (Kafka errors), or the error's own code.
pub fn record_code(error: &RequestError) -> u32 {
    match error {
        e if crate::kafka::is_retriable(e) => 50003,
        e => code(e, false).1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_status_times_a_hundred_plus_confluents_number() {
        let topic = RequestError::TopicNotFound("t".into());
        assert_eq!(code(&topic, false), (StatusCode::NOT_FOUND, 40401));
        assert_eq!(code(&topic, true), (StatusCode::NOT_FOUND, 40403));
        let retriable = RequestError::KafkaUnavailable("down".into());
        assert_eq!(code(&retriable, false).1, 50003);
        assert_eq!(record_code(&retriable), 50003);
        assert_eq!(
            record_code(&RequestError::KafkaRejected("no".into())),
            50002
        );
        let too_large = RequestError::BodyTooLarge { limit: 1 };
        assert_eq!(
            code(&too_large, false),
            (StatusCode::PAYLOAD_TOO_LARGE, 413)
        );
        let key = RequestError::SchemaMissing { key: true };
        assert_eq!(code(&key, false).1, 42201);
    }
}
