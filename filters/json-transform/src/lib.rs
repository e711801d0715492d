//! `json-transform`: reshapes each record's JSON value with JSON pointers. Steps run in this
//! order: `split`, then on each record `pick`, `drop`, `rename`, `set`, `timestamp`,
//! `request_id`, and last `key` (which reads the reshaped value).

use wafka_sdk::prelude::*;

/// The route's config; every step is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Pointer to an array (`""` for a top-level array): each element becomes its own record,
    /// with the original record's topic, key and headers.
    split: Option<String>,
    /// Keep only these pointers (the rest is dropped).
    #[serde(default)]
    pick: Vec<String>,
    /// Remove these pointers.
    #[serde(default)]
    drop: Vec<String>,
    /// Move values: `{ "/from" = "/to" }`.
    #[serde(default)]
    rename: Vec<(String, String)>,
    /// Set constant values: `{ "/source" = "web" }`.
    #[serde(default)]
    set: serde_json::Map<String, Value>,
    /// Write the request's arrival time here.
    timestamp: Option<Timestamp>,
    /// Write the request id here.
    request_id: Option<String>,
    /// Take the record key from this pointer (strings as they are, other values as JSON).
    key: Option<String>,
}

/// Where and how to write the arrival time.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Timestamp {
    /// The pointer.
    at: String,
    /// `rfc3339` (default, `2026-11-24T10:53:48.123Z`) or `millis` (since the epoch).
    #[serde(default)]
    format: TimeFormat,
}

#[derive(Debug, Default, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum TimeFormat {
    #[default]
    Rfc3339,
    Millis,
}

/// The `json-transform` filter.
#[derive(Debug)]
pub struct JsonTransform {
    config: Config,
}

impl Filter for JsonTransform {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let pointers = config
            .split
            .iter()
            .map(|p| ("split", p))
            .chain(config.pick.iter().map(|p| ("pick", p)))
            .chain(config.drop.iter().map(|p| ("drop", p)))
            .chain(
                config
                    .rename
                    .iter()
                    .flat_map(|(a, b)| [("rename", a), ("rename", b)]),
            )
            .chain(config.set.keys().map(|p| ("set", p)))
            .chain(config.timestamp.iter().map(|t| ("timestamp.at", &t.at)))
            .chain(config.request_id.iter().map(|p| ("request_id", p)))
            .chain(config.key.iter().map(|p| ("key", p)));
        for (option, pointer) in pointers {
            json::check_pointer(pointer).map_err(|e| format!("{option}: {e}"))?;
        }
        Ok(Self { config })
    }

    fn on_request(&self, request: &Request, records: Vec<Record>) -> Outcome {
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let value = match json::parse(&record.value().unwrap_or_default()) {
                Ok(value) => value,
                Err(message) => return reject(400, "invalid_json", message),
            };
            let parts = match &self.config.split {
                None => vec![value],
                Some(pointer) => match split(value, pointer) {
                    Ok(parts) => parts,
                    Err(message) => return reject(422, "cannot_split", message),
                },
            };
            // Copies for all but the last part, which reuses the record itself.
            let mut original = Some(record);
            let count = parts.len();
            for (i, part) in parts.into_iter().enumerate() {
                let mut next = match original.take() {
                    Some(record) if i + 1 < count => {
                        let copy = record.duplicate();
                        original = Some(record);
                        copy
                    }
                    Some(record) => record,
                    None => break,
                };
                match self.reshape(request, part) {
                    Ok((value, key)) => {
                        next.set_value(Some(value.to_string().as_bytes()));
                        if let Some(key) = key {
                            next.set_key(Some(key.as_bytes()));
                        }
                    }
                    Err(message) => return reject(422, "cannot_transform", message),
                }
                out.push(next);
            }
        }
        forward(out)
    }
}

impl JsonTransform {
    /// One value through every step after `split`; returns it and the key, if configured.
    fn reshape(
        &self,
        request: &Request,
        mut value: Value,
    ) -> Result<(Value, Option<String>), String> {
        let c = &self.config;
        if !c.pick.is_empty() {
            let mut kept = Value::Object(Default::default());
            for pointer in &c.pick {
                if let Some(v) = json::take(&mut value, pointer) {
                    json::put(&mut kept, pointer, v)?;
                }
            }
            value = kept;
        }
        for pointer in &c.drop {
            json::take(&mut value, pointer);
        }
        for (from, to) in &c.rename {
            if let Some(v) = json::take(&mut value, from) {
                json::put(&mut value, to, v)?;
            }
        }
        for (pointer, v) in &c.set {
            json::put(&mut value, pointer, v.clone())?;
        }
        if let Some(t) = &c.timestamp {
            let at = request.received_at();
            let stamp = match t.format {
                TimeFormat::Rfc3339 => Value::from(time::rfc3339_millis(at)),
                TimeFormat::Millis => Value::from(at),
            };
            json::put(&mut value, &t.at, stamp)?;
        }
        if let Some(pointer) = &c.request_id {
            json::put(&mut value, pointer, Value::from(request.id()))?;
        }
        let key = match &c.key {
            None => None,
            Some(pointer) => match value.pointer(pointer) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Null) | None => {
                    return Err(format!("the key field {pointer} is missing"));
                }
                Some(other) => Some(other.to_string()),
            },
        };
        Ok((value, key))
    }
}

/// The elements of the array at `pointer`.
fn split(mut value: Value, pointer: &str) -> Result<Vec<Value>, String> {
    match json::take(&mut value, pointer) {
        Some(Value::Array(items)) if !items.is_empty() => Ok(items),
        Some(Value::Array(_)) => Err(format!("the array at {pointer:?} is empty")),
        Some(other) => Err(format!(
            "{pointer:?} is {}, not an array",
            json::kind(&other)
        )),
        None => Err(format!("there is nothing at {pointer:?} to split")),
    }
}

export_filter!(JsonTransform);

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-24T10:53:48.123Z
    const RECEIVED_AT: u64 = 1_795_517_628_123;

    fn run(config: Value, body: &str) -> Outcome {
        let request = Request::builder()
            .id("req-7")
            .received_at(RECEIVED_AT)
            .build();
        let mut record = Record::new("events");
        record.set_value(Some(body.as_bytes()));
        record.set_header("x-request-id", "req-7");
        run_filter::<JsonTransform>(&config.to_string(), &request, vec![record])
    }

    fn values(outcome: &Outcome) -> Vec<Value> {
        let records = outcome.records().expect("forwarded");
        records.iter().map(|r| r.value_json().unwrap()).collect()
    }

    fn error(outcome: &Outcome) -> (u16, String, String) {
        let r = outcome.response().expect("a response");
        let body: Value = r.body_json().unwrap();
        let text = |f: &str| body["error"][f].as_str().unwrap().to_owned();
        (r.status, text("code"), text("message"))
    }

    #[test]
    fn pick_drop_rename_set_and_stamps_in_order() {
        let config = json!({
            "pick": ["/user", "/event", "/secret"],
            "drop": ["/secret"],
            "rename": [["/user/name", "/user_name"]],
            "set": {"/source": "web", "/meta/v": 2},
            "timestamp": {"at": "/ts"},
            "request_id": "/meta/request",
        });
        let out = run(
            config,
            r#"{"user":{"name":"ada","id":7},"event":"click","secret":"x","noise":1}"#,
        );
        assert_eq!(
            values(&out),
            [json!({
                "user": {"id": 7}, "event": "click", "user_name": "ada", "source": "web",
                "meta": {"v": 2, "request": "req-7"}, "ts": "2026-11-24T10:53:48.123Z"
            })]
        );
    }

    #[test]
    fn split_makes_a_record_per_element_keyed_by_a_field() {
        let config = json!({"split": "/items", "key": "/sku", "timestamp": {"at": "/ts", "format": "millis"}});
        let out = run(config, r#"{"items":[{"sku":"a-1"},{"sku":42}],"order":9}"#);
        let records = out.records().unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].key(), Some(b"a-1".to_vec()));
        assert_eq!(records[1].key(), Some(b"42".to_vec()));
        assert_eq!(values(&out)[1], json!({"sku": 42, "ts": RECEIVED_AT}));
        for r in records {
            assert_eq!(r.topic(), "events");
            assert_eq!(
                r.header("x-request-id"),
                Some(b"req-7".to_vec()),
                "headers kept"
            );
        }
        // A top-level array.
        let out = run(json!({"split": ""}), "[1, 2, 3]");
        assert_eq!(values(&out), [json!(1), json!(2), json!(3)]);
    }

    #[test]
    fn wrong_shapes_answer_with_clear_errors() {
        let (status, code, message) = error(&run(json!({"split": "/items"}), r#"{"items": 5}"#));
        assert_eq!((status, code.as_str()), (422, "cannot_split"));
        assert!(message.contains("a number, not an array"), "{message}");
        let (_, _, message) = error(&run(json!({"split": "/items"}), r#"{"items": []}"#));
        assert!(message.contains("empty"));
        let (status, code, _) = error(&run(json!({}), "not json"));
        assert_eq!((status, code.as_str()), (400, "invalid_json"));
        let (status, code, message) = error(&run(json!({"key": "/id"}), r#"{"a":1}"#));
        assert_eq!((status, code.as_str()), (422, "cannot_transform"));
        assert!(message.contains("/id is missing"));
        let (_, _, message) = error(&run(json!({"set": {"/a/b": 1}}), r#"{"a": "text"}"#));
        assert!(message.contains("inside a string"), "{message}");
    }

    #[test]
    fn bad_configs_are_explained() {
        let err = |v: Value| load_filter::<JsonTransform>(&v.to_string()).unwrap_err();
        assert!(err(json!({"drop": ["a"]})).starts_with("drop: \"a\" is not a JSON pointer"));
        assert!(
            err(json!({"timestamp": {"at": "/t", "format": "unix"}})).contains("unknown variant")
        );
        assert!(err(json!({"renames": []})).contains("unknown field"));
    }
}
