//! Records on their way in and out: a produce route's keys and values checked and encoded with
//! its subjects' latest schemas, and registry-encoded values shown to readers as JSON.

use bytes::Bytes;

use super::{EncodeError, Registry};
use crate::config::SchemaRef;
use crate::error::RequestError;
use crate::exchange::Record;
use crate::metrics::SCHEMA_VALUES;

/// Most problems one answer lists; the count says how many there were.
const MAX_PROBLEMS: usize = 100;

/// Which schema a key or value is encoded with.
#[derive(Debug, Clone, Copy)]
pub enum Using<'a> {
    /// The latest version of the subject a route names (by default for the record's topic).
    Subject(&'a SchemaRef),
    /// This schema (a REST Proxy request's `value_schema_id`, or the schema it registered).
    Id(u32),
}

/// Makes the schemas `encode` will use ready in memory (an external registry is asked for
/// those it never answered): 503 when the registry cannot be asked.
pub async fn ready(
    registry: &Registry,
    records: &[Record],
    key: Option<Using<'_>>,
    value: Option<Using<'_>>,
) -> Result<(), RequestError> {
    if registry.keeps_everything() {
        return Ok(());
    }
    let (mut subjects, mut ids) = (Vec::new(), Vec::new());
    for record in records {
        for (using, is_key) in [(key, true), (value, false)] {
            match using {
                Some(Using::Subject(s)) => subjects.push(s.subject(&record.topic, is_key)),
                Some(Using::Id(id)) => ids.push(id),
                None => {}
            }
        }
    }
    subjects.sort_unstable();
    subjects.dedup();
    ids.sort_unstable();
    ids.dedup();
    unavailable(registry.prepare(&subjects, &ids).await)
}

/// Makes the schemas of the registry-encoded keys and values of `records` ready in memory
/// for [`decode`].
pub async fn ready_to_decode(registry: &Registry, records: &[Record]) -> Result<(), RequestError> {
    // Embedded: nothing to fetch, so no pass over the records on the read path.
    if registry.keeps_everything() {
        return Ok(());
    }
    let ids = schema_ids(records);
    unavailable(registry.prepare(&[], &ids).await)
}

fn schema_ids(records: &[Record]) -> Vec<u32> {
    let mut ids = Vec::new();
    for record in records {
        for bytes in [&record.key, &record.value].into_iter().flatten() {
            if let Some((id, _)) = super::framed(bytes) {
                ids.push(id);
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn unavailable(prepared: Result<(), super::Missing>) -> Result<(), RequestError> {
    match prepared {
        Err(super::Missing::Unavailable(why)) => Err(RequestError::SchemaRegistryUnavailable(why)),
        _ => Ok(()),
    }
}

/// Encodes every record's key and value as `key` and `value` say. Either all are encoded, or
/// none is and the error lists every problem of every record (null keys and values stay null).
pub fn encode(
    registry: &Registry,
    records: &mut [Record],
    key: Option<Using<'_>>,
    value: Option<Using<'_>>,
) -> Result<(), RequestError> {
    let mut encoded: Vec<(Option<Bytes>, Option<Bytes>)> = Vec::with_capacity(records.len());
    let mut problems = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let mut one = |schema: Option<Using<'_>>, bytes: &Option<Bytes>, is_key: bool| {
            let (Some(schema), Some(bytes)) = (schema, bytes) else {
                return None;
            };
            let field = if is_key { "key" } else { "value" };
            let encoded = match schema {
                Using::Subject(s) => registry.encode(&s.subject(&record.topic, is_key), bytes),
                Using::Id(id) => registry.encode_id(id, bytes),
            };
            match encoded {
                Ok(out) => {
                    count("ok");
                    Some(Ok(Bytes::from(out)))
                }
                Err(EncodeError::NoSchema(subject)) => {
                    count("no_schema");
                    Some(Err(RequestError::SchemaNotFound(subject)))
                }
                Err(EncodeError::Mismatch(found)) => {
                    count("mismatch");
                    problems.extend(
                        found
                            .into_iter()
                            .map(|p| format!("records[{i}].{field}{}", at(&p))),
                    );
                    None
                }
            }
        };
        let k = one(key, &record.key, true).transpose()?;
        let v = one(value, &record.value, false).transpose()?;
        encoded.push((k, v));
    }
    if !problems.is_empty() {
        let total = problems.len();
        problems.truncate(MAX_PROBLEMS);
        if total > MAX_PROBLEMS {
            problems.push(format!("… and {} more", total - MAX_PROBLEMS));
        }
        return Err(RequestError::SchemaMismatch { problems });
    }
    for (record, (k, v)) in records.iter_mut().zip(encoded) {
        if k.is_some() {
            record.key = k;
        }
        if v.is_some() {
            record.value = v;
        }
    }
    Ok(())
}

/// A problem's place as a suffix: `/qty: …` stays, `(the value): …` becomes `: …`.
fn at(problem: &str) -> String {
    match problem.strip_prefix("(the value)") {
        Some(rest) => rest.to_owned(),
        None => problem.to_owned(),
    }
}

fn count(result: &'static str) {
    metrics::counter!(SCHEMA_VALUES, "direction" => "encode", "result" => result).increment(1);
}

/// Counts a value a filter had encoded (or checked).
pub fn count_encode(ok: bool) {
    count(if ok { "ok" } else { "mismatch" });
}

/// Counts a value decoded to JSON.
pub fn count_decode(ok: bool) {
    let result = if ok { "ok" } else { "error" };
    metrics::counter!(SCHEMA_VALUES, "direction" => "decode", "result" => result).increment(1);
}

/// A registry-encoded value as JSON and its schema id, when its schema is known here.
pub fn decode(registry: &Registry, value: &[u8]) -> Option<(u32, serde_json::Value)> {
    super::framed(value)?;
    let decoded = registry.decode(value);
    count_decode(decoded.is_some());
    decoded
}
