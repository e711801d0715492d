//! REST Proxy's error shape, `{"error_code": 40401, "message": "…"}`: the HTTP status times
//! 100 plus a number, on REST Proxy paths only (the routes keep Wafka's shape). The codes are
//! Confluent's (`io.confluent.kafkarest.Errors`); errors it has no code for get the bare
//! status (`400`, `415`), as REST Proxy's generic answers do, and answers made by filters the
//! status times 100 plus 1 (`40101`, `40301`), as Kafka's own authentication failures.

use bytes::Bytes;
use http::StatusCode;
use serde_json::json;

use crate::error::RequestError;
use crate::server::{HttpResponse, full};

/// v2's content type; v3 answers `application/json`.
pub const V2_JSON: &str = "application/vnd.kafka.v2+json";

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

/// The answer for `error` in REST Proxy's shape, with `Allow` and `Retry-After` as Wafka's.
pub fn response(error: &RequestError, v3: bool, details: bool) -> HttpResponse {
    let (status, error_code) = code(error, v3);
    let body = json!({ "error_code": error_code, "message": error.message(details) });
    let mut response = answer(status, v3, body.to_string());
    error.add_headers(response.headers_mut());
    response
}

/// A JSON answer with the content type of the API version.
pub fn answer(status: StatusCode, v3: bool, body: impl Into<Bytes>) -> HttpResponse {
    let mut response = http::Response::new(full(body));
    *response.status_mut() = status;
    let content_type = if v3 { "application/json" } else { V2_JSON };
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

/// A filter's own error answer (`{"error": {"code", "message"}}`, 401 from `jwt-auth`...)
/// in REST Proxy's shape, its headers (`WWW-Authenticate`) kept. Other answers pass as they are.
pub fn from_filter(response: http::Response<Bytes>, v3: bool) -> HttpResponse {
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return response.map(full);
    }
    let (parts, body) = response.into_parts();
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v["error"]["message"].as_str().or(v["message"].as_str()))
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    let error_code = u32::from(status.as_u16()) * 100 + 1;
    let body = json!({ "error_code": error_code, "message": message });
    let mut out = answer(status, v3, body.to_string());
    for (name, value) in &parts.headers {
        if name != http::header::CONTENT_TYPE && name != http::header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
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

    #[test]
    fn filter_errors_take_the_rest_proxy_shape_and_keep_their_headers() {
        let filtered = http::Response::builder()
            .status(401)
            .header("www-authenticate", "Bearer")
            .body(Bytes::from(
                r#"{"error":{"code":"missing_token","message":"no token"}}"#,
            ))
            .unwrap();
        let out = from_filter(filtered, false);
        assert_eq!(out.status(), 401);
        assert_eq!(out.headers()["www-authenticate"], "Bearer");
        assert_eq!(out.headers()["content-type"], V2_JSON);
    }
}
