//! The `state` interface's rules: token buckets and counters under bounded keys. The gateway
//! keeps one [`Keys`] per route and filter (behind a lock); natively (unit tests) each thread
//! keeps one, so a filter's unit test meets the very rules the gateway applies.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::state::Taken;

/// Most keys one route's filter may hold.
pub const MAX_KEYS: usize = 100_000;
/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;

/// Refuses a key longer than [`MAX_KEY_BYTES`]: the gateway traps the call.
pub fn check_key(key: &str) -> Result<(), String> {
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "state key of {} bytes is longer than {MAX_KEY_BYTES}",
            key.len()
        ));
    }
    Ok(())
}

/// One scope's buckets and counters, at most [`MAX_KEYS`] of them.
#[derive(Default)]
pub struct Keys {
    entries: HashMap<String, Entry>,
}

enum Entry {
    Bucket {
        tokens: f64,
        at_ms: u64,
        capacity: u64,
        refill: u64,
    },
    Counter {
        value: i64,
        expires_ms: u64,
    },
}

impl Keys {
    /// Takes `cost` tokens from bucket `key` (capacity `capacity`, `refill` tokens a second).
    /// A new key when the scope is full is refused (retry in a second) and not kept.
    pub fn take(&mut self, key: &str, capacity: u64, refill: u64, cost: u64, now_ms: u64) -> Taken {
        let tokens = match self.entries.get(key) {
            Some(Entry::Bucket { tokens, at_ms, .. }) => {
                refilled(*tokens, *at_ms, capacity, refill, now_ms)
            }
            _ => capacity as f64,
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
        if !self.entries.contains_key(key) && !self.make_room(now_ms) {
            return Taken {
                allowed: false,
                remaining: 0,
                retry_after_ms: 1000,
            };
        }
        let entry = Entry::Bucket {
            tokens: left,
            at_ms: now_ms,
            capacity,
            refill,
        };
        self.entries.insert(key.to_owned(), entry);
        Taken {
            allowed,
            remaining: left as u64,
            retry_after_ms,
        }
    }

    /// Adds `delta` to counter `key` and returns the new value; it expires `ttl_ms` from now.
    /// A new key when the scope is full is counted but not kept.
    pub fn add(&mut self, key: &str, delta: i64, ttl_ms: u64, now_ms: u64) -> i64 {
        let value = match self.entries.get(key) {
            Some(Entry::Counter { value, expires_ms }) if *expires_ms > now_ms => {
                value.saturating_add(delta)
            }
            _ => delta,
        };
        if !self.entries.contains_key(key) && !self.make_room(now_ms) {
            return value;
        }
        let entry = Entry::Counter {
            value,
            expires_ms: now_ms.saturating_add(ttl_ms),
        };
        self.entries.insert(key.to_owned(), entry);
        value
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Frees a slot when full by dropping entries that carry no information: buckets that
    /// refilled (a new key starts full anyway) and expired counters. False if none could go.
    fn make_room(&mut self, now_ms: u64) -> bool {
        if self.entries.len() < MAX_KEYS {
            return true;
        }
        self.entries.retain(|_, entry| match *entry {
            Entry::Bucket {
                tokens,
                at_ms,
                capacity,
                refill,
            } => refilled(tokens, at_ms, capacity, refill, now_ms) < capacity as f64,
            Entry::Counter { expires_ms, .. } => expires_ms > now_ms,
        });
        self.entries.len() < MAX_KEYS
    }
}

/// A bucket's tokens at `now_ms`.
fn refilled(tokens: f64, at_ms: u64, capacity: u64, refill: u64, now_ms: u64) -> f64 {
    let elapsed = now_ms.saturating_sub(at_ms) as f64 / 1000.0;
    (tokens + elapsed * refill as f64).min(capacity as f64)
}

thread_local! {
    static KEYS: RefCell<Keys> = RefCell::new(Keys::default());
}

/// A key the gateway would trap on panics here, as the filter's instance would trap there.
fn checked(key: &str) {
    if let Err(message) = check_key(key) {
        panic!("{message}");
    }
}

pub fn take_tokens(key: &str, capacity: u64, refill_per_second: u64, cost: u64) -> Taken {
    checked(key);
    let now = crate::clock::now_millis();
    KEYS.with_borrow_mut(|keys| keys.take(key, capacity, refill_per_second, cost, now))
}

pub fn add(key: &str, delta: i64, ttl_ms: u64) -> i64 {
    checked(key);
    let now = crate::clock::now_millis();
    KEYS.with_borrow_mut(|keys| keys.add(key, delta, ttl_ms, now))
}

pub fn reset() {
    KEYS.set(Keys::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let mut keys = Keys::default();
        for i in 0..3 {
            let t = keys.take("a", 3, 2, 1, 1000);
            assert!(t.allowed, "{i}");
            assert_eq!(t.remaining, 2 - i);
        }
        let refused = keys.take("a", 3, 2, 1, 1000);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_ms, 500, "one token at 2 a second");
        // Other keys have their own bucket.
        assert!(keys.take("b", 3, 2, 1, 1000).allowed);
        // 500 ms later one token is back.
        assert!(keys.take("a", 3, 2, 1, 1500).allowed);
        assert!(!keys.take("a", 3, 2, 1, 1500).allowed);
        // A cost larger than the capacity can never pass.
        assert_eq!(keys.take("c", 3, 2, 4, 1500).retry_after_ms, u64::MAX);
    }

    #[test]
    fn counters_add_and_expire() {
        let mut keys = Keys::default();
        assert_eq!(keys.add("k", 2, 100, 0), 2);
        assert_eq!(keys.add("k", 3, 100, 50), 5);
        assert_eq!(keys.add("k", 1, 100, 200), 1, "expired at 150");
    }

    #[test]
    fn a_full_scope_drops_refilled_buckets_and_refuses_when_all_are_busy() {
        let mut keys = Keys::default();
        for i in 0..MAX_KEYS {
            keys.take(&format!("k{i}"), 2, 1, 1, 0);
        }
        assert_eq!(keys.len(), MAX_KEYS);
        // Every bucket is below capacity at t=0: a new key is refused, and not kept.
        assert!(!keys.take("new", 2, 1, 1, 0).allowed);
        assert_eq!(keys.len(), MAX_KEYS);
        // A second later they have all refilled: they go, and the new key fits.
        assert!(keys.take("new", 2, 1, 1, 1000).allowed);
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn a_full_scope_keeps_drained_buckets_when_a_counter_needs_room() {
        let mut keys = Keys::default();
        // A slow bucket, drained: it still holds information a second later.
        keys.take("slow", 10, 1, 10, 0);
        for i in 1..MAX_KEYS {
            keys.add(&format!("c{i}"), 1, 500, 0);
        }
        // At 1 s the counters have expired and make room; the drained bucket stays.
        assert_eq!(keys.add("new", 1, 500, 1000), 1);
        assert_eq!(keys.len(), 2);
        assert!(!keys.take("slow", 10, 1, 10, 1000).allowed);
    }

    #[test]
    #[should_panic(expected = "state key of 257 bytes is longer than 256")]
    fn a_key_the_gateway_traps_on_panics_natively() {
        take_tokens(&"k".repeat(257), 1, 1, 1);
    }
}
