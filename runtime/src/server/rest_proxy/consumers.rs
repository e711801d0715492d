//! v2 consumer instances: `POST /consumers/{group}` creates one; its `base_uri` then takes
//! `subscription`, `assignments`, `records`, `offsets`, `positions[/beginning|/end]` and
//! `DELETE`. The instance lives in this gateway (`rest_proxy::instances`): the `base_uri`
//! names this gateway, so clients come back to it.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use hyper::body::Incoming;
use rdkafka::Offset;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{allow, base_url, field, json_body, no_content, ok};
use crate::error::RequestError;
use crate::rest_proxy::formats::{self, Format};
use crate::rest_proxy::instances::{Instance, Place, Settings};
use crate::rest_proxy::{Op, param};
use crate::server::call::Call;
use crate::server::pipeline::blocking;
use crate::server::rescue::Failure;
use crate::server::{HttpResponse, Services};
use crate::snapshot::{Dialect, Route};

/// REST Proxy's default wait of a records call (`consumer.request.timeout.ms`).
const DEFAULT_WAIT: Duration = Duration::from_millis(1000);

/// The longest `consumer.request.timeout.ms` an instance may set: a records call holds a
/// connection and the instance's turn that long (a fetch waits at most this anyway).
const MAX_WAIT_MS: i64 = crate::rest_proxy::instances::MAX_FETCH_WAIT.as_millis() as i64;

/// REST Proxy's range of `fetch.min.bytes`.
const FETCH_MIN_BYTES: std::ops::RangeInclusive<i64> = -1..=10_000_000;

#[derive(Deserialize)]
struct Partition {
    topic: String,
    partition: i32,
}

#[derive(Deserialize)]
struct PartitionOffset {
    topic: String,
    partition: i32,
    offset: i64,
}

pub(super) async fn serve(
    call: &mut Call<'_>,
    services: &Services,
    route: &Arc<Route>,
    op: Op,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    let group = param(&params, "group").to_owned();
    wafka_sdk::topic::check_name(&group)
        .map_err(|e| RequestError::BadRequest(format!("consumer group: {e}")))?;
    if op == Op::CreateConsumer {
        return create(call, services, route, group, params, req).await;
    }
    let name = param(&params, "instance").to_owned();
    // Looked up in memory only; whether it exists is told once the filters allowed the call.
    let found = services.consumers.get(&group, &name).map(|i| Held(Some(i)));
    let (parts, incoming) = req.into_parts();
    let method = parts.method.clone();
    let accept = parts
        .headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let query = parts.uri.query().map(str::to_owned);
    let reads_body = matches!(
        (op, &method),
        (
            Op::Subscription | Op::Assignments | Op::Seek | Op::SeekBeginning | Op::SeekEnd,
            &Method::POST
        ) | (Op::Offsets, _)
    );
    let body = if reads_body {
        json_body(call, services, &parts.headers, incoming).await?
    } else {
        None
    };
    // The topics the call touches, for the filters.
    let topics = match (op, &method) {
        (Op::Subscription, &Method::POST) => subscription_topics(body.as_ref())?,
        (Op::DeleteConsumer | Op::Subscription, _) | (Op::Assignments, &Method::GET) => Vec::new(),
        (Op::Offsets | Op::Seek | Op::SeekBeginning | Op::SeekEnd | Op::Assignments, _) => {
            topics_of(body.as_ref())
        }
        _ => found
            .as_ref()
            .ok()
            .and_then(|h| h.0.as_ref())
            .map_or_else(Vec::new, |i| i.topics()),
    };
    let request = allow(call, services, route, parts, params, &topics).await?;
    let held = found?;
    let instance = held.0.as_ref().expect("held until dropped").clone();
    let body = body.unwrap_or(Value::Null);
    match (op, method) {
        (Op::DeleteConsumer, _) => {
            let removed = services.consumers.remove(&group, &name)?;
            services.consumers.close_later(removed);
            Ok(no_content())
        }
        (Op::Subscription, Method::POST) => {
            run(&instance, move |i| i.subscribe(topics)).await?;
            Ok(no_content())
        }
        (Op::Subscription, Method::GET) => ok(
            StatusCode::OK,
            false,
            &json!({ "topics": instance.subscription() }),
        ),
        (Op::Subscription, _) => {
            run(&instance, |i| {
                i.unsubscribe();
                Ok(())
            })
            .await?;
            Ok(no_content())
        }
        (Op::Assignments, Method::POST) => {
            let partitions = partitions(&body)?;
            run(&instance, move |i| i.assign(partitions)).await?;
            Ok(no_content())
        }
        (Op::Assignments, _) => {
            let held = run(&instance, |i| i.assignment()).await?;
            let listed: Vec<Value> = held
                .into_iter()
                .map(|(topic, partition)| json!({"topic": topic, "partition": partition}))
                .collect();
            ok(StatusCode::OK, false, &json!({ "partitions": listed }))
        }
        (Op::Records, _) => {
            let asked = (accept.as_deref(), query.as_deref());
            records(call, services, route, request, instance, asked).await
        }
        (Op::Offsets, Method::POST) => {
            let offsets = commit_offsets(&body)?;
            run(&instance, move |i| i.commit(offsets)).await?;
            ok(StatusCode::OK, false, &json!([]))
        }
        (Op::Offsets, _) => {
            if body.get("partitions").is_none() {
                return Err(RequestError::BadRequest(
                    "GET offsets needs a body {\"partitions\": [{\"topic\", \"partition\"}]}"
                        .into(),
                )
                .into());
            }
            let asked = partitions(&body)?;
            let found = run(&instance, move |i| i.committed(&asked)).await?;
            let listed: Vec<Value> = found
                .into_iter()
                .map(|(topic, partition, offset)| {
                    json!({"topic": topic, "partition": partition, "offset": offset, "metadata": ""})
                })
                .collect();
            ok(StatusCode::OK, false, &json!({ "offsets": listed }))
        }
        (Op::Seek, _) => {
            let places = seek_places(&body)?;
            run(&instance, move |i| i.seek(&places)).await?;
            Ok(no_content())
        }
        (Op::SeekBeginning | Op::SeekEnd, _) => {
            let edge = if op == Op::SeekBeginning {
                Offset::Beginning
            } else {
                Offset::End
            };
            let places: Vec<_> = partitions(&body)?
                .into_iter()
                .map(|(topic, partition)| (topic, partition, edge))
                .collect();
            run(&instance, move |i| i.seek(&places)).await?;
            Ok(no_content())
        }
        _ => Err(RequestError::Internal(format!("{op:?} is not a consumer operation")).into()),
    }
}

/// Longest a call waits for its turn on a busy instance before 409.
const TURN_WAIT: Duration = Duration::from_secs(35);

/// Runs `f` on the instance on a blocking thread, once the calls before it are done. The turn
/// goes with `f`: a client that leaves does not let the next call block a thread on it.
async fn run<T: Send + 'static>(
    instance: &Arc<Instance>,
    f: impl FnOnce(&Instance) -> Result<T, RequestError> + Send + 'static,
) -> Result<T, RequestError> {
    let turn = tokio::time::timeout(TURN_WAIT, instance.turn.clone().lock_owned())
        .await
        .map_err(|_| {
            RequestError::ConsumerState("the consumer instance is busy with another call".into())
        })?;
    let instance = Held(Some(instance.clone()));
    blocking(move || {
        let _turn = turn;
        f(instance.0.as_ref().expect("held until dropped"))
    })
    .await
}

/// An instance a call holds. The last holder of a deleted or expired instance closes its
/// consumer, which waits on Kafka: on a blocking thread, never on the runtime's.
struct Held(Option<Arc<Instance>>);

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(instance) = self.0.take()
            && Arc::strong_count(&instance) == 1
            && tokio::runtime::Handle::try_current().is_ok()
        {
            tokio::task::spawn_blocking(move || drop(instance));
        }
    }
}

/// `POST /consumers/{group}`.
async fn create(
    call: &mut Call<'_>,
    services: &Services,
    route: &Arc<Route>,
    group: String,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    let (parts, incoming) = req.into_parts();
    let body = json_body(call, services, &parts.headers, incoming)
        .await?
        .unwrap_or(json!({}));
    let base = base_url(call, services, &parts.headers, &parts.uri);
    let registry = services.producing.schemas.is_some();
    let settings = settings(&body, &call.id, registry)?;
    allow(call, services, route, parts, params, &[]).await?;
    let limits = call
        .snapshot
        .config
        .rest_proxy
        .clone()
        .ok_or_else(|| RequestError::Internal("no [rest_proxy]".into()))?;
    let instances = services.consumers.clone();
    let at = group.clone();
    let instance = blocking(move || instances.create(&at, settings, &limits)).await?;
    tracing::info!(request_id = %call.id, group = %group, instance = %instance.name, "consumer instance created");
    let answer = json!({
        "instance_id": instance.name,
        "base_uri": format!("{base}/consumers/{group}/instances/{}", instance.name),
    });
    ok(StatusCode::OK, false, &answer)
}

/// A key or value in the consumer's format: schema-based formats decoded with the registry
/// (data it cannot decode shown as base64, so one record does not wedge the consumer).
fn shown_as(
    format: Format,
    schemas: Option<&crate::schemas::Registry>,
    bytes: Option<&[u8]>,
) -> Value {
    if let (true, Some(registry), Some(data)) = (format.needs_schema(), schemas, bytes)
        && let Some((_, json)) = crate::schemas::records::decode(registry, data)
    {
        return json;
    }
    formats::decode(format, bytes)
}

/// A create request's settings; REST Proxy's names, strings or JSON values alike.
/// Schema-based formats need the embedded registry (`registry`).
pub(super) fn settings(
    body: &Value,
    request_id: &str,
    registry: bool,
) -> Result<Settings, RequestError> {
    let Value::Object(fields) = body else {
        return Err(RequestError::BadRequest("expected a JSON object".into()));
    };
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let invalid =
        |m: String| RequestError::InvalidParameter(format!("Invalid consumer configuration: {m}"));
    let mut settings = Settings {
        name: format!("rest-consumer-{request_id}"),
        format: Format::Binary,
        offset_reset: "latest".into(),
        auto_commit: true,
        fetch_min_bytes: None,
        request_wait: DEFAULT_WAIT,
    };
    let number = |key: &str, value: &Value, range: std::ops::RangeInclusive<i64>| {
        let n = match value {
            Value::String(s) => s.trim().parse::<i64>().ok(),
            v => v.as_i64(),
        };
        n.filter(|n| range.contains(n)).ok_or_else(|| {
            invalid(format!(
                "{key} {value}: a whole number from {} to {}",
                range.start(),
                range.end()
            ))
        })
    };
    let mut ignored = Vec::new();
    for (key, value) in fields {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "name" | "id" => settings.name = text(value),
            "format" => {
                settings.format = Format::from_name(&text(value))
                    .filter(|f| *f != Format::String)
                    .ok_or_else(|| {
                        invalid(format!(
                            "format {value}: use binary, json, avro, protobuf or jsonschema"
                        ))
                    })?;
                if settings.format.needs_schema() && !registry {
                    return Err(formats::no_registry(settings.format));
                }
            }
            "auto.offset.reset" => {
                settings.offset_reset = match text(value).as_str() {
                    "earliest" | "smallest" => "earliest".into(),
                    "latest" | "largest" => "latest".into(),
                    "none" => "error".into(),
                    other => return Err(invalid(format!("auto.offset.reset {other:?}"))),
                }
            }
            "auto.commit.enable" => {
                settings.auto_commit = match text(value).as_str() {
                    "true" => true,
                    "false" => false,
                    other => return Err(invalid(format!("auto.commit.enable {other:?}"))),
                }
            }
            "fetch.min.bytes" => {
                let n = number(key, value, FETCH_MIN_BYTES)?;
                settings.fetch_min_bytes = u32::try_from(n).ok().filter(|n| *n > 0);
            }
            "consumer.request.timeout.ms" => {
                let ms = number(key, value, 0..=MAX_WAIT_MS)?;
                settings.request_wait = Duration::from_millis(ms as u64);
            }
            // Anything else (librdkafka or Java client settings) is ignored, as REST Proxy's
            // older versions do, and said so: the gateway's own consumer settings apply, and
            // nothing a client sends reaches librdkafka unchecked.
            other => ignored.push(other.to_owned()),
        }
    }
    if !ignored.is_empty() {
        tracing::info!(request_id, ?ignored, "consumer settings ignored");
    }
    let valid = !settings.name.is_empty()
        && settings.name.len() <= 249
        && settings
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        return Err(invalid(format!(
            "name {:?}: use 1 to 249 characters of a-z, A-Z, 0-9, '.', '_', '-'",
            settings.name
        )));
    }
    Ok(settings)
}

/// `GET …/records?timeout=&max_bytes=`: the next records, in the instance's format, after the
/// filters that see records reshaped them.
async fn records(
    call: &mut Call<'_>,
    services: &Services,
    route: &Arc<Route>,
    request: Arc<crate::exchange::RequestInfo>,
    instance: Arc<Instance>,
    (accept, query): (Option<&str>, Option<&str>),
) -> Result<HttpResponse, Failure> {
    formats::v2_accepts(accept, instance.format)?;
    let limit = call
        .snapshot
        .config
        .rest_proxy
        .as_ref()
        .map_or(1 << 20, |c| c.consumer_buffer_bytes);
    let (mut wait, mut max_bytes) = (instance.request_wait, limit);
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let number = |least: u64| {
            value
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= least)
                .ok_or_else(|| {
                    RequestError::InvalidParameter(format!(
                        "{key} {value:?}: expected a whole number from {least}"
                    ))
                })
        };
        match &*key {
            // Used when shorter than the instance's `consumer.request.timeout.ms`, as REST
            // Proxy documents.
            "timeout" => wait = wait.min(Duration::from_millis(number(0)?)),
            "max_bytes" => max_bytes = usize::try_from(number(1)?).unwrap_or(limit).min(limit),
            _ => {}
        }
    }
    let read = run(&instance, move |i| i.poll(wait, max_bytes)).await?;
    let kept = read.clone();
    let filters = &services.producing.filters;
    let shown = match filters.run_consume(route, request, read).await {
        Ok(shown) => shown,
        Err(e) => {
            // Not answered: the next fetch starts at these records again.
            let _ = run(&instance, move |i| {
                i.rewind(&kept);
                Ok(())
            })
            .await;
            return Err(e.into());
        }
    };
    let schemas = services.producing.schemas.as_deref();
    if let Some(registry) = schemas
        && instance.format.needs_schema()
        && let Err(e) = crate::schemas::records::ready_to_decode(registry, &shown).await
    {
        // Not answered: the next fetch starts at these records again.
        let _ = run(&instance, move |i| {
            i.rewind(&kept);
            Ok(())
        })
        .await;
        return Err(e.into());
    }
    run(&instance, move |i| i.handed_out(&kept)).await?;
    call.records = shown.len();
    if let Some((tracer, reader)) = call.trace() {
        tracer.received(&shown, reader, &route.name);
    }
    let format = instance.format;
    let listed: Vec<Value> = shown
        .iter()
        .map(|r| {
            json!({
                "topic": r.topic,
                "key": shown_as(format, schemas, r.key.as_deref()),
                "value": shown_as(format, schemas, r.value.as_deref()),
                "partition": r.partition,
                "offset": r.offset,
                // Not in Confluent's v2 answers (Karapace has it): the record's time, in ms.
                "timestamp": r.timestamp,
            })
        })
        .collect();
    let bytes = serde_json::to_vec(&listed).map_err(|e| RequestError::Internal(e.to_string()))?;
    let mut response = crate::server::dialect::json(Dialect::RestProxyV2, StatusCode::OK, bytes);
    let media = format!("application/vnd.kafka.{}.v2+json", format.name());
    if let Ok(v) = http::HeaderValue::from_str(&media) {
        response.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    Ok(response)
}

/// `{"topics": [...]}`; a `topic_pattern` is not served (the filters could not see its topics).
fn subscription_topics(body: Option<&Value>) -> Result<Vec<String>, RequestError> {
    let body = body.unwrap_or(&Value::Null);
    if let Some(topics) = field::<Vec<String>>(body, "topics")? {
        if topics.is_empty() {
            return Err(RequestError::InvalidParameter(
                "topics may not be empty".into(),
            ));
        }
        for topic in &topics {
            wafka_sdk::topic::check_name(topic).map_err(RequestError::InvalidParameter)?;
        }
        return Ok(topics);
    }
    if body.get("topic_pattern").is_some() {
        return Err(RequestError::NotSupported(
            "topic_pattern subscriptions are not served: list the topics".into(),
        ));
    }
    Err(RequestError::InvalidParameter(
        "the body must list topics".into(),
    ))
}

/// Topics named in a body's `partitions` or `offsets`.
fn topics_of(body: Option<&Value>) -> Vec<String> {
    let mut topics: Vec<String> = ["partitions", "offsets"]
        .iter()
        .filter_map(|k| body?.get(*k)?.as_array())
        .flatten()
        .filter_map(|p| p.get("topic")?.as_str().map(str::to_owned))
        .collect();
    topics.sort();
    topics.dedup();
    topics
}

/// `{"partitions": [{"topic", "partition"}]}`.
pub(super) fn partitions(body: &Value) -> Result<Vec<(String, i32)>, RequestError> {
    let listed: Vec<Partition> = field(body, "partitions")?.unwrap_or_default();
    listed
        .into_iter()
        .map(|p| place(&p.topic, p.partition).map(|()| (p.topic, p.partition)))
        .collect()
}

/// A topic and partition a client names, checked before librdkafka sees them (it reads
/// negative partitions as "unassigned" and worse).
fn place(topic: &str, partition: i32) -> Result<(), RequestError> {
    wafka_sdk::topic::check_name(topic).map_err(RequestError::InvalidParameter)?;
    if partition < 0 {
        return Err(RequestError::InvalidParameter(format!(
            "partition {partition} of {topic}: partitions are numbered from 0"
        )));
    }
    Ok(())
}

/// `{"offsets": [{"topic", "partition", "offset"}]}` of a seek: real offsets only (librdkafka
/// reads negative ones as "the end", "the beginning" or "n from the end").
pub(super) fn seek_places(body: &Value) -> Result<Vec<(String, i32, Offset)>, RequestError> {
    let listed: Vec<PartitionOffset> = field(body, "offsets")?.unwrap_or_default();
    listed
        .into_iter()
        .map(|p| {
            place(&p.topic, p.partition)?;
            if p.offset < 0 {
                return Err(RequestError::InvalidParameter(format!(
                    "offset {} of {} partition {}: offsets are from 0 (seek to the beginning \
                     or end with positions/beginning and positions/end)",
                    p.offset, p.topic, p.partition
                )));
            }
            Ok((p.topic, p.partition, Offset::Offset(p.offset)))
        })
        .collect()
}

/// What a commit commits. REST Proxy's `{"offsets": [...]}` names the last record processed,
/// so the next offset is one more; Redpanda's `{"partitions": [...]}` names the next offset
/// itself. No body: what the instance has handed out.
pub(super) fn commit_offsets(body: &Value) -> Result<Option<Vec<Place>>, RequestError> {
    let next = |listed: Vec<PartitionOffset>, add: i64| {
        listed
            .into_iter()
            .map(|p| {
                place(&p.topic, p.partition)?;
                match p.offset.checked_add(add).filter(|o| *o >= 0) {
                    Some(offset) => Ok((p.topic, p.partition, offset)),
                    None => Err(RequestError::InvalidParameter(format!(
                        "offset {} of {} partition {} is not an offset",
                        p.offset, p.topic, p.partition
                    ))),
                }
            })
            .collect::<Result<Vec<_>, _>>()
    };
    if let Some(listed) = field::<Vec<PartitionOffset>>(body, "offsets")? {
        return Ok(Some(next(listed, 1)?).filter(|l| !l.is_empty()));
    }
    if let Some(listed) = field::<Vec<PartitionOffset>>(body, "partitions")? {
        return Ok(Some(next(listed, 0)?).filter(|l| !l.is_empty()));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_follow_each_proxys_meaning_of_offset() {
        let confluent = json!({"offsets": [{"topic": "t", "partition": 0, "offset": 20}]});
        assert_eq!(
            commit_offsets(&confluent).unwrap(),
            Some(vec![("t".into(), 0, 21)])
        );
        let redpanda = json!({"partitions": [{"topic": "t", "partition": 0, "offset": 21}]});
        assert_eq!(
            commit_offsets(&redpanda).unwrap(),
            Some(vec![("t".into(), 0, 21)])
        );
        assert_eq!(commit_offsets(&json!({})).unwrap(), None);
        assert_eq!(commit_offsets(&Value::Null).unwrap(), None);
        let huge = json!({"offsets": [{"topic": "t", "partition": 0, "offset": i64::MAX}]});
        assert_eq!(
            commit_offsets(&huge).unwrap_err().code(),
            "invalid_parameter"
        );
        let negative = json!({"offsets": [{"topic": "t", "partition": -1, "offset": 1}]});
        assert!(commit_offsets(&negative).is_err());
        assert!(seek_places(&negative).is_err());
        assert!(partitions(&json!({"partitions": [{"topic": "t", "partition": -2}]})).is_err());
        assert!(partitions(&json!({"partitions": [{"topic": "a/b", "partition": 0}]})).is_err());
        let back = json!({"offsets": [{"topic": "t", "partition": 0, "offset": -2}]});
        assert!(seek_places(&back).is_err());
    }

    #[test]
    fn consumer_settings_take_strings_or_values_and_ignore_unknowns() {
        let s = settings(&json!({"name": "c1", "format": "JSON", "auto.offset.reset": "smallest", "auto.commit.enable": "false"}), "r", false).unwrap();
        assert_eq!(
            (
                s.name.as_str(),
                s.format,
                s.offset_reset.as_str(),
                s.auto_commit
            ),
            ("c1", Format::Json, "earliest", false)
        );
        assert!(
            settings(&json!({}), "r1", false)
                .unwrap()
                .name
                .ends_with("r1")
        );
        assert!(
            settings(
                &json!({"topic.metadata.refresh.interval.ms": "100"}),
                "r",
                false
            )
            .is_ok()
        );
        for bad in [
            json!({"fetch.min.bytes": -10}),
            json!({"fetch.min.bytes": "x"}),
            json!({"consumer.request.timeout.ms": -1}),
            json!({"fetch.min.bytes": 10_000_001}),
        ] {
            assert_eq!(
                settings(&bad, "r", false).unwrap_err().code(),
                "invalid_parameter"
            );
        }
        let s = settings(
            &json!({"fetch.min.bytes": "512", "consumer.request.timeout.ms": 250}),
            "r",
            false,
        )
        .unwrap();
        assert_eq!(
            (s.fetch_min_bytes, s.request_wait),
            (Some(512), Duration::from_millis(250))
        );
        assert_eq!(
            settings(&json!({"format": "avro"}), "r", false)
                .unwrap_err()
                .code(),
            "no_schema_registry"
        );
        assert_eq!(
            settings(&json!({"format": "avro"}), "r", true)
                .unwrap()
                .format,
            Format::Avro
        );
        assert!(settings(&json!({"name": "a/b"}), "r", false).is_err());
    }
}
