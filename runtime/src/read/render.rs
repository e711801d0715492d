//! A record read from Kafka as the JSON a client gets: topic, partition, offset, timestamp,
//! key, value and headers. Values follow the route's `read.format`; what cannot be shown that
//! way is base64 with an `*_encoding` field saying so. With `json`, keys and values in the
//! schema registry's wire format are decoded with the embedded registry, and `*_schema_id` says
//! which schema they were written with.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::config::ValueFormat;
use crate::exchange::Record;
use crate::schemas::Registry;

/// `record` as JSON.
pub fn record(record: &Record, format: ValueFormat, schemas: Option<&Registry>) -> Value {
    let mut out = Map::new();
    out.insert("topic".into(), json!(record.topic));
    out.insert("partition".into(), json!(record.partition));
    out.insert("offset".into(), json!(record.offset));
    out.insert("timestamp".into(), json!(record.timestamp));
    let decoded = |bytes: Option<&[u8]>| {
        let registry = schemas.filter(|_| format == ValueFormat::Json)?;
        crate::schemas::records::decode(registry, bytes?)
    };
    for (name, bytes, format) in [
        ("key", record.key.as_deref(), ValueFormat::Text),
        ("value", record.value.as_deref(), format),
    ] {
        match decoded(bytes) {
            Some((id, json)) => {
                out.insert(name.into(), json);
                out.insert(format!("{name}_schema_id"), json!(id));
            }
            None => bytes_field(&mut out, name, bytes, format),
        }
    }
    let headers: Vec<Value> = record
        .headers
        .iter()
        .map(|(name, value)| json!({ "name": name, "value": STANDARD.encode(value) }))
        .collect();
    out.insert("headers".into(), Value::Array(headers));
    Value::Object(out)
}

fn bytes_field(
    out: &mut Map<String, Value>,
    name: &str,
    bytes: Option<&[u8]>,
    format: ValueFormat,
) {
    let Some(bytes) = bytes else {
        out.insert(name.into(), Value::Null);
        return;
    };
    let shown = match format {
        ValueFormat::Json => serde_json::from_slice::<Value>(bytes).ok(),
        ValueFormat::Text => std::str::from_utf8(bytes).ok().map(|s| json!(s)),
        ValueFormat::Base64 => None,
    };
    match shown {
        Some(value) => {
            out.insert(name.into(), value);
        }
        None => {
            out.insert(name.into(), json!(STANDARD.encode(bytes)));
            out.insert(format!("{name}_encoding"), json!("base64"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(value: &[u8]) -> Record {
        let mut r = Record::new("t");
        r.value = Some(value.to_vec().into());
        r.key = Some(b"k1".to_vec().into());
        r.partition = Some(2);
        r.offset = Some(7);
        r.headers.push(("h".into(), b"v".to_vec().into()));
        r
    }

    #[test]
    fn values_follow_the_format_and_fall_back_to_base64() {
        let json = record(&read(br#"{"a":1}"#), ValueFormat::Json, None);
        assert_eq!(json["value"], json!({"a": 1}));
        assert_eq!(json["key"], "k1");
        assert_eq!(
            (json["partition"].clone(), json["offset"].clone()),
            (json!(2), json!(7))
        );
        assert_eq!(json["headers"], json!([{"name": "h", "value": "dg=="}]));

        let text = record(&read(b"plain"), ValueFormat::Json, None);
        assert_eq!(
            (text["value"].clone(), text["value_encoding"].clone()),
            (json!("cGxhaW4="), json!("base64"))
        );
        assert_eq!(
            record(&read(b"plain"), ValueFormat::Text, None)["value"],
            "plain"
        );
        assert_eq!(
            record(&read(&[0xff]), ValueFormat::Text, None)["value_encoding"],
            "base64"
        );
        assert_eq!(
            record(&read(b"{}"), ValueFormat::Base64, None)["value"],
            "e30="
        );
    }
}
