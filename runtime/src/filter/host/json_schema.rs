//! JSON Schema validation for filters (the WIT `json-schema` interface). Inside a filter the
//! validator rebuilds its meta-schemas in every request's fresh instance (about 4 ms); here each
//! schema is compiled once and kept, so a check costs what it costs natively (BENCHMARKS.md).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use wasmtime::component::Resource;

use crate::exchange::Record;
use crate::filter::bindings::wafka::filter::json_schema::{self, CheckError, Report, Violation};
use crate::filter::store::StoreData;

/// Compiled schemas kept at most; past it the cache starts over.
const MAX_SCHEMAS: usize = 256;
/// Longest schema text accepted.
const MAX_SCHEMA_BYTES: usize = 1 << 20;

/// A compiled schema depends only on its text, so one cache serves every filter, route and
/// reload.
static SCHEMAS: LazyLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> =
    LazyLock::new(Default::default);

impl json_schema::Host for StoreData {
    fn compile(&mut self, schema: String) -> wasmtime::Result<Result<(), String>> {
        Ok(compiled(schema).map(drop))
    }

    fn validate(
        &mut self,
        schema: String,
        value: Vec<u8>,
        max_errors: u32,
    ) -> wasmtime::Result<Result<Report, CheckError>> {
        Ok(check(schema, Some(&value), max_errors))
    }

    fn validate_record(
        &mut self,
        schema: String,
        record: Resource<Record>,
        max_errors: u32,
    ) -> wasmtime::Result<Result<Report, CheckError>> {
        let record = self.table.get(&record)?;
        Ok(check(schema, record.value.as_deref(), max_errors))
    }
}

/// The compiled `schema`, from the cache or compiled now.
fn compiled(schema: String) -> Result<Arc<jsonschema::Validator>, String> {
    let cache = || SCHEMAS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(validator) = cache().get(&schema) {
        return Ok(validator.clone());
    }
    if schema.len() > MAX_SCHEMA_BYTES {
        return Err(format!(
            "the schema is {} bytes; at most {MAX_SCHEMA_BYTES} are accepted",
            schema.len()
        ));
    }
    let value: serde_json::Value =
        serde_json::from_str(&schema).map_err(|e| format!("the schema is not JSON: {e}"))?;
    if !value.is_object() && !value.is_boolean() {
        return Err("a JSON Schema is an object or a boolean".to_owned());
    }
    // Compiled outside the lock: the first schema also builds the meta-schemas (milliseconds).
    let validator = jsonschema::validator_for(&value)
        .map(Arc::new)
        .map_err(|e| {
            format!(
                "not a valid JSON Schema: {e} (at {})",
                e.instance_path().as_str()
            )
        })?;
    let mut cache = cache();
    if cache.len() >= MAX_SCHEMAS {
        cache.clear();
    }
    cache.insert(schema, validator.clone());
    Ok(validator)
}

/// Checks `value` (JSON text; `None` is a null record value) against `schema`.
fn check(schema: String, value: Option<&[u8]>, max_errors: u32) -> Result<Report, CheckError> {
    let validator = compiled(schema).map_err(CheckError::InvalidSchema)?;
    let value: serde_json::Value = serde_json::from_slice(value.unwrap_or_default())
        .map_err(|e| CheckError::InvalidJson(format!("invalid JSON: {e}")))?;
    let mut violations = Vec::new();
    let mut total = 0u32;
    for error in validator.iter_errors(&value) {
        total = total.saturating_add(1);
        if violations.len() < max_errors as usize {
            violations.push(Violation {
                instance_path: error.instance_path().as_str().to_owned(),
                schema_path: error.schema_path().as_str().to_owned(),
                message: error.to_string(),
            });
        }
    }
    Ok(Report { violations, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str =
        r#"{"type":"object","required":["id"],"properties":{"id":{"type":"integer","minimum":1}}}"#;

    #[test]
    fn violations_are_listed_up_to_the_cap_and_counted_in_full() {
        let report = check(SCHEMA.into(), Some(br#"{"id":0}"#), 5).unwrap();
        assert_eq!(report.total, 1);
        assert_eq!(report.violations[0].instance_path, "/id");
        assert_eq!(report.violations[0].schema_path, "/properties/id/minimum");
        assert_eq!(
            report.violations[0].message,
            "0 is less than the minimum of 1"
        );

        let two = r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}"#;
        let report = check(two.into(), Some(br#"{"a":1,"b":2}"#), 1).unwrap();
        assert_eq!((report.total, report.violations.len()), (2, 1));

        let report = check(SCHEMA.into(), Some(br#"{"id":3}"#), 5).unwrap();
        assert_eq!((report.total, report.violations.len()), (0, 0));
    }

    #[test]
    fn bad_schemas_and_bad_values_say_which() {
        let schema_error = |s: &str| match check(s.into(), Some(b"{}"), 1) {
            Err(CheckError::InvalidSchema(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(schema_error(r#"{"type":"integr"}"#).contains("not a valid JSON Schema"));
        assert!(schema_error("{").contains("not JSON"));
        assert!(schema_error("5").contains("object or a boolean"));
        let huge = format!(r#"{{"description":"{}"}}"#, "x".repeat(MAX_SCHEMA_BYTES));
        assert!(schema_error(&huge).contains("at most"));

        for value in [None, Some(&b"{oops"[..]), Some(&b""[..])] {
            match check(SCHEMA.into(), value, 1) {
                Err(CheckError::InvalidJson(m)) => assert!(m.starts_with("invalid JSON: "), "{m}"),
                other => panic!("{value:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_schema_is_compiled_once() {
        let text = r#"{"type":"string","description":"compiled once"}"#;
        let first = compiled(text.into()).unwrap();
        let second = compiled(text.into()).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
    }
}
