//! What the `_schemas` topic says, applied record by record in log order, as every registry
//! reading the topic applies it: schemas by id, subjects' versions, compatibility levels.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

use super::{Kind, Parsed};

/// A registered schema.
pub struct Stored {
    /// Its id.
    pub id: u32,
    /// Its type.
    pub kind: Kind,
    /// As registered.
    pub text: String,
    /// Ready to use.
    pub parsed: Parsed,
}

impl Stored {
    /// The schema text an API answer shows: as registered, or with `format=serialized` a
    /// Protobuf schema as a base64 `FileDescriptorProto` (what Confluent's clients ask for).
    pub fn text_in(&self, format: Option<&str>) -> String {
        match (&self.parsed, format) {
            (Parsed::Protobuf(proto), Some("serialized")) => proto.serialized(),
            _ => self.text.clone(),
        }
    }
}

/// One version of a subject.
#[derive(Debug, Clone, Copy)]
pub struct Version {
    /// The version number, from 1.
    pub version: u32,
    /// The schema's id.
    pub id: u32,
    /// Soft-deleted.
    pub deleted: bool,
}

/// The registry's contents.
#[derive(Default)]
pub struct State {
    pub schemas: HashMap<u32, Arc<Stored>>,
    pub subjects: BTreeMap<String, Vec<Version>>,
    pub global_level: Option<String>,
    pub levels: BTreeMap<String, String>,
    /// The offset of the last record applied, -1 before any.
    pub applied: i64,
}

impl State {
    pub fn new() -> State {
        State {
            applied: -1,
            ..State::default()
        }
    }

    /// The live (not deleted) versions of `subject`.
    pub fn live(&self, subject: &str) -> Vec<Version> {
        self.subjects
            .get(subject)
            .map(|v| v.iter().copied().filter(|v| !v.deleted).collect())
            .unwrap_or_default()
    }

    pub fn next_id(&self) -> u32 {
        self.schemas.keys().max().map_or(1, |m| m + 1)
    }

    /// Keeps schema `id`, unless it is there already; an id is never rebound.
    pub fn insert_schema(&mut self, id: u32, kind: Kind, text: &str) -> Result<(), String> {
        if let Some(known) = self.schemas.get(&id) {
            if known.text != text {
                return Err(format!("id {id} is already another schema; record ignored"));
            }
            return Ok(());
        }
        let parsed = Parsed::parse(kind, text)?;
        let stored = Stored {
            id,
            kind,
            text: text.to_owned(),
            parsed,
        };
        self.schemas.insert(id, Arc::new(stored));
        Ok(())
    }

    /// Applies one record of the topic. Records this registry cannot use (another registry's
    /// kinds, a schema type it does not parse) are skipped, and said why.
    pub fn apply(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), String> {
        let key: Value = serde_json::from_slice(key).map_err(|e| format!("key: {e}"))?;
        let value: Option<Value> = match value {
            Some(v) => Some(serde_json::from_slice(v).map_err(|e| format!("value: {e}"))?),
            None => None,
        };
        let subject = key["subject"].as_str().map(str::to_owned);
        match key["keytype"].as_str() {
            Some("SCHEMA") => {
                let subject = subject.ok_or("a SCHEMA key without subject")?;
                let version = key["version"]
                    .as_u64()
                    .ok_or("a SCHEMA key without version")? as u32;
                let Some(value) = value else {
                    // A tombstone: the version is gone for good.
                    if let Some(versions) = self.subjects.get_mut(&subject) {
                        versions.retain(|v| v.version != version);
                    }
                    return Ok(());
                };
                let id = value["id"].as_u64().ok_or("a schema without id")? as u32;
                let text = value["schema"].as_str().ok_or("a schema without text")?;
                let kind = Kind::parse(value["schemaType"].as_str())?;
                self.insert_schema(id, kind, text)?;
                let deleted = value["deleted"].as_bool().unwrap_or(false);
                let versions = self.subjects.entry(subject).or_default();
                versions.retain(|v| v.version != version);
                versions.push(Version {
                    version,
                    id,
                    deleted,
                });
                versions.sort_by_key(|v| v.version);
            }
            Some("CONFIG") => {
                let level = value
                    .as_ref()
                    .and_then(|v| v["compatibilityLevel"].as_str())
                    .map(str::to_owned);
                match subject {
                    Some(s) => match level {
                        Some(l) => {
                            self.levels.insert(s, l);
                        }
                        None => {
                            self.levels.remove(&s);
                        }
                    },
                    None => self.global_level = level,
                }
            }
            Some("DELETE_SUBJECT") => {
                let subject = subject.ok_or("a DELETE_SUBJECT key without subject")?;
                let upto = value
                    .as_ref()
                    .and_then(|v| v["version"].as_u64())
                    .unwrap_or(u64::MAX);
                if let Some(versions) = self.subjects.get_mut(&subject) {
                    for v in versions.iter_mut().filter(|v| u64::from(v.version) <= upto) {
                        v.deleted = true;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The key and value of a SCHEMA record, as Confluent's registry writes them.
pub fn schema_record(
    subject: &str,
    version: u32,
    id: u32,
    kind: Kind,
    text: &str,
    deleted: bool,
) -> (Vec<u8>, Vec<u8>) {
    let key = json!({"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1});
    let mut value = json!({
        "subject": subject, "version": version, "id": id, "schema": text, "deleted": deleted,
    });
    if let Some(kind) = kind.name() {
        value["schemaType"] = json!(kind);
    }
    (key.to_string().into_bytes(), value.to_string().into_bytes())
}

/// The key and value of a CONFIG record (`subject` none: the global level).
pub fn config_record(subject: Option<&str>, level: &str) -> (Vec<u8>, Vec<u8>) {
    let key = json!({"keytype": "CONFIG", "subject": subject, "magic": 0});
    let value = json!({"compatibilityLevel": level});
    (key.to_string().into_bytes(), value.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_apply_in_log_order_and_a_taken_id_is_not_reused() {
        let mut state = State::new();
        let avro = r#"{"type":"record","name":"A","fields":[{"name":"x","type":"int"}]}"#;
        let (k, v) = schema_record("a-value", 1, 1, Kind::Avro, avro, false);
        state.apply(&k, Some(&v)).unwrap();
        let (k, v) = schema_record("b-value", 1, 1, Kind::Json, "{}", false);
        assert!(state.apply(&k, Some(&v)).unwrap_err().contains("id 1"));
        assert!(!state.subjects.contains_key("b-value"));
        let (k, v) = config_record(Some("a-value"), "FULL");
        state.apply(&k, Some(&v)).unwrap();
        assert_eq!(state.levels["a-value"], "FULL");
        let (k, v) = config_record(None, "NONE");
        state.apply(&k, Some(&v)).unwrap();
        assert_eq!(state.global_level.as_deref(), Some("NONE"));
        assert_eq!(state.next_id(), 2);
        let key = br#"{"keytype":"SCHEMA","subject":"a-value","version":1,"magic":1}"#;
        state.apply(key, None).unwrap();
        assert!(state.live("a-value").is_empty());
        assert!(
            state
                .apply(br#"{"keytype":"NOOP","magic":0}"#, None)
                .is_ok()
        );
    }
}
