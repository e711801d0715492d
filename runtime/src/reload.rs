//! Hot reload: read the config and filters again, build a complete snapshot off the request
//! path, validate it, swap it in. A failed reload changes nothing but the status: the last good
//! snapshot keeps serving.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio_rustls::TlsAcceptor;

use crate::config::{self, Config};
use crate::gateway::Shared;
use crate::snapshot::{Reuse, Snapshot};

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
pub(crate) async fn reload(shared: &Shared, path: &Path) {
    match build(shared, path).await {
        Ok((snapshot, restart_needed, acceptor)) => {
            let filters = snapshot.filters.len();
            if let (Some(live), Some(acceptor)) = (&shared.tls, acceptor) {
                live.store(Arc::new(acceptor));
            }
            prune_cache(&snapshot);
            crate::metrics::publish_versions(Some(&shared.snapshot.load()), &snapshot);
            let routes = snapshot.config.routes.len();
            shared.snapshot.store(snapshot.into());
            shared.reloads.update(|s| {
                s.generation += 1;
                s.last_error = None;
                s.restart_needed = restart_needed;
            });
            metrics::counter!(RELOADS, "outcome" => "ok").increment(1);
            tracing::info!(routes, filters, "reloaded");
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

fn prune_cache(snapshot: &Snapshot) {
    let live = snapshot
        .filters
        .values()
        .map(|f| f.sha256.as_str())
        .collect();
    crate::filter::DiskCache::new(snapshot.config.filters.cache_dir())
        .prune(&live, SPARE_CACHE_ENTRIES);
}

/// A new snapshot, the restart-only settings that changed, and the TLS acceptor from the
/// certificate files as they are now.
type Built = (Snapshot, Vec<String>, Option<TlsAcceptor>);

async fn build(shared: &Shared, path: &Path) -> Result<Built, String> {
    let mut config = config::load(path).map_err(|e| e.to_string())?;
    let live = shared.snapshot.load_full();
    let restart_needed = keep_restart_only(&mut config, &live.config);
    for field in &restart_needed {
        tracing::warn!(
            field,
            "changed setting needs a restart to take effect; keeping the running value"
        );
    }
    if let Some(cluster) = &shared.embedded {
        let partitions = config.kafka.embedded.partitions;
        for route in &config.routes {
            cluster
                .create_topic(&route.topic, partitions)
                .map_err(|e| format!("embedded Kafka: create topic {}: {e}", route.topic))?;
        }
    }
    let acceptor = match &config.server.tls {
        Some(files) => Some(crate::tls::acceptor(files).map_err(|e| format!("server.tls: {e}"))?),
        None => None,
    };
    let cache = crate::filter::DiskCache::new(config.filters.cache_dir());
    let reuse = Reuse {
        previous: Some(&live),
        cache: Some(&cache),
    };
    let snapshot = Snapshot::build(config, &shared.engine, reuse)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((snapshot, restart_needed, acceptor))
}

/// Settings bound at start (sockets, the producer, the watched directory): a changed value is
/// put back to the running one and named in the result.
fn keep_restart_only(new: &mut Config, live: &Config) -> Vec<String> {
    let mut changed = Vec::new();
    macro_rules! keep {
        ($($field:ident).+) => {
            if new.$($field).+ != live.$($field).+ {
                changed.push(stringify!($($field).+).replace(' ', ""));
                new.$($field).+ = live.$($field).+.clone();
            }
        };
    }
    keep!(server.listen);
    keep!(server.admin_listen);
    keep!(server.shutdown_grace_ms);
    keep!(server.metrics);
    // Turning TLS on or off changes the listener; new certificate files only need a reload.
    if new.server.tls.is_some() != live.server.tls.is_some() {
        changed.push("server.tls".to_owned());
        new.server.tls = live.server.tls.clone();
    }
    keep!(server.request_header_timeout_ms);
    keep!(server.max_headers);
    keep!(server.max_header_bytes);
    keep!(server.max_connections);
    keep!(server.max_h2_streams);
    keep!(kafka);
    keep!(spool);
    keep!(filters);
    changed
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn restart_only_settings_are_kept_and_named() {
        let text = "[[routes]]\nname = \"a\"\npath = \"/a\"\ntopic = \"a\"\n";
        let live = Config::from_toml(text, Path::new("w.toml"), Path::new("/")).unwrap();
        let changed = format!("[server]\nlisten = \"127.0.0.1:1\"\nmax_body_bytes = 7\n{text}");
        let mut new = Config::from_toml(&changed, Path::new("w.toml"), Path::new("/")).unwrap();
        assert_eq!(keep_restart_only(&mut new, &live), vec!["server.listen"]);
        assert_eq!(new.server.listen, live.server.listen);
        assert_eq!(new.server.max_body_bytes, 7, "live settings still change");
    }
}
