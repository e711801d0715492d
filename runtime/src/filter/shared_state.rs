//! State a filter keeps across requests (the WIT `state` interface): token buckets and counters
//! per route and filter, held by the engine so they outlive reloads. The rules (bounds, refill,
//! what goes when full) are the SDK's (`wafka_sdk::host::Keys`), which its native stand-in
//! runs in filters' unit tests too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use wafka_sdk::host::Keys;
pub use wafka_sdk::state::Taken;

/// Every scope, by route and filter name.
#[derive(Default)]
pub struct SharedState {
    scopes: Mutex<HashMap<(String, String), Arc<Scope>>>,
}

/// One route's filter's keys.
#[derive(Default)]
pub struct Scope {
    keys: Mutex<Keys>,
}

impl SharedState {
    /// The scope of `filter` on `route`, created on first use; the same on every reload.
    pub fn scope(&self, route: &str, filter: &str) -> Arc<Scope> {
        let mut scopes = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        scopes
            .entry((route.to_owned(), filter.to_owned()))
            .or_default()
            .clone()
    }
}

impl Scope {
    /// Takes `cost` tokens from bucket `key` (capacity `capacity`, `refill` tokens a second).
    pub fn take(&self, key: &str, capacity: u64, refill: u64, cost: u64, now_ms: u64) -> Taken {
        self.lock().take(key, capacity, refill, cost, now_ms)
    }

    /// Adds `delta` to counter `key` and returns the new value; it expires `ttl_ms` from now.
    pub fn add(&self, key: &str, delta: i64, ttl_ms: u64, now_ms: u64) -> i64 {
        self.lock().add(key, delta, ttl_ms, now_ms)
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Keys> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_takes_never_pass_the_burst() {
        let scope = Arc::new(Scope::default());
        let allowed: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let scope = scope.clone();
                    s.spawn(move || {
                        (0..100)
                            .filter(|_| scope.take("k", 50, 0, 1, 0).allowed)
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(allowed, 50);
    }

    #[test]
    fn scopes_are_per_route_and_filter_and_stable() {
        let shared = SharedState::default();
        let a = shared.scope("r1", "rate-limit");
        a.take("k", 1, 0, 1, 0);
        assert!(
            !shared
                .scope("r1", "rate-limit")
                .take("k", 1, 0, 1, 0)
                .allowed
        );
        assert!(
            shared
                .scope("r2", "rate-limit")
                .take("k", 1, 0, 1, 0)
                .allowed
        );
    }
}
