//! The `state` interface in memory, per thread (each test has its own), following the same
//! rules as the gateway's.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::state::Taken;

enum Entry {
    Bucket { tokens: f64, at_ms: u64 },
    Counter { value: i64, expires_ms: u64 },
}

thread_local! {
    static ENTRIES: RefCell<HashMap<String, Entry>> = RefCell::new(HashMap::new());
}

pub fn take_tokens(key: &str, capacity: u64, refill_per_second: u64, cost: u64) -> Taken {
    let now = crate::clock::now_millis();
    ENTRIES.with_borrow_mut(|entries| {
        let tokens = match entries.get(key) {
            Some(Entry::Bucket { tokens, at_ms }) => {
                let elapsed = now.saturating_sub(*at_ms) as f64 / 1000.0;
                (tokens + elapsed * refill_per_second as f64).min(capacity as f64)
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
        } else if refill_per_second == 0 || cost > capacity {
            u64::MAX
        } else {
            ((cost as f64 - tokens) / refill_per_second as f64 * 1000.0).ceil() as u64
        };
        entries.insert(
            key.to_owned(),
            Entry::Bucket {
                tokens: left,
                at_ms: now,
            },
        );
        Taken {
            allowed,
            remaining: left as u64,
            retry_after_ms,
        }
    })
}

pub fn add(key: &str, delta: i64, ttl_ms: u64) -> i64 {
    let now = crate::clock::now_millis();
    ENTRIES.with_borrow_mut(|entries| {
        let value = match entries.get(key) {
            Some(Entry::Counter { value, expires_ms }) if *expires_ms > now => {
                value.saturating_add(delta)
            }
            _ => delta,
        };
        entries.insert(
            key.to_owned(),
            Entry::Counter {
                value,
                expires_ms: now.saturating_add(ttl_ms),
            },
        );
        value
    })
}

pub fn reset() {
    ENTRIES.with_borrow_mut(HashMap::clear);
}
