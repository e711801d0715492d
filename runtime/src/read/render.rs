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

/// `record` as JSON text appended to `out`: what [`record`] gives, written without building
/// it first (reads send hundreds of thousands of records a second), and a value that is JSON
/// on one line already is copied as it is. One line: fit for a server-sent event's `data:`.
pub fn write(out: &mut Vec<u8>, record: &Record, format: ValueFormat, schemas: Option<&Registry>) {
    let registry_encoded = |bytes: Option<&[u8]>| {
        schemas.is_some()
            && format == ValueFormat::Json
            && bytes.is_some_and(|b| crate::schemas::framed(b).is_some())
    };
    if registry_encoded(record.key.as_deref()) || registry_encoded(record.value.as_deref()) {
        let value = self::record(record, format, schemas);
        serde_json::to_writer(&mut *out, &value).expect("a Value serializes");
        return;
    }
    out.extend_from_slice(b"{\"topic\":");
    string(out, &record.topic);
    out.extend_from_slice(b",\"partition\":");
    number(out, record.partition.map(i64::from));
    out.extend_from_slice(b",\"offset\":");
    number(out, record.offset);
    out.extend_from_slice(b",\"timestamp\":");
    number(out, record.timestamp);
    write_bytes(out, "key", record.key.as_deref(), ValueFormat::Text);
    write_bytes(out, "value", record.value.as_deref(), format);
    out.extend_from_slice(b",\"headers\":[");
    for (i, (name, value)) in record.headers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"name\":");
        string(out, name);
        out.extend_from_slice(b",\"value\":\"");
        out.extend_from_slice(STANDARD.encode(value).as_bytes());
        out.extend_from_slice(b"\"}");
    }
    out.extend_from_slice(b"]}");
}

/// About what [`write`] appends for `records` in `format`, a little over: reads size their
/// answer once with it. Grown by doubling, a 250 KB answer is four reallocations, each into
/// fresh pages the kernel must zero.
pub fn size_hint<'a>(records: impl IntoIterator<Item = &'a Record>, format: ValueFormat) -> usize {
    let shown = |bytes: &Option<bytes::Bytes>, format: ValueFormat| {
        let len = bytes.as_ref().map_or(0, |b| b.len());
        match format {
            // Copied as they are, or escaped where a few characters need it.
            ValueFormat::Json | ValueFormat::Text => len + len / 8 + 40,
            ValueFormat::Base64 => len * 4 / 3 + 40,
        }
    };
    records
        .into_iter()
        .map(|r| {
            let headers: usize = r
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len() * 4 / 3 + 24)
                .sum();
            120 + r.topic.len()
                + shown(&r.key, ValueFormat::Text)
                + shown(&r.value, format)
                + headers
        })
        .sum()
}

fn string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("a string serializes");
}

fn number(out: &mut Vec<u8>, n: Option<i64>) {
    match n {
        Some(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

/// `,"NAME":…` as [`bytes_field`] shows it.
fn write_bytes(out: &mut Vec<u8>, name: &str, bytes: Option<&[u8]>, format: ValueFormat) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    let Some(bytes) = bytes else {
        out.extend_from_slice(b"null");
        return;
    };
    match format {
        ValueFormat::Json if one_line_json(bytes) => return out.extend_from_slice(bytes),
        ValueFormat::Json => {
            if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
                serde_json::to_writer(&mut *out, &value).expect("a Value serializes");
                return;
            }
        }
        ValueFormat::Text => {
            if let Ok(text) = std::str::from_utf8(bytes) {
                return string(out, text);
            }
        }
        ValueFormat::Base64 => {}
    }
    out.push(b'"');
    out.extend_from_slice(STANDARD.encode(bytes).as_bytes());
    out.extend_from_slice(b"\",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"_encoding\":\"base64\"");
}

/// Whether `bytes` are one JSON text, valid UTF-8, with no line break.
fn one_line_json(bytes: &[u8]) -> bool {
    memchr::memchr2(b'\n', b'\r', bytes).is_none()
        && std::str::from_utf8(bytes).is_ok()
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
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

    /// What `write` appends parses to what `record` builds, on one line.
    #[test]
    fn written_records_are_the_built_ones() {
        let mut no_partition = read(b"1");
        no_partition.partition = None;
        no_partition.key = None;
        let records = [
            read(br#"{"a":1,"b":[true,null,"x\u00e9"]}"#),
            read(b"{\n  \"spread\": \"over lines\"\n}"),
            read(b"plain text"),
            read(&[0xff, 0x00]),
            read(br#"{"a":1} trailing"#),
            read(b"\"a string\""),
            no_partition,
        ];
        for r in &records {
            for format in [ValueFormat::Json, ValueFormat::Text, ValueFormat::Base64] {
                let mut out = Vec::new();
                write(&mut out, r, format, None);
                assert!(!out.contains(&b'\n'), "{}", String::from_utf8_lossy(&out));
                let written: Value = serde_json::from_slice(&out).unwrap();
                assert_eq!(written, record(r, format, None), "{format:?}");
            }
        }
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
