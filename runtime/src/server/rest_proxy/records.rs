//! v3 produce. `POST …/topics/{t}/records` takes one record, or a stream of them (JSON objects
//! one after another in a chunked body) and answers one report per record, in order, as each
//! is acknowledged: a bad record gets its own `error_code` while the stream goes on.
//! `…/records:batch` takes `{"entries": [...]}` and answers 207 with successes and failures.
//!
//! A record: `{"partition_id", "headers": [{"name", "value" (base64)}], "key": {"type",
//! "data"}, "value": {"type", "data"}, "timestamp"}`; `type` is `BINARY`, `JSON` or `STRING`
//! (Avro, Protobuf and JSON Schema, or no type, need a schema registry: 42206).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Map, Value, json};

use super::ordered_body::{OrderedBody, Report};
use super::splitter::{Piece, Splitter};
use super::{allow, json_body, ok};
use crate::error::RequestError;
use crate::exchange::{Record, RequestInfo};
use crate::memory::{Memory, Use};
use crate::rest_proxy::formats::{self, Format};
use crate::rest_proxy::{param, time};
use crate::schemas::Kind;
use crate::server::call::{self, Call, Carried};
use crate::server::pipeline::{self, Deliver, Input, Producing, Schema, blocking};
use crate::server::rescue::Failure;
use crate::server::{HttpResponse, Services, dialect};
use crate::snapshot::Route;

/// Reports a stream may have outstanding (records read but not yet answered).
const WINDOW: usize = 1024;

/// `POST …/records`: one record or a stream of them.
pub(super) async fn stream(
    call: &mut Call<'_>,
    services: &Services,
    route: &Arc<Route>,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    let topic = topic_of(&params)?;
    let (parts, incoming) = req.into_parts();
    json_only(&parts.headers)?;
    let (request, cluster_id) = admit(call, services, route, parts, params, &topic).await?;
    let (mut body, reports) = OrderedBody::new(WINDOW);
    let carried = Arc::new(Carried::default());
    let producing = Stream {
        with: services.producing.clone(),
        memory: services.memory.clone(),
        route: route.clone(),
        request,
        topic,
        cluster_id,
        details: call.error_details(),
        carried: carried.clone(),
    };
    let server = &call.snapshot.config.server;
    let limits = (
        server.max_body_bytes as usize,
        Duration::from_millis(server.request_timeout_ms),
    );
    tokio::spawn(producing.drive(incoming, reports, limits));
    // The answer starts with the first record read: a body with none is REST Proxy's 422.
    if !body.started().await {
        let error = RequestError::InvalidBatch("the body holds no records".into());
        return Err(error.into());
    }
    let mut response = http::Response::new(body.boxed_unsync());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    call::streamed(&mut response, &carried);
    Ok(response)
}

/// `POST …/records:batch`: every entry produced, answered 207 with each entry's result.
pub(super) async fn batch(
    call: &mut Call<'_>,
    services: &Services,
    route: &Arc<Route>,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    let topic = topic_of(&params)?;
    let (parts, incoming) = req.into_parts();
    json_only(&parts.headers)?;
    let body = json_body(call, services, &parts.headers, incoming)
        .await?
        .unwrap_or(Value::Null);
    let Some(Value::Array(entries)) = body.get("entries").cloned() else {
        return Err(RequestError::InvalidBatch("expected {\"entries\": [...]}".into()).into());
    };
    let max = call.snapshot.config.server.max_records;
    if entries.is_empty() || entries.len() > max {
        return Err(RequestError::InvalidBatch(format!("entries: 1 to {max} records")).into());
    }
    let (request, cluster_id) = admit(call, services, route, parts, params, &topic).await?;
    let details = call.error_details();
    let mut ids = Vec::new();
    let mut failures = Vec::new();
    let mut parsed = Vec::new();
    let registry = services.producing.schemas.is_some();
    for mut entry in entries {
        let id = match entry.as_object_mut().and_then(|e| e.remove("id")) {
            Some(Value::String(id)) if valid_id(&id) => id,
            other => {
                let message = format!(
                    "each entry needs an \"id\": 1 to 80 of 0-9, a-z, A-Z, '-', '_'; got {other:?}"
                );
                return Err(RequestError::InvalidBatch(message).into());
            }
        };
        if ids.contains(&id) {
            return Err(
                RequestError::InvalidBatch(format!("entry id {id:?} appears twice")).into(),
            );
        }
        ids.push(id.clone());
        match parse(entry, &topic, registry) {
            Ok(record) => parsed.push((id, record)),
            Err(e) => failures.push(failed(Some(&id), &e, details)),
        }
    }
    let producing = Stream {
        with: services.producing.clone(),
        memory: services.memory.clone(),
        route: route.clone(),
        request,
        topic,
        cluster_id,
        details,
        carried: Arc::default(),
    };
    // All sent before any is awaited: one batch in Kafka, in entry order.
    let mut waiting = Vec::new();
    for (id, parsed) in parsed {
        waiting.push((id, producing.send(parsed).await));
    }
    let mut successes = Vec::new();
    for (id, report) in waiting {
        let mut answer: Value = serde_json::from_slice(&report.await).unwrap_or_default();
        answer["id"] = json!(id);
        if answer["error_code"] == json!(200) {
            answer.as_object_mut().map(|a| a.remove("error_code"));
            successes.push(answer);
        } else {
            failures.push(answer);
        }
    }
    call.records = successes.len() + failures.len();
    let status = StatusCode::from_u16(207).unwrap_or(StatusCode::OK);
    ok(
        status,
        true,
        &json!({ "successes": successes, "failures": failures }),
    )
}

/// The path's topic, checked as a name.
fn topic_of(params: &[(String, String)]) -> Result<String, RequestError> {
    let topic = param(params, "topic").to_owned();
    wafka_sdk::topic::check_name(&topic).map_err(RequestError::BadRequest)?;
    Ok(topic)
}

/// The filters' verdict on a produce to `topic`, then (so that who may ask is settled before
/// Kafka is asked anything) the cluster id the path must name and the topic's existence.
async fn admit(
    call: &Call<'_>,
    services: &Services,
    route: &Route,
    parts: http::request::Parts,
    params: Vec<(String, String)>,
    topic: &str,
) -> Result<(Arc<RequestInfo>, String), Failure> {
    let topics = [topic.to_owned()];
    let request = allow(call, services, route, parts, params.clone(), &topics).await?;
    let cluster_id = cluster_id(services, &params).await?;
    pipeline::require_topic(&services.producing.cluster, topic).await?;
    Ok((request, cluster_id))
}

/// The cluster id, which the path must name.
pub(super) async fn cluster_id(
    services: &Services,
    params: &[(String, String)],
) -> Result<String, RequestError> {
    let cluster = services.producing.cluster.clone();
    let cluster_id = blocking(move || cluster.id()).await?;
    let asked = param(params, "cluster_id");
    if asked != cluster_id {
        return Err(RequestError::NotFound(format!(
            "Cluster {asked} cannot be found."
        )));
    }
    Ok(cluster_id)
}

fn json_only(headers: &http::HeaderMap) -> Result<(), RequestError> {
    match headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        None => Ok(()),
        Some(v)
            if v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json") =>
        {
            Ok(())
        }
        Some(v) => Err(RequestError::UnsupportedMediaType(format!(
            "{v:?}: v3 produce takes application/json"
        ))),
    }
}

fn valid_id(id: &str) -> bool {
    (1..=80).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What producing one request's records needs, shared by its records.
struct Stream {
    with: Producing,
    memory: Arc<Memory>,
    route: Arc<Route>,
    request: Arc<RequestInfo>,
    topic: String,
    cluster_id: String,
    details: bool,
    /// What the stream carried and how it ended, for the access log at its end.
    carried: Arc<Carried>,
}

impl Stream {
    /// Reads records from the body as they arrive and queues a report for each, until the
    /// body ends, the client stops reading reports (none taken for `idle`), a record passes
    /// `max_record` bytes, or `idle` passes with no bytes.
    async fn drive(
        self,
        mut incoming: Incoming,
        reports: tokio::sync::mpsc::Sender<Report>,
        (max_record, idle): (usize, Duration),
    ) {
        let mut buffer: Vec<u8> = Vec::new();
        let mut splitter = Splitter::default();
        // The buffer is paid for like any body (it holds one record, and what came with it).
        let mut charge = self.memory.force_take(Use::Bodies, 0);
        let mut ended = false;
        loop {
            while let Some(piece) = splitter.next(&buffer, ended) {
                let sent = self
                    .carried
                    .records
                    .load(std::sync::atomic::Ordering::Relaxed);
                let report = match piece {
                    Piece::Record(range) => {
                        self.carried.sent(1, range.len());
                        match serde_json::from_slice::<Value>(&buffer[range]) {
                            Ok(value) => self.produce(value).await,
                            Err(e) => {
                                let error = RequestError::BadRequest(format!(
                                    "record {sent} is not JSON: {e}"
                                ));
                                self.refused(&error)
                            }
                        }
                    }
                    Piece::Garbage(range) => {
                        self.carried.sent(1, range.len());
                        let error = RequestError::BadRequest(format!(
                            "record {sent} is not JSON: a record is a JSON object"
                        ));
                        self.refused(&error)
                    }
                };
                match tokio::time::timeout(idle, reports.send(report)).await {
                    Ok(Ok(())) => {}
                    // The client left: the access log says `client_gone`.
                    Ok(Err(_)) => return,
                    Err(_) => return self.carried.ended("request_timeout"),
                }
            }
            if ended {
                return self.carried.ended("completed");
            }
            // The record being read, not the chunk it came in, is what may not be too large.
            if splitter.pending() > max_record {
                let error = RequestError::BodyTooLarge {
                    limit: max_record as u64,
                };
                let _ = reports.send(self.refused(&error)).await;
                return self.carried.ended("failed");
            }
            // What is before the current record is done with: dropped, so the buffer holds
            // one record at most (and what came in the same chunk).
            let done = buffer.len() - splitter.pending();
            if done > 0 {
                buffer.drain(..done);
                splitter.consumed(done);
            }
            if buffer.is_empty() && buffer.capacity() > 64 << 10 {
                buffer = Vec::new();
            }
            match tokio::time::timeout(idle, incoming.frame()).await {
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        buffer.extend_from_slice(&data);
                    }
                }
                Ok(None) => ended = true,
                Ok(Some(Err(_))) => return,
                Err(_) => {
                    let error = RequestError::RequestTimeout {
                        timeout_ms: idle.as_millis() as u64,
                    };
                    let _ = reports.send(self.refused(&error)).await;
                    return self.carried.ended("request_timeout");
                }
            }
            let held = buffer.capacity();
            match held.checked_sub(charge.bytes()) {
                Some(more) => charge.force_grow(more),
                None => charge.shrink(charge.bytes() - held),
            }
        }
    }

    /// One record of the stream: parsed, produced; its report once acknowledged.
    async fn produce(&self, value: Value) -> Report {
        match parse(value, &self.topic, self.with.schemas.is_some()) {
            Ok(parsed) => self.send(parsed).await,
            Err(e) => self.refused(&e),
        }
    }

    /// Produces `record` through the pipeline (its filters, schemas, queue); the report is
    /// the first forwarded record's place, once acknowledged.
    async fn send(&self, parsed: Parsed) -> Report {
        let Parsed {
            mut record,
            key,
            value,
        } = parsed;
        let timestamp = *record
            .timestamp
            .get_or_insert_with(|| crate::clock::now_millis() as i64);
        let input = Input {
            request: self.request.clone(),
            records: vec![record],
            key: key.as_ref().and_then(Typed::schema),
            value: value.as_ref().and_then(Typed::schema),
            topics_must_exist: true,
            keys: None,
            deliver: Deliver::Pipelined,
        };
        let produced = match pipeline::produce(&self.with, &self.route, input).await {
            Ok(produced) if produced.records > 0 => produced,
            Ok(_) => {
                let error =
                    RequestError::Forbidden("the gateway's filters dropped the record".into());
                return self.refused(&error);
            }
            Err(Failure::Answered(answer)) => {
                let message = dialect::filter_message(answer.body());
                self.route
                    .metrics
                    .failed(&RequestError::Forbidden(message.clone()));
                let code = dialect::filter_code(answer.status());
                return ready(json!({ "error_code": code, "message": message }));
            }
            Err(Failure::Error { error, .. }) => return self.refused(&error),
        };
        let registry = self.with.schemas.clone();
        let kind_of = move |typed: Option<Typed>, id: Option<u32>| match typed? {
            Typed::Plain(name) => Some(name),
            Typed::Schema(_) => {
                let kind = id
                    .and_then(|id| registry.as_ref()?.schema(id))
                    .map(|s| s.kind);
                Some(kind.and_then(Kind::name).unwrap_or("AVRO"))
            }
        };
        let shapes = [
            (
                "key",
                kind_of(key, produced.key_schema_id),
                produced.first_sizes.0,
            ),
            (
                "value",
                kind_of(value, produced.value_schema_id),
                produced.first_sizes.1,
            ),
        ];
        let (cluster_id, details, route) =
            (self.cluster_id.clone(), self.details, self.route.clone());
        let waiting = produced.results;
        Box::pin(async move {
            let results = waiting.wait().await;
            let report = match results.into_iter().next().map(|(_, r)| r) {
                Some(Ok(crate::delivery::Accepted::Delivered(d))) => {
                    let mut report = Map::new();
                    report.insert("error_code".into(), json!(200));
                    report.insert("cluster_id".into(), json!(cluster_id));
                    report.insert("topic_name".into(), json!(d.topic));
                    report.insert("partition_id".into(), json!(d.partition));
                    report.insert("offset".into(), json!(d.offset));
                    report.insert("timestamp".into(), json!(time::format(timestamp)));
                    for (name, kind, size) in shapes {
                        if let (Some(kind), Some(size)) = (kind, size) {
                            report.insert(name.into(), json!({ "type": kind, "size": size }));
                        }
                    }
                    Value::Object(report)
                }
                Some(Err(e)) => {
                    route.metrics.failed(&e);
                    failed(None, &e, details)
                }
                _ => failed(
                    None,
                    &RequestError::Internal("no delivery report".into()),
                    details,
                ),
            };
            line(&report)
        })
    }

    /// The report of a record that is not produced.
    fn refused(&self, error: &RequestError) -> Report {
        self.route.metrics.failed(error);
        tracing::debug!(request_id = %self.request.id, code = error.code(), "{error}");
        ready(failed(None, error, self.details))
    }
}

/// `{"error_code", "message"}` (with the entry's `id` in a batch).
fn failed(id: Option<&str>, error: &RequestError, details: bool) -> Value {
    let mut report = json!({
        "error_code": crate::rest_proxy::errors::code(error, true).1,
        "message": error.message(details),
    });
    if let Some(id) = id {
        report["id"] = json!(id);
    }
    report
}

fn line(report: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(report).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

fn ready(report: Value) -> Report {
    let bytes = line(&report);
    Box::pin(async move { bytes })
}

/// A v3 record as parsed: the record, and how its key and value are typed.
pub(super) struct Parsed {
    record: Record,
    key: Option<Typed>,
    value: Option<Typed>,
}

/// A key's or value's type, as its report names it.
#[derive(Debug, Clone, PartialEq)]
enum Typed {
    /// `BINARY`, `JSON` or `STRING`: the bytes as they are.
    Plain(&'static str),
    /// Schema-based: JSON until the pipeline encodes it with this schema.
    Schema(Schema),
}

impl Typed {
    fn schema(&self) -> Option<Schema> {
        match self {
            Typed::Schema(schema) => Some(schema.clone()),
            Typed::Plain(_) => None,
        }
    }
}

/// A v3 record for `topic`. Schema-based keys and values need a registry (`registry`).
pub(super) fn parse(value: Value, topic: &str, registry: bool) -> Result<Parsed, RequestError> {
    let Value::Object(fields) = value else {
        return Err(RequestError::BadRequest("a record is a JSON object".into()));
    };
    let mut record = Record::new(topic);
    let (mut key, mut value) = (None, None);
    for (name, field) in fields {
        match name.as_str() {
            _ if field.is_null() => {}
            "partition_id" => {
                let p = field
                    .as_i64()
                    .and_then(|p| i32::try_from(p).ok())
                    .filter(|p| *p >= 0);
                record.partition = Some(p.ok_or_else(|| {
                    RequestError::BadRequest("partition_id: expected a partition number".into())
                })?);
            }
            "timestamp" => {
                let ms = match &field {
                    Value::String(text) => time::parse(text),
                    Value::Number(n) => n.as_i64(),
                    _ => None,
                };
                record.timestamp = Some(ms.ok_or_else(|| {
                    RequestError::BadRequest(format!(
                        "timestamp {field}: expected RFC 3339 (2021-02-05T19:14:42Z)"
                    ))
                })?);
            }
            "headers" => record.headers = headers(field)?,
            "key" => (record.key, key) = data(field, topic, true, registry)?,
            "value" => (record.value, value) = data(field, topic, false, registry)?,
            other => {
                return Err(RequestError::BadRequest(format!(
                    "unknown field {other:?} (partition_id, headers, key, value, timestamp)"
                )));
            }
        }
    }
    Ok(Parsed { record, key, value })
}

/// `{"type", "data"}` as bytes and its type; or, schema-based (no type, or AVRO, PROTOBUF,
/// JSONSCHEMA), the data as JSON and the schema it is encoded with: `schema_id`, or a
/// `subject` (default `{topic}-key` / `{topic}-value`) at `schema_version` (default the
/// latest).
fn data(
    field: Value,
    topic: &str,
    key: bool,
    registry: bool,
) -> Result<(Option<Bytes>, Option<Typed>), RequestError> {
    let which = if key { "key" } else { "value" };
    let Value::Object(mut fields) = field else {
        return Err(RequestError::BadRequest(format!(
            "{which}: expected {{\"type\", \"data\"}}"
        )));
    };
    let format = match fields.remove("type") {
        Some(Value::String(kind)) => Some(Format::from_name(&kind).ok_or_else(|| {
            RequestError::BadRequest(format!(
                "{which}.type {kind:?}: use BINARY, JSON, STRING, AVRO, PROTOBUF or JSONSCHEMA"
            ))
        })?),
        // No type means a schema from the registry, as REST Proxy reads it.
        None | Some(Value::Null) => None,
        Some(other) => return Err(RequestError::BadRequest(format!("{which}.type {other}"))),
    };
    let Some(format) = format.filter(|f| !f.needs_schema()) else {
        if !registry {
            return Err(RequestError::NoSchemaRegistry(format!(
                "{which} in a schema-based format"
            )));
        }
        let kind = format.map(|f| match f {
            Format::Avro => Kind::Avro,
            Format::Protobuf => Kind::Protobuf,
            _ => Kind::Json,
        });
        let schema = schema_of(&mut fields, topic, which, kind)?;
        let data = fields.remove("data").unwrap_or(Value::Null);
        let bytes = formats::encode(Format::Json, data, key)?;
        let typed = bytes.as_ref().map(|_| Typed::Schema(schema));
        return Ok((bytes, typed));
    };
    let kind = format.name().to_ascii_uppercase();
    let data = fields.remove("data").unwrap_or(Value::Null);
    if let Some(other) = fields.keys().next() {
        return Err(RequestError::BadRequest(format!(
            "{which}.{other}: not used with type {kind}"
        )));
    }
    let bytes = formats::encode(format, data, key)?;
    let typed = bytes.as_ref().map(|_| Typed::Plain(format_type(format)));
    Ok((bytes, typed))
}

/// The schema a schema-based key or value names: `schema_id`, or `subject` (default the topic
/// name strategy's) at `schema_version` (default `latest`); of `kind` when the type named it.
fn schema_of(
    fields: &mut Map<String, Value>,
    topic: &str,
    which: &str,
    kind: Option<Kind>,
) -> Result<Schema, RequestError> {
    if fields.contains_key("schema") {
        return Err(RequestError::BadRequest(format!(
            "{which}.schema: inline schemas are not registered here; register it with the \
             schema registry (POST /subjects/{{subject}}/versions) and name schema_id or subject"
        )));
    }
    if let Some(id) = fields.remove("schema_id").filter(|v| !v.is_null()) {
        let id = id
            .as_u64()
            .and_then(|id| u32::try_from(id).ok())
            .ok_or_else(|| {
                RequestError::BadRequest(format!("{which}.schema_id {id}: expected a schema id"))
            })?;
        return Ok(Schema::Id { id, kind });
    }
    fields.remove("subject_name_strategy");
    let subject = match fields.remove("subject") {
        Some(Value::String(s)) => s,
        _ => format!("{topic}-{which}"),
    };
    let version = match fields.remove("schema_version") {
        None | Some(Value::Null) => None,
        Some(v) if v == "latest" => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| RequestError::BadRequest(format!("{which}.schema_version {v}")))?,
        ),
    };
    Ok(Schema::Subject {
        subject,
        version,
        kind,
    })
}

fn format_type(format: Format) -> &'static str {
    match format {
        Format::Binary => "BINARY",
        Format::String => "STRING",
        _ => "JSON",
    }
}

/// `[{"name", "value" (base64 or null)}]`.
fn headers(field: Value) -> Result<Vec<(String, Bytes)>, RequestError> {
    let bad =
        || RequestError::BadRequest("headers: expected [{\"name\", \"value\" (base64)}]".into());
    let Value::Array(items) = field else {
        return Err(bad());
    };
    items
        .into_iter()
        .map(|item| {
            let name = item.get("name").and_then(Value::as_str).ok_or_else(bad)?;
            let value = match item.get("value") {
                None | Some(Value::Null) => Bytes::new(),
                Some(Value::String(b64)) => Bytes::from(STANDARD.decode(b64).map_err(|_| bad())?),
                Some(_) => return Err(bad()),
            };
            Ok((name.to_owned(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_carry_typed_keys_values_headers_and_times() {
        let Parsed { record, key, value } = parse(
            json!({"partition_id": 1, "headers": [{"name": "h", "value": "aGk="}],
                   "key": {"type": "STRING", "data": "k"}, "value": {"type": "JSON", "data": {"a": 1}},
                   "timestamp": "2021-02-05T19:14:42Z"}),
            "t",
            false,
        )
        .unwrap();
        assert_eq!(record.partition, Some(1));
        assert_eq!(record.headers, vec![("h".to_owned(), Bytes::from("hi"))]);
        assert_eq!(
            (record.key.as_deref(), key),
            (Some(&b"k"[..]), Some(Typed::Plain("STRING")))
        );
        assert_eq!(record.value.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(value, Some(Typed::Plain("JSON")));
        assert_eq!(record.timestamp, Some(1_612_552_482_000));
    }

    #[test]
    fn schema_based_values_name_their_schema_for_the_pipeline() {
        let Parsed { record, value, .. } = parse(
            json!({"value": {"type": "AVRO", "subject": "s", "schema_version": 2, "data": {"a": 1}}}),
            "t",
            true,
        )
        .unwrap();
        assert_eq!(record.value.as_deref(), Some(&br#"{"a":1}"#[..]));
        let subject = Schema::Subject {
            subject: "s".into(),
            version: Some(2),
            kind: Some(Kind::Avro),
        };
        assert_eq!(value, Some(Typed::Schema(subject)));
        let Parsed { value, .. } =
            parse(json!({"value": {"schema_id": 7, "data": 1}}), "t", true).unwrap();
        let id = Schema::Id { id: 7, kind: None };
        assert_eq!(value, Some(Typed::Schema(id)));
        let Parsed { value, .. } = parse(json!({"value": {"data": 1}}), "t", true).unwrap();
        let default = Schema::Subject {
            subject: "t-value".into(),
            version: None,
            kind: None,
        };
        assert_eq!(value, Some(Typed::Schema(default)));
    }

    #[test]
    fn schema_types_and_bad_fields_are_refused_clearly() {
        let code = |v: Value| parse(v, "t", false).err().unwrap();
        assert_eq!(
            code(json!({"value": {"data": 1}})).code(),
            "no_schema_registry"
        );
        assert_eq!(
            code(json!({"value": {"type": "AVRO", "data": 1}})).code(),
            "no_schema_registry"
        );
        // Not base64: a bad request, as REST Proxy answers it.
        assert_eq!(
            code(json!({"value": {"type": "BINARY", "data": "%%"}})).code(),
            "bad_request"
        );
        assert_eq!(
            code(json!({"value": {"type": "JSON", "schema_id": 1}})).code(),
            "bad_request"
        );
        assert_eq!(code(json!({"valu": {}})).code(), "bad_request");
        assert!(valid_id("a-1_B") && !valid_id("") && !valid_id("a b"));
    }
}
