//! `schema-validate`: checks each record's JSON value against a schema and answers 422 listing
//! what is wrong. Either a JSON Schema inline in the config, compiled once by the gateway (the
//! SDK's `json_schema`), or a subject of the gateway's schema registry, Avro, Protobuf or JSON
//! Schema (the SDK's `schemas`), whose values can also leave encoded in the registry's wire
//! format. Either way the gateway checks each value where it lives.

use wafka_sdk::json_schema::{CheckError, Schema};
use wafka_sdk::prelude::*;
use wafka_sdk::schemas::{self, SchemaError};

/// The route's config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The JSON Schema, inline.
    #[serde(default)]
    schema: Option<Value>,
    /// A subject of the gateway's schema registry: values are checked against its latest
    /// version. `{topic}` stands for each record's topic (`{topic}-value`).
    #[serde(default)]
    subject: Option<String>,
    /// With `subject`: values leave encoded in the registry's wire format. Default false.
    #[serde(default)]
    encode: bool,
    /// Most errors listed in a 422 answer. Default 20.
    #[serde(default = "default_max_errors")]
    max_errors: u32,
}

fn default_max_errors() -> u32 {
    20
}

/// What values are checked against.
#[derive(Debug)]
enum Against {
    Inline(Schema),
    Subject { subject: String, encode: bool },
}

/// The `schema-validate` filter.
#[derive(Debug)]
pub struct SchemaValidate {
    against: Against,
    max_errors: u32,
}

/// One problem of one record, as the answer lists it.
struct Problem {
    record: usize,
    instance_path: String,
    schema_path: Option<String>,
    message: String,
}

impl Filter for SchemaValidate {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        if config.max_errors == 0 {
            return Err("max_errors must be at least 1".to_owned());
        }
        let against = match (config.schema, config.subject) {
            (Some(schema), None) => {
                if config.encode {
                    return Err("encode needs a registry subject, not an inline schema".into());
                }
                if !schema.is_object() && !schema.is_boolean() {
                    return Err(format!(
                        "schema must be a JSON Schema object, got {}",
                        json::kind(&schema)
                    ));
                }
                Against::Inline(Schema::new(&schema).map_err(|e| format!("schema: {e}"))?)
            }
            (None, Some(subject)) if !subject.is_empty() => Against::Subject {
                subject,
                encode: config.encode,
            },
            (None, Some(_)) => return Err("subject must not be empty".into()),
            _ => return Err("give either `schema` (inline) or `subject` (registry)".into()),
        };
        Ok(Self {
            against,
            max_errors: config.max_errors,
        })
    }

    fn on_request(&self, _request: &Request, records: Vec<Record>) -> Outcome {
        match &self.against {
            Against::Inline(schema) => self.inline(schema, records),
            Against::Subject { subject, encode } => self.registry(subject, *encode, records),
        }
    }
}

impl SchemaValidate {
    fn inline(&self, schema: &Schema, records: Vec<Record>) -> Outcome {
        let mut problems = Vec::new();
        let mut total = 0;
        for (i, record) in records.iter().enumerate() {
            // Later records still count their violations when the list is full.
            let left = self.max_errors - problems.len() as u32;
            let report = match schema.validate_record(record, left) {
                Ok(report) => report,
                Err(CheckError::InvalidJson(message)) => {
                    return invalid_json(i, records.len(), message);
                }
                // Compiled when the config loaded; only a gateway that lost it gets here.
                Err(CheckError::InvalidSchema(message)) => {
                    return reject(500, "filter_config_invalid", message);
                }
            };
            total += report.total as usize;
            problems.extend(report.violations.into_iter().map(|v| Problem {
                record: i,
                instance_path: v.instance_path,
                schema_path: Some(v.schema_path),
                message: v.message,
            }));
        }
        self.answer(records, problems, total)
    }

    fn registry(&self, subject: &str, encode: bool, mut records: Vec<Record>) -> Outcome {
        let mut problems = Vec::new();
        let mut total = 0;
        let count = records.len();
        // Checked (and encoded) one by one; nothing is forwarded unless every one fits.
        for (i, record) in records.iter_mut().enumerate() {
            let subject = subject.replace("{topic}", &record.topic());
            let done = if encode {
                schemas::encode_record(&subject, record)
            } else {
                schemas::validate_record(&subject, record)
            };
            match done {
                Ok(_) => {}
                Err(SchemaError::Mismatch(found)) => {
                    total += found.len();
                    let room = (self.max_errors as usize).saturating_sub(problems.len());
                    problems.extend(found.iter().take(room).map(|p| split(i, p)));
                }
                Err(SchemaError::InvalidValue(message)) => {
                    return invalid_json(i, count, message);
                }
                Err(other) => return other.reject(),
            }
        }
        self.answer(records, problems, total)
    }

    fn answer(&self, records: Vec<Record>, problems: Vec<Problem>, total: usize) -> Outcome {
        if total == 0 {
            return forward(records);
        }
        let message = match total {
            1 => format!(
                "the body does not match the schema: {}",
                problems[0].message
            ),
            n => format!(
                "the body does not match the schema ({n} errors): {}; …",
                problems[0].message
            ),
        };
        let errors: Vec<Value> = problems
            .iter()
            .map(|p| {
                let mut e = json!({
                    "record": p.record,
                    "instance_path": p.instance_path,
                    "message": p.message,
                });
                if let Some(schema_path) = &p.schema_path {
                    e["schema_path"] = json!(schema_path);
                }
                e
            })
            .collect();
        let body = json!({
            "error": { "code": "schema_violation", "message": message },
            "truncated": total > errors.len(),
            "errors": errors,
        });
        Outcome::Respond(Response::json(422, &body))
    }
}

fn invalid_json(record: usize, records: usize, message: String) -> Outcome {
    let message = if records > 1 {
        format!("record {record}: {message}")
    } else {
        message
    };
    reject(400, "invalid_json", message)
}

/// A registry problem, "JSON pointer: what", split ("(the value)" is the whole value).
fn split(record: usize, problem: &str) -> Problem {
    let (path, message) = problem.split_once(": ").unwrap_or(("", problem));
    let instance_path = if path == "(the value)" { "" } else { path };
    Problem {
        record,
        instance_path: instance_path.to_owned(),
        schema_path: None,
        message: message.to_owned(),
    }
}

export_filter!(SchemaValidate);

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Value {
        json!({"schema": {
            "type": "object",
            "required": ["event", "user"],
            "properties": {
                "event": {"enum": ["click", "view"]},
                "user": {"type": "object", "properties": {"id": {"type": "integer", "minimum": 1}}, "required": ["id"]},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3}
            },
            "additionalProperties": false
        }})
    }

    fn run(config: &Value, bodies: &[&str]) -> Outcome {
        let records = bodies
            .iter()
            .map(|b| {
                let mut r = Record::new("events");
                r.set_value(Some(b.as_bytes()));
                r
            })
            .collect();
        run_filter::<SchemaValidate>(&config.to_string(), &Request::builder().build(), records)
    }

    fn answer(outcome: &Outcome) -> (u16, Value) {
        let r = outcome.response().expect("a response");
        (r.status, r.body_json().unwrap())
    }

    #[test]
    fn valid_bodies_pass_unchanged() {
        let body = r#"{"event":"click","user":{"id":7},"tags":["a"]}"#;
        let out = run(&config(), &[body]);
        assert_eq!(
            out.records().unwrap()[0].value(),
            Some(body.as_bytes().to_vec())
        );
    }

    #[test]
    fn every_violation_is_listed_with_its_paths() {
        let out = run(
            &config(),
            &[r#"{"event":"buy","user":{"id":0},"tags":["a",1],"extra":true}"#],
        );
        let (status, body) = answer(&out);
        assert_eq!(status, 422);
        assert_eq!(body["error"]["code"], "schema_violation");
        let errors = body["errors"].as_array().unwrap();
        let paths: Vec<&str> = errors
            .iter()
            .map(|e| e["instance_path"].as_str().unwrap())
            .collect();
        for path in ["/event", "/user/id", "/tags/1", ""] {
            assert!(paths.contains(&path), "{path:?} in {paths:?}");
        }
        let minimum = errors
            .iter()
            .find(|e| e["instance_path"] == "/user/id")
            .unwrap();
        assert!(
            minimum["schema_path"]
                .as_str()
                .unwrap()
                .ends_with("/minimum"),
            "{minimum}"
        );
        assert_eq!(body["truncated"], false);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("4 errors")
        );
    }

    #[test]
    fn batches_name_the_record_and_lists_are_capped() {
        let mut config = config();
        config["max_errors"] = json!(1);
        let out = run(
            &config,
            &[
                r#"{"event":"view","user":{"id":1}}"#,
                r#"{"event":"x","user":{}}"#,
            ],
        );
        let (status, body) = answer(&out);
        assert_eq!(status, 422);
        assert_eq!(body["errors"].as_array().unwrap().len(), 1);
        assert_eq!(body["errors"][0]["record"], 1);
        assert_eq!(body["truncated"], true);
    }

    #[test]
    fn non_json_is_a_400() {
        let out = run(&config(), &["{oops"]);
        let (status, body) = answer(&out);
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "invalid_json");
    }

    #[test]
    fn bad_schemas_fail_the_config() {
        let err = |v: Value| load_filter::<SchemaValidate>(&v.to_string()).unwrap_err();
        assert!(err(json!({"schema": {"type": "integr"}})).contains("not a valid JSON Schema"));
        assert!(err(json!({"schema": 5})).contains("got a number"));
        assert!(err(json!({})).contains("either `schema` (inline) or `subject`"));
        assert!(err(json!({"schema": {}, "subject": "s"})).contains("either"));
        assert!(err(json!({"schema": {}, "encode": true})).contains("encode needs"));
        assert!(err(json!({"subject": ""})).contains("must not be empty"));
        assert!(err(json!({"schema": {}, "max_errors": 0})).contains("max_errors"));
    }

    const ORDER: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"sku","type":"string"}]}"#;

    fn registry_run(config: Value, topic: &str, bodies: &[&str]) -> Outcome {
        let records = bodies
            .iter()
            .map(|b| {
                let mut r = Record::new(topic);
                r.set_value(Some(b.as_bytes()));
                r
            })
            .collect();
        run_filter::<SchemaValidate>(&config.to_string(), &Request::builder().build(), records)
    }

    #[test]
    fn registry_subjects_check_and_encode_avro() {
        wafka_sdk::testing::reset_schemas();
        let id = wafka_sdk::testing::add_schema("orders-value", "AVRO", ORDER).unwrap();
        let body = r#"{"id":7,"sku":"A-1"}"#;

        let checked = registry_run(json!({"subject": "{topic}-value"}), "orders", &[body]);
        assert_eq!(
            checked.records().unwrap()[0].value(),
            Some(body.as_bytes().to_vec())
        );

        let encoded = registry_run(
            json!({"subject": "orders-value", "encode": true}),
            "elsewhere",
            &[body],
        );
        let value = encoded.records().unwrap()[0].value().unwrap();
        assert_eq!(value[0], 0);
        assert_eq!(u32::from_be_bytes(value[1..5].try_into().unwrap()), id);
        // Avro: zigzag long 7 is 14, then the string's length (2) and bytes.
        assert_eq!(&value[5..], &[14, 6, b'A', b'-', b'1']);
        let (info, json) = schemas::decode(&value).unwrap();
        assert_eq!((info.id, info.schema_type.as_str()), (id, "AVRO"));
        assert_eq!(
            serde_json::from_slice::<Value>(&json).unwrap(),
            json!({"id": 7, "sku": "A-1"})
        );
    }

    #[test]
    fn registry_misfits_are_listed_and_nothing_is_encoded() {
        wafka_sdk::testing::reset_schemas();
        wafka_sdk::testing::add_schema("orders-value", "AVRO", ORDER).unwrap();
        let out = registry_run(
            json!({"subject": "orders-value", "encode": true}),
            "orders",
            &[r#"{"id":1,"sku":"ok"}"#, r#"{"id":"x"}"#],
        );
        let (status, body) = answer(&out);
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], "schema_violation");
        let errors = body["errors"].as_array().unwrap();
        assert!(errors.iter().all(|e| e["record"] == 1), "{body}");
        let paths: Vec<&str> = errors
            .iter()
            .map(|e| e["instance_path"].as_str().unwrap())
            .collect();
        assert!(
            paths.contains(&"/id") && paths.contains(&"/sku"),
            "{paths:?}"
        );

        let (status, body) = answer(&registry_run(
            json!({"subject": "orders-value"}),
            "orders",
            &["{oops"],
        ));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_json"))
        );

        let (status, body) = answer(&registry_run(
            json!({"subject": "{topic}-value"}),
            "payments",
            &[r#"{"id":1}"#],
        ));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("schema_not_found"))
        );
    }

    #[test]
    fn protobuf_and_json_schema_subjects_are_checked_too() {
        wafka_sdk::testing::reset_schemas();
        let proto =
            "syntax = \"proto3\"; message Reading { string sensor = 1; double celsius = 2; }";
        wafka_sdk::testing::add_schema("readings-value", "PROTOBUF", proto).unwrap();
        let ok = registry_run(
            json!({"subject": "readings-value", "encode": true}),
            "readings",
            &[r#"{"sensor":"s-1","celsius":21.5}"#],
        );
        let value = ok.records().unwrap()[0].value().unwrap();
        let (_, json) = schemas::decode(&value).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&json).unwrap(),
            json!({"sensor": "s-1", "celsius": 21.5})
        );
        let (status, _) = answer(&registry_run(
            json!({"subject": "readings-value"}),
            "readings",
            &[r#"{"sensor":5}"#],
        ));
        assert_eq!(status, 422);

        let schema = r#"{"type":"object","required":["n"]}"#;
        wafka_sdk::testing::add_schema("n-value", "JSON", schema).unwrap();
        let (status, body) = answer(&registry_run(json!({"subject": "n-value"}), "n", &["{}"]));
        assert_eq!(status, 422, "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("\"n\""),
            "{body}"
        );
    }
}
