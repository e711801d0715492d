//! Everything a request needs, built whole off the request path ([`crate::build`]) and swapped
//! in at once: the routes and the compiled filters they use. Requests hold the snapshot they
//! started with.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::{BodyKind, Config, Mode, ReadConfig};
use crate::filter::{Limits, LoadedFilter, Step};
use crate::metrics::{ReadMetrics, RouteMetrics};
use crate::router::{Methods, Router};

/// A route ready to serve: what every kind of endpoint shares, and what this one does.
pub struct Route {
    /// Route name.
    pub name: Arc<str>,
    /// The path pattern as configured.
    pub path: String,
    /// Accepted methods.
    pub methods: Vec<String>,
    /// The filter chain with this route's configs.
    pub steps: Vec<Arc<Step>>,
    /// What the chain may do per request.
    pub limits: Limits,
    /// Answer failures with their full text (`routes[].error_details`).
    pub error_details: bool,
    /// Its HTTP metrics, registered once.
    pub metrics: RouteMetrics,
    /// The API it speaks: the shape of its answers and errors.
    pub dialect: Dialect,
    /// What the route does with a request.
    pub endpoint: Endpoint,
}

/// The API a route speaks: how its answers and failures are shaped (`server::dialect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Wafka's own routes.
    Wafka,
    /// Confluent REST Proxy v2.
    RestProxyV2,
    /// Confluent REST Proxy v3.
    RestProxyV3,
    /// Confluent Schema Registry.
    SchemaRegistry,
}

impl Dialect {
    /// REST Proxy v3 (its own error codes for a few failures).
    pub fn is_v3(self) -> bool {
        self == Dialect::RestProxyV3
    }
}

/// The kinds of endpoint a route can be.
pub enum Endpoint {
    /// Requests become records produced to Kafka.
    Produce(Produce),
    /// GET reads a topic: long-poll, or server-sent events.
    Read(Arc<Read>),
    /// `{path}/offsets` of a read route: a group's committed position (GET), a commit (POST).
    Offsets(Arc<Read>),
    /// An operation of the REST Proxy API (`[rest_proxy]`).
    RestProxy(crate::rest_proxy::Op),
    /// The Schema Registry API, on its own listener (`[schema_registry]`).
    SchemaRegistry,
}

/// A read route's settings, and what it shares across reloads of its requests.
pub struct Read {
    /// The topic, possibly naming path parameters (`events.{source}`).
    pub topic: String,
    /// The settings as configured.
    pub config: ReadConfig,
    /// Its streams and fetches bounds.
    pub streams: Arc<tokio::sync::Semaphore>,
    /// Long-poll fetches bound.
    pub fetches: Arc<tokio::sync::Semaphore>,
    /// Its read metrics.
    pub metrics: ReadMetrics,
}

impl Read {
    /// The topic for a request's path parameters.
    pub fn topic_for(&self, params: &[(String, String)]) -> String {
        params
            .iter()
            .fold(self.topic.clone(), |topic, (name, value)| {
                topic.replace(&format!("{{{name}}}"), value)
            })
    }
}

/// A produce route's settings.
pub struct Produce {
    /// Default topic.
    pub topic: String,
    /// When to answer.
    pub mode: Mode,
    /// How the body becomes records.
    pub body: BodyKind,
    /// Sync route: spool and answer 202 while Kafka is unreachable.
    pub spool_when_down: bool,
    /// Keys encoded with a registry schema (`key_schema`).
    pub key_schema: Option<crate::config::SchemaRef>,
    /// Values encoded with a registry schema (`value_schema`).
    pub value_schema: Option<crate::config::SchemaRef>,
    /// How it takes `Idempotency-Key`.
    pub idempotency: Option<crate::config::KeyUse>,
}

impl Methods for Route {
    fn methods(&self) -> &[String] {
        &self.methods
    }
}

/// Routes and filters of one config version.
pub struct Snapshot {
    /// Route table.
    pub router: Router<Route>,
    /// The schema registry listener's route: its filters, limits and metrics; when the
    /// gateway serves the registry API.
    pub schema_registry: Option<Arc<Route>>,
    /// Filters by name.
    pub filters: BTreeMap<String, Arc<LoadedFilter>>,
    /// The config it was built from.
    pub config: Arc<Config>,
    /// The identity providers its filters use by name.
    pub identity: Arc<crate::identity::Providers>,
}

impl Snapshot {
    /// Marks this snapshot's filters as serving in `wafka_filter_version_info`, and those only
    /// in `previous` as retired.
    pub fn publish_versions(&self, previous: Option<&Snapshot>) {
        let version = |f: &LoadedFilter| {
            let sha = f.sha256.get(..12).unwrap_or(&f.sha256).to_owned();
            metrics::gauge!(crate::metrics::FILTER_VERSION, "filter" => f.name.clone(), "sha256" => sha)
        };
        for old in previous.iter().flat_map(|s| s.filters.values()) {
            if self
                .filters
                .get(&old.name)
                .is_none_or(|new| new.sha256 != old.sha256)
            {
                version(old).set(0.0);
            }
        }
        for filter in self.filters.values() {
            version(filter).set(1.0);
        }
    }
}
