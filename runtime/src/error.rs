//! Every way a request can fail: its status, stable code, who is to blame and whether a retry
//! can help. How each API shapes the answer is `server::dialect`'s.

use http::StatusCode;

/// Who caused a failure: decides the log level and the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The client sent something we refuse.
    Client,
    /// A filter failed or misbehaved.
    Filter,
    /// Kafka refused, failed or was unreachable.
    Kafka,
    /// A bug or resource problem in the gateway itself.
    Internal,
}

impl Blame {
    /// Label value for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Blame::Client => "client",
            Blame::Filter => "filter",
            Blame::Kafka => "kafka",
            Blame::Internal => "internal",
        }
    }
}

/// A failed request. The `code()` strings are part of the API: clients may match on them.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    /// No route has this path.
    #[error("no route matches {path}")]
    RouteNotFound {
        /// The request path.
        path: String,
    },
    /// A route has this path but not this method.
    #[error("method {method} is not allowed here; allowed: {}", allowed.join(", "))]
    MethodNotAllowed {
        /// The request method.
        method: String,
        /// Methods the path accepts.
        allowed: Vec<String>,
    },
    /// The body is over `server.max_body_bytes`.
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: u64,
    },
    /// The request URI is over `server.max_uri_bytes`.
    #[error("request URI is longer than the limit of {limit} bytes")]
    UriTooLong {
        /// The limit.
        limit: usize,
    },
    /// The client did not send the whole request within `server.request_timeout_ms`.
    #[error("the request body did not arrive within {timeout_ms} ms")]
    RequestTimeout {
        /// The limit.
        timeout_ms: u64,
    },
    /// A multi-record body is malformed.
    #[error("invalid batch: {0}")]
    InvalidBatch(String),
    /// A multi-record body holds more than `server.max_records` records.
    #[error("the batch holds more than {limit} records")]
    TooManyRecords {
        /// The limit.
        limit: usize,
    },
    /// The request could not be read or understood.
    #[error("{0}")]
    BadRequest(String),
    /// A query parameter of a read route is unknown or malformed.
    #[error("{0}")]
    InvalidParameter(String),
    /// A position (`from`, `Last-Event-ID`, a commit) cannot be used.
    #[error("{0}")]
    InvalidPosition(String),
    /// The route's filters let no record through for a read: nothing to read.
    #[error("the route's filters allowed no topic to be read")]
    ReadRefused,
    /// A read route or the gateway has as many streams or fetches as it allows.
    #[error("{0}")]
    TooManyReaders(String),
    /// A filter trapped (panicked, hit `unreachable`, ran out of memory...).
    #[error("filter {filter} failed: {reason}")]
    FilterFailed {
        /// Filter name.
        filter: String,
        /// The trap message.
        reason: String,
    },
    /// A filter ran past its time and was stopped.
    #[error("filter {filter} ran for more than {timeout_ms} ms")]
    FilterTimeout {
        /// Filter name.
        filter: String,
        /// The time it had.
        timeout_ms: u64,
    },
    /// A filter returned something the gateway cannot use (bad status, bad topic...).
    #[error("filter {filter} returned invalid output: {reason}")]
    FilterInvalidOutput {
        /// Filter name.
        filter: String,
        /// What was wrong.
        reason: String,
    },
    /// A filter tried to create more records or record data than the limits allow.
    #[error("filter {filter} produced too much: {reason}")]
    FilterOutputTooLarge {
        /// Filter name.
        filter: String,
        /// Which limit.
        reason: String,
    },
    /// Every filter instance slot is busy: back off and retry.
    #[error("the gateway is at its limit of concurrent filter instances")]
    Overloaded,
    /// The records in flight are at their bound, or librdkafka's queue is full: back off and
    /// retry.
    #[error("the gateway's producer queue is full: {0}")]
    QueueFull(String),
    /// The circuit breaker is open: Kafka failed recently, so the gateway fails fast.
    #[error("Kafka is unavailable (circuit breaker open): {reason}")]
    CircuitOpen {
        /// Why the breaker opened.
        reason: String,
        /// When to retry: the breaker's cool-down.
        retry_after_secs: u32,
    },
    /// The spool is at `spool.max_bytes`.
    #[error("the spool is full: {0}")]
    SpoolFull(String),
    /// Writing to the spool failed (disk error).
    #[error("the spool failed: {0}")]
    SpoolFailed(String),
    /// No broker could take the record.
    #[error("Kafka is unavailable: {0}")]
    KafkaUnavailable(String),
    /// The record was not acknowledged within the delivery timeout.
    #[error("Kafka did not acknowledge the record in time: {0}")]
    KafkaTimeout(String),
    /// The record is larger than Kafka accepts.
    #[error("record is too large for Kafka: {0}")]
    RecordTooLarge(String),
    /// The topic does not exist.
    #[error("topic {0:?} does not exist")]
    TopicNotFound(String),
    /// The explicit partition does not exist.
    #[error("partition {partition} of topic {topic:?} does not exist")]
    PartitionNotFound {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
    },
    /// Kafka refused the record for a reason a retry will not fix.
    #[error("Kafka refused the record: {0}")]
    KafkaRejected(String),
    /// The client asked for an answer format this endpoint cannot give (`Accept`).
    #[error("{0}")]
    NotAcceptable(String),
    /// The body's `Content-Type` is not one this endpoint reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Well-formed, but a value cannot become what it must (bad base64, a key for a
    /// format that has none...).
    #[error("{0}")]
    InvalidData(String),
    /// The format needs a schema (Avro, Protobuf, JSON Schema) and the request has none for
    /// its keys (`key`) or values.
    #[error("the request has {} but no {} schema", if *key { "keys" } else { "values" }, if *key { "key" } else { "value" })]
    SchemaMissing {
        /// Keys, or values.
        key: bool,
    },
    /// A value (or key) does not fit its route's schema; each problem names the record and
    /// the place in it.
    #[error("the records do not fit their schema: {}", problems.join("; "))]
    SchemaMismatch {
        /// What is wrong, e.g. `records[0].value/qty: "x" is not of type "integer"`.
        problems: Vec<String>,
    },
    /// The subject a route encodes with has no schema in the registry.
    #[error("no schema is registered under subject {0:?}")]
    SchemaNotFound(String),
    /// A request names a schema id the registry does not have.
    #[error("Schema {0} not found")]
    SchemaIdNotFound(u32),
    /// The external registry could not be asked for a schema the gateway does not keep.
    #[error("the schema registry is unavailable: {0}")]
    SchemaRegistryUnavailable(String),
    /// The format needs a schema registry, which this gateway does not have.
    #[error(
        "Schema Registry must be configured when using schemas ({0}); this gateway has none: send BINARY, JSON or STRING"
    )]
    NoSchemaRegistry(String),
    /// Kafka refused an administrative request as invalid (topic exists, bad partition count…).
    #[error("Kafka refused the request: {0}")]
    KafkaBadRequest(String),
    /// No consumer instance has this group and name (REST Proxy API).
    #[error("consumer instance {instance:?} of group {group:?} not found")]
    ConsumerNotFound {
        /// Its group.
        group: String,
        /// Its name.
        instance: String,
    },
    /// A consumer instance with this name already exists in the group.
    #[error("consumer instance {instance:?} already exists in group {group:?}")]
    ConsumerExists {
        /// Its group.
        group: String,
        /// Its name.
        instance: String,
    },
    /// The consumer instance cannot do this in its state (assign while subscribed...).
    #[error("{0}")]
    ConsumerState(String),
    /// The gateway holds as many consumer instances as `rest_proxy.max_consumers` allows.
    #[error("the gateway holds its limit of {limit} consumer instances")]
    TooManyConsumers {
        /// The limit.
        limit: usize,
    },
    /// What the request names does not exist (a cluster id…).
    #[error("{0}")]
    NotFound(String),
    /// The request is well-formed but not allowed by the gateway's config.
    #[error("{0}")]
    Forbidden(String),
    /// The operation is not available here (on this broker, in this build).
    #[error("{0}")]
    NotSupported(String),
    /// The schema registry refused the call, in Confluent's terms.
    #[error("{message}")]
    Registry {
        /// Stable code, e.g. `subject_not_found`.
        code: &'static str,
        /// HTTP status.
        status: u16,
        /// Confluent's `error_code`, e.g. 40401.
        registry_code: u32,
        /// Confluent's wording.
        message: String,
    },
    /// `Idempotency-Key` refused (missing, malformed, in flight, reused with another
    /// request, keys full or unavailable): docs/delivery.md.
    #[error("{message}")]
    Idempotency {
        /// Stable code, e.g. `idempotency_key_in_flight`.
        code: &'static str,
        /// HTTP status.
        status: u16,
        /// What to do about it.
        message: String,
    },
    /// Something broke inside the gateway.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Seconds a client should wait before retrying a 503.
const RETRY_AFTER_SECS: u32 = 1;

impl RequestError {
    /// Stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::RouteNotFound { .. } => "route_not_found",
            RequestError::MethodNotAllowed { .. } => "method_not_allowed",
            RequestError::BodyTooLarge { .. } => "body_too_large",
            RequestError::UriTooLong { .. } => "uri_too_long",
            RequestError::RequestTimeout { .. } => "request_timeout",
            RequestError::BadRequest(_) => "bad_request",
            RequestError::InvalidParameter(_) => "invalid_parameter",
            RequestError::InvalidPosition(_) => "invalid_position",
            RequestError::ReadRefused => "read_refused",
            RequestError::TooManyReaders(_) => "too_many_readers",
            RequestError::InvalidBatch(_) => "invalid_batch",
            RequestError::TooManyRecords { .. } => "too_many_records",
            RequestError::FilterFailed { .. } => "filter_failed",
            RequestError::FilterTimeout { .. } => "filter_timeout",
            RequestError::FilterInvalidOutput { .. } => "filter_invalid_output",
            RequestError::FilterOutputTooLarge { .. } => "filter_output_too_large",
            RequestError::Overloaded => "overloaded",
            RequestError::QueueFull(_) => "queue_full",
            RequestError::CircuitOpen { .. } => "kafka_unavailable",
            RequestError::SpoolFull(_) => "spool_full",
            RequestError::SpoolFailed(_) => "spool_failed",
            RequestError::KafkaUnavailable(_) => "kafka_unavailable",
            RequestError::KafkaTimeout(_) => "kafka_timeout",
            RequestError::RecordTooLarge(_) => "record_too_large",
            RequestError::TopicNotFound(_) => "topic_not_found",
            RequestError::PartitionNotFound { .. } => "partition_not_found",
            RequestError::KafkaRejected(_) => "kafka_rejected",
            RequestError::NotAcceptable(_) => "not_acceptable",
            RequestError::UnsupportedMediaType(_) => "unsupported_media_type",
            RequestError::InvalidData(_) => "invalid_data",
            RequestError::SchemaMissing { .. } => "schema_missing",
            RequestError::SchemaMismatch { .. } => "schema_mismatch",
            RequestError::SchemaNotFound(_) | RequestError::SchemaIdNotFound(_) => {
                "schema_not_found"
            }
            RequestError::SchemaRegistryUnavailable(_) => "schema_registry_unavailable",
            RequestError::NoSchemaRegistry(_) => "no_schema_registry",
            RequestError::KafkaBadRequest(_) => "kafka_bad_request",
            RequestError::ConsumerNotFound { .. } => "consumer_not_found",
            RequestError::ConsumerExists { .. } => "consumer_exists",
            RequestError::ConsumerState(_) => "consumer_state",
            RequestError::TooManyConsumers { .. } => "too_many_consumers",
            RequestError::NotFound(_) => "not_found",
            RequestError::Forbidden(_) => "forbidden",
            RequestError::NotSupported(_) => "not_supported",
            RequestError::Registry { code, .. } | RequestError::Idempotency { code, .. } => code,
            RequestError::Internal(_) => "internal",
        }
    }

    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            RequestError::RouteNotFound { .. } => StatusCode::NOT_FOUND,
            RequestError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            RequestError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            RequestError::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            RequestError::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            RequestError::BadRequest(_)
            | RequestError::InvalidBatch(_)
            | RequestError::InvalidParameter(_)
            | RequestError::InvalidPosition(_) => StatusCode::BAD_REQUEST,
            RequestError::ReadRefused => StatusCode::FORBIDDEN,
            RequestError::TooManyReaders(_) => StatusCode::SERVICE_UNAVAILABLE,
            RequestError::TooManyRecords { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            RequestError::FilterFailed { .. }
            | RequestError::FilterInvalidOutput { .. }
            | RequestError::FilterOutputTooLarge { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            RequestError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            RequestError::FilterTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            RequestError::QueueFull(_)
            | RequestError::CircuitOpen { .. }
            | RequestError::SpoolFull(_)
            | RequestError::KafkaUnavailable(_)
            | RequestError::KafkaTimeout(_)
            | RequestError::SchemaRegistryUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            RequestError::SpoolFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
            RequestError::RecordTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            RequestError::TopicNotFound(_) | RequestError::PartitionNotFound { .. } => {
                StatusCode::NOT_FOUND
            }
            RequestError::KafkaRejected(_) => StatusCode::BAD_GATEWAY,
            RequestError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            RequestError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RequestError::InvalidData(_)
            | RequestError::SchemaMissing { .. }
            | RequestError::SchemaMismatch { .. }
            | RequestError::SchemaNotFound(_)
            | RequestError::SchemaIdNotFound(_)
            | RequestError::NoSchemaRegistry(_) => StatusCode::UNPROCESSABLE_ENTITY,
            RequestError::KafkaBadRequest(_) => StatusCode::BAD_REQUEST,
            RequestError::ConsumerNotFound { .. } => StatusCode::NOT_FOUND,
            RequestError::ConsumerExists { .. } | RequestError::ConsumerState(_) => {
                StatusCode::CONFLICT
            }
            RequestError::TooManyConsumers { .. } => StatusCode::TOO_MANY_REQUESTS,
            RequestError::NotFound(_) => StatusCode::NOT_FOUND,
            RequestError::Forbidden(_) => StatusCode::FORBIDDEN,
            RequestError::NotSupported(_) => StatusCode::NOT_IMPLEMENTED,
            RequestError::Registry { status, .. } | RequestError::Idempotency { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            RequestError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Who is at fault.
    pub fn blame(&self) -> Blame {
        match self {
            RequestError::RouteNotFound { .. }
            | RequestError::MethodNotAllowed { .. }
            | RequestError::BodyTooLarge { .. }
            | RequestError::UriTooLong { .. }
            | RequestError::RequestTimeout { .. }
            | RequestError::InvalidBatch(_)
            | RequestError::TooManyRecords { .. }
            | RequestError::BadRequest(_)
            | RequestError::InvalidParameter(_)
            | RequestError::InvalidPosition(_)
            | RequestError::NotAcceptable(_)
            | RequestError::UnsupportedMediaType(_)
            | RequestError::InvalidData(_)
            | RequestError::SchemaMissing { .. }
            | RequestError::SchemaMismatch { .. }
            | RequestError::SchemaNotFound(_)
            | RequestError::SchemaIdNotFound(_)
            | RequestError::NoSchemaRegistry(_)
            | RequestError::KafkaBadRequest(_)
            | RequestError::ConsumerNotFound { .. }
            | RequestError::ConsumerExists { .. }
            | RequestError::ConsumerState(_)
            | RequestError::Forbidden(_)
            | RequestError::NotFound(_)
            | RequestError::NotSupported(_) => Blame::Client,
            RequestError::TooManyConsumers { .. } => Blame::Internal,
            RequestError::ReadRefused => Blame::Filter,
            RequestError::TooManyReaders(_) => Blame::Internal,
            RequestError::FilterFailed { .. }
            | RequestError::FilterTimeout { .. }
            | RequestError::FilterInvalidOutput { .. }
            | RequestError::FilterOutputTooLarge { .. } => Blame::Filter,
            RequestError::Overloaded
            | RequestError::SpoolFull(_)
            | RequestError::SpoolFailed(_)
            | RequestError::SchemaRegistryUnavailable(_) => Blame::Internal,
            RequestError::QueueFull(_)
            | RequestError::CircuitOpen { .. }
            | RequestError::KafkaUnavailable(_)
            | RequestError::KafkaTimeout(_)
            | RequestError::RecordTooLarge(_)
            | RequestError::TopicNotFound(_)
            | RequestError::PartitionNotFound { .. }
            | RequestError::KafkaRejected(_) => Blame::Kafka,
            RequestError::Registry { status, .. } if *status >= 500 => Blame::Internal,
            RequestError::Registry { .. } => Blame::Client,
            RequestError::Idempotency { status, .. } if *status >= 500 => Blame::Internal,
            RequestError::Idempotency { .. } => Blame::Client,
            RequestError::Internal(_) => Blame::Internal,
        }
    }

    /// `Retry-After` seconds, for failures a retry may cure.
    pub fn retry_after(&self) -> Option<u32> {
        if let RequestError::CircuitOpen {
            retry_after_secs, ..
        } = self
        {
            return Some(*retry_after_secs);
        }
        // 409: a retry of a key still in flight, answered once the first one is.
        (matches!(
            self.status(),
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        ) || matches!(self, RequestError::Idempotency { status: 409, .. }))
        .then_some(RETRY_AFTER_SECS)
    }

    /// What the client is told. The full text (`Display`) may hold a trap's message, what a
    /// filter printed, or librdkafka's words: it goes to the log, and to the client only when
    /// the route sets `error_details`. Everything else is the gateway's own wording.
    pub fn message(&self, details: bool) -> String {
        let short = match self {
            _ if details => None,
            RequestError::FilterFailed { filter, .. } => return format!("filter {filter} failed"),
            RequestError::KafkaTimeout(_) => Some("Kafka did not acknowledge the record in time"),
            RequestError::RecordTooLarge(_) => Some("the record is larger than Kafka accepts"),
            RequestError::KafkaUnavailable(_) => Some("Kafka is unavailable"),
            RequestError::SchemaRegistryUnavailable(_) => {
                Some("the schema registry is unavailable and the schema is not kept here")
            }
            RequestError::KafkaRejected(_) => Some("Kafka refused the record"),
            RequestError::SpoolFailed(_) => Some("the spool could not store the record"),
            RequestError::Internal(_) => Some("internal error"),
            _ => None,
        };
        short.map_or_else(|| self.to_string(), str::to_owned)
    }

    /// The JSON error object: `{"code": ..., "message": ...}`, and the `problems` of a
    /// schema mismatch.
    pub fn to_json(&self, details: bool) -> serde_json::Value {
        let mut json = serde_json::json!({ "code": self.code(), "message": self.message(details) });
        if let RequestError::SchemaMismatch { problems } = self {
            json["problems"] = problems.clone().into();
        }
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_and_librdkafka_texts_reach_the_client_only_with_details() {
        let trap = RequestError::FilterFailed {
            filter: "auth".into(),
            reason: "wasm trap: unreachable: panicked at secret.rs".into(),
        };
        assert_eq!(trap.message(false), "filter auth failed");
        assert!(trap.message(true).contains("secret.rs"));
        let kafka = RequestError::KafkaRejected("Broker: Topic authorization failed".into());
        assert_eq!(kafka.message(false), "Kafka refused the record");
        assert!(kafka.message(true).contains("authorization"));
        // The gateway's own wording is always given.
        let full = RequestError::BodyTooLarge { limit: 10 };
        assert_eq!(full.message(false), full.to_string());
    }
}
