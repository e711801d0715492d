//! HTTP. Every listener shares the accept loop (`listener`). Every API the gateway speaks (its
//! own routes, the REST Proxy API v2 and v3, the Schema Registry API) is a dialect over one
//! request path:
//!
//! ```text
//! call       request id, timing; at the end the request-id header, metrics, access log
//!            (a stream's at its end: `Finishing`)
//! dispatch   memory budget, URI limit, route lookup (404, 405, 400), then the endpoint
//! endpoint   the dialect: parses the request (`produce`, `read`/`sse`, `rest_proxy/`,
//!            `schema_registry`) into what the pipeline takes, and nothing more
//! pipeline   filters first (`admit`, or over the records), then the side effects:
//!            topic checks, schemas, the request id on records, delivery
//! dialect    the answer and every error in the API's own shape
//! rescue     a failure becomes its answer, logged and counted where it happened
//! ```
//!
//! `admin` serves the admin listener (health, readiness, metrics, what is live).
//!
//! A new endpoint kind is a new module beside `produce` that parses its request, calls
//! `pipeline` and renders through `dialect`, plus an arm in `dispatch`; `call`, `pipeline` and
//! `rescue` serve it unchanged. `Services` is what endpoints share for the process's life.

mod admin;
mod answer;
pub mod batch;
mod body;
mod call;
mod dialect;
mod dispatch;
mod filters;
mod keyed;
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

pub(crate) use admin::{Admin, Listening, admin};
pub(crate) use dispatch::{handle, handle_registry};
pub(crate) use filters::Filters;
pub(crate) use listener::{ConnLimits, Peer, serve};
pub(crate) use pipeline::Producing;
#[doc(hidden)]
pub use rest_proxy::fuzz_bodies;
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
