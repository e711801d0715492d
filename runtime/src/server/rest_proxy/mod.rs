//! The REST Proxy API's endpoints. Each is a route like any other (matched, filtered, limited,
//! counted and logged by the shared steps); what differs is here: REST Proxy's bodies, answers
//! and error shape (`crate::rest_proxy`).
//!
//! ```text
//! produce    v2 POST /topics/{t}[/partitions/{p}]
//! metadata   v2 topics, partitions, brokers; v3 clusters, topics, partitions
//! consumers  v2 consumer instances: create, subscribe/assign, records, offsets, seek, delete
//! records    v3 POST …/records (one record, or a stream of them) and …/records:batch
//! ```

mod consumers;
mod metadata;
mod ordered_body;
mod produce;
mod records;
mod splitter;

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use hyper::body::Incoming;
use serde::Serialize;
use serde_json::Value;

use super::call::Call;
use super::pipeline;
use super::rescue::Failure;
use super::{HttpResponse, Services, body, dialect};
use crate::error::RequestError;
use crate::exchange::{Access, RequestInfo};
use crate::rest_proxy::Op;
use crate::snapshot::{Dialect, Endpoint, Route};

/// Serves a request matched to one of the API's operations.
pub(crate) async fn serve(
    call: &mut Call<'_>,
    services: &Services,
    route: &Arc<Route>,
    op: Op,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    match op {
        Op::Produce => produce::serve(call, services, route, params, req).await,
        Op::Topics | Op::Topic | Op::Partitions | Op::Partition | Op::Brokers => {
            metadata::v2(call, services, route, op, params, req).await
        }
        Op::Clusters
        | Op::Cluster
        | Op::V3Topics
        | Op::V3Topic
        | Op::V3Partitions
        | Op::V3Partition => metadata::v3(call, services, route, op, params, req).await,
        Op::V3Produce => records::stream(call, services, route, params, req).await,
        Op::V3ProduceBatch => records::batch(call, services, route, params, req).await,
        _ => consumers::serve(call, services, route, op, params, req).await,
    }
}

/// Runs the API's filters over the request with one record per topic it touches, before
/// anything else happens; a topic they do not forward is 403. Their own answer ends the call
/// (in REST Proxy's shape, by `rescue`).
pub(super) async fn allow(
    call: &Call<'_>,
    services: &Services,
    route: &Route,
    parts: http::request::Parts,
    params: Vec<(String, String)>,
    topics: &[String],
) -> Result<Arc<RequestInfo>, Failure> {
    let access = access(route, &parts.method);
    let request = call.request_info(parts, params, Bytes::new(), access);
    let filters = &services.producing.filters;
    pipeline::admit_each(filters, route, request.clone(), topics).await?;
    Ok(request)
}

/// What a call does to the topics it names: producing, creating and deleting topics write;
/// metadata and consumers read.
fn access(route: &Route, method: &http::Method) -> Access {
    let Endpoint::RestProxy(op) = route.endpoint else {
        return Access::Read;
    };
    match (op, method) {
        (Op::Produce | Op::V3Produce | Op::V3ProduceBatch, _)
        | (Op::V3Topics, &http::Method::POST)
        | (Op::V3Topic, &http::Method::DELETE) => Access::Write,
        _ => Access::Read,
    }
}

/// The body as JSON; `None` when it is empty. Not JSON: 400, as REST Proxy.
pub(super) async fn json_body(
    call: &Call<'_>,
    services: &Services,
    headers: &http::HeaderMap,
    incoming: Incoming,
) -> Result<Option<Value>, Failure> {
    let server = &call.snapshot.config.server;
    let read = body::read(incoming, headers, server, &services.memory).await?;
    if read.bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&read.bytes)
        .map(Some)
        .map_err(|e| RequestError::BadRequest(format!("the body is not JSON: {e}")).into())
}

/// A field of a JSON object body, deserialized, or 422 naming it.
pub(super) fn field<T: serde::de::DeserializeOwned>(
    body: &Value,
    name: &str,
) -> Result<Option<T>, RequestError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|e| RequestError::InvalidParameter(format!("{name}: {e}"))),
    }
}

/// A 200 (or `status`) answer with `body` as JSON, in v2's or v3's content type.
pub(super) fn ok(
    status: StatusCode,
    v3: bool,
    body: &impl Serialize,
) -> Result<HttpResponse, Failure> {
    let bytes = serde_json::to_vec(body).map_err(|e| RequestError::Internal(e.to_string()))?;
    let version = if v3 {
        Dialect::RestProxyV3
    } else {
        Dialect::RestProxyV2
    };
    Ok(dialect::json(version, status, bytes))
}

/// 204 No Content.
pub(super) fn no_content() -> HttpResponse {
    let mut response = http::Response::new(super::full(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// Where clients reach this gateway's REST Proxy paths: `rest_proxy.advertised_url`, else the
/// request's `Host` (and TLS or not), then the prefix.
pub(super) fn base_url(
    call: &Call<'_>,
    services: &Services,
    headers: &http::HeaderMap,
    uri: &http::Uri,
) -> String {
    let config = call.snapshot.config.rest_proxy.as_ref();
    let prefix = config.map_or("", |c| c.path_prefix.as_str());
    if let Some(url) = config.and_then(|c| c.advertised_url.as_deref()) {
        return format!("{url}{prefix}");
    }
    let (listen, tls) = services.public;
    let scheme = if tls { "https" } else { "http" };
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| listen.to_string());
    format!("{scheme}://{host}{prefix}")
}

/// Every REST Proxy body parser over one body, for the fuzz target (`runtime/fuzz`, target
/// `rest_proxy`): the v3 stream splitter cut at every chunk size given, v2 produce in each
/// format, a v3 record, consumer settings, commits, assignments, seeks and v3 topic creation. Each
/// answers or refuses; none panics. How many accepted it.
#[doc(hidden)]
pub fn fuzz_bodies(body: &[u8], chunk: usize) -> usize {
    use crate::rest_proxy::formats::Format;
    let mut accepted = 0;
    let mut splitter = splitter::Splitter::default();
    let mut seen = 0;
    let chunk = chunk.max(1);
    while seen < body.len() {
        seen = (seen + chunk).min(body.len());
        let end = seen == body.len();
        while let Some(piece) = splitter.next(&body[..seen], end) {
            let (splitter::Piece::Record(range) | splitter::Piece::Garbage(range)) = piece;
            assert!(range.end <= seen && range.start <= range.end);
            accepted += usize::from(serde_json::from_slice::<Value>(&body[range]).is_ok());
        }
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return accepted;
    };
    for format in [Format::Binary, Format::Json, Format::Avro, Format::Protobuf] {
        accepted += usize::from(produce::parse(value.clone(), "t", None, format, 100).is_ok());
    }
    accepted += usize::from(records::parse(value.clone(), "t", true).is_ok());
    accepted += usize::from(consumers::settings(&value, "r", true).is_ok());
    accepted += usize::from(consumers::commit_offsets(&value).is_ok());
    accepted += usize::from(consumers::partitions(&value).is_ok());
    accepted += usize::from(consumers::seek_places(&value).is_ok());
    accepted += usize::from(metadata::CreateTopic::from(&value).is_ok());
    accepted
}
