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
use super::{allow, blocking, json_body, ok, require_topic};
use crate::error::RequestError;
use crate::exchange::{Record, RequestInfo};
use crate::filter::ChainOutcome;
use crate::gateway::Shared;
use crate::memory::Use;
use crate::rest_proxy::formats::{self, Format};
use crate::rest_proxy::{errors, param, time};
use crate::schemas::Registry;
use crate::server::call::{Call, REQUEST_ID};
use crate::server::rescue::Failure;
use crate::server::{HttpResponse, filters};
use crate::snapshot::Route;

/// Reports a stream may have outstanding (records read but not yet answered).
const WINDOW: usize = 1024;

/// What a report says of a key or value: its type and size.
type Shape = Option<(&'static str, usize)>;

/// The registry schemas a record's key and value are encoded with after the filters.
type Ids = [Option<u32>; 2];

/// `POST …/records`: one record or a stream of them.
pub(super) async fn stream(
    call: &mut Call<'_>,
    route: &Arc<Route>,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    let topic = topic_of(&params)?;
    let (parts, incoming) = req.into_parts();
    json_only(&parts.headers)?;
    let (request, cluster_id) = match admit(call, route, parts, params, &topic).await? {
        Ok(admitted) => admitted,
        Err(answer) => return Ok(answer),
    };
    let (mut body, reports) = OrderedBody::new(WINDOW);
    let producing = Producing {
        shared: call.shared.clone(),
        route: route.clone(),
        request,
        topic,
        cluster_id,
        details: call.error_details(),
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
    let mut response = http::Response::new(http_body_util::BodyExt::boxed_unsync(body));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// `POST …/records:batch`: every entry produced, answered 207 with each entry's result.
pub(super) async fn batch(
    call: &mut Call<'_>,
    route: &Arc<Route>,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    let topic = topic_of(&params)?;
    let (parts, incoming) = req.into_parts();
    json_only(&parts.headers)?;
    let body = json_body(call, &parts.headers, incoming)
        .await?
        .unwrap_or(Value::Null);
    let Some(Value::Array(entries)) = body.get("entries").cloned() else {
        return Err(RequestError::InvalidBatch("expected {\"entries\": [...]}".into()).into());
    };
    let max = call.snapshot.config.server.max_records;
    if entries.is_empty() || entries.len() > max {
        return Err(RequestError::InvalidBatch(format!("entries: 1 to {max} records")).into());
    }
    let (request, cluster_id) = match admit(call, route, parts, params, &topic).await? {
        Ok(admitted) => admitted,
        Err(answer) => return Ok(answer),
    };
    let details = call.error_details();
    let mut ids = Vec::new();
    let mut failures = Vec::new();
    let mut parsed = Vec::new();
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
        match parse(entry, &topic, call.shared.schemas.as_deref()) {
            Ok(record) => parsed.push((id, record)),
            Err(e) => failures.push(failed(Some(&id), &e, details)),
        }
    }
    let producing = Producing {
        shared: call.shared.clone(),
        route: route.clone(),
        request,
        topic,
        cluster_id,
        details,
    };
    // All sent before any is awaited: one batch in Kafka, in entry order.
    let mut waiting = Vec::new();
    for (id, (record, key, value, ids)) in parsed {
        waiting.push((id, producing.send(record, key, value, ids).await));
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
    route: &Route,
    parts: http::request::Parts,
    params: Vec<(String, String)>,
    topic: &str,
) -> Result<Result<(Arc<RequestInfo>, String), HttpResponse>, Failure> {
    let topics = [topic.to_owned()];
    let request = match allow(call, route, parts, params.clone(), &topics, true).await? {
        Ok(request) => request,
        Err(answer) => return Ok(Err(answer)),
    };
    let cluster_id = target(call, &params, topic).await?;
    Ok(Ok((request, cluster_id)))
}

/// The cluster id, which the path must name; and the topic, which must exist.
async fn target(
    call: &Call<'_>,
    params: &[(String, String)],
    topic: &str,
) -> Result<String, Failure> {
    let shared = call.shared.clone();
    let cluster_id = blocking(move || shared.rest_proxy.cluster.id()).await?;
    let asked = param(params, "cluster_id");
    if asked != cluster_id {
        return Err(RequestError::NotFound(format!("Cluster {asked} cannot be found.")).into());
    }
    require_topic(call, topic).await?;
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

/// What producing on one request needs, shared by its records.
struct Producing {
    shared: Arc<Shared>,
    route: Arc<Route>,
    request: Arc<RequestInfo>,
    topic: String,
    cluster_id: String,
    details: bool,
}

impl Producing {
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
        let mut charge = self.shared.memory.force_take(Use::Bodies, 0);
        let (mut sent, mut ended) = (0usize, false);
        loop {
            while let Some(piece) = splitter.next(&buffer, ended) {
                let report = match piece {
                    Piece::Record(range) => match serde_json::from_slice::<Value>(&buffer[range]) {
                        Ok(value) => self.produce(value).await,
                        Err(e) => {
                            let error =
                                RequestError::BadRequest(format!("record {sent} is not JSON: {e}"));
                            self.refused(&error)
                        }
                    },
                    Piece::Garbage(_) => {
                        let error = RequestError::BadRequest(format!(
                            "record {sent} is not JSON: a record is a JSON object"
                        ));
                        self.refused(&error)
                    }
                };
                sent += 1;
                match tokio::time::timeout(idle, reports.send(report)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return self.ended(sent, "the client stopped reading"),
                    Err(_) => {
                        return self.ended(
                            sent,
                            "the client took no report within server.request_timeout_ms",
                        );
                    }
                }
            }
            if ended {
                return self.ended(sent, "the body ended");
            }
            // The record being read, not the chunk it came in, is what may not be too large.
            if splitter.pending() > max_record {
                let error = RequestError::BodyTooLarge {
                    limit: max_record as u64,
                };
                let _ = reports.send(self.refused(&error)).await;
                return self.ended(sent, "a record passed server.max_body_bytes");
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
                Ok(Some(Err(e))) => return self.ended(sent, &format!("the body failed: {e}")),
                Err(_) => {
                    let error = RequestError::RequestTimeout {
                        timeout_ms: idle.as_millis() as u64,
                    };
                    let _ = reports.send(self.refused(&error)).await;
                    return self.ended(sent, "no bytes within server.request_timeout_ms");
                }
            }
            let held = buffer.capacity();
            match held.checked_sub(charge.bytes()) {
                Some(more) => charge.force_grow(more),
                None => charge.shrink(charge.bytes() - held),
            }
        }
    }

    fn ended(&self, records: usize, why: &str) {
        tracing::info!(request_id = %self.request.id, topic = %self.topic, records, "record stream ended: {why}");
    }

    /// One record of the stream: parsed, filtered, queued; its report once acknowledged.
    async fn produce(&self, value: Value) -> Report {
        match parse(value, &self.topic, self.shared.schemas.as_deref()) {
            Ok((record, key, value, ids)) => self.send(record, key, value, ids).await,
            Err(e) => self.refused(&e),
        }
    }

    /// Runs the filters over `record`, encodes what they forward with the schemas `ids` name
    /// and queues it; the report is the first forwarded record's place.
    async fn send(&self, mut record: Record, key: Shape, value: Shape, ids: Ids) -> Report {
        record
            .timestamp
            .get_or_insert_with(|| crate::clock::now_millis() as i64);
        let timestamp = record.timestamp;
        let mut records = match filters::run(
            &self.shared,
            &self.route,
            self.request.clone(),
            vec![record],
        )
        .await
        {
            Ok(ChainOutcome::Forward(records)) if !records.is_empty() => records,
            Ok(ChainOutcome::Forward(_)) => {
                let error =
                    RequestError::Forbidden("the gateway's filters dropped the record".into());
                return self.refused(&error);
            }
            Ok(ChainOutcome::Respond(answer)) => {
                let code = u32::from(answer.status().as_u16()) * 100 + 1;
                let parsed: Value = serde_json::from_slice(answer.body()).unwrap_or_default();
                let message = parsed["error"]["message"]
                    .as_str()
                    .unwrap_or("refused by a filter");
                self.route
                    .metrics
                    .failed(&RequestError::Forbidden(message.to_owned()));
                return ready(json!({ "error_code": code, "message": message }));
            }
            Err(e) => return self.refused(&e),
        };
        let (mut key, mut value) = (key, value);
        if let (Some(registry), [k, v]) = (self.shared.schemas.as_deref(), ids)
            && (k.is_some() || v.is_some())
        {
            use crate::schemas::records::{Using, encode};
            if let Err(e) = encode(registry, &mut records, k.map(Using::Id), v.map(Using::Id)) {
                return self.refused(&e);
            }
            // The report gives the encoded sizes.
            let first = &records[0];
            for (shape, bytes) in [(&mut key, &first.key), (&mut value, &first.value)] {
                if let (Some((_, size)), Some(bytes)) = (shape.as_mut(), bytes) {
                    *size = bytes.len();
                }
            }
        }
        let id = Bytes::copy_from_slice(self.request.id.as_bytes());
        for r in &mut records {
            r.headers.push((REQUEST_ID.to_owned(), id.clone()));
        }
        let waiting = match self.shared.delivery.send_now(records) {
            Ok(waiting) => waiting,
            Err(e) => return self.refused(&e),
        };
        let (cluster_id, details, route) =
            (self.cluster_id.clone(), self.details, self.route.clone());
        Box::pin(async move {
            let results = waiting.await;
            let report = match results.into_iter().next().map(|(_, r)| r) {
                Some(Ok(crate::delivery::Accepted::Delivered(d))) => {
                    let mut report = Map::new();
                    report.insert("error_code".into(), json!(200));
                    report.insert("cluster_id".into(), json!(cluster_id));
                    report.insert("topic_name".into(), json!(d.topic));
                    report.insert("partition_id".into(), json!(d.partition));
                    report.insert("offset".into(), json!(d.offset));
                    if let Some(ms) = timestamp {
                        report.insert("timestamp".into(), json!(time::format(ms)));
                    }
                    for (name, shape) in [("key", key), ("value", value)] {
                        if let Some((kind, size)) = shape {
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
        "error_code": errors::code(error, true).1,
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

/// A v3 record for `topic`, with the shapes its report names and the schemas its key and
/// value are encoded with.
fn parse(
    value: Value,
    topic: &str,
    registry: Option<&Registry>,
) -> Result<(Record, Shape, Shape, Ids), RequestError> {
    let Value::Object(fields) = value else {
        return Err(RequestError::BadRequest("a record is a JSON object".into()));
    };
    let mut record = Record::new(topic);
    let (mut key, mut value, mut ids) = (None, None, [None, None]);
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
            "key" => (record.key, key, ids[0]) = data(field, topic, true, registry)?,
            "value" => (record.value, value, ids[1]) = data(field, topic, false, registry)?,
            other => {
                return Err(RequestError::BadRequest(format!(
                    "unknown field {other:?} (partition_id, headers, key, value, timestamp)"
                )));
            }
        }
    }
    Ok((record, key, value, ids))
}

/// `{"type", "data"}` as bytes, with its shape for the report; or, schema-based (no type, or
/// AVRO, PROTOBUF, JSONSCHEMA), the data as JSON and the schema it is encoded with: `schema_id`,
/// or a `subject` (default `{topic}-key` / `{topic}-value`) at `schema_version` (default the
/// latest).
fn data(
    field: Value,
    topic: &str,
    key: bool,
    registry: Option<&Registry>,
) -> Result<(Option<Bytes>, Shape, Option<u32>), RequestError> {
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
        let registry = registry.ok_or_else(|| {
            RequestError::NoSchemaRegistry(format!("{which} in a schema-based format"))
        })?;
        let id = schema_of(&mut fields, topic, which, registry)?;
        let data = fields.remove("data").unwrap_or(Value::Null);
        let stored = registry.schema(id);
        let kind = stored.as_ref().map_or("AVRO", |s| match s.kind {
            crate::schemas::Kind::Avro => "AVRO",
            crate::schemas::Kind::Protobuf => "PROTOBUF",
            crate::schemas::Kind::Json => "JSONSCHEMA",
        });
        if let Some(asked) = format
            && asked.name().to_ascii_uppercase() != kind
        {
            return Err(RequestError::InvalidData(format!(
                "{which}: type {} but schema {id} is {kind}",
                asked.name().to_ascii_uppercase()
            )));
        }
        let bytes = formats::encode(Format::Json, data, key)?;
        let (shape, id) = match bytes {
            Some(_) => (Some((kind, 0)), Some(id)),
            None => (None, None),
        };
        return Ok((bytes, shape, id));
    };
    let kind = format.name().to_ascii_uppercase();
    let data = fields.remove("data").unwrap_or(Value::Null);
    if let Some(other) = fields.keys().next() {
        return Err(RequestError::BadRequest(format!(
            "{which}.{other}: not used with type {kind}"
        )));
    }
    let bytes = formats::encode(format, data, key)?;
    let shape = bytes.as_ref().map(|b| (format_type(format), b.len()));
    Ok((bytes, shape, None))
}

/// The schema a schema-based key or value names: `schema_id`, or `subject` (default the topic
/// name strategy's) at `schema_version` (default `latest`).
fn schema_of(
    fields: &mut Map<String, Value>,
    topic: &str,
    which: &str,
    registry: &Registry,
) -> Result<u32, RequestError> {
    if fields.contains_key("schema") {
        return Err(RequestError::BadRequest(format!(
            "{which}.schema: inline schemas are not registered here; register it with the \
             schema registry (POST /subjects/{{subject}}/versions) and name schema_id or subject"
        )));
    }
    if let Some(id) = fields.remove("schema_id").filter(|v| !v.is_null()) {
        return id
            .as_u64()
            .and_then(|id| u32::try_from(id).ok())
            .ok_or_else(|| {
                RequestError::BadRequest(format!("{which}.schema_id {id}: expected a schema id"))
            });
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
    registry
        .version(&subject, version)
        .map(|(v, _)| v.id)
        .map_err(|_| RequestError::SchemaNotFound(subject))
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
        let (record, key, value, _) = parse(
            json!({"partition_id": 1, "headers": [{"name": "h", "value": "aGk="}],
                   "key": {"type": "STRING", "data": "k"}, "value": {"type": "JSON", "data": {"a": 1}},
                   "timestamp": "2021-02-05T19:14:42Z"}),
            "t",
            None,
        )
        .unwrap();
        assert_eq!(record.partition, Some(1));
        assert_eq!(record.headers, vec![("h".to_owned(), Bytes::from("hi"))]);
        assert_eq!(
            (record.key.as_deref(), key),
            (Some(&b"k"[..]), Some(("STRING", 1)))
        );
        assert_eq!(record.value.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(value, Some(("JSON", 7)));
        assert_eq!(record.timestamp, Some(1_612_552_482_000));
    }

    #[test]
    fn schema_types_and_bad_fields_are_refused_clearly() {
        let code = |v: Value| parse(v, "t", None).unwrap_err();
        assert_eq!(
            code(json!({"value": {"data": 1}})).code(),
            "no_schema_registry"
        );
        assert_eq!(
            code(json!({"value": {"type": "AVRO", "data": 1}})).code(),
            "no_schema_registry"
        );
        assert_eq!(
            code(json!({"value": {"type": "BINARY", "data": "%%"}})).code(),
            "invalid_data"
        );
        assert_eq!(
            code(json!({"value": {"type": "JSON", "schema_id": 1}})).code(),
            "bad_request"
        );
        assert_eq!(code(json!({"valu": {}})).code(), "bad_request");
        assert!(valid_id("a-1_B") && !valid_id("") && !valid_id("a b"));
    }
}
