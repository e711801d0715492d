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
            let mut object = match json_object(record) {
                Ok(object) => object,
                Err(message) => return reject(400, "invalid_json", message),
            };
            for (field, value) in &stamps {
                object.insert((*field).clone(), value.clone());
            }
            record.set_value(Some(Value::Object(object).to_string().as_bytes()));
        }
        forward(records)
    }
}

wafka_sdk::export_filter!(JsonEnrich);

/// The record's value as a JSON object, or why it is not one.
fn json_object(record: &Record) -> Result<Map<String, Value>, String> {
    let value = record.value().unwrap_or_default();
    if value.is_empty() {
        return Err("empty body".to_owned());
    }
    match serde_json::from_slice(&value) {
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
