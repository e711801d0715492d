//! `schema-validate`: checks each record's JSON value against a JSON Schema from the config
//! and answers 422 listing what is wrong. The gateway compiles the schema once, when the config
//! loads, and checks each value where it lives (the SDK's `json_schema`): drafts 4, 6, 7,
//! 2019-09 and 2020-12 (from `$schema`, 2020-12 by default); `$ref` only within the schema.

use wafka_sdk::json_schema::{CheckError, Schema};
use wafka_sdk::prelude::*;

/// The route's config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The JSON Schema, inline.
    schema: Value,
    /// Most errors listed in a 422 answer. Default 20.
    #[serde(default = "default_max_errors")]
    max_errors: u32,
}

fn default_max_errors() -> u32 {
    20
}

/// The `schema-validate` filter.
#[derive(Debug)]
pub struct SchemaValidate {
    schema: Schema,
    max_errors: u32,
}

impl Filter for SchemaValidate {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        if !config.schema.is_object() && !config.schema.is_boolean() {
            return Err(format!(
                "schema must be a JSON Schema object, got {}",
                json::kind(&config.schema)
            ));
        }
        let schema = Schema::new(&config.schema).map_err(|e| format!("schema: {e}"))?;
        if config.max_errors == 0 {
            return Err("max_errors must be at least 1".to_owned());
        }
        Ok(Self {
            schema,
            max_errors: config.max_errors,
        })
    }

    fn on_request(&self, _request: &Request, records: Vec<Record>) -> Outcome {
        let mut errors = Vec::new();
        let mut total = 0;
        for (i, record) in records.iter().enumerate() {
            // Later records still count their violations when the list is full.
            let left = self.max_errors - errors.len() as u32;
            let report = match self.schema.validate_record(record, left) {
                Ok(report) => report,
                Err(CheckError::InvalidJson(message)) => {
                    let message = if records.len() > 1 {
                        format!("record {i}: {message}")
                    } else {
                        message
                    };
                    return reject(400, "invalid_json", message);
                }
                // Compiled when the config loaded; only a gateway that lost it gets here.
                Err(CheckError::InvalidSchema(message)) => {
                    return reject(500, "filter_config_invalid", message);
                }
            };
            total += report.total;
            for v in report.violations {
                errors.push(json!({
                    "record": i,
                    "instance_path": v.instance_path,
                    "schema_path": v.schema_path,
                    "message": v.message,
                }));
            }
        }
        if total == 0 {
            return forward(records);
        }
        let first = errors[0]["message"].as_str().unwrap_or_default().to_owned();
        let message = match total {
            1 => format!("the body does not match the schema: {first}"),
            n => format!("the body does not match the schema ({n} errors): {first}; …"),
        };
        let body = json!({
            "error": { "code": "schema_violation", "message": message },
            "errors": errors,
            "truncated": total as usize > errors.len(),
        });
        Outcome::Respond(Response::json(422, &body))
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
        assert!(err(json!({})).contains("missing field `schema`"));
        assert!(err(json!({"schema": {}, "max_errors": 0})).contains("max_errors"));
    }
}
