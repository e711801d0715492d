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
use super::rescue::Failure;
use super::{HttpResponse, body, filters};
use crate::error::RequestError;
use crate::exchange::{Record, RequestInfo};
use crate::filter::ChainOutcome;
use crate::rest_proxy::{Op, errors};
use crate::snapshot::Route;

/// Serves a request matched to one of the API's operations.
pub(crate) async fn serve(
    call: &mut Call<'_>,
    route: &Arc<Route>,
    op: Op,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    match op {
        Op::Produce => produce::serve(call, route, params, req).await,
        Op::Topics | Op::Topic | Op::Partitions | Op::Partition | Op::Brokers => {
            metadata::v2(call, route, op, params, req).await
        }
        Op::Clusters
        | Op::Cluster
        | Op::V3Topics
        | Op::V3Topic
        | Op::V3Partitions
        | Op::V3Partition => metadata::v3(call, route, op, params, req).await,
        Op::V3Produce => records::stream(call, route, params, req).await,
        Op::V3ProduceBatch => records::batch(call, route, params, req).await,
        _ => consumers::serve(call, route, op, params, req).await,
    }
}

/// A request after its filters allowed it.
pub(super) type Allowed = Result<Arc<RequestInfo>, HttpResponse>;

/// Runs the API's filters over the request with one record per topic it touches; a filter's
/// answer (`Err`) is in REST Proxy's shape. A topic the filters drop is forbidden.
pub(super) async fn allow(
    call: &Call<'_>,
    route: &Route,
    parts: http::request::Parts,
    params: Vec<(String, String)>,
    topics: &[String],
    v3: bool,
) -> Result<Allowed, Failure> {
    let request = call.request_info(parts, params, Bytes::new());
    let probes = topics.iter().map(Record::new).collect();
    match filters::run(call.shared, route, request.clone(), probes).await? {
        ChainOutcome::Respond(answer) => Ok(Err(errors::from_filter(answer, v3))),
        ChainOutcome::Forward(kept) => {
            if let Some(missing) = topics.iter().find(|t| !kept.iter().any(|r| &r.topic == *t)) {
                return Err(RequestError::Forbidden(format!(
                    "the gateway's filters do not allow topic {missing:?}"
                ))
                .into());
            }
            Ok(Ok(request))
        }
    }
}

/// The body as JSON; `None` when it is empty. Not JSON: 400, as REST Proxy.
pub(super) async fn json_body(
    call: &Call<'_>,
    headers: &http::HeaderMap,
    incoming: Incoming,
) -> Result<Option<Value>, Failure> {
    let server = &call.snapshot.config.server;
    let read = body::read(incoming, headers, server, &call.shared.memory).await?;
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

/// A 200 (or `status`) answer with `body` as JSON.
pub(super) fn ok(
    status: StatusCode,
    v3: bool,
    body: &impl Serialize,
) -> Result<HttpResponse, Failure> {
    let bytes = serde_json::to_vec(body).map_err(|e| RequestError::Internal(e.to_string()))?;
    Ok(errors::answer(status, v3, bytes))
}

/// 204 No Content.
pub(super) fn no_content() -> HttpResponse {
    let mut response = http::Response::new(super::full(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// Where clients reach this gateway's REST Proxy paths: `rest_proxy.advertised_url`, else the
/// request's `Host` (and TLS or not), then the prefix.
pub(super) fn base_url(call: &Call<'_>, headers: &http::HeaderMap, uri: &http::Uri) -> String {
    let config = call.snapshot.config.rest_proxy.as_ref();
    let prefix = config.map_or("", |c| c.path_prefix.as_str());
    if let Some(url) = config.and_then(|c| c.advertised_url.as_deref()) {
        return format!("{url}{prefix}");
    }
    let scheme = if call.shared.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| call.shared.start.listen.to_string());
    format!("{scheme}://{host}{prefix}")
}

/// 404 unless `topic` exists (asked of Kafka only when not seen lately).
pub(super) async fn require_topic(call: &Call<'_>, topic: &str) -> Result<(), RequestError> {
    if call.shared.rest_proxy.cluster.known(topic) {
        return Ok(());
    }
    let (shared, topic) = (call.shared.clone(), topic.to_owned());
    blocking(move || shared.rest_proxy.cluster.require(&topic)).await
}

/// Runs a blocking Kafka call off the runtime's threads.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RequestError> + Send + 'static,
) -> Result<T, RequestError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RequestError::Internal(format!("a Kafka call panicked: {e}")))?
}
