//! REST Proxy's embedded formats: how a key or value travels inside the JSON of a request or
//! an answer. `binary` is base64 of the bytes, `json` is the JSON value itself (its compact
//! text in Kafka), v3's `string` is the text. Avro, Protobuf and JSON Schema need the embedded
//! schema registry (`[schema_registry]`): their data is JSON here, encoded with a registry
//! schema after the filters (`crate::schemas::records`); without a registry they are refused
//! clearly, never guessed at.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::Value;

use crate::error::RequestError;

/// An embedded format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Base64 of the bytes.
    Binary,
    /// A JSON value, its compact text in Kafka.
    Json,
    /// UTF-8 text (v3 only).
    String,
    /// Needs a schema registry.
    Avro,
    /// Needs a schema registry.
    Protobuf,
    /// Needs a schema registry.
    JsonSchema,
}

impl Format {
    /// The format named in a v2 media type (`binary` in `application/vnd.kafka.binary.v2+json`)
    /// or a consumer's `format` (`binary`, `json`, `avro`, `protobuf`, `jsonschema`).
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name.to_ascii_lowercase().as_str() {
            "binary" => Format::Binary,
            "json" => Format::Json,
            "string" => Format::String,
            "avro" => Format::Avro,
            "protobuf" => Format::Protobuf,
            "jsonschema" | "json_schema" => Format::JsonSchema,
            _ => return None,
        })
    }

    /// Its lower-case name, as v2 media types spell it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Binary => "binary",
            Format::Json => "json",
            Format::String => "string",
            Format::Avro => "avro",
            Format::Protobuf => "protobuf",
            Format::JsonSchema => "jsonschema",
        }
    }

    /// Whether it needs a schema registry.
    pub fn needs_schema(self) -> bool {
        matches!(self, Format::Avro | Format::Protobuf | Format::JsonSchema)
    }
}

/// The 422 for a format that needs a schema registry when the gateway runs none (42206).
pub fn no_registry(format: Format) -> RequestError {
    RequestError::NoSchemaRegistry(format!("the {} format", format.name()))
}

/// The media type of a request body or answer: `application/vnd.kafka[.FORMAT].v2+json`
/// gives `Some(FORMAT)` or `None` (no format named); plain JSON gives `None`.
pub fn v2_media_type(value: &str) -> Result<Option<Format>, String> {
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if matches!(
        essence.as_str(),
        "application/json" | "application/vnd.kafka.v2+json"
    ) {
        return Ok(None);
    }
    essence
        .strip_prefix("application/vnd.kafka.")
        .and_then(|rest| rest.strip_suffix(".v2+json"))
        .and_then(Format::from_name)
        .map(Some)
        .ok_or_else(|| format!("{value:?} is not a REST Proxy v2 media type"))
}

/// The format a v2 produce body is in, from its `Content-Type`: plain JSON means `json`, as
/// REST Proxy takes it.
pub fn v2_produce_format(content_type: Option<&str>) -> Result<Format, RequestError> {
    let Some(value) = content_type else {
        return Ok(Format::Json);
    };
    match v2_media_type(value) {
        Ok(format) => Ok(format.unwrap_or(Format::Json)),
        Err(reason) => Err(RequestError::UnsupportedMediaType(format!(
            "{reason}; use application/vnd.kafka.json.v2+json or \
             application/vnd.kafka.binary.v2+json"
        ))),
    }
}

/// A consumer's records answer must be in its own format: `Accept` may name it, or no format
/// (`*/*`, `application/json`, `application/vnd.kafka.v2+json`); another format is 406.
pub fn v2_accepts(accept: Option<&str>, format: Format) -> Result<(), RequestError> {
    let Some(accept) = accept else { return Ok(()) };
    let mut named = Vec::new();
    for item in accept.split(',') {
        let item = item.trim();
        let essence = item.split(';').next().unwrap_or("").trim();
        if matches!(essence, "*/*" | "application/*" | "") {
            return Ok(());
        }
        match v2_media_type(item) {
            Ok(None) => return Ok(()),
            Ok(Some(f)) if f == format => return Ok(()),
            Ok(Some(f)) => named.push(f.name()),
            Err(_) => {}
        }
    }
    Err(RequestError::NotAcceptable(format!(
        "this consumer reads {} records; the request accepts {}",
        format.name(),
        if named.is_empty() {
            "no REST Proxy v2 media type".to_owned()
        } else {
            named.join(", ")
        }
    )))
}

/// A key or value from a request as the bytes Kafka gets: `null` is no data.
pub fn encode(format: Format, value: Value, key: bool) -> Result<Option<Bytes>, RequestError> {
    let which = if key { "key" } else { "value" };
    match (format, value) {
        (_, Value::Null) => Ok(None),
        (Format::Binary, Value::String(text)) => STANDARD
            .decode(text.as_bytes())
            .map(|bytes| Some(Bytes::from(bytes)))
            .map_err(|e| RequestError::BadRequest(format!("{which}: not valid base64: {e}"))),
        (Format::Binary, _) => Err(RequestError::BadRequest(format!(
            "{which}: binary data must be a base64 string"
        ))),
        (Format::String, Value::String(text)) => Ok(Some(Bytes::from(text))),
        (Format::String, _) => Err(RequestError::InvalidData(format!(
            "{which}: string data must be a JSON string"
        ))),
        (Format::Json, value) => Ok(Some(Bytes::from(value.to_string()))),
        (other, _) => Err(no_registry(other)),
    }
}

/// A key or value read from Kafka as it is shown in `format`. JSON that is not JSON is shown
/// as its text (lossy UTF-8), not dropped: one bad record must not wedge a consumer.
pub fn decode(format: Format, bytes: Option<&[u8]>) -> Value {
    let Some(bytes) = bytes else {
        return Value::Null;
    };
    match format {
        Format::Json => serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned())),
        Format::String => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        _ => Value::String(STANDARD.encode(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn media_types_name_formats() {
        let binary = "application/vnd.kafka.binary.v2+json; charset=utf-8";
        assert_eq!(v2_produce_format(Some(binary)).unwrap(), Format::Binary);
        assert_eq!(
            v2_produce_format(Some("application/json")).unwrap(),
            Format::Json
        );
        let avro = v2_produce_format(Some("application/vnd.kafka.avro.v2+json")).unwrap();
        assert!(avro.needs_schema());
        let text = v2_produce_format(Some("text/plain")).unwrap_err();
        assert_eq!(text.code(), "unsupported_media_type");
    }

    #[test]
    fn records_answer_in_the_consumers_format_only() {
        assert!(v2_accepts(Some("application/vnd.kafka.binary.v2+json"), Format::Binary).is_ok());
        assert!(v2_accepts(Some("application/vnd.kafka.v2+json"), Format::Json).is_ok());
        assert!(v2_accepts(None, Format::Json).is_ok());
        let wrong = v2_accepts(Some("application/vnd.kafka.json.v2+json"), Format::Binary);
        assert_eq!(wrong.unwrap_err().code(), "not_acceptable");
    }

    #[test]
    fn values_round_trip_in_each_format() {
        let bytes = encode(Format::Binary, json!("aGk="), false).unwrap();
        assert_eq!(bytes.as_deref(), Some(&b"hi"[..]));
        assert_eq!(decode(Format::Binary, Some(b"hi")), json!("aGk="));
        let bytes = encode(Format::Json, json!({"a": [1]}), false).unwrap();
        assert_eq!(decode(Format::Json, bytes.as_deref()), json!({"a": [1]}));
        assert_eq!(encode(Format::Json, json!(null), true).unwrap(), None);
        assert_eq!(decode(Format::Json, Some(b"not json")), json!("not json"));
        let bad = encode(Format::Binary, json!("!!"), true).unwrap_err();
        assert_eq!(bad.code(), "bad_request");
        let avro = encode(Format::Avro, json!(1), true).unwrap_err();
        assert_eq!(avro.code(), "no_schema_registry");
    }
}
