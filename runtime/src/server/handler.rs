//! The produce path: route → body → filter chain → producer → answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::{HttpResponse, Peer, batch, body, json_response};
use crate::config::{Mode, ServerConfig, check_topic};
use crate::delivery::{Accepted, Results};
use crate::error::RequestError;
use crate::exchange::RequestInfo;
use crate::filter::{self, ChainOutcome};
use crate::gateway::Shared;
use crate::metrics as m;
use crate::router::Match;
use crate::snapshot::Route;

/// Header carrying the request id, on the response and on every record.
pub(crate) const REQUEST_ID: &str = "x-request-id";

/// How long a request waits for free filter instance slots before answering 503.
const SLOT_WAIT: Duration = Duration::from_secs(1);

/// Route label for requests no route matched.
const UNMATCHED: &str = "unmatched";

/// Handles one request on the public listener. Never fails: errors become answers here.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: http::Request<Incoming>,
    peer: Arc<Peer>,
) -> HttpResponse {
    let started = Instant::now();
    let id = shared.ids.next();
    // Held to the end: a reload mid-request does not change what this request runs.
    let snapshot = shared.snapshot.load_full();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let max_uri = snapshot.config.server.max_uri_bytes;
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());

    let lookup = (uri_len <= max_uri).then(|| snapshot.router.lookup(&method, &path));
    let (route, result) = match lookup {
        None => (
            UNMATCHED.into(),
            Err((RequestError::UriTooLong { limit: max_uri }, None)),
        ),
        Some(Match::Found(route, params)) => {
            let server = &snapshot.config.server;
            let result = produce(&shared, server, &route, params, req, &peer, &id).await;
            (route.name.clone(), result)
        }
        Some(Match::MethodNotAllowed(allowed)) => (
            UNMATCHED.into(),
            Err((RequestError::MethodNotAllowed { method, allowed }, None)),
        ),
        Some(Match::Malformed(reason)) => (
            UNMATCHED.into(),
            Err((RequestError::BadRequest(reason), None)),
        ),
        Some(Match::NotFound) => (
            UNMATCHED.into(),
            Err((RequestError::RouteNotFound { path }, None)),
        ),
    };

    let (mut response, records) = match result {
        Ok(answer) => (answer.response, answer.records),
        Err((error, details)) => {
            report(&error, &route, &id);
            let records = details.as_ref().map_or(0, |d| d.len());
            let extra = details.map(|d| ("records", Value::Array(d)));
            (error.to_response(extra), records)
        }
    };
    if let Ok(v) = http::HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }

    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let labels = [("route", route.to_string()), ("status", status.to_string())];
    metrics::counter!(m::HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(m::HTTP_DURATION, "route" => route.to_string()).record(elapsed);
    tracing::info!(
        target: "wafka::access",
        request_id = %id,
        route = %route,
        status,
        records,
        duration_us = elapsed.as_micros() as u64,
        "request"
    );
    response
}

/// A successful answer and how many records it covered.
struct Answer {
    response: HttpResponse,
    records: usize,
}

/// A failure, with the per-record results when some records got that far.
type Failure = (RequestError, Option<Vec<Value>>);

async fn produce(
    shared: &Shared,
    server: &ServerConfig,
    route: &Route,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
    peer: &Peer,
    id: &str,
) -> Result<Answer, Failure> {
    let (parts, incoming) = req.into_parts();
    let timeout_ms = server.request_timeout_ms;
    let read = body::read(incoming, &parts.headers, server.max_body_bytes);
    let body = match tokio::time::timeout(Duration::from_millis(timeout_ms), read).await {
        Ok(body) => body.map_err(|e| (e, None))?,
        Err(_) => return Err((RequestError::RequestTimeout { timeout_ms }, None)),
    };
    metrics::counter!(m::HTTP_BODY_BYTES, "route" => route.name.to_string())
        .increment(body.len() as u64);

    let records = batch::parse(route.body, body.clone(), &route.topic, server.max_records)
        .map_err(|e| (e, None))?;
    let info = Arc::new(RequestInfo {
        id: id.to_owned(),
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        route: route.name.clone(),
        params,
        headers: parts.headers,
        client: peer.addr,
        client_subject: peer.subject.clone(),
        received_at_ms: crate::clock::now_millis(),
        body,
    });

    // One instance slot per filter in the chain, all at once (so no chain waits holding some).
    let _slots = if route.steps.is_empty() {
        None
    } else {
        let wanted = u32::try_from(route.steps.len()).unwrap_or(u32::MAX);
        let acquire = shared.filter_slots.clone().acquire_many_owned(wanted);
        match tokio::time::timeout(SLOT_WAIT, acquire).await {
            Ok(Ok(permit)) => Some(permit),
            _ => return Err((RequestError::Overloaded, None)),
        }
    };
    let outcome = filter::run(
        shared.engine.engine(),
        &route.steps,
        info,
        records,
        route.limits,
    )
    .await
    .map_err(|e| (e, None))?;
    let records = match outcome {
        ChainOutcome::Respond(response) => {
            return Ok(Answer {
                response: response.map(Full::new),
                records: 0,
            });
        }
        ChainOutcome::Forward(records) => records,
    };
    let id_header = bytes::Bytes::copy_from_slice(id.as_bytes());
    let mut records = records;
    for r in &mut records {
        // Traceable from the HTTP answer to the Kafka record.
        r.headers.push((REQUEST_ID.to_owned(), id_header.clone()));
        if let Err(reason) = check_topic(&r.topic) {
            let filter = route.steps.last().map_or("", |s| s.filter.name.as_str());
            return Err((
                RequestError::FilterInvalidOutput {
                    filter: filter.to_owned(),
                    reason,
                },
                None,
            ));
        }
    }

    let results = match route.mode {
        Mode::Sync => shared.delivery.sync(records, route.spool_when_down).await,
        Mode::Async => shared.delivery.accept(records, id).await,
    };
    answer(results.map_err(|e| (e, None))?)
}

/// 200 when Kafka acknowledged every record, 202 when some were only queued or spooled; or
/// the first error, with every record's result.
fn answer(results: Results) -> Result<Answer, Failure> {
    let mut listed = Vec::with_capacity(results.len());
    let mut first_error = None;
    let mut all_delivered = true;
    for (topic, result) in results {
        listed.push(match result {
            Ok(Accepted::Delivered(d)) => {
                json!({ "topic": d.topic, "partition": d.partition, "offset": d.offset })
            }
            Ok(Accepted::Queued) => {
                all_delivered = false;
                json!({ "topic": topic, "status": "queued" })
            }
            Ok(Accepted::Spooled) => {
                all_delivered = false;
                json!({ "topic": topic, "status": "spooled" })
            }
            Err(e) => {
                let value = json!({ "topic": topic, "error": e.to_json() });
                first_error.get_or_insert(e);
                value
            }
        });
    }
    if let Some(e) = first_error {
        return Err((e, Some(listed)));
    }
    let status = if all_delivered {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok(Answer {
        records: listed.len(),
        response: json_response(status, &json!({ "records": listed })),
    })
}

/// Logs and counts a failed request; the level follows who is at fault.
fn report(error: &RequestError, route: &str, id: &str) {
    use crate::error::Blame;
    let blame = error.blame();
    metrics::counter!(
        m::HTTP_ERRORS,
        "route" => route.to_owned(),
        "code" => error.code(),
        "blame" => blame.as_str()
    )
    .increment(1);
    match blame {
        Blame::Client => tracing::debug!(request_id = %id, route, code = error.code(), "{error}"),
        Blame::Kafka => tracing::warn!(request_id = %id, route, code = error.code(), "{error}"),
        Blame::Filter | Blame::Internal => {
            tracing::error!(request_id = %id, route, code = error.code(), "{error}")
        }
    }
}
