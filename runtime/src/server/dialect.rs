//! The shape of each API's answers: where Wafka's routes, REST Proxy v2 and v3 and the Schema
//! Registry differ once the shared steps are done. A failure or a filter's own answer is
//! rendered here, in the route's dialect, and nowhere else.
//!
//! | dialect | error body | content type |
//! | --- | --- | --- |
//! | Wafka | `{"error": {"code", "message", "request_id"}}` | `application/json` |
//! | REST Proxy v2, v3 | `{"error_code": 40401, "message"}` | `application/vnd.kafka.v2+json`, `application/json` |
//! | Schema Registry | `{"error_code": 40401, "message"}` | `application/vnd.schemaregistry.v1+json` |

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};

use super::{HttpResponse, full};
use crate::error::RequestError;
use crate::snapshot::Dialect;

/// REST Proxy v2's content type.
pub(crate) const REST_PROXY_V2: &str = "application/vnd.kafka.v2+json";

/// The Schema Registry API's content type.
pub(crate) const SCHEMA_REGISTRY: &str = "application/vnd.schemaregistry.v1+json";

/// The content type of `dialect`'s JSON answers.
fn content_type(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Wafka | Dialect::RestProxyV3 => "application/json",
        Dialect::RestProxyV2 => REST_PROXY_V2,
        Dialect::SchemaRegistry => SCHEMA_REGISTRY,
    }
}

/// A JSON answer of `dialect` with `status`.
pub(crate) fn json(dialect: Dialect, status: StatusCode, body: impl Into<Bytes>) -> HttpResponse {
    let mut response = http::Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(dialect)),
    );
    response
}

/// The answer to `error`: its status and stable code in `dialect`'s shape, with `Allow` and
/// `Retry-After` where they apply. `records` (each record's result) goes beside Wafka's error.
pub(crate) fn error(
    dialect: Dialect,
    error: &RequestError,
    request_id: &str,
    details: bool,
    records: Option<Vec<Value>>,
) -> HttpResponse {
    let (status, body) = match dialect {
        Dialect::Wafka => {
            let mut body = error.to_json(details);
            body["request_id"] = request_id.into();
            let mut body = json!({ "error": body });
            if let Some(records) = records {
                body["records"] = Value::Array(records);
            }
            (error.status(), body)
        }
        Dialect::RestProxyV2 | Dialect::RestProxyV3 => {
            let (status, code) = crate::rest_proxy::errors::code(error, dialect.is_v3());
            (status, confluent(code, error.message(details)))
        }
        Dialect::SchemaRegistry => {
            let (status, code) = registry_code(error);
            (status, confluent(code, error.message(details)))
        }
    };
    let mut response = json(dialect, status, body.to_string());
    headers(error, response.headers_mut());
    response
}

/// A filter's own answer. Wafka's routes pass it as it is; the Confluent dialects give an
/// error answer their own shape, `error_code` being the status × 100 + 1 (`40101`, `40301`),
/// with the filter's headers (`WWW-Authenticate`) kept.
pub(crate) fn filter_answer(dialect: Dialect, answer: http::Response<Bytes>) -> HttpResponse {
    let status = answer.status();
    if dialect == Dialect::Wafka || !(status.is_client_error() || status.is_server_error()) {
        return answer.map(full);
    }
    let (parts, body) = answer.into_parts();
    let mut out = json(
        dialect,
        status,
        confluent(filter_code(status), filter_message(&body)).to_string(),
    );
    for (name, value) in &parts.headers {
        if name != http::header::CONTENT_TYPE && name != http::header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// The Confluent `error_code` of a filter's refusal with `status`.
pub(crate) fn filter_code(status: StatusCode) -> u32 {
    u32::from(status.as_u16()) * 100 + 1
}

/// The message of a filter's refusal: its `error.message` (the SDK's `reject`), a top-level
/// `message`, or the body as text.
pub(crate) fn filter_message(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    parsed
        .as_ref()
        .and_then(|v| v["error"]["message"].as_str().or(v["message"].as_str()))
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

/// The Schema Registry's status and `error_code` for `error`: the registry's own refusals as
/// Confluent numbers them (40401…), anything else its bare status, as the registry's generic
/// answers have it.
fn registry_code(error: &RequestError) -> (StatusCode, u32) {
    let status = error.status();
    match error {
        RequestError::Registry { registry_code, .. } => (status, *registry_code),
        _ => (status, u32::from(status.as_u16())),
    }
}

fn confluent(code: u32, message: String) -> Value {
    json!({ "error_code": code, "message": message })
}

/// `Allow` and `Retry-After`, where they apply.
fn headers(error: &RequestError, headers: &mut HeaderMap) {
    if let RequestError::MethodNotAllowed { allowed, .. } = error
        && let Ok(v) = HeaderValue::from_str(&allowed.join(", "))
    {
        headers.insert(http::header::ALLOW, v);
    }
    if let Some(secs) = error.retry_after() {
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: HttpResponse) -> Value {
        use http_body_util::BodyExt;
        let Ok(collected) = ready_now(response.into_body().collect());
        serde_json::from_slice(&collected.to_bytes()).unwrap()
    }

    /// The bodies here are whole: polling once finishes them.
    fn ready_now<F: std::future::Future>(f: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("a whole body is ready at once"),
        }
    }

    #[test]
    fn unavailable_errors_carry_retry_after_in_every_dialect() {
        for dialect in [
            Dialect::Wafka,
            Dialect::RestProxyV2,
            Dialect::RestProxyV3,
            Dialect::SchemaRegistry,
        ] {
            let r = error(
                dialect,
                &RequestError::QueueFull("full".into()),
                "id",
                false,
                None,
            );
            // REST Proxy answers Kafka's retriable failures 500 with `error_code` 50003.
            let status = match dialect {
                Dialect::RestProxyV2 | Dialect::RestProxyV3 => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            assert_eq!(r.status(), status, "{dialect:?}");
            assert_eq!(r.headers()[http::header::RETRY_AFTER], "1");
            let r = error(
                dialect,
                &RequestError::BadRequest("x".into()),
                "id",
                false,
                None,
            );
            assert!(r.headers().get(http::header::RETRY_AFTER).is_none());
        }
    }

    #[test]
    fn method_not_allowed_lists_allow_header() {
        let e = RequestError::MethodNotAllowed {
            method: "GET".into(),
            allowed: vec!["POST".into(), "PUT".into()],
        };
        let r = error(Dialect::Wafka, &e, "id", false, None);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[http::header::ALLOW], "POST, PUT");
        assert_eq!(body(r)["error"]["code"], "method_not_allowed");
    }

    #[test]
    fn each_dialect_has_its_shape_and_content_type() {
        let e = RequestError::TopicNotFound("t".into());
        let wafka = error(Dialect::Wafka, &e, "r-1", false, Some(vec![json!(1)]));
        assert_eq!(wafka.headers()["content-type"], "application/json");
        let wafka = body(wafka);
        assert_eq!(wafka["error"]["request_id"], "r-1");
        assert_eq!(wafka["records"], json!([1]));
        let v2 = error(Dialect::RestProxyV2, &e, "r-1", false, None);
        assert_eq!(v2.headers()["content-type"], REST_PROXY_V2);
        assert_eq!(body(v2)["error_code"], 40401);
        let v3 = error(Dialect::RestProxyV3, &e, "r-1", false, None);
        assert_eq!(body(v3)["error_code"], 40403);
        let registry = error(
            Dialect::SchemaRegistry,
            &RequestError::Overloaded,
            "r",
            false,
            None,
        );
        assert_eq!(registry.headers()["content-type"], SCHEMA_REGISTRY);
        assert!(body(registry).get("error").is_none());
    }

    #[test]
    fn filter_refusals_take_the_confluent_shape_and_keep_their_headers() {
        let refusal = || {
            http::Response::builder()
                .status(401)
                .header("www-authenticate", "Bearer")
                .body(Bytes::from(
                    r#"{"error":{"code":"missing_token","message":"no token"}}"#,
                ))
                .unwrap()
        };
        let out = filter_answer(Dialect::RestProxyV2, refusal());
        assert_eq!(out.status(), 401);
        assert_eq!(out.headers()["www-authenticate"], "Bearer");
        assert_eq!(out.headers()["content-type"], REST_PROXY_V2);
        assert_eq!(
            body(out),
            json!({"error_code": 40101, "message": "no token"})
        );
        let registry = filter_answer(Dialect::SchemaRegistry, refusal());
        assert_eq!(registry.headers()["content-type"], SCHEMA_REGISTRY);
        let wafka = filter_answer(Dialect::Wafka, refusal());
        assert_eq!(body(wafka)["error"]["code"], "missing_token");
    }
}
