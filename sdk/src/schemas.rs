//! The gateway's schema registry (`[schema_registry]`), by subject: JSON values checked against
//! Avro, Protobuf and JSON Schema schemas, encoded in the registry's wire format and decoded
//! back, by the gateway, which parses each schema once. A record's value is checked and
//! encoded where it lives, without passing through the filter. Natively (unit tests),
//! [`testing::add_schema`](crate::testing::add_schema) sets up a stand-in with the gateway's
//! own formats.
//!
//! ```no_run
//! use wafka_sdk::prelude::*;
//! use wafka_sdk::schemas;
//!
//! fn encode_all(records: &mut [Record]) -> Result<(), Outcome> {
//!     for record in records {
//!         schemas::encode_record("orders-value", record).map_err(|e| e.reject())?;
//!     }
//!     Ok(())
//! }
//! ```
//!
//! Problems are listed as "JSON pointer: what is wrong" ("(the value)" for the whole value), at
//! most 20 per value.

use crate::backend::schemas as host;
use crate::{Outcome, Record, reject};

/// A registered schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaInfo {
    /// Its id: what values encoded with it carry.
    pub id: u32,
    /// Its version under the subject asked for; 0 when it was found by id.
    pub version: u32,
    /// `AVRO`, `JSON` or `PROTOBUF`.
    pub schema_type: String,
}

/// Why a value could not be checked, encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaError {
    /// The subject has no version, or no schema has the value's id (422).
    NotFound(String),
    /// The value does not fit the schema: every problem, at most 20 (422).
    Mismatch(Vec<String>),
    /// The value is not JSON (to encode) or not in the wire format (to decode) (400).
    InvalidValue(String),
    /// No registry is configured, or it cannot be reached and nothing cached answers (503).
    Unavailable(String),
}

impl SchemaError {
    /// The status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            SchemaError::NotFound(_) | SchemaError::Mismatch(_) => 422,
            SchemaError::InvalidValue(_) => 400,
            SchemaError::Unavailable(_) => 503,
        }
    }

    /// A stable error code, the gateway's own for the same cases.
    pub fn code(&self) -> &'static str {
        match self {
            SchemaError::NotFound(_) => "schema_not_found",
            SchemaError::Mismatch(_) => "schema_mismatch",
            SchemaError::InvalidValue(_) => "invalid_value",
            SchemaError::Unavailable(_) => "schema_registry_unavailable",
        }
    }

    /// What is wrong, in one line.
    pub fn message(&self) -> String {
        match self {
            SchemaError::Mismatch(problems) => {
                format!("the value does not fit the schema: {}", problems.join("; "))
            }
            SchemaError::NotFound(why)
            | SchemaError::InvalidValue(why)
            | SchemaError::Unavailable(why) => why.clone(),
        }
    }

    /// The answer for this error, in the gateway's error shape.
    pub fn reject(&self) -> Outcome {
        reject(self.status(), self.code(), self.message())
    }
}

/// The latest version of `subject`.
pub fn latest(subject: &str) -> Result<SchemaInfo, SchemaError> {
    host::latest(subject)
}

/// Checks the JSON text `value` against the latest schema of `subject`.
pub fn validate(subject: &str, value: &[u8]) -> Result<SchemaInfo, SchemaError> {
    host::validate(subject, value)
}

/// Encodes the JSON text `value` with the latest schema of `subject`, in the wire format.
pub fn encode(subject: &str, value: &[u8]) -> Result<Vec<u8>, SchemaError> {
    host::encode(subject, value)
}

/// Decodes a wire-format value to JSON text, with the schema it names.
pub fn decode(value: &[u8]) -> Result<(SchemaInfo, Vec<u8>), SchemaError> {
    host::decode(value)
}

/// Checks `record`'s JSON value against the latest schema of `subject`, without copying it.
pub fn validate_record(subject: &str, record: &Record) -> Result<SchemaInfo, SchemaError> {
    host::validate_record(subject, &record.inner)
}

/// Replaces `record`'s JSON value by its encoding with the latest schema of `subject`; on an
/// error the value stays as it was.
pub fn encode_record(subject: &str, record: &mut Record) -> Result<SchemaInfo, SchemaError> {
    host::encode_record(subject, &mut record.inner)
}

/// Replaces `record`'s wire-format value by its JSON text; on an error the value stays.
pub fn decode_record(record: &mut Record) -> Result<SchemaInfo, SchemaError> {
    host::decode_record(&mut record.inner)
}
