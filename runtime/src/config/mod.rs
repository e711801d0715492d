//! The gateway's configuration file: documented serde structs, read with unknown fields denied,
//! then validated into a form the gateway can run ([`load`]).

mod delivery;
mod error;
mod idempotency;
mod identity;
mod read;
mod rest_proxy;
mod schema_registry;
mod start_only;
mod traces;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use delivery::{BreakerConfig, Fsync, SpoolConfig};
pub use error::ConfigError;
pub use idempotency::{IdempotencyConfig, KeyUse};
pub use identity::IdentityProviderConfig;
pub use read::{ReadConfig, ValueFormat};
pub use rest_proxy::{RestProxyConfig, check_prefix};
pub use schema_registry::{LEVELS, SchemaRef, SchemaRegistryConfig};
pub use start_only::StartOnly;
pub use traces::TracingConfig;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTP listeners and request limits.
    #[serde(default)]
    pub server: ServerConfig,
    /// Where records go and how they are produced.
    #[serde(default)]
    pub kafka: KafkaConfig,
    /// Where filter components are found.
    #[serde(default)]
    pub filters: FiltersConfig,
    /// The disk spool for records accepted while Kafka is unreachable. Default: none.
    #[serde(default)]
    pub spool: Option<SpoolConfig>,
    /// Routes, matched in order; at least one, unless `[rest_proxy]` is on.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// The Confluent REST Proxy API on the public listener. Default: off.
    #[serde(default)]
    pub rest_proxy: Option<RestProxyConfig>,
    /// OpenID Connect providers filters verify tokens with, by name. Default: none.
    #[serde(default)]
    pub identity_providers: Vec<IdentityProviderConfig>,
    /// The embedded Confluent-compatible schema registry (docs/schemas.md). Default: off.
    #[serde(default)]
    pub schema_registry: Option<SchemaRegistryConfig>,
    /// Where `Idempotency-Key` answers are kept (docs/delivery.md). Default: off; needed by
    /// routes with `idempotency`.
    #[serde(default)]
    pub idempotency: Option<IdempotencyConfig>,
    /// W3C trace context on records, spans over OTLP (docs/operations.md). Default: off.
    #[serde(default)]
    pub tracing: Option<TracingConfig>,
}

/// How a filter instance's memory is put back to its initial state once a request is done,
/// so the next request on that slot sees nothing of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryReset {
    /// `pagemap` when this machine allows it, else `decommit`.
    #[default]
    Auto,
    /// Ask the kernel which pages the request wrote (Linux `PAGEMAP_SCAN`, 6.7 and later) and
    /// copy just those back from the component's image; the pages stay mapped. No system call
    /// that changes the address space, so no TLB shootdown on every core. Needs swap off: a
    /// written page the kernel swapped out is not reported, and would keep its contents.
    Pagemap,
    /// Give every page back to the kernel (`madvise(MADV_DONTNEED)`); the next request faults
    /// fresh copies in. Safe everywhere; costs a TLB shootdown per memory per request.
    Decommit,
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the public HTTP listener. Default `127.0.0.1:8080`; port 0 picks a free port.
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// Address of the admin listener (health, metrics, admin API). Default `127.0.0.1:9090`.
    #[serde(default = "defaults::admin_listen")]
    pub admin_listen: SocketAddr,
    /// Largest accepted request body, in bytes. Default 1048576 (1 MiB). Larger bodies get 413.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: u64,
    /// Longest a filter may run for one request, in milliseconds, before it is stopped and the
    /// request answered 504. Default 50; a route may set its own.
    #[serde(default = "defaults::filter_timeout_ms")]
    pub filter_timeout_ms: u64,
    /// Most records one request may become. Default 10000; past it the filter is stopped and
    /// the request answered 500 `filter_output_too_large`.
    #[serde(default = "defaults::max_records")]
    pub max_records: usize,
    /// Most bytes (keys, values, headers) of records filters may create for one request.
    /// Default 16777216 (16 MiB); past it, 500 `filter_output_too_large`.
    #[serde(default = "defaults::max_output_bytes")]
    pub max_output_bytes: usize,
    /// How long shutdown waits for in-flight requests, in milliseconds. Default 10000.
    #[serde(default = "defaults::shutdown_grace_ms")]
    pub shutdown_grace_ms: u64,
    /// How long the gateway keeps serving after SIGTERM with `/readyz` answering 503, so load
    /// balancers take it out before its listeners close, in milliseconds. Default 0.
    #[serde(default)]
    pub drain_notice_ms: u64,
    /// Time a client has to send its request headers, in milliseconds; then the connection is
    /// closed. Default 10000.
    #[serde(default = "defaults::request_header_timeout_ms")]
    pub request_header_timeout_ms: u64,
    /// Time a client has to send its whole request body, in milliseconds; then it is answered
    /// 408. Default 30000.
    #[serde(default = "defaults::request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Most request headers. Default 100; more gets 431.
    #[serde(default = "defaults::max_headers")]
    pub max_headers: usize,
    /// Most bytes of request line and headers. Default 65536.
    #[serde(default = "defaults::max_header_bytes")]
    pub max_header_bytes: usize,
    /// Longest request URI in bytes. Default 8192; longer gets 414.
    #[serde(default = "defaults::max_uri_bytes")]
    pub max_uri_bytes: usize,
    /// Most open client connections; further ones wait in the listen backlog. Default 10000.
    #[serde(default = "defaults::max_connections")]
    pub max_connections: usize,
    /// Most concurrent HTTP/2 streams per connection. Default 256.
    #[serde(default = "defaults::max_h2_streams")]
    pub max_h2_streams: u32,
    /// Most filter instances alive at once, across requests: one per filter of a chain per
    /// request being filtered. Default 1000; past it requests wait up to 1 s for a slot, then
    /// get 503 `overloaded`. Reloads check configs on slots of their own. Takes effect at start.
    #[serde(default = "defaults::max_filter_instances")]
    pub max_filter_instances: usize,
    /// Most server-sent-event streams open at once across read routes; past it 503
    /// `too_many_readers`. Default 10000. Takes effect at start.
    #[serde(default = "defaults::max_streams")]
    pub max_streams: usize,
    /// Most long-poll fetches waiting at once across read routes; past it 503
    /// `too_many_readers`. Default 10000. Takes effect at start.
    #[serde(default = "defaults::max_fetches")]
    pub max_fetches: usize,
    /// A client that takes no bytes of an answer for this long, in milliseconds, is
    /// disconnected: a stalled server-sent-event reader costs at most what the socket buffers
    /// hold, then goes. Default 30000. Takes effect at start.
    #[serde(default = "defaults::write_timeout_ms")]
    pub write_timeout_ms: u64,
    /// The memory budget in bytes that request bodies, records in flight, filter output and
    /// read routes' buffers draw from (docs/operations.md). Default: half of the cgroup's
    /// memory limit, or of the machine's memory; at least 64 MiB. Takes effect at start.
    #[serde(default)]
    pub max_memory_bytes: Option<usize>,
    /// TLS on the public listener. Default: none (plain HTTP).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Record metrics and serve them at `/metrics`. Default true; false saves their (small)
    /// cost on the request path. Takes effect at start.
    #[serde(default = "defaults::metrics")]
    pub metrics: bool,
}

/// `[server.tls]`: PEM files, resolved against the config file's directory and read again on
/// every reload.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates that sign client certificates. When set, clients must present a valid
    /// certificate (mTLS) and filters see its subject.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

/// `[kafka]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// `"embedded"` (default) starts librdkafka's in-process mock cluster, which keeps nothing
    /// after exit; otherwise a comma-separated bootstrap list, `"host:9092,host2:9092"`.
    #[serde(default = "defaults::brokers")]
    pub brokers: String,
    /// librdkafka producer properties, passed through as given (strings, numbers or booleans).
    /// They override Wafka's defaults (acks=all, idempotence on, message.timeout.ms=30000).
    /// `bootstrap.servers` is set from `brokers` and may not appear here.
    #[serde(default)]
    pub producer: BTreeMap<String, PropertyValue>,
    /// librdkafka consumer properties for read routes, passed through. The producer's
    /// `security.*`, `ssl.*` and `sasl.*` properties apply to consumers too, so TLS and SASL
    /// are set once; these override them. `bootstrap.servers` and `group.id` are set by the
    /// gateway and may not appear here.
    #[serde(default)]
    pub consumer: BTreeMap<String, PropertyValue>,
    /// Most records held in flight (queued or awaiting acknowledgement) across all requests.
    /// Past it requests get 503 `queue_full` at once. Default 50000.
    #[serde(default = "delivery::defaults::max_in_flight_records")]
    pub max_in_flight_records: usize,
    /// Most bytes (topic, key, value, headers) of records held in flight. Past it requests get
    /// 503 `queue_full` at once. Default 67108864 (64 MiB); at least `server.max_output_bytes`.
    #[serde(default = "delivery::defaults::max_in_flight_bytes")]
    pub max_in_flight_bytes: usize,
    /// Topic receiving records that fail permanently after their request was answered (async
    /// and spooled records), with the error in `wafka-error-*` headers. Default: none (such
    /// records are logged and counted in `wafka_records_dropped_total`).
    #[serde(default)]
    pub dead_letter_topic: Option<String>,
    /// The circuit breaker.
    #[serde(default)]
    pub breaker: BreakerConfig,
    /// Settings of the embedded cluster; ignored with real brokers.
    #[serde(default)]
    pub embedded: EmbeddedConfig,
}

/// `[kafka.embedded]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedConfig {
    /// Number of mock brokers. Default 1.
    #[serde(default = "defaults::embedded_brokers")]
    pub brokers: i32,
    /// Partitions of each topic the gateway creates. Default 3.
    #[serde(default = "defaults::embedded_partitions")]
    pub partitions: i32,
    /// Topics to create besides the routes' default topics, e.g. those a router filter picks.
    /// Default none.
    #[serde(default)]
    pub topics: Vec<String>,
}

/// A librdkafka property value: TOML strings, integers and booleans are all accepted.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum PropertyValue {
    /// `"5"`
    String(String),
    /// `5`
    Integer(i64),
    /// `true`
    Bool(bool),
}

impl std::fmt::Display for PropertyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PropertyValue::String(s) => f.write_str(s),
            PropertyValue::Integer(i) => write!(f, "{i}"),
            PropertyValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// `[filters]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FiltersConfig {
    /// Directory of filter components: `NAME.wasm` there is the filter `NAME`. Watched: files
    /// landing there are loaded without a restart. Relative paths are resolved against the
    /// config file's directory. Default `filters.d`.
    #[serde(default = "defaults::filters_dir")]
    pub dir: PathBuf,
    /// Cache of compiled filters, so restarts and reloads skip compiling known files.
    /// Default `DIR/.cache` (hidden files in the filters directory are ignored).
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// How a filter instance's memory is reset between requests: `auto` (default: `pagemap`
    /// when the kernel has PAGEMAP_SCAN and swap is off, else `decommit`), `pagemap` (refuse
    /// to start without it) or `decommit`. See docs/security.md. Takes effect at start.
    #[serde(default)]
    pub memory_reset: MemoryReset,
}

/// `[[routes]]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Route name: unique, used in logs, metrics and by filters.
    pub name: String,
    /// Path pattern: literal segments and `{param}` segments, e.g. `/v1/events/{source}`.
    pub path: crate::router::PathPattern,
    /// Accepted methods. Default `["POST"]`, `["GET"]` for a read route.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Produce route: the default topic of the request's record; filters may change it.
    /// Read route: the topic to read, which may name path parameters (`events.{source}`);
    /// filters may change it too.
    pub topic: String,
    /// Makes this a read route: GET reads `topic` (long-poll, or server-sent events with
    /// `Accept: text/event-stream`). Default: none (a produce route).
    #[serde(default)]
    pub read: Option<ReadConfig>,
    /// When to answer: after the broker acknowledged (`sync`, default) or once queued (`async`).
    #[serde(default)]
    pub mode: Mode,
    /// Filters run in order for each request.
    #[serde(default)]
    pub filters: Vec<FilterRef>,
    /// How the body becomes records: `raw` (default: the body is one record's value),
    /// `records` (Confluent REST Proxy v2 JSON, `{"records":[{"key","value","partition",
    /// "headers"}]}`) or `ndjson` (a record per line).
    #[serde(default)]
    pub body: BodyKind,
    /// This route's filter deadline in milliseconds. Default: `server.filter_timeout_ms`.
    #[serde(default)]
    pub filter_timeout_ms: Option<u64>,
    /// For a `sync` route: while Kafka is unreachable, write records to the spool and answer
    /// 202 instead of 503. Needs `[spool]`. Default false. (`async` routes always use the
    /// spool when there is one.)
    #[serde(default)]
    pub spool_when_down: bool,
    /// Produce route: take `Idempotency-Key`, so a retried request is answered from the first
    /// one and writes nothing (`idempotency = {}`, or `{ required = true, identity =
    /// ["x-api-key-id"] }`). Needs `[idempotency]`. Default: the header is ignored.
    #[serde(default)]
    pub idempotency: Option<KeyUse>,
    /// Answer failures with their full text: a trap's message and what the filter printed,
    /// librdkafka's words. Default false: the client gets the stable code, a short message and
    /// the request id, and the full text is in the log under that id.
    #[serde(default)]
    pub error_details: bool,
    /// Produce route: each record's value (JSON, after the filters) is checked against this
    /// subject's latest schema and encoded in the registry's wire format; a value that does
    /// not fit gets 422 `schema_mismatch` listing every problem. Needs `[schema_registry]`.
    /// `value_schema = {}` uses the subject `{topic}-value`. Default: values go as they are.
    #[serde(default)]
    pub value_schema: Option<SchemaRef>,
    /// The same for keys (`{topic}-key`). Default: keys go as they are.
    #[serde(default)]
    pub key_schema: Option<SchemaRef>,
}

/// When a produce route answers the client.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Answer 200 after the broker acknowledged every record, with their offsets.
    #[default]
    Sync,
    /// Answer 202 as soon as every record is queued in the producer.
    Async,
}

/// How a produce route reads records from the request body.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BodyKind {
    /// The whole body is one record's value.
    #[default]
    Raw,
    /// `{"records":[{"key":…,"value":…,"partition":…,"headers":…}]}`.
    Records,
    /// One record per non-empty line.
    Ndjson,
}

/// One filter in a route's chain.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FilterRef {
    /// Filter name: the file `NAME.wasm` in the filters directory.
    pub name: String,
    /// The filter's own settings, handed to it as JSON. Default: empty.
    #[serde(default)]
    pub config: toml::Table,
    /// Serve many requests from one instance, one request at a time (docs/security.md says
    /// what that gives up). Default: none, a fresh instance per request.
    #[serde(default)]
    pub reuse: Option<ReuseConfig>,
}

/// `reuse = { … }` in a filter entry: when an instance serving this route's requests one after
/// another is retired. It is always retired after a failure (a trap, its deadline, a limit, a
/// host call made wrongly), or when it keeps a handle or writes to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReuseConfig {
    /// Requests one instance serves. Default 1000.
    #[serde(default = "defaults::reuse_max_requests")]
    pub max_requests: u32,
    /// Milliseconds an instance lives. Default 60000.
    #[serde(default = "defaults::reuse_max_age_ms")]
    pub max_age_ms: u64,
    /// Linear memory an instance may have grown to and still serve another request, in MiB
    /// (1 to 64). Default 16.
    #[serde(default = "defaults::reuse_max_memory_mib")]
    pub max_memory_mib: u32,
}

impl Default for ReuseConfig {
    fn default() -> Self {
        ReuseConfig {
            max_requests: defaults::reuse_max_requests(),
            max_age_ms: defaults::reuse_max_age_ms(),
            max_memory_mib: defaults::reuse_max_memory_mib(),
        }
    }
}

impl RouteConfig {
    /// The methods the route accepts: as configured, or its kind's default.
    pub fn methods(&self) -> Vec<String> {
        match (&self.read, self.methods.is_empty()) {
            (_, false) => self.methods.clone(),
            (Some(_), true) => vec!["GET".to_owned()],
            (None, true) => vec!["POST".to_owned()],
        }
    }
}

impl FilterRef {
    /// The filter's config as the JSON text it receives through `config.get`.
    pub fn config_json(&self) -> String {
        fn json(value: &toml::Value) -> serde_json::Value {
            use serde_json::Value as J;
            match value {
                toml::Value::String(s) => J::String(s.clone()),
                toml::Value::Integer(i) => J::from(*i),
                toml::Value::Float(f) => {
                    serde_json::Number::from_f64(*f).map_or(J::Null, J::Number)
                }
                toml::Value::Boolean(b) => J::Bool(*b),
                toml::Value::Datetime(d) => J::String(d.to_string()),
                toml::Value::Array(items) => J::Array(items.iter().map(json).collect()),
                toml::Value::Table(table) => table_json(table),
            }
        }
        fn table_json(table: &toml::Table) -> serde_json::Value {
            serde_json::Value::Object(table.iter().map(|(k, v)| (k.clone(), json(v))).collect())
        }
        table_json(&self.config).to_string()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: defaults::listen(),
            admin_listen: defaults::admin_listen(),
            max_body_bytes: defaults::max_body_bytes(),
            filter_timeout_ms: defaults::filter_timeout_ms(),
            max_records: defaults::max_records(),
            max_output_bytes: defaults::max_output_bytes(),
            shutdown_grace_ms: defaults::shutdown_grace_ms(),
            drain_notice_ms: 0,
            metrics: defaults::metrics(),
            tls: None,
            request_header_timeout_ms: defaults::request_header_timeout_ms(),
            request_timeout_ms: defaults::request_timeout_ms(),
            max_headers: defaults::max_headers(),
            max_header_bytes: defaults::max_header_bytes(),
            max_uri_bytes: defaults::max_uri_bytes(),
            max_connections: defaults::max_connections(),
            max_h2_streams: defaults::max_h2_streams(),
            max_filter_instances: defaults::max_filter_instances(),
            max_streams: defaults::max_streams(),
            max_fetches: defaults::max_fetches(),
            write_timeout_ms: defaults::write_timeout_ms(),
            max_memory_bytes: None,
        }
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: defaults::brokers(),
            producer: BTreeMap::new(),
            consumer: BTreeMap::new(),
            max_in_flight_records: delivery::defaults::max_in_flight_records(),
            max_in_flight_bytes: delivery::defaults::max_in_flight_bytes(),
            dead_letter_topic: None,
            breaker: BreakerConfig::default(),
            embedded: EmbeddedConfig::default(),
        }
    }
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self {
            brokers: defaults::embedded_brokers(),
            partitions: defaults::embedded_partitions(),
            topics: Vec::new(),
        }
    }
}

impl Default for FiltersConfig {
    fn default() -> Self {
        Self {
            dir: defaults::filters_dir(),
            cache_dir: None,
            memory_reset: Default::default(),
        }
    }
}

impl FiltersConfig {
    /// The compiled-filter cache directory (resolved when the config is read).
    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| self.dir.join(".cache"))
    }
}

impl KafkaConfig {
    /// True when the gateway should start its own in-process mock cluster.
    pub fn is_embedded(&self) -> bool {
        self.brokers.trim() == "embedded"
    }
}

impl Config {
    /// Parses TOML text; `origin` names the source in error messages and relative paths are
    /// resolved against `base_dir`.
    pub fn from_toml(text: &str, origin: &Path, base_dir: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        if let Some(tls) = &mut config.server.tls {
            for path in [
                Some(&mut tls.cert),
                Some(&mut tls.key),
                tls.client_ca.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                if path.is_relative() {
                    *path = base_dir.join(&*path);
                }
            }
        }
        for provider in &mut config.identity_providers {
            if let Some(ca) = &mut provider.ca_file
                && ca.is_relative()
            {
                *ca = base_dir.join(&*ca);
            }
        }
        if let Some(spool) = &mut config.spool
            && spool.dir.is_relative()
        {
            spool.dir = base_dir.join(&spool.dir);
        }
        let filters = &mut config.filters;
        if filters.dir.is_relative() {
            filters.dir = base_dir.join(&filters.dir);
        }
        filters.cache_dir = Some(match filters.cache_dir.take() {
            Some(dir) if dir.is_relative() => base_dir.join(dir),
            Some(dir) => dir,
            None => filters.dir.join(".cache"),
        });
        validate::validate(&config).map_err(|(field, reason)| ConfigError::Invalid {
            file: origin.to_path_buf(),
            field,
            reason,
        })?;
        Ok(config)
    }
}

/// Names of settings whose values are never shown or logged: passwords, secrets, tokens,
/// keys and credentials, in producer properties and filter configs alike.
pub fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["password", "secret", "token", "key", "credential"]
        .iter()
        .any(|s| name.contains(s))
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        file: path.to_path_buf(),
        source: e,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    Config::from_toml(&text, path, base)
}

mod defaults {
    use std::net::SocketAddr;
    use std::path::PathBuf;

    pub fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8080))
    }
    pub fn admin_listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 9090))
    }
    pub fn max_body_bytes() -> u64 {
        1024 * 1024
    }
    pub fn filter_timeout_ms() -> u64 {
        50
    }
    pub fn max_records() -> usize {
        10_000
    }
    pub fn max_output_bytes() -> usize {
        16 << 20
    }
    pub fn shutdown_grace_ms() -> u64 {
        10_000
    }
    pub fn metrics() -> bool {
        true
    }
    pub fn request_header_timeout_ms() -> u64 {
        10_000
    }
    pub fn request_timeout_ms() -> u64 {
        30_000
    }
    pub fn max_headers() -> usize {
        100
    }
    pub fn max_header_bytes() -> usize {
        64 << 10
    }
    pub fn max_uri_bytes() -> usize {
        8 << 10
    }
    pub fn max_connections() -> usize {
        10_000
    }
    pub fn max_h2_streams() -> u32 {
        256
    }
    pub fn max_filter_instances() -> usize {
        1000
    }
    pub fn reuse_max_requests() -> u32 {
        1000
    }
    pub fn reuse_max_age_ms() -> u64 {
        60_000
    }
    pub fn reuse_max_memory_mib() -> u32 {
        16
    }
    pub fn max_streams() -> usize {
        10_000
    }
    pub fn max_fetches() -> usize {
        10_000
    }
    pub fn write_timeout_ms() -> u64 {
        30_000
    }
    pub fn brokers() -> String {
        "embedded".to_owned()
    }
    pub fn embedded_brokers() -> i32 {
        1
    }
    pub fn embedded_partitions() -> i32 {
        3
    }
    pub fn filters_dir() -> PathBuf {
        PathBuf::from("filters.d")
    }
}

#[cfg(test)]
mod tests;
