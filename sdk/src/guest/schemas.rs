//! The `schemas` import; its records are the SDK's own types (see `bindings`).

use super::bindings::wafka::filter::schemas as wit;
use super::bindings::wafka::filter::types::Record;
use crate::schemas::{SchemaError, SchemaInfo};

pub fn latest(subject: &str) -> Result<SchemaInfo, SchemaError> {
    wit::latest(subject)
}

pub fn validate(subject: &str, value: &[u8]) -> Result<SchemaInfo, SchemaError> {
    wit::validate(subject, value)
}

pub fn encode(subject: &str, value: &[u8]) -> Result<Vec<u8>, SchemaError> {
    wit::encode(subject, value)
}

pub fn decode(value: &[u8]) -> Result<(SchemaInfo, Vec<u8>), SchemaError> {
    wit::decode(value)
}

pub fn validate_record(subject: &str, record: &Record) -> Result<SchemaInfo, SchemaError> {
    wit::validate_record(subject, record)
}

// Host-owned records change through their handle: `&mut` only mirrors the native stand-in.
pub fn encode_record(subject: &str, record: &mut Record) -> Result<SchemaInfo, SchemaError> {
    wit::encode_record(subject, record)
}

pub fn decode_record(record: &mut Record) -> Result<SchemaInfo, SchemaError> {
    wit::decode_record(record)
}
