//! Hot reload: read the config and filters again, build a complete snapshot off the request
//! path, validate it, swap it in. A failed reload changes nothing but the status: the last good
//! snapshot keeps serving. Reading and compiling run on a blocking thread, and a reload runs
//! in a task of its own, so neither a slow compile nor a panic can stop the watcher.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use serde::Serialize;

use crate::build::Builder;
use crate::config::StartOnly;
use crate::snapshot::Snapshot;

/// What a reload reads and replaces.
pub(crate) struct Reloader {
    /// The snapshot requests run on.
    pub live: Arc<ArcSwap<Snapshot>>,
    /// Builds snapshots: the engine, the compiled-filter cache, the registry filters use.
    pub builder: Builder,
    /// The status the admin API shows.
    pub reloads: Arc<Reloads>,
    /// The listeners' TLS acceptor, replaced when the certificate files change.
    pub tls: Option<crate::tls::Live>,
    /// The settings of the config the gateway started with that only a restart changes.
    pub start: StartOnly,
    /// Set by tests: the next reload panics while reading the files.
    pub panic_next: AtomicBool,
}

/// Reloads attempted, by `outcome` (`ok`, `failed`).
pub const RELOADS: &str = "wafka_reloads_total";

/// What the admin API reports about reloads.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReloadStatus {
    /// Snapshots swapped in since start (0: the one built at start).
    pub generation: u64,
    /// Reloads that failed since start.
    pub failures: u64,
    /// Why the latest reload failed; cleared by the next success.
    pub last_error: Option<String>,
    /// Changed settings that only take effect after a restart.
    pub restart_needed: Vec<String>,
}

/// Reload status, shared with the admin API.
#[derive(Default)]
pub(crate) struct Reloads(Mutex<ReloadStatus>);

impl Reloads {
    pub(crate) fn status(&self) -> ReloadStatus {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn update(&self, f: impl FnOnce(&mut ReloadStatus)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// Rebuilds from `path` and swaps the result in, or logs and counts why not.
pub(crate) async fn reload(shared: &Arc<Reloader>, path: &Path) {
    let started = std::time::Instant::now();
    let built = tokio::spawn(build(shared.clone(), path.to_owned())).await;
    let built = built.unwrap_or_else(|e| Err(format!("the reload panicked: {}", panic_text(e))));
    match built {
        Ok((snapshot, restart_needed, acceptor)) => {
            let filters = snapshot.filters.len();
            if let (Some(live), Some(acceptor)) = (&shared.tls, acceptor) {
                live.store(Arc::new(acceptor));
            }
            prune_cache(&shared.builder, &snapshot);
            snapshot.publish_versions(Some(&shared.live.load()));
            let routes = snapshot.config.routes.len();
            snapshot.identity.start();
            shared.live.store(snapshot.into());
            shared.reloads.update(|s| {
                s.generation += 1;
                s.last_error = None;
                s.restart_needed = restart_needed;
            });
            metrics::counter!(RELOADS, "outcome" => "ok").increment(1);
            let took_ms = started.elapsed().as_millis() as u64;
            tracing::info!(routes, filters, took_ms, "reloaded");
        }
        Err(error) => {
            shared.reloads.update(|s| {
                s.failures += 1;
                s.last_error = Some(error.clone());
            });
            metrics::counter!(RELOADS, "outcome" => "failed").increment(1);
            tracing::error!("reload failed, the previous version keeps serving: {error}");
        }
    }
}

/// Cache entries kept for files no longer live (recent rollbacks stay fast).
const SPARE_CACHE_ENTRIES: usize = 16;

fn prune_cache(builder: &Builder, snapshot: &Snapshot) {
    let live = snapshot
        .filters
        .values()
        .map(|f| f.sha256.as_str())
        .collect();
    if let Some(cache) = &builder.cache {
        cache.prune(&live, SPARE_CACHE_ENTRIES);
    }
}

/// A new snapshot, the start-only settings that changed, and the TLS acceptor from the
/// certificate files as they are now.
type Built = (Snapshot, Vec<String>, Option<tokio_rustls::TlsAcceptor>);

async fn build(shared: Arc<Reloader>, path: PathBuf) -> Result<Built, String> {
    let builder = Builder {
        previous: Some(shared.live.load_full()),
        ..shared.builder.clone()
    };
    let prepare = {
        let (builder, shared, path) = (builder.clone(), shared.clone(), path.clone());
        move || {
            if shared.panic_next.swap(false, Ordering::Relaxed) {
                panic!("injected by a test");
            }
            let mut config = crate::config::load(&path).map_err(|e| e.to_string())?;
            let restart_needed = shared.start.keep(&mut config);
            for field in &restart_needed {
                tracing::warn!(
                    field,
                    "changed setting needs a restart to take effect; keeping the running value"
                );
            }
            let prepared = builder.prepare(config).map_err(|e| e.in_file(&path))?;
            Ok::<_, String>((prepared, restart_needed))
        }
    };
    let started = std::time::Instant::now();
    let (prepared, restart_needed) = tokio::task::spawn_blocking(prepare)
        .await
        .map_err(|e| format!("the reload panicked: {}", panic_text(e)))??;
    tracing::debug!(
        took_ms = started.elapsed().as_millis() as u64,
        "reload: files read and compiled"
    );
    let (snapshot, acceptor) = builder
        .finish(prepared)
        .await
        .map_err(|e| e.in_file(&path))?;
    Ok((snapshot, restart_needed, acceptor))
}

/// What a panicked task said.
fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into()),
        Err(e) => e.to_string(),
    }
}
