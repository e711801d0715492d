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
mod store;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::config::{KafkaConfig, SchemaRegistryConfig as Settings};
use state::{State, config_record, schema_record};
pub use state::{Stored, Version};
use store::Store;
pub use wafka_sdk::formats::{self as format, Kind, Parsed, framed};

pub use crate::config::LEVELS;

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
    /// 42205: this registry does not write.
    ReadOnly,
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
            RegistryError::ReadOnly => (422, 42205),
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
            RegistryError::SchemaNotFound(s) => format!("Schema not found: {s}"),
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
            RegistryError::ReadOnly => "registry_read_only",
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
    store: Option<Store>,
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
        if cluster.topic(&config.topic).is_err() {
            let configs = [("cleanup.policy".to_owned(), "compact".to_owned())];
            if let Err(e) = cluster
                .create_topic(&config.topic, Some(1), None, &configs)
                .await
                && cluster.topic(&config.topic).is_err()
            {
                return Err(format!("creating {}: {e}", config.topic));
            }
        }
        let store = Store::open(kafka, bootstrap, &config.topic, state.clone()).await?;
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
    fn store(&self) -> Result<&Store, RegistryError> {
        self.store.as_ref().ok_or(RegistryError::ReadOnly)
    }

    /// The schema with `id`.
    pub fn schema(&self, id: u32) -> Option<Arc<Stored>> {
        self.state().schemas.get(&id).cloned()
    }

    /// Subjects with at least one live version.
    pub fn subjects(&self) -> Vec<String> {
        let state = self.state();
        state
            .subjects
            .keys()
            .filter(|s| !state.live(s).is_empty())
            .cloned()
            .collect()
    }

    /// The live versions of `subject`.
    pub fn versions(&self, subject: &str) -> Result<Vec<Version>, RegistryError> {
        let live = self.state().live(subject);
        if live.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_owned()));
        }
        Ok(live)
    }

    /// A version of `subject` (`None`: the latest) and its schema.
    pub fn version(
        &self,
        subject: &str,
        version: Option<u32>,
    ) -> Result<(Version, Arc<Stored>), RegistryError> {
        let live = self.versions(subject)?;
        let found = match version {
            None => live.last().copied(),
            Some(n) => live.iter().copied().find(|v| v.version == n),
        };
        let found = found.ok_or_else(|| {
            RegistryError::VersionNotFound(version.map_or("latest".into(), |v| v.to_string()))
        })?;
        let stored = self
            .schema(found.id)
            .ok_or_else(|| RegistryError::SchemaNotFound(found.id.to_string()))?;
        Ok((found, stored))
    }

    /// Where schema `id` is registered: (subject, version) pairs.
    pub fn uses(&self, id: u32) -> Vec<(String, u32)> {
        let state = self.state();
        let mut uses = Vec::new();
        for subject in state.subjects.keys() {
            for v in state.live(subject).into_iter().filter(|v| v.id == id) {
                uses.push((subject.clone(), v.version));
            }
        }
        uses
    }

    /// The version of `subject` that is this schema.
    pub fn lookup(
        &self,
        subject: &str,
        kind: Kind,
        text: &str,
    ) -> Result<(Version, Arc<Stored>), RegistryError> {
        let parsed = Parsed::parse(kind, text).map_err(RegistryError::InvalidSchema)?;
        let state = self.state();
        let live = state.live(subject);
        if live.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_owned()));
        }
        live.iter()
            .rev()
            .find_map(|v| {
                let stored = state.schemas.get(&v.id)?;
                stored.parsed.same(&parsed).then(|| (*v, stored.clone()))
            })
            .ok_or_else(|| RegistryError::SchemaNotFound(format!("under subject '{subject}'")))
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
        if self.config.read_only {
            return Err(RegistryError::ReadOnly);
        }
        let _turn = self.writing.lock().await;
        let (key, value) = config_record(subject, &level);
        self.store()?
            .append(&key, &value, self.timeout())
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

    /// Registers `text` under `subject`: the id of the same schema if it is there already, a
    /// new version otherwise, when compatible.
    pub async fn register(
        &self,
        subject: &str,
        kind: Kind,
        text: &str,
    ) -> Result<u32, RegistryError> {
        let parsed = Parsed::parse(kind, text).map_err(RegistryError::InvalidSchema)?;
        if let Some(remote) = &self.remote {
            return remote.register(subject, kind, text, &self.state).await;
        }
        let _turn = self.writing.lock().await;
        let (id, version) = {
            let state = self.state();
            let live = state.live(subject);
            if let Some(v) = live.iter().find(|v| {
                state
                    .schemas
                    .get(&v.id)
                    .is_some_and(|s| s.parsed.same(&parsed))
            }) {
                return Ok(v.id);
            }
            drop(state);
            if self.config.read_only {
                return Err(RegistryError::ReadOnly);
            }
            let problems = self.incompatibilities(subject, &parsed, None)?;
            if !problems.is_empty() {
                return Err(RegistryError::Incompatible(problems));
            }
            let state = self.state();
            // The same schema under another subject keeps its id, as Confluent's registry does.
            let id = state
                .schemas
                .values()
                .find(|s| s.parsed.same(&parsed))
                .map_or_else(|| state.next_id(), |s| s.id);
            let version = state
                .subjects
                .get(subject)
                .and_then(|v| v.iter().map(|v| v.version).max())
                .unwrap_or(0)
                + 1;
            (id, version)
        };
        let (key, value) = schema_record(subject, version, id, kind, text, false);
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

    /// Soft-deletes every version of `subject`, as Confluent's registry does (each version's
    /// record again, marked deleted); the versions deleted.
    pub async fn delete_subject(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        if self.config.read_only {
            return Err(RegistryError::ReadOnly);
        }
        let store = self.store()?;
        let _turn = self.writing.lock().await;
        let live = self.versions(subject)?;
        for v in &live {
            let stored = self
                .schema(v.id)
                .ok_or_else(|| RegistryError::SchemaNotFound(v.id.to_string()))?;
            let (key, value) =
                schema_record(subject, v.version, v.id, stored.kind, &stored.text, true);
            store
                .append(&key, &value, self.timeout())
                .await
                .map_err(RegistryError::Store)?;
        }
        tracing::info!(subject, versions = live.len(), "subject deleted");
        Ok(live.iter().map(|v| v.version).collect())
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
