//! An external Confluent-compatible registry (`schema_registry.url`): schemas asked for once and
//! kept in the same in-memory [`State`] the embedded registry fills from its topic, so encoding
//! and decoding read memory alone. A subject's latest version is asked again after `cache_ms`
//! in the background, the kept one serving meanwhile; schemas by id never change and are kept.
//! When the registry cannot be reached what is kept keeps serving, and what is not answers
//! `Unavailable` (503 with `Retry-After` to clients).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::state::{Reference, SchemaRecord, State, schema_record};
use super::{Kind, Missing, RegistryError};
use crate::config::SchemaRegistryConfig as Settings;
use crate::http_client::{Answer, Client, basic_auth};
use crate::metrics::SCHEMA_REGISTRY_FETCHES;

/// How long "no such subject" or "no such id" is believed before the registry is asked again:
/// short, so a schema registered elsewhere is soon seen, yet a flood of requests naming an
/// unknown subject asks the registry once a second.
const NOT_FOUND_FOR: Duration = Duration::from_secs(1);

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// What is asked of the registry, and kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Subject(String),
    Id(u32),
}

/// The last answer about a key.
#[derive(Debug, Clone, Copy)]
struct Asked {
    at: Instant,
    found: bool,
    refreshing: bool,
}

/// The client side of an external registry.
pub struct Remote {
    client: Client,
    base: String,
    authorization: Option<String>,
    cache: Duration,
    max_entries: usize,
    asked: Mutex<HashMap<Key, Asked>>,
    /// One exchange per key at a time: requests arriving meanwhile wait for its answer.
    inflight: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
}

impl Remote {
    pub fn new(config: &Settings, url: &str) -> Result<Remote, String> {
        let timeout = Duration::from_millis(config.timeout_ms);
        let client = Client::new(config.ca_file.as_deref(), timeout)?;
        let authorization = match (&config.username, &config.password) {
            (Some(user), Some(password)) => Some(basic_auth(user, password)),
            _ => None,
        };
        Ok(Remote {
            client,
            base: url.trim_end_matches('/').to_owned(),
            authorization,
            cache: Duration::from_millis(config.cache_ms),
            max_entries: config.max_cached_schemas,
            asked: Mutex::default(),
            inflight: Mutex::default(),
        })
    }

    /// The registry's address, for logs and the admin API.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Makes the latest version of `subject` available in `state`: at once when kept and
    /// fresh (a stale one is refreshed in the background), else after asking.
    pub async fn subject(
        self: &Arc<Self>,
        subject: &str,
        state: &Arc<RwLock<State>>,
    ) -> Result<(), Missing> {
        self.ensure(Key::Subject(subject.to_owned()), state).await
    }

    /// Makes schema `id` available in `state`.
    pub async fn id(self: &Arc<Self>, id: u32, state: &Arc<RwLock<State>>) -> Result<(), Missing> {
        self.ensure(Key::Id(id), state).await
    }

    async fn ensure(self: &Arc<Self>, key: Key, state: &Arc<RwLock<State>>) -> Result<(), Missing> {
        match self.kept(&key) {
            Some(Ok(stale)) => {
                if stale {
                    self.refresh(key, state.clone());
                }
                return Ok(());
            }
            Some(Err(missing)) => return Err(missing),
            None => {}
        }
        let turn = self.turn(&key);
        let _turn = turn.lock().await;
        // Answered while this request waited its turn.
        if let Some(kept) = self.kept(&key) {
            return kept.map(drop);
        }
        let result = self.fetch(&key, state).await;
        self.forget_turn(&key, &turn);
        result
    }

    /// What is known about `key`: `Ok(stale)` when kept, `Err` when known missing, `None` when
    /// the registry must be asked.
    fn kept(&self, key: &Key) -> Option<Result<bool, Missing>> {
        let asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
        let a = asked.get(key)?;
        let age = a.at.elapsed();
        match (a.found, key) {
            (true, Key::Id(_)) => Some(Ok(false)),
            (true, Key::Subject(_)) => Some(Ok(age >= self.cache && !a.refreshing)),
            (false, _) if age < NOT_FOUND_FOR => Some(Err(not_found(key))),
            (false, _) => None,
        }
    }

    fn turn(&self, key: &Key) -> Arc<tokio::sync::Mutex<()>> {
        let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        inflight.entry(key.clone()).or_default().clone()
    }

    fn forget_turn(&self, key: &Key, turn: &Arc<tokio::sync::Mutex<()>>) {
        let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        // Ours and held by nobody else: the map does not grow with every key ever asked.
        if inflight.get(key).is_some_and(|t| Arc::ptr_eq(t, turn)) && Arc::strong_count(turn) <= 2 {
            inflight.remove(key);
        }
    }

    /// Asks again for a stale subject without making the request wait.
    fn refresh(self: &Arc<Self>, key: Key, state: Arc<RwLock<State>>) {
        {
            let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
            match asked.get_mut(&key) {
                Some(a) if !a.refreshing => a.refreshing = true,
                _ => return,
            }
        }
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(Missing::Unavailable(why)) = this.fetch(&key, &state).await {
                tracing::warn!(url = %this.base, error = %why, "schema registry: refresh failed; the kept schema serves");
            }
            let mut asked = this.asked.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(a) = asked.get_mut(&key) {
                a.refreshing = false;
            }
        });
    }

    async fn fetch(&self, key: &Key, state: &Arc<RwLock<State>>) -> Result<(), Missing> {
        let (what, url) = match key {
            Key::Subject(s) => (
                "subject",
                format!("{}/subjects/{}/versions/latest", self.base, segment(s)),
            ),
            Key::Id(id) => ("id", format!("{}/schemas/ids/{id}", self.base)),
        };
        let answer = self.exchange(Method::GET, &url, None).await;
        let result = match answer {
            Ok(a) if a.status == StatusCode::OK => {
                self.keep(key, &a.json(&url).map_err(unavailable)?, state)
            }
            Ok(a) if a.status == StatusCode::NOT_FOUND => {
                if let Key::Subject(s) = key {
                    let mut state = state.write().unwrap_or_else(|e| e.into_inner());
                    state.subjects.remove(s);
                }
                Err(not_found(key))
            }
            Ok(a) => Err(Missing::Unavailable(format!(
                "{url}: answered {}: {}",
                a.status,
                a.excerpt()
            ))),
            Err(e) => Err(Missing::Unavailable(e)),
        };
        let label = match &result {
            Ok(()) => "ok",
            Err(Missing::NotFound(_)) => "not_found",
            Err(Missing::Unavailable(_)) => "error",
        };
        metrics::counter!(SCHEMA_REGISTRY_FETCHES, "what" => what, "result" => label).increment(1);
        match &result {
            Ok(()) => self.answered(key, true),
            Err(Missing::NotFound(_)) => self.answered(key, false),
            Err(Missing::Unavailable(why)) => {
                tracing::warn!(url = %self.base, error = %why, "schema registry: not answered");
            }
        }
        result
    }

    /// Keeps an answer about `key` in `state`.
    fn keep(&self, key: &Key, answer: &Value, state: &Arc<RwLock<State>>) -> Result<(), Missing> {
        let text = answer["schema"]
            .as_str()
            .ok_or_else(|| unavailable("an answer without schema".into()))?;
        let kind = Kind::parse(answer["schemaType"].as_str()).map_err(unavailable)?;
        // References resolve against what is kept here; a schema whose references were never
        // fetched is not usable and said so.
        let references: Vec<Reference> = match answer.get("references") {
            Some(r) if !r.is_null() => serde_json::from_value(r.clone())
                .map_err(|e| unavailable(format!("references: {e}")))?,
            _ => Vec::new(),
        };
        let id = match key {
            Key::Subject(_) => answer["id"]
                .as_u64()
                .ok_or_else(|| unavailable("an answer without id".into()))?
                as u32,
            Key::Id(id) => *id,
        };
        let mut state = state.write().unwrap_or_else(|e| e.into_inner());
        if state.schemas.len() >= self.max_entries && !state.schemas.contains_key(&id) {
            // Bounded: past `max_cached_schemas` the cache starts over.
            state.schemas.clear();
            state.subjects.clear();
            self.asked.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
        let kept = match key {
            Key::Subject(subject) => {
                let version = answer["version"].as_u64().unwrap_or(1) as u32;
                let (k, v) = schema_record(&SchemaRecord {
                    subject,
                    version,
                    id,
                    kind,
                    text,
                    references: &references,
                    deleted: false,
                });
                state.apply(&k, Some(&v))
            }
            Key::Id(_) => state.insert_schema(id, kind, text, &references),
        };
        kept.map_err(|e| unavailable(format!("schema {id}: {e}")))
    }

    fn answered(&self, key: &Key, found: bool) {
        let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
        if asked.len() >= self.max_entries && !asked.contains_key(key) {
            asked.retain(|_, a| a.found);
            if asked.len() >= self.max_entries {
                asked.clear();
            }
        }
        asked.insert(
            key.clone(),
            Asked {
                at: Instant::now(),
                found,
                refreshing: false,
            },
        );
    }

    /// Registers `text` under `subject` at the registry: its id.
    pub async fn register(
        &self,
        subject: &str,
        kind: Kind,
        text: &str,
        state: &Arc<RwLock<State>>,
    ) -> Result<u32, RegistryError> {
        let url = format!("{}/subjects/{}/versions", self.base, segment(subject));
        let mut body = json!({ "schema": text });
        if let Some(kind) = kind.name() {
            body["schemaType"] = json!(kind);
        }
        let answer = self
            .exchange(Method::POST, &url, Some(Bytes::from(body.to_string())))
            .await;
        let result = match answer {
            Ok(a) if a.status.is_success() => a
                .json(&url)
                .ok()
                .and_then(|v| v["id"].as_u64())
                .map(|id| id as u32)
                .ok_or_else(|| RegistryError::Store(format!("{url}: an answer without id"))),
            Ok(a) => {
                let answer = a.json(&url).unwrap_or_default();
                let message = answer["message"]
                    .as_str()
                    .map_or_else(|| a.excerpt(), str::to_owned);
                Err(match answer["error_code"].as_u64() {
                    Some(409) => RegistryError::Incompatible(vec![message]),
                    Some(42201) => RegistryError::InvalidSchema(message),
                    _ => RegistryError::Store(format!("{url}: answered {}: {message}", a.status)),
                })
            }
            Err(e) => Err(RegistryError::Store(e)),
        };
        let label = if result.is_ok() { "ok" } else { "error" };
        metrics::counter!(SCHEMA_REGISTRY_FETCHES, "what" => "register", "result" => label)
            .increment(1);
        let id = result?;
        // Kept at once: the request that registered it encodes with it next.
        let _ = self.keep(
            &Key::Id(id),
            &json!({ "schema": text, "schemaType": kind.name() }),
            state,
        );
        self.answered(&Key::Id(id), true);
        Ok(id)
    }

    async fn exchange(
        &self,
        method: Method,
        url: &str,
        body: Option<Bytes>,
    ) -> Result<Answer, String> {
        self.client
            .exchange(
                method,
                url,
                self.authorization.as_deref(),
                body.map(|b| (CONTENT_TYPE, b)),
            )
            .await
    }
}

fn not_found(key: &Key) -> Missing {
    match key {
        Key::Subject(s) => Missing::NotFound(format!("subject {s:?} has no schema")),
        Key::Id(id) => Missing::NotFound(format!("no schema has id {id}")),
    }
}

fn unavailable(why: String) -> Missing {
    Missing::Unavailable(why)
}

/// A path segment: unreserved characters as they are, the rest percent-encoded.
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn subjects_are_one_path_segment() {
        assert_eq!(super::segment("orders-value"), "orders-value");
        assert_eq!(super::segment("a/b c:d"), "a%2Fb%20c%3Ad");
    }
}
