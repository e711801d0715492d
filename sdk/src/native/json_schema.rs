//! `json-schema` in-process with the library the gateway uses, its messages, and like the
//! gateway each schema compiled once (per thread here).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::json_schema::{CheckError, Report, Violation};
use crate::native::Record;

const MAX_SCHEMA_BYTES: usize = 1 << 20;

thread_local! {
    static SCHEMAS: RefCell<HashMap<String, Rc<jsonschema::Validator>>> = RefCell::default();
}

fn compiled(schema: &str) -> Result<Rc<jsonschema::Validator>, String> {
    if let Some(validator) = SCHEMAS.with_borrow(|s| s.get(schema).cloned()) {
        return Ok(validator);
    }
    let validator = Rc::new(compile_new(schema)?);
    SCHEMAS.with_borrow_mut(|s| s.insert(schema.to_owned(), validator.clone()));
    Ok(validator)
}

fn compile_new(schema: &str) -> Result<jsonschema::Validator, String> {
    if schema.len() > MAX_SCHEMA_BYTES {
        return Err(format!(
            "the schema is {} bytes; at most {MAX_SCHEMA_BYTES} are accepted",
            schema.len()
        ));
    }
    let value: serde_json::Value =
        serde_json::from_str(schema).map_err(|e| format!("the schema is not JSON: {e}"))?;
    if !value.is_object() && !value.is_boolean() {
        return Err("a JSON Schema is an object or a boolean".to_owned());
    }
    jsonschema::validator_for(&value).map_err(|e| {
        format!(
            "not a valid JSON Schema: {e} (at {})",
            e.instance_path().as_str()
        )
    })
}

pub fn compile(schema: &str) -> Result<(), String> {
    compiled(schema).map(drop)
}

pub fn validate(schema: &str, value: &[u8], max_errors: u32) -> Result<Report, CheckError> {
    let validator = compiled(schema).map_err(CheckError::InvalidSchema)?;
    let value: serde_json::Value = serde_json::from_slice(value)
        .map_err(|e| CheckError::InvalidJson(format!("invalid JSON: {e}")))?;
    let mut report = Report {
        violations: Vec::new(),
        total: 0,
    };
    for error in validator.iter_errors(&value) {
        report.total = report.total.saturating_add(1);
        if report.violations.len() < max_errors as usize {
            report.violations.push(Violation {
                instance_path: error.instance_path().as_str().to_owned(),
                schema_path: error.schema_path().as_str().to_owned(),
                message: error.to_string(),
            });
        }
    }
    Ok(report)
}

pub fn validate_record(
    schema: &str,
    record: &Record,
    max_errors: u32,
) -> Result<Report, CheckError> {
    validate(schema, &record.value().unwrap_or_default(), max_errors)
}
