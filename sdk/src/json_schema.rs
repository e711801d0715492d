//! JSON Schema validation, done by the gateway: inside a filter the validator would rebuild its
//! meta-schemas in every request's fresh instance (about 4 ms a request, `BENCHMARKS.md`); the
//! gateway compiles each schema once and keeps it. Natively (unit tests) the same library runs
//! in-process.
//!
//! Drafts 4, 6, 7, 2019-09 and 2020-12, chosen by `$schema` (2020-12 when absent); `$ref`
//! resolves within the schema only, nothing is fetched; a schema is at most 1 MiB.
//!
//! ```no_run
//! use wafka_sdk::json_schema::Schema;
//! use wafka_sdk::prelude::*;
//!
//! let schema = Schema::new(&json!({"type": "object", "required": ["id"]})).unwrap();
//! let report = schema.validate(br#"{"name":"x"}"#, 10).unwrap();
//! assert_eq!(report.total, 1);
//! assert_eq!(report.violations[0].message, "\"id\" is a required property");
//! ```

use serde_json::Value;

use crate::Record;
use crate::backend::json_schema as host;

/// One way a value breaks the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer to the offending part of the value; "" for the whole value.
    pub instance_path: String,
    /// JSON pointer to the schema keyword that failed, e.g. "/properties/age/minimum".
    pub schema_path: String,
    /// What is wrong, in English.
    pub message: String,
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The first `max_errors` violations; empty when the value is valid.
    pub violations: Vec<Violation>,
    /// How many violations there are in all.
    pub total: u32,
}

/// Why a value could not be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckError {
    /// The schema is not JSON or not a valid JSON Schema.
    InvalidSchema(String),
    /// The value is not JSON (an empty or null value included).
    InvalidJson(String),
}

/// A JSON Schema the gateway has compiled.
#[derive(Debug, Clone)]
pub struct Schema {
    text: String,
}

impl Schema {
    /// Compiles `schema`; the error says what is wrong with it. Call it when the filter is
    /// built from its config, so a bad schema is a config error.
    pub fn new(schema: &Value) -> Result<Self, String> {
        let text = schema.to_string();
        host::compile(&text)?;
        Ok(Self { text })
    }

    /// Checks the JSON text `value`, listing at most `max_errors` violations.
    pub fn validate(&self, value: &[u8], max_errors: u32) -> Result<Report, CheckError> {
        host::validate(&self.text, value, max_errors)
    }

    /// Checks `record`'s value without copying it into the filter, listing at most
    /// `max_errors` violations.
    pub fn validate_record(&self, record: &Record, max_errors: u32) -> Result<Report, CheckError> {
        host::validate_record(&self.text, &record.inner, max_errors)
    }
}
