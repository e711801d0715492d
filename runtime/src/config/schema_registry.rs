//! `[schema_registry]` and the routes' `key_schema` / `value_schema`: the embedded
//! Confluent-compatible registry, and which of its subjects a route encodes with.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::FilterRef;
use super::validate::{Failure, check_topic, fail, valid_name};

/// The compatibility levels, as the registry's API names them.
pub const LEVELS: &[&str] = &[
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
];

/// The schema registry: embedded (the default), or an external one at `url`. Present (even
/// empty) turns it on. Takes effect at start.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaRegistryConfig {
    /// An external Confluent-compatible registry, e.g. `https://registry.internal:8081`: the
    /// gateway asks it for schemas and keeps them, and serves no registry of its own (`listen`,
    /// `topic`, `read_only` and `compatibility` are then unused). Default none: embedded.
    #[serde(default)]
    pub url: Option<String>,
    /// HTTP Basic user for `url`. Default none.
    #[serde(default)]
    pub username: Option<String>,
    /// HTTP Basic password for `url`; masked in the admin API and logs. Default none.
    #[serde(default)]
    pub password: Option<String>,
    /// CA certificates (PEM) trusted for an `https` `url`. Default Mozilla's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// With `url`: how long a subject's latest version is used before it is asked again (in
    /// the background, the kept one serving meanwhile), in milliseconds. Schemas by id never
    /// change and are kept. Default 30000.
    #[serde(default = "defaults::cache_ms")]
    pub cache_ms: u64,
    /// With `url`: most schemas kept; past it the cache starts over. Default 10000.
    #[serde(default = "defaults::max_cached_schemas")]
    pub max_cached_schemas: usize,
    /// Where the Confluent Schema Registry API is served. Default `127.0.0.1:8081`, the port
    /// registry clients expect.
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// The compacted topic schemas are kept in, in the Confluent registry's record format.
    /// Default `_schemas`, the Confluent registry's own.
    #[serde(default = "defaults::topic")]
    pub topic: String,
    /// Refuse registrations and level changes (422, error 42205). Several gateways share one
    /// topic: one writes, the others set this (docs/schemas.md). Default false.
    #[serde(default)]
    pub read_only: bool,
    /// The compatibility level until one is set through the API: `BACKWARD` (default),
    /// `BACKWARD_TRANSITIVE`, `FORWARD`, `FORWARD_TRANSITIVE`, `FULL`, `FULL_TRANSITIVE` or
    /// `NONE`.
    #[serde(default = "defaults::compatibility")]
    pub compatibility: String,
    /// How long a registration waits for Kafka, or an exchange with `url` for its answer, in
    /// milliseconds. Default 10000.
    #[serde(default = "defaults::timeout_ms")]
    pub timeout_ms: u64,
    /// Largest request body the API reads (a schema and its JSON), in bytes. Default 1048576.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: usize,
    /// Filters run on every call of the registry's API before it looks anything up, with one
    /// record per subject the call touches (`__GLOBAL` for the registry-wide level) and the
    /// call's access (`read`: lookups, lists, compatibility tests; `write`: registering,
    /// deleting, setting levels): `jwt-auth` or `api-key-auth` decide who may read or write
    /// which subjects. Default none: anyone who reaches `listen` may do anything.
    #[serde(default)]
    pub filters: Vec<FilterRef>,
    /// Answer failures with their full text. Default false.
    #[serde(default)]
    pub error_details: bool,
}

impl std::fmt::Debug for SchemaRegistryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaRegistryConfig")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ca_file", &self.ca_file)
            .field("cache_ms", &self.cache_ms)
            .field("max_cached_schemas", &self.max_cached_schemas)
            .field("listen", &self.listen)
            .field("topic", &self.topic)
            .field("read_only", &self.read_only)
            .field("compatibility", &self.compatibility)
            .field("timeout_ms", &self.timeout_ms)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("filters", &self.filters)
            .field("error_details", &self.error_details)
            .finish()
    }
}

/// `routes[].value_schema` / `routes[].key_schema`: the subject whose latest version a
/// produce route checks and encodes each record's value (key) with, after its filters.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaRef {
    /// The subject. Default: `{topic}-value` (`{topic}-key`) for each record's topic, the
    /// registry clients' topic name strategy.
    #[serde(default)]
    pub subject: Option<String>,
    /// The record name strategy: the subject is this full name of the schema's record
    /// (`com.acme.Order`), whatever the topic. Default none.
    #[serde(default)]
    pub record: Option<String>,
}

impl SchemaRef {
    /// The subject for a record going to `topic`.
    pub fn subject(&self, topic: &str, key: bool) -> String {
        match (&self.subject, &self.record) {
            (Some(subject), _) => subject.clone(),
            (None, Some(record)) => record.clone(),
            (None, None) => format!("{topic}-{}", if key { "key" } else { "value" }),
        }
    }
}

pub(super) mod defaults {
    use std::net::SocketAddr;

    pub fn listen() -> SocketAddr {
        ([127, 0, 0, 1], 8081).into()
    }
    pub fn topic() -> String {
        "_schemas".into()
    }
    pub fn compatibility() -> String {
        "BACKWARD".into()
    }
    pub fn timeout_ms() -> u64 {
        10_000
    }
    pub fn max_body_bytes() -> usize {
        1 << 20
    }
    pub fn cache_ms() -> u64 {
        30_000
    }
    pub fn max_cached_schemas() -> usize {
        10_000
    }
}

/// `[schema_registry]`: a level the API knows, a topic, its own port, filter names, usable
/// bounds.
pub(super) fn check(
    registry: &SchemaRegistryConfig,
    server: &super::ServerConfig,
) -> Result<(), Failure> {
    let level = registry.compatibility.to_ascii_uppercase();
    if !LEVELS.contains(&level.as_str()) {
        return fail(
            "schema_registry.compatibility",
            format!("use one of {}", LEVELS.join(", ")),
        );
    }
    if let Err(reason) = check_topic(&registry.topic) {
        return fail("schema_registry.topic", reason);
    }
    if registry.listen.port() != 0
        && (registry.listen == server.listen || registry.listen == server.admin_listen)
    {
        return fail(
            "schema_registry.listen",
            "must differ from server.listen and server.admin_listen",
        );
    }
    if registry.timeout_ms == 0 {
        return fail("schema_registry.timeout_ms", "must be at least 1");
    }
    if registry.max_body_bytes == 0 {
        return fail("schema_registry.max_body_bytes", "must be at least 1");
    }
    if let Some(url) = &registry.url {
        let usable = url.parse::<http::Uri>().is_ok_and(|uri| {
            matches!(uri.scheme_str(), Some("http" | "https"))
                && uri.host().is_some()
                && uri.query().is_none()
        });
        if !usable {
            return fail(
                "schema_registry.url",
                "use http://host:port or https://host:port (a path is kept, no query)",
            );
        }
    }
    if registry.username.is_some() != registry.password.is_some() {
        return fail(
            "schema_registry.password",
            "username and password go together (HTTP Basic)",
        );
    }
    if registry.url.is_none() && registry.username.is_some() {
        return fail(
            "schema_registry.username",
            "credentials are for an external registry: set url too",
        );
    }
    for (k, filter) in registry.filters.iter().enumerate() {
        if !valid_name(&filter.name) {
            return fail(
                format!("schema_registry.filters[{k}].name"),
                "use 1 to 64 characters of a-z, 0-9, '-' and '_' (the file is NAME.wasm)",
            );
        }
    }
    if registry.cache_ms == 0 {
        return fail("schema_registry.cache_ms", "must be at least 1");
    }
    if registry.max_cached_schemas == 0 {
        return fail("schema_registry.max_cached_schemas", "must be at least 1");
    }
    Ok(())
}
