//! Request ids: unique per request, cheap to make, sortable within one process.

use std::sync::atomic::{AtomicU64, Ordering};

/// Hands out ids: a per-process prefix, then a counter.
pub struct RequestIds {
    prefix: u64,
    next: AtomicU64,
}

impl RequestIds {
    /// A generator whose prefix differs between processes and restarts.
    pub fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        RequestIds {
            prefix: h.finish(),
            next: AtomicU64::new(0),
        }
    }

    /// The next id: 24 hex digits.
    pub fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}{:08x}", self.prefix, n as u32)
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_distinct() {
        let ids = super::RequestIds::new();
        let (a, b) = (ids.next(), ids.next());
        assert_ne!(a, b);
        assert_eq!(a.len(), 24);
    }
}
