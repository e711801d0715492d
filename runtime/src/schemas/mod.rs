//! The schema registry: embedded, serving Confluent's Schema Registry API (served by
//! `server::schema_registry`) with its schemas kept in a compacted Kafka topic in the Confluent
//! registry's own record format; or the client of an external one (`remote`). Either way what
//! produce routes and filters encode and read routes decode with, from memory.
//!
//! Several gateways on one cluster share ids by sharing the topic: each follows it, and one of
//! them writes (the others set `read_only`), so ids never collide (docs/schemas.md).

pub mod records;
mod remote;
mod state;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::config::{KafkaConfig, SchemaRegistryConfig as Settings};
use crate::kafka::log::Log;
pub use state::{Reference, Stored, Version};
use state::{SchemaRecord, State, config_record, mode_record, schema_key, schema_record};
pub use wafka_sdk::formats::{self as format, Kind, Parsed, framed};

pub use crate::config::LEVELS;

/// The modes a subject (or the registry) can be in.
pub const MODES: [&str; 4] = ["READWRITE", "READONLY", "READONLY_OVERRIDE", "IMPORT"];

/// A schema to register: its type, text and references, and in IMPORT mode its id and
/// version.
pub struct Registration {
    /// `schemaType`.
    pub kind: Kind,
    /// `schema`.
    pub text: String,
    /// `references`.
    pub references: Vec<Reference>,
    /// `id`, in IMPORT mode only.
    pub id: Option<u32>,
    /// `version`, in IMPORT mode only.
    pub version: Option<u32>,
}

/// Which versions a call sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// Live ones only.
    Hidden,
    /// Soft-deleted ones too.
    Included,
    /// Soft-deleted ones only.
    Only,
}
/// A registry error, with Confluent's `error_code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    /// 40401.
    SubjectNotFound(String),
    /// 40402.
    VersionNotFound(String),
    /// 40403.
    SchemaNotFound(String),
    /// 42201: the schema does not parse.
    InvalidSchema(String),
    /// 42202.
    InvalidVersion(String),
    /// 42203.
    InvalidLevel(String),
    /// 40404: the subject was soft-deleted already.
    SubjectSoftDeleted(String),
    /// 40405: a permanent delete of a subject not soft-deleted first.
    SubjectNotSoftDeleted(String),
    /// 40406: the version was soft-deleted already.
    VersionSoftDeleted(String, u32),
    /// 40407: a permanent delete of a version not soft-deleted first.
    VersionNotSoftDeleted(String, u32),
    /// 40409: the subject has no mode of its own.
    ModeNotSet(String),
    /// 42204.
    InvalidMode(String),
    /// 42205: this registry does not write.
    ReadOnly,
    /// 42205: the subject's mode does not allow it; why.
    NotPermitted(String),
    /// 42206: other schemas reference it.
    Referenced(String),
    /// 409: the compatibility level refuses it; why.
    Incompatible(Vec<String>),
    /// 40408: the subject has no compatibility level of its own.
    LevelNotSet(String),
    /// 50001: the topic did not take it.
    Store(String),
}

impl RegistryError {
    /// HTTP status and Confluent's error code.
    pub fn codes(&self) -> (u16, u32) {
        match self {
            RegistryError::SubjectNotFound(_) => (404, 40401),
            RegistryError::VersionNotFound(_) => (404, 40402),
            RegistryError::SchemaNotFound(_) => (404, 40403),
            RegistryError::InvalidSchema(_) => (422, 42201),
            RegistryError::InvalidVersion(_) => (422, 42202),
            RegistryError::InvalidLevel(_) => (422, 42203),
            RegistryError::SubjectSoftDeleted(_) => (404, 40404),
            RegistryError::SubjectNotSoftDeleted(_) => (404, 40405),
            RegistryError::VersionSoftDeleted(..) => (404, 40406),
            RegistryError::VersionNotSoftDeleted(..) => (404, 40407),
            RegistryError::ModeNotSet(_) => (404, 40409),
            RegistryError::InvalidMode(_) => (422, 42204),
            RegistryError::ReadOnly | RegistryError::NotPermitted(_) => (422, 42205),
            RegistryError::Referenced(_) => (422, 42206),
            RegistryError::Incompatible(_) => (409, 409),
            RegistryError::LevelNotSet(_) => (404, 40408),
            RegistryError::Store(_) => (500, 50001),
        }
    }

    /// The `message` of the error body.
    pub fn message(&self) -> String {
        match self {
            RegistryError::SubjectNotFound(s) => format!("Subject '{s}' not found."),
            RegistryError::VersionNotFound(v) => format!("Version {v} not found."),
            RegistryError::SchemaNotFound(s) if s.is_empty() => "Schema not found".into(),
            RegistryError::SchemaNotFound(s) => format!("Schema {s} not found"),
            RegistryError::SubjectSoftDeleted(s) => {
                format!("Subject '{s}' was soft deleted.Set permanent=true to delete permanently")
            }
            RegistryError::SubjectNotSoftDeleted(s) => {
                format!("Subject '{s}' was not deleted first before being permanently deleted")
            }
            RegistryError::VersionSoftDeleted(s, v) => format!(
                "Subject '{s}' Version {v} was soft deleted.Set permanent=true to delete permanently"
            ),
            RegistryError::VersionNotSoftDeleted(s, v) => format!(
                "Subject '{s}' Version {v} was not deleted first before being permanently deleted"
            ),
            RegistryError::ModeNotSet(s) => {
                format!("Subject '{s}' does not have subject-level mode configured")
            }
            RegistryError::InvalidMode(m) => {
                format!("Invalid mode {m:?}. Valid values are {}.", MODES.join(", "))
            }
            RegistryError::NotPermitted(why) => why.clone(),
            RegistryError::Referenced(what) => {
                format!("One or more references exist to the schema {what}.")
            }
            RegistryError::InvalidSchema(e) => format!("Invalid schema: {e}"),
            RegistryError::InvalidVersion(v) => format!(
                "The specified version '{v}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
            ),
            RegistryError::InvalidLevel(l) => format!(
                "Invalid compatibility level {l:?}. Valid values are {}",
                LEVELS.join(", ")
            ),
            RegistryError::ReadOnly => {
                "This registry is read-only (schema_registry.read_only): register with the writer"
                    .into()
            }
            RegistryError::Incompatible(why) => format!(
                "Schema being registered is incompatible with an earlier schema: {}",
                why.join("; ")
            ),
            RegistryError::LevelNotSet(s) => {
                format!("Subject '{s}' does not have subject-level compatibility configured")
            }
            RegistryError::Store(e) => format!("Error while storing the schema: {e}"),
        }
    }
}

impl RegistryError {
    /// The stable code clients of Wafka's own dialect see.
    fn code(&self) -> &'static str {
        match self {
            RegistryError::SubjectNotFound(_) => "subject_not_found",
            RegistryError::VersionNotFound(_) => "version_not_found",
            RegistryError::SchemaNotFound(_) => "schema_not_found",
            RegistryError::InvalidSchema(_) => "invalid_schema",
            RegistryError::InvalidVersion(_) => "invalid_version",
            RegistryError::InvalidLevel(_) => "invalid_compatibility_level",
            RegistryError::SubjectSoftDeleted(_) => "subject_soft_deleted",
            RegistryError::SubjectNotSoftDeleted(_) => "subject_not_soft_deleted",
            RegistryError::VersionSoftDeleted(..) => "version_soft_deleted",
            RegistryError::VersionNotSoftDeleted(..) => "version_not_soft_deleted",
            RegistryError::ModeNotSet(_) => "mode_not_set",
            RegistryError::InvalidMode(_) => "invalid_mode",
            RegistryError::ReadOnly => "registry_read_only",
            RegistryError::NotPermitted(_) => "operation_not_permitted",
            RegistryError::Referenced(_) => "schema_referenced",
            RegistryError::Incompatible(_) => "incompatible_schema",
            RegistryError::LevelNotSet(_) => "compatibility_not_set",
            RegistryError::Store(_) => "schema_store_failed",
        }
    }
}

impl From<RegistryError> for crate::error::RequestError {
    fn from(e: RegistryError) -> Self {
        let (status, registry_code) = e.codes();
        crate::error::RequestError::Registry {
            code: e.code(),
            status,
            registry_code,
            message: e.message(),
        }
    }
}

/// Why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// The subject has no live version.
    NoSchema(String),
    /// What is wrong with the value, each problem by JSON pointer.
    Mismatch(Vec<String>),
}

/// Why a schema could not be had for a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// No such subject (or it has no live version), or no schema with that id.
    NotFound(String),
    /// The registry could not be asked and nothing kept answers.
    Unavailable(String),
}

/// The registry of this gateway.
pub struct Registry {
    /// What is known: everything the topic holds, or what the external registry answered.
    state: Arc<RwLock<State>>,
    /// The topic, when embedded.
    store: Option<Log>,
    /// The external registry, when `url` is set.
    remote: Option<Arc<remote::Remote>>,
    config: Settings,
    /// Registrations one at a time: the next id and version are read, then written.
    writing: tokio::sync::Mutex<()>,
}

impl Registry {
    /// Follows the topic (created compacted with one partition if missing) to its end.
    pub async fn open(
        config: &Settings,
        kafka: &KafkaConfig,
        bootstrap: &str,
        cluster: &crate::kafka::cluster::Cluster,
    ) -> Result<Registry, String> {
        let state = Arc::new(RwLock::new(State::new()));
        if let Some(url) = &config.url {
            return Ok(Registry {
                state,
                store: None,
                remote: Some(Arc::new(remote::Remote::new(config, url)?)),
                config: config.clone(),
                writing: tokio::sync::Mutex::new(()),
            });
        }
        let compact = [("cleanup.policy".to_owned(), "compact".to_owned())];
        Log::create(cluster, &config.topic, &compact).await?;
        let applying = state.clone();
        let apply = Box::new(move |offset, key: &[u8], value: Option<&[u8]>| {
            let mut state = applying.write().unwrap_or_else(|e| e.into_inner());
            if let Err(why) = state.apply(key, value) {
                tracing::warn!(offset, %why, "schema registry record skipped");
            }
            state.applied = offset;
        });
        let store = Log::open(kafka, bootstrap, &config.topic, "schemas", apply).await?;
        Ok(Registry {
            state,
            store: Some(store),
            remote: None,
            config: config.clone(),
            writing: tokio::sync::Mutex::new(()),
        })
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether registrations are refused here.
    pub fn read_only(&self) -> bool {
        self.config.read_only
    }

    /// Whether every schema is in memory already (embedded): nothing needs preparing.
    pub fn keeps_everything(&self) -> bool {
        self.remote.is_none()
    }

    /// The external registry's URL; `None` when embedded (and its API served).
    pub fn remote_url(&self) -> Option<&str> {
        self.remote.as_deref().map(remote::Remote::url)
    }

    /// The topic, for writes: an external registry's levels and subjects are managed there.
    fn store(&self) -> Result<&Log, RegistryError> {
        self.store.as_ref().ok_or(RegistryError::ReadOnly)
    }

    /// The schema with `id`.
    pub fn schema(&self, id: u32) -> Option<Arc<Stored>> {
        self.state().schemas.get(&id).cloned()
    }

    /// Subjects with a version `deleted` lets through.
    pub fn subjects(&self, deleted: Deleted) -> Vec<String> {
        let state = self.state();
        state
            .subjects
            .iter()
            .filter(|(_, versions)| versions.iter().any(|v| shown(v, deleted)))
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// The versions of `subject` that `deleted` lets through.
    pub fn versions_shown(
        &self,
        subject: &str,
        deleted: Deleted,
    ) -> Result<Vec<Version>, RegistryError> {
        let state = self.state();
        let shown: Vec<Version> = state
            .subjects
            .get(subject)
            .into_iter()
            .flatten()
            .copied()
            .filter(|v| shown(v, deleted))
            .collect();
        if shown.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_owned()));
        }
        Ok(shown)
    }

    /// The live versions of `subject`.
    pub fn versions(&self, subject: &str) -> Result<Vec<Version>, RegistryError> {
        self.versions_shown(subject, Deleted::Hidden)
    }

    /// A version of `subject` (`None`: the latest live one) and its schema; a soft-deleted
    /// one too when `deleted` says so.
    pub fn version_shown(
        &self,
        subject: &str,
        version: Option<u32>,
        deleted: Deleted,
    ) -> Result<(Version, Arc<Stored>), RegistryError> {
        let found = match version {
            None => self.versions(subject)?.last().copied(),
            Some(n) => {
                let all = self.versions_shown(subject, Deleted::Included)?;
                all.into_iter()
                    .find(|v| v.version == n && shown(v, deleted))
            }
        };
        let found = found.ok_or_else(|| {
            RegistryError::VersionNotFound(version.map_or("latest".into(), |v| v.to_string()))
        })?;
        let stored = self
            .schema(found.id)
            .ok_or_else(|| RegistryError::SchemaNotFound(found.id.to_string()))?;
        Ok((found, stored))
    }

    /// A live version of `subject` (`None`: the latest) and its schema.
    pub fn version(
        &self,
        subject: &str,
        version: Option<u32>,
    ) -> Result<(Version, Arc<Stored>), RegistryError> {
        self.version_shown(subject, version, Deleted::Hidden)
    }

    /// Where schema `id` is registered: (subject, version) pairs.
    pub fn uses(&self, id: u32, deleted: Deleted) -> Vec<(String, u32)> {
        let state = self.state();
        let mut uses = Vec::new();
        for (subject, versions) in &state.subjects {
            for v in versions.iter().filter(|v| v.id == id && shown(v, deleted)) {
                uses.push((subject.clone(), v.version));
            }
        }
        uses
    }

    /// The ids of schemas referencing a version of `subject` (`None`: the latest).
    pub fn referenced_by(
        &self,
        subject: &str,
        version: Option<u32>,
    ) -> Result<Vec<u32>, RegistryError> {
        let (found, _) = self.version_shown(subject, version, Deleted::Included)?;
        Ok(self.state().referenced_by(subject, found.version))
    }

    /// `text` parsed with what `references` name; a reference that is not there is an invalid
    /// schema, as Confluent's registry says.
    pub fn parse(
        &self,
        kind: Kind,
        text: &str,
        references: &[Reference],
    ) -> Result<Parsed, RegistryError> {
        self.state()
            .parse(kind, text, references)
            .map_err(RegistryError::InvalidSchema)
    }

    /// The version of `subject` that is this schema.
    pub fn lookup(
        &self,
        subject: &str,
        schema: &Registration,
        deleted: Deleted,
    ) -> Result<(Version, Arc<Stored>), RegistryError> {
        let parsed = self.parse(schema.kind, &schema.text, &schema.references)?;
        let shown = self.versions_shown(subject, deleted)?;
        let state = self.state();
        shown
            .iter()
            .rev()
            .find_map(|v| {
                let stored = state.schemas.get(&v.id)?;
                stored
                    .is(&parsed, &schema.references)
                    .then(|| (*v, stored.clone()))
            })
            .ok_or_else(|| RegistryError::SchemaNotFound(String::new()))
    }

    /// The mode set for `subject` (or globally, `None`), if any.
    pub fn mode_set(&self, subject: Option<&str>) -> Option<String> {
        let state = self.state();
        match subject {
            Some(s) => state.modes.get(s).cloned(),
            None => state.global_mode.clone(),
        }
    }

    /// The registry's mode: as set, else READONLY when `read_only`, else READWRITE.
    pub fn global_mode(&self) -> String {
        if self.config.read_only {
            return "READONLY".into();
        }
        self.mode_set(None).unwrap_or_else(|| "READWRITE".into())
    }

    /// The mode that applies to `subject` (a global READONLY_OVERRIDE wins).
    pub fn mode(&self, subject: &str) -> String {
        let global = self.global_mode();
        if global == "READONLY_OVERRIDE" || self.config.read_only {
            return global;
        }
        self.mode_set(Some(subject)).unwrap_or(global)
    }

    /// Refused when `subject`'s mode does not let it be changed.
    fn writable(&self, subject: &str) -> Result<(), RegistryError> {
        if self.config.read_only {
            return Err(RegistryError::ReadOnly);
        }
        match self.mode(subject).as_str() {
            "READONLY" | "READONLY_OVERRIDE" => Err(RegistryError::NotPermitted(format!(
                "Subject {subject} is in read-only mode"
            ))),
            _ => Ok(()),
        }
    }

    /// Sets the mode of `subject` (`None`: the registry's); `mode` none unsets it. The mode
    /// unset, or an error.
    pub async fn set_mode(
        &self,
        subject: Option<&str>,
        mode: Option<&str>,
    ) -> Result<Option<String>, RegistryError> {
        if let Some(m) = mode
            && !MODES.contains(&m)
        {
            return Err(RegistryError::InvalidMode(m.to_owned()));
        }
        if self.config.read_only {
            return Err(RegistryError::ReadOnly);
        }
        let previous = self.mode_set(subject);
        if mode.is_none() && previous.is_none() {
            return Err(RegistryError::SubjectNotFound(
                subject.unwrap_or_default().to_owned(),
            ));
        }
        if mode == Some("IMPORT") {
            let in_use = match subject {
                Some(s) => self.versions(s).is_ok(),
                None => !self.subjects(Deleted::Hidden).is_empty(),
            };
            if in_use {
                return Err(RegistryError::NotPermitted(
                    "Cannot import since found existing subjects".into(),
                ));
            }
        }
        let _turn = self.writing.lock().await;
        let (key, value) = mode_record(subject, mode);
        self.store()?
            .append_or_delete(&key, value.as_deref(), self.timeout())
            .await
            .map_err(RegistryError::Store)?;
        tracing::info!(subject, mode, "schema registry mode set");
        Ok(previous)
    }

    /// The level set for `subject` (or globally, `None`), if any.
    pub fn level_set(&self, subject: Option<&str>) -> Option<String> {
        let state = self.state();
        match subject {
            Some(s) => state.levels.get(s).cloned(),
            None => state.global_level.clone(),
        }
    }

    /// The global level: as set through the API, else `schema_registry.compatibility`.
    pub fn global_level(&self) -> String {
        self.level_set(None)
            .unwrap_or_else(|| self.config.compatibility.to_ascii_uppercase())
    }

    /// The level that applies to `subject`.
    pub fn level(&self, subject: &str) -> String {
        self.level_set(Some(subject))
            .unwrap_or_else(|| self.global_level())
    }

    /// Sets the level of `subject` (`None`: the global one).
    pub async fn set_level(&self, subject: Option<&str>, level: &str) -> Result<(), RegistryError> {
        let level = level.to_ascii_uppercase();
        if !LEVELS.contains(&level.as_str()) {
            return Err(RegistryError::InvalidLevel(level));
        }
        self.write_level(subject, Some(&level)).await
    }

    /// Unsets the level of `subject` (`None`: the global one, back to
    /// `schema_registry.compatibility`); the level it had.
    pub async fn unset_level(&self, subject: Option<&str>) -> Result<String, RegistryError> {
        let previous = match subject {
            Some(s) => self
                .level_set(Some(s))
                .ok_or_else(|| RegistryError::SubjectNotFound(s.to_owned()))?,
            None => self.global_level(),
        };
        self.write_level(subject, None).await?;
        Ok(previous)
    }

    async fn write_level(
        &self,
        subject: Option<&str>,
        level: Option<&str>,
    ) -> Result<(), RegistryError> {
        match subject {
            Some(s) => self.writable(s)?,
            None if self.config.read_only => return Err(RegistryError::ReadOnly),
            None => {}
        }
        let _turn = self.writing.lock().await;
        let (key, value) = config_record(subject, level);
        self.store()?
            .append_or_delete(&key, value.as_deref(), self.timeout())
            .await
            .map_err(RegistryError::Store)?;
        Ok(())
    }

    /// Why `parsed` cannot be the next version of `subject` under its level (empty: it can);
    /// against one `version` when given.
    pub fn incompatibilities(
        &self,
        subject: &str,
        parsed: &Parsed,
        version: Option<u32>,
    ) -> Result<Vec<String>, RegistryError> {
        let level = self.level(subject);
        let state = self.state();
        let live = state.live(subject);
        let against: Vec<&Version> = match version {
            Some(n) => {
                let v = live.iter().find(|v| v.version == n);
                vec![v.ok_or_else(|| RegistryError::VersionNotFound(n.to_string()))?]
            }
            None if level.ends_with("_TRANSITIVE") => live.iter().collect(),
            None => live.last().into_iter().collect(),
        };
        let (backward, forward) = match level.trim_end_matches("_TRANSITIVE") {
            "BACKWARD" => (true, false),
            "FORWARD" => (false, true),
            "FULL" => (true, true),
            _ => (false, false),
        };
        let mut problems = Vec::new();
        for v in against {
            let Some(old) = state.schemas.get(&v.id) else {
                continue;
            };
            if backward && let Err(why) = format::can_read(&old.parsed, parsed) {
                problems.push(format!(
                    "{level}: version {} cannot be read: {why}",
                    v.version
                ));
            }
            if forward && let Err(why) = format::can_read(parsed, &old.parsed) {
                problems.push(format!(
                    "{level}: version {} cannot read it: {why}",
                    v.version
                ));
            }
        }
        Ok(problems)
    }

    /// Registers a schema under `subject`: the id of the same schema if it is there already, a
    /// new version otherwise, when compatible.
    pub async fn register(
        &self,
        subject: &str,
        schema: &Registration,
    ) -> Result<u32, RegistryError> {
        let parsed = self.parse(schema.kind, &schema.text, &schema.references)?;
        if let Some(remote) = &self.remote {
            if !schema.references.is_empty() {
                return Err(RegistryError::InvalidSchema(
                    "schema references are registered with the external registry itself".into(),
                ));
            }
            return remote
                .register(subject, schema.kind, &schema.text, &self.state)
                .await;
        }
        let _turn = self.writing.lock().await;
        let (id, version, text) = {
            let state = self.state();
            let live = state.live(subject);
            let known = live.iter().find(|v| {
                state
                    .schemas
                    .get(&v.id)
                    .is_some_and(|s| s.is(&parsed, &schema.references))
            });
            if let Some(v) = known
                && schema.id.is_none_or(|id| id == v.id)
            {
                return Ok(v.id);
            }
            drop(state);
            self.writable(subject)?;
            let import = self.mode(subject) == "IMPORT";
            match (import, schema.id) {
                (false, Some(_)) => {
                    return Err(RegistryError::NotPermitted(format!(
                        "Subject {subject} is not in import mode"
                    )));
                }
                (true, None) => {
                    return Err(RegistryError::NotPermitted(format!(
                        "Subject {subject} is not in read-write mode"
                    )));
                }
                _ => {}
            }
            if !import {
                let problems = self.incompatibilities(subject, &parsed, None)?;
                if !problems.is_empty() {
                    return Err(RegistryError::Incompatible(problems));
                }
            }
            let state = self.state();
            // The same schema under another subject keeps its id (and its text), as
            // Confluent's registry does: schemas are global, subjects point at them.
            let same = state.find(&parsed, &schema.references);
            let (id, text) = match (schema.id, same) {
                (Some(id), _) => {
                    if let Some(taken) = state.schemas.get(&id)
                        && !taken.is(&parsed, &schema.references)
                    {
                        return Err(RegistryError::NotPermitted(format!(
                            "Overwrite new schema with id {id} is not permitted."
                        )));
                    }
                    (id, schema.text.clone())
                }
                (None, Some(s)) => (s.id, s.text.clone()),
                (None, None) => (state.next_id(), schema.text.clone()),
            };
            let next = state
                .subjects
                .get(subject)
                .and_then(|v| v.iter().map(|v| v.version).max())
                .unwrap_or(0)
                + 1;
            let version = schema.version.unwrap_or(next);
            if state.any_version(subject, version).is_some() {
                return Err(RegistryError::NotPermitted(format!(
                    "Subject {subject} already has version {version}"
                )));
            }
            (id, version, text)
        };
        let (key, value) = schema_record(&SchemaRecord {
            subject,
            version,
            id,
            kind: schema.kind,
            text: &text,
            references: &schema.references,
            deleted: false,
        });
        self.store()?
            .append(&key, &value, self.timeout())
            .await
            .map_err(RegistryError::Store)?;
        let registered = self
            .state()
            .live(subject)
            .iter()
            .any(|v| v.version == version && v.id == id);
        if !registered {
            return Err(RegistryError::Store(format!(
                "another registry wrote id {id} first; set read_only on all but one gateway"
            )));
        }
        tracing::info!(subject, version, id, "schema registered");
        Ok(id)
    }

    /// Deletes every version of `subject`: softly (each version's record again, marked
    /// deleted), or for good (`permanent`, after a soft delete: tombstones). The versions
    /// deleted.
    pub async fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Vec<u32>, RegistryError> {
        let store = self.store()?;
        let _turn = self.writing.lock().await;
        let all = self.versions_shown(subject, Deleted::Included)?;
        let live: Vec<Version> = all.iter().copied().filter(|v| !v.deleted).collect();
        if !permanent && live.is_empty() {
            return Err(RegistryError::SubjectSoftDeleted(subject.to_owned()));
        }
        if permanent && !live.is_empty() {
            return Err(RegistryError::SubjectNotSoftDeleted(subject.to_owned()));
        }
        self.writable(subject)?;
        let targets = if permanent { all } else { live };
        for v in &targets {
            self.unreferenced(subject, v.version)?;
        }
        for v in &targets {
            self.delete(store, subject, *v, permanent).await?;
        }
        tracing::info!(
            subject,
            versions = targets.len(),
            permanent,
            "subject deleted"
        );
        Ok(targets.iter().map(|v| v.version).collect())
    }

    /// Deletes one version of `subject` (`None`: the latest live one), softly or, after a soft
    /// delete, for good. The version deleted.
    pub async fn delete_version(
        &self,
        subject: &str,
        version: Option<u32>,
        permanent: bool,
    ) -> Result<u32, RegistryError> {
        let store = self.store()?;
        let _turn = self.writing.lock().await;
        let all = self.versions_shown(subject, Deleted::Included)?;
        let found = match version {
            None => all.iter().rev().find(|v| !v.deleted),
            Some(n) => all.iter().find(|v| v.version == n),
        };
        let label = version.map_or("latest".into(), |v| v.to_string());
        let found = *found.ok_or(RegistryError::VersionNotFound(label))?;
        if found.deleted && !permanent {
            return Err(RegistryError::VersionSoftDeleted(
                subject.to_owned(),
                found.version,
            ));
        }
        if !found.deleted && permanent {
            return Err(RegistryError::VersionNotSoftDeleted(
                subject.to_owned(),
                found.version,
            ));
        }
        self.writable(subject)?;
        self.unreferenced(subject, found.version)?;
        self.delete(store, subject, found, permanent).await?;
        tracing::info!(
            subject,
            version = found.version,
            permanent,
            "schema version deleted"
        );
        Ok(found.version)
    }

    /// Refused while another schema some subject holds references `subject` `version`.
    fn unreferenced(&self, subject: &str, version: u32) -> Result<(), RegistryError> {
        let by = self.state().referenced_by(subject, version);
        if by.is_empty() {
            return Ok(());
        }
        Err(RegistryError::Referenced(format!(
            "{{subject={subject},version={version}}} (referenced by schema ids {by:?})"
        )))
    }

    async fn delete(
        &self,
        store: &Log,
        subject: &str,
        v: Version,
        permanent: bool,
    ) -> Result<(), RegistryError> {
        if permanent {
            return store
                .append_or_delete(&schema_key(subject, v.version), None, self.timeout())
                .await
                .map(drop)
                .map_err(RegistryError::Store);
        }
        let stored = self
            .schema(v.id)
            .ok_or_else(|| RegistryError::SchemaNotFound(v.id.to_string()))?;
        let (key, value) = schema_record(&SchemaRecord {
            subject,
            version: v.version,
            id: v.id,
            kind: stored.kind,
            text: &stored.text,
            references: &stored.references,
            deleted: true,
        });
        store
            .append(&key, &value, self.timeout())
            .await
            .map(drop)
            .map_err(RegistryError::Store)
    }

    /// The latest version of `subject` and its schema, for encoding values.
    pub async fn latest(&self, subject: &str) -> Result<(Version, Arc<Stored>), Missing> {
        if let Some(remote) = &self.remote {
            remote.subject(subject, &self.state).await?;
        }
        self.version(subject, None)
            .map_err(|_| Missing::NotFound(format!("subject {subject:?} has no schema")))
    }

    /// The schema with `id`, for decoding values.
    pub async fn by_id(&self, id: u32) -> Result<Arc<Stored>, Missing> {
        if let Some(remote) = &self.remote {
            remote.id(id, &self.state).await?;
        }
        self.schema(id)
            .ok_or_else(|| Missing::NotFound(format!("no schema has id {id}")))
    }

    /// Makes the latest versions of `subjects` and the schemas `ids` ready in memory for
    /// [`encode`](Self::encode) and [`decode`](Self::decode): asked of an external registry
    /// now when never seen, a no-op when embedded. Only `Unavailable` fails it: what does not
    /// exist is reported by the encoding itself.
    pub async fn prepare(&self, subjects: &[String], ids: &[u32]) -> Result<(), Missing> {
        let Some(remote) = &self.remote else {
            return Ok(());
        };
        for subject in subjects {
            if let Err(Missing::Unavailable(why)) = remote.subject(subject, &self.state).await {
                return Err(Missing::Unavailable(why));
            }
        }
        for id in ids {
            if let Err(Missing::Unavailable(why)) = remote.id(*id, &self.state).await {
                return Err(Missing::Unavailable(why));
            }
        }
        Ok(())
    }

    /// `json` checked against the latest schema of `subject` and encoded in the wire format.
    pub fn encode(&self, subject: &str, json: &[u8]) -> Result<Vec<u8>, EncodeError> {
        let (_, stored) = self
            .version(subject, None)
            .map_err(|_| EncodeError::NoSchema(subject.to_owned()))?;
        stored
            .parsed
            .encode(stored.id, json)
            .map_err(EncodeError::Mismatch)
    }

    /// `json` checked against schema `id` and encoded in the wire format.
    pub fn encode_id(&self, id: u32, json: &[u8]) -> Result<Vec<u8>, EncodeError> {
        let stored = self
            .schema(id)
            .ok_or_else(|| EncodeError::NoSchema(format!("(schema id {id})")))?;
        stored
            .parsed
            .encode(id, json)
            .map_err(EncodeError::Mismatch)
    }

    /// A value in the wire format whose schema is here, as JSON, with the schema's id.
    pub fn decode(&self, value: &[u8]) -> Option<(u32, serde_json::Value)> {
        let (id, payload) = framed(value)?;
        let stored = self.schema(id)?;
        stored.parsed.decode(payload).ok().map(|v| (id, v))
    }

    /// Schemas known, for the metrics and the admin API.
    pub fn counts(&self) -> (usize, usize) {
        let state = self.state();
        (state.schemas.len(), state.subjects.len())
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.config.timeout_ms)
    }
}

/// Whether `deleted` lets version `v` through.
fn shown(v: &Version, deleted: Deleted) -> bool {
    match deleted {
        Deleted::Hidden => !v.deleted,
        Deleted::Included => true,
        Deleted::Only => v.deleted,
    }
}
