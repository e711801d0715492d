//! On-disk cache of compiled filters, so a restart or a reload of a known filter skips
//! compilation.
//!
//! An entry is keyed by the sha256 of the `.wasm` and a hash of the engine's compile settings
//! (wasmtime version, target, tunables), and carries a sha256 of its own bytes: a truncated,
//! corrupted or foreign entry is recompiled and replaced, never loaded. Compiled code is native
//! code, so the directory must be writable only by the gateway's user.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Length of the sha256 checksum that ends every entry.
const CHECKSUM: usize = 32;

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub struct DiskCache {
    dir: PathBuf,
}

impl DiskCache {
    /// A cache in `dir`, created on first write.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DiskCache { dir: dir.into() }
    }

    fn entry(&self, engine: &Engine, wasm_sha256: &str) -> PathBuf {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        self.dir
            .join(format!("{wasm_sha256}-{:016x}.cwasm", h.finish()))
    }

    /// The cached component for this file content, if a sound entry exists.
    pub fn get(&self, engine: &Engine, wasm_sha256: &str) -> Option<Component> {
        let path = self.entry(engine, wasm_sha256);
        let bytes = std::fs::read(&path).ok()?;
        let (code, sum) = bytes.split_at_checked(bytes.len().checked_sub(CHECKSUM)?)?;
        if Sha256::digest(code).as_slice() != sum {
            tracing::warn!(path = %path.display(), "compiled-filter cache entry is corrupt; recompiling");
            return None;
        }
        // SAFETY: the entry was written by `put` for this engine's settings and its checksum
        // matches; wasmtime also checks the header against the engine before loading.
        match unsafe { Component::deserialize(engine, code) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "compiled-filter cache entry is unusable; recompiling");
                None
            }
        }
    }

    /// Deletes entries of files no longer live, keeping the `spare` most recently used ones
    /// so a rollback to a recent version is still fast. Keeps the directory from growing with
    /// every deploy.
    pub fn prune(&self, live: &std::collections::HashSet<&str>, spare: usize) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut stale: Vec<(std::time::SystemTime, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                let name = path.file_name()?.to_str()?;
                let sha = name.strip_suffix(".cwasm")?.split('-').next()?;
                let used = e.metadata().and_then(|m| m.modified()).ok()?;
                (!live.contains(sha)).then_some((used, path))
            })
            .collect();
        stale.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
        for (_, path) in stale.into_iter().skip(spare) {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::debug!(path = %path.display(), error = %e, "cannot prune cache entry");
            }
        }
    }

    /// Stores a compiled component. Failures only cost the next start a compilation.
    pub fn put(&self, engine: &Engine, wasm_sha256: &str, component: &Component) {
        let path = self.entry(engine, wasm_sha256);
        if let Err(e) = write(&self.dir, &path, component) {
            tracing::warn!(path = %path.display(), error = %e, "cannot write compiled-filter cache entry");
        }
    }
}

fn write(dir: &Path, path: &Path, component: &Component) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut bytes = component.serialize()?;
    let sum = Sha256::digest(&bytes);
    bytes.extend_from_slice(&sum);
    // Written aside, then renamed: a reader never sees half an entry.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::{Duration, SystemTime};

    use super::*;

    #[test]
    fn prune_keeps_live_and_most_recent_entries() {
        let dir = std::env::temp_dir().join(format!("wafka-prune-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let now = SystemTime::now();
        for (i, sha) in ["live", "old", "older", "recent"].iter().enumerate() {
            let path = dir.join(format!("{sha}-0123456789abcdef.cwasm"));
            let file = std::fs::File::create(&path).unwrap();
            let age = match *sha {
                "recent" => 0,
                "old" => 100,
                "older" => 200,
                _ => 300 + i as u64,
            };
            file.set_modified(now - Duration::from_secs(age)).unwrap();
        }
        DiskCache::new(&dir).prune(&HashSet::from(["live"]), 1);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            left,
            [
                "live-0123456789abcdef.cwasm",
                "recent-0123456789abcdef.cwasm"
            ]
        );
    }
}
