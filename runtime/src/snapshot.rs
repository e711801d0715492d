//! Everything a request needs, built whole off the request path and swapped in at once:
//! the routes and the compiled filters they use. Requests hold the snapshot they started with.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{BodyKind, Config, Mode};
use crate::filter::{DiskCache, FilterEngine, Limits, LoadError, LoadedFilter, Step, sha256_hex};
use crate::router::{Methods, PathPattern, Router};

/// How long a filter may take to accept its config. Loading is off the request path, so
/// this is generous: it only has to stop a filter that never answers.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// A route ready to serve.
pub struct Route {
    /// Route name.
    pub name: Arc<str>,
    /// The path pattern as configured.
    pub path: String,
    /// Accepted methods.
    pub methods: Vec<String>,
    /// Default topic.
    pub topic: String,
    /// When to answer.
    pub mode: Mode,
    /// How the body becomes records.
    pub body: BodyKind,
    /// Sync route: spool and answer 202 while Kafka is unreachable.
    pub spool_when_down: bool,
    /// The filter chain with this route's configs.
    pub steps: Vec<Arc<Step>>,
    /// What the chain may do per request.
    pub limits: Limits,
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
    /// Filters by name.
    pub filters: BTreeMap<String, Arc<LoadedFilter>>,
    /// The config it was built from.
    pub config: Arc<Config>,
}

/// What a build may reuse: the live snapshot's filters and the compiled-filter cache.
#[derive(Default, Clone, Copy)]
pub struct Reuse<'a> {
    /// Filters of the snapshot being replaced.
    pub previous: Option<&'a Snapshot>,
    /// On-disk cache of compiled components.
    pub cache: Option<&'a DiskCache>,
}

/// A filter that could not be used, with the config field that named it.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {source}")]
pub struct SnapshotError {
    /// Config path of the filter entry, e.g. `routes[0].filters[1]`.
    pub field: String,
    /// What went wrong.
    pub source: LoadError,
}

impl Snapshot {
    /// Compiles every filter the routes name and checks each route's config with its filter.
    /// `config` must already be validated. A filter whose file is unchanged (same sha256) is
    /// taken from `reuse.previous` as is; one whose file is gone is too, with a warning, until
    /// the config stops naming it.
    pub async fn build(
        config: Config,
        engine: &Arc<FilterEngine>,
        reuse: Reuse<'_>,
    ) -> Result<Snapshot, SnapshotError> {
        let mut filters: BTreeMap<String, Arc<LoadedFilter>> = BTreeMap::new();
        let mut routes = Vec::new();
        for (i, route) in config.routes.iter().enumerate() {
            let mut steps = Vec::new();
            for (k, filter) in route.filters.iter().enumerate() {
                let at = |source| SnapshotError {
                    field: format!("routes[{i}].filters[{k}]"),
                    source,
                };
                let loaded = match filters.get(&filter.name) {
                    Some(loaded) => loaded.clone(),
                    None => {
                        let loaded = load(engine, &filter.name, &config.filters.dir, reuse)
                            .await
                            .map_err(at)?;
                        filters.insert(filter.name.clone(), loaded.clone());
                        loaded
                    }
                };
                let config_json = serde_json::to_string(&filter.config)
                    .expect("a TOML table always converts to JSON");
                loaded
                    .check_config(&route.name, &config_json, CHECK_TIMEOUT)
                    .await
                    .map_err(at)?;
                steps.push(Arc::new(Step {
                    state: engine.state().scope(&route.name, &filter.name),
                    filter: loaded,
                    config_json: config_json.into(),
                }));
            }
            let pattern = PathPattern::parse(&route.path).expect("validated with the config");
            let timeout_ms = route
                .filter_timeout_ms
                .unwrap_or(config.server.filter_timeout_ms);
            let served = Route {
                name: route.name.as_str().into(),
                path: route.path.clone(),
                methods: route.methods.clone(),
                topic: route.topic.clone(),
                mode: route.mode,
                body: route.body,
                spool_when_down: route.spool_when_down,
                steps,
                limits: Limits {
                    timeout: Duration::from_millis(timeout_ms),
                    max_records: config.server.max_records,
                    max_output_bytes: config.server.max_output_bytes,
                },
            };
            routes.push((pattern, Arc::new(served)));
        }
        Ok(Snapshot {
            router: Router::new(routes),
            filters,
            config: Arc::new(config),
        })
    }
}

/// Loads `dir/NAME.wasm`: reused when unchanged or removed, else compiled on a blocking
/// thread (compilation takes long enough to stall other tasks on a tokio worker).
async fn load(
    engine: &Arc<FilterEngine>,
    name: &str,
    dir: &Path,
    reuse: Reuse<'_>,
) -> Result<Arc<LoadedFilter>, LoadError> {
    let path = dir.join(format!("{name}.wasm"));
    let live = reuse.previous.and_then(|s| s.filters.get(name));
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
    let (engine, name, cache) = (engine.clone(), name.to_owned(), reuse.cache.cloned());
    tokio::task::spawn_blocking(move || {
        LoadedFilter::compile(&engine, &name, &path, &bytes, cache.as_ref())
    })
    .await
    .expect("filter compilation panicked")
    .map(Arc::new)
}
