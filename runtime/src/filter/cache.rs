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
