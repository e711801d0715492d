//! What the `_schemas` topic says, applied record by record in log order, as every registry
//! reading the topic applies it: schemas by id, subjects' versions, compatibility levels.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

use super::{Kind, Parsed};
use wafka_sdk::formats::Dependency;

/// A registered schema.
pub struct Stored {
    /// Its id.
    pub id: u32,
    /// Its type.
    pub kind: Kind,
    /// As registered.
    pub text: String,
    /// The schemas it uses, as registered with it.
    pub references: Vec<Reference>,
    /// Ready to use.
    pub parsed: Parsed,
}

/// A schema reference: what a schema calls another (`name`), and where that one is registered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reference {
    /// As the referring schema names it (an Avro full name, a `$ref`, an `import`).
    pub name: String,
    /// Where it is registered.
    pub subject: String,
    /// Which version.
    pub version: u32,
}

/// Most schemas one schema may depend on, directly or not.
const MAX_DEPENDENCIES: usize = 256;

impl Stored {
    /// Whether this is `parsed` with `references`: the same schema is the same text up to
    /// its format's equivalence, and the same references.
    pub fn is(&self, parsed: &Parsed, references: &[Reference]) -> bool {
        self.references == references && self.parsed.same(parsed)
    }

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
    /// Modes (READWRITE, READONLY, READONLY_OVERRIDE, IMPORT) set through the API.
    pub global_mode: Option<String>,
    pub modes: BTreeMap<String, String>,
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

    /// The version `subject` has as `version`, deleted or not.
    pub fn any_version(&self, subject: &str, version: u32) -> Option<Version> {
        self.subjects
            .get(subject)?
            .iter()
            .copied()
            .find(|v| v.version == version)
    }

    /// Every schema `references` need, directly or not, those needed first.
    pub fn dependencies(&self, references: &[Reference]) -> Result<Vec<Dependent>, String> {
        let mut out: Vec<Dependent> = Vec::new();
        self.collect(references, &mut out, 0)?;
        Ok(out)
    }

    fn collect(
        &self,
        references: &[Reference],
        out: &mut Vec<Dependent>,
        depth: usize,
    ) -> Result<(), String> {
        if depth > 32 || out.len() > MAX_DEPENDENCIES {
            return Err(format!(
                "references nest deeper than 32 or name more than {MAX_DEPENDENCIES} schemas"
            ));
        }
        for reference in references {
            let stored = self
                .any_version(&reference.subject, reference.version)
                .and_then(|v| self.schemas.get(&v.id))
                .ok_or_else(|| {
                    format!(
                        "reference {:?}: subject '{}' has no version {}",
                        reference.name, reference.subject, reference.version
                    )
                })?;
            self.collect(&stored.references, out, depth + 1)?;
            if !out.iter().any(|d| d.name == reference.name) {
                out.push(Dependent {
                    name: reference.name.clone(),
                    stored: stored.clone(),
                });
            }
        }
        Ok(())
    }

    /// `text` parsed with what its references name.
    pub fn parse(
        &self,
        kind: Kind,
        text: &str,
        references: &[Reference],
    ) -> Result<Parsed, String> {
        let dependencies = self.dependencies(references)?;
        let dependencies: Vec<Dependency<'_>> = dependencies
            .iter()
            .map(|d| Dependency {
                name: &d.name,
                text: &d.stored.text,
            })
            .collect();
        Parsed::parse_with(kind, text, &dependencies)
    }

    /// The schema already registered that is this one (the same schema, the same references).
    pub fn find(&self, parsed: &Parsed, references: &[Reference]) -> Option<&Arc<Stored>> {
        let mut found: Vec<&Arc<Stored>> = self
            .schemas
            .values()
            .filter(|s| s.is(parsed, references))
            .collect();
        found.sort_by_key(|s| s.id);
        found.first().copied()
    }

    /// The ids of schemas that reference `subject` version `version`.
    pub fn referenced_by(&self, subject: &str, version: u32) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .schemas
            .values()
            .filter(|s| {
                s.references
                    .iter()
                    .any(|r| r.subject == subject && r.version == version)
            })
            .filter(|s| {
                // Only schemas some subject still has (deleted or not) hold it.
                self.subjects
                    .values()
                    .any(|vs| vs.iter().any(|v| v.id == s.id))
            })
            .map(|s| s.id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Keeps schema `id`, unless it is there already; an id is never rebound to another schema.
    pub fn insert_schema(
        &mut self,
        id: u32,
        kind: Kind,
        text: &str,
        references: &[Reference],
    ) -> Result<(), String> {
        if let Some(known) = self.schemas.get(&id) {
            let same = known.text == text
                || self
                    .parse(kind, text, references)
                    .is_ok_and(|p| known.is(&p, references));
            if !same {
                return Err(format!("id {id} is already another schema; record ignored"));
            }
            return Ok(());
        }
        let parsed = self.parse(kind, text, references)?;
        let stored = Stored {
            id,
            kind,
            text: text.to_owned(),
            references: references.to_vec(),
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
                let references: Vec<Reference> = match value.get("references") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(r) => {
                        serde_json::from_value(r.clone()).map_err(|e| format!("references: {e}"))?
                    }
                };
                self.insert_schema(id, kind, text, &references)?;
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
            Some("MODE") => {
                let mode = value
                    .as_ref()
                    .and_then(|v| v["mode"].as_str())
                    .map(str::to_owned);
                match (subject, mode) {
                    (Some(s), Some(m)) => {
                        self.modes.insert(s, m);
                    }
                    (Some(s), None) => {
                        self.modes.remove(&s);
                    }
                    (None, mode) => self.global_mode = mode,
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

/// A schema something depends on, under the name it is referenced by.
pub struct Dependent {
    pub name: String,
    pub stored: Arc<Stored>,
}

/// What a SCHEMA record says of one version.
pub struct SchemaRecord<'a> {
    pub subject: &'a str,
    pub version: u32,
    pub id: u32,
    pub kind: Kind,
    pub text: &'a str,
    pub references: &'a [Reference],
    pub deleted: bool,
}

/// The key of a SCHEMA record, as Confluent's registry writes it.
pub fn schema_key(subject: &str, version: u32) -> Vec<u8> {
    json!({"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1})
        .to_string()
        .into_bytes()
}

/// The key and value of a SCHEMA record, as Confluent's registry writes them.
pub fn schema_record(record: &SchemaRecord<'_>) -> (Vec<u8>, Vec<u8>) {
    let mut value = json!({
        "subject": record.subject, "version": record.version, "id": record.id,
        "schema": record.text, "deleted": record.deleted,
    });
    if let Some(kind) = record.kind.name() {
        value["schemaType"] = json!(kind);
    }
    if !record.references.is_empty() {
        value["references"] = json!(record.references);
    }
    (
        schema_key(record.subject, record.version),
        value.to_string().into_bytes(),
    )
}

/// The key and value of a MODE record (`subject` none: the global mode; `mode` none: unset).
pub fn mode_record(subject: Option<&str>, mode: Option<&str>) -> (Vec<u8>, Option<Vec<u8>>) {
    let key = json!({"keytype": "MODE", "subject": subject, "magic": 0});
    let value = mode.map(|m| json!({ "mode": m }).to_string().into_bytes());
    (key.to_string().into_bytes(), value)
}

/// The key and value of a CONFIG record (`subject` none: the global level; `level` none:
/// unset, a tombstone).
pub fn config_record(subject: Option<&str>, level: Option<&str>) -> (Vec<u8>, Option<Vec<u8>>) {
    let key = json!({"keytype": "CONFIG", "subject": subject, "magic": 0});
    let value = level.map(|l| json!({"compatibilityLevel": l}).to_string().into_bytes());
    (key.to_string().into_bytes(), value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_apply_in_log_order_and_a_taken_id_is_not_reused() {
        let mut state = State::new();
        let avro = r#"{"type":"record","name":"A","fields":[{"name":"x","type":"int"}]}"#;
        let record = |subject, id, kind, text| SchemaRecord {
            subject,
            version: 1,
            id,
            kind,
            text,
            references: &[],
            deleted: false,
        };
        let (k, v) = schema_record(&record("a-value", 1, Kind::Avro, avro));
        state.apply(&k, Some(&v)).unwrap();
        // The same schema written differently keeps its id under another subject.
        let spaced = avro.replace(',', " , ");
        let (k, v) = schema_record(&record("c-value", 1, Kind::Avro, &spaced));
        state.apply(&k, Some(&v)).unwrap();
        assert_eq!(state.live("c-value")[0].id, 1);
        let (k, v) = schema_record(&record("b-value", 1, Kind::Json, "{}"));
        assert!(state.apply(&k, Some(&v)).unwrap_err().contains("id 1"));
        assert!(!state.subjects.contains_key("b-value"));
        let (k, v) = config_record(Some("a-value"), Some("FULL"));
        state.apply(&k, v.as_deref()).unwrap();
        assert_eq!(state.levels["a-value"], "FULL");
        let (k, v) = config_record(None, Some("NONE"));
        state.apply(&k, v.as_deref()).unwrap();
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
