//! The `json-schema` import; its records are the SDK's own types (see `bindings`).

use super::bindings::wafka::filter::json_schema as wit;
use super::bindings::wafka::filter::types::Record;
use crate::json_schema::{CheckError, Report};

pub fn compile(schema: &str) -> Result<(), String> {
    wit::compile(schema)
}

pub fn validate(schema: &str, value: &[u8], max_errors: u32) -> Result<Report, CheckError> {
    wit::validate(schema, value, max_errors)
}

pub fn validate_record(
    schema: &str,
    record: &Record,
    max_errors: u32,
) -> Result<Report, CheckError> {
    wit::validate_record(schema, record, max_errors)
}
