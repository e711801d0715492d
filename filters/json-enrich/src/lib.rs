//! `json-enrich`: stamps each JSON record with when the gateway received the request, the
//! client's IP address and the request id. The gateway's values overwrite any the client sent,
//! so they cannot be spoofed.

use serde_json::Map;
use wafka_sdk::prelude::*;

/// Names of the fields to set; each defaults to its own name without `_field`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    received_at_field: String,
    client_ip_field: String,
    request_id_field: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            received_at_field: "received_at".to_owned(),
            client_ip_field: "client_ip".to_owned(),
            request_id_field: "request_id".to_owned(),
        }
    }
}

/// The `json-enrich` filter.
#[derive(Debug)]
pub struct JsonEnrich {
    config: Config,
}

impl Filter for JsonEnrich {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let fields = [
            ("received_at_field", &config.received_at_field),
            ("client_ip_field", &config.client_ip_field),
            ("request_id_field", &config.request_id_field),
        ];
        if let Some((option, _)) = fields.iter().find(|(_, field)| field.is_empty()) {
            return Err(format!("{option} must not be empty"));
        }
        Ok(Self { config })
    }

    fn on_request(&self, request: &Request, mut records: Vec<Record>) -> Outcome {
        let stamps = [
            (
                &self.config.received_at_field,
                Value::from(time::rfc3339_millis(request.received_at())),
            ),
            (
                &self.config.client_ip_field,
                Value::from(request.client_ip()),
            ),
            (&self.config.request_id_field, Value::from(request.id())),
        ];
        for record in &mut records {
            let value = record.value().unwrap_or_default();
            let stamped = match spliced(&value, &stamps) {
                Some(stamped) => stamped,
                None => {
                    let mut object = match json_object(&value) {
                        Ok(object) => object,
                        Err(message) => return reject(400, "invalid_json", message),
                    };
                    for (field, value) in &stamps {
                        object.insert((*field).clone(), value.clone());
                    }
                    Value::Object(object).to_string().into_bytes()
                }
            };
            record.set_value(Some(&stamped));
        }
        forward(records)
    }
}

wafka_sdk::export_filter!(JsonEnrich);

/// `value` with the stamps written before its closing brace, the rest byte for byte as sent:
/// for a JSON object with none of the stamped fields, the common case, checked without
/// building it. `None` for anything else (not an object, invalid, or a stamped field the
/// client sent), which takes the parse-and-rewrite way.
fn spliced(value: &[u8], stamps: &[(&String, Value)]) -> Option<Vec<u8>> {
    use serde::de::DeserializeSeed as _;
    // Skipped strings are checked neither for UTF-8 nor for halves of surrogate pairs: the
    // whole text is, once.
    if value.trim_ascii_start().first() != Some(&b'{')
        || std::str::from_utf8(value).is_err()
        || has_surrogate_escape(value)
    {
        return None;
    }
    let mut scan = serde_json::Deserializer::from_slice(value);
    let keys = TopKeys(stamps).deserialize(&mut scan).ok()??;
    scan.end().ok()?;
    let body = value.trim_ascii_end().strip_suffix(b"}")?;
    let mut out = Vec::with_capacity(value.len() + 128);
    out.extend_from_slice(body);
    for (i, (field, stamp)) in stamps.iter().enumerate() {
        if keys > 0 || i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, field).ok()?;
        out.push(b':');
        serde_json::to_writer(&mut out, stamp).ok()?;
    }
    out.push(b'}');
    Some(out)
}

/// Whether `value` has a `\uD800`–`\uDFFF` escape (half of a surrogate pair).
fn has_surrogate_escape(value: &[u8]) -> bool {
    value.windows(4).any(|w| {
        w[0] == b'\\'
            && w[1] == b'u'
            && w[2] | 0x20 == b'd'
            && matches!(w[3] | 0x20, b'8'..=b'9' | b'a'..=b'f')
    })
}

/// Reads a JSON object's top-level keys, skipping their values: how many there are, or `None`
/// when one of the stamped fields is among them.
struct TopKeys<'a>(&'a [(&'a String, Value)]);

impl<'de> serde::de::DeserializeSeed<'de> for TopKeys<'_> {
    type Value = Option<usize>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for TopKeys<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys = 0;
        let mut stamped = false;
        while let Some(named) = map.next_key_seed(IsOneOf(self.0))? {
            map.next_value::<serde::de::IgnoredAny>()?;
            stamped |= named;
            keys += 1;
        }
        Ok((!stamped).then_some(keys))
    }
}

/// Whether a key is one of the stamped fields.
struct IsOneOf<'a>(&'a [(&'a String, Value)]);

impl<'de> serde::de::DeserializeSeed<'de> for IsOneOf<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for IsOneOf<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(self.0.iter().any(|(field, _)| field.as_str() == key))
    }
}

/// A record's value as a JSON object, or why it is not one.
fn json_object(value: &[u8]) -> Result<Map<String, Value>, String> {
    if value.is_empty() {
        return Err("empty body".to_owned());
    }
    match serde_json::from_slice(value) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(format!(
            "expected a JSON object, got {}",
            json::kind(&other)
        )),
        Err(error) => Err(format!("invalid JSON: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-24T10:53:48.123Z
    const RECEIVED_AT: u64 = 1_795_517_628_123;

    fn request() -> Request {
        Request::builder()
            .id("req-7")
            .client_addr("[2001:db8::1]:50123")
            .received_at(RECEIVED_AT)
            .build()
    }

    fn record(value: &[u8]) -> Record {
        let mut record = Record::new("events");
        record.set_value(Some(value));
        record
    }

    fn run(config: &str, values: &[&[u8]]) -> Outcome {
        let records = values.iter().map(|value| record(value)).collect();
        run_filter::<JsonEnrich>(config, &request(), records)
    }

    fn values(outcome: &Outcome) -> Vec<String> {
        let records = outcome.records().expect("records forwarded");
        let value = |record: &Record| String::from_utf8(record.value().unwrap()).unwrap();
        records.iter().map(value).collect()
    }

    fn error(outcome: &Outcome) -> (u16, String, String) {
        let response = outcome.response().expect("a response");
        let body: Value = response.body_json().unwrap();
        let text = |field: &str| body["error"][field].as_str().unwrap().to_owned();
        (response.status, text("code"), text("message"))
    }

    #[test]
    fn stamps_every_record_keeping_the_rest_as_sent() {
        let outcome = run(
            "{}",
            &[
                br#"{"b":1.50,"a":[1,2],"big":123456789012345678901234567890}"#,
                b"{}",
            ],
        );
        assert_eq!(
            values(&outcome),
            [
                r#"{"b":1.50,"a":[1,2],"big":123456789012345678901234567890,"received_at":"2026-11-24T10:53:48.123Z","client_ip":"2001:db8::1","request_id":"req-7"}"#,
                r#"{"received_at":"2026-11-24T10:53:48.123Z","client_ip":"2001:db8::1","request_id":"req-7"}"#,
            ]
        );
    }

    #[test]
    fn overwrites_client_supplied_values() {
        let outcome = run(
            "{}",
            &[br#"{"client_ip":"6.6.6.6","request_id":"forged","n":1}"#],
        );
        let value: Value = serde_json::from_str(&values(&outcome)[0]).unwrap();
        assert_eq!(value["client_ip"], "2001:db8::1");
        assert_eq!(value["request_id"], "req-7");
        assert_eq!(value["n"], 1);
    }

    #[test]
    fn field_names_come_from_the_config() {
        let config =
            r#"{"received_at_field":"ts","client_ip_field":"ip","request_id_field":"rid"}"#;
        let outcome = run(config, &[b"{}"]);
        assert_eq!(
            values(&outcome),
            [r#"{"ts":"2026-11-24T10:53:48.123Z","ip":"2001:db8::1","rid":"req-7"}"#]
        );
    }

    #[test]
    fn rejects_invalid_json_with_line_and_column() {
        let (status, code, message) = error(&run("{}", &[b"{\n  \"a\": }"]));
        assert_eq!((status, code.as_str()), (400, "invalid_json"));
        assert_eq!(message, "invalid JSON: expected value at line 2 column 8");
    }

    #[test]
    fn rejects_json_that_is_not_an_object() {
        for (value, kind) in [
            (&b"[1]"[..], "an array"),
            (b"\"x\"", "a string"),
            (b"1", "a number"),
            (b"true", "a boolean"),
            (b"null", "null"),
        ] {
            let (status, code, message) = error(&run("{}", &[value]));
            assert_eq!((status, code.as_str()), (400, "invalid_json"));
            assert_eq!(message, format!("expected a JSON object, got {kind}"));
        }
    }

    #[test]
    fn rejects_an_empty_or_null_value() {
        let (status, code, message) = error(&run("{}", &[b""]));
        assert_eq!(
            (status, code.as_str(), message.as_str()),
            (400, "invalid_json", "empty body")
        );

        let outcome = run_filter::<JsonEnrich>("{}", &request(), vec![Record::new("events")]);
        assert_eq!(error(&outcome).2, "empty body");
    }

    /// What the splice writes parses to what parsing, stamping and writing again gives; it
    /// leaves to that way whatever that refuses, a stamped field the client sent, and
    /// escapes it does not check.
    #[test]
    fn the_splice_agrees_with_the_rewrite() {
        let inputs: &[(&[u8], bool)] = &[
            (b"{}", true),
            (b"{ }", true),
            (b" {\n  \"a\": 1,\n  \"b\": [true, null]\n}\n", true),
            (br#"{"a":{"client_ip":"nested, kept"},"n":1.50}"#, true),
            (br#"{"dup":1,"dup":2}"#, true),
            (br#"{"a":"\\ud800 is text, \"quoted\""}"#, false),
            (br#"{"client\u005fip":"6.6.6.6"}"#, false),
            (br#"{"request_id":"forged"}"#, false),
            (br#"{"a":"\uD83D\uDE00 a pair"}"#, false),
            (br#"{"a":"\ud800"}"#, false),
            (b"{\"a\":\"\xff\"}", false),
            (b"{\"a\":\"tab\there\"}", false),
            (br#"{"a":1} trailing"#, false),
            (br#"{"a":1,}"#, false),
            (br#"{"a":}"#, false),
            (br#"{"a":1"#, false),
            (b"[1]", false),
            (b"\"x\"", false),
        ];
        let fields = ["received_at", "client_ip", "request_id"].map(String::from);
        let stamps = [
            (&fields[0], json!("t")),
            (&fields[1], json!("ip")),
            (&fields[2], json!("id")),
        ];
        for &(input, taken) in inputs {
            let shown = String::from_utf8_lossy(input);
            let out = spliced(input, &stamps);
            assert_eq!(out.is_some(), taken, "{shown}");
            let Some(out) = out else { continue };
            let mut object = json_object(input).expect("the rewrite takes it");
            for (field, value) in &stamps {
                object.insert((*field).clone(), value.clone());
            }
            let out: Value = serde_json::from_slice(&out).expect("the splice writes JSON");
            assert_eq!(out, Value::Object(object), "{shown}");
        }
    }

    #[test]
    fn one_bad_record_rejects_the_request() {
        let (status, _, _) = error(&run("{}", &[b"{}", b"[]"]));
        assert_eq!(status, 400);
    }

    #[test]
    fn config_is_optional_strict_and_checked() {
        assert!(load_filter::<JsonEnrich>("{}").is_ok());
        let unknown = load_filter::<JsonEnrich>(r#"{"client_ip":"ip"}"#).unwrap_err();
        assert!(unknown.contains("unknown field `client_ip`"), "{unknown}");
        let empty = load_filter::<JsonEnrich>(r#"{"request_id_field":""}"#).unwrap_err();
        assert_eq!(empty, "request_id_field must not be empty");
    }
}
