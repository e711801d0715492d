//! `json-mask`: for read routes. Records read from Kafka pass through it on their way to the
//! client: fields are masked (`"***"`) or dropped, and records that belong to another caller
//! (a JSON field that must equal a request header, such as a tenant) are left out. It does
//! nothing to requests: put an auth filter before it.

use wafka_sdk::prelude::*;

/// The route's `config`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// JSON pointers whose values are replaced with `"***"`.
    #[serde(default)]
    mask: Vec<String>,
    /// JSON pointers removed from the record.
    #[serde(default)]
    drop: Vec<String>,
    /// Only records whose value at `pointer` equals the request's `header` are sent.
    #[serde(default)]
    only_matching: Option<Match>,
}

/// A field that must equal a request header.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// JSON pointer into the record's value, e.g. `/tenant`.
    pointer: String,
    /// Request header to compare it with, e.g. `x-tenant`.
    header: String,
}

/// The `json-mask` filter.
#[derive(Debug)]
pub struct JsonMask {
    config: Config,
}

impl Filter for JsonMask {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let pointers = config.mask.iter().chain(&config.drop);
        for pointer in pointers.chain(config.only_matching.iter().map(|m| &m.pointer)) {
            json::check_pointer(pointer)?;
        }
        if config.mask.is_empty() && config.drop.is_empty() && config.only_matching.is_none() {
            return Err("set mask, drop or only_matching".into());
        }
        Ok(Self { config })
    }

    fn on_request(&self, _: &Request, records: Vec<Record>) -> Outcome {
        forward(records)
    }

    fn sees_records(&self) -> bool {
        true
    }

    fn on_records(&self, request: &Request, records: Vec<Record>) -> Vec<Record> {
        let wanted = self
            .config
            .only_matching
            .as_ref()
            .map(|m| (m, request.header_str(&m.header)));
        records
            .into_iter()
            .filter_map(|mut record| {
                // Not JSON: nothing to mask, and no field to match.
                let Ok(mut value) = record.value_json::<Value>() else {
                    return wanted.is_none().then_some(record);
                };
                if let Some((rule, header)) = &wanted {
                    let field = value.pointer(&rule.pointer).and_then(Value::as_str);
                    if header.is_none() || field != header.as_deref() {
                        return None;
                    }
                }
                for pointer in &self.config.mask {
                    if let Some(field) = value.pointer_mut(pointer) {
                        *field = json!("***");
                    }
                }
                for pointer in &self.config.drop {
                    json::take(&mut value, pointer);
                }
                record.set_value_json(&value).ok()?;
                Some(record)
            })
            .collect()
    }
}

wafka_sdk::export_filter!(JsonMask);

#[cfg(test)]
mod tests {
    use super::*;

    fn read(value: &str) -> Record {
        Record::read("orders", 0, 7, value.as_bytes())
    }

    fn values(records: &[Record]) -> Vec<Value> {
        records.iter().map(|r| r.value_json().unwrap()).collect()
    }

    #[test]
    fn masks_and_drops_fields() {
        let filter: JsonMask =
            load_filter(r#"{"mask": ["/user/email"], "drop": ["/card"]}"#).unwrap();
        let request = Request::builder().build();
        let out = filter.on_records(
            &request,
            vec![read(
                r#"{"user":{"email":"a@b.c","id":1},"card":"4111","total":3}"#,
            )],
        );
        assert_eq!(
            values(&out),
            [json!({"user": {"email": "***", "id": 1}, "total": 3})]
        );
        assert_eq!(out[0].offset(), Some(7));
    }

    #[test]
    fn records_of_other_callers_are_left_out() {
        let filter: JsonMask =
            load_filter(r#"{"only_matching": {"pointer": "/tenant", "header": "x-tenant"}}"#)
                .unwrap();
        let mine = Request::builder().header("x-tenant", "acme").build();
        let records = || {
            vec![
                read(r#"{"tenant":"acme"}"#),
                read(r#"{"tenant":"initech"}"#),
                read("not json"),
            ]
        };
        assert_eq!(
            values(&filter.on_records(&mine, records())),
            [json!({"tenant": "acme"})]
        );
        let nobody = Request::builder().build();
        assert!(filter.on_records(&nobody, records()).is_empty());
    }

    #[test]
    fn bad_configs_are_refused() {
        assert!(load_filter::<JsonMask>("{}").is_err());
        assert!(load_filter::<JsonMask>(r#"{"mask": ["no-slash"]}"#).is_err());
    }
}
