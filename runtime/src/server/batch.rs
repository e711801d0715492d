//! Request bodies that carry many records: the Confluent REST Proxy v2 JSON shape
//! (`{"records":[{"key":…,"value":…,"partition":…,"headers":…}]}`) and NDJSON (a record per
//! line). Each becomes its own record before the filters run.

use bytes::Bytes;
use serde_json::Value;

use crate::config::BodyKind;
use crate::error::RequestError;
use crate::exchange::Record;

/// Turns a request body into the records it carries, refusing more than `max` of them.
pub fn parse(
    kind: BodyKind,
    body: Bytes,
    topic: &str,
    max: usize,
) -> Result<Vec<Record>, RequestError> {
    let records = match kind {
        BodyKind::Raw => {
            let mut record = Record::new(topic);
            record.value = Some(body);
            return Ok(vec![record]);
        }
        BodyKind::Ndjson => ndjson(&body, topic, max)?,
        BodyKind::Records => json_records(&body, topic, max)?,
    };
    if records.is_empty() {
        return Err(invalid("the batch holds no records"));
    }
    Ok(records)
}

fn invalid(message: impl Into<String>) -> RequestError {
    RequestError::InvalidBatch(message.into())
}

fn too_many(max: usize) -> RequestError {
    RequestError::TooManyRecords { limit: max }
}

/// One record per non-empty line; values share the body's buffer.
fn ndjson(body: &Bytes, topic: &str, max: usize) -> Result<Vec<Record>, RequestError> {
    let mut records = Vec::new();
    let mut start = 0;
    for line in body.split(|&b| b == b'\n') {
        let end = start + line.len();
        let trimmed = line.strip_suffix(b"\r").unwrap_or(line);
        if !trimmed.is_empty() {
            if records.len() == max {
                return Err(too_many(max));
            }
            let mut record = Record::new(topic);
            record.value = Some(body.slice(start..start + trimmed.len()));
            records.push(record);
        }
        start = end + 1;
    }
    Ok(records)
}

fn json_records(body: &[u8], topic: &str, max: usize) -> Result<Vec<Record>, RequestError> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("invalid JSON: {e}")))?;
    let Value::Object(mut doc) = doc else {
        return Err(invalid("expected an object with a \"records\" array"));
    };
    for field in [
        "key_schema",
        "value_schema",
        "key_schema_id",
        "value_schema_id",
    ] {
        if doc.contains_key(field) {
            return Err(invalid(format!(
                "{field}: schemas are not supported; send JSON"
            )));
        }
    }
    let Some(Value::Array(items)) = doc.remove("records") else {
        return Err(invalid("expected a \"records\" array"));
    };
    if let Some(field) = doc.keys().next() {
        return Err(invalid(format!("unknown field {field:?}")));
    }
    if items.len() > max {
        return Err(too_many(max));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| record(i, item, topic))
        .collect()
}

fn record(i: usize, item: Value, topic: &str) -> Result<Record, RequestError> {
    let at = |what: &str| invalid(format!("records[{i}].{what}"));
    let Value::Object(fields) = item else {
        return Err(invalid(format!("records[{i}]: expected an object")));
    };
    let mut record = Record::new(topic);
    for (name, value) in fields {
        match name.as_str() {
            "key" => record.key = data(value),
            "value" => record.value = data(value),
            "partition" => {
                let p = value.as_i64().and_then(|p| i32::try_from(p).ok());
                record.partition = Some(p.ok_or_else(|| at("partition: expected an integer"))?);
            }
            "headers" => {
                record.headers = headers(value).map_err(|e| at(&format!("headers: {e}")))?
            }
            other => return Err(invalid(format!("records[{i}]: unknown field {other:?}"))),
        }
    }
    Ok(record)
}

/// A JSON string is its text; any other JSON value its compact JSON; null is no data.
fn data(value: Value) -> Option<Bytes> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(Bytes::from(s)),
        other => Some(Bytes::from(other.to_string())),
    }
}

/// `{"name": "value"}` or `[{"key": "name", "value": "value"}]`.
fn headers(value: Value) -> Result<Vec<(String, Bytes)>, String> {
    let text = |v: Value| match v {
        Value::String(s) => Ok(Bytes::from(s)),
        _ => Err("values must be strings".to_owned()),
    };
    match value {
        Value::Object(map) => map.into_iter().map(|(k, v)| Ok((k, text(v)?))).collect(),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(mut h) => match (h.remove("key"), h.remove("value")) {
                    (Some(Value::String(k)), Some(v)) if h.is_empty() => Ok((k, text(v)?)),
                    _ => Err("expected {\"key\": …, \"value\": …}".to_owned()),
                },
                _ => Err("expected {\"key\": …, \"value\": …}".to_owned()),
            })
            .collect(),
        _ => Err("expected an object or an array".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Result<Vec<Record>, String> {
        parse(BodyKind::Records, Bytes::from(text.to_owned()), "t", 3).map_err(|e| e.to_string())
    }

    #[test]
    fn confluent_v2_records_become_records() {
        let out = records(
            r#"{"records":[
                {"key":"k1","value":{"a":1},"partition":2,"headers":{"h":"v"}},
                {"value":"text","headers":[{"key":"x","value":"y"}]},
                {"key":null,"value":null}
            ]}"#,
        )
        .unwrap();
        assert_eq!(out[0].key.as_deref(), Some(&b"k1"[..]));
        assert_eq!(out[0].value.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(out[0].partition, Some(2));
        assert_eq!(out[0].headers, vec![("h".to_owned(), Bytes::from("v"))]);
        assert_eq!(out[1].value.as_deref(), Some(&b"text"[..]));
        assert_eq!(out[1].headers, vec![("x".to_owned(), Bytes::from("y"))]);
        assert_eq!((out[2].key.clone(), out[2].value.clone()), (None, None));
        assert!(out.iter().all(|r| r.topic == "t"));
    }

    #[test]
    fn bad_batches_say_where() {
        let err = |t| records(t).unwrap_err();
        assert!(err("{\"records\":[").contains("invalid JSON"));
        assert!(err(r#"{"records":[]}"#).contains("no records"));
        assert!(err(r#"{"records":[{},{},{"partition":"x"}]}"#).contains("records[2].partition"));
        assert!(err(r#"{"records":[{"vaule":1}]}"#).contains("records[0]: unknown field"));
        assert!(err(r#"{"value_schema":"x","records":[{}]}"#).contains("not supported"));
        assert!(err(r#"[1]"#).contains("expected an object"));
        let too_many = parse(
            BodyKind::Records,
            Bytes::from(r#"{"records":[{},{},{},{}]}"#),
            "t",
            3,
        );
        assert_eq!(too_many.unwrap_err().code(), "too_many_records");
    }

    #[test]
    fn ndjson_lines_share_the_body() {
        let body = Bytes::from("{\"a\":1}\r\n\n{\"a\":2}\n{\"a\":3}");
        let out = parse(BodyKind::Ndjson, body.clone(), "t", 3).unwrap();
        let values: Vec<_> = out.iter().map(|r| r.value.clone().unwrap()).collect();
        assert_eq!(values, ["{\"a\":1}", "{\"a\":2}", "{\"a\":3}"]);
        assert_eq!(
            values[1].as_ptr(),
            body[10..].as_ptr(),
            "a slice, not a copy"
        );
        let four = Bytes::from("1\n2\n3\n4\n");
        assert_eq!(
            parse(BodyKind::Ndjson, four, "t", 3).unwrap_err().code(),
            "too_many_records"
        );
    }
}
