//! `schemas` in memory, per thread (each test has its own): subjects set up by
//! [`crate::testing::add_schema`], values checked, encoded and decoded with the gateway's own
//! [`crate::formats`] when the SDK is built with them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::native::Record;
use crate::schemas::{SchemaError, SchemaInfo};

struct Schema {
    info: SchemaInfo,
    #[cfg(feature = "formats")]
    parsed: crate::formats::Parsed,
}

#[derive(Default)]
struct Registry {
    /// Versions by subject, oldest first.
    subjects: BTreeMap<String, Vec<Rc<Schema>>>,
    by_id: BTreeMap<u32, Rc<Schema>>,
}

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::default();
}

/// Registers `text` as the next version of `subject`, with a new id.
#[cfg(feature = "formats")]
pub fn add(subject: &str, schema_type: &str, text: &str) -> Result<u32, String> {
    let kind = crate::formats::Kind::parse(Some(schema_type))?;
    let parsed = crate::formats::Parsed::parse(kind, text)?;
    Ok(REGISTRY.with_borrow_mut(|r| {
        let id = r.by_id.keys().max().map_or(1, |m| m + 1);
        let versions = r.subjects.entry(subject.to_owned()).or_default();
        let schema = Rc::new(Schema {
            info: SchemaInfo {
                id,
                version: versions.len() as u32 + 1,
                schema_type: schema_type.to_ascii_uppercase(),
            },
            parsed,
        });
        versions.push(schema.clone());
        r.by_id.insert(id, schema);
        id
    }))
}

#[cfg(not(feature = "formats"))]
pub fn add(_subject: &str, _schema_type: &str, _text: &str) -> Result<u32, String> {
    Err("the stand-in registry needs wafka-sdk's `formats` feature (a dev-dependency)".into())
}

pub fn reset() {
    REGISTRY.with_borrow_mut(|r| *r = Registry::default());
}

fn latest_schema(subject: &str) -> Result<Rc<Schema>, SchemaError> {
    REGISTRY.with_borrow(|r| {
        r.subjects
            .get(subject)
            .and_then(|v| v.last().cloned())
            .ok_or_else(|| SchemaError::NotFound(format!("subject {subject:?} has no schema")))
    })
}

fn writer(value: &[u8]) -> Result<Rc<Schema>, SchemaError> {
    let id = match value {
        [0, a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => {
            return Err(SchemaError::InvalidValue(
                "not in the wire format (a zero byte, then the id)".into(),
            ));
        }
    };
    REGISTRY.with_borrow(|r| {
        r.by_id
            .get(&id)
            .cloned()
            .ok_or_else(|| SchemaError::NotFound(format!("no schema has id {id}")))
    })
}

#[cfg(feature = "formats")]
fn encoded(schema: &Schema, json: &[u8]) -> Result<Vec<u8>, SchemaError> {
    schema
        .parsed
        .encode(schema.info.id, json)
        .map_err(|problems| match problems.first() {
            Some(p) if p.starts_with("(the value): not JSON") => {
                SchemaError::InvalidValue(p.clone())
            }
            _ => SchemaError::Mismatch(problems),
        })
}

#[cfg(feature = "formats")]
fn decoded(schema: &Schema, value: &[u8]) -> Result<Vec<u8>, SchemaError> {
    let json = schema.parsed.decode(&value[5..]).map_err(|e| {
        SchemaError::InvalidValue(format!(
            "does not decode with schema {}: {e}",
            schema.info.id
        ))
    })?;
    Ok(json.to_string().into_bytes())
}

// Without the formats no schema can be added, so these are never reached.
#[cfg(not(feature = "formats"))]
fn encoded(_: &Schema, _: &[u8]) -> Result<Vec<u8>, SchemaError> {
    Err(SchemaError::Unavailable("no formats".into()))
}
#[cfg(not(feature = "formats"))]
fn decoded(_: &Schema, _: &[u8]) -> Result<Vec<u8>, SchemaError> {
    Err(SchemaError::Unavailable("no formats".into()))
}

fn no_value() -> SchemaError {
    SchemaError::InvalidValue("the record has no value".into())
}

pub fn latest(subject: &str) -> Result<SchemaInfo, SchemaError> {
    latest_schema(subject).map(|s| s.info.clone())
}

pub fn validate(subject: &str, value: &[u8]) -> Result<SchemaInfo, SchemaError> {
    let schema = latest_schema(subject)?;
    encoded(&schema, value).map(|_| schema.info.clone())
}

pub fn encode(subject: &str, value: &[u8]) -> Result<Vec<u8>, SchemaError> {
    encoded(&*latest_schema(subject)?, value)
}

pub fn decode(value: &[u8]) -> Result<(SchemaInfo, Vec<u8>), SchemaError> {
    let schema = writer(value)?;
    let json = decoded(&schema, value)?;
    Ok((by_id(&schema), json))
}

fn by_id(schema: &Schema) -> SchemaInfo {
    SchemaInfo {
        version: 0,
        ..schema.info.clone()
    }
}

pub fn validate_record(subject: &str, record: &Record) -> Result<SchemaInfo, SchemaError> {
    validate(subject, &record.value().ok_or_else(no_value)?)
}

pub fn encode_record(subject: &str, record: &mut Record) -> Result<SchemaInfo, SchemaError> {
    let value = record.value().ok_or_else(no_value)?;
    let schema = latest_schema(subject)?;
    record.set_value(Some(&encoded(&schema, &value)?));
    Ok(schema.info.clone())
}

pub fn decode_record(record: &mut Record) -> Result<SchemaInfo, SchemaError> {
    let value = record.value().ok_or_else(no_value)?;
    let (info, json) = decode(&value)?;
    record.set_value(Some(&json));
    Ok(info)
}
