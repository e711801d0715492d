//! Everything a request needs, built whole off the request path and swapped in at once:
//! the routes and the compiled filters they use. Requests hold the snapshot they started with.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, Mode};
use crate::filter::{FilterEngine, LoadError, LoadedFilter, Step};
use crate::router::{Methods, PathPattern, Router};

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
    /// The filter chain with this route's configs.
    pub steps: Vec<Arc<Step>>,
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
    /// `config` must already be validated.
    pub async fn build(
        config: &Config,
        engine: &Arc<FilterEngine>,
        check_timeout: Duration,
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
                        let loaded = compile(engine, &filter.name, &config.filters.dir)
                            .await
                            .map_err(at)?;
                        filters.insert(filter.name.clone(), loaded.clone());
                        loaded
                    }
                };
                let config_json = serde_json::to_string(&filter.config)
                    .expect("a TOML table always converts to JSON");
                loaded
                    .check_config(&route.name, &config_json, check_timeout)
                    .await
                    .map_err(at)?;
                steps.push(Arc::new(Step {
                    filter: loaded,
                    config_json: config_json.into(),
                }));
            }
            let pattern = PathPattern::parse(&route.path).expect("validated with the config");
            let served = Route {
                name: route.name.as_str().into(),
                path: route.path.clone(),
                methods: route.methods.clone(),
                topic: route.topic.clone(),
                mode: route.mode,
                steps,
            };
            routes.push((pattern, Arc::new(served)));
        }
        Ok(Snapshot {
            router: Router::new(routes),
            filters,
        })
    }
}

/// Compiles `dir/NAME.wasm` on a blocking thread: compilation takes long enough to stall
/// other tasks on a tokio worker.
async fn compile(
    engine: &Arc<FilterEngine>,
    name: &str,
    dir: &Path,
) -> Result<Arc<LoadedFilter>, LoadError> {
    let path = dir.join(format!("{name}.wasm"));
    let (engine, name) = (engine.clone(), name.to_owned());
    tokio::task::spawn_blocking(move || LoadedFilter::load(&engine, &name, &path))
        .await
        .expect("filter compilation panicked")
        .map(Arc::new)
}
