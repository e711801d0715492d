//! HTTP. Every listener shares the accept loop (`listener`). A request on the public listener
//! goes through small steps that every endpoint kind shares:
//!
//! ```text
//! call       request id, timing; at the end the request-id header, metrics, access log
//! dispatch   URI limit, route lookup (404, 405, 400), then the route's endpoint
//! produce    body (limits), records (batch), filters (slots, chain), delivery, answer
//! read       filters on the request, then a long-poll batch (read) or events (sse)
//! rest_proxy the Confluent REST Proxy API: produce, metadata, consumers, v3 records
//! rescue     a failure becomes its JSON answer, logged and counted where it happened
//! ```
//!
//! `admin` and `schema_registry` serve listeners of their own:
//!
//! ```text
//! admin            health, readiness, metrics, what is live
//! schema_registry  Confluent's Schema Registry API over `crate::schemas`
//! ```
//!
//! A new endpoint kind is a new module beside `produce` that uses `body`, `filters` and
//! `answer`, and a new arm in `dispatch`; `call` and `rescue` wrap it unchanged.

mod admin;
mod answer;
pub mod batch;
mod body;
mod call;
mod dialect;
mod dispatch;
mod filters;
mod listener;
mod pipeline;
mod produce;
mod read;
mod rescue;
mod rest_proxy;
mod schema_registry;
mod services;
mod sse;

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};

pub(crate) use admin::{Admin, admin};
pub(crate) use dispatch::{handle, handle_registry};
pub(crate) use filters::Filters;
pub(crate) use listener::{ConnLimits, Peer, serve};
pub(crate) use pipeline::Producing;
pub(crate) use services::Services;

/// The body of every response: whole (JSON answers) or streamed.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Every response the gateway builds.
pub type HttpResponse = http::Response<Body>;

/// A body of `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A response with `status` and a body already serialized as JSON.
pub fn json_bytes(status: http::StatusCode, body: impl Into<Bytes>) -> HttpResponse {
    let mut response = http::Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// A JSON response with the given status.
pub fn json_response(status: http::StatusCode, body: &serde_json::Value) -> HttpResponse {
    json_bytes(status, body.to_string())
}
