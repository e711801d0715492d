//! One way to build the gateway's state from a config: at start, on every reload and in
//! `wafka check`. [`Builder::prepare`] does the blocking part (librdkafka's property check,
//! creating the embedded cluster's topics, reading, hashing and compiling filter files, reading
//! certificates) and belongs on a blocking thread; [`Builder::finish`] asks each filter whether
//! it accepts its route's config.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::TlsAcceptor;

use crate::config::{Config, ConfigError, FilterRef, RestProxyConfig};
use crate::filter::{DiskCache, FilterEngine, Limits, LoadError, LoadedFilter, Step, sha256_hex};
use crate::identity::Providers;
use crate::kafka::EmbeddedCluster;
use crate::metrics::{ReadMetrics, RouteMetrics};
use crate::router::{PathPattern, Router};
use crate::snapshot::{Dialect, Endpoint, Produce, Read, Route, Snapshot};
use tokio::sync::Semaphore;

/// How long a filter may take to accept its config. Loading is off the request path, so
/// this is generous: it only has to stop a filter that never answers.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The route name REST Proxy filters are checked under, and the scope of their shared state:
/// not a valid route name, so no route shares the state.
const REST_PROXY: &str = "rest_proxy.api";

/// The route name of the schema registry's API: its filters, state, metrics and logs.
const SCHEMA_REGISTRY: &str = "schema_registry";

/// Why a config could not become a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The file cannot be read or is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// librdkafka refuses a producer property (secret values masked).
    #[error("kafka.producer: {0}")]
    Properties(String),
    /// A filter could not be loaded or refused its config.
    #[error("{field}: {source}")]
    Filter {
        /// Config path of the filter entry, e.g. `routes[0].filters[1]`.
        field: String,
        /// What went wrong.
        source: LoadError,
    },
    /// The TLS certificate, key or client CA cannot be used.
    #[error("server.tls: {0}")]
    Tls(String),
    /// A route cannot be served as configured.
    #[error("{field}: {reason}")]
    Route {
        /// Config path, e.g. `routes[2].path`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// An identity provider cannot be used as configured.
    #[error("{field}: {reason}")]
    Identity {
        /// Config path, e.g. `identity_providers[0].ca_file`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The embedded cluster refused a topic.
    #[error("embedded Kafka: create topic {topic}: {reason}")]
    Topic {
        /// The topic.
        topic: String,
        /// librdkafka's reason.
        reason: String,
    },
}

impl BuildError {
    /// The error as `wafka check`, the start and the reload log say it: naming the file first.
    pub fn in_file(&self, path: &Path) -> String {
        match self {
            BuildError::Config(e) => e.to_string(),
            other => format!("{}: {other}", path.display()),
        }
    }
}

/// What [`Builder::prepare`] read and compiled.
pub struct Prepared {
    config: Config,
    filters: BTreeMap<String, Arc<LoadedFilter>>,
    identity: Arc<Providers>,
    /// The public listener's TLS acceptor, from the certificate files as they are now.
    pub tls: Option<TlsAcceptor>,
}

/// Builds snapshots with one engine; cheap to clone onto a blocking thread.
#[derive(Clone)]
pub struct Builder {
    /// Compiles and checks the filters.
    pub engine: Arc<FilterEngine>,
    /// Compiled-filter cache; `None` compiles every filter (what `wafka check` does).
    pub cache: Option<DiskCache>,
    /// The live snapshot: its filters are reused when their files are unchanged (or removed,
    /// until the config stops naming them).
    pub previous: Option<Arc<Snapshot>>,
    /// The embedded cluster, whose topics follow the config.
    pub embedded: Option<Arc<EmbeddedCluster>>,
    /// The schema registry filters use (the `schemas` interface); `None` before it opens and
    /// in `wafka check`, where those calls answer `unavailable`.
    pub schemas: Option<Arc<crate::schemas::Registry>>,
}

impl Builder {
    /// The blocking part: checks the producer properties, creates the embedded cluster's
    /// topics (the routes', the dead-letter topic and `kafka.embedded.topics`: the same set at
    /// start and on reload), loads every filter the routes name and reads the certificates.
    /// `config` is validated ([`crate::config::load`]).
    pub fn prepare(&self, config: Config) -> Result<Prepared, BuildError> {
        rest_proxy_overlap(&config)?;
        crate::kafka::validate_properties(&config.kafka).map_err(BuildError::Properties)?;
        if let Some(cluster) = &self.embedded {
            let partitions = config.kafka.embedded.partitions;
            for topic in embedded_topics(&config) {
                cluster
                    .create_topic(topic, partitions)
                    .map_err(|e| BuildError::Topic {
                        topic: topic.to_owned(),
                        reason: e.to_string(),
                    })?;
            }
        }
        let mut filters: BTreeMap<String, Arc<LoadedFilter>> = BTreeMap::new();
        for (field, refs) in chains(&config) {
            for (k, filter) in refs.iter().enumerate() {
                if filters.contains_key(&filter.name) {
                    continue;
                }
                let loaded = self
                    .load(&filter.name, &config.filters.dir)
                    .map_err(|source| BuildError::Filter {
                        field: format!("{field}.filters[{k}]"),
                        source,
                    })?;
                filters.insert(filter.name.clone(), loaded);
            }
        }
        let tls = match &config.server.tls {
            Some(files) => Some(crate::tls::acceptor(files).map_err(BuildError::Tls)?),
            None => None,
        };
        let previous = self.previous.as_ref().map(|s| &*s.identity);
        let identity = Providers::build(&config.identity_providers, previous)
            .map_err(|(field, reason)| BuildError::Identity { field, reason })?;
        Ok(Prepared {
            config,
            filters,
            identity: Arc::new(identity),
            tls,
        })
    }

    /// The async part: each route's config checked by its filters.
    pub async fn finish(
        &self,
        prepared: Prepared,
    ) -> Result<(Snapshot, Option<TlsAcceptor>), BuildError> {
        let Prepared {
            config,
            filters,
            identity,
            tls,
        } = prepared;
        let mut routes = Vec::new();
        for (i, route) in config.routes.iter().enumerate() {
            let field = format!("routes[{i}]");
            let steps = self
                .chain(&route.name, &field, &route.filters, &filters, &identity)
                .await?;
            let limits = limits(&config, route.filter_timeout_ms);
            let methods = route.methods();
            let shared = |path: String, methods: Vec<String>, endpoint| Route {
                name: route.name.as_str().into(),
                path,
                methods,
                steps: steps.clone(),
                limits,
                error_details: route.error_details,
                metrics: RouteMetrics::new(&route.name),
                dialect: Dialect::Wafka,
                endpoint,
            };
            match &route.read {
                None => {
                    let endpoint = Endpoint::Produce(Produce {
                        topic: route.topic.clone(),
                        mode: route.mode,
                        body: route.body,
                        spool_when_down: route.spool_when_down,
                        key_schema: route.key_schema.clone(),
                        value_schema: route.value_schema.clone(),
                        idempotency: route.idempotency.clone(),
                    });
                    let served = shared(route.path.to_string(), methods, endpoint);
                    routes.push((route.path.clone(), Arc::new(served)));
                }
                Some(read) => {
                    let read = Arc::new(Read {
                        topic: route.topic.clone(),
                        config: read.clone(),
                        streams: Arc::new(Semaphore::new(read.max_streams)),
                        fetches: Arc::new(Semaphore::new(read.max_fetches)),
                        metrics: ReadMetrics::new(&route.name),
                    });
                    let offsets_path = format!("{}/offsets", route.path);
                    let offsets =
                        PathPattern::parse(&offsets_path).map_err(|reason| BuildError::Route {
                            field: format!("routes[{i}].path"),
                            reason,
                        })?;
                    let served = shared(
                        route.path.to_string(),
                        methods,
                        Endpoint::Read(read.clone()),
                    );
                    routes.push((route.path.clone(), Arc::new(served)));
                    let methods = vec!["GET".to_owned(), "POST".to_owned()];
                    let served = shared(offsets_path, methods, Endpoint::Offsets(read));
                    routes.push((offsets, Arc::new(served)));
                }
            }
        }
        if let Some(rest_proxy) = &config.rest_proxy {
            routes.extend(
                self.rest_proxy_routes(&config, rest_proxy, &filters, &identity)
                    .await?,
            );
        }
        let schema_registry = match &config.schema_registry {
            Some(registry) if registry.url.is_none() => {
                let steps = self
                    .chain(
                        SCHEMA_REGISTRY,
                        "schema_registry",
                        &registry.filters,
                        &filters,
                        &identity,
                    )
                    .await?;
                Some(Arc::new(Route {
                    name: SCHEMA_REGISTRY.into(),
                    path: "/".into(),
                    methods: ["GET", "POST", "PUT", "DELETE"].map(str::to_owned).to_vec(),
                    steps,
                    limits: limits(&config, None),
                    error_details: registry.error_details,
                    metrics: RouteMetrics::new(SCHEMA_REGISTRY),
                    dialect: Dialect::SchemaRegistry,
                    endpoint: Endpoint::SchemaRegistry,
                }))
            }
            _ => None,
        };
        let snapshot = Snapshot {
            schema_registry,
            router: Router::new(routes),
            filters,
            config: Arc::new(config),
            identity,
        };
        Ok((snapshot, tls))
    }

    /// The REST Proxy API's paths as routes: one filter chain (checked once, its state shared
    /// by every call), metrics and logs labelled by operation.
    async fn rest_proxy_routes(
        &self,
        config: &Config,
        rest_proxy: &RestProxyConfig,
        filters: &BTreeMap<String, Arc<LoadedFilter>>,
        identity: &Arc<Providers>,
    ) -> Result<Vec<(PathPattern, Arc<Route>)>, BuildError> {
        let steps = self
            .chain(
                REST_PROXY,
                "rest_proxy",
                &rest_proxy.filters,
                filters,
                identity,
            )
            .await?;
        let limits = limits(config, None);
        let routes = crate::rest_proxy::operations(&rest_proxy.path_prefix)
            .into_iter()
            .map(|(pattern, methods, op)| {
                let route = Route {
                    name: op.name().into(),
                    path: pattern.to_string(),
                    methods: methods.into_iter().map(str::to_owned).collect(),
                    steps: steps.clone(),
                    limits,
                    error_details: rest_proxy.error_details,
                    metrics: RouteMetrics::new(op.name()),
                    dialect: if op.is_v3() {
                        Dialect::RestProxyV3
                    } else {
                        Dialect::RestProxyV2
                    },
                    endpoint: Endpoint::RestProxy(op),
                };
                (pattern, Arc::new(route))
            })
            .collect();
        Ok(routes)
    }

    /// The filter chain `refs` names for `owner` (a route's name, or the REST Proxy's or the
    /// registry's), each filter's config checked by the filter.
    async fn chain(
        &self,
        owner: &str,
        field: &str,
        refs: &[FilterRef],
        filters: &BTreeMap<String, Arc<LoadedFilter>>,
        identity: &Arc<Providers>,
    ) -> Result<Vec<Arc<Step>>, BuildError> {
        let mut steps = Vec::with_capacity(refs.len());
        for (k, filter) in refs.iter().enumerate() {
            let loaded = filters[&filter.name].clone();
            let config_json = filter.config_json();
            let sees_records = loaded
                .check_config(
                    owner,
                    &config_json,
                    CHECK_TIMEOUT,
                    identity,
                    self.schemas.as_ref(),
                )
                .await
                .map_err(|source| BuildError::Filter {
                    field: format!("{field}.filters[{k}]"),
                    source,
                })?;
            steps.push(Arc::new(Step {
                state: self.engine.state().scope(owner, &filter.name),
                filter: loaded,
                config_json: config_json.into(),
                sees_records,
                identity: identity.clone(),
                schemas: self.schemas.clone(),
                pool: filter
                    .reuse
                    .map(|policy| self.engine.pool(policy, &filter.name)),
            }));
        }
        Ok(steps)
    }

    /// Loads `dir/NAME.wasm`: reused when unchanged or removed, else compiled.
    fn load(&self, name: &str, dir: &Path) -> Result<Arc<LoadedFilter>, LoadError> {
        let path = dir.join(format!("{name}.wasm"));
        let live = self.previous.as_ref().and_then(|s| s.filters.get(name));
        let bytes = match (std::fs::read(&path), live) {
            (Ok(bytes), _) => bytes,
            (Err(e), Some(live)) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(
                    filter = name,
                    path = %path.display(),
                    "filter file removed; keeping the loaded version until the config stops naming it"
                );
                return Ok(live.clone());
            }
            (Err(source), _) => {
                return Err(LoadError::Read {
                    name: name.to_owned(),
                    path,
                    source,
                });
            }
        };
        if let Some(live) = live.filter(|l| l.sha256 == sha256_hex(&bytes)) {
            return Ok(live.clone());
        }
        LoadedFilter::compile(&self.engine, name, &path, &bytes, self.cache.as_ref()).map(Arc::new)
    }
}

/// Every filter chain of `config`, by its field: the routes', the REST Proxy's, the registry's.
fn chains(config: &Config) -> impl Iterator<Item = (String, &[FilterRef])> {
    let routes = config
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("routes[{i}]"), r.filters.as_slice()));
    let rest_proxy = config
        .rest_proxy
        .iter()
        .map(|r| ("rest_proxy".to_owned(), r.filters.as_slice()));
    let registry = config
        .schema_registry
        .iter()
        .map(|r| ("schema_registry".to_owned(), r.filters.as_slice()));
    routes.chain(rest_proxy).chain(registry)
}

/// What a chain may do per request: `timeout_ms` (a route's own), else the server's.
fn limits(config: &Config, timeout_ms: Option<u64>) -> Limits {
    let timeout_ms = timeout_ms.unwrap_or(config.server.filter_timeout_ms);
    Limits {
        timeout: Duration::from_millis(timeout_ms),
        max_records: config.server.max_records,
        max_output_bytes: config.server.max_output_bytes,
    }
}

/// Topics the embedded cluster must have for `config`.
fn embedded_topics(config: &Config) -> impl Iterator<Item = &str> {
    let routes = config
        .routes
        .iter()
        .filter(|r| r.read.is_none())
        .map(|r| r.topic.as_str());
    let dead_letter = config.kafka.dead_letter_topic.iter().map(String::as_str);
    let listed = config.kafka.embedded.topics.iter().map(String::as_str);
    routes.chain(dead_letter).chain(listed)
}

/// Refuses a route that shares a path and method with the REST Proxy API, which would hide one
/// of them depending on the order of the lookup.
fn rest_proxy_overlap(config: &Config) -> Result<(), BuildError> {
    let Some(rest_proxy) = &config.rest_proxy else {
        return Ok(());
    };
    let api = crate::rest_proxy::operations(&rest_proxy.path_prefix);
    for (i, route) in config.routes.iter().enumerate() {
        let mut served = vec![(route.path.clone(), route.methods())];
        if route.read.is_some() {
            let offsets = PathPattern::parse(&format!("{}/offsets", route.path));
            if let Ok(offsets) = offsets {
                served.push((offsets, vec!["GET".into(), "POST".into()]));
            }
        }
        for (pattern, methods) in &served {
            let clash = api.iter().find(|(p, ms, _)| {
                p.overlaps(pattern) && ms.iter().any(|m| methods.iter().any(|n| n == m))
            });
            if let Some((p, _, _)) = clash {
                return Err(BuildError::Route {
                    field: format!("routes[{i}].path"),
                    reason: format!(
                        "overlaps the REST Proxy API's {p}; set rest_proxy.path_prefix or move the route"
                    ),
                });
            }
        }
    }
    Ok(())
}
