//! Cranelift's incremental compilation cache, in memory: a new version of a filter shares most
//! of its functions (std, serde, the SDK) with the one it replaces, and only the functions that
//! changed are compiled again, so a new version goes live in tens of milliseconds instead of a
//! whole compile. Bounded: past [`MAX_BYTES`] it starts over.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;

use wasmtime::CacheStore;

/// Most bytes of keys and compiled functions kept.
pub const MAX_BYTES: usize = 64 << 20;

/// Compiled functions by Cranelift's key (a hash of the function and the compiler settings).
#[derive(Debug, Default)]
pub(crate) struct FunctionCache {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Vec<u8>, Vec<u8>>,
    /// Bytes of keys and values in `map`.
    bytes: usize,
}

impl CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.map.get(key).map(|v| Cow::Owned(v.clone()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let Entries { map, bytes } = &mut *entries;
        let size = key.len() + value.len();
        if size > MAX_BYTES {
            return false;
        }
        if *bytes + size > MAX_BYTES {
            map.clear();
            *bytes = 0;
        }
        *bytes += size;
        if let Some(old) = map.insert(key.to_vec(), value) {
            *bytes -= key.len() + old.len();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_kept_until_the_bound_then_it_starts_over() {
        let cache = FunctionCache::default();
        assert!(cache.insert(b"a", vec![1; 10]));
        assert_eq!(cache.get(b"a").as_deref(), Some(&[1u8; 10][..]));
        assert!(!cache.insert(b"huge", vec![0; MAX_BYTES]));
        assert!(cache.insert(b"big", vec![0; MAX_BYTES - 5]));
        assert!(cache.get(b"a").is_none(), "started over");
        assert!(cache.get(b"big").is_some());
    }
}
