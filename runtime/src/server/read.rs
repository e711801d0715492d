//! The read endpoint: a GET on a read route. The route's filters see the request first (with
//! one record whose topic is the topic asked for), then records are read from the shared
//! fetcher and answered as a long-poll batch, or streamed as server-sent events.
//!
//! `GET <route>?from=&max_records=&max_bytes=&timeout_ms=&group=`; `from` is `earliest`,
//! `latest`, a time in milliseconds since the Unix epoch, or a position returned earlier.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Incoming;
use serde_json::json;

use super::call::Call;
use super::filters::Filters;
use super::rescue::Failure;
use super::{HttpResponse, Services, json_bytes, pipeline, sse};
use crate::error::RequestError;
use crate::exchange::{Access, Record, RequestInfo};
use crate::read::{From, Position, Tail, render};
use crate::snapshot::{Read, Route};

/// What a client asked for in the query string.
pub(super) struct Query {
    pub from: Option<String>,
    pub max_records: Option<usize>,
    pub max_bytes: Option<usize>,
    pub timeout_ms: Option<u64>,
    pub group: Option<String>,
}

impl Query {
    fn parse(query: Option<&str>) -> Result<Query, RequestError> {
        let mut q = Query {
            from: None,
            max_records: None,
            max_bytes: None,
            timeout_ms: None,
            group: None,
        };
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let number = |v: &str| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| invalid(&key, "a whole number, 1 or more"))
            };
            match &*key {
                "from" => q.from = Some(value.into_owned()),
                "max_records" => q.max_records = Some(number(&value)? as usize),
                "max_bytes" => q.max_bytes = Some(number(&value)? as usize),
                "timeout_ms" => {
                    q.timeout_ms = Some(
                        value
                            .parse()
                            .map_err(|_| invalid(&key, "a whole number of milliseconds"))?,
                    )
                }
                "group" if valid_group(&value) => q.group = Some(value.into_owned()),
                "group" => {
                    return Err(invalid(
                        &key,
                        "1 to 249 characters of a-z, A-Z, 0-9, '.', '_', '-'",
                    ));
                }
                other => {
                    return Err(invalid(
                        other,
                        "not a parameter of read routes (from, max_records, max_bytes, timeout_ms, group)",
                    ));
                }
            }
        }
        Ok(q)
    }
}

fn invalid(name: &str, expected: &str) -> RequestError {
    RequestError::InvalidParameter(format!("{name}: expected {expected}"))
}

fn valid_group(group: &str) -> bool {
    wafka_sdk::topic::check_name(group).is_ok()
}

/// A read request after its filters allowed it: the topic, the partitions, and the request.
pub(super) struct Allowed {
    pub request: Arc<RequestInfo>,
    pub tail: Arc<Tail>,
    pub partitions: Vec<i32>,
}

/// Runs the route's filters on the request with one record naming the topic asked for; the
/// topic they forward is the one read, and only then is Kafka asked about it.
pub(super) async fn allow(
    call: &Call<'_>,
    services: &Services,
    route: &Route,
    read: &Read,
    parts: http::request::Parts,
    params: Vec<(String, String)>,
) -> Result<Allowed, Failure> {
    let topic = read.topic_for(&params);
    wafka_sdk::topic::check_name(&topic).map_err(RequestError::BadRequest)?;
    let request = call.request_info(parts, params, Bytes::new(), Access::Read);
    let filters = &services.producing.filters;
    let kept = pipeline::admit(filters, route, request.clone(), &[topic]).await?;
    let topic = match <[String; 1]>::try_from(kept) {
        Ok([one]) => one,
        Err(kept) if kept.is_empty() => return Err(RequestError::ReadRefused.into()),
        Err(_) => {
            let filter = route.steps.last().map_or("", |s| s.filter.name.as_str());
            return Err(RequestError::FilterInvalidOutput {
                filter: filter.to_owned(),
                reason: "a read route reads one topic; the filters forwarded several records"
                    .into(),
            }
            .into());
        }
    };
    let tail = services.reading.tail(&topic).await?;
    let partitions = match &read.config.partitions {
        None => tail.partitions().to_vec(),
        Some(listed) => {
            if let Some(missing) = listed.iter().find(|p| !tail.partitions().contains(p)) {
                return Err(RequestError::PartitionNotFound {
                    topic,
                    partition: *missing,
                }
                .into());
            }
            listed.clone()
        }
    };
    Ok(Allowed {
        request,
        tail,
        partitions,
    })
}

/// Where the client starts: its position (`from` or `Last-Event-ID`), or a group's, or the
/// route's default.
pub(super) async fn start(
    services: &Services,
    read: &Read,
    allowed: &Allowed,
    from: Option<&str>,
    group: Option<&str>,
) -> Result<Position, RequestError> {
    let topic = allowed.tail.topic();
    let from = match from.unwrap_or(&read.config.default_from) {
        "earliest" => From::Earliest,
        "latest" => From::Latest,
        text if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() => From::Time(
            text.parse()
                .map_err(|_| invalid("from", "a time in milliseconds"))?,
        ),
        token => From::Position(
            Position::decode(token, topic)
                .map_err(|e| RequestError::InvalidPosition(e.to_string()))?,
        ),
    };
    services
        .reading
        .start(&allowed.tail, &allowed.partitions, from, group)
        .await
}

/// Serves a GET on a read route.
pub(crate) async fn serve(
    call: &mut Call<'_>,
    services: &Services,
    route: &Route,
    read: &Arc<Read>,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    let (parts, _body) = req.into_parts();
    let query = Query::parse(parts.uri.query())?;
    let stream = parts
        .headers
        .get_all(http::header::ACCEPT)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.contains("text/event-stream")));
    let last_event = parts
        .headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let origin = parts.headers.get(http::header::ORIGIN).cloned();
    let allowed = allow(call, services, route, read, parts, params).await?;
    let from = last_event.as_deref().or(query.from.as_deref());
    let position = start(services, read, &allowed, from, query.group.as_deref()).await?;
    let mut response = if stream {
        sse::open(call, services, read, allowed, position)?
    } else {
        fetch(call, services, route, read, &allowed, position, &query).await?
    };
    cors(read, origin, &mut response);
    Ok(response)
}

/// One long-poll answer: records at once when there are some, else the first that arrive
/// within the timeout, else none; with the position after them.
async fn fetch(
    call: &mut Call<'_>,
    services: &Services,
    route: &Route,
    read: &Read,
    allowed: &Allowed,
    mut position: Position,
    query: &Query,
) -> Result<HttpResponse, Failure> {
    let config = &read.config;
    let max_records = query
        .max_records
        .unwrap_or(config.max_records)
        .min(config.max_records);
    let max_bytes = query
        .max_bytes
        .unwrap_or(config.max_bytes)
        .min(config.max_bytes);
    let wait = Duration::from_millis(
        query
            .timeout_ms
            .unwrap_or(config.max_wait_ms)
            .min(config.max_wait_ms),
    );
    let reading = &services.reading;
    let _route_slot = read
        .fetches
        .clone()
        .try_acquire_owned()
        .map_err(|_| too_many("fetches", route))?;
    let _slot = reading
        .fetches
        .clone()
        .try_acquire_owned()
        .map_err(|_| too_many("fetches", route))?;
    read.metrics.fetches.increment(1);
    let registered = reading.readers.register(reader("fetch", call, allowed));
    let mut stop = services.stop.clone();
    let records = reading
        .read(
            &allowed.tail,
            &position,
            max_records,
            max_bytes,
            Instant::now() + wait,
            &mut stop,
        )
        .await;
    read.metrics.fetches.decrement(1);
    let records = records?;
    let filters = &services.producing.filters;
    let sent = shape(filters, route, allowed, &mut position, records).await?;
    let lag = lag(&allowed.tail, &position);
    let schemas = services.producing.schemas.as_deref();
    if let Some(registry) = schemas {
        // Failing here sends nothing: the client asks again from where it was.
        crate::schemas::records::ready_to_decode(registry, &sent).await?;
    }
    if let Some((tracer, reader)) = call.trace() {
        tracer.received(&sent, reader, &route.name);
    }
    let mut body = Vec::with_capacity(render::size_hint(&sent, config.format) + 256);
    body.extend_from_slice(b"{\"records\":[");
    for (i, record) in sent.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        render::write(&mut body, record, config.format, schemas);
    }
    body.extend_from_slice(b"],\"next\":");
    let next = position.encode(allowed.tail.topic());
    serde_json::to_writer(&mut body, &next).map_err(|e| RequestError::Internal(e.to_string()))?;
    body.push(b'}');
    // The answer is only sent if the memory budget can hold it; else the client retries from
    // the same position.
    let _charge = services
        .memory
        .try_take(crate::memory::Use::Reads, body.len())
        .ok_or(RequestError::Overloaded)?;
    read.metrics.records.increment(sent.len() as u64);
    read.metrics.bytes.increment(body.len() as u64);
    read.metrics.lag.record(lag as f64);
    registered
        .reader
        .records
        .fetch_add(sent.len() as u64, std::sync::atomic::Ordering::Relaxed);
    registered
        .reader
        .lag
        .store(lag, std::sync::atomic::Ordering::Relaxed);
    call.records = sent.len();
    Ok(json_bytes(http::StatusCode::OK, body))
}

/// Moves `position` past `records` and runs them through the filters that see records.
pub(super) async fn shape(
    filters: &Filters,
    route: &Route,
    allowed: &Allowed,
    position: &mut Position,
    records: Vec<Arc<Record>>,
) -> Result<Vec<Record>, RequestError> {
    for record in &records {
        if let (Some(p), Some(o)) = (record.partition, record.offset) {
            position.0.insert(p, o + 1);
        }
    }
    // Records read for this client alone (catch-up) are moved; the tail's shared ones copied.
    let records: Vec<Record> = records
        .into_iter()
        .map(|r| Arc::try_unwrap(r).unwrap_or_else(|r| (*r).clone()))
        .collect();
    filters
        .run_consume(route, allowed.request.clone(), records)
        .await
}

/// Records between `position` and the log end.
pub(super) fn lag(tail: &Tail, position: &Position) -> i64 {
    let ends = tail.ends();
    position
        .0
        .iter()
        .map(|(p, o)| ends.0.get(p).map_or(0, |end| (end - o).max(0)))
        .sum()
}

/// The registry entry of a reader.
pub(super) fn reader(
    kind: &'static str,
    call: &Call<'_>,
    allowed: &Allowed,
) -> crate::read::streams::Reader {
    crate::read::streams::Reader {
        kind,
        route: call.route_name().to_owned(),
        topic: allowed.tail.topic().to_owned(),
        request_id: call.id.clone(),
        client: call.peer.addr.to_string(),
        started_ms: crate::clock::now_millis(),
        records: Default::default(),
        bytes: Default::default(),
        lag: Default::default(),
    }
}

pub(super) fn too_many(what: &'static str, route: &Route) -> RequestError {
    RequestError::TooManyReaders(format!(
        "the route {} or the gateway is at its limit of {what}",
        route.name
    ))
}

/// `Access-Control-Allow-Origin` for origins the route lists.
fn cors(read: &Read, origin: Option<http::HeaderValue>, response: &mut HttpResponse) {
    let allowed = &read.config.cors_origins;
    let value = match origin {
        _ if allowed.iter().any(|o| o == "*") => Some(http::HeaderValue::from_static("*")),
        Some(origin) if allowed.iter().any(|o| origin.as_bytes() == o.as_bytes()) => Some(origin),
        _ => None,
    };
    if let Some(value) = value {
        let headers = response.headers_mut();
        headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
            http::HeaderValue::from_static("x-request-id"),
        );
    }
}

/// `{path}/offsets?group=G`: GET answers the group's committed position, POST commits
/// `{"position": "<token>"}` (the group then starts there).
pub(crate) async fn offsets(
    call: &mut Call<'_>,
    services: &Services,
    route: &Route,
    read: &Arc<Read>,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    let (parts, body) = req.into_parts();
    let query = Query::parse(parts.uri.query())?;
    let Some(group) = query.group.clone() else {
        return Err(invalid("group", "the group's name").into());
    };
    let method = parts.method.clone();
    let memory = &services.memory;
    let body = super::body::read(body, &parts.headers, &call.snapshot.config.server, memory)
        .await?
        .bytes;
    let allowed = allow(call, services, route, read, parts, params).await?;
    let topic = allowed.tail.topic().to_owned();
    let reading = &services.reading;
    if method == http::Method::GET {
        let position = reading
            .committed(&group, &topic, &allowed.partitions)
            .await?;
        let body =
            json!({ "group": group, "position": position.encode(&topic), "offsets": position.0 });
        return Ok(super::json_response(http::StatusCode::OK, &body));
    }
    #[derive(serde::Deserialize)]
    struct Commit {
        position: String,
    }
    let commit: Commit = serde_json::from_slice(&body).map_err(|e| {
        RequestError::BadRequest(format!("expected {{\"position\": \"<token>\"}}: {e}"))
    })?;
    let mut position = Position::decode(&commit.position, &topic)
        .map_err(|e| RequestError::InvalidPosition(e.to_string()))?;
    position.0.retain(|p, _| allowed.partitions.contains(p));
    if position.0.is_empty() {
        return Err(RequestError::InvalidPosition(
            "the position names none of the route's partitions: nothing to commit".into(),
        )
        .into());
    }
    reading.commit(&group, &topic, position.clone()).await?;
    let body =
        json!({ "group": group, "position": position.encode(&topic), "offsets": position.0 });
    Ok(super::json_response(http::StatusCode::OK, &body))
}
