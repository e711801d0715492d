//! A filter compiled from its `.wasm` file and ready to instantiate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, InstancePre};

use super::bindings::{consume, produce};
use super::cache::DiskCache;
use super::chain::{Step, describe_trap, enter, new_store};
use super::engine::FilterEngine;
use super::store::StoreData;
use crate::metrics::FilterMetrics;

/// Why a filter file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file is missing or unreadable.
    #[error("filter {name}: cannot read {path}: {source}")]
    Read {
        /// Filter name.
        name: String,
        /// File path.
        path: PathBuf,
        /// I/O error.
        source: std::io::Error,
    },
    /// Not a valid component, or it does not export the `wafka:filter` world.
    #[error("filter {name}: {path} is not a usable wafka:filter component: {reason}")]
    Invalid {
        /// Filter name.
        name: String,
        /// File path.
        path: PathBuf,
        /// Compiler or linker message.
        reason: String,
    },
    /// The filter refused the config a route gives it.
    #[error("filter {name}: config of route {route} rejected: {reason}")]
    ConfigRejected {
        /// Filter name.
        name: String,
        /// Route name.
        route: String,
        /// The filter's message.
        reason: String,
    },
}

/// A compiled filter: the component linked against the host, plus where it came from.
pub struct LoadedFilter {
    /// Filter name (the file stem).
    pub name: String,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// Hex sha256 of the file's bytes.
    pub sha256: String,
    /// When it was compiled.
    pub loaded_at: SystemTime,
    pub(crate) pre: InstancePre<StoreData>,
    /// Where its `produce` export is.
    pub(crate) produce: produce::GuestIndices,
    /// Where its `consume` export is, when it has one (built for `read-filter`).
    pub(crate) consume: Option<consume::GuestIndices>,
    pub(crate) metrics: FilterMetrics,
}

impl LoadedFilter {
    /// Reads, compiles and links `path`. Slow (compilation): call it off the request path.
    pub fn load(engine: &FilterEngine, name: &str, path: &Path) -> Result<Self, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            name: name.to_owned(),
            path: path.to_owned(),
            source,
        })?;
        Self::compile(engine, name, path, &bytes, None)
    }

    /// Compiles and links `bytes` read from `path`, through `cache` when given.
    pub fn compile(
        engine: &FilterEngine,
        name: &str,
        path: &Path,
        bytes: &[u8],
        cache: Option<&DiskCache>,
    ) -> Result<Self, LoadError> {
        let invalid = |e: wasmtime::Error| LoadError::Invalid {
            name: name.to_owned(),
            path: path.to_owned(),
            reason: format!("{e:#}"),
        };
        let sha256 = sha256_hex(bytes);
        let cached = cache.and_then(|c| c.get(engine.engine(), &sha256));
        let component = match cached {
            Some(component) => component,
            None => {
                let started = std::time::Instant::now();
                let component = Component::new(engine.engine(), bytes).map_err(invalid)?;
                let compile_ms = started.elapsed().as_millis() as u64;
                if let Some(cache) = cache {
                    cache.put(engine.engine(), &sha256, &component);
                }
                tracing::info!(
                    filter = name,
                    compile_ms,
                    cache_ms = started.elapsed().as_millis() as u64 - compile_ms,
                    "filter compiled"
                );
                component
            }
        };
        let pre = engine
            .linker()
            .instantiate_pre(&component)
            .map_err(invalid)?;
        let produce = produce::GuestIndices::new(&pre).map_err(invalid)?;
        let consume = consume::GuestIndices::new(&pre).ok();
        Ok(LoadedFilter {
            name: name.to_owned(),
            path: path.to_owned(),
            sha256,
            loaded_at: SystemTime::now(),
            pre,
            produce,
            consume,
            metrics: FilterMetrics::new(name),
        })
    }

    /// Instantiates the filter with a route's config and asks it whether it accepts it, and
    /// then whether it wants to see records read for that route (false without `consume`).
    pub async fn check_config(
        self: &Arc<Self>,
        route: &str,
        config_json: &str,
        timeout: Duration,
        identity: &Arc<crate::identity::Providers>,
        schemas: Option<&Arc<crate::schemas::Registry>>,
    ) -> Result<bool, LoadError> {
        let rejected = |reason: String| LoadError::ConfigRejected {
            name: self.name.clone(),
            route: route.to_owned(),
            reason,
        };
        // A scratch scope: checking a config must not touch live state.
        let step = Arc::new(Step {
            filter: self.clone(),
            config_json: config_json.into(),
            state: Default::default(),
            sees_records: false,
            identity: identity.clone(),
            schemas: schemas.cloned(),
            pool: None,
        });
        let mut store = new_store(self.pre.engine(), "check".into(), route.into());
        enter(&mut store, step, timeout);
        let clock = store.data().clock.clone();
        clock.time(self.check(&mut store, rejected)).await
    }

    /// Instantiates the filter in `store` and asks it about its config.
    async fn check(
        &self,
        store: &mut wasmtime::Store<StoreData>,
        rejected: impl Fn(String) -> LoadError,
    ) -> Result<bool, LoadError> {
        let instance = self
            .pre
            .instantiate_async(&mut *store)
            .await
            .map_err(|e| rejected(format!("instantiation failed: {e:#}")))?;
        let trapped = |trap: wasmtime::Error, store: &wasmtime::Store<StoreData>| {
            rejected(describe_trap(&trap, store.data()))
        };
        let produce = self
            .produce
            .load(&mut *store, &instance)
            .map_err(|e| trapped(e, store))?;
        match produce.call_check_config(&mut *store).await {
            Ok(Ok(())) => {}
            Ok(Err(message)) => return Err(rejected(message)),
            Err(trap) => return Err(trapped(trap, store)),
        }
        let Some(consume) = &self.consume else {
            return Ok(false);
        };
        let consume = consume
            .load(&mut *store, &instance)
            .map_err(|e| trapped(e, store))?;
        consume
            .call_sees_records(&mut *store)
            .await
            .map_err(|trap| trapped(trap, store))
    }
}

/// Hex sha256 of a filter file: its identity in the admin API and the cache.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
