//! `[schema_registry]` and the routes' `key_schema` / `value_schema`: the embedded
//! Confluent-compatible registry, and which of its subjects a route encodes with.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// The embedded schema registry. Present (even empty) turns it on. Takes effect at start.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaRegistryConfig {
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
    /// How long a registration waits for Kafka, in milliseconds. Default 10000.
    #[serde(default = "defaults::timeout_ms")]
    pub timeout_ms: u64,
    /// Largest request body the API reads (a schema and its JSON), in bytes. Default 1048576.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: usize,
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
}
