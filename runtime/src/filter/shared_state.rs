//! State a filter keeps across requests (the WIT `state` interface): token buckets and counters
//! per route and filter, held by the engine so they outlive reloads, and bounded in keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Most keys one route's filter may hold.
pub const MAX_KEYS: usize = 100_000;
/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;

/// Every scope, by route and filter name.
#[derive(Default)]
pub struct SharedState {
    scopes: Mutex<HashMap<(String, String), Arc<Scope>>>,
}

/// One route's filter's keys.
#[derive(Default)]
pub struct Scope {
    entries: Mutex<HashMap<String, Entry>>,
}

enum Entry {
    Bucket { tokens: f64, at_ms: u64 },
    Counter { value: i64, expires_ms: u64 },
}

/// What `take` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    /// Whether the tokens were taken.
    pub allowed: bool,
    /// Whole tokens left.
    pub remaining: u64,
    /// When refused, milliseconds until there are enough.
    pub retry_after_ms: u64,
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
        let mut entries = self.lock();
        let capacity_f = capacity as f64;
        let tokens = match entries.get(key) {
            Some(Entry::Bucket { tokens, at_ms }) => {
                let elapsed = now_ms.saturating_sub(*at_ms) as f64 / 1000.0;
                (tokens + elapsed * refill as f64).min(capacity_f)
            }
            _ => capacity_f,
        };
        let allowed = tokens >= cost as f64;
        let left = if allowed {
            tokens - cost as f64
        } else {
            tokens
        };
        let retry_after_ms = if allowed {
            0
        } else if refill == 0 || cost > capacity {
            u64::MAX
        } else {
            ((cost as f64 - tokens) / refill as f64 * 1000.0).ceil() as u64
        };
        let entry = Entry::Bucket {
            tokens: left,
            at_ms: now_ms,
        };
        if !entries.contains_key(key) && !make_room(&mut entries, capacity_f, refill, now_ms) {
            return Taken {
                allowed: false,
                remaining: 0,
                retry_after_ms: 1000,
            };
        }
        entries.insert(key.to_owned(), entry);
        Taken {
            allowed,
            remaining: left as u64,
            retry_after_ms,
        }
    }

    /// Adds `delta` to counter `key` and returns the new value; it expires `ttl_ms` from now.
    pub fn add(&self, key: &str, delta: i64, ttl_ms: u64, now_ms: u64) -> i64 {
        let mut entries = self.lock();
        let value = match entries.get(key) {
            Some(Entry::Counter { value, expires_ms }) if *expires_ms > now_ms => {
                value.saturating_add(delta)
            }
            _ => delta,
        };
        if !entries.contains_key(key) && !make_room(&mut entries, 0.0, 0, now_ms) {
            return value;
        }
        entries.insert(
            key.to_owned(),
            Entry::Counter {
                value,
                expires_ms: now_ms.saturating_add(ttl_ms),
            },
        );
        value
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Frees a slot when the scope is full by dropping entries that carry no information: buckets
/// that refilled (a new key starts full anyway) and expired counters. False if none could go.
fn make_room(
    entries: &mut HashMap<String, Entry>,
    capacity: f64,
    refill: u64,
    now_ms: u64,
) -> bool {
    if entries.len() < MAX_KEYS {
        return true;
    }
    entries.retain(|_, entry| match entry {
        Entry::Bucket { tokens, at_ms } => {
            let elapsed = now_ms.saturating_sub(*at_ms) as f64 / 1000.0;
            *tokens + elapsed * (refill as f64) < capacity
        }
        Entry::Counter { expires_ms, .. } => *expires_ms > now_ms,
    });
    entries.len() < MAX_KEYS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let scope = Scope::default();
        for i in 0..3 {
            let t = scope.take("a", 3, 2, 1, 1000);
            assert!(t.allowed, "{i}");
            assert_eq!(t.remaining, 2 - i);
        }
        let refused = scope.take("a", 3, 2, 1, 1000);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_ms, 500, "one token at 2 a second");
        // Other keys have their own bucket.
        assert!(scope.take("b", 3, 2, 1, 1000).allowed);
        // 500 ms later one token is back.
        assert!(scope.take("a", 3, 2, 1, 1500).allowed);
        assert!(!scope.take("a", 3, 2, 1, 1500).allowed);
        // A cost larger than the capacity can never pass.
        assert_eq!(scope.take("c", 3, 2, 4, 1500).retry_after_ms, u64::MAX);
    }

    #[test]
    fn counters_add_and_expire() {
        let scope = Scope::default();
        assert_eq!(scope.add("k", 2, 100, 0), 2);
        assert_eq!(scope.add("k", 3, 100, 50), 5);
        assert_eq!(scope.add("k", 1, 100, 200), 1, "expired at 150");
    }

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
    fn a_full_scope_drops_refilled_buckets_and_refuses_when_all_are_busy() {
        let scope = Scope::default();
        for i in 0..MAX_KEYS {
            scope.take(&format!("k{i}"), 2, 1, 1, 0);
        }
        assert_eq!(scope.len(), MAX_KEYS);
        // Every bucket is below capacity at t=0: a new key is refused, and not kept.
        assert!(!scope.take("new", 2, 1, 1, 0).allowed);
        assert_eq!(scope.len(), MAX_KEYS);
        // A second later they have all refilled: they go, and the new key fits.
        assert!(scope.take("new", 2, 1, 1, 1000).allowed);
        assert_eq!(scope.len(), 1);
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
