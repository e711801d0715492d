//! v2 produce: `POST /topics/{topic}` and `/topics/{topic}/partitions/{partition}` with
//! `{"records":[{"key","value","partition"}]}` in the `binary` or `json` embedded format, or
//! `avro`, `protobuf` and `jsonschema` with the embedded registry: `value_schema` (registered
//! under `{topic}-value`) or `value_schema_id`, and the same for keys; values are JSON, encoded
//! after the filters as routes' `value_schema` are. The answer lists each record's partition
//! and offset, or its error, in request order; Kafka's failures of single records do not fail
//! the request (REST Proxy answers 200).

use std::sync::Arc;

use http::StatusCode;
use hyper::body::Incoming;
use serde::Serialize;
use serde_json::Value;

use super::{json_body, ok};
use crate::delivery::Accepted;
use crate::error::RequestError;
use crate::exchange::{Access, Record};
use crate::rest_proxy::formats::{self, Format};
use crate::rest_proxy::{errors, param, partition_param};
use crate::schemas::Kind;
use crate::server::call::Call;
use crate::server::pipeline::{self, Deliver, Input, Schema};
use crate::server::rescue::Failure;
use crate::server::{HttpResponse, Services};
use crate::snapshot::Route;

#[derive(Serialize)]
struct Answer {
    offsets: Vec<Placed>,
    key_schema_id: Option<u32>,
    value_schema_id: Option<u32>,
}

#[derive(Serialize)]
struct Placed {
    partition: Option<i32>,
    offset: Option<i64>,
    error_code: Option<u32>,
    error: Option<String>,
}

pub(super) async fn serve(
    call: &mut Call<'_>,
    services: &Services,
    route: &Arc<Route>,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    let topic = param(&params, "topic").to_owned();
    let partition = partition_param(&params)
        .transpose()
        .map_err(RequestError::BadRequest)?;
    wafka_sdk::topic::check_name(&topic).map_err(RequestError::BadRequest)?;
    let (parts, incoming) = req.into_parts();
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let format = formats::v2_produce_format(content_type)?;
    let body = json_body(call, services, &parts.headers, incoming)
        .await?
        .ok_or_else(|| RequestError::InvalidBatch("the body holds no records".into()))?;
    let max = call.snapshot.config.server.max_records;
    let (records, declared) = parse(body, &topic, partition, format, max)?;
    let (key, value) = match declared {
        None => (None, None),
        Some(_) if services.producing.schemas.is_none() => {
            return Err(formats::no_registry(format).into());
        }
        Some(declared) => (
            declared.key.map(|d| d.schema(&topic, "key", format)),
            declared.value.map(|d| d.schema(&topic, "value", format)),
        ),
    };
    let input = Input {
        request: call.request_info(parts, params, bytes::Bytes::new(), Access::Write),
        records,
        key,
        value,
        topics_must_exist: true,
        keys: call
            .snapshot
            .config
            .rest_proxy
            .as_ref()
            .and_then(|r| r.idempotency.clone()),
        deliver: Deliver::Sync {
            spool_when_down: false,
        },
    };
    let produced = pipeline::produce(&services.producing, route, input).await?;
    let results = produced.results.wait().await;
    call.records = results.len();
    let details = call.error_details();
    let offsets = results
        .into_iter()
        .map(|(_, result)| match result {
            Ok(Accepted::Delivered(d)) => Placed {
                partition: Some(d.partition),
                offset: Some(d.offset),
                error_code: None,
                error: None,
            },
            Ok(_) => Placed {
                partition: None,
                offset: None,
                error_code: Some(50003),
                error: Some("not acknowledged".into()),
            },
            Err(e) => Placed {
                partition: None,
                offset: None,
                error_code: Some(errors::record_code(&e)),
                error: Some(e.message(details)),
            },
        })
        .collect();
    let answer = Answer {
        offsets,
        key_schema_id: produced.key_schema_id,
        value_schema_id: produced.value_schema_id,
    };
    let replayed = produced.replayed;
    Ok(super::super::answer::replayed(
        ok(StatusCode::OK, false, &answer)?,
        replayed,
    ))
}

/// A schema a request names for its keys or values.
#[derive(Debug, PartialEq)]
enum Declared {
    /// `value_schema_id`.
    Id(u32),
    /// `value_schema`: the schema's text, registered before use.
    Text(String),
}

impl Declared {
    /// What the pipeline encodes with: an id, or the text registered under `{topic}-key` /
    /// `{topic}-value` as REST Proxy does; of the format's kind.
    fn schema(self, topic: &str, which: &str, format: Format) -> Schema {
        let kind = match format {
            Format::Avro => Kind::Avro,
            Format::Protobuf => Kind::Protobuf,
            _ => Kind::Json,
        };
        match self {
            Declared::Id(id) => Schema::Id {
                id,
                kind: Some(kind),
            },
            Declared::Text(text) => Schema::Inline {
                subject: format!("{topic}-{which}"),
                kind,
                text,
            },
        }
    }
}

/// The schemas of a request in a schema-based format.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Schemas {
    key: Option<Declared>,
    value: Option<Declared>,
}

/// The body's records for `topic`, each with the path's partition unless it names its own,
/// and the schemas it names when its format is schema-based (values stay JSON until encoded).
pub(super) fn parse(
    body: Value,
    topic: &str,
    partition: Option<i32>,
    format: Format,
    max: usize,
) -> Result<(Vec<Record>, Option<Schemas>), RequestError> {
    let Value::Object(mut body) = body else {
        return Err(RequestError::InvalidBatch(
            "expected an object with \"records\"".into(),
        ));
    };
    let declared = |which: &str| -> Result<Option<Declared>, RequestError> {
        let bad = |m: &str| RequestError::InvalidBatch(format!("{which}_schema{m}"));
        match (
            body.get(&format!("{which}_schema_id")),
            body.get(&format!("{which}_schema")),
        ) {
            (Some(id), _) if !id.is_null() => {
                // A number, or (as REST Proxy's JSON binding takes it) a string of one.
                let id = match id {
                    Value::String(s) => s.trim().parse::<u64>().ok(),
                    n => n.as_u64(),
                };
                let id = id.and_then(|id| u32::try_from(id).ok());
                Ok(Some(Declared::Id(
                    id.ok_or_else(|| bad("_id: expected a schema id"))?,
                )))
            }
            (_, Some(Value::String(text))) => Ok(Some(Declared::Text(text.clone()))),
            (_, Some(Value::Null) | None) => Ok(None),
            (_, Some(_)) => Err(bad(": expected the schema as a string")),
        }
    };
    let schemas = Schemas {
        key: declared("key")?,
        value: declared("value")?,
    };
    let Some(Value::Array(items)) = body.remove("records") else {
        return Err(RequestError::InvalidBatch(
            "expected a \"records\" array".into(),
        ));
    };
    if items.is_empty() {
        return Err(RequestError::InvalidBatch(
            "records may not be empty".into(),
        ));
    }
    if items.len() > max {
        return Err(RequestError::TooManyRecords { limit: max });
    }
    if format.needs_schema() {
        for key in [true, false] {
            let (name, schema) = if key {
                ("key", &schemas.key)
            } else {
                ("value", &schemas.value)
            };
            if schema.is_none()
                && items
                    .iter()
                    .any(|r| r.get(name).is_some_and(|v| !v.is_null()))
            {
                return Err(RequestError::SchemaMissing { key });
            }
        }
    }
    // Schema-based values travel as JSON until they are encoded, after the filters.
    let (data_format, schemas) = match format.needs_schema() {
        true => (Format::Json, Some(schemas)),
        false => (format, None),
    };
    let records = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::Object(fields) = item else {
                return Err(RequestError::InvalidBatch(format!("records[{i}]: expected an object")));
            };
            let mut record = Record::new(topic);
            record.partition = partition;
            for (name, value) in fields {
                let at = |e: RequestError| at_record(i, e);
                match name.as_str() {
                    "key" => record.key = formats::encode(data_format, value, true).map_err(at)?,
                    "value" => record.value = formats::encode(data_format, value, false).map_err(at)?,
                    "partition" if value.is_null() => {}
                    "partition" => {
                        let p = value.as_i64().and_then(|p| i32::try_from(p).ok());
                        record.partition = Some(p.ok_or_else(|| {
                            RequestError::InvalidBatch(format!("records[{i}].partition: expected an integer"))
                        })?);
                    }
                    other => {
                        return Err(RequestError::InvalidBatch(format!(
                            "records[{i}]: unknown field {other:?} (REST Proxy v2 records have key, value, partition)"
                        )));
                    }
                }
            }
            Ok(record)
        })
        .collect::<Result<_, _>>()?;
    Ok((records, schemas))
}

/// Names the record an error is about.
fn at_record(i: usize, error: RequestError) -> RequestError {
    match error {
        RequestError::InvalidData(m) => RequestError::InvalidData(format!("records[{i}].{m}")),
        RequestError::BadRequest(m) => RequestError::BadRequest(format!("records[{i}].{m}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_take_the_paths_partition_unless_they_name_one() {
        let body =
            json!({"records": [{"value": "aGk=", "partition": 1}, {"key": null, "value": null}]});
        let (out, schemas) = parse(body, "t", Some(0), Format::Binary, 10).unwrap();
        assert_eq!(schemas, None);
        assert_eq!(out[0].partition, Some(1));
        assert_eq!(out[0].value.as_deref(), Some(&b"hi"[..]));
        assert_eq!((out[1].partition, out[1].value.clone()), (Some(0), None));
    }

    #[test]
    fn bad_records_say_which_and_why() {
        let err = |body| parse(body, "t", None, Format::Binary, 2).unwrap_err();
        assert_eq!(err(json!({"records": []})).code(), "invalid_batch");
        assert!(
            err(json!({"records": [{}, {"value": "!"}]}))
                .to_string()
                .contains("records[1].value")
        );
        assert!(
            err(json!({"records": [{"headers": {}}]}))
                .to_string()
                .contains("unknown field")
        );
        assert_eq!(
            err(json!({"records": [{}, {}, {}]})).code(),
            "too_many_records"
        );
        let avro = |body| parse(body, "t", None, Format::Avro, 2).unwrap_err();
        assert!(matches!(
            avro(json!({"records": [{"key": 1}]})),
            RequestError::SchemaMissing { key: true }
        ));
        assert!(matches!(
            avro(json!({"records": [{"value": 1}]})),
            RequestError::SchemaMissing { key: false }
        ));
        let (records, schemas) = parse(
            json!({"value_schema_id": 1, "records": [{"value": {"a": 1}}]}),
            "t",
            None,
            Format::Avro,
            2,
        )
        .unwrap();
        assert_eq!(records[0].value.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(schemas.unwrap().value, Some(Declared::Id(1)));
    }
}
